"""grad_norm, as a zero-cost proxy in Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS",
ICLR 2021.

``score = sum over layers l of || g_l ||_2`` with ``g_l`` the gradient of the mean cross-entropy of one
labelled batch w.r.t. the weight of conv/linear layer l (train mode, random init). Reference code:
SamsungLabs/zero-cost-nas ``measures/grad_norm.py``: it computes one L2 norm per layer and the
aggregation sums the per-layer norms (it is NOT the norm of the concatenated gradient).

Deviations: none.

Cross-machine tolerance (grad_norm, ``ProxySpec.tolerance``, relative): measured on 50 cells
(``experiments/cross_machine``): max 1.5e-3 (median 2.2e-5) between the default and the SSE4.1/default-ATen
kernels, 7.4e-4 against the committed study's machine; tolerance 4e-3.
"""

from __future__ import annotations

import torch

from nasearch.proxies.registry import ProxyContext, register_proxy
from nasearch.proxies.utils import finite_or_nan, first_batch, weight_grads


@register_proxy(
    "grad_norm",
    paper="Abdelfattah et al., Zero-Cost Proxies for Lightweight NAS, ICLR 2021 (grad_norm)",
    work="fwd_bwd",
    higher_is_better=True,
    needs_labels=True,
    tolerance=4e-3,  # cross-machine, relative (experiments/cross_machine)
)
def grad_norm(net: torch.nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]], ctx: ProxyContext) -> float:
    images, labels = first_batch(batches)
    grads = weight_grads(net, images, labels)
    return finite_or_nan(sum(torch.stack([g.double().norm() for g in grads]).tolist()))  # one read-back
