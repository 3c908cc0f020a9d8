"""AZ-NAS's expressivity, progressivity and trainability proxies (Lee & Ham, "AZ-NAS: Assembling
Zero-Cost Proxies for Network Architecture Search", CVPR 2024, arXiv 2403.19232).

AZ-NAS ranks networks by four proxies computed on the outputs of the network's *primary blocks*
(NB201: the cells), at random initialisation, from one forward and one backward pass; the fourth,
complexity, is the network's FLOPs (registered as ``flops``; the reference's NB201 code reads it from
the benchmark's FLOPs column). The non-linear rank aggregation ``sum_m log(rank_m / N)`` is not here:
it is an ensemble of the scoring layer over ``az_expressivity``, ``az_progressivity``,
``az_trainability`` and ``flops``.

Notation: blocks l = 1..L (:func:`primary_blocks`); X^l, the output of block l, read as a matrix of
N H W rows (every sample and spatial position) and C_l columns (channels).

Expressivity (``az_expressivity``), the isotropy of each block's feature distribution:

    Sigma^l = 1/(NHW) (X^l - mu^l)^T (X^l - mu^l)       channel covariance (mu^l: per-channel mean)
    p^l_i   = lambda^l_i / sum_j lambda^l_j             lambda^l_i: the eigenvalues of Sigma^l
    s_E^l   = - sum_i p^l_i log p^l_i                   entropy of the normalised spectrum
    s_E     = sum_{l=1..L} s_E^l

s_E^l is log C_l for isotropic features and 0 for features on a line.

Progressivity (``az_progressivity``), the smallest gain of expressivity from one block to the next:

    s_P = min_{l=2..L} (s_E^l - s_E^{l-1})

Trainability (``az_trainability``), how far each block's Jacobian J^l = dX^l / dX^{l-1} is from an
isometry, through its spectral norm sigma^l:

    s_T^l = - sigma^l - 1 / sigma^l + 2                 (<= 0, 0 only at sigma^l = 1)
    s_T   = 1/(L-1) sum_{l=2..L} s_T^l

sigma^l is estimated from one vector-Jacobian product per block: with v a Rademacher (+-1) vector of
the block output's shape, g = J^T v (one backward pass through the block only), and at every output
position p (sample, row, column) the input gradient g_p in R^{C_in} and v_p in R^{C_out},

    M^l     = 1/(NHW) sum_p g_p v_p^T                   (C_in x C_out)
    sigma^l = || M^l ||_2                               (largest singular value)

Since E[v v^T] = I, M^l is a Monte-Carlo estimate of the average over positions of J_(p,p)^T, the
channel-to-channel block of the Jacobian at the same position (for a 1x1 conv of weight W, W^T;
exactly M = W^T (1/P sum_p v_p v_p^T)). Where a block halves the resolution, g is first rearranged
space-to-depth (``pixel_unshuffle`` by the ratio of the sides, C_in r^2 rows), so that input and
output positions match. Block 1's input is the image and it gets no trainability term. The estimate
is biased upwards by the noise of (1/P) sum_p v_p v_p^T, about a factor 1 + 2 sqrt(C_out / P) (P =
NHW): measured on NB201 cells of 4 x skip (sigma = 4) with 64 images, 4.1 in stage 1 (16 channels,
32 x 32) and 5.0 in stage 3 (64 channels, 8 x 8); the paper's estimator, kept as it is.

Primary blocks (:func:`primary_blocks`: what each space's network declares with its
``primary_blocks()`` method; forward hooks on these modules):

* the cell-based CIFAR network (``NB201Network.primary_blocks``): the stem (conv + BN), then every
  module of ``net.cells`` in order, the 15 cells *and* the 2 residual reduction blocks: L = 18, 17
  trainability terms, 17 differences. This is what the reference's NB201 code hooks (the stem's
  output, then the output of every module of ``cells``); the reductions are kept because they are
  blocks of the network like the cells and removing them would leave the Jacobian of a cell with
  respect to a non-adjacent feature map.
* NAS-Bench-Macro (:class:`~nasearch.space.nasbench_macro.MacroNetwork`): the stem, then every block
  of ``net.features`` (identity blocks included: their Jacobian is the identity or a 1x1 conv + BN).
* TransNAS-Bench-101 micro and macro (:class:`~nasearch.space.transnas101.TNBNetwork`): the encoder's
  stem, then every module of ``net.encoder.layers`` (each two cells or two basic blocks). On the
  ``jigsaw`` task the encoder runs once per tile: the 9 calls are pooled as extra samples (one
  covariance over all of them; one M over all their positions, a fresh v per call).

A network that declares none raises :class:`~nasearch.proxies.registry.ProxyError`. The heads (NB201's
``lastact``, Macro's 1x1 head, the classifiers) are not blocks.

Inputs: N(0, 1) noise images, as the reference feeds NB201 networks, of the shape of the first
minibatch handed over (the engine's default, 64 images of the task's input size, is the reference's
NB201 batch size), drawn from ``ctx.generator`` before anything else: the three proxies are
``data_free`` (no images, no labels; they run on TransNAS-Bench-101 without Taskonomy images).
Measured on the 1,000 cells of ``experiments/mpi_cifar10`` (version 1 of these proxies read the
CIFAR-10 images handed to them; CIFAR-10 test rho with CIFAR-10 images / with noise): expressivity
0.714 / 0.748, progressivity 0.121 / 0.671, trainability 0.358 / see ``experiments/frontier``: on real
images the stem's and early cells' features are dominated by the images' own correlations, and
progressivity's minimum gain collapses. Then: BN in train mode (batch statistics); every conv and
linear weight re-drawn from Kaiming-normal (fan-in, ReLU gain: N(0, 2 / fan_in)), biases 0, BN
affines 1 and 0, from ``ctx.generator`` (as the reference's scoring function does before scoring);
then one Rademacher v per block and call, drawn in block order from ``ctx.generator``. Statistics,
eigenvalues and singular values in float64. Each proxy is a separate call: expressivity and
progressivity run one forward pass (no gradients), trainability one forward pass and one backward
pass per block (in total one backward pass of the body; weights get no gradients).

Deviations: the paper's body could not be read here (only its abstract); the equations above are
the paper's as we know them and as its official code (cvlab-yonsei/AZ-NAS,
``NB201/ZeroShotProxy/compute_az_nas_score.py``) computes them, which settled the primary blocks of
NB201, the Rademacher vectors, the space-to-depth rearrangement and the initialisation. Departures
from that code: (1) the noise comes from ``ctx.generator`` (the reference: the global RNG); (2) a
network with an exact identity primary block (its input gradient has the shape of v and equals v bit
for bit, ``torch.equal``: e.g. an NB201 cell whose only path from input to output is a
``skip_connect`` on edge 0 -> 3, 341 cells) gets a trainability of NaN (never preferred) where the
reference gives -inf, and only on networks that declare that such a block is degenerate
(``identity_block_is_degenerate = True`` on the network class: NB201's, where an identity cell is a
cell whose design collapsed; not NAS-Bench-Macro's, where an identity block is a layer choice
present in most networks, nor TransNAS-Bench-101's, whose one network class serves the micro and the
macro space). The rule is the authors' code's, adopted (version 3) because the published figures are
computed with it; versions 1 and 2 scored such a block by the formula (sigma close to 1, a term
close to 0), which put these cells, which train poorly (median 86.6% CIFAR-10 accuracy against
91.1%), in our top 10%. Measured on the 1,000 cells of ``experiments/frontier`` (21 hit), Kendall
tau / Spearman rho of the ``az_nas`` ensemble on CIFAR-10 went from 0.687 / 0.858 to 0.724 / 0.901
(CIFAR-100 0.677 / 0.854 to 0.710 / 0.892, ImageNet16-120 0.676 / 0.847 to 0.708 / 0.885): with it,
and the disconnected cells counted as the paper counts them, our proxies reproduce the published
aggregate within 0.01 tau (``experiments/frontier/README.md``). Every other network scores exactly
as in version 2; (3) a spectrum is
clamped at 0 (tiny negative eigenvalues of a rank-deficient covariance) and 0 log 0 = 0, where the
reference takes log(p + 1e-8); 1 / sigma without the reference's + 1e-6 (a block whose output does
not depend on its input, sigma = 0, makes the score -inf, hence NaN: never preferred); a block whose
features are constant (zero covariance) makes expressivity and progressivity NaN, as in the
reference (-inf); (4) the random vectors come from ``ctx.generator`` in block order (the reference:
the global RNG, last block first); (5) the stems of NAS-Bench-Macro and TransNAS-Bench-101 are
primary blocks by analogy with NB201 (the paper's other search spaces are not these).

Cross-machine tolerance (``ProxySpec.tolerance``, relative), measured in ``experiments/cross_machine``: 50 cells, the default kernels against ``ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41``:
expressivity max 9.0e-8 (median 1.5e-8), progressivity 7.9e-6 (7.5e-8), trainability 1.1e-4
(2.8e-6) (version 2, noise inputs). Layout: the engine runs all three in ``channels_last``
(``experiments/channels_last``: 0.64x / 0.65x / 0.87x the contiguous time, scores within 9.7e-7 /
2.2e-5 / 4.2e-4 relative); remeasured in that layout, the cross-machine maxima are 8.2e-8, 4.8e-6 and
2.1e-4 (the contiguous rows: ``experiments/cross_machine/raw_contiguous_layout``). The layouts differ more than the kernels do, so the tolerances are 10x the largest
relative difference between the contiguous and ``channels_last`` layouts measured on 12 NB201 cells (64 CIFAR-10 images, one thread): expressivity 1.7e-6 (the
feature maps themselves differ by up to 1e-5 of their range between the layouts' kernels: BN at
initialisation amplifies round-off with depth), progressivity 1.5e-5 (a difference of two such
entropies, relative to a smaller number), trainability 4.9e-4 (a ReLU whose input is within
round-off of 0 flips, which moves M by a step of order 1/(NHW), not by a rounding).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from nasearch.proxies.registry import ProxyContext, ProxyError, register_proxy
from nasearch.proxies.utils import finite_or_nan, first_batch

PAPER = "Lee & Ham, AZ-NAS: Assembling Zero-Cost Proxies for Network Architecture Search, CVPR 2024"


VERSION = "2"
"""2: N(0, 1) noise inputs drawn from ``ctx.generator`` (1 read the images handed over)."""

TRAINABILITY_VERSION = "3"
"""``az_trainability`` only. 3: NaN for a network with an exact identity primary block where the
network declares such a block degenerate (deviation (2) of the module docstring); every other
network scores as in 2. 2: as :data:`VERSION`."""

IDENTITY_DEGENERATE = "identity_block_is_degenerate"
"""The network attribute (read with ``getattr(net, ..., False)``) by which a space's network declares
that a primary block that is an exact identity is a collapsed design: ``az_trainability`` is then NaN."""


def noise_images(batches: Sequence[tuple[torch.Tensor, torch.Tensor]], ctx: ProxyContext) -> torch.Tensor:
    """N(0, 1) images of the first minibatch's shape, layout and device, from ``ctx.generator``
    (the batch's values are never read)."""
    images, _ = first_batch(batches)
    x = torch.randn(tuple(images.shape), generator=ctx.generator, dtype=torch.float32)
    if images.dim() == 4 and not images.is_contiguous() and images.is_contiguous(memory_format=torch.channels_last):
        x = x.contiguous(memory_format=torch.channels_last)  # the layout the engine hands the proxy
    return x.to(images.device)


# ---------------------------------------------------------------------------------------------- blocks
def primary_blocks(net: nn.Module) -> list[nn.Module]:
    """The primary blocks of ``net`` in forward order, as its space's network declares them
    (``net.primary_blocks()``: the stem, then the body's blocks). Raises :class:`ProxyError` for a
    network that declares none."""
    declared = getattr(net, "primary_blocks", None)
    if not callable(declared):
        raise ProxyError(
            f"AZ-NAS proxies read the outputs of a network's primary blocks, and a "
            f"{type(net).__module__}.{type(net).__qualname__} declares none: give the network class a "
            "primary_blocks() method returning its stem and body blocks in forward order"
        )
    return list(declared())


def kaiming_fan_in_init_(net: nn.Module, generator: torch.Generator) -> None:
    """Every conv/linear weight re-drawn from N(0, 2 / fan_in) (fan_in = weight[0].numel()), biases 0,
    BN/GroupNorm affines 1 and 0; drawn on the CPU from ``generator`` in module order and copied in
    place (any device, any memory format)."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                w = m.weight
                std = math.sqrt(2.0 / w[0].numel())
                w.copy_(torch.randn(w.shape, generator=generator, dtype=torch.float32).mul_(std))
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.affine:
                m.weight.fill_(1.0)
                m.bias.fill_(0.0)


# ---------------------------------------------------------------------------------------------- expressivity
def _rows(x: torch.Tensor) -> torch.Tensor:
    """N x C x H x W (any memory layout) -> (N H W) x C float64 rows: one row per sample and position."""
    if x.dim() == 2:
        return x.detach().double()
    if x.dim() != 4:
        raise ProxyError(f"AZ-NAS expects block outputs N x C x H x W, got shape {tuple(x.shape)}")
    return x.detach().permute(0, 2, 3, 1).reshape(-1, x.shape[1]).double()


class _Moments:
    """Count, mean and centred scatter matrix of rows, merged over calls (Chan et al.'s update)."""

    def __init__(self) -> None:
        self.n = 0
        self.mean: torch.Tensor | None = None
        self.scatter: torch.Tensor | None = None

    def add(self, rows: torch.Tensor) -> None:
        n_b = rows.shape[0]
        mean_b = rows.mean(0)
        centred = rows - mean_b
        scatter_b = centred.t() @ centred
        if self.mean is None or self.scatter is None:
            self.n, self.mean, self.scatter = n_b, mean_b, scatter_b
            return
        n_a = self.n
        delta = mean_b - self.mean
        total = n_a + n_b
        self.scatter = self.scatter + scatter_b + torch.outer(delta, delta) * (n_a * n_b / total)
        self.mean = self.mean + delta * (n_b / total)
        self.n = total

    def covariance(self) -> torch.Tensor:
        assert self.scatter is not None
        return self.scatter / self.n


def spectrum_entropy(cov: torch.Tensor) -> float:
    """s_E of one block from its channel covariance: the entropy (natural log) of the eigenvalues
    normalised to sum to 1 (negative round-off clamped to 0, 0 log 0 = 0). NaN if all are 0."""
    eig = torch.linalg.eigvalsh(cov.double()).clamp_min(0.0)
    total = eig.sum()
    if not total > 0:
        return float("nan")
    p = eig / total
    p = p[p > 0]
    return float(-(p * p.log()).sum())


def feature_entropy(features: torch.Tensor) -> float:
    """s_E^l of one feature tensor (N x C x H x W, or N x C): the covariance over every sample and
    position, then :func:`spectrum_entropy`."""
    m = _Moments()
    m.add(_rows(features))
    return spectrum_entropy(m.covariance())


def _run_blocks(net: nn.Module, images: torch.Tensor, blocks: Sequence[nn.Module],
                on_output: Callable[[int, tuple, torch.Tensor], None],
                pre: Callable[[int, tuple], tuple | None] | None = None) -> None:
    """One forward pass of ``net`` with hooks on ``blocks``: ``on_output(index, inputs, output)`` after
    each block, ``pre(index, inputs)`` before it (may replace its inputs); the hooks are removed
    afterwards."""
    handles = []
    try:
        for i, block in enumerate(blocks):
            handles.append(block.register_forward_hook(lambda mod, inp, out, i=i: on_output(i, inp, out)))
            if pre is not None:
                handles.append(block.register_forward_pre_hook(lambda mod, inp, i=i: pre(i, inp)))
        net(images)
    finally:
        for h in handles:
            h.remove()


def block_entropies(net: nn.Module, images: torch.Tensor, generator: torch.Generator) -> list[float]:
    """s_E^l for every primary block of ``net`` (re-initialised from ``generator``), one forward pass."""
    blocks = primary_blocks(net)
    kaiming_fan_in_init_(net, generator)
    moments = [_Moments() for _ in blocks]

    def record(i: int, inputs: tuple, out: torch.Tensor) -> None:
        moments[i].add(_rows(out))  # at once: a later in-place op cannot change what is measured

    with torch.no_grad():
        _run_blocks(net, images, blocks, record)
    if any(m.n == 0 for m in moments):
        raise ProxyError(f"a primary block of {type(net).__name__} did not run in the forward pass")
    return [spectrum_entropy(m.covariance()) for m in moments]


def progressivity_from(entropies: Sequence[float]) -> float:
    """s_P = min over l >= 2 of (s_E^l - s_E^{l-1})."""
    if len(entropies) < 2:
        raise ProxyError("progressivity needs at least two primary blocks")
    if any(math.isnan(e) for e in entropies):
        return float("nan")
    return min(b - a for a, b in zip(entropies[:-1], entropies[1:]))


# ---------------------------------------------------------------------------------------------- trainability
def _rademacher(shape: torch.Size, generator: torch.Generator) -> torch.Tensor:
    return torch.randint(0, 2, tuple(shape), generator=generator).to(torch.float32).mul_(2.0).sub_(1.0)


def jacobian_moment(g_in: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, int]:
    """``(sum_p g_p v_p^T, P)`` of one vector-Jacobian product: ``v`` the vector at the block's output
    (N x C_out x H x W), ``g_in`` = J^T v at its input (N x C_in x H' x W'); where H' > H the input
    gradient is zero-padded to a multiple r of the output side and rearranged space-to-depth
    (``pixel_unshuffle(r)``, C_in r^2 rows). float64, (C_in r^2) x C_out."""
    if g_in.dim() == 2 and v.dim() == 2:
        return g_in.double().t() @ v.double(), v.shape[0]
    h, w = v.shape[-2:]
    hi, wi = g_in.shape[-2:]
    if (hi, wi) != (h, w):
        r = max(-(-hi // h), -(-wi // w))
        if hi < h or wi < w or r < 2:
            raise ProxyError(f"AZ-NAS trainability: a block maps {hi}x{wi} to {h}x{w}; only equal or smaller "
                             f"output sides are supported")
        g_in = F.pad(g_in, (0, r * w - wi, 0, r * h - hi))
        g_in = F.pixel_unshuffle(g_in, r)
    g = _rows(g_in)
    vv = _rows(v)
    return g.t() @ vv, vv.shape[0]


def spectral_norm_estimate(moment: torch.Tensor, count: int) -> float:
    """sigma = largest singular value of M = moment / count."""
    return float(torch.linalg.matrix_norm(moment / count, ord=2))


def is_identity_block(g_in: torch.Tensor, v: torch.Tensor) -> bool:
    """Whether a block is an exact identity for this vector-Jacobian product: its input gradient has
    the shape of ``v`` and equals it bit for bit (the authors' test; memory layout ignored)."""
    return g_in.shape == v.shape and torch.equal(g_in, v.to(dtype=g_in.dtype, device=g_in.device))


def trainability_from(sigmas: Sequence[float]) -> float:
    """s_T = mean over blocks of (-sigma - 1/sigma + 2); -inf where a sigma is 0; NaN where a sigma is
    NaN (an exact identity block of a network that declares it degenerate: :func:`block_sigmas`)."""
    if not sigmas:
        raise ProxyError("trainability needs at least two primary blocks")
    if any(math.isnan(s) for s in sigmas):
        return math.nan
    terms = [-s - 1.0 / s + 2.0 if s > 0 else -math.inf for s in sigmas]
    return sum(terms) / len(terms)


def block_sigmas(net: nn.Module, images: torch.Tensor, generator: torch.Generator) -> list[float]:
    """sigma^l for every primary block but the first (see the module docstring): one forward pass in
    which each block's input is cut from the graph (a leaf that requires grad), one backward pass per
    block and call from a Rademacher vector at its output, drawn in block order from ``generator``
    (after the re-initialisation). Where ``net`` declares an identity primary block degenerate
    (:data:`IDENTITY_DEGENERATE`), a block that is an exact identity (:func:`is_identity_block`, in
    any call) gets sigma NaN, and the blocks after it are not differentiated (every vector is drawn
    first, so nothing else changes)."""
    blocks = primary_blocks(net)
    identity_is_degenerate = bool(getattr(net, IDENTITY_DEGENERATE, False))
    kaiming_fan_in_init_(net, generator)
    pairs: list[list[tuple[torch.Tensor, torch.Tensor]]] = [[] for _ in blocks]

    def cut(i: int, inputs: tuple) -> tuple | None:
        if i == 0:
            return None
        return (inputs[0].detach().requires_grad_(True), *inputs[1:])

    def record(i: int, inputs: tuple, out: torch.Tensor) -> None:
        if i > 0:
            pairs[i].append((inputs[0], out))

    params = [p for p in net.parameters() if p.requires_grad]
    try:
        for p in params:  # no weight gradients: only the blocks' input gradients are needed
            p.requires_grad_(False)
        with torch.enable_grad():
            _run_blocks(net, images, blocks, record, pre=cut)
            vectors = [[_rademacher(y.shape, generator) for _, y in calls] for calls in pairs]
            sigmas = []
            for i in range(1, len(blocks)):
                if not pairs[i]:
                    raise ProxyError(f"a primary block of {type(net).__name__} did not run in the forward pass")
                total: torch.Tensor | None = None
                count = 0
                identity = False
                for (x, y), v in zip(pairs[i], vectors[i]):
                    v = v.to(device=y.device, dtype=y.dtype)
                    (g,) = torch.autograd.grad(y, x, v, allow_unused=True)
                    if g is None:  # the output does not depend on the input
                        g = torch.zeros_like(x)
                    if identity_is_degenerate and is_identity_block(g, v):
                        identity = True
                        break
                    moment, n = jacobian_moment(g, v)
                    total = moment if total is None else total + moment
                    count += n
                pairs[i] = []  # drop the block's tensors
                if identity:
                    sigmas.append(math.nan)
                    break
                assert total is not None
                sigmas.append(spectral_norm_estimate(total, count))
    finally:
        for p in params:
            p.requires_grad_(True)
    return sigmas


# ---------------------------------------------------------------------------------------------- proxies
@register_proxy(
    "az_expressivity",
    paper=PAPER,
    layout="channels_last",  # measured: experiments/channels_last/layout.md
    data_free=True,
    version=VERSION,
    work="forward",
    higher_is_better=True,
    tolerance=2e-5,  # 10x the largest layout difference (module docstring); cross-machine max below it
)
def az_expressivity(net: nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]], ctx: ProxyContext) -> float:
    images = noise_images(batches, ctx)
    return finite_or_nan(sum(block_entropies(net, images, ctx.generator)))


@register_proxy(
    "az_progressivity",
    paper=PAPER,
    layout="channels_last",  # measured: experiments/channels_last/layout.md
    data_free=True,
    version=VERSION,
    work="forward",
    higher_is_better=True,
    tolerance=2e-4,  # 10x the largest layout difference (module docstring); cross-machine max below it
)
def az_progressivity(net: nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]], ctx: ProxyContext) -> float:
    images = noise_images(batches, ctx)
    return finite_or_nan(progressivity_from(block_entropies(net, images, ctx.generator)))


@register_proxy(
    "az_trainability",
    paper=PAPER,
    layout="channels_last",  # measured: experiments/channels_last/layout.md
    data_free=True,
    version=TRAINABILITY_VERSION,
    work="fwd_bwd",
    nan_on=IDENTITY_DEGENERATE,  # NaN on an exact identity cell of such a network: block_sigmas
    higher_is_better=True,
    tolerance=5e-3,  # 10x the largest layout difference (module docstring); cross-machine max below it
)
def az_trainability(net: nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]], ctx: ProxyContext) -> float:
    images = noise_images(batches, ctx)
    return finite_or_nan(trainability_from(block_sigmas(net, images, ctx.generator)))
