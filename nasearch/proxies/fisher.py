"""Fisher (Theis et al., "Faster gaze prediction with dense networks and Fisher pruning", 2018; Turner
et al., "BlockSwap: Fisher-guided Block Substitution for Network Compression on a Budget", ICLR 2020),
as a zero-cost proxy in Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021.

For every conv/linear layer with output activation ``a`` (N, C, H, W) and its loss gradient ``dL/da``
(mean cross-entropy of one labelled batch, train mode, random init):

    Delta_c = 1/2 * mean_n ( sum_{h,w} a[n,c,h,w] * dL/da[n,c,h,w] )^2        (per output channel c)

Where activations are tapped: at the OUTPUT of each conv/linear layer, as zero-cost-nas does (its
``fisher.py`` puts an identity after ``F.conv2d``/``F.linear``). In NB201's ReLU-Conv-BN ops that is
after the conv and before the BN; for the classifier it is the logits (no spatial sum).

Aggregation: zero-cost-nas broadcasts each channel's Delta_c to all the weights of that channel
(``reshape_elements``) and the score sums the per-weight array, so each channel counts
``C_in * kh * kw`` times. We reproduce that: ``score = sum_layers sum_c Delta_c * fan_in(layer)``.
Reference code: SamsungLabs/zero-cost-nas ``measures/fisher.py``.

Deviations: none in value; implemented with forward hooks and tensor gradient hooks instead of
replacing the layers' ``forward`` methods.

Cross-machine tolerance (fisher, ``ProxySpec.tolerance``, relative): measured on 50 cells
(``experiments/cross_machine``): max 1.2e-3 (median 1.4e-5) between the default and the SSE4.1/default-ATen
kernels, 8.6e-4 against the committed study's machine; tolerance 3e-3.
"""

from __future__ import annotations

import torch

from nasearch.proxies.registry import ProxyContext, register_proxy
from nasearch.proxies.utils import cross_entropy, finite_or_nan, first_batch, weight_layers


@register_proxy(
    "fisher",
    paper="Turner et al., BlockSwap, ICLR 2020 / Theis et al. 2018 (Fisher pruning), as in Abdelfattah et al. 2021",
    work="fwd_bwd",
    higher_is_better=True,
    needs_labels=True,
    tolerance=3e-3,  # cross-machine, relative (experiments/cross_machine)
)
def fisher(net: torch.nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]], ctx: ProxyContext) -> float:
    images, labels = first_batch(batches)
    parts: list[tuple[torch.Tensor, int]] = []
    handles = []

    def make_hook(module: torch.nn.Module):
        fan_in = module.weight[0].numel()

        def forward_hook(mod, inputs, out):
            act = out.detach()

            def grad_hook(grad: torch.Tensor) -> None:
                prod = act * grad
                g_nc = prod.flatten(2).sum(2) if prod.dim() > 2 else prod
                delta = g_nc.double().pow(2).mean(0).mul(0.5)
                parts.append((delta.sum(), fan_in))  # read back once below, not per layer

            if out.requires_grad:
                out.register_hook(grad_hook)

        return forward_hook

    try:
        for m in weight_layers(net):
            handles.append(m.register_forward_hook(make_hook(m)))
        loss = cross_entropy(net(images), labels)
        loss.backward()
    finally:
        for h in handles:
            h.remove()
    net.zero_grad(set_to_none=True)
    total = 0.0
    if parts:
        for v, fan_in in zip(torch.stack([p for p, _ in parts]).tolist(), (f for _, f in parts)):
            total += v * fan_in
    return finite_or_nan(total)
