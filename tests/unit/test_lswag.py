"""L-SWAG (nasearch.proxies.lswag): Eq. (1) against slow, obvious implementations; the layer selection
of Eq. (6)-(7) on known networks; the pattern count against Python sets; the contract on every space."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from cheap_archs import PROXY_ARCHS
from torch import nn

from nasearch.proxies import ProxyContext, get_proxy
from nasearch.proxies.lswag import (
    DEFAULT_RANGE,
    depth_percentages,
    lambda_from_grads,
    lswag_score,
    lswag_terms,
    psi_layers,
    selected_layers,
)
from nasearch.proxies.swap import PatternSet
from nasearch.proxies.zico import zico_from_grads
from nasearch.scoring.worker import in_layout
from nasearch.space.nb201.arch import Arch
from nasearch.space.nb201.networks import NB201Network
from nasearch.testing import ProxyContract, contract_classes

MIXED = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
# the convs on edges 0->1 and 0->2 reach the output only through `none` edges: exact-zero gradients
DEAD_CONVS = "|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|none~1|none~2|"


def small_nb201(arch: str, seed: int = 0) -> nn.Module:
    """An NB201 network of one cell per stage and 4 channels (22 conv/linear layers at most)."""
    torch.manual_seed(seed)
    net = NB201Network(Arch.parse(arch), num_classes=10, channels=4, cells_per_stage=1)
    return net.train()


def batches(n: int, size: int, seed: int = 0, pixels: int = 8) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(size, 3, pixels, pixels, generator=g), torch.randint(0, 10, (size,), generator=g))
            for _ in range(n)]


# ------------------------------------------------------------------------------------------ slow references
def slow_lambda(net: nn.Module, bs, keep_layer) -> float:
    """Eq. (1), left factor, the obvious way: one ``.backward()`` per minibatch, ``.grad`` of every
    conv/linear weight, numpy statistics per weight, a Python loop over the layers."""
    layers = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    grads: list[list[np.ndarray]] = [[] for _ in layers]
    for images, labels in bs:
        net.zero_grad(set_to_none=True)
        F.cross_entropy(net(images), labels).backward()
        for k, m in enumerate(layers):
            g = m.weight.grad
            grads[k].append(np.zeros(m.weight.numel()) if g is None else g.detach().double().flatten().numpy())
    net.zero_grad(set_to_none=True)
    total = 0.0
    for k in range(len(layers)):
        if not keep_layer(k + 1, len(layers)):
            continue
        g = np.stack(grads[k])  # (B, numel)
        sigma = np.sqrt(np.mean((g - g.mean(0)) ** 2, axis=0))
        s = sum(1.0 / v for v in sigma if v != 0)
        if s > 0:
            total += math.log(s)
    return total


def slow_psi(net: nn.Module, images: torch.Tensor, keep_act) -> int:
    """Eq. (7)-(8) the obvious way: a Python set of per-unit tuples of S booleans."""
    acts = [m for m in net.modules() if isinstance(m, (nn.ReLU, nn.GELU))]
    outs: list[tuple[int, torch.Tensor]] = []
    handles = [m.register_forward_hook(lambda mod, i, o, k=k: outs.append((k, o.detach().clone())))
               for k, m in enumerate(acts)]
    with torch.no_grad():
        net(images)
    for h in handles:
        h.remove()
    patterns = set()
    for k, out in outs:
        if keep_act(k + 1, len(acts)):
            flat = (out.reshape(out.shape[0], -1) > 0).t().tolist()
            patterns.update(tuple(row) for row in flat)
    return len(patterns)


def in_range(lo: int, hi: int):
    return lambda layer, n: lo <= 10 * int(layer / n * 100 // (100 / 10)) <= hi  # Eq. (6) as printed


def up_to(hi: int):
    return lambda layer, n: 10 * int(layer / n * 100 // (100 / 10)) <= hi


# ------------------------------------------------------------------------------------------ Lambda
@pytest.mark.parametrize("arch", [MIXED, DEAD_CONVS])
@pytest.mark.parametrize("lo,hi", [(0, 100), (30, 70), (100, 100)])
def test_lambda_matches_a_slow_per_batch_loop(arch, lo, hi):
    net = small_nb201(arch)
    bs = batches(3, 6)
    lam, _ = lswag_terms(net, bs, lo, hi)
    assert lam == pytest.approx(slow_lambda(net, bs, in_range(lo, hi)), rel=1e-9, abs=1e-9)


def test_lambda_drops_zico_mean():
    """Lambda is ZiCo with each weight's E|g| replaced by 1 (Theorem 1): equal to ZiCo on gradients whose
    mean |g| is 1 for every weight; scaling the gradients leaves ZiCo unchanged but not Lambda."""
    g = torch.Generator().manual_seed(0)
    # per-weight gradients over 3 batches with mean |g| = 1 exactly: rows a, b, 3 - a - b >= 0
    a = torch.rand(2, 5, generator=g, dtype=torch.float64)
    b = torch.rand(2, 5, generator=g, dtype=torch.float64)
    per_batch = [[a], [b], [3.0 - a - b]]
    assert torch.allclose(torch.stack([p[0] for p in per_batch]).abs().mean(0), torch.ones(2, 5, dtype=torch.float64))
    assert lambda_from_grads(per_batch) == pytest.approx(zico_from_grads(per_batch), rel=1e-9)
    scaled = [[2.0 * p[0]] for p in per_batch]  # E|g| = 2: ZiCo unchanged, Lambda drops by log 2
    assert zico_from_grads(scaled) == pytest.approx(zico_from_grads(per_batch), rel=1e-9)
    assert lambda_from_grads(scaled) == pytest.approx(lambda_from_grads(per_batch) - math.log(2.0), rel=1e-12)


def test_equal_gradients_have_zero_variance():
    """A weight with the same gradient in all three minibatches is left out (its rounded mean need not
    equal it: 0.1 + 0.1 + 0.1 != 0.3), the others count."""
    same = torch.tensor([0.1, 0.7], dtype=torch.float64)
    per_batch = [[same.clone()], [same.clone()], [torch.tensor([0.1, 0.4], dtype=torch.float64)]]
    sigma = np.std([0.7, 0.7, 0.4])
    assert lambda_from_grads(per_batch) == pytest.approx(math.log(1.0 / sigma), rel=1e-12)
    assert lambda_from_grads([[same], [same]]) == 0.0  # no weight varies: the layer contributes nothing


def test_dead_layers_contribute_nothing():
    """Convs whose gradients are exactly zero (they reach the loss only through `none`) are left out,
    as in ZiCo; the score stays finite."""
    net = small_nb201(DEAD_CONVS)
    lam, psi = lswag_terms(net, batches(2, 6), 0, 100)
    assert math.isfinite(lam) and psi > 0


def test_needs_two_minibatches():
    with pytest.raises(ValueError, match="at least 2 minibatches"):
        lswag_terms(small_nb201(MIXED), batches(1, 4))


# ------------------------------------------------------------------------------------------ Psi
@pytest.mark.parametrize("samples", [1, 5, 63, 64, 65, 130])
def test_pattern_count_matches_a_python_set(samples):
    """Psi is counted by SWAP's pattern set (one counter in the package): the union over tensors."""
    g = torch.Generator().manual_seed(samples)
    x = torch.randn(samples, 3, 4, 5, generator=g)
    x[:, 1] = x[:, 0]  # duplicated units
    x[:, 2, :2] = -1.0  # all-zero patterns
    x[:, 2, 2:] = torch.randn(samples, 1, 1, generator=g)  # one pattern repeated over a channel
    y = torch.randn(samples, 7, generator=g)
    y[:, :3] = x.reshape(samples, -1)[:, :3]
    expected = {tuple(r) for r in (x.reshape(samples, -1) > 0).t().tolist()}
    expected |= {tuple(r) for r in (y > 0).t().tolist()}
    patterns = PatternSet(samples)
    for t in (x, y):
        patterns.add((t > 0).reshape(samples, -1))
    assert len(patterns) == len(expected)


@pytest.mark.parametrize("hi", [0, 50, 100])
def test_psi_matches_a_python_set_on_nb201(hi):
    net = small_nb201(MIXED)
    bs = batches(2, 20)
    _, psi = lswag_terms(net, bs, 0, hi)
    assert psi == slow_psi(net, bs[0][0], up_to(hi))


# ------------------------------------------------------------------------------------------ layer selection
def test_depth_percentages_follow_eq_6():
    for n in range(1, 120):
        assert depth_percentages(n) == [10 * int(layer / n * 100 // (100 / 10)) for layer in range(1, n + 1)]
    assert depth_percentages(10) == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert depth_percentages(4) == [20, 50, 70, 100]
    assert selected_layers(10, 30, 60) == [False, False, True, True, True, True, False, False, False, False]
    assert psi_layers(4, 50) == [True, True, False, False]


class Chain(nn.Module):
    """Ten 1x1 convs, each followed by a ReLU, then a linear classifier: 11 weight layers, 10 ReLUs."""

    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(3 if i == 0 else 6, 6, 1) for i in range(10))
        self.relus = nn.ModuleList(nn.ReLU() for _ in range(10))
        self.fc = nn.Linear(6, 10)

    def forward(self, x):
        for conv, relu in zip(self.convs, self.relus):
            x = relu(conv(x))
        return self.fc(x.mean((2, 3)))


def test_the_layers_picked_on_a_known_network():
    """11 weight layers at percentages 0, 10, ..., 100 (10 * (10 l // 11)): [30, 50] picks convs 4-6;
    the 10 ReLUs at 10, ..., 100: Psi with hi = 50 counts ReLUs 1-5."""
    assert depth_percentages(11) == [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    torch.manual_seed(0)
    net = Chain().train()
    bs = batches(2, 7)
    picked = [k + 1 for k, keep in enumerate(selected_layers(11, 30, 50)) if keep]
    assert picked == [4, 5, 6]  # convs 4, 5, 6 (percentages 30, 40, 50)
    lam, psi = lswag_terms(net, bs, 30, 50)
    assert lam == pytest.approx(slow_lambda(net, bs, lambda layer, n: layer in (4, 5, 6)), rel=1e-9)
    # ReLUs: percentages 10, 20, ..., 100: hi = 50 counts the first five
    assert psi == slow_psi(net, bs[0][0], lambda a, n: a <= 5)
    # the classifier alone: [100, 100]
    lam_fc, _ = lswag_terms(net, bs, 100, 100)
    assert lam_fc == pytest.approx(slow_lambda(net, bs, lambda layer, n: layer == 11), rel=1e-9)


# ------------------------------------------------------------------------------------------ the proxy
def test_registered_and_the_product_of_its_terms():
    spec = get_proxy("lswag")
    assert spec.needs_labels and spec.min_batches == 2 and spec.work == "fwd_bwd" and spec.higher_is_better
    net = small_nb201(MIXED)
    bs = batches(2, 8)
    lam, psi = lswag_terms(net, bs, *DEFAULT_RANGE)
    ctx = ProxyContext(num_classes=10, generator=torch.Generator().manual_seed(1))
    assert spec.fn(small_nb201(MIXED), bs, ctx) == lam * psi == lswag_score(small_nb201(MIXED), bs)


def test_the_same_value_in_channels_last():
    """Psi is a count of exact sign patterns (equal in both layouts unless an activation sits within
    round-off of 0); Lambda equal up to float32 round-off, amplified by 1 / sigma."""
    bs = batches(2, 16, pixels=16)
    lam_a, psi_a = lswag_terms(small_nb201(MIXED), bs)
    net_b, bs_b = in_layout(small_nb201(MIXED), bs, "channels_last")
    assert bs_b[0][0].is_contiguous(memory_format=torch.channels_last)
    lam_b, psi_b = lswag_terms(net_b, bs_b)
    assert abs(psi_a - psi_b) <= 2  # measured: equal
    assert lam_a == pytest.approx(lam_b, rel=1e-3)  # measured: 1.4e-5


globals().update(contract_classes(ProxyContract, ["lswag"], prefix="TestLswag",
                                  spaces=("nb201", "nasbench_macro", "transnas101_micro", "transnas101_macro"),
                                  archs=PROXY_ARCHS))
