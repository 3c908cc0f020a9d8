"""The torch network of any NB201 cell (NAS-Bench-201's "TinyNetwork" skeleton).

Skeleton (Dong & Yang, ICLR 2020, Fig. 1): a 3x3 stem conv with C=16 channels and batch-norm, three
stages of N=5 copies of the cell with C = 16, 32, 64, a residual reduction block (stride 2) between
the stages, then BN-ReLU, global average pooling and a linear classifier. Every op of a cell is
ReLU-Conv-BN (convs have no bias; BN is affine), ``avg_pool_3x3`` excludes padding from the average,
``none`` outputs zeros, ``skip_connect`` is the identity. Parameter counts equal NAS-Bench-201's
records for every cell (tested against the ``params_m`` column of the shared table).

``bn=False`` builds the same network with every BatchNorm replaced by the identity (used by
data-free proxies such as synflow); parameter counts then differ from NB201's by the BN affines.
"""

from __future__ import annotations

import torch
from torch import nn

from nasearch.space.arch import EDGES, NONE, NUM_EDGES, OPS, Arch

NUM_CLASSES = {"cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}
INPUT_SIZE = {"cifar10": 32, "cifar100": 32, "ImageNet16-120": 16}


def _bn(channels: int, bn: bool) -> nn.Module:
    """BatchNorm (affine, running statistics) or, with ``bn=False``, the identity."""
    return nn.BatchNorm2d(channels, affine=True, track_running_stats=True) if bn else nn.Identity()


def with_generator(generator: torch.Generator | None, build):
    """Run ``build`` with torch's initialisers drawing from ``generator`` (a fork of the global RNG,
    so the caller's global state is untouched); same generator state, same weights, any process.
    Without a generator ``build`` draws from the global RNG. Used by every space's networks."""
    if generator is None:
        return build()
    seed = int(torch.randint(0, 2**62, (1,), generator=generator).item())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


class ReLUConvBN(nn.Sequential):
    """ReLU, a bias-free conv, BN (NB201's op; also TransNAS-Bench-101's convs and stem)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, bn: bool = True):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            _bn(c_out, bn),
        )


class Zero(nn.Module):
    """The ``none`` op: zeros of the input's shape (only used inside cells, where C_in == C_out)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def make_op(name: str, channels: int, bn: bool = True) -> nn.Module:
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1, 1, 0, bn)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3, 1, 1, bn)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"unknown NB201 operation {name!r}; accepted: {', '.join(OPS)}")


class Cell(nn.Module):
    """One NB201 cell: node j = sum over i < j of op_{i->j}(node i); output = node 3."""

    def __init__(self, arch: Arch, channels: int, bn: bool = True):
        super().__init__()
        self.arch = arch
        self.edges = nn.ModuleList(make_op(OPS[o], channels, bn) for o in arch.ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for dst in (1, 2, 3):
            total = None
            for e in range(NUM_EDGES):
                src, d = EDGES[e]
                if d != dst:
                    continue
                out = self.edges[e](nodes[src])
                total = out if total is None else total + out
            nodes.append(total)  # type: ignore[arg-type]
        return nodes[3]


class ResidualReduction(nn.Module):
    """NB201's ResNet basic block between stages: stride-2 ReLU-Conv-BN x2 plus avgpool+1x1 shortcut."""

    def __init__(self, c_in: int, c_out: int, bn: bool = True):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1, bn)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1, bn)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
            nn.Conv2d(c_in, c_out, 1, stride=1, padding=0, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class NB201Network(nn.Module):
    """NAS-Bench-201 network of one cell. ``forward`` returns logits; ``features`` the pooled vector."""

    def __init__(
        self,
        arch: Arch,
        num_classes: int = 10,
        channels: int = 16,
        cells_per_stage: int = 5,
        bn: bool = True,
    ):
        super().__init__()
        self.arch = arch
        self.num_classes = num_classes
        self.stem = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1, bias=False), _bn(channels, bn))
        layers: list[nn.Module] = []
        c = channels
        for stage in range(3):
            if stage > 0:
                layers.append(ResidualReduction(c, c * 2, bn))
                c *= 2
            layers.extend(Cell(arch, c, bn) for _ in range(cells_per_stage))
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(_bn(c, bn), nn.ReLU(inplace=False))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.lastact(self.cells(self.stem(x)))
        return self.global_pooling(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def build_network(
    arch: Arch | str,
    dataset: str = "cifar10",
    *,
    num_classes: int | None = None,
    bn: bool = True,
    generator: torch.Generator | None = None,
) -> NB201Network:
    """Build the NB201 network of ``arch`` for ``dataset`` (sets the number of classes).

    With ``generator`` the weights are drawn from it (PyTorch's default initialisers, Kaiming-uniform
    for convs and linears, BN weight 1 bias 0), so the same generator state gives the same network in
    any process. Without it, the global torch RNG is used.
    """
    arch = Arch.parse(arch)
    if num_classes is None:
        if dataset not in NUM_CLASSES:
            raise ValueError(f"unknown dataset {dataset!r}; accepted: {', '.join(NUM_CLASSES)}")
        num_classes = NUM_CLASSES[dataset]
    return with_generator(generator, lambda: NB201Network(arch, num_classes=num_classes, bn=bn))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_flops(model: NB201Network, input_size: int = 32) -> float:
    """MFLOPs of one forward pass of one image, NATS-Bench's convention.

    NATS-Bench counts the multiply-accumulates of every conv and linear layer (conv bias would add one
    per output element; NB201 convs have none) plus the classifier's bias. Pooling, BN, ReLU and the
    additions that sum a node's inputs are not counted. ``none`` edges hold no conv and cost nothing.
    The image goes to the model's device: a model on the ``meta`` device is counted from shapes alone.
    """
    total = 0.0
    hooks = []

    def conv_hook(mod: nn.Conv2d, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        kh, kw = mod.kernel_size
        out_elems = out.shape[1] * out.shape[2] * out.shape[3]
        total += out_elems * (mod.in_channels // mod.groups) * kh * kw
        if mod.bias is not None:
            total += out_elems

    def linear_hook(mod: nn.Linear, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        total += mod.in_features * mod.out_features
        if mod.bias is not None:
            total += mod.out_features

    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
    try:
        was_training = model.training
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, 3, input_size, input_size, device=next(model.parameters()).device))
        model.train(was_training)
    finally:
        for h in hooks:
            h.remove()
    return total / 1e6


__all__ = [
    "INPUT_SIZE",
    "NONE",
    "NUM_CLASSES",
    "NB201Network",
    "build_network",
    "count_flops",
    "count_parameters",
]
