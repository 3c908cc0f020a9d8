"""TE-NAS's indicators (nasearch/proxies/tenas.py): the NTK against closed forms (linear model, one
hidden layer) and against an independent Jacobian through train-mode BatchNorm, the singular cases,
the region crossings against a slow per-point Python count and a closed form, known orderings on
NB201, the data-free contract of tenas_lr, the contract kit on every space."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from cheap_archs import PROXY_ARCHS
from torch import nn

from nasearch.proxies import ProxyContext, get_proxy
from nasearch.proxies.tenas import (
    LR_POINTS,
    condition_number,
    ntk_condition_number,
    ntk_gram,
    ntk_jacobian,
    ntk_parameters,
    segment_crossings,
    segment_inputs,
)
from nasearch.space import get_space
from nasearch.space.nb201.networks import build_network
from nasearch.testing import ProxyContract, contract_classes

ALL_CONV3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
ALL_SKIP = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
MIXED = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def set_linear(layer: nn.Linear, seed: int) -> None:
    g = gen(seed)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(layer.weight.shape, generator=g))
        layer.bias.copy_(torch.randn(layer.bias.shape, generator=g))


# ------------------------------------------------------------------------------ NTK: closed forms
def test_ntk_of_a_linear_model_in_closed_form() -> None:
    """f(x) = W x + b with C outputs, s = sum of f: ds/dW = 1 x^T, ds/db = 1, so Theta = C (X X^T + 1)."""
    lin = nn.Linear(5, 3)
    set_linear(lin, 0)
    x = torch.randn(6, 5, generator=gen(1))
    theta = ntk_gram(ntk_jacobian(lin, x))
    xd = x.double()
    expected = 3.0 * (xd @ xd.T + 1.0)
    torch.testing.assert_close(theta, expected, rtol=1e-6, atol=1e-6)
    eig = np.linalg.eigvalsh(expected.numpy())
    assert ntk_condition_number(lin, x) == pytest.approx(eig[-1] / eig[0], rel=1e-6)


def test_ntk_of_a_one_hidden_layer_relu_network_in_closed_form() -> None:
    """f(x) = W2 relu(W1 x + b1) + b2, s = 1^T f, v = W2^T 1, d = 1[W1 x + b1 > 0], h = relu(...):
    Theta_ij = C (h_i.h_j + 1) + (v*d_i).(v*d_j) (x_i.x_j + 1)."""
    first, second = nn.Linear(4, 7), nn.Linear(7, 3)
    set_linear(first, 2)
    set_linear(second, 3)
    net = nn.Sequential(first, nn.ReLU(), second)
    x = torch.randn(5, 4, generator=gen(4))
    xd = x.double()
    z = xd @ first.weight.double().T + first.bias.double()
    h, d = z.clamp(min=0), (z > 0).double()
    v = second.weight.double().sum(0)
    vd = v * d
    expected = 3.0 * (h @ h.T + 1.0) + (vd @ vd.T) * (xd @ xd.T + 1.0)
    torch.testing.assert_close(ntk_gram(ntk_jacobian(net, x)), expected, rtol=1e-5, atol=1e-5)


class BNNet(nn.Module):
    """conv -> BN -> ReLU -> conv -> BN -> global pooling -> linear (ends in BN: the TransNAS case)."""

    def __init__(self, relu_last: bool = False) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                                  nn.Conv2d(4, 5, 3, padding=1, bias=False), nn.BatchNorm2d(5))
        self.last = nn.ReLU() if relu_last else nn.Identity()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(5, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.last(self.body(x))).flatten(1))


def make_bn_net(seed: int, relu_last: bool = False) -> BNNet:
    torch.manual_seed(seed)  # module initialisers; the test does not rely on the global state otherwise
    net = BNNet(relu_last).train()
    g = gen(seed + 100)
    with torch.no_grad():  # non-trivial BN affines, so every parameter matters
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(1 + 0.3 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.3 * torch.randn(m.bias.shape, generator=g))
    return net


def test_jacobian_through_train_mode_batchnorm_matches_an_independent_one() -> None:
    """Rows of J are the gradients of each image's summed logits through the batch's BN statistics:
    torch.autograd.functional.jacobian of theta -> (s_1, ..., s_N) with functional_call agrees, and
    the row of image 0 differs from its gradient when it is passed alone (the batch couples them)."""
    from torch.func import functional_call

    net = make_bn_net(0, relu_last=True)
    x = torch.randn(6, 3, 5, 5, generator=gen(1))
    names = [n for n, p in net.named_parameters()]
    params = tuple(p.detach().clone() for p in ntk_parameters(net))
    buffers = {n: b.clone() for n, b in net.named_buffers()}

    def outputs(*ps):
        return functional_call(net, ({**dict(zip(names, ps)), **buffers},), (x,)).sum(1)

    jac = torch.autograd.functional.jacobian(outputs, params)
    expected = torch.cat([j.reshape(6, -1) for j in jac], 1)
    got = ntk_jacobian(net, x)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    alone = ntk_jacobian(net, x[:1])[0]
    assert not torch.allclose(alone, got[0], rtol=1e-3, atol=1e-5)


def test_every_parameter_keeps_the_kernel_of_a_bn_ending_network_regular() -> None:
    """A network whose features end in a BN (TransNAS-Bench-101's encoders): in train mode the pooled
    features of a batch sum to N times the BN shifts, so sum_i s_i does not depend on the weights
    (their columns of J sum to 0 over the batch: Theta restricted to them is singular), while the BN
    shifts and the classifier bias carry that direction and kappa_N over every parameter is finite."""
    net = make_bn_net(3)
    with torch.no_grad():
        net.body[4].bias.zero_()  # the initial shift: the weights' columns then sum to exactly 0
    x = torch.randn(8, 3, 5, 5, generator=gen(4))
    jac = ntk_jacobian(net, x)
    is_weight = torch.cat([torch.full((p.numel(),), n.endswith("weight")) for n, p in net.named_parameters()])
    col_sums = jac.sum(0)
    assert col_sums[is_weight].abs().max() <= 1e-4 * jac[:, is_weight].abs().max()
    assert col_sums[~is_weight].abs().max() > 1e-2
    assert math.isnan(condition_number(ntk_gram(jac[:, is_weight])))
    assert math.isfinite(condition_number(ntk_gram(jac)))


def test_condition_number_and_its_singular_cases() -> None:
    assert condition_number(torch.diag(torch.tensor([1.0, 2.0, 4.0], dtype=torch.float64))) == pytest.approx(4.0)
    assert math.isnan(condition_number(torch.diag(torch.tensor([0.0, 2.0], dtype=torch.float64))))
    assert math.isnan(condition_number(torch.diag(torch.tensor([1e-12, 2.0], dtype=torch.float64))))
    assert math.isnan(condition_number(torch.tensor([[1.0, float("inf")], [float("inf"), 1.0]], dtype=torch.float64)))
    assert math.isnan(condition_number(torch.zeros(3, 3, dtype=torch.float64)))


def test_a_repeated_image_makes_the_ntk_singular_and_the_score_nan() -> None:
    spec = get_proxy("tenas_ntk")
    net = build_network(MIXED, "cifar10", generator=gen(0)).train()
    images = torch.randn(6, 3, 32, 32, generator=gen(1))
    images[5] = images[2]
    ctx = ProxyContext(num_classes=10, generator=gen(1))
    assert math.isnan(spec.fn(net, [(images, torch.zeros(6, dtype=torch.int64))], ctx))


# ------------------------------------------------------------------------------ regions: slow counts, closed form
def frozen_bn_patterns(net: nn.Sequential, stats: torch.Tensor, points: torch.Tensor) -> list[tuple[int, ...]]:
    """For each point, the signs (0/1) of the inputs of every ReLU of a conv/BN/ReLU ``nn.Sequential``,
    every BN normalising with the batch statistics of ``stats``, computed layer by layer by hand in
    float64 (no module's forward is called)."""
    layers: list[torch.Tensor] = []
    s, p = stats.double(), points.double()
    for m in net:
        if isinstance(m, nn.BatchNorm2d):
            shape = (1, -1, 1, 1)
            mean = s.mean((0, 2, 3)).reshape(shape)
            std = torch.sqrt(s.var((0, 2, 3), unbiased=False).reshape(shape) + m.eps)
            w, b = m.weight.detach().double().reshape(shape), m.bias.detach().double().reshape(shape)
            s, p = (s - mean) / std * w + b, (p - mean) / std * w + b
        elif isinstance(m, nn.ReLU):
            layers.append((p > 0).reshape(p.shape[0], -1))
            s, p = s.clamp(min=0), p.clamp(min=0)
        else:
            assert isinstance(m, nn.Conv2d) and m.bias is None
            w = m.weight.detach().double()
            s = nn.functional.conv2d(s, w, None, m.stride, m.padding)
            p = nn.functional.conv2d(p, w, None, m.stride, m.padding)
    codes = torch.cat(layers, 1).int().tolist()
    return [tuple(row) for row in codes]


def small_conv_net(seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.Conv2d(4, 3, 3, padding=1, bias=False), nn.BatchNorm2d(3), nn.ReLU()).train()


def test_crossings_match_a_slow_per_point_python_count() -> None:
    net = small_conv_net(0)
    g = gen(1)
    stats = torch.randn(20, 3, 4, 4, generator=g)
    a, b = torch.randn(2, 3, 4, 4, generator=g)
    for n in (300, 10000):
        t = torch.linspace(0, 1, n).reshape(-1, 1, 1, 1)
        points = a + t * (b - a)
        patterns = frozen_bn_patterns(net, stats, points)
        steps = [sum(u != v for u, v in zip(p, q)) for p, q in zip(patterns, patterns[1:])]
        assert segment_crossings(net, stats, points) == sum(steps) > 0
    # dense enough that every step changes at most one unit, the regions on the segment (distinct
    # patterns, a Python set) are exactly 1 + the crossings
    assert max(steps) == 1 and len(set(patterns)) == 1 + sum(steps)
    # the BN modules are put back, their running statistics untouched
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) == 2 and all(torch.equal(m.running_mean, torch.zeros_like(m.running_mean)) for m in bns)


def test_crossings_of_one_hidden_layer_in_closed_form() -> None:
    """Without BN, one hidden layer's pre-activations are affine along the segment: each unit crosses
    0 at most once, exactly when its signs at the two ends differ."""
    torch.manual_seed(5)
    net = nn.Sequential(nn.Conv2d(3, 64, 1), nn.ReLU(), nn.Flatten(), nn.Linear(64 * 4, 2))
    g = gen(6)
    a, b = torch.randn(2, 3, 2, 2, generator=g)
    t = torch.linspace(0, 1, LR_POINTS).reshape(-1, 1, 1, 1)
    with torch.no_grad():
        za, zb = net[0](a[None]), net[0](b[None])
    expected = int(((za > 0) != (zb > 0)).sum())
    assert segment_crossings(net, torch.randn(8, 3, 2, 2, generator=g), a + t * (b - a)) == expected > 10


class TwoReLUsOnOneTensor(nn.Module):
    def __init__(self, copy: bool) -> None:
        super().__init__()
        torch.manual_seed(7)
        self.conv = nn.Conv2d(3, 8, 1)
        self.r1, self.r2 = nn.ReLU(), nn.ReLU()
        self.copy = copy

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return self.r1(y) + self.r2(y.clone() if self.copy else y)


def test_a_tensor_fed_to_several_relus_is_counted_once() -> None:
    g = gen(8)
    a, b = torch.randn(2, 3, 3, 3, generator=g)
    t = torch.linspace(0, 1, 500).reshape(-1, 1, 1, 1)
    points = a + t * (b - a)
    once = segment_crossings(TwoReLUsOnOneTensor(copy=False), points[:4], points)
    twice = segment_crossings(TwoReLUsOnOneTensor(copy=True), points[:4], points)
    assert once > 0 and twice == 2 * once


def test_segment_inputs_come_from_the_generator() -> None:
    stats, points = segment_inputs(4, gen(0))
    g = gen(0)
    assert torch.equal(stats, torch.randn(256, 3, 4, 4, generator=g))
    ends = torch.randn(2, 3, 4, 4, generator=g)
    assert points.shape == (LR_POINTS, 3, 4, 4)
    torch.testing.assert_close(points[0], ends[0])
    torch.testing.assert_close(points[-1], ends[1])


# ------------------------------------------------------------------------------ on NB201
def nb201_score(name: str, arch: str, seed: int = 0, batch: int = 8, size: int = 32, image_seed: int = 1) -> float:
    spec = get_proxy(name)
    net = build_network(arch, "cifar10", bn=spec.bn, generator=gen(seed)).train()
    images = torch.randn(batch, 3, size, size, generator=gen(image_seed))
    ctx = ProxyContext(num_classes=10, generator=gen(seed + 1))
    return spec.fn(net, [(images, torch.zeros(batch, dtype=torch.int64))], ctx)


def test_registered_as_the_paper_says() -> None:
    ntk, lr = get_proxy("tenas_ntk"), get_proxy("tenas_lr")
    assert not ntk.higher_is_better and not ntk.needs_labels and not ntk.data_free and ntk.work == "per_sample"
    assert lr.higher_is_better and lr.data_free and not lr.needs_labels and lr.work == "forward"
    assert ntk.bn and lr.bn


def test_more_relu_conv_paths_cut_more_regions_on_nb201() -> None:
    conv, mixed, skip = (nb201_score("tenas_lr", a) for a in (ALL_CONV3, MIXED, ALL_SKIP))
    assert conv > mixed > skip > 1


def test_the_all_conv3_cell_is_better_conditioned_than_the_all_skip_cell() -> None:
    """The paper's Figure 1: lower kappa_N, higher accuracy (the all-skip cell trains worst)."""
    conv, skip = (nb201_score("tenas_ntk", a, batch=16) for a in (ALL_CONV3, ALL_SKIP))
    assert 1.0 < conv < skip


def test_tenas_lr_reads_only_the_image_side() -> None:
    a = nb201_score("tenas_lr", MIXED)
    assert nb201_score("tenas_lr", MIXED, image_seed=5) == a
    assert nb201_score("tenas_lr", MIXED, batch=3, image_seed=6) == a
    assert nb201_score("tenas_lr", MIXED, seed=3) != a  # another network and generator
    # the side of the inputs is max(4, H // 16): 4 for 32 and 64 px (the same draws), 8 for 128 px
    assert nb201_score("tenas_lr", MIXED, batch=2, size=64) == a
    assert nb201_score("tenas_lr", MIXED, batch=2, size=128) != a


def test_tenas_ntk_uses_the_first_32_images() -> None:
    a = nb201_score("tenas_ntk", ALL_SKIP, batch=32)
    images = torch.randn(40, 3, 32, 32, generator=gen(1))
    assert torch.equal(images[:32], torch.randn(32, 3, 32, 32, generator=gen(1)))
    spec = get_proxy("tenas_ntk")
    net = build_network(ALL_SKIP, "cifar10", generator=gen(0)).train()
    ctx = ProxyContext(num_classes=10, generator=gen(1))
    assert spec.fn(net, [(images, torch.zeros(40, dtype=torch.int64))], ctx) == a


def test_region_count_ranks_nb201_cells_like_their_accuracy(nb201_table) -> None:
    """On 12 sampled cells tenas_lr's Spearman rho with CIFAR-10 test accuracy is clearly positive
    (0.82 on 20 cells through the scorer)."""
    from scipy.stats import spearmanr

    space = get_space("nb201")
    rng = np.random.default_rng(5)
    cells: list = []
    while len(cells) < 12:
        c = space.sample(rng)
        if not space.is_trivial(c) and c not in cells:
            cells.append(c)
    scores = [nb201_score("tenas_lr", str(c)) for c in cells]
    acc = [nb201_table.query(c, "cifar10").test_acc for c in cells]
    assert spearmanr(scores, acc)[0] > 0.5


# ------------------------------------------------------------------------------ the contract kit
SPACES = ("nb201", "nasbench_macro", "transnas101_micro", "transnas101_macro")
LR_ARCHS = {**PROXY_ARCHS, "nasbench_macro": ("10010001", "20000100")}
"""tenas_lr passes 4096 inputs: the contract's seeded NAS-Bench-Macro picks cost 2 and 8 s a call in the
contiguous layout (depthwise convs on 4 x 4 maps), these two 0.6 s and hold every block code."""

globals().update(contract_classes(ProxyContract, ["tenas_ntk"], prefix="TestTenas", spaces=SPACES, archs=PROXY_ARCHS))
globals().update(contract_classes(ProxyContract, ["tenas_lr"], prefix="TestTenas", spaces=SPACES, archs=LR_ARCHS))
