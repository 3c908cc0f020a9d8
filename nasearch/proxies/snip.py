"""SNIP (Lee, Ajanthan & Torr, "SNIP: Single-shot Network Pruning based on Connection Sensitivity",
ICLR 2019), as a zero-cost proxy in Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS",
ICLR 2021.

Connection sensitivity summed over the network: ``score = sum_k |g_k * theta_k|`` with ``g`` the
gradient of the mean cross-entropy of one labelled batch, over the weights of every conv and linear
layer, network in train mode at its random init. Reference code: SamsungLabs/zero-cost-nas
``measures/snip.py`` (which obtains ``g * theta`` as the gradient of a multiplicative weight mask; the
product is the same).

Deviations: none (the paper normalises the sensitivities by their sum to prune; zero-cost-nas and we
take the raw sum).

Cross-machine tolerance (snip, ``ProxySpec.tolerance``, relative): measured on 50 cells
(``experiments/cross_machine``): max 1.3e-3, median 7.2e-6 between the default kernels and
``ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41`` (worst cell index 437); max 3.0e-4 against the
machine that computed the committed study; tolerance 3e-3 (2x the worst).
"""

from __future__ import annotations

import torch

from nasearch.proxies.registry import ProxyContext, register_proxy
from nasearch.proxies.utils import finite_or_nan, first_batch, layer_weights, weight_grads


@register_proxy(
    "snip",
    paper="Lee et al., SNIP: Single-shot Network Pruning based on Connection Sensitivity, ICLR 2019",
    work="fwd_bwd",
    higher_is_better=True,
    needs_labels=True,
    tolerance=3e-3,  # cross-machine, relative (experiments/cross_machine)
)
def snip(net: torch.nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]], ctx: ProxyContext) -> float:
    images, labels = first_batch(batches)
    grads = weight_grads(net, images, labels)
    with torch.no_grad():
        parts = [(g * w).abs().sum(dtype=torch.float64) for g, w in zip(grads, layer_weights(net))]
        total = sum(torch.stack(parts).tolist())  # one read-back, summed in layer order as before
    return finite_or_nan(total)
