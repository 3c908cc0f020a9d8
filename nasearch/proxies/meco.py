"""MeCo and MeCo_opt (Jiang, Wang & Bie, "MeCo: Zero-Shot NAS with One Data and Single Forward Pass via
Minimum Eigenvalue of Correlation", NeurIPS 2023; code: HamsterMimi/MeCo).

For one input X, the i-th layer's feature map f_i(X) (c channels of h x w) is read as c rows of h*w
values; P(f_i(X)) is the c x c Pearson correlation matrix of those rows, and

    MeCo(X)     = sum over layers i of  lambda_min( P(f_i(X)) )
    MeCo_opt(X) = sum over layers i of  (c_i / n) * lambda_min( P(f_i(X)[S_i]) )

with S_i a uniformly random subset of n = 8 of the layer's c_i channels (drawn without replacement,
per layer, per call; all channels and factor c_i / c_i = 1 where c_i <= n). MeCo_opt is the paper's
optimised variant: a rescaled 8 x 8 eigenvalue stands in for the c x c one, cheaper for wide layers and
less biased against them (lambda_min of P shrinks as c grows; the authors report it on
NATS-Bench-SSS, whose layers differ in width). Higher is better. The paper's
full text was not in the stored corpora this module was written from: the two definitions, n = 8 and
the c/n rescaling follow its abstract and the authors' code (``correlation/NAS_Bench_201.py``), and
the equation numbers are not given here for that reason.

Properties used by the tests: P is a correlation matrix (symmetric, PSD, unit diagonal, trace c), so
0 <= lambda_min(P) <= 1, with lambda_min < 1 unless P = I; a principal submatrix's lambda_min is at
least the whole matrix's (Cauchy interlacing), so each MeCo_opt term is >= (c/n) times MeCo's.

The input. The paper's proxy needs "one random data" and is "fully independent of the data and
labels": the authors' MeCo measure feeds one standard-normal image (``torch.randn(1, 3, 64, 64)``),
ignoring the dataset's. Both proxies here are registered ``data_free``: they read only the shape of
the batches handed to them (the image side; the engine's batch size plays no part) and draw ONE image
X ~ N(0, 1) of shape 1 x 3 x H x W (H x W: the task's input size, 32 for NB201 and NAS-Bench-Macro,
256 for TransNAS-Bench-101) from ``ctx.generator``, then run ONE forward pass of that batch of one
image, no gradients, in train mode (BatchNorm normalises with the statistics of that one image, over
its positions, as in the paper's single-sample pass). The "first sample of the batch" is that image.

Layers. The authors' code registers a forward hook on every module of the network (``named_modules``)
and scores each hooked output's first sample. Here: every module of the network whose output is a 4-d
tensor N x c x h x w (conv, BN, ReLU, pooling, ``none``/Zero, cells, blocks, containers), each distinct
feature map counted once: a module whose output is the very tensor, unmodified, that a module already
output or received as input is not counted (an ``nn.Sequential`` returns its last child's output,
``nn.Identity``/skip returns its input; so a cell's inner node, a sum computed in ``forward`` outside
any module, is not counted, while the cell's output, the cell module's, is); an in-place op (NAS-Bench-Macro's ``ReLU(inplace=True)``)
changes the tensor, so its output is a new feature map and is counted. Outputs that are not 4-d (the
classifier's logits, a flattened vector) are not feature maps and are skipped (in the authors' code
they contribute 0); the global-pooling output (1 x 1: every channel constant) contributes 0 by the
rule below. This is generic over the four spaces (no attribute names).

Numerics: the network and X are cast to float64 before the pass (the float32 weights and the float32
draw of X exactly; see Deviations), P and lambda_min are computed in float64 (``torch.linalg.eigvalsh``
of the symmetric P; the authors use ``torch.linalg.eig`` in float32 and keep the real part), and
lambda_min is clamped at 0 (P is PSD; a computed -1e-17 is round-off). A layer with c >= h*w has
rank(P) <= h*w - 1 < c (the rows are centred), so lambda_min is exactly 0: it contributes 0 without an
eigensolver, rather than a round-off value near 0. This is the definition, not a shortcut: NB201's
last stage (64 channels at 8 x 8) and NAS-Bench-Macro's 1280-channel head at 4 x 4 add nothing to MeCo
(MeCo_opt's 8-channel samples of them do add).

Deviations:
* Constant channels (zero variance: a ``none`` op's zeros, a conv fed only by ``none`` edges, every
  channel of a 1 x 1 map) make P undefined (0/0). The authors' code sets the NaN entries of P to 0,
  the constant channel's diagonal included, so P gets a zero row and column, eigenvalue 0, and the
  layer contributes exactly 0; we give such a layer 0 directly (the same value). We call a channel
  constant when its standard deviation is at most 1e-5 times its mean's magnitude (0 for an all-zero
  channel), so that a channel that is constant up to round-off (an average of equal values) also
  counts as constant, instead of feeding round-off noise into P.
* Each distinct feature map once (above); the authors' code counts a tensor once per module that
  returns it (a BN inside an ``nn.Sequential`` twice, a skip edge's input again), which depends on
  how the network's code nests modules.
* The input image has the task's input size (NB201: 32 x 32); the authors' data-free measure draws
  64 x 64 noise for NB201's 32 x 32 networks. Their correlation script for NATS-Bench instead passes
  one real training image (batch size 1); the paper's claim of full independence of the data, and
  TransNAS-Bench-101 (no images here), decided for noise.
* The forward pass runs in float64, not float32. Measured on the contract's NB201 cells: a
  float32 pass in ``channels_last`` and one in contiguous layout give feature maps that drift apart
  through the network (relative difference 1e-7 after the stem, 7e-5 in the last stage: BN with one
  image's statistics and the cells' sums amplify round-off), so MeCo_opt, whose 8 x 8 terms are
  scaled by up to 64/8 there, differed by 2e-6 relative between layouts (MeCo 1e-7). In float64 the
  two layouts agree to 1e-15, and the float64 score is within 2e-6 (relative) of the float32 one on
  the 8 cells checked (2 per space): the same proxy, without the round-off. Cost: the pass is 1-2.5x
  slower (TransNAS-Bench-101 networks at 256 x 256), the eigenvalues were float64 anyway.
* NaN/inf in a feature map makes the score NaN (the scorer's NaN policy); the authors drop NaN
  layer terms.
* MeCo_opt: the channel subset comes from ``ctx.generator`` (``torch.randperm``), drawn for every
  counted feature map with c > n in forward order, after X; the authors use Python's global
  ``random.sample``, which also fails for c < 8 (we use every channel there).

Cost: one forward pass of one image plus one float64 eigendecomposition per counted feature map
(c x c for MeCo, 8 x 8 for MeCo_opt).

Cross-machine tolerance (``ProxySpec.tolerance``, relative), measured in ``experiments/cross_machine``: 50 cells, the default kernels against ``ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41``:
MeCo max 9.0e-8 (median 1.8e-8), MeCo_opt max 9.8e-7 (median 4.0e-8; its 8 x 8 terms are scaled by
c/8, up to 8x in NB201's last stage); tolerances 1e-6 and 2e-6 (about 10x and 2x the worst).
"""

from __future__ import annotations

import weakref

import torch
from torch import nn

from nasearch.proxies.registry import ProxyContext, register_proxy
from nasearch.proxies.utils import finite_or_nan, is_channels_last

SAMPLED_CHANNELS = 8
"""MeCo_opt's n: channels sampled per layer (the authors' code)."""

CONSTANT_RTOL = 1e-5
"""A channel is constant when its standard deviation is at most this times |its mean|."""

PAPER = ("Jiang, Wang & Bie, MeCo: Zero-Shot NAS with One Data and Single Forward Pass via Minimum "
         "Eigenvalue of Correlation, NeurIPS 2023")


def _moments(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Float64 centred rows, row means and (population) row variances of ``rows`` (c x m)."""
    x = rows.double()
    mean = x.mean(dim=1)
    centred = x - mean[:, None]
    return centred, mean, centred.pow(2).mean(dim=1)


def _constant(mean: torch.Tensor, variance: torch.Tensor) -> torch.Tensor:
    return variance.sqrt() <= CONSTANT_RTOL * mean.abs()


def _correlation(centred: torch.Tensor, variance: torch.Tensor) -> torch.Tensor:
    gram = centred @ centred.transpose(0, 1) / centred.shape[1]
    scale = variance.sqrt()
    p = gram / (scale[:, None] * scale[None, :])
    p.fill_diagonal_(1.0)
    return p


def pearson_matrix(rows: torch.Tensor) -> torch.Tensor:
    """The Pearson correlation matrix (float64, c x c) of the c rows of ``rows`` (c x m), diagonal
    exactly 1. Rows must not be constant (their correlations are 0/0)."""
    centred, _, variance = _moments(rows)
    return _correlation(centred, variance)


def constant_rows(rows: torch.Tensor) -> torch.Tensor:
    """Boolean mask of the constant rows of ``rows`` (c x m): std <= ``CONSTANT_RTOL`` * |mean|."""
    _, mean, variance = _moments(rows)
    return _constant(mean, variance)


def min_eigenvalue(rows: torch.Tensor) -> torch.Tensor:
    """lambda_min of the Pearson correlation matrix of the rows of ``rows`` (c x m), float64 scalar
    tensor: 0 if c >= m or a row is constant (P singular), else ``eigvalsh`` of P, clamped at 0."""
    c, m = rows.shape
    zero = torch.zeros((), dtype=torch.float64, device=rows.device)
    if c >= m:
        return zero
    centred, mean, variance = _moments(rows)
    if bool(_constant(mean, variance).any()):
        return zero
    if c == 1:
        return zero + 1.0
    return torch.linalg.eigvalsh(_correlation(centred, variance))[0].clamp(min=0.0)


def feature_maps(net: nn.Module, x: torch.Tensor, visit) -> None:
    """Run ``net(x)`` without gradients and call ``visit(fmap)`` with the first sample (c x h x w) of
    every distinct 4-d module output, in the order the modules finish (see the module docstring)."""
    seen: dict[int, tuple[weakref.ref, int]] = {}

    def already_seen(t: torch.Tensor) -> bool:
        entry = seen.get(id(t))
        return entry is not None and entry[0]() is t and entry[1] == t._version

    def mark(t: torch.Tensor) -> None:
        seen[id(t)] = (weakref.ref(t), t._version)

    def pre_hook(module, inputs):
        # remember every module input (another module's output, the image, a sum computed in a
        # forward), so that a module handing its input on unchanged (Identity) is not counted
        for t in inputs:
            if isinstance(t, torch.Tensor) and not already_seen(t):
                mark(t)

    def hook(module, inputs, out):
        if not isinstance(out, torch.Tensor) or out.dim() != 4 or already_seen(out):
            return
        mark(out)
        visit(out[0])

    handles = []
    try:
        for m in net.modules():
            handles.append(m.register_forward_pre_hook(pre_hook))
            handles.append(m.register_forward_hook(hook))
        with torch.no_grad():
            net(x)
    finally:
        for h in handles:
            h.remove()


def one_gaussian_image(batches: list[tuple[torch.Tensor, torch.Tensor]], ctx: ProxyContext,
                       device: torch.device) -> torch.Tensor:
    """X ~ N(0, 1), 1 x 3 x H x W (the side of the batches' images, else ``ctx.input_size``), drawn in
    float32 on the CPU from ``ctx.generator``, cast to float64, laid out like the batches' images."""
    if batches:
        images = batches[0][0]
        h, w = images.shape[-2:]
        channels_last = is_channels_last(images)
    else:
        h = w = ctx.input_size
        channels_last = False
    x = torch.randn(1, 3, h, w, generator=ctx.generator).to(device=device, dtype=torch.float64)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def meco_score(net: nn.Module, x: torch.Tensor, generator: torch.Generator | None = None,
               sampled: int | None = None) -> float:
    """MeCo of ``net`` on the single image ``x`` (1 x 3 x H x W), computed in the dtype of ``net`` and
    ``x``; with ``sampled = n``, MeCo_opt: n channels per layer drawn from ``generator``, each term
    scaled by c / n."""
    terms: list[torch.Tensor] = []

    def visit(fmap: torch.Tensor) -> None:
        c = fmap.shape[0]
        rows = fmap.reshape(c, -1)
        if sampled is not None and c > sampled:
            pick = torch.randperm(c, generator=generator)[:sampled].to(rows.device)
            terms.append(min_eigenvalue(rows.index_select(0, pick)) * (c / sampled))
        else:
            terms.append(min_eigenvalue(rows))

    net.train()
    feature_maps(net, x, visit)
    if not terms:
        return float("nan")
    return finite_or_nan(torch.stack(terms).sum().item())


def _in_float64(net: nn.Module) -> tuple[nn.Module, torch.device]:
    """``net`` cast to float64 (its float32 weights exactly), and its device."""
    p = next(iter(net.parameters()), None)
    return net.double(), (p.device if p is not None else torch.device("cpu"))


@register_proxy(
    "meco",
    paper=PAPER,
    work="forward",
    higher_is_better=True,
    data_free=True,
    bn=True,
    tolerance=1e-6,  # cross-machine, relative (experiments/cross_machine)
)
def meco(net: torch.nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]], ctx: ProxyContext) -> float:
    net, device = _in_float64(net)
    return meco_score(net, one_gaussian_image(batches, ctx, device))


@register_proxy(
    "meco_opt",
    paper=PAPER,
    work="forward",
    higher_is_better=True,
    data_free=True,
    bn=True,
    tolerance=2e-6,  # cross-machine, relative (experiments/cross_machine)
)
def meco_opt(net: torch.nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]], ctx: ProxyContext) -> float:
    net, device = _in_float64(net)
    x = one_gaussian_image(batches, ctx, device)
    return meco_score(net, x, generator=ctx.generator, sampled=SAMPLED_CHANNELS)
