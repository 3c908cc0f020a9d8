"""SWAP and reg-SWAP (Peng, Song, Fayek, Ciesielski & Chang, "SWAP-NAS: Sample-Wise Activation Patterns
for Ultra-fast NAS", ICLR 2024 spotlight, arXiv:2403.04161).

Definitions (the paper's Secs. 3.2-3.3; Def. 3.2-3.5 and Eq. 4-6 as a secondary summary numbers them,
see Deviations). Feed a batch of S samples x_1..x_S through the network N (parameters theta). Every
post-ReLU unit v (one element, channel x position, of a ReLU's feature map) has a *sample-wise
activation pattern*, the binary vector over the samples

    p_v = ( 1[z_v(x_1) > 0], ..., 1[z_v(x_S) > 0] ) in {0, 1}^S          (Def. 3.2)

(z_v: the unit's pre-activation). The patterns of all V units of the network form a SET (a pattern
shared by several units counts once), and the SWAP-Score is its cardinality

    Psi_{N,theta} = | { p_v : v = 1..V } |                               (Def. 3.3, Eq. 4)

so 1 <= Psi <= min(V, 2^S). The regularised score multiplies it by a Gaussian-shaped function of the
parameter count Theta:

    f(Theta) = exp( -(Theta - mu)^2 / sigma )                           (Eq. 5)
    Psi'     = Psi * f(Theta)                                           (Eq. 6)

Registered as ``swap`` (Psi) and ``reg_swap`` (Psi'); higher is better; labels unused; real images
(not data-free); one forward pass, train mode (BN with batch statistics), no gradients.

Which units: every element of the output of every ``nn.ReLU`` module whose input is 4-d (a conv
feature map), over the whole network: one set, the union of all layers' patterns (not a sum of
per-layer counts), as in the authors' code (pym1024/SWAP, ``src/metrics/swap.py``: forward hooks on
``nn.ReLU`` with 4-d input, the outputs concatenated along the unit axis, ``torch.unique`` over the
rows of the transposed sign matrix). In NB201 these are the ReLU that opens every ReLU-Conv-BN op
(cell convs and the two convs of each reduction block) and the final ``lastact`` ReLU; a node that
feeds several conv edges is seen by several ReLUs, which add the same patterns (counted once by the
set). NAS-Bench-Macro: the stem, expansion, depthwise and final ReLUs (in-place ReLUs are read in the
hook, before anything else touches the tensor); TransNAS-Bench-101: every ReLU of its ReLU-Conv-BN
ops, factorized reductions and basic blocks. ReLUs on 2-d inputs (none in these spaces), ``ReLU6``
and functional ``relu`` calls are not hooked.

Bits: a unit's bit for sample s is ``ReLU output > 0``, which equals ``pre-activation > 0`` (and the
reference's ``torch.sign(output)``, 0 or 1 on a ReLU's output); an exact 0 and a NaN give 0. Counting
(exact, no float in it): the S bits of each unit are packed into ceil(S / 64) int64 words (sample s:
bit s % 64 of word s // 64; bit 63 is the sign bit, which changes no equality). For S <= 20 each
layer's codes are marked, as it runs, in a table of 2^S flags and the score is the number of flags
set (O(units)); for larger S each layer's codes are reduced with ``torch.unique`` as it runs and the
score is the number of distinct rows of their concatenation. Loops run over samples and layers,
never over units.

Defaults.
* S = :data:`SAMPLES` = 16 images: the first 16 of the first minibatch (the engine hands 64: the
  others are not used); only those 16 are forwarded, so BN's batch statistics are theirs, as in the
  authors' code, which forwards a batch of ``--input_samples`` (default 16) images. A smaller batch
  is used whole (S = its size). Patterns live in {0, 1}^16, so Psi <= 65536, a bound NB201's largest
  cells come close to (all nor_conv_3x3 on 16 CIFAR-10 images, seed 0: 64,939): S sets how far
  SWAP can tell large networks apart.
* Theta = the number of parameters of the network in millions (every parameter: convs, BN affines,
  classifier; NB201's ``params_m``), mu = :data:`MU` = 1.5, sigma = :data:`SIGMA` = 1.5 (in millions).
  This centres f on NB201's largest networks (1.54 M parameters on CIFAR-10) and makes it a mild,
  increasing weight over NB201 (f = 0.26 at the smallest cells, 0.07 M; 0.42 at the median, 0.35 M;
  1 at 1.5 M). It is the default on every space; on TransNAS-Bench-101 (about 8-25 M parameters) it
  is 1e-12 or far less (0.0 above 34.9 M), so pass space-specific values there:
  ``proxy=reg_swap:MU,SIGMA`` (e.g. ``reg_swap:15,50``; both in millions, sigma > 0), a separate
  proxy version in the score store.

Deviations:
* The paper text reachable from this project's stored copies was its abstract only; the definitions
  above follow the abstract, the authors' code and a secondary summary of Secs. 3.2-3.3, and mu and
  sigma are OUR choice (above), not values read in the paper (the authors' code takes mu and sigma as
  arguments with no default and counts Theta in thousands; we count in millions so that the defaults
  read naturally). Check them against the paper's Secs. 3.3 / 4.1 and bump ``version`` if they differ.
* S = 16 is the authors' released default, not a value read in the paper.
* One forward pass at the engine's seeded initialisation (as every proxy here), not the reference
  script's re-initialisation of every conv/linear weight from N(0, 1) (BN weight 1, bias 0) averaged
  over 32 repeats. Under train-mode BN the sign of a conv output does not depend on its weights'
  scale, so the change of distribution matters less than the missing average.
* Only the first minibatch is used.
* Distinct patterns are counted on packed integer codes instead of ``torch.unique(dim=0)`` on float
  rows: the same set, exactly.

Cross-machine tolerance (``ProxySpec.tolerance``, relative), measured in ``experiments/cross_machine``: 50 cells, the default kernels against ``ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41``:
swap and reg_swap max 2.3e-5 (one cell of 50 moved, the others exactly equal: one pattern of about
44,000); tolerance 1e-4, room for a few flipped patterns. (The score is an integer count;
another kernel set can change it only where a pre-activation within rounding of 0 flips sign AND
that creates or removes a pattern no other unit has.)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable

import torch
from torch import nn

from nasearch.proxies.registry import ProxyContext, ProxyError, ProxySpec, register_parametric, register_proxy
from nasearch.proxies.utils import finite_or_nan, first_batch
from nasearch.space.networks import count_parameters

PAPER = "Peng et al., SWAP-NAS: Sample-Wise Activation Patterns for Ultra-fast NAS, ICLR 2024"

SAMPLES = 16
"""S: images whose patterns are counted (the first S of the first minibatch)."""

MU = 1.5
"""reg_swap's default mu, in millions of parameters (module docstring: our choice)."""

SIGMA = 1.5
"""reg_swap's default sigma, in millions of parameters (squared units over millions: Eq. 5 as printed)."""

VERSION = "1"

_WORD = 64


def pack_patterns(bits: torch.Tensor) -> torch.Tensor:
    """The sample-wise patterns of ``bits`` (bool, shape (S, U): sample x unit) as integer codes:
    shape (U,) int64 for S <= 64, else (U, ceil(S / 64)); sample s is bit s % 64 of word s // 64.
    Two units get the same code exactly when their patterns are equal."""
    if bits.dim() != 2:
        raise ValueError(f"pack_patterns: bits must be 2-d (samples, units), got shape {tuple(bits.shape)}")
    s, u = bits.shape
    words = max(1, -(-s // _WORD))
    codes = torch.zeros(words, u, dtype=torch.int64, device=bits.device)
    for i in range(s):  # a loop over samples (<= a few dozen), each step vectorised over the units
        codes[i // _WORD].bitwise_or_(bits[i].to(torch.int64) << (i % _WORD))
    return codes[0] if words == 1 else codes.t().contiguous()


def _unique(codes: torch.Tensor) -> torch.Tensor:
    return torch.unique(codes) if codes.dim() == 1 else torch.unique(codes, dim=0)


_TABLE_BITS = 20
"""Up to this many samples, distinct codes are marked in a table of 2^S flags (O(units), 1 MiB at
most) instead of sorted by ``torch.unique``."""


class PatternSet:
    """The set of sample-wise patterns of S samples, filled one layer at a time (:meth:`add`)."""

    def __init__(self, samples: int, device: torch.device | str = "cpu"):
        self.samples = samples
        self._table = torch.zeros(1 << samples, dtype=torch.bool, device=device) if samples <= _TABLE_BITS else None
        self._parts: list[torch.Tensor] = []

    def add(self, bits: torch.Tensor) -> None:
        """Add the patterns of ``bits`` (bool, (S, units))."""
        codes = pack_patterns(bits)
        if self._table is not None:
            self._table[codes] = True
        else:
            self._parts.append(_unique(codes))  # only a layer's distinct codes are kept

    def __len__(self) -> int:
        if self._table is not None:
            return int(self._table.sum())
        return count_distinct(self._parts)


def count_distinct(code_sets: Iterable[torch.Tensor]) -> int:
    """Number of distinct codes in the union of ``code_sets`` (each as :func:`pack_patterns` returns)."""
    parts = list(code_sets)
    if not parts:
        return 0
    return int(_unique(torch.cat(parts)).shape[0])


def swap_from_activations(activations: Iterable[torch.Tensor], samples: int | None = None) -> int:
    """Psi of a list of activation tensors, each (N, ...) with the sample first: the number of
    distinct vectors (1[a[0, u] > 0], ..., 1[a[S-1, u] > 0]) over every unit u of every tensor, with
    S = ``samples`` (default: all N; every tensor must hold at least S samples)."""
    patterns: PatternSet | None = None
    for a in activations:
        s = a.shape[0] if samples is None else samples
        if patterns is None:
            patterns = PatternSet(s, a.device)
        if s != patterns.samples or a.shape[0] < s:
            raise ValueError(f"swap_from_activations: every tensor needs {patterns.samples} samples, got shape {tuple(a.shape)}")
        patterns.add((a[:s] > 0).reshape(s, -1))
    return 0 if patterns is None else len(patterns)


def swap_score(net: nn.Module, images: torch.Tensor) -> int:
    """Psi of ``net`` on ``images`` (all of them: the caller picks the S samples): one forward pass,
    patterns read from the output of every ``nn.ReLU`` with a 4-d input, one set over the network."""
    n = images.shape[0]
    patterns = PatternSet(n, images.device)
    seen = [0]

    def hook(mod: nn.Module, inputs: tuple, out: torch.Tensor) -> None:
        if not inputs or not isinstance(inputs[0], torch.Tensor) or inputs[0].dim() != 4:
            return
        patterns.add((out.detach() > 0).reshape(n, -1))  # reshape, not view: channels_last outputs
        seen[0] += 1

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.ReLU)]
    try:
        with torch.no_grad():
            net(images)
    finally:
        for h in handles:
            h.remove()
    if not seen[0]:
        raise ProxyError("swap: the network has no nn.ReLU on a 4-d feature map (no activation patterns)")
    return len(patterns)


def regulariser(theta_m: float, mu: float = MU, sigma: float = SIGMA) -> float:
    """f(Theta) = exp(-(Theta - mu)^2 / sigma) (Eq. 5), Theta, mu and sigma in millions of parameters."""
    return math.exp(-((theta_m - mu) ** 2) / sigma)


def _images(batches: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    images, _ = first_batch(batches)
    return images[:SAMPLES]


TOLERANCE = 1e-4
"""Cross-machine tolerance (relative) of swap and reg_swap (module docstring)."""


@register_proxy(
    "swap",
    paper=PAPER,
    work="forward",
    higher_is_better=True,
    version=VERSION,
    tolerance=TOLERANCE,  # cross-machine, relative (experiments/cross_machine)
)
def swap(net: torch.nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]], ctx: ProxyContext) -> float:
    return finite_or_nan(float(swap_score(net, _images(batches))))


def _reg_swap(net: torch.nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]], ctx: ProxyContext,
              mu: float = MU, sigma: float = SIGMA) -> float:
    factor = regulariser(count_parameters(net) / 1e6, mu, sigma)  # before the forward pass (no hooks left)
    return finite_or_nan(float(swap_score(net, _images(batches))) * factor)


@register_proxy(
    "reg_swap",
    paper=PAPER,
    work="forward",
    higher_is_better=True,
    version=VERSION,
    tolerance=TOLERANCE,  # cross-machine, relative (experiments/cross_machine)
)
def reg_swap(net: torch.nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]], ctx: ProxyContext) -> float:
    """Psi * f(Theta) with the default mu = sigma = 1.5 (millions of parameters)."""
    return _reg_swap(net, batches, ctx)


@functools.lru_cache(maxsize=64)
def reg_swap_spec(argument: str, where: str = "") -> ProxySpec:
    """The spec of ``reg_swap:MU,SIGMA`` (both in millions of parameters, sigma > 0)."""
    parts = argument.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        mu, sigma = (float(p) for p in parts)
    except ValueError:
        raise ProxyError(f"reg_swap:{argument}{where}: expected reg_swap:MU,SIGMA, two numbers "
                         f"(millions of parameters), e.g. reg_swap:{MU},{SIGMA}") from None
    if not (math.isfinite(mu) and math.isfinite(sigma) and sigma > 0):
        raise ProxyError(f"reg_swap:{argument}{where}: mu must be finite and sigma finite and > 0")
    return ProxySpec(
        name="reg_swap",
        fn=functools.partial(_reg_swap, mu=mu, sigma=sigma),
        paper=PAPER,
        higher_is_better=True,
        version=f"{VERSION}-mu{mu!r}-sigma{sigma!r}",
        work="forward",
        tolerance=TOLERANCE,
    )


register_parametric("reg_swap", reg_swap_spec)
