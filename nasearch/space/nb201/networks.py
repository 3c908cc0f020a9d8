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

from nasearch.space.cells import EDGES, cell_is_connected
from nasearch.space.nb201.arch import NONE, NUM_EDGES, OPS, SKIP, Arch
from nasearch.space.networks import ReLUConvBN, _bn, with_generator

NUM_CLASSES = {"cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}
INPUT_SIZE = {"cifar10": 32, "cifar100": 32, "ImageNet16-120": 16}


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


def is_identity_cell(arch: Arch) -> bool:
    """Whether the cell of ``arch`` is an exact identity: edge 0 -> 3 is ``skip_connect`` and no other
    path of non-``none`` edges leads from node 0 to node 3 (every other edge's contribution to node 3
    is zeros, and so is its gradient). 341 of the 15,625 cells. The structural form of the test that
    ``az_trainability`` applies to the built network (input gradient equal to the random vector bit
    for bit, :func:`nasearch.proxies.aznas.is_identity_block`), which its tests compare with this one."""
    ops = list(arch.ops)
    if ops[EDGES.index((0, 3))] != SKIP:
        return False
    ops[EDGES.index((0, 3))] = NONE
    return not cell_is_connected(ops)


class NB201Network(nn.Module):
    """NAS-Bench-201 network of one cell. ``forward`` returns logits; ``features`` the pooled vector."""

    # An NB201 cell that is an identity (its only path from input to output a skip_connect on edge
    # 0 -> 3) is a cell whose design collapsed: az_trainability scores such a network NaN, as the
    # AZ-NAS authors' code does (-inf); see nasearch.proxies.aznas, deviation (2).
    identity_block_is_degenerate = True

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

    def primary_blocks(self) -> list[nn.Module]:
        """The network's primary blocks in forward order, for proxies that read block outputs (AZ-NAS):
        the stem, then every module of ``cells`` (the 15 cells and the 2 residual reductions); the head is not one."""
        return [self.stem, *self.cells]

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


__all__ = [
    "INPUT_SIZE",
    "NONE",
    "NUM_CLASSES",
    "NB201Network",
    "build_network",
    "is_identity_cell",
]
