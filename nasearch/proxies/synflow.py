"""SynFlow (Tanaka, Kunin, Yamins & Ganguli, "Pruning neural networks without any data by iteratively
conserving synaptic flow", NeurIPS 2020), as a zero-cost proxy in Abdelfattah et al., "Zero-Cost
Proxies for Lightweight NAS", ICLR 2021.

Data-free. On the network WITHOUT BatchNorm (``bn=False``), with every parameter replaced by its
absolute value ("sign-linearised"), an all-ones input of shape (1, 3, H, W) and R = sum of the output
logits,

    score = sum_theta | theta * dR/dtheta |

over the weights of every conv and linear layer (zero-cost-nas's ``get_layer_metric_array``; BN is
absent and the classifier bias is not scored). Reference code: SamsungLabs/zero-cost-nas
``measures/synflow.py`` (``bn=False``, ``net.double()``).

Overflow: with non-negative weights and a non-negative input every ReLU is the identity and every
activation is non-negative, and activations grow with depth: for NB201 the score reaches about 1e50
(all ``nor_conv_3x3`` cell, CIFAR), beyond float32's 3.4e38, so a float32 computation returns inf for
the big cells. We compute in float64 (max 1.8e308: >250 orders of magnitude of headroom on NB201;
activations and gradients peak near 1e47) and return the float64 value; do not cast scores to float32.
The network is cast to float64 in place (the scorer's network is ours to modify). avg-pool, skip and
``none`` edges carry no weights; they only route the flow (``none`` multiplies by 0, so weights that
feed only ``none`` edges score 0).

Deviations: none (the reference also computes in float64; H, W are taken from the batch's shape,
falling back on the context's input size).

Cross-machine tolerance (synflow, ``ProxySpec.tolerance``, relative): computed in float64 from the
float32 initial weights: kernel-set differences are rounding of float64 sums (about 1e-13);
tolerance 1e-6, provisional until the synflow rows of ``experiments/cross_machine``.
"""

from __future__ import annotations

import torch

from nasearch.proxies.registry import ProxyContext, register_proxy
from nasearch.proxies.utils import finite_or_nan, layer_weights


def synflow_per_layer(net: torch.nn.Module, input_size: tuple[int, int]) -> list[float]:
    """Per-layer synflow sums (float64), in module order; casts ``net`` to float64 and takes |params|."""
    net.double()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    weights = layer_weights(net)
    x = torch.ones(1, 3, *input_size, dtype=torch.float64, device=weights[0].device)
    grads = torch.autograd.grad(net(x).sum(), weights, allow_unused=True)
    with torch.no_grad():  # one read-back for all layers (no host synchronisation per layer)
        sums = [torch.zeros((), dtype=torch.float64, device=w.device) if g is None else (w * g).abs().sum()
                for w, g in zip(weights, grads)]
        return torch.stack(sums).tolist()


@register_proxy(
    "synflow",
    paper="Tanaka et al., Pruning neural networks without any data by iteratively conserving synaptic flow, NeurIPS 2020",
    work="fwd_bwd",
    higher_is_better=True,
    data_free=True,
    bn=False,
    tolerance=1e-6,  # cross-machine, relative (experiments/cross_machine)
)
def synflow(net: torch.nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]], ctx: ProxyContext) -> float:
    if batches:
        size = tuple(int(s) for s in batches[0][0].shape[-2:])
    else:
        size = (ctx.input_size, ctx.input_size)
    return finite_or_nan(sum(synflow_per_layer(net, size)))  # type: ignore[arg-type]
