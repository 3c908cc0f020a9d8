"""AZ-NAS's expressivity, progressivity and trainability proxies (nasearch.proxies.aznas)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from cheap_archs import PROXY_ARCHS
from torch import nn

from nasearch.proxies import ProxyContext, ProxyError, get_proxy
from nasearch.proxies.aznas import (
    _Moments,
    feature_entropy,
    jacobian_moment,
    kaiming_fan_in_init_,
    primary_blocks,
    progressivity_from,
    spectral_norm_estimate,
    trainability_from,
)
from nasearch.scoring.worker import in_layout
from nasearch.space import get_space
from nasearch.space.nb201.networks import NB201Network, ResidualReduction, build_network
from nasearch.testing import ProxyContract, contract_classes

NAMES = ("az_expressivity", "az_progressivity", "az_trainability")
ALL_CONV3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
ALL_SKIP = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
MIXED = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"

globals().update(contract_classes(ProxyContract, NAMES, prefix="TestAZNAS",
                                  spaces=("nb201", "nasbench_macro", "transnas101_micro", "transnas101_macro"),
                                  archs=PROXY_ARCHS))


def numpy_entropy(features: np.ndarray) -> float:
    """The obvious computation: rows = (sample, position), population covariance, eigenvalues."""
    c = features.shape[1]
    rows = np.moveaxis(features.astype(np.float64), 1, -1).reshape(-1, c)
    cov = np.cov(rows, rowvar=False, bias=True)
    lam = np.clip(np.linalg.eigvalsh(cov), 0.0, None)
    p = lam / lam.sum()
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


@pytest.fixture(scope="module")
def cifar64(cifar10_root: Path) -> torch.Tensor:
    from nasearch.data.images import load_images

    return load_images("cifar10", cifar10_root).images[:64].clone()


def _ctx(seed: int = 1) -> ProxyContext:
    return ProxyContext(num_classes=10, generator=torch.Generator().manual_seed(seed))


def _nb201(name: str, arch: str, images: torch.Tensor, layout: str = "contiguous") -> float:
    net = build_network(arch, "cifar10", generator=torch.Generator().manual_seed(0)).train()
    net, batches = in_layout(net, [(images, torch.zeros(len(images), dtype=torch.int64))], layout)
    return get_proxy(name).fn(net, batches, _ctx())


# ---------------------------------------------------------------------------------------------- expressivity
def test_feature_entropy_matches_numpy():
    g = torch.Generator().manual_seed(0)
    mix = torch.randn(6, 6, generator=g)
    x = torch.einsum("dc,ndhw->nchw", mix, torch.randn(4, 6, 5, 5, generator=g)) + 3.0  # correlated, off-centre
    assert feature_entropy(x) == pytest.approx(numpy_entropy(x.numpy()), abs=1e-10)
    # the same tensor in channels_last memory: the same rows, the same value
    assert feature_entropy(x.contiguous(memory_format=torch.channels_last)) == pytest.approx(feature_entropy(x), abs=1e-12)


def test_isotropic_features_give_log_c_and_rank_one_features_zero():
    g = torch.Generator().manual_seed(1)
    c = 8
    iso = torch.randn(64, c, 16, 16, generator=g)
    assert feature_entropy(iso) == pytest.approx(math.log(c), abs=2e-3)
    assert feature_entropy(iso) <= math.log(c)
    field = torch.randn(64, 1, 16, 16, generator=g)
    direction = torch.randn(1, c, 1, 1, generator=g)
    assert abs(feature_entropy(field * direction)) < 1e-6  # one direction: a single non-zero eigenvalue
    # scaling the features changes nothing (the spectrum is normalised)
    assert feature_entropy(7.0 * iso) == pytest.approx(feature_entropy(iso), abs=1e-8)
    assert math.isnan(feature_entropy(torch.zeros(2, c, 4, 4)))  # constant features: no distribution


def test_moments_merged_over_calls_equal_one_covariance():
    g = torch.Generator().manual_seed(2)
    a, b = torch.randn(300, 5, generator=g, dtype=torch.float64), torch.randn(200, 5, generator=g, dtype=torch.float64) + 2.0
    m = _Moments()
    m.add(a)
    m.add(b)
    rows = torch.cat([a, b]).numpy()
    np.testing.assert_allclose(m.covariance().numpy(), np.cov(rows, rowvar=False, bias=True), atol=1e-12)


# ---------------------------------------------------------------------------------------------- progressivity
def test_progressivity_is_the_smallest_step():
    assert progressivity_from([1.0, 1.5, 1.2, 2.0]) == pytest.approx(-0.3)
    assert progressivity_from([0.5, 1.0, 1.75]) == pytest.approx(0.5)
    assert math.isnan(progressivity_from([1.0, float("nan"), 2.0]))
    with pytest.raises(ProxyError):
        progressivity_from([1.0])


def test_expressivity_and_progressivity_equal_a_hand_run_of_the_blocks(cifar64):
    """Independent of the hooks: run the stem and every module of ``cells`` by hand after the same
    re-initialisation, entropies in numpy; the proxies' sum and smallest step."""
    net = build_network(MIXED, "cifar10", generator=torch.Generator().manual_seed(0)).train()
    gen = torch.Generator().manual_seed(1)
    noise = torch.randn(cifar64.shape, generator=gen)  # the proxies' inputs: noise of the batch's shape, first
    kaiming_fan_in_init_(net, gen)
    entropies = []
    with torch.no_grad():
        h = net.stem(noise)
        entropies.append(numpy_entropy(h.numpy()))
        for block in net.cells:
            h = block(h)
            entropies.append(numpy_entropy(h.numpy()))
    assert len(entropies) == 18
    assert _nb201("az_expressivity", MIXED, cifar64) == pytest.approx(sum(entropies), rel=1e-9)
    steps = [b - a for a, b in zip(entropies[:-1], entropies[1:])]
    assert _nb201("az_progressivity", MIXED, cifar64) == pytest.approx(min(steps), abs=1e-9)


# ---------------------------------------------------------------------------------------------- trainability
def test_trainability_formula():
    assert trainability_from([1.0]) == 0.0
    assert trainability_from([1.0, 2.0, 0.5]) == pytest.approx((0.0 - 0.5 - 0.5) / 3)
    assert trainability_from([1.0, 0.0]) == -math.inf


def test_estimate_of_a_linear_block_is_its_weight_times_the_vectors_gram():
    """A 1x1 conv y = W x: J^T v at each position is W^T v_p, so M = W^T (1/P sum_p v_p v_p^T)
    exactly, whose largest singular value tends to sigma_max(W) as P grows."""
    g = torch.Generator().manual_seed(3)
    conv = nn.Conv2d(6, 4, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(4, 6, 1, 1, generator=g))
    w = conv.weight.detach()[:, :, 0, 0].double()
    x = torch.randn(16, 6, 32, 32, generator=g).requires_grad_(True)
    y = conv(x)
    v = torch.randint(0, 2, y.shape, generator=g).float() * 2 - 1
    (gin,) = torch.autograd.grad(y, x, v)
    moment, count = jacobian_moment(gin, v)
    vrows = v.permute(0, 2, 3, 1).reshape(-1, 4).double()
    assert count == 16 * 32 * 32
    np.testing.assert_allclose((moment / count).numpy(), (w.t() @ (vrows.t() @ vrows / count)).numpy(), atol=1e-6)
    sigma = spectral_norm_estimate(moment, count)
    assert sigma == pytest.approx(float(torch.linalg.matrix_norm(w, ord=2)), rel=0.03)


def test_estimate_of_a_strided_block_rearranges_the_input_space_to_depth():
    """A 2x2 stride-2 conv: output position p sees the 2x2 input patch under it; after
    pixel_unshuffle(2) the input gradient at p is W_mat^T v_p with W_mat the (C_out x C_in*4) weight
    in pixel_unshuffle's channel order (c*4 + 2i + j), so M = W_mat^T (V^T V / P)."""
    g = torch.Generator().manual_seed(4)
    conv = nn.Conv2d(3, 5, 2, stride=2, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(5, 3, 2, 2, generator=g))
    w_mat = conv.weight.detach().reshape(5, 12).double()
    x = torch.randn(8, 3, 16, 16, generator=g).requires_grad_(True)
    y = conv(x)
    v = torch.randint(0, 2, y.shape, generator=g).float() * 2 - 1
    (gin,) = torch.autograd.grad(y, x, v)
    moment, count = jacobian_moment(gin, v)
    assert moment.shape == (12, 5) and count == 8 * 8 * 8
    vrows = v.permute(0, 2, 3, 1).reshape(-1, 5).double()
    np.testing.assert_allclose((moment / count).numpy(), (w_mat.t() @ (vrows.t() @ vrows / count)).numpy(), atol=1e-6)
    # odd input side: zero-padded to the next multiple before the rearrangement
    moment_odd, count_odd = jacobian_moment(F.pad(gin, (0, -1, 0, -1)), v)
    assert moment_odd.shape == (12, 5) and count_odd == count


def test_trainability_equals_a_hand_computation(cifar64):
    """Independent of the hooks: each module of ``cells`` run by hand on a detached copy of the
    previous output, the same generator draws (re-initialisation, then one Rademacher vector per
    block in block order), the per-position outer products summed by einsum."""
    images = cifar64[:16]
    net = build_network(MIXED, "cifar10", generator=torch.Generator().manual_seed(0)).train()
    gen = torch.Generator().manual_seed(1)
    noise = torch.randn(images.shape, generator=gen)  # the proxies' inputs: noise of the batch's shape, first
    kaiming_fan_in_init_(net, gen)
    for p in net.parameters():
        p.requires_grad_(False)
    pairs = []
    with torch.enable_grad():
        h = net.stem(noise)
        for block in net.cells:
            x = h.detach().requires_grad_(True)
            h = block(x)
            pairs.append((x, h))
        vectors = [torch.randint(0, 2, y.shape, generator=gen).float() * 2 - 1 for _, y in pairs]
        terms = []
        for (x, y), v in zip(pairs, vectors):
            (gin,) = torch.autograd.grad(y, x, v)
            if gin.shape[-1] != v.shape[-1]:
                gin = F.pixel_unshuffle(gin, gin.shape[-1] // v.shape[-1])
            m = torch.einsum("nihw,nohw->io", gin.double(), v.double()) / (v.shape[0] * v.shape[2] * v.shape[3])
            sigma = float(torch.linalg.svdvals(m).max())
            terms.append(-sigma - 1 / sigma + 2)
    assert len(terms) == 17
    assert _nb201("az_trainability", MIXED, images) == pytest.approx(sum(terms) / len(terms), rel=1e-9)


def test_skip_only_cells_scale_the_features_and_are_ranked_below_conv_cells(cifar64):
    """The paper's argument on cells that only add their input (node 3 = 4 x input): no gain of
    expressivity within a stage (a scaled copy has the same spectrum) and a Jacobian norm of 4, far
    from 1; 3x3-conv cells gain expressivity and keep the norm nearer 1."""
    images = cifar64[:32]
    skip = {n: _nb201(n, ALL_SKIP, images) for n in NAMES}
    conv = {n: _nb201(n, ALL_CONV3, images) for n in NAMES}
    for n in NAMES:
        assert conv[n] > skip[n], (n, conv[n], skip[n])
    assert skip["az_progressivity"] < 0  # the reductions lower the entropy, the cells keep it
    assert skip["az_trainability"] < -2.0  # sigma ~ 4 (-4 - 1/4 + 2 = -2.25) in 15 of 17 blocks


def test_the_same_scores_in_channels_last_on_cifar(cifar64):
    images = cifar64[:32]
    for n in NAMES:
        a = _nb201(n, MIXED, images, "contiguous")
        b = _nb201(n, MIXED, images, "channels_last")
        assert abs(a - b) <= get_proxy(n).tolerance * abs(a), (n, a, b)


# ---------------------------------------------------------------------------------------------- blocks
def test_primary_blocks_of_each_space():
    net = build_network(MIXED, "cifar10", generator=torch.Generator().manual_seed(0))
    assert isinstance(net, NB201Network)
    blocks = primary_blocks(net)
    assert len(blocks) == 18 and blocks[0] is net.stem and blocks[1:] == list(net.cells)
    assert sum(isinstance(b, ResidualReduction) for b in blocks) == 2
    for name in ("nasbench_macro", "transnas101_micro", "transnas101_macro"):
        space = get_space(name)
        arch = space.sample(np.random.default_rng(0))
        net = space.build_network(arch, space.networks_for()[0], generator=torch.Generator().manual_seed(0))
        blocks = primary_blocks(net)
        body = list(net.features) if name == "nasbench_macro" else list(net.encoder.layers)
        stem = net.stem if name == "nasbench_macro" else net.encoder.stem
        assert blocks == [stem, *body]


def test_unknown_networks_are_refused():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    with pytest.raises(ProxyError, match="primary blocks"):
        primary_blocks(net)
    batch = [(torch.randn(2, 3, 8, 8), torch.zeros(2, dtype=torch.int64))]
    for n in NAMES:
        with pytest.raises(ProxyError):
            get_proxy(n).fn(net, batch, _ctx())


def test_macro_identity_blocks_and_jigsaw_tiles_are_scored():
    """NAS-Bench-Macro: a block that returns its input (Jacobian I) is a block like the others;
    TransNAS-Bench-101 jigsaw: the encoder runs once per tile, the 9 calls pooled."""
    space = get_space("nasbench_macro")
    arch = space.parse("01200100")  # identity blocks at layers 0, 3, 4, 6 and 7
    net = space.build_network(arch, "cifar10", generator=torch.Generator().manual_seed(0)).train()
    batch = [(torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(0)), torch.zeros(8, dtype=torch.int64))]
    for n in NAMES:
        assert math.isfinite(get_proxy(n).fn(net, batch, _ctx())), n
    space = get_space("transnas101_micro")
    arch = space.sample(np.random.default_rng(3))
    while space.is_trivial(arch):
        arch = space.sample(np.random.default_rng(4))
    net = space.build_network(arch, "jigsaw", generator=torch.Generator().manual_seed(0)).train()
    batch = [(torch.randn(2, 3, 255, 255, generator=torch.Generator().manual_seed(0)), torch.zeros(2, dtype=torch.int64))]
    for n in NAMES:
        assert math.isfinite(get_proxy(n).fn(net, batch, _ctx())), n


def test_the_three_proxies_are_registered_as_documented():
    for n in NAMES:
        spec = get_proxy(n)
        assert spec.higher_is_better and not spec.needs_labels and spec.data_free and spec.bn and spec.version == "2"
        assert spec.work == ("fwd_bwd" if n == "az_trainability" else "forward")


def test_the_inputs_are_noise_drawn_from_the_generator_not_the_images(cifar64):
    """The reference feeds N(0, 1) noise; the batch's values are never read (data-free)."""
    for n in NAMES:
        assert get_proxy(n).data_free
        a = _nb201(n, MIXED, cifar64[:16])
        b = _nb201(n, MIXED, torch.zeros_like(cifar64[:16]))
        assert a == b, n
