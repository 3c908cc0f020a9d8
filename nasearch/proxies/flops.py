"""FLOPs: MFLOPs of one forward pass of one image through the network of the architecture, NATS-Bench's
convention (multiply-accumulates of convs and linears; see :func:`nasearch.space.networks.count_flops`),
a baseline in Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021.

The image size is ``ctx.input_size`` (the space's input size: 32 for CIFAR, 16 for ImageNet16-120,
255-256 for TransNAS-Bench-101). Needs the network but no data. Deviations: none.

Cross-machine tolerance (flops, ``ProxySpec.tolerance``, relative): a count of multiply-adds: exact
on any machine (measured: 0 on 50 cells, ``experiments/cross_machine``); tolerance 1e-9.
"""

from __future__ import annotations

import torch

from nasearch.proxies.registry import ProxyContext, register_proxy
from nasearch.space.networks import count_flops


@register_proxy(
    "flops",
    paper="FLOPs (baseline; Abdelfattah et al., Zero-Cost Proxies for Lightweight NAS, ICLR 2021)",
    work="structure",
    higher_is_better=True,
    data_free=True,
    bn=True,
    needs_network=True,
    needs_weights=False,  # counted on a network built without initialisation (blank_network)
    tolerance=1e-9,  # cross-machine, relative (experiments/cross_machine)
)
def flops(net: torch.nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]], ctx: ProxyContext) -> float:
    return float(count_flops(net.cpu(), input_size=ctx.input_size))  # shapes only: counted on the CPU  # type: ignore[arg-type]
