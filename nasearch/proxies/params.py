"""#params: the parameter count of the network of the architecture, in millions (a baseline, e.g. in
Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021, and NAS-Bench-201's records).

Counts every parameter of the network built for the dataset with BatchNorm (equals NB201's
``params_m`` and NAS-Bench-Macro's ``params``; see :func:`nasearch.space.networks.count_parameters`).
Needs the network but no data. Deviations: none.

Cross-machine tolerance (params, ``ProxySpec.tolerance``, relative): a count of parameters: exact on
any machine (float64 sum of integers; measured: 0 on 50 cells, ``experiments/cross_machine``);
tolerance 1e-9.
"""

from __future__ import annotations

import torch

from nasearch.proxies.registry import ProxyContext, register_proxy
from nasearch.space.networks import count_parameters


@register_proxy(
    "params",
    paper="parameter count (baseline; Abdelfattah et al., Zero-Cost Proxies for Lightweight NAS, ICLR 2021)",
    work="structure",
    higher_is_better=True,
    data_free=True,
    bn=True,
    needs_network=True,
    needs_weights=False,  # counted on a network built without initialisation (blank_network)
    tolerance=1e-9,  # cross-machine, relative (experiments/cross_machine)
)
def params(net: torch.nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]], ctx: ProxyContext) -> float:
    return count_parameters(net) / 1e6
