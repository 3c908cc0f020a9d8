"""ZiCo (Li, Yang, Bhardwaj & Marculescu, "ZiCo: Zero-shot NAS via Inverse Coefficient of Variation on
Gradients", ICLR 2023), Eq. (10):

    ZiCo = sum over layers l of log( sum_{theta in l} E[|g_theta|] / sqrt(Var[g_theta]) )

with mean and (population, ddof=0) standard deviation taken over the gradients of B >= 2 minibatches
(the gradient of each batch's mean cross-entropy), over the weights of every conv and linear layer,
natural log, train mode, random init. Weights whose gradient has zero standard deviation are left out
of their layer's sum, and a layer whose sum is 0 (all its weights left out, e.g. a conv feeding only
``none`` edges) contributes nothing, as in the reference code (SLDGroup/ZiCo,
``ZeroShotProxy/compute_zico.py``: ``np.nonzero(std)``, ``if tmpsum == 0: pass``).

Deviations: the reference never zeroes ``.grad`` between batches, so its "gradient of batch b" is the
running sum of the gradients of batches 1..b; we use each batch's own gradient, as the paper's
equation states. Statistics in float64 (the reference uses float32 numpy arrays).
"""

from __future__ import annotations

import math

import torch

from nasearch.proxies.registry import ProxyContext, register_proxy
from nasearch.proxies.utils import finite_or_nan, weight_grads


def zico_from_grads(per_batch: list[list[torch.Tensor]]) -> float:
    """``per_batch[b][l]``: gradient of layer l's weight on batch b."""
    totals = []
    for layer_grads in zip(*per_batch):
        g = torch.stack([t.detach().double().flatten() for t in layer_grads])  # (B, numel)
        std = g.std(0, unbiased=False)
        keep = std != 0  # boolean indexing: one implicit synchronisation per layer on CUDA (kept: the
        # same elements summed in the same order as before, so CPU scores are unchanged bit for bit)
        totals.append((g.abs().mean(0)[keep] / std[keep]).sum())
    score = 0.0
    for total in torch.stack(totals).tolist() if totals else []:  # one read-back for all layers
        if total != 0.0:
            score += math.log(total)
    return score


@register_proxy(
    "zico",
    paper="Li et al., ZiCo: Zero-shot NAS via Inverse Coefficient of Variation on Gradients, ICLR 2023",
    higher_is_better=True,
    needs_labels=True,
    min_batches=2,
)
def zico(net: torch.nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]], ctx: ProxyContext) -> float:
    if len(batches) < 2:
        raise ValueError(f"zico needs at least 2 minibatches (variance over batches), got {len(batches)}")
    per_batch = [weight_grads(net, images, labels) for images, labels in batches]
    return finite_or_nan(zico_from_grads(per_batch))
