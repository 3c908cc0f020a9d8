"""Zero-cost proxies: a contract over every registered proxy, and a reference check per fast path."""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from nasearch.proxies import ProxyContext, get_proxy, network_proxies
from nasearch.proxies.gradsign import (
    gradsign_batched,
    gradsign_loop,
    gradsign_loop_sign_matrix,
    gradsign_sign_matrix,
    gradsign_sign_sums,
)
from nasearch.proxies.naswot import relu_kernel
from nasearch.proxies.synflow import synflow_per_layer
from nasearch.proxies.zico import zico_from_grads
from nasearch.space.nb201.arch import Arch
from nasearch.space.nb201.networks import build_network
from nasearch.testing import ProxyContract, contract_classes

ALL_CONV3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
ALL_SKIP = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
MIXED = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
SMALL_1X1 = "|nor_conv_1x1~0|+|none~0|none~1|+|skip_connect~0|none~1|nor_conv_1x1~2|"
# SMALL_1X1 is an exact identity cell (edge 0->3 its only path): az_trainability rates it NaN by the
# AZ-NAS authors' rule, which it declares (ProxySpec.nan_on) and the contract kit accepts on NB201
POOL_1X1 = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
# convs on edges 0->1 and 0->2 only reach the output through `none` edges: exact-zero gradients
DEAD_CONVS = "|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|none~1|none~2|"

CIFAR_MEAN = np.array([125.3, 123.0, 113.9]) / 255
CIFAR_STD = np.array([63.0, 62.1, 66.7]) / 255


def load_cifar10(root: Path, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first n training images of data_batch_1 (official python pickle layout), normalised."""
    with open(root / "data_batch_1", "rb") as f:
        raw = pickle.load(f, encoding="bytes")
    raw = {k.decode() if isinstance(k, bytes) else k: v for k, v in raw.items()}
    x = np.asarray(raw["data"][:n], dtype=np.float32).reshape(-1, 3, 32, 32) / 255.0
    x = (x - CIFAR_MEAN[None, :, None, None]) / CIFAR_STD[None, :, None, None]
    return torch.tensor(x, dtype=torch.float32), torch.tensor(raw["labels"][:n], dtype=torch.int64)


@pytest.fixture(scope="module")
def cifar(cifar10_root: Path) -> tuple[torch.Tensor, torch.Tensor]:
    return load_cifar10(cifar10_root, 128)


def synthetic_batches(n_batches: int, size: int, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    return [
        (torch.randn(size, 3, 32, 32, generator=g), torch.randint(0, 10, (size,), generator=g))
        for _ in range(n_batches)
    ]


def run_proxy(name: str, arch: str, batches, seed: int = 0, dataset: str = "cifar10") -> float:
    spec = get_proxy(name)
    net = build_network(arch, dataset, bn=spec.bn, generator=torch.Generator().manual_seed(seed))
    net.train()
    ctx = ProxyContext(num_classes=10, generator=torch.Generator().manual_seed(seed + 1))
    return spec.fn(net, batches[: max(spec.min_batches, 1)], ctx)


# ---------------------------------------------------------------------------------------------- contract
PROXIES = [s.name for s in network_proxies()]


def test_every_expected_proxy_is_registered():
    expected = {"gradsign", "zico", "synflow", "snip", "grasp", "fisher", "grad_norm", "jacob_cov",
                "naswot", "zen", "params", "flops"}
    assert expected <= set(PROXIES)


# the kit's contract (nasearch.testing.ProxyContract) for every registered proxy, on the NB201 cells
# above (that every proxy scores every space's networks: tests/contract/test_spaces.py): sane metadata, finite
# and deterministic scores independent of the global RNG, data-free proxies ignore the images
globals().update(contract_classes(ProxyContract, PROXIES, prefix="TestProxy", spaces=("nb201",),
                                  archs={"nb201": (SMALL_1X1, POOL_1X1)}))


# ---------------------------------------------------------------------------------------------- gradsign
ALL_CONV1 = "|nor_conv_1x1~0|+|nor_conv_1x1~0|nor_conv_1x1~1|+|nor_conv_1x1~0|nor_conv_1x1~1|nor_conv_1x1~2|"
MIXED_2 = "|nor_conv_1x1~0|+|skip_connect~0|nor_conv_3x3~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|"
DEEP_ALL_CONV = (ALL_CONV3, ALL_CONV1)


@pytest.mark.parametrize("arch", [ALL_CONV3, ALL_CONV1, MIXED, MIXED_2, SMALL_1X1, POOL_1X1, DEAD_CONVS])
def test_gradsign_batched_matches_the_per_sample_loop(arch, cifar):
    x, y = cifar[0][:16], cifar[1][:16]
    # float64: the batched per-sample gradients are the loop's, so the sign matrices agree
    net = build_network(arch, generator=torch.Generator().manual_seed(3)).double()
    signs_batched = gradsign_sign_matrix(net, x.double(), y)
    signs_loop = gradsign_loop_sign_matrix(net, x.double(), y)
    assert signs_batched.shape == signs_loop.shape
    assert (signs_batched == signs_loop).float().mean().item() >= 0.999
    # float32 (what the proxy runs): scores within 0.1%. Sign entries agree >= 99% only: the float32
    # loop itself flips ~0.5% of the signs of deep all-conv cells relative to float64 (round-off on
    # near-zero gradients), and the batched pass rounds differently.
    net = build_network(arch, generator=torch.Generator().manual_seed(3))
    batched, loop = gradsign_batched(net, x, y), gradsign_loop(net, x, y)
    assert abs(batched - loop) <= 1e-3 * loop
    agree32 = (gradsign_sign_matrix(net, x, y) == gradsign_loop_sign_matrix(net, x, y)).float().mean().item()
    # the bar (>= 99.9% identical signs) holds in float32 on every cell but the deep all-conv
    # ones (99.5-99.7%), whose float32 loop is itself only as faithful to its own float64 run
    assert agree32 >= (0.99 if arch in DEEP_ALL_CONV else 0.999), agree32
    assert batched == float(gradsign_sign_sums(net, x, y).abs().sum())


@pytest.mark.parametrize("key", ["22212202", "12021010"])
def test_gradsign_per_sample_gradients_of_depthwise_convs(key, cifar):
    """NAS-Bench-Macro's inverted residuals use depthwise (grouped) convs: the batched per-sample
    gradients fold the batch into the groups, and must equal the one-sample-at-a-time loop."""
    from nasearch.space import get_space

    space = get_space("nasbench_macro")
    net = space.build_network(space.parse(key), "cifar10", generator=torch.Generator().manual_seed(4)).double()
    assert any(isinstance(m, torch.nn.Conv2d) and m.groups > 1 for m in net.modules())
    x, y = cifar[0][:8].double(), cifar[1][:8]
    signs_batched, signs_loop = gradsign_sign_matrix(net, x, y), gradsign_loop_sign_matrix(net, x, y)
    assert signs_batched.shape == signs_loop.shape
    assert (signs_batched == signs_loop).float().mean().item() >= 0.999


def test_gradsign_batch_64_agreement(cifar):
    x, y = cifar[0][:64], cifar[1][:64]
    net = build_network(POOL_1X1, generator=torch.Generator().manual_seed(5))
    agree = (gradsign_sign_matrix(net, x, y) == gradsign_loop_sign_matrix(net, x, y)).float().mean().item()
    assert agree >= 0.999
    assert gradsign_batched(net, x, y) == pytest.approx(gradsign_loop(net, x, y), rel=1e-3)


def test_gradsign_leaves_the_network_as_it_was(cifar):
    net = build_network(MIXED, generator=torch.Generator().manual_seed(0))
    before = [type(m) for m in net.modules()]
    gradsign_batched(net, cifar[0][:4], cifar[1][:4])
    assert [type(m) for m in net.modules()] == before
    assert all(p.requires_grad for p in net.parameters())


# ---------------------------------------------------------------------------------------------- synflow
def test_synflow_no_overflow_on_the_biggest_cell_and_matches_float64_reference():
    gen_seed = 7
    net = build_network(ALL_CONV3, bn=False, generator=torch.Generator().manual_seed(gen_seed))
    per_layer = synflow_per_layer(net, (32, 32))
    total = sum(per_layer)
    assert math.isfinite(total) and total > 3.4e38  # a float32 computation would overflow here
    # Independent float64 reference: with |weights| and a ones input every ReLU is the identity and R
    # is affine in each layer's weight W_l, so sum(W_l * dR/dW_l) = R(W) - R(W with W_l = 0).
    ref = build_network(ALL_CONV3, bn=False, generator=torch.Generator().manual_seed(gen_seed)).double()
    layers = [m for m in ref.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    ones = torch.ones(1, 3, 32, 32, dtype=torch.float64)
    with torch.no_grad():
        for p in ref.parameters():
            p.abs_()
        r_full = float(ref(ones).sum())
        for idx in (0, 1, 40, len(layers) - 2, len(layers) - 1):
            saved = layers[idx].weight.clone()
            layers[idx].weight.zero_()
            expected = r_full - float(ref(ones).sum())
            layers[idx].weight.copy_(saved)
            assert per_layer[idx] == pytest.approx(expected, rel=1e-6)
    spec = get_proxy("synflow")
    assert spec.data_free and not spec.bn


# ---------------------------------------------------------------------------------------------- naswot
def test_naswot_kernel_properties_and_ordering(cifar):
    x = cifar[0][:32]
    net = build_network(MIXED, generator=torch.Generator().manual_seed(0))
    k = relu_kernel(net, x)
    n_units = k[0, 0]  # N_A, the number of ReLU units: the diagonal, identical for every image
    assert np.allclose(np.diag(k), n_units) and np.allclose(k, k.T) and (k <= n_units).all()
    batches = [(x, cifar[1][:32])]
    assert run_proxy("naswot", ALL_CONV3, batches) > run_proxy("naswot", ALL_SKIP, batches)


def test_naswot_kernel_equals_the_reference_two_matmul_form_in_any_chunking(cifar, monkeypatch):
    # the one-matmul form 2 c c^T - s_i - s_j + units, chunked, is the reference's
    # c c^T + (1 - c)(1 - c)^T exactly (integer counts), whatever the chunk size
    import nasearch.proxies.naswot as naswot_mod

    x = cifar[0][:16]
    net = build_network(MIXED, generator=torch.Generator().manual_seed(0))
    ref = torch.zeros(16, 16, dtype=torch.float64)

    def hook(mod, inputs, out):
        c = (inputs[0].reshape(16, -1) > 0).double()
        ref.add_(c @ c.t() + (1.0 - c) @ (1.0 - c).t())

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, torch.nn.ReLU)]
    with torch.no_grad():
        net(x)
    for h in handles:
        h.remove()
    for units in (1 << 23, 1000, 7):
        monkeypatch.setattr(naswot_mod, "_EXACT_UNITS", units)
        assert np.array_equal(relu_kernel(net, x), ref.numpy()), units


def test_jacob_cov_ordering(cifar):
    batches = [(cifar[0][:32], cifar[1][:32])]
    conv, skip = run_proxy("jacob_cov", ALL_CONV3, batches), run_proxy("jacob_cov", ALL_SKIP, batches)
    assert math.isfinite(conv) and math.isfinite(skip)
    assert conv > skip


# ---------------------------------------------------------------------------------------------- zico
def test_zico_formula_on_hand_made_gradients():
    g1 = [torch.tensor([1.0, 2.0, 0.0]), torch.zeros(2)]
    g2 = [torch.tensor([3.0, 2.0, 0.0]), torch.zeros(2)]
    # layer 0: std = (1, 0, 0) -> only weight 0 kept, mean|g| / std = 2 / 1; layer 1: all std 0 -> skipped
    assert zico_from_grads([g1, g2]) == pytest.approx(math.log(2.0))


def test_zico_two_batches(cifar):
    x, y = cifar
    batches = [(x[:32], y[:32]), (x[32:64], y[32:64])]
    spec = get_proxy("zico")
    assert spec.min_batches == 2
    score = run_proxy("zico", MIXED, batches)
    assert math.isfinite(score)
    with pytest.raises(ValueError, match="2 minibatches"):
        spec.fn(build_network(MIXED), batches[:1], ProxyContext(10, torch.Generator().manual_seed(0)))


# ---------------------------------------------------------------------------------------------- params/flops
def test_params_and_flops_match_the_network_counters():
    from nasearch.space.networks import count_flops, count_parameters

    net = build_network(MIXED)
    assert run_proxy("params", MIXED, []) == pytest.approx(count_parameters(net) / 1e6)
    assert run_proxy("flops", MIXED, []) == pytest.approx(count_flops(net, 32))
    assert Arch.from_string(MIXED).is_connected()
