"""SWAP and reg-SWAP (nasearch/proxies/swap.py): the packed distinct-pattern count against obvious
implementations, the proxy on NB201 networks, the regulariser, and the contract kit on every space."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from cheap_archs import PROXY_ARCHS
from contract.test_proxies import ALL_CONV3, ALL_SKIP, MIXED, load_cifar10, run_proxy

from nasearch.proxies import ProxyContext, ProxyError, get_proxy
from nasearch.proxies.swap import (
    MU,
    SAMPLES,
    SIGMA,
    PatternSet,
    count_distinct,
    pack_patterns,
    regulariser,
    swap_from_activations,
    swap_score,
)
from nasearch.space.nb201.networks import build_network
from nasearch.space.networks import count_parameters
from nasearch.testing import ProxyContract, contract_classes

SPACES = ("nb201", "nasbench_macro", "transnas101_micro", "transnas101_macro")


@pytest.fixture(scope="module")
def cifar(cifar10_root):
    return load_cifar10(cifar10_root, 64)


def python_patterns(activations, samples=None) -> set[tuple[bool, ...]]:
    """The obvious definition: one tuple of S booleans per unit, in a Python set."""
    out: set[tuple[bool, ...]] = set()
    for a in activations:
        s = a.shape[0] if samples is None else min(samples, a.shape[0])
        flat = a[:s].reshape(s, -1)
        for u in range(flat.shape[1]):
            out.add(tuple(bool(flat[i, u] > 0) for i in range(s)))
    return out


def few_patterns(s: int, units: int, pool: int, g: torch.Generator) -> torch.Tensor:
    """(s, units) float activations whose units draw their sign pattern from ``pool`` random patterns
    (many duplicates), with random magnitudes and some exact zeros (bit 0)."""
    patterns = torch.rand(pool, s, generator=g) > 0.5
    pick = torch.randint(0, pool, (units,), generator=g)
    signs = patterns[pick].t().float() * 2 - 1  # (s, units) in {-1, 1}
    mags = torch.rand(s, units, generator=g) + 0.01
    x = signs * mags
    x[torch.rand(s, units, generator=g) < 0.05] = 0.0  # exact zeros: pattern bit 0, like a negative
    return x


@pytest.mark.parametrize("s", [1, 3, 8, 13, 16, 20, 21, 63, 64, 65, 100, 130])
def test_packed_codes_equal_iff_patterns_equal(s):
    g = torch.Generator().manual_seed(s)
    for pool in (3, 40, 1000):
        x = few_patterns(s, 300, pool, g)
        codes = pack_patterns(x > 0)
        assert codes.dtype == torch.int64
        assert codes.shape == ((300,) if s <= 64 else (300, -(-s // 64)))
        expected = len(python_patterns([x]))
        assert count_distinct([codes]) == expected
        # the accumulator the proxy uses (a flag table up to 20 samples, torch.unique above), in parts
        patterns = PatternSet(s)
        patterns.add(x[:, :100] > 0)
        patterns.add(x[:, 100:] > 0)
        assert len(patterns) == expected
    # all 2^s patterns for a small s: every one distinct
    if s <= 8:
        grid = torch.tensor([[(k >> i) & 1 for k in range(2 ** s)] for i in range(s)], dtype=torch.bool)
        assert count_distinct([pack_patterns(grid)]) == 2 ** s


@pytest.mark.parametrize("s", [1, 13, 64, 65, 130])
def test_patterns_one_sample_apart_are_distinct(s):
    """A base pattern and its s one-bit variants (every sample, word boundaries included), each unit
    twice: s + 1 patterns; a code that lost or merged any sample's bit would count fewer."""
    base = torch.rand(s, generator=torch.Generator().manual_seed(s)) > 0.5
    variants = base[:, None].repeat(1, s + 1)
    variants[torch.arange(s), torch.arange(s)] ^= True  # column i < s: sample i flipped; column s: base
    bits = torch.cat([variants, variants], dim=1)
    assert count_distinct([pack_patterns(bits)]) == s + 1 == len(python_patterns([bits.float() - 0.5]))
    patterns = PatternSet(s)
    patterns.add(bits)
    assert len(patterns) == s + 1


def test_sample_63_is_the_sign_bit_and_still_distinguishes():
    bits = torch.zeros(64, 3, dtype=torch.bool)
    bits[63, 1] = True
    bits[62, 2] = True
    codes = pack_patterns(bits)
    assert codes[1] < 0 < codes[2] and codes[0] == 0
    assert count_distinct([codes]) == 3


@pytest.mark.parametrize("s", [5, 16, 64, 72])
def test_the_union_over_layers_counts_each_pattern_once(s):
    g = torch.Generator().manual_seed(100 + s)
    a = few_patterns(s, 300, 50, g).reshape(s, 3, 10, 10)
    b = few_patterns(s, 200, 50, g).reshape(s, 2, 10, 10)
    dup = a[:, :1].clone() * 3.0  # a third layer whose units repeat patterns of the first: adds nothing
    layers = [a, b, dup]
    expected = python_patterns(layers)
    assert swap_from_activations(layers) == len(expected)
    assert swap_from_activations(layers) == swap_from_activations([a, b])
    # fewer samples than the tensors hold: the first s' only
    assert swap_from_activations(layers, samples=s - 2) == len(python_patterns(layers, samples=s - 2))
    # a NaN is not > 0: bit 0
    c = a.clone()
    c[0, 0, 0, 0] = float("nan")
    assert swap_from_activations([c]) == len(python_patterns([c]))


def relu_outputs(net: torch.nn.Module, images: torch.Tensor) -> list[torch.Tensor]:
    outs: list[torch.Tensor] = []

    def hook(mod, inputs, out):
        if inputs[0].dim() == 4:
            outs.append(out.detach().clone())

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, torch.nn.ReLU)]
    with torch.no_grad():
        net(images)
    for h in handles:
        h.remove()
    return outs


def test_swap_score_is_the_numpy_row_unique_count_of_every_relu_unit(cifar):
    x = cifar[0][:12]
    net = build_network(MIXED, generator=torch.Generator().manual_seed(0))
    net.train()
    outs = relu_outputs(net, x)
    assert len(outs) > 10
    # independent count: every unit's pattern as a row of 12 bytes (0 or 1), np.unique over the rows
    rows = np.ascontiguousarray(np.concatenate([(o.reshape(12, -1) > 0).numpy().T.astype(np.uint8) for o in outs]))
    expected = np.unique(rows.view(np.dtype((np.void, 12))).ravel()).shape[0]
    net = build_network(MIXED, generator=torch.Generator().manual_seed(0))
    net.train()
    assert swap_score(net, x) == expected
    assert 1 < expected <= 2 ** 12


def test_the_proxy_counts_the_first_sixteen_images_only(cifar):
    x, y = cifar
    assert SAMPLES == 16
    full = run_proxy("swap", MIXED, [(x, y)])
    net = build_network(MIXED, generator=torch.Generator().manual_seed(0))
    net.train()
    assert full == float(swap_score(net, x[:16]))
    # BN statistics are the 16 images': forwarding all 64 and keeping 16 patterns gives another count
    net = build_network(MIXED, generator=torch.Generator().manual_seed(0))
    net.train()
    assert full != float(swap_from_activations(relu_outputs(net, x), samples=16))
    # a batch smaller than S is used whole
    net = build_network(MIXED, generator=torch.Generator().manual_seed(0))
    net.train()
    assert run_proxy("swap", MIXED, [(x[:8], y[:8])]) == float(swap_score(net, x[:8]))


def test_more_relu_conv_paths_give_more_patterns(cifar):
    """The paper's argument: SWAP measures expressivity, the number of distinct sample-wise patterns the
    ReLU units realise; a cell of ReLU-conv3x3-BN edges has far more (and more diverse) ReLU units than
    a cell of skips, whose only ReLUs are the reduction blocks' and the last one."""
    batches = [cifar]
    for seed in (0, 1):
        conv3 = run_proxy("swap", ALL_CONV3, batches, seed=seed)
        mixed = run_proxy("swap", MIXED, batches, seed=seed)
        skip = run_proxy("swap", ALL_SKIP, batches, seed=seed)
        assert conv3 > mixed > skip, (seed, conv3, mixed, skip)
        assert conv3 <= 2 ** SAMPLES


def test_regulariser_by_hand():
    assert regulariser(MU) == 1.0
    assert regulariser(0.0) == pytest.approx(math.exp(-(MU ** 2) / SIGMA))
    assert regulariser(2.0, mu=1.0, sigma=4.0) == pytest.approx(math.exp(-0.25))
    assert regulariser(40.0) == 0.0  # (40 - 1.5)^2 / 1.5 > 745: underflows (see the module docstring)


@pytest.mark.parametrize("arch", [ALL_CONV3, MIXED, ALL_SKIP])
def test_reg_swap_is_swap_times_the_regulariser(arch, cifar):
    batches = [cifar]
    theta = count_parameters(build_network(arch, generator=torch.Generator().manual_seed(0))) / 1e6
    plain = run_proxy("swap", arch, batches)
    assert run_proxy("reg_swap", arch, batches) == pytest.approx(plain * regulariser(theta), rel=1e-12)
    spec = get_proxy("reg_swap:0.5,0.25")
    assert spec.name == "reg_swap" and spec.version != get_proxy("reg_swap").version
    net = build_network(arch, generator=torch.Generator().manual_seed(0))
    net.train()
    got = spec.fn(net, batches, ProxyContext(num_classes=10, generator=torch.Generator().manual_seed(1)))
    assert got == pytest.approx(plain * math.exp(-((theta - 0.5) ** 2) / 0.25), rel=1e-12)


@pytest.mark.parametrize("bad", ["1", "1,2,3", "a,b", "1,0", "1,-2", "nan,1", "1,inf"])
def test_reg_swap_rejects_bad_arguments(bad):
    with pytest.raises(ProxyError, match="reg_swap"):
        get_proxy(f"reg_swap:{bad}")


def test_metadata():
    for name in ("swap", "reg_swap"):
        spec = get_proxy(name)
        assert spec.work == "forward" and spec.higher_is_better
        assert not spec.data_free and not spec.needs_labels and spec.min_batches == 1


globals().update(contract_classes(ProxyContract, ["swap", "reg_swap"], prefix="TestSwap", spaces=SPACES,
                                  archs=PROXY_ARCHS))
