"""TE-NAS's two training-free indicators (Chen, Gong & Wang, "Neural Architecture Search on ImageNet in
Four GPU Hours: A Theoretically Inspired Perspective", ICLR 2021, arXiv 2102.11535; code:
VITA-Group/TENAS): ``tenas_ntk``, the condition number of the neural tangent kernel (trainability,
Section 3.1, lower is better), and ``tenas_lr``, the number of linear regions (expressivity,
Section 3.2, higher is better). TE-NAS ranks by both (rank sum); each is registered here on its own.

Only the abstract and introduction of the paper were in the stored corpora this module was written
from; the definitions below are the paper's as its Sections 3.1 and 3.2 state them (the equations are
written out; their numbers in the paper could not be checked against its full text), and the details
the paper leaves open were settled from the authors' code (``lib/procedures/ntk.py``,
``lib/procedures/linear_region_counter.py``, ``prune_tenas.py``, ``prune_launch.py``).

tenas_ntk (Section 3.1). For a minibatch X = (x_1, ..., x_N), J is the N x P Jacobian of the
network's outputs with respect to its parameters theta, and the empirical NTK is

    Theta = J J^T                     (N x N; Theta_ij = <df(x_i)/dtheta, df(x_j)/dtheta>)
    kappa_N = lambda_0 / lambda_m     (its largest over its smallest eigenvalue)

Gradient descent on the squared loss converges along Theta's eigendirections at rates proportional
to the eigenvalues, so a large kappa_N (some directions learnt far more slowly than others) means
poor trainability; the paper reports kappa_N negatively correlated with accuracy on NAS-Bench-201.
Here, as in the authors' ``get_ntk_n``: f(x_i) is the sum of the network's logits for x_i (one scalar
per image, so Theta is N x N); X is the first min(32, B) images of the first batch handed over
(``NTK_BATCH``; see Deviations); the network is in train mode, so BatchNorm normalises with the
statistics of X and each row of J is the gradient of f(x_i) *through the whole batch* (x_i's output
depends on theta also through the batch mean and variance of every BN layer), which is what the
authors' per-image ``backward`` of the batched forward computes; this Theta is the tangent kernel of
the batch's outputs, the one that governs a train-mode gradient step on that batch. J is formed
exactly: one forward pass, then one backward pass per image (``torch.autograd.grad`` with
``retain_graph``), N backward passes of the batch in all. A per-sample gradient trick (vmap over
samples, batch folded into groups) would give the gradients of *decoupled* samples, a different
kernel, and vmap over the N backward passes (``is_grads_batched``) was measured 1.6x slower than the
loop on CPU (NB201 all-conv3 cell, N = 32, one thread), so the loop is kept. Theta is accumulated in
float64 from the float32 J, eigenvalues by ``torch.linalg.eigvalsh``. A Theta that is not finite, or
whose smallest eigenvalue is <= 1e-10 of its largest (``SINGULAR_RCOND``: singular within the
round-off of a float32 J, e.g. two identical images in the batch), gives NaN, not a huge number;
the scorer ranks NaN last.

tenas_lr (Section 3.2). A ReLU network is piecewise linear: every input x has an activation pattern
P(x) = (1[z_u(x) > 0]) over all ReLU units u, the inputs that share a pattern form one linear region,
and R_N is the number of distinct patterns (linear regions) the network cuts its input space into,
averaged over initialisations; more regions, more expressive, positively correlated with accuracy
in the paper. The authors estimate it as the number of distinct patterns among 3000 sampled inputs
(``LinearRegionCount``: 3 batches of 1000, BN in train mode with each batch's statistics, the outputs
of every ``nn.ReLU`` whose input is a 4-d feature map). What is counted here: the regions that a
line segment between two random inputs crosses,

    R = 1 + sum over consecutive points x_k, x_(k+1) of the segment, over units u, of
            1[ 1[z_u(x_k) > 0] != 1[z_u(x_(k+1)) > 0] ]

(a unit's sign change is a crossing of one of the network's region boundaries; along a straight
segment no region is entered twice, since a region, all inputs with one pattern of a piecewise-linear
map, is convex; so with points dense enough that no unit changes sign twice between neighbours, R is
the number of regions on the segment). Units: the inputs of every ``nn.ReLU`` module whose input is
4-d (the reference's hook), each distinct tensor once (a node feeding several ReLU-conv edges of an
NB201 cell is one set of units; a tensor changed in place since is a new one). Inputs: drawn from
``ctx.generator``, N(0, 1), 3 x s x s with s = max(4, H // 16), H the side of the batches' images
(``ctx.input_size`` without batches): s = 4 on NB201 and NAS-Bench-Macro, 16 on TransNAS-Bench-101;
first ``LR_BN_BATCH`` = 256 images whose batch statistics every BatchNorm2d then keeps (one train-mode
pass; BN normalises each segment point with them, as the reference's BN normalises each sample with
the statistics of its batch of 1000 random inputs), then the two end points, and ``LR_POINTS`` = 4096
evenly spaced points from one end to the other (t = k / 4095). One forward pass without gradients over
the 256 images and one over the 4096 points. Data-free: the batches' images are never read (only
their side and layout).

Deviations:
* tenas_ntk: theta is every parameter of the network (the paper's theta); the authors' code keeps only
  tensors named ``weight`` (convs, the classifier, BN scales), leaving out the BN shifts and the
  classifier bias. On TransNAS-Bench-101 that makes Theta exactly singular at initialisation: its
  encoders end in a sum of BN outputs (its cells' ops are ReLU-conv-BN, no ReLU after the last BN),
  so over a train-mode batch the pooled features sum to N times the BN shifts whatever the weights,
  sum_i f(x_i) does not depend on any ``weight`` (the classifier's gradient, the shifts, is 0 at
  initialisation), and J^T 1 = 0. With every parameter that direction is carried by the shifts and
  the classifier bias, and kappa_N is finite on every space. On NAS-Bench-201 the two choices rank 20
  sampled cells alike (Spearman with CIFAR-10 accuracy -0.74 with weights only, -0.75 with every
  parameter, batch of 32 CIFAR-10 images).
* tenas_ntk: N = min(32, B) images of the first batch (``NTK_BATCH``), one network, one batch. The
  authors' search uses batch 72 on NAS-Bench-201 (``prune_launch.py``; 14 and 24 on DARTS) and
  averages 3 initialisations; the cost grows as N^2 (N backward passes of N images), so 32 is used, and
  the scorer's seeds take the place of repeats. The images are the scorer's (normalised CIFAR-10 or
  the task's), not the reference's random crops.
* tenas_lr: the count runs along a one-dimensional segment of inputs (boundary crossings), not over
  points sampled in the whole input space, and on a reduced input side. Measured on NAS-Bench-201
  networks (C = 16, the benchmark's; batch statistics of the sampled batch, 1000 - 3000 N(0, 1)
  inputs): every input got its own pattern (count = number of samples) for the all-conv3, a mixed, a
  conv1x1 and the all-skip cell, at 32 x 32 inputs, at 3 x 3 and 4 x 4 inputs, with one channel
  repeated, and even for inputs that are constant per channel (3 input dimensions): the count
  saturates and ranks nothing. The authors avoid that with a thin copy of the search network (1
  channel, 1 cell per stage, no stem) on 1 x 3 x 3 inputs (``prune_tenas.py``), which a proxy handed
  the benchmark's network cannot build; their issue answers (VITA-Group/TENAS #9, #10, TEGNAS #5)
  confirm that larger networks put every sample in its own region. Along a segment the count does not
  saturate (it is a sum over units); on 20 sampled NAS-Bench-201 cells it ranks CIFAR-10 accuracy with
  Spearman 0.82. Sampling density: the all-conv3 NB201 network (the most regions) gives 95k, 100k and
  101.5k crossings with 1000, 4000 and 16000 points (an undercount where a unit changes sign twice
  between neighbours), so 4096 points are within 2% of the limit there and exact on sparser networks.
* tenas_lr: BN statistics come from a separate batch of 256 random inputs, not from the points
  counted: the segment's own statistics (4096 nearly collinear inputs) would rescale the segment's
  spread to unit variance at every BN layer and make the count a property of the segment's length.
  Input side: the reference's 3 x 3 is below what some spaces' downsampling keeps meaningful, and
  TransNAS-Bench-101's 256 x 256 would make 4096 points cost minutes; H // 16 (at least 4) keeps
  NAS-Bench-201 and NAS-Bench-Macro at 4 x 4 and TransNAS-Bench-101 at 16 x 16, and sign patterns of
  N(0, 1) noise ignore the dataset anyway (data-free, like the reference's label-free random crops).
* One initialisation per score (the scorer's seed), no averaging over 3 repeats. Both in float32, as
  the reference: the two memory layouts give kappa_N within 2.6e-3 (relative; NB201 all-conv3 cell, N
  = 32: BN in train mode through 17 cells amplifies float32 round-off) and region counts within a few
  crossings (1e-4 relative); a float64 pass would make them equal but costs 3.5x (NTK) and 10x (regions,
  small maps) on CPU.

Cost (one CPU thread, contiguous layout, 20 sampled NAS-Bench-201 cells, next to a plain forward and
backward pass of the same network on a 64-image batch, 0.96 s on average): tenas_ntk (one forward and
N = 32 backward passes of a 32-image batch) 9.0 s per cell, 9.4x (20 s for the all-conv3 cell);
tenas_lr (two forward passes of 4 x 4 inputs) 0.42 s, 0.44x. tenas_lr takes 0.5 - 2 s a call on
TransNAS-Bench-101 (16 x 16 inputs) and 0.4 - 8 s on NAS-Bench-Macro, whose depthwise convs on 4 x 4
maps run 2.5 - 6.5x faster in ``channels_last`` (not chosen here: the layout is measured, see
``ProxySpec.layout``). tenas_ntk keeps the graph of its batch and J (N x P float32: 1.5 GB for a
12M-parameter TransNAS-Bench-101 network at N = 32) in memory.

Cross-machine tolerance (``ProxySpec.tolerance``, relative), measured in ``experiments/cross_machine``
(50 NB201 cells, the default kernels against ``ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41``):
tenas_ntk max 1.4e-2 (median 1.1e-5; the condition number divides by the smallest eigenvalue of a
float32 kernel, which the kernels' round-off moves most), tolerance 5e-2; tenas_lr max 3.0e-4 (7 of
50 cells moved by a few crossings), tolerance 1e-3. Layouts (``experiments/channels_last``):
tenas_lr runs ``channels_last`` (0.53x the contiguous time, counts within 3.5e-4); tenas_ntk stays
contiguous (``channels_last`` moves kappa_N by up to 4.8e-2, more than half its tolerance).
"""

from __future__ import annotations

import weakref

import torch
import torch.nn.functional as F
from torch import nn

from nasearch.proxies.registry import ProxyContext, register_proxy
from nasearch.proxies.utils import finite_or_nan, first_batch, is_channels_last, replaced_batchnorms

NTK_BATCH = 32
"""Images of the first batch the NTK is computed on (the first min(NTK_BATCH, B))."""
SINGULAR_RCOND = 1e-10
"""Theta counts as singular (kappa_N NaN) when lambda_min <= SINGULAR_RCOND * lambda_max."""
LR_POINTS = 4096
"""Evenly spaced points on the segment whose region crossings tenas_lr counts."""
LR_BN_BATCH = 256
"""Random inputs whose batch statistics every BatchNorm2d keeps for the segment."""
LR_SIDE_DIVISOR = 16
LR_MIN_SIDE = 4
"""tenas_lr's inputs are 3 x s x s with s = max(LR_MIN_SIDE, H // LR_SIDE_DIVISOR)."""

PAPER = ("Chen, Gong & Wang, Neural Architecture Search on ImageNet in Four GPU Hours: A Theoretically "
         "Inspired Perspective, ICLR 2021")


# ------------------------------------------------------------------------------ NTK (Section 3.1)
def ntk_parameters(net: nn.Module) -> list[torch.Tensor]:
    """theta: every parameter of ``net`` that requires a gradient, in module order."""
    return [p for p in net.parameters() if p.requires_grad]


def ntk_jacobian(net: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """J (N x P, the dtype of ``net``): row i is d(sum of the logits of image i)/d theta, through one
    forward pass of the whole batch (BN as the network is set: in train mode, batch statistics, so
    every row depends on every image). A parameter the output does not reach has zero gradients."""
    params = ntk_parameters(net)
    out = net(images)
    outputs = out.reshape(out.shape[0], -1).sum(1)
    n = outputs.shape[0]
    rows = []
    for i in range(n):
        grads = torch.autograd.grad(outputs[i], params, retain_graph=i + 1 < n, allow_unused=True)
        rows.append(torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1) for p, g in zip(params, grads)]))
    return torch.stack(rows)


def ntk_gram(jacobian: torch.Tensor, chunk: int = 1 << 20) -> torch.Tensor:
    """Theta = J J^T in float64, accumulated over column chunks of J (float32 products are exact in
    float64; only the sums round)."""
    n = jacobian.shape[0]
    theta = torch.zeros(n, n, dtype=torch.float64, device=jacobian.device)
    for start in range(0, jacobian.shape[1], chunk):
        block = jacobian[:, start:start + chunk].double()
        theta += block @ block.T
    return theta


def condition_number(theta: torch.Tensor) -> float:
    """kappa = lambda_max / lambda_min of the symmetric PSD ``theta``; NaN if it is not finite or is
    singular (lambda_min <= ``SINGULAR_RCOND`` * lambda_max)."""
    if not bool(torch.isfinite(theta).all()):
        return float("nan")
    eig = torch.linalg.eigvalsh(theta)
    lo, hi = float(eig[0]), float(eig[-1])
    if not hi > 0.0 or not lo > SINGULAR_RCOND * hi:
        return float("nan")
    return finite_or_nan(hi / lo)


def ntk_condition_number(net: nn.Module, images: torch.Tensor) -> float:
    """kappa_N of ``net`` (as it is set: train or eval mode) on the batch ``images``."""
    return condition_number(ntk_gram(ntk_jacobian(net, images)))


@register_proxy(
    "tenas_ntk",
    paper=PAPER,
    work="per_sample",
    higher_is_better=False,
    needs_labels=False,
    data_free=False,
    tolerance=5e-2,  # measured: experiments/cross_machine (max 1.4e-2 across kernels)
)
def tenas_ntk(net: nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]], ctx: ProxyContext) -> float:
    images, _ = first_batch(batches)
    net.train()
    return ntk_condition_number(net, images[:NTK_BATCH])


# ------------------------------------------------------------------------------ linear regions (Section 3.2)
class _KeptStatisticsBatchNorm(nn.Module):
    """A BatchNorm2d that normalises its first input with that input's batch statistics (as in train
    mode) and keeps them: every later input is normalised with the same mean and (biased) variance,
    one sample independently of the others. Running statistics are not touched."""

    def __init__(self, bn: nn.BatchNorm2d):
        super().__init__()
        self.weight, self.bias, self.eps = bn.weight, bn.bias, bn.eps
        self.mean: torch.Tensor | None = None
        self.var: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mean is None:
            self.mean = x.mean((0, 2, 3))
            self.var = x.var((0, 2, 3), unbiased=False)
        return F.batch_norm(x, self.mean, self.var, self.weight, self.bias, training=False, eps=self.eps)


def segment_crossings(net: nn.Module, stats: torch.Tensor, points: torch.Tensor) -> int:
    """Sum over the units of ``net`` (the inputs of every ``nn.ReLU`` with a 4-d input, each distinct
    tensor once) of the number of sign changes between consecutive rows of ``points``, after one pass
    over ``stats`` whose batch statistics every BatchNorm2d keeps (the originals are put back)."""
    n = points.shape[0]
    seen: dict[int, tuple[weakref.ref, int]] = {}
    counts: list[torch.Tensor] = []

    def pre_hook(module, inputs):
        t = inputs[0] if inputs else None
        if not isinstance(t, torch.Tensor) or t.dim() != 4 or t.shape[0] != n:
            return
        entry = seen.get(id(t))
        if entry is not None and entry[0]() is t and entry[1] == t._version:
            return  # the same tensor, unchanged, already counted (another ReLU of one node)
        seen[id(t)] = (weakref.ref(t), t._version)
        positive = t.reshape(n, -1) > 0
        counts.append((positive[1:] != positive[:-1]).sum())

    handles = []
    with replaced_batchnorms(net, _KeptStatisticsBatchNorm):
        try:
            with torch.no_grad():
                net(stats)
                handles = [m.register_forward_pre_hook(pre_hook) for m in net.modules() if isinstance(m, nn.ReLU)]
                net(points)
        finally:
            for h in handles:
                h.remove()
    return int(torch.stack(counts).sum()) if counts else 0


def segment_inputs(side: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(the ``LR_BN_BATCH`` statistics images, the ``LR_POINTS`` segment points), float32 on the CPU,
    all drawn from ``generator`` in that order: statistics images, then the two end points."""
    stats = torch.randn(LR_BN_BATCH, 3, side, side, generator=generator)
    ends = torch.randn(2, 3, side, side, generator=generator)
    t = torch.linspace(0.0, 1.0, LR_POINTS).reshape(-1, 1, 1, 1)
    return stats, ends[0:1] + t * (ends[1:2] - ends[0:1])


@register_proxy(
    "tenas_lr",
    paper=PAPER,
    work="forward",
    higher_is_better=True,
    needs_labels=False,
    data_free=True,
    tolerance=1e-3,  # measured: experiments/cross_machine (max 3.0e-4 across kernels)
    layout="channels_last",  # measured: experiments/channels_last/layout.md
)
def tenas_lr(net: nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]], ctx: ProxyContext) -> float:
    if batches:
        images = batches[0][0]
        size, channels_last, device = images.shape[-1], is_channels_last(images), images.device
    else:
        p = next(iter(net.parameters()), None)
        size, channels_last = ctx.input_size, False
        device = p.device if p is not None else torch.device("cpu")
    side = max(LR_MIN_SIDE, size // LR_SIDE_DIVISOR)
    stats, points = segment_inputs(side, ctx.generator)
    stats, points = stats.to(device), points.to(device)
    if channels_last:
        stats = stats.contiguous(memory_format=torch.channels_last)
        points = points.contiguous(memory_format=torch.channels_last)
    net.train()
    return float(1 + segment_crossings(net, stats, points))
