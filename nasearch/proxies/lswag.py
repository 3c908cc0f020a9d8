"""L-SWAG (Casarin, Escalera & Lanz, "L-SWAG: Layer-Sample Wise Activation with Gradients information
for Zero-Shot NAS on Vision Transformers", CVPR 2025, arXiv 2505.07300), Section 3.1.

Eq. (1): the product of a layer-wise trainability term and a layer-wise expressivity term,

    L-SWAG = Lambda^L * Psi^L
    Lambda^L = sum_{l = l_lo}^{l_hi} log( sum_{w in theta_l} 1 / sqrt(Var_i[ grad_w loss(X_i, y_i; Theta) ]) )
    Psi^L    = | A^L |                                                          (Eq. 8)

* ``theta_l``: the ``weight`` of the l-th conv/linear layer in module order (l = 1..L, L the number of
  such layers; the conventions of :mod:`nasearch.proxies.utils`). ``grad_w loss(X_i, y_i)`` is the
  gradient of the mean cross-entropy of minibatch i; the variance (population, ddof=0, float64) is taken
  per weight over the B >= 2 minibatches the scorer hands over (ZiCo's statistic, ``zico.py``, with the
  mean |g| of ZiCo's numerator replaced by 1: the paper's Theorem 1, Eq. (5), argues that only sigma
  bounds the training loss). Weights whose gradient has zero variance are left out of their layer's
  sum and a layer whose sum is 0 contributes nothing (ZiCo's convention: a conv that reaches the loss
  only through ``none`` edges has exactly zero gradients).
* Layer selection, Eq. (6): layer l of L lies in the depth-percentile bin
  ``perc = int(l / L * 100 // (100 / PERC_BINS))`` with PERC_BINS = 10, i.e. ``10 * l // L`` in
  0..10, reported here as a percentage ``10 * bin`` (0, 10, ..., 100; only the last layer is at 100).
  Lambda sums the layers whose percentage lies in ``[lo, hi]``: l_lo is the first of them, l_hi the
  last (L-hat in the paper).
* Psi (Definitions 1-2, Eq. 7-8): the post-activation output of every ``nn.ReLU`` / ``nn.GELU`` module
  (every call of it) on the first minibatch of S samples is binarised (1 where > 0; GELU(x) > 0 iff
  x > 0), every activation unit (one element of the output of one sample: channel x position) gives a
  vector of S bits across the samples, and Psi is the number of distinct such vectors over the union of
  the units of activation layers 1..l_hi, where activation module a of A (module order) is in layer
  range when its depth percentage ``10 * (10 * a // A)`` is <= hi (Eq. 7 indexes l in {1, ..., L-hat}:
  from the first layer, not from l_lo). Counted exactly by SWAP's pattern set
  (:class:`nasearch.proxies.swap.PatternSet`: each unit's S bits packed into int64 words, deduplicated).

Defaults: the engine's minibatches (64 images each, the paper's batch size; it used 32 on
TransNAS-Bench-101), ``min_batches=2`` (the variance needs two minibatch gradients; NASLib's ZiCo, the
code base the paper says it builds on, splits its one batch into 2 halves), Psi on the first
minibatch (S = its size, 64), layer range ``[lo, hi] = DEFAULT_RANGE = (0, 100)`` (every layer; see
Deviations). Cross-entropy loss, train mode (BN with batch statistics), random init, one forward and
backward pass per minibatch (the activation patterns are read in the first minibatch's forward pass).

Deviations:
* The paper's Eq. (1) prints ``Var(|grad|)`` (ZiCo's Eq. 10 notation), but its Eq. (4) and Theorem 1
  define sigma_j on the signed gradient, and ZiCo's code (and NASLib's, which the paper's code base
  builds on) takes the standard deviation of the signed gradient: we use the signed gradient, so that
  Lambda is ZiCo (``zico.py``) with each weight's E|g| replaced by 1 (tested). With two minibatches the
  two readings differ only for the weights whose two gradients differ in sign.
* The layer range: the paper picks it per benchmark, "una-tantum", at the spikes of the per-percentile
  gradient statistics of 1000 random networks (Sec. 3.1, Fig. 2); the values it used are in its
  supplementary material, which we could not read. The engine does not tell a proxy which space it
  scores, so one range serves every space, and the default is the whole network, ``[0, 100]``
  (``DEFAULT_RANGE``): measured here (CIFAR-10 minibatches of 64, every ``[lo, hi]`` on the 10-point
  grid, Spearman rho with the benchmark's validation accuracy), on 80 random NB201 cells the whole
  network gives 0.795 and the best range 0.802 ([0, 40]); on 60 NAS-Bench-Macro cells 0.900 and 0.906
  ([60, 100]): in both spaces no range beats the whole network by more than the sampling error of
  such samples (about 0.03-0.05), so none was chosen from them (the paper too reports its largest
  gains from the layer selection on TransNAS-Bench-101 Macro, Table 3, not measured here: CPU budget).
  With the default L-SWAG is the paper's ablation "no mu + Psi" over all layers (Table 3). Other
  ranges: :func:`lswag_score` / :func:`lswag_terms` take ``lo`` and ``hi``.
* Lambda is over the B minibatches of the scorer (two minibatches of 64 by default), not, as
  NASLib's ZiCo would do, over the two halves of one batch of 64 (the paper does not say which); the
  engine draws every minibatch from the same seeded stream, so the statistic is of the same kind.
* The activation layers of Psi are placed on the depth axis by their own index among the activation
  modules (a / A), not through the conv/linear layer they feed; the paper gives no mapping between the
  two axes.
* A ReLU module called several times (shared) contributes every call's units; a node read by several
  ReLUs (an NB201 node feeding several conv edges) contributes identical vectors, which the set counts
  once.

Cross-machine tolerance (``ProxySpec.tolerance``, relative), measured in ``experiments/cross_machine``: 50 cells, the default kernels against ``ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41``:
max 2.0e-2 (median 2.6e-3, Spearman rho 0.9993 between the two runs; contiguous layout). Layout: the
engine runs lswag in ``channels_last`` (``experiments/channels_last``: 0.72x the contiguous time,
scores within 2.0e-2 relative, under half the tolerance); remeasured in that layout, the
cross-machine maximum is 1.5e-2 (median 2.4e-3). The registered tolerance, 7e-2
(3.5x the worst), also covers the layouts: the same score in the ``channels_last`` layout differed by up to 2.1e-2 relative (20
cells of the four spaces, CIFAR-10 or Gaussian minibatches; worst an NB201 cell of skips and ``none``,
few convs), all of it from Lambda: as in ZiCo, 1 / sigma over two minibatch gradients is dominated by
the weights whose two gradients nearly agree, which float32 round-off moves (ZiCo's measured
cross-machine maximum is 3.3%, its tolerance 7e-2). Psi moved by at most 2 patterns in 10^5.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from nasearch.proxies.registry import ProxyContext, register_proxy
from nasearch.proxies.swap import PatternSet
from nasearch.proxies.utils import Batch, cross_entropy, finite_or_nan, weight_layers

PERC_BINS = 10
"""Eq. (6): the depth axis is cut into 10 percentile bins."""

DEFAULT_RANGE: tuple[int, int] = (0, 100)
"""Depth percentages ``[lo, hi]`` of the layers Lambda sums (Psi: every activation layer up to ``hi``):
the whole network by default (module docstring, Deviations: measured on NB201 and NAS-Bench-Macro)."""

ACTIVATIONS: tuple[type[nn.Module], ...] = (nn.ReLU, nn.GELU)
"""Modules whose outputs are the post-activation values of Psi."""


def depth_percentages(n: int) -> list[int]:
    """Eq. (6): the depth percentage ``10 * int(l / n * 100 // (100 / PERC_BINS))`` of each of ``n``
    layers (l = 1..n), in integer arithmetic (``10 * (10 * l // n)``: 0, 10, ..., 100)."""
    step = 100 // PERC_BINS
    return [step * ((PERC_BINS * layer) // n) for layer in range(1, n + 1)]


def selected_layers(n: int, lo: int, hi: int) -> list[bool]:
    """Which of ``n`` layers (module order) Lambda sums: depth percentage in ``[lo, hi]``."""
    return [lo <= p <= hi for p in depth_percentages(n)]


def psi_layers(n: int, hi: int) -> list[bool]:
    """Which of ``n`` activation layers Psi counts: depth percentage <= ``hi`` (l in 1..L-hat, Eq. 7)."""
    return [p <= hi for p in depth_percentages(n)]


def lambda_from_grads(per_batch: Sequence[Sequence[torch.Tensor | None]]) -> float:
    """Lambda of Eq. (1) from ``per_batch[b][k]``: the gradient of the k-th SELECTED layer's weight on
    minibatch b (None: the loss does not reach it, a layer left out). Float64 statistics."""
    totals = []
    for layer_grads in zip(*per_batch):
        if any(t is None for t in layer_grads):
            continue
        rows = [t.detach().double().flatten() for t in layer_grads]
        mean = sum(rows[1:], rows[0]) / len(rows)
        # population variance, row by row (elementwise: ``Tensor.std(0)`` over a (B, numel) stack costs
        # ~10x the network's backward pass on TransNAS-Bench-101's millions of weights)
        var = sum(((r - mean) ** 2 for r in rows[1:]), (rows[0] - mean) ** 2) / len(rows)
        varies = torch.zeros_like(rows[0], dtype=torch.bool)
        for r in rows[1:]:
            varies |= r != rows[0]
        # zero variance exactly where every minibatch gives the same gradient (the rounded mean of B >= 3
        # equal values can differ from them in the last bit: the mask, not ``var != 0``)
        totals.append(var[varies].rsqrt().sum())
    score = 0.0
    for total in torch.stack(totals).tolist() if totals else []:  # one read-back for all layers
        if total != 0.0:
            score += math.log(total)
    return score


def lswag_terms(net: nn.Module, batches: Sequence[Batch], lo: int = DEFAULT_RANGE[0],
                hi: int = DEFAULT_RANGE[1]) -> tuple[float, int]:
    """``(Lambda, Psi)`` of ``net`` on ``batches`` (B >= 2) for the depth-percentage range ``[lo, hi]``:
    one forward and backward pass per minibatch, the activation patterns read in the first one."""
    if len(batches) < 2:
        raise ValueError(f"lswag needs at least 2 minibatches (variance over minibatches), got {len(batches)}")
    layers = weight_layers(net)
    weights = [m.weight for m, keep in zip(layers, selected_layers(len(layers), lo, hi)) if keep]
    acts = [m for m in net.modules() if isinstance(m, ACTIVATIONS)]
    counted = [m for m, keep in zip(acts, psi_layers(len(acts), hi)) if keep]
    samples = batches[0][0].shape[0]
    patterns = PatternSet(samples, batches[0][0].device)

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        patterns.add((out.detach() > 0).reshape(samples, -1))  # reshape: any memory layout

    per_batch: list[list[torch.Tensor | None]] = []
    for b, (images, labels) in enumerate(batches):
        handles = [m.register_forward_hook(hook) for m in counted] if b == 0 else []
        try:
            with torch.enable_grad():
                loss = cross_entropy(net(images), labels)
        finally:
            for h in handles:
                h.remove()
        per_batch.append(list(torch.autograd.grad(loss, weights, allow_unused=True)) if weights else [])
    return lambda_from_grads(per_batch), len(patterns)


def lswag_score(net: nn.Module, batches: Sequence[Batch], lo: int = DEFAULT_RANGE[0],
                hi: int = DEFAULT_RANGE[1]) -> float:
    """Eq. (1): ``Lambda * Psi`` for the depth-percentage range ``[lo, hi]``."""
    lam, psi = lswag_terms(net, batches, lo, hi)
    return finite_or_nan(lam * psi)


@register_proxy(
    "lswag",
    layout="channels_last",  # measured: experiments/channels_last/layout.md
    paper="Casarin, Escalera & Lanz, L-SWAG: Layer-Sample Wise Activation with Gradients information for "
          "Zero-Shot NAS on Vision Transformers, CVPR 2025",
    work="fwd_bwd",
    higher_is_better=True,
    needs_labels=True,
    min_batches=2,
    tolerance=7e-2,  # cross-machine, relative (experiments/cross_machine; module docstring)
)
def lswag(net: nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]], ctx: ProxyContext) -> float:
    return lswag_score(net, batches)
