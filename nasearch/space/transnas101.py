"""The two TransNAS-Bench-101 spaces (Duan et al., "TransNAS-Bench-101: Improving Transferability
and Generalizability of Cross-Task Neural Architecture Search", CVPR 2021; MIT-licensed code in
yawen-d/TransNASBench).

Both spaces build one *encoder* (a ResNet-like stack of modules on a stem), trained on seven Taskonomy
tasks with task-specific heads. The benchmark names networks by strings parsed and printed here and
nowhere else.

``transnas101_micro`` (4,096 cells): ``64-41414-a_bc_def``, base width 64, the fixed skeleton
``41414`` and one cell (used everywhere) of 4 nodes and 6 edges in NB201's edge order
(0->1; 0->2, 1->2; 0->3, 1->3, 2->3); op codes ``0`` none, ``1`` skip, ``2`` ReLU-conv1x1-BN, ``3``
ReLU-conv3x3-BN (NB201's cell without pooling). :attr:`TNBMicroArch.index` is the base-4 number of
the six op codes, edge 0 most significant (``0_00_000`` is 0, ``3_33_333`` is 4095; the benchmark
export lists cells in this order too). A cell with no path of non-``none`` edges from input to output
outputs zeros: :meth:`TransNAS101MicroSpace.is_trivial`.

``transnas101_macro`` (3,256 skeletons): ``64-XXXX-basic``, 4 to 6 stacked modules of two ResNet
basic blocks each, module codes ``1`` normal, ``2`` channels x2, ``3`` resolution /2, ``4`` both. The
skeletons the benchmark holds are exactly those with 1 to 4 resolution-halving modules (codes 3, 4)
and 1 to 3 channel-doubling modules (codes 2, 4) (checked against the export by the tests); other
strings are not in the space. As a fixed-length vector a skeleton is 6 positions with choices 0..4,
0 = absent (trailing positions only). :attr:`TNBMacroArch.index` is the rank of the skeleton in
lexicographic order of its module codes (``'1113' < '11131' < '1114'``), which is the order of the
6-position vectors read as base-5 numbers. No macro network is trivial.

Networks (:class:`TNBNetwork`, written from the benchmark's ``lib/models/net_infer/cell_micro.py``,
``net_macro.py`` and ``lib/models/task_models/``): the stem is a stride-2 3x3 conv to 32 channels and
BN, then a stride-2 ReLU-conv3x3-BN to 64 channels; each module holds two cells (micro) or two basic
blocks (macro), the first with the module's stride and output width. In a micro cell the edges that
leave node 0 carry the stride and the width change: skip becomes a factorized reduction (ReLU, two
strided 1x1 convs on offset grids, concatenated, BN) and none outputs zeros of the new shape. A basic
block is ReLU-conv3x3-BN twice plus the input (through a strided 1x1 conv + BN where the shape
changes). Convs have no bias; encoder convs are Kaiming-normal initialised (fan_out, ReLU) as in the
benchmark; heads keep PyTorch's default initialisation.

Heads built (``build_network``; the other four tasks are searchable and queryable but have no
network here):

* ``class_object`` (75 classes) and ``class_scene`` (47 classes): global average pooling and a
  linear classifier (the benchmark's ``FFDecoder``), input 3 x 256 x 256. The class counts are
  TransNAS-Bench's reduced Taskonomy label sets (``final5k``: 100 -> 75 objects, 63 -> 47 scenes).
* ``jigsaw`` (1,000 classes): the benchmark's Siamese network. The same encoder runs on each of 9
  tiles (one forward call per tile position, as in the benchmark, so BatchNorm's batch statistics
  are per position), the 9 feature maps are concatenated along channels, average-pooled and
  classified by one linear layer into the 1,000 permutations of the benchmark's permutation set
  (``permutations_hamming_max_1000``). ``forward`` takes either the tiles, ``N x 9 x 3 x 64 x 64``
  (the benchmark's layout), or whole images ``N x 3 x S x S``: the image is cut into a 3 x 3 grid of
  ``S // 3`` cells and each tile is the centred crop of side ``round(64 * (S // 3) / 85)`` of its
  cell, in reading order (the identity permutation). At the input size 255 that is the benchmark's
  geometry (255 -> 85-pixel cells -> 64-pixel tiles), with the crop centred instead of at a random
  offset.
* ``room_layout`` (a 9-value regression), ``segmentsemantic``, ``normal`` and ``autoencoder`` (pixel
  decoders): ``build_network``/``num_classes`` raise an ArchError naming the tasks with networks. The
  proxies nasearch runs assume a classifier's logits, which these heads do not produce.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from nasearch.space.base import ArchError, ProductSpace, SearchSpace, _where, index_of_codes, register_space
from nasearch.space.cells import EDGES, cell_is_connected
from nasearch.space.networks import ReLUConvBN, _bn, with_generator

MICRO_NAME = "transnas101_micro"
MACRO_NAME = "transnas101_macro"
TASKS: tuple[str, ...] = (
    "class_scene",
    "class_object",
    "room_layout",
    "jigsaw",
    "segmentsemantic",
    "normal",
    "autoencoder",
)
"""The benchmark's seven tasks, in its API's ``task_list`` order."""
NUM_CLASSES: dict[str, int] = {"class_scene": 47, "class_object": 75, "jigsaw": 1000}
"""Output width of the heads built here."""
NETWORK_TASKS: tuple[str, ...] = tuple(t for t in TASKS if t in NUM_CLASSES)
INPUT_SIZE: dict[str, int] = {t: 255 if t == "jigsaw" else 256 for t in TASKS}
"""Image side: 256 x 256 Taskonomy images; jigsaw resizes to 255 x 255 and cuts 64 x 64 tiles."""
JIGSAW_TILES = 9
JIGSAW_TILE = 64
JIGSAW_CELL = 85
BASE_CHANNELS = 64

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3")
"""Micro op names; an op code is a position in this tuple (the benchmark's codes 0..3)."""
NONE, SKIP, CONV1, CONV3 = range(len(OPS))
NUM_EDGES = len(EDGES)
NUM_OPS = len(OPS)
MICRO_SKELETON = "41414"
NUM_MICRO = NUM_OPS**NUM_EDGES

MODULES: tuple[str, ...] = ("absent", "normal", "channel_x2", "resolution_/2", "channel_x2_resolution_/2")
"""Macro module names; position = code (0 = absent, only in the fixed-length vector)."""
MIN_MODULES, MAX_MODULES = 4, 6

_MICRO_FORM = (
    "a TransNAS-Bench-101 micro arch string '64-41414-a_bc_def': 6 op codes in NB201's edge order "
    "(0->1; 0->2, 1->2; 0->3, 1->3, 2->3), each 0 (none), 1 (skip), 2 (conv1x1) or 3 (conv3x3), "
    "e.g. '64-41414-3_13_113'; or an index in 0..4095; or a tuple of 6 op codes"
)
_MACRO_FORM = (
    "a TransNAS-Bench-101 macro arch string '64-XXXX-basic': 4 to 6 module codes, each 1 (normal), "
    "2 (channels x2), 3 (resolution /2) or 4 (both), with 1 to 4 modules of code 3 or 4 and 1 to 3 of "
    "code 2 or 4, e.g. '64-2243-basic'; or an index in 0..3255; or a tuple of 4 to 6 module codes "
    "(or 6 positions with 0 = absent at the end)"
)


def _other_space_hint(s: str) -> str:
    if s.startswith("|") or "~" in s:
        return " (this looks like a NAS-Bench-201 cell string, from another space)"
    if len(s) == 8 and all(ch in "012" for ch in s):
        return " (this looks like a NAS-Bench-Macro key, from another space)"
    if s.endswith("-basic"):
        return " (this looks like a TransNAS-Bench-101 macro string, from the macro space)"
    if s.startswith(f"{BASE_CHANNELS}-{MICRO_SKELETON}-"):
        return " (this looks like a TransNAS-Bench-101 micro string, from the micro space)"
    return ""


def _is_code(c: Any, low: int, high: int) -> bool:
    return isinstance(c, (int, np.integer)) and not isinstance(c, bool) and low <= c <= high


# ====================================================================== micro


@dataclass(frozen=True, slots=True, order=True)
class TNBMicroArch:
    """One TransNAS-Bench-101 micro cell: op codes on the 6 edges in NB201's edge order."""

    ops: tuple[int, ...]

    def __post_init__(self) -> None:
        ops = self.ops
        if not isinstance(ops, tuple) or len(ops) != NUM_EDGES or not all(_is_code(o, 0, NUM_OPS - 1) for o in ops):
            raise ArchError(f"op tuple {ops!r} is not an architecture of space {MICRO_NAME!r}: expected {_MICRO_FORM}")
        object.__setattr__(self, "ops", tuple(int(o) for o in ops))

    @property
    def index(self) -> int:
        """Base-4 number of the op codes, edge 0 most significant."""
        return index_of_codes(self.ops, NUM_OPS)

    def to_string(self) -> str:
        o = "".join(str(x) for x in self.ops)
        return f"{BASE_CHANNELS}-{MICRO_SKELETON}-{o[0]}_{o[1:3]}_{o[3:6]}"

    def __str__(self) -> str:
        return self.to_string()

    def op_names(self) -> tuple[str, ...]:
        return tuple(OPS[o] for o in self.ops)

    def is_connected(self) -> bool:
        """Some path of non-``none`` edges leads from node 0 (input) to node 3 (output)."""
        return cell_is_connected(self.ops)


def _micro_from_string(text: str, where: str = "") -> TNBMicroArch:
    s = text.strip()
    parts = s.split("-")
    ok = len(parts) == 3 and parts[0] == str(BASE_CHANNELS) and parts[1] == MICRO_SKELETON
    if ok:
        groups = parts[2].split("_")
        ok = [len(g) for g in groups] == [1, 2, 3] and all(ch in "0123" for g in groups for ch in g)
    if not ok:
        raise ArchError(
            f"{text!r}{_where(where)} is not an architecture of space {MICRO_NAME!r}: expected {_MICRO_FORM}"
            f"{_other_space_hint(s)}"
        )
    return TNBMicroArch(tuple(int(ch) for ch in parts[2].replace("_", "")))


# ====================================================================== macro


def _skeleton_ok(codes: Sequence[int]) -> bool:
    if not MIN_MODULES <= len(codes) <= MAX_MODULES or not all(1 <= c <= 4 for c in codes):
        return False
    down = sum(c in (3, 4) for c in codes)
    wide = sum(c in (2, 4) for c in codes)
    return 1 <= down <= 4 and 1 <= wide <= 3


@functools.cache
def _skeletons() -> tuple[tuple[tuple[int, ...], ...], dict[tuple[int, ...], int]]:
    """Every skeleton of the space in index order (lexicographic by module codes) and its index."""
    import itertools

    found = [
        codes
        for n in range(MIN_MODULES, MAX_MODULES + 1)
        for codes in itertools.product(range(1, 5), repeat=n)
        if _skeleton_ok(codes)
    ]
    found.sort()
    return tuple(found), {codes: i for i, codes in enumerate(found)}


NUM_MACRO = 3256


@dataclass(frozen=True, slots=True, order=True)
class TNBMacroArch:
    """One TransNAS-Bench-101 macro skeleton: 4 to 6 module codes (1..4)."""

    modules: tuple[int, ...]

    def __post_init__(self) -> None:
        m = self.modules
        if not isinstance(m, tuple) or not all(_is_code(c, 1, 4) for c in m) or not _skeleton_ok(m):
            raise ArchError(
                f"module tuple {m!r} is not an architecture of space {MACRO_NAME!r}: not one of the 3,256 "
                f"skeletons of the benchmark; expected {_MACRO_FORM}"
            )
        object.__setattr__(self, "modules", tuple(int(c) for c in m))

    @property
    def index(self) -> int:
        """Rank of the skeleton in lexicographic order of its module codes."""
        return _skeletons()[1][self.modules]

    def to_string(self) -> str:
        return f"{BASE_CHANNELS}-{''.join(str(c) for c in self.modules)}-basic"

    def __str__(self) -> str:
        return self.to_string()

    def choices(self) -> tuple[int, ...]:
        """6 positions, 0 = absent."""
        return self.modules + (0,) * (MAX_MODULES - len(self.modules))


def _macro_from_index(i: Any, where: str = "") -> TNBMacroArch:
    if not _is_code(i, 0, NUM_MACRO - 1):
        raise ArchError(
            f"index {i!r}{_where(where)} is out of range for space {MACRO_NAME!r}: expected an integer in "
            f"0..{NUM_MACRO - 1}"
        )
    return TNBMacroArch(_skeletons()[0][int(i)])


def _macro_from_string(text: str, where: str = "") -> TNBMacroArch:
    s = text.strip()
    parts = s.split("-")
    if (
        len(parts) != 3
        or parts[0] != str(BASE_CHANNELS)
        or parts[2] != "basic"
        or not parts[1]
        or any(ch not in "1234" for ch in parts[1])
    ):
        raise ArchError(
            f"{text!r}{_where(where)} is not an architecture of space {MACRO_NAME!r}: expected {_MACRO_FORM}"
            f"{_other_space_hint(s)}"
        )
    codes = tuple(int(ch) for ch in parts[1])
    if not _skeleton_ok(codes):
        raise ArchError(
            f"{text!r}{_where(where)} is not an architecture of space {MACRO_NAME!r}: not one of the 3,256 "
            f"skeletons of TransNAS-Bench-101's macro space; expected {_MACRO_FORM}"
        )
    return TNBMacroArch(codes)


def _macro_from_choices(values: Sequence[Any]) -> TNBMacroArch | None:
    """6 positions (0 = absent, trailing only) or 4..6 codes; None when not a skeleton."""
    try:
        codes = [int(c) for c in values]
    except (TypeError, ValueError):
        return None
    if len(codes) == MAX_MODULES:
        n = len(codes)
        while n and codes[n - 1] == 0:
            n -= 1
        codes = codes[:n]
    if not _skeleton_ok(codes):
        return None
    return TNBMacroArch(tuple(codes))


# ====================================================================== spaces


class _TNBSpace(SearchSpace):
    """What the two spaces share: tasks, heads, networks."""

    name: str
    tasks = TASKS
    network_tasks = NETWORK_TASKS
    """Tasks ``build_network`` builds a network for; the others are searchable through the benchmark."""
    resize_images = True
    """Image sets (CIFAR, ImageNet16: there are no Taskonomy images here) are resized to the task's input
    size, 256 (255 for jigsaw), so the networks run at the benchmark's resolution."""

    config_error_shows_value = True

    def _check_task(self, task: str, *, network: bool) -> None:
        self.check_task(task)
        if network and task not in NETWORK_TASKS:
            raise ArchError(
                f"space {self.name!r} has no network for task {task!r}: its head (a regression or "
                f"pixel decoder) is not built here; tasks with networks: {', '.join(NETWORK_TASKS)} "
                f"({task!r} can still be searched through the benchmark)"
            )

    def num_classes(self, task: str) -> int:
        self._check_task(task, network=True)
        return NUM_CLASSES[task]

    def input_size(self, task: str) -> int:
        self._check_task(task, network=False)
        return INPUT_SIZE[task]

    def build_network(
        self,
        arch: Any,
        task: str = "class_object",
        *,
        bn: bool = True,
        generator: torch.Generator | None = None,
    ) -> TNBNetwork:
        self._check_task(task, network=True)
        arch = self.parse(arch)  # type: ignore[attr-defined]
        return with_generator(generator, lambda: TNBNetwork(arch, task, bn=bn))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


@register_space
class TransNAS101MicroSpace(_TNBSpace, ProductSpace):
    """TransNAS-Bench-101's cell-level space (see the module docstring)."""

    name = MICRO_NAME
    num_archs = NUM_MICRO
    positions: tuple[int, ...] = (NUM_OPS,) * NUM_EDGES
    Arch = TNBMicroArch

    expected_form = _MICRO_FORM
    choices_noun = "op tuple"
    # parse (an arch string, an index, a tuple of 6 op codes, or a TNBMicroArch), from_index, sample
    # (uniform over all 4,096 cells, trivial ones included), mutate, neighbours (the 18 cells that differ
    # on one edge), from_choices and encode (one-hot, shape (n, 24), edge-major) are ProductSpace's /
    # SearchSpace's

    def _parse_string(self, text: str, where: str = "") -> TNBMicroArch:
        return _micro_from_string(text, where)

    def to_choices(self, arch: TNBMicroArch) -> tuple[int, ...]:
        return arch.ops

    @staticmethod
    def edge_names() -> tuple[str, ...]:
        return tuple(f"{dst}<-{src}" for src, dst in EDGES)

    def config_names(self) -> tuple[str, ...]:
        """One hyperparameter per edge, ``'j<-i'``, in edge order (NB201's names)."""
        return self.edge_names()

    def config_values(self, position: int) -> tuple[str, ...]:
        return OPS

    # config_space (6 categorical hyperparameters, one per edge, over the op names), to_config and
    # from_config (every complete configuration is a cell) are SearchSpace's

    def is_trivial(self, arch: TNBMicroArch) -> bool:
        """No path from the cell's input to its output: the network's output ignores its input."""
        return not arch.is_connected()


@register_space
class TransNAS101MacroSpace(_TNBSpace):
    """TransNAS-Bench-101's macro-level space (see the module docstring)."""

    name = MACRO_NAME
    num_archs = NUM_MACRO
    positions: tuple[int, ...] = (len(MODULES),) * MAX_MODULES
    Arch = TNBMacroArch

    expected_form = _MACRO_FORM
    # parse: an arch string, an index, 4..6 module codes (or 6 positions, 0 = absent), or a TNBMacroArch

    def _parse_string(self, text: str, where: str = "") -> TNBMacroArch:
        return _macro_from_string(text, where)

    def _parse_index(self, i: Any, where: str = "") -> TNBMacroArch:
        return _macro_from_index(i, where)

    def _parse_choices(self, value: Any, where: str = "") -> TNBMacroArch:
        arch = _macro_from_choices(value)
        if arch is None:
            raise ArchError(
                f"vector {value!r}{_where(where)} is not an architecture of space {self.name!r} (not a "
                f"skeleton of the benchmark): expected {_MACRO_FORM}"
            )
        return arch

    def from_index(self, i: int) -> TNBMacroArch:
        return _macro_from_index(i)

    def all_archs(self) -> Iterator[TNBMacroArch]:
        for codes in _skeletons()[0]:
            yield TNBMacroArch(codes)

    def sample(self, rng: np.random.Generator) -> TNBMacroArch:
        """Uniform over the 3,256 skeletons."""
        return _macro_from_index(int(rng.integers(NUM_MACRO)))

    def neighbours(self, arch: TNBMacroArch) -> list[TNBMacroArch]:
        """Skeletons whose 6-position vector differs in exactly one position (position-major, then
        code): a module's code changed, a module appended, or the last module removed."""
        base = arch.choices()
        out = []
        for p in range(MAX_MODULES):
            for code in range(len(MODULES)):
                if code != base[p]:
                    v = list(base)
                    v[p] = code
                    n = _macro_from_choices(v)
                    if n is not None and n.choices() == tuple(v):
                        out.append(n)
        return out

    def mutate(self, arch: TNBMacroArch, rng: np.random.Generator) -> TNBMacroArch:
        """One of :meth:`neighbours`, drawn uniformly (every skeleton has 9 to 20 of them)."""
        options = self.neighbours(arch)
        return options[int(rng.integers(len(options)))]

    def to_choices(self, arch: TNBMacroArch) -> tuple[int, ...]:
        return arch.choices()

    def from_choices(self, choices: Sequence[int]) -> TNBMacroArch | None:
        """The skeleton of 6 positions (codes 0..4, 0 = absent); None for in-range vectors that are not
        one (an absent module before a present one, fewer than 4 modules, or outside the counting
        rule); another length or a code outside 0..4 is an ArchError."""
        try:
            codes = tuple(int(c) for c in choices)
        except (TypeError, ValueError):
            codes = ()
        if len(codes) != MAX_MODULES or not all(0 <= c < len(MODULES) for c in codes):
            raise ArchError(
                f"choice vector {choices!r} is not one of space {self.name!r}: expected 6 positions with "
                f"codes 0..4 (0 = absent)"
            )
        arch = _macro_from_choices(codes)
        if arch is None or arch.choices() != codes:
            return None
        return arch

    def encode(self, archs: Sequence[TNBMacroArch]) -> np.ndarray:
        """One-hot, shape (n, 30): position-major, ``[position * 5 + code] = 1`` (code 0 = absent)."""
        k = len(MODULES)
        out = np.zeros((len(archs), MAX_MODULES * k), dtype=np.float32)
        if archs:
            codes = np.asarray([a.choices() for a in archs])
            rows = np.repeat(np.arange(len(archs)), MAX_MODULES)
            out[rows, (np.arange(MAX_MODULES) * k + codes).ravel()] = 1.0
        return out

    def config_names(self) -> tuple[str, ...]:
        return tuple(f"module{p}" for p in range(MAX_MODULES))

    def config_values(self, position: int) -> tuple[str, ...]:
        return tuple(str(c) for c in range(len(MODULES)))

    # config_space: 6 categorical hyperparameters ``module0`` .. ``module5`` over the codes '0' (absent)
    # .. '4' (SearchSpace's). ConfigSpace cannot state which vectors are skeletons (trailing absences,
    # the counting rule), so from_config returns None for the others (about 4 in 5 of uniform draws).

    def is_trivial(self, arch: TNBMacroArch) -> bool:
        """Never: every module passes its input on."""
        return False


# ====================================================================== networks


class Zero(nn.Module):
    """The ``none`` op: zeros of the output shape (channels ``c_out``, side divided by ``stride``)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.c_in, self.c_out, self.stride = c_in, c_out, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.stride
        if self.c_in == self.c_out:
            return (x if s == 1 else x[:, :, ::s, ::s]).mul(0.0)
        n, _, h, w = x.shape
        return x.new_zeros((n, self.c_out, (h + s - 1) // s, (w + s - 1) // s))


class FactorizedReduce(nn.Module):
    """Skip where the shape changes: ReLU, two strided 1x1 convs (the second on the grid offset by
    one pixel) of half the output width each, concatenated, BN."""

    def __init__(self, c_in: int, c_out: int, stride: int, bn: bool = True):
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        half = c_out // 2
        self.convs = nn.ModuleList(
            [
                nn.Conv2d(c_in, half, 1, stride=stride, bias=False),
                nn.Conv2d(c_in, c_out - half, 1, stride=stride, bias=False),
            ]
        )
        self.pad = nn.ConstantPad2d((0, 1, 0, 1), 0.0)
        self.bn = _bn(c_out, bn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        y = self.pad(x)[:, :, 1:, 1:]
        return self.bn(torch.cat([self.convs[0](x), self.convs[1](y)], dim=1))


def _micro_op(code: int, c_in: int, c_out: int, stride: int, bn: bool) -> nn.Module:
    if code == NONE:
        return Zero(c_in, c_out, stride)
    if code == SKIP:
        return nn.Identity() if stride == 1 and c_in == c_out else FactorizedReduce(c_in, c_out, stride, bn)
    if code == CONV1:
        return ReLUConvBN(c_in, c_out, 1, stride, 0, bn)
    return ReLUConvBN(c_in, c_out, 3, stride, 1, bn)


class MicroCell(nn.Module):
    """Node j = sum over i < j of op_{i->j}(node i); edges leaving node 0 carry stride and width."""

    def __init__(self, arch: TNBMicroArch, c_in: int, c_out: int, stride: int, bn: bool = True):
        super().__init__()
        self.edges = nn.ModuleList(
            _micro_op(op, c_in if src == 0 else c_out, c_out, stride if src == 0 else 1, bn)
            for (src, _), op in zip(EDGES, arch.ops)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for dst in (1, 2, 3):
            total = None
            for e, (src, d) in enumerate(EDGES):
                if d == dst:
                    out = self.edges[e](nodes[src])
                    total = out if total is None else total + out
            nodes.append(total)  # type: ignore[arg-type]
        return nodes[3]


class BasicBlock(nn.Module):
    """ResNet basic block: ReLU-conv3x3-BN twice, plus the input (1x1 conv + BN where the shape
    changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int, bn: bool = True):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride, 1, bn)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1, bn)
        if stride != 1 or c_in != c_out:
            self.downsample: nn.Module | None = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), _bn(c_out, bn)
            )
        else:
            self.downsample = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        return residual + self.conv_b(self.conv_a(x))


class Encoder(nn.Module):
    """The benchmark's backbone (``MacroNet(structure='backbone')``): stem, then one module per
    skeleton code, each of two cells/blocks. Output: feature maps ``N x out_channels x h x w``."""

    def __init__(self, arch: TNBMicroArch | TNBMacroArch, bn: bool = True):
        super().__init__()
        half = BASE_CHANNELS // 2
        self.stem = nn.Sequential(
            nn.Conv2d(3, half, 3, stride=2, padding=1, bias=False),
            _bn(half, bn),
            ReLUConvBN(half, BASE_CHANNELS, 3, 2, 1, bn),
        )
        if isinstance(arch, TNBMicroArch):
            skeleton = tuple(int(c) for c in MICRO_SKELETON)

            def cell(c_in: int, c_out: int, stride: int) -> nn.Module:
                return MicroCell(arch, c_in, c_out, stride, bn)
        else:
            skeleton = arch.modules

            def cell(c_in: int, c_out: int, stride: int) -> nn.Module:
                return BasicBlock(c_in, c_out, stride, bn)

        c = BASE_CHANNELS
        layers = []
        for code in skeleton:
            c_out = 2 * c if code in (2, 4) else c
            stride = 2 if code in (3, 4) else 1
            layers.append(nn.Sequential(cell(c, c_out, stride), cell(c_out, c_out, 1)))
            c = c_out
        self.layers = nn.Sequential(*layers)
        self.out_channels = c
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(self.stem(x))


def image_to_tiles(x: torch.Tensor) -> torch.Tensor:
    """``N x 3 x S x S`` -> ``N x 9 x 3 x t x t``: the centred crop of side ``round(64 * c / 85)`` of
    each cell of side ``c = S // 3`` of the 3 x 3 grid, in reading order."""
    n, ch, h, w = x.shape
    cell_h, cell_w = h // 3, w // 3
    th = max(1, round(JIGSAW_TILE * cell_h / JIGSAW_CELL))
    tw = max(1, round(JIGSAW_TILE * cell_w / JIGSAW_CELL))
    oh, ow = (cell_h - th) // 2, (cell_w - tw) // 2
    tiles = [
        x[:, :, r * cell_h + oh : r * cell_h + oh + th, c * cell_w + ow : c * cell_w + ow + tw]
        for r in range(3)
        for c in range(3)
    ]
    return torch.stack(tiles, dim=1)


class TNBNetwork(nn.Module):
    """Encoder + the head of ``task`` (see the module docstring); ``forward`` returns logits."""

    def __init__(self, arch: TNBMicroArch | TNBMacroArch, task: str, bn: bool = True):
        super().__init__()
        if task not in NETWORK_TASKS:
            raise ArchError(f"no network for task {task!r}; tasks with networks: {', '.join(NETWORK_TASKS)}")
        self.arch = arch
        self.task = task
        self.num_classes = NUM_CLASSES[task]
        self.encoder = Encoder(arch, bn)
        tiles = JIGSAW_TILES if task == "jigsaw" else 1
        # its own module: the pre-GAP feature map (Zen-score's f) is this module's input
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(self.encoder.out_channels * tiles, self.num_classes)

    def primary_blocks(self) -> list[nn.Module]:
        """The network's primary blocks in forward order, for proxies that read block outputs (AZ-NAS):
        the stem, then every module of the encoder's ``layers``; the decoders and
        classifiers are not blocks; the head is not one."""
        return [self.encoder.stem, *self.encoder.layers]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.task != "jigsaw":
            return self.classifier(self.global_pooling(self.encoder(x)).flatten(1))
        if x.dim() == 4:
            x = image_to_tiles(x)
        if x.dim() != 5 or x.shape[1] != JIGSAW_TILES:
            raise ValueError(
                f"jigsaw network input of shape {tuple(x.shape)}: expected N x 9 x 3 x 64 x 64 tiles or "
                f"N x 3 x S x S images"
            )
        features = torch.cat([self.encoder(x[:, i]) for i in range(JIGSAW_TILES)], dim=1)
        return self.classifier(self.global_pooling(features).flatten(1))


__all__ = [
    "MACRO_NAME",
    "MICRO_NAME",
    "NETWORK_TASKS",
    "NUM_CLASSES",
    "OPS",
    "TASKS",
    "TNBMacroArch",
    "TNBMicroArch",
    "TNBNetwork",
    "TransNAS101MacroSpace",
    "TransNAS101MicroSpace",
    "image_to_tiles",
]
