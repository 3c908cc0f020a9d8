"""MeCo and MeCo_opt (nasearch/proxies/meco.py): the correlation/eigenvalue core against numpy, the
properties of lambda_min of a correlation matrix, the layer rule on hand-built networks against a slow
independent sum, the channel sampling of MeCo_opt, a known ordering on NB201, the contract kit on every
space."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from cheap_archs import PROXY_ARCHS
from torch import nn

from nasearch.proxies import ProxyContext, get_proxy
from nasearch.proxies.meco import (
    SAMPLED_CHANNELS,
    constant_rows,
    meco_score,
    min_eigenvalue,
    pearson_matrix,
)
from nasearch.space import get_space
from nasearch.space.nb201.networks import build_network
from nasearch.testing import ProxyContract, contract_classes

ALL_CONV3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
ALL_SKIP = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
MIXED = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


def numpy_lambda_min(fmap: np.ndarray) -> float:
    """The obvious way: c x (h*w) rows, np.corrcoef, the smallest np.linalg.eigvalsh eigenvalue."""
    rows = fmap.reshape(fmap.shape[0], -1).astype(np.float64)
    return float(np.linalg.eigvalsh(np.corrcoef(rows))[0])


def random_map(c: int, h: int, w: int, seed: int, mixing: float = 0.0) -> torch.Tensor:
    """A c x h x w float32 map; ``mixing`` > 0 adds a shared component (correlated channels)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(c, h * w, generator=g)
    if mixing:
        x = x + mixing * torch.randn(1, h * w, generator=g) * torch.rand(c, 1, generator=g)
    return x.reshape(c, h, w)


# ------------------------------------------------------------------------------ the core vs numpy
@pytest.mark.parametrize("c,h,w,mixing", [(5, 4, 4, 0.0), (12, 6, 5, 2.0), (16, 8, 8, 5.0), (2, 3, 3, 0.5)])
def test_pearson_and_lambda_min_match_numpy(c: int, h: int, w: int, mixing: float) -> None:
    fmap = random_map(c, h, w, seed=c * 100 + h, mixing=mixing)
    rows = fmap.reshape(c, -1)
    expected_p = np.corrcoef(rows.double().numpy())
    np.testing.assert_allclose(pearson_matrix(rows).numpy(), expected_p, rtol=0, atol=1e-12)
    assert min_eigenvalue(rows).item() == pytest.approx(numpy_lambda_min(fmap.numpy()), abs=1e-12)


def test_lambda_min_of_a_correlation_matrix_is_between_0_and_1() -> None:
    """P is symmetric PSD with unit diagonal (trace c), so 0 <= lambda_min <= trace / c = 1."""
    for seed in range(20):
        c = 2 + seed % 9
        fmap = random_map(c, 5, 5, seed, mixing=float(seed % 4))
        rows = fmap.reshape(c, -1)
        p = pearson_matrix(rows)
        assert torch.allclose(p, p.T) and torch.equal(p.diagonal(), torch.ones(c, dtype=torch.float64))
        assert p.trace().item() == pytest.approx(c)
        lam = min_eigenvalue(rows).item()
        assert 0.0 <= lam <= 1.0
        assert lam < 1.0  # random channels are never exactly uncorrelated
    # strongly correlated channels push lambda_min towards 0
    assert min_eigenvalue(random_map(8, 6, 6, 0, mixing=50.0).reshape(8, -1)).item() < 0.05


def test_singular_cases_give_exactly_zero() -> None:
    # c >= h*w: the centred rows have rank <= h*w - 1 < c; numpy's eigenvalue is round-off around 0
    fmap = random_map(10, 3, 3, seed=3)
    assert min_eigenvalue(fmap.reshape(10, -1)).item() == 0.0
    assert abs(numpy_lambda_min(fmap.numpy())) < 1e-12
    # a constant channel (numpy: NaN row) makes the layer's term 0, also when constant up to round-off
    fmap = random_map(4, 5, 5, seed=4)
    fmap[2] = 0.0
    assert min_eigenvalue(fmap.reshape(4, -1)).item() == 0.0
    fmap[2] = 0.1 + 1e-8 * torch.randn(5, 5, generator=torch.Generator().manual_seed(0))
    assert bool(constant_rows(fmap.reshape(4, -1))[2])
    assert min_eigenvalue(fmap.reshape(4, -1)).item() == 0.0
    assert not constant_rows(random_map(4, 5, 5, seed=5).reshape(4, -1)).any()


def test_a_sampled_subset_bounds_lambda_min_from_above() -> None:
    """Cauchy interlacing: a principal submatrix's smallest eigenvalue is >= the whole matrix's."""
    fmap = random_map(40, 8, 8, seed=7, mixing=3.0)
    rows = fmap.reshape(40, -1)
    full = min_eigenvalue(rows).item()
    g = torch.Generator().manual_seed(0)
    for _ in range(10):
        pick = torch.randperm(40, generator=g)[:SAMPLED_CHANNELS]
        assert min_eigenvalue(rows[pick]).item() >= full - 1e-12


# ------------------------------------------------------------------------------ the layer rule
class Net(nn.Module):
    """conv -> BN -> in-place ReLU (a Sequential), an Identity, a residual sum, pooling, a classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.block = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(inplace=True))
        self.skip = nn.Identity()
        self.conv = nn.Conv2d(6, 6, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        z = self.conv(y) + self.skip(y)
        return self.fc(self.pool(z).flatten(1))


def test_meco_sums_every_distinct_feature_map_once() -> None:
    torch.manual_seed(0)
    net = Net().train()
    x = torch.randn(1, 3, 7, 7, generator=torch.Generator().manual_seed(1))
    # independently: the distinct 4-d feature maps are conv1's and BN's outputs, the in-place ReLU's
    # (the Sequential returns it again, the Identity passes it on: not counted again), conv2's; the
    # residual sum is computed outside any module; the 1 x 1 pooled map is constant (0)
    with torch.no_grad():
        a = net.block[0](x)
        b = net.block[1](a)
        r = torch.relu(b)
        d = net.conv(r)
    expected = sum(numpy_lambda_min(t[0].numpy()) for t in (a, b, r, d))
    assert meco_score(net, x) == pytest.approx(expected, rel=1e-10)


def test_meco_opt_samples_from_the_generator_and_rescales() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 20, 3, padding=1), nn.Conv2d(20, 5, 1)).train()
    x = torch.randn(1, 3, 9, 9, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        a = net[0](x)[0].reshape(20, -1)
        b = net[1](net[0](x))[0].reshape(5, -1)
    g = torch.Generator().manual_seed(3)
    pick = torch.randperm(20, generator=g)[:SAMPLED_CHANNELS]  # only the 20-channel layer is sampled
    expected = 20 / SAMPLED_CHANNELS * numpy_lambda_min(a[pick].numpy()) + numpy_lambda_min(b.numpy())
    got = meco_score(net, x, torch.Generator().manual_seed(3), sampled=SAMPLED_CHANNELS)
    assert got == pytest.approx(expected, rel=1e-10)
    # another seed draws other channels
    other = meco_score(net, x, torch.Generator().manual_seed(4), sampled=SAMPLED_CHANNELS)
    assert other != got


# ------------------------------------------------------------------------------ on NB201
def nb201_score(name: str, arch: str, seed: int = 0, layout: str = "contiguous", size: int = 32,
                batch: int = 4, image_seed: int | None = None) -> float:
    spec = get_proxy(name)
    net = build_network(arch, "cifar10", bn=spec.bn, generator=torch.Generator().manual_seed(seed))
    net.train()
    images = torch.zeros(batch, 3, size, size)
    if image_seed is not None:
        images = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(image_seed))
    if layout == "channels_last":
        net = net.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    ctx = ProxyContext(num_classes=10, generator=torch.Generator().manual_seed(seed + 1))
    return spec.fn(net, [(images, torch.zeros(batch, dtype=torch.int64))], ctx)


@pytest.mark.parametrize("name", ["meco", "meco_opt"])
def test_registered_as_the_paper_says(name: str) -> None:
    spec = get_proxy(name)
    assert spec.data_free and not spec.needs_labels and spec.higher_is_better and spec.work == "forward"


@pytest.mark.parametrize("name", ["meco", "meco_opt"])
def test_known_ordering_on_nb201(name: str) -> None:
    """More (and better-conditioned) conv feature maps, more positive terms: the all-3x3 cell, the
    best-trained family of NB201, scores above a mixed cell, which scores above the all-skip cell."""
    conv, mixed, skip = (nb201_score(name, a) for a in (ALL_CONV3, MIXED, ALL_SKIP))
    assert conv > mixed > skip > 0


@pytest.mark.parametrize("name", ["meco", "meco_opt"])
def test_same_value_in_channels_last(name: str) -> None:
    """The pass runs in float64: the layouts agree far below float32 round-off (in float32 they
    differ by up to 2e-6 relative on NB201, see the module docstring)."""
    a = nb201_score(name, MIXED)
    b = nb201_score(name, MIXED, layout="channels_last")
    assert math.isfinite(a) and b == pytest.approx(a, rel=1e-10)


def test_float64_pass_is_the_float32_proxy_without_round_off() -> None:
    net = build_network(MIXED, "cifar10", generator=torch.Generator().manual_seed(0))
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    in_float32 = meco_score(net, x)
    in_float64 = nb201_score("meco", MIXED)  # the same weights and X (ctx.generator seeded 1), in float64
    assert in_float64 == pytest.approx(in_float32, rel=1e-5)
    assert in_float64 != in_float32


def test_only_the_image_size_of_the_batches_is_read() -> None:
    a = nb201_score("meco", MIXED)
    assert nb201_score("meco", MIXED, image_seed=5) == a  # other images
    assert nb201_score("meco", MIXED, batch=64, image_seed=6) == a  # another batch size
    assert nb201_score("meco", MIXED, size=16) != a  # one 16 x 16 noise image instead of 32 x 32
    assert nb201_score("meco", MIXED, seed=3) != a  # another network


def test_ranks_nb201_cells_like_their_accuracy(nb201_table) -> None:
    """On 24 sampled cells, MeCo's Spearman rho with CIFAR-10 test accuracy is clearly positive (the
    paper: 0.89 over NATS-Bench-TSS; 0.90 here on 60 cells)."""
    from scipy.stats import spearmanr

    space = get_space("nb201")
    rng = np.random.default_rng(11)
    cells: list = []
    while len(cells) < 24:
        a = space.sample(rng)
        if not space.is_trivial(a) and a not in cells:
            cells.append(a)
    scores = [nb201_score("meco", str(a)) for a in cells]
    acc = [nb201_table.query(a, "cifar10").test_acc for a in cells]
    assert spearmanr(scores, acc)[0] > 0.6


# ------------------------------------------------------------------------------ the contract kit
globals().update(contract_classes(ProxyContract, ["meco", "meco_opt"], prefix="TestMeco",
                                  spaces=("nb201", "nasbench_macro", "transnas101_micro", "transnas101_macro"),
                                  archs=PROXY_ARCHS))
