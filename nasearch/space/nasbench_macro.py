"""The NAS-Bench-Macro space (Su et al., "Prioritized Architecture Sampling with Monte-Carlo Tree
Search", CVPR 2021; benchmark and training code in xiusu/NAS-Bench-Macro, Apache-2.0).

A network is a MobileNetV2-style stack of 8 searchable layers, each one of three blocks:

====  ===========  =================================================================
code  name         block
====  ===========  =================================================================
0     ``identity``  nothing (a 1x1 conv + BN where the layer changes stride/channels)
1     ``MB3_K3``    inverted residual, expansion 3, depthwise kernel 3
2     ``MB6_K5``    inverted residual, expansion 6, depthwise kernel 5
====  ===========  =================================================================

so the space holds 3**8 = 6,561 networks. The benchmark names a network by its *key*, the 8-character
string of block codes (``'01220120'``); keys are parsed and printed here and nowhere else.

``MacroArch.index`` is the key read as a base-3 number, layer 0 most significant (``'00000000'`` is 0,
``'22222222'`` is 6560). :meth:`NASBenchMacroSpace.all_archs` enumerates in that order.

The network (:class:`MacroNetwork`, written from the authors' ``train/model.py``): a 3x3 stem conv to
32 channels (BN, ReLU); the 8 layers in three stages of 2, 3 and 3 layers whose first layer has
stride 2 and doubles the channels (32 -> 64 -> 128 -> 256; layers 0, 2 and 5); a 1x1 conv to 1280
channels (BN, ReLU), global average pooling and a linear classifier. Convs have no bias. An inverted
residual block adds its input when it keeps stride 1 and the channel count. Parameter counts equal
the benchmark's ``params`` for all 6,561 keys (``experiments/nasbench_macro_params/check.py``; the
committed result is ``result.txt`` there), and :func:`count_flops` equals its ``flops``:
the authors count the multiply-accumulates of every conv and of the classifier's weight matrix (no
bias, no BN, no ReLU, no additions), at 32x32 input.

Every network of the space depends on its input (there is no ``none`` block), so
:meth:`NASBenchMacroSpace.is_trivial` is always False. Networks whose identity layers sit in
equivalent places of a stage compute the same function; the authors trained each such class once
(:meth:`MacroArch.canonical`; 3,969 classes), so their keys share one result in the benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from nasearch.space.base import ArchError, ProductSpace, _where, index_of_codes, register_space
from nasearch.space.networks import _bn, count_parameters, with_generator

NAME = "nasbench_macro"
BLOCKS: tuple[str, ...] = ("identity", "MB3_K3", "MB6_K5")
"""Block names; a block code is a position in this tuple."""
BLOCK_SPECS: tuple[tuple[int, int] | None, ...] = (None, (3, 3), (6, 5))
"""(expansion ratio, depthwise kernel) of each block; None for identity."""
NUM_LAYERS = 8
NUM_BLOCKS = len(BLOCKS)
NUM_ARCHS = NUM_BLOCKS**NUM_LAYERS
STAGES: tuple[int, ...] = (2, 3, 3)
"""Layers per stage; the first layer of each stage has stride 2 and doubles the channels."""
REDUCTION_LAYERS: tuple[int, ...] = (0, 2, 5)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
TASKS: tuple[str, ...] = ("cifar10",)
NUM_CLASSES = {"cifar10": 10}
INPUT_SIZE = {"cifar10": 32}

_EXPECTED_FORM = (
    "a NAS-Bench-Macro key: 8 block codes, one per layer, each 0 (identity), 1 (MB3_K3) or 2 (MB6_K5), "
    "e.g. '01220120'; or an index in 0..6560; or a tuple of 8 codes"
)


@dataclass(frozen=True, slots=True, order=True)
class MacroArch:
    """One NAS-Bench-Macro network: the block code of each of the 8 layers."""

    blocks: tuple[int, ...]

    def __post_init__(self) -> None:
        b = self.blocks
        if (
            not isinstance(b, tuple)
            or len(b) != NUM_LAYERS
            or not all(
                isinstance(c, (int, np.integer)) and not isinstance(c, bool) and 0 <= c < NUM_BLOCKS
                for c in b
            )
        ):
            raise ArchError(f"block tuple {b!r} is not an architecture of space {NAME!r}: expected {_EXPECTED_FORM}")
        object.__setattr__(self, "blocks", tuple(int(c) for c in b))

    @property
    def index(self) -> int:
        """The key read as a base-3 number (layer 0 most significant)."""
        return index_of_codes(self.blocks, NUM_BLOCKS)

    def to_string(self) -> str:
        """The benchmark's key, e.g. ``'01220120'``."""
        return "".join(str(c) for c in self.blocks)

    def __str__(self) -> str:
        return self.to_string()

    def block_names(self) -> tuple[str, ...]:
        return tuple(BLOCKS[c] for c in self.blocks)

    def canonical(self) -> MacroArch:
        """The network the authors trained for this key (``get_real_arch`` in their code).

        Within a stage, an identity layer after the first is a pure identity (same stride and
        channels), so moving it to the end of its stage gives the same function. The canonical form
        keeps each stage's first layer and puts its non-identity layers first, in order.
        """
        out: list[int] = []
        start = 0
        for size in STAGES:
            stage = self.blocks[start : start + size]
            rest = [c for c in stage[1:] if c != 0]
            out.extend([stage[0], *rest] + [0] * (size - 1 - len(rest)))
            start += size
        return MacroArch(tuple(out))


def _from_string(text: str, where: str = "") -> MacroArch:
    s = text.strip()
    if len(s) != NUM_LAYERS or any(ch not in "012" for ch in s):
        hint = ""
        if s.startswith("|") or "~" in s:
            hint = " (this looks like a NAS-Bench-201 cell string, from another space)"
        elif s.startswith("64-"):
            hint = " (this looks like a TransNAS-Bench-101 arch string, from another space)"
        raise ArchError(f"{text!r}{_where(where)} is not an architecture of space {NAME!r}: expected {_EXPECTED_FORM}{hint}")
    return MacroArch(tuple(int(ch) for ch in s))


@register_space
class NASBenchMacroSpace(ProductSpace):
    """The NAS-Bench-Macro search space (see the module docstring)."""

    name = NAME
    num_archs = NUM_ARCHS
    tasks = TASKS
    network_tasks = TASKS
    """Tasks ``build_network`` builds a network for (all of them here)."""
    positions: tuple[int, ...] = (NUM_BLOCKS,) * NUM_LAYERS
    Arch = MacroArch

    expected_form = _EXPECTED_FORM
    choices_noun = "block tuple"
    index_note = " (NAS-Bench-Macro)"
    config_error_shows_value = True
    # parse (a key string, an index, a tuple of 8 block codes, or a MacroArch), from_index, sample,
    # mutate, neighbours (the 16 keys that differ in one layer), from_choices and encode (one-hot,
    # shape (n, 24), layer-major) are ProductSpace's / SearchSpace's

    def _parse_string(self, text: str, where: str = "") -> MacroArch:
        return _from_string(text, where)

    # ------------------------------------------------------------------ encodings
    def to_choices(self, arch: MacroArch) -> tuple[int, ...]:
        return arch.blocks

    def config_names(self) -> tuple[str, ...]:
        return tuple(f"layer{i}" for i in range(NUM_LAYERS))

    def config_values(self, position: int) -> tuple[str, ...]:
        return BLOCKS

    # config_space (8 categorical hyperparameters layer0 .. layer7 over the block names), to_config and
    # from_config (every complete configuration is a key) are SearchSpace's

    def is_trivial(self, arch: MacroArch) -> bool:
        """Never: every block passes its input on."""
        return False

    # ------------------------------------------------------------------ networks
    def num_classes(self, task: str) -> int:
        return NUM_CLASSES[self.check_task(task)]

    def input_size(self, task: str) -> int:
        return INPUT_SIZE[self.check_task(task)]

    def build_network(
        self,
        arch: MacroArch,
        task: str = "cifar10",
        *,
        bn: bool = True,
        generator: torch.Generator | None = None,
    ) -> MacroNetwork:
        self.check_task(task)
        arch = self.parse(arch)
        return with_generator(generator, lambda: MacroNetwork(arch, NUM_CLASSES[task], bn=bn))

    def __repr__(self) -> str:
        return "NASBenchMacroSpace()"


def shared_instance(cls: type, name: str) -> Any:
    """The space registry's shared instance of the space called ``name`` once the space interface
    (``nasearch.space.base.get_space``) exists and the space is registered; a new ``cls()`` before."""
    try:
        from nasearch.space.base import get_space
    except ImportError:
        return cls()
    try:
        return get_space(name)
    except ArchError:  # not registered (yet)
        return cls()


# ---------------------------------------------------------------------- networks


class IdentityBlock(nn.Module):
    """Block 0: the identity, or a 1x1 conv + BN where the layer changes stride or channels."""

    def __init__(self, c_in: int, c_out: int, stride: int, bn: bool = True):
        super().__init__()
        if stride != 1 or c_in != c_out:
            self.downsample: nn.Module | None = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), _bn(c_out, bn)
            )
        else:
            self.downsample = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.downsample is None else self.downsample(x)


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand (BN, ReLU), kxk depthwise (BN, ReLU), 1x1 project (BN);
    plus the input when stride is 1 and the channels are kept."""

    def __init__(self, c_in: int, c_out: int, stride: int, expansion: int, kernel: int, bn: bool = True):
        super().__init__()
        hidden = c_in * expansion
        self.conv = nn.Sequential(
            nn.Conv2d(c_in, hidden, 1, bias=False),
            _bn(hidden, bn),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, hidden, kernel, stride=stride, padding=kernel // 2, groups=hidden, bias=False),
            _bn(hidden, bn),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, c_out, 1, bias=False),
            _bn(c_out, bn),
        )
        self.use_shortcut = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return out + x if self.use_shortcut else out


def make_block(code: int, c_in: int, c_out: int, stride: int, bn: bool = True) -> nn.Module:
    spec = BLOCK_SPECS[code]
    if spec is None:
        return IdentityBlock(c_in, c_out, stride, bn)
    expansion, kernel = spec
    return InvertedResidual(c_in, c_out, stride, expansion, kernel, bn)


class MacroNetwork(nn.Module):
    """The NAS-Bench-Macro network of one key (see the module docstring)."""

    def __init__(self, arch: MacroArch, num_classes: int = 10, bn: bool = True):
        super().__init__()
        self.arch = arch
        self.num_classes = num_classes
        self.stem = nn.Sequential(
            nn.Conv2d(3, STEM_CHANNELS, 3, padding=1, bias=False), _bn(STEM_CHANNELS, bn), nn.ReLU(inplace=True)
        )
        layers: list[nn.Module] = []
        c = STEM_CHANNELS
        for layer, code in enumerate(arch.blocks):
            if layer in REDUCTION_LAYERS:
                layers.append(make_block(code, c, 2 * c, 2, bn))
                c *= 2
            else:
                layers.append(make_block(code, c, c, 1, bn))
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Conv2d(c, HEAD_CHANNELS, 1, bias=False),
            _bn(HEAD_CHANNELS, bn),
            nn.ReLU(inplace=True),
        )
        # its own module: the pre-GAP feature map (Zen-score's f) is this module's input
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(HEAD_CHANNELS, num_classes)

    def primary_blocks(self) -> list[nn.Module]:
        """The network's primary blocks in forward order, for proxies that read block outputs (AZ-NAS):
        the stem, then every block of ``features`` (identity blocks included); the head is not one."""
        return [self.stem, *self.features]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.global_pooling(self.head(self.features(self.stem(x)))).flatten(1))


def count_flops(model: nn.Module, input_size: int = 32) -> int:
    """FLOPs of one forward pass of one image, NAS-Bench-Macro's convention (``count_FLOPs`` in the
    authors' ``train/utils.py``): multiply-accumulates of every conv (output elements x input channels
    per group x kernel area) plus ``in_features * out_features`` of every linear layer; biases, BN,
    ReLU, pooling and additions are not counted. The benchmark counts at 32x32 input. A model built on
    the ``meta`` device is counted without computing anything (shapes only)."""
    total = 0
    hooks = []

    def conv_hook(mod: nn.Conv2d, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        kh, kw = mod.kernel_size
        total += out.shape[1] * out.shape[2] * out.shape[3] * (mod.in_channels // mod.groups) * kh * kw

    def linear_hook(mod: nn.Linear, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        total += mod.in_features * mod.out_features

    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
    was_training = model.training
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, 3, input_size, input_size, device=device))
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return int(total)


__all__ = [
    "BLOCKS",
    "NAME",
    "NUM_ARCHS",
    "MacroArch",
    "MacroNetwork",
    "NASBenchMacroSpace",
    "count_flops",
    "count_parameters",
]
