"""GraSP (Wang, Zhang & Grosse, "Picking Winning Tickets Before Training by Preserving Gradient Flow",
ICLR 2020), as a zero-cost proxy in Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS",
ICLR 2021.

``score = sum_k ( -theta_k * (H g)_k )`` over the weights of every conv and linear layer, with ``g``
the gradient of the mean cross-entropy of one labelled batch and ``H g`` the Hessian-gradient product,
obtained as the gradient of ``sum_k stopgrad(g_k) * g_k`` (double backward). Reference code:
SamsungLabs/zero-cost-nas ``measures/grasp.py`` (T = 1, one iteration, the same batch for both passes,
train mode).

Sign convention: zero-cost-nas's ``-theta * Hg`` (the GraSP paper prunes by ``-theta * Hg`` too and
removes the weights with the HIGHEST values; zero-cost-nas notes that accuracy correlates with the sum
of ``-theta * Hg``), and we rank like zero-cost-nas does: ``higher_is_better=True``.

Deviations: none.

Cross-machine tolerance (grasp, ``ProxySpec.tolerance``, relative): measured on 50 cells
(``experiments/cross_machine``): max 2.6%, median 1.7e-4 between the default kernels and
``ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41`` (Spearman rho 1.000, worst cell index 29); max
1.4%, median 8.7e-5 against the machine that computed the committed study (worst cell 10619). A
Hessian-gradient product (double backward) summed with cancellations between layers, so a cell whose
sum nearly cancels moves most; tolerance 6e-2 (2x the worst).
"""

from __future__ import annotations

import torch

from nasearch.proxies.registry import ProxyContext, register_proxy
from nasearch.proxies.utils import cross_entropy, finite_or_nan, first_batch, layer_weights


@register_proxy(
    "grasp",
    paper="Wang et al., Picking Winning Tickets Before Training by Preserving Gradient Flow, ICLR 2020",
    work="fwd_bwd",
    higher_is_better=True,
    needs_labels=True,
    tolerance=6e-2,  # cross-machine, relative (experiments/cross_machine)
)
def grasp(net: torch.nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]], ctx: ProxyContext) -> float:
    images, labels = first_batch(batches)
    weights = layer_weights(net)
    # pass 1: g, no graph
    loss = cross_entropy(net(images), labels)
    g = torch.autograd.grad(loss, weights, allow_unused=True)
    # pass 2: g with graph, then Hg = d/dtheta sum(stopgrad(g) * g)
    loss = cross_entropy(net(images), labels)
    g_graph = torch.autograd.grad(loss, weights, create_graph=True, allow_unused=True)
    z = sum((a.detach() * b).sum() for a, b in zip(g, g_graph) if a is not None and b is not None)
    if not isinstance(z, torch.Tensor) or not z.requires_grad:
        return 0.0
    hg = torch.autograd.grad(z, weights, allow_unused=True)
    with torch.no_grad():
        parts = [(-w * h).sum(dtype=torch.float64) for w, h in zip(weights, hg) if h is not None]
        total = sum(torch.stack(parts).tolist()) if parts else 0  # one read-back, layer order kept
    return finite_or_nan(total)
