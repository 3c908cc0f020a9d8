"""Zen-score (Lin et al., "Zen-NAS: A Zero-Shot NAS for High-Performance Image Recognition", ICCV 2021),
Algorithm 1 / Eq. (5)-(7):

    Zen = log E_{x, eps} || f(x) - f(x + alpha * eps) ||_F  +  sum over BN layers i of log(sigma_i)

with x, eps ~ N(0, 1) images, alpha = 0.01, f the feature map before global average pooling, and
sigma_i = sqrt(mean over channels of BN layer i's variance). As in the paper and its reference code
(idstcv/ZenNAS ``ZeroShotProxy/compute_zen_score.py``), every conv/linear weight is re-drawn from the
standard Gaussian N(0, 1) (biases 0, BN affine 1/0) before scoring, BN in train mode, no gradients.
The Frobenius norm is taken as in the reference code: the sum of absolute differences per image, then
the mean over images. Randomness (weights, x, eps) comes from ``ctx.generator`` only; data-free.

Adaptation to NB201: f is the input of NB201's global pooling, i.e. the output of ``lastact``
(BN + ReLU after the last cell). Zen-NAS's own networks are plain stacks whose blocks end in BN, for
which the BN-variance term exactly undoes BN's rescaling; NB201 cells sum several ReLU-Conv-BN ops
with identity/pool edges, so the correction is only approximate (nothing in NB201 is "pre-GAP without
BN"). We keep the paper's formula and sum over every BatchNorm2d of the network (stem, cell ops,
reduction blocks, lastact).

Other spaces: f is likewise the input of the network's ``global_pooling`` module. NAS-Bench-Macro:
the output of the head's 1x1 conv + BN + ReLU (1280 channels), the sum over every BN (stem, blocks,
head). TransNAS-Bench-101: the encoder's output (for ``jigsaw``, the 9 tiles' encodings
concatenated along channels), the sum over every BN of the encoder.

Deviations: a BN whose input is identically zero (an op fed by a node that only ``none`` edges reach;
such ops do not influence the output) is left out of the sum instead of adding log(0) = -inf.
sigma_i is taken from the batch variance (unbiased, per channel, of BN's input) seen in
the unperturbed forward pass, i.e. the paper's definition; the reference reads ``running_var`` after
two forward passes with momentum 0.1, a damped version of the same quantity. One draw of a batch of N
images (N = the size of the batch handed to the proxy) instead of the reference's 32 repeats of
batch 16. The weights are re-initialised (the paper's Gaussian init), not scored at the network's
given init.

Cross-machine tolerance (zen, ``ProxySpec.tolerance``, relative): measured on 50 cells
(``experiments/cross_machine``): max 3.3e-8, median 6.5e-9 between the default kernels and
``ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41`` (worst cell index 8858); max 3.4e-8 against the
machine that computed the committed study (a log of a well-conditioned norm); tolerance 1e-6.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from nasearch.proxies.registry import ProxyContext, register_proxy
from nasearch.proxies.utils import finite_or_nan

ALPHA = 0.01


def gaussian_init_(net: nn.Module, generator: torch.Generator) -> None:
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.copy_(torch.randn(m.weight.shape, generator=generator, dtype=m.weight.dtype))  # CPU draw, any device
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.BatchNorm2d) and m.affine:
                m.weight.fill_(1.0)
                m.bias.fill_(0.0)


def _pre_gap(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    feats: list[torch.Tensor] = []
    pooling = getattr(net, "global_pooling", None)
    if not isinstance(pooling, nn.Module):
        raise TypeError(
            f"zen needs the network's pre-GAP feature map: {type(net).__name__} has no `global_pooling` "
            "module (every nasearch space's networks have one)"
        )
    handle = pooling.register_forward_pre_hook(lambda mod, inputs: feats.append(inputs[0]))
    try:
        net(x)
    finally:
        handle.remove()
    return feats[0]


@register_proxy(
    "zen",
    paper="Lin et al., Zen-NAS: A Zero-Shot NAS for High-Performance Image Recognition, ICCV 2021",
    work="forward",
    higher_is_better=True,
    data_free=True,
    bn=True,
    tolerance=1e-6,  # cross-machine, relative (experiments/cross_machine)
)
def zen(net: torch.nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]], ctx: ProxyContext) -> float:
    if batches:
        shape = tuple(batches[0][0].shape)
    else:
        shape = (64, 3, ctx.input_size, ctx.input_size)
    gen = ctx.generator
    gaussian_init_(net, gen)
    device = next(net.parameters()).device
    x = torch.randn(shape, generator=gen).to(device)  # drawn on the CPU: the same x on every device
    eps = torch.randn(shape, generator=gen).to(device)
    variances: list[torch.Tensor] = []
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]

    def bn_hook(mod, inputs):
        # per-channel variance over (batch, H, W) in float64; reducing over dims in place of the
        # transpose + flatten copy gave bit-identical values on every cell checked and is 3x faster
        variances.append(inputs[0].double().var(dim=(0, 2, 3), unbiased=True).mean())

    net.train()
    with torch.no_grad():
        handles = [m.register_forward_pre_hook(bn_hook) for m in bns]
        try:
            out = _pre_gap(net, x)
        finally:
            for h in handles:
                h.remove()
        out_mix = _pre_gap(net, x + ALPHA * eps)
        diff = (out - out_mix).abs().flatten(1).sum(1).mean()
    log_sigma = 0.0
    for var in torch.stack(variances).tolist() if variances else []:  # one read-back, hook order kept
        if var > 0.0:  # a BN fed only zeros (an op on a node that only `none` edges reach) is skipped
            log_sigma += 0.5 * math.log(var)
    return finite_or_nan(math.log(float(diff)) + log_sigma) if float(diff) > 0 else float("nan")
