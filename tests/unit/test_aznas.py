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
    IDENTITY_DEGENERATE,
    _Moments,
    block_sigmas,
    feature_entropy,
    is_identity_block,
    jacobian_moment,
    kaiming_fan_in_init_,
    primary_blocks,
    progressivity_from,
    spectral_norm_estimate,
    trainability_from,
)
from nasearch.scoring.engine import score_cells
from nasearch.scoring.worker import in_layout
from nasearch.space import get_space
from nasearch.space.nb201.networks import NB201Network, ResidualReduction, build_network, is_identity_cell
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
        version = "3" if n == "az_trainability" else "2"  # 3: the identity-block rule (issue 37)
        assert spec.higher_is_better and not spec.needs_labels and spec.data_free and spec.bn and spec.version == version
        assert spec.work == ("fwd_bwd" if n == "az_trainability" else "forward")


def test_the_inputs_are_noise_drawn_from_the_generator_not_the_images(cifar64):
    """The reference feeds N(0, 1) noise; the batch's values are never read (data-free)."""
    for n in NAMES:
        assert get_proxy(n).data_free
        a = _nb201(n, MIXED, cifar64[:16])
        b = _nb201(n, MIXED, torch.zeros_like(cifar64[:16]))
        assert a == b, n


# ---------------------------------------------------------------------------------------------- identity blocks
def test_the_contract_kit_accepts_nan_only_where_the_proxy_and_the_network_declare_it():
    """``ProxySpec.nan_on``: az_trainability declares the identity rule; the kit (check_score) takes its
    NaN on a network that sets the attribute, and refuses a NaN anywhere else, and an infinity always."""
    from nasearch.testing.proxies import check_score

    spec = get_proxy("az_trainability")
    assert spec.nan_on == IDENTITY_DEGENERATE
    assert all(not get_proxy(n).nan_on for n in ("az_expressivity", "az_progressivity", "synflow"))
    declares = build_network(ALL_SKIP, "cifar10", generator=torch.Generator().manual_seed(0))
    silent = build_network(ALL_SKIP, "cifar10", generator=torch.Generator().manual_seed(0))
    silent.identity_block_is_degenerate = False
    check_score(spec, declares, math.nan, "nb201")
    check_score(spec, silent, -0.5, "nb201")
    with pytest.raises(AssertionError, match="may be NaN only on networks that set"):
        check_score(spec, silent, math.nan, "nb201")
    with pytest.raises(AssertionError, match="not finite"):
        check_score(spec, declares, math.inf, "nb201")
    with pytest.raises(AssertionError, match="declares no cells it cannot rate"):
        check_score(get_proxy("az_expressivity"), declares, math.nan, "nb201")
    with pytest.raises(AssertionError, match="is not a float"):
        check_score(spec, declares, 1, "nb201")


IDENTITY_CELL = "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|avg_pool_3x3~2|"  # nb201 index 29 (official 4754)
V2_ROWS = Path(__file__).parent / "data" / "az_trainability_v2_rows.csv"


def test_an_identity_cell_scores_nan_on_nb201_because_its_network_declares_it(cifar64):
    """The authors' rule (version 3): a cell whose only path is the skip on edge 0 -> 3 is an exact
    identity block, so the network scores NaN (never preferred); the same network without the
    declaration is scored by the formula, as version 2 did (sigma close to 1 in every cell)."""
    images = cifar64[:16]
    space = get_space("nb201")
    assert space.to_string(space.from_index(29)) == IDENTITY_CELL
    assert getattr(NB201Network, IDENTITY_DEGENERATE) is True
    assert math.isnan(_nb201("az_trainability", IDENTITY_CELL, images))
    assert math.isnan(_nb201("az_trainability", IDENTITY_CELL, images, "channels_last"))
    net = build_network(IDENTITY_CELL, "cifar10", generator=torch.Generator().manual_seed(0)).train()
    net.identity_block_is_degenerate = False  # undeclared: the formula
    batch = [(images, torch.zeros(len(images), dtype=torch.int64))]
    assert -1.0 < get_proxy("az_trainability").fn(net, batch, _ctx()) < 0.0
    # expressivity and progressivity have no such rule
    assert math.isfinite(_nb201("az_expressivity", IDENTITY_CELL, images))


def test_the_space_contract_takes_the_never_preferred_score_only_where_it_is_declared(monkeypatch):
    """Through the engine an unratable cell gets the never-preferred score (-inf); the space contract
    (SpaceContract.test_every_proxy_scores_this_space) accepts it on NB201's identity cell because
    az_trainability declares it (nan_on) and NB201's network sets the attribute, and fails otherwise."""
    import dataclasses

    from nasearch.proxies.registry import _REGISTRY
    from nasearch.testing import SpaceContract

    class Kit(SpaceContract):
        name = "nb201"
        proxy_archs = (IDENTITY_CELL, MIXED)

    space = get_space("nb201")
    Kit().test_every_proxy_scores_this_space(space, "az_trainability")
    monkeypatch.setitem(_REGISTRY, "az_trainability", dataclasses.replace(_REGISTRY["az_trainability"], nan_on=""))
    with pytest.raises(AssertionError, match="not declared"):
        Kit().test_every_proxy_scores_this_space(space, "az_trainability")


def test_non_identity_cells_score_exactly_their_shipped_version_2_values(cifar10_root: Path):
    """Rows copied from the version-2 table before it was regenerated (the fixture's header): the
    rule changes nothing on a network without an identity block, near-misses included."""
    import csv

    with V2_ROWS.open() as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    assert len(rows) == 4 and all(r["version"] == "2" for r in rows)
    space = get_space("nb201")
    archs = [space.parse(r["arch"]) for r in rows]
    assert not any(is_identity_cell(a) for a in archs)
    assert sum(r["arch"].split("+")[2].startswith("|skip_connect~0|") for r in rows) == 2  # two near-misses
    torch.set_num_threads(1)
    fresh = score_cells(archs, "az_trainability", data_root=cifar10_root.parent, progress=False, space="nb201")
    want = [float(r["value"]) for r in rows]
    assert fresh.tolist() == pytest.approx(want, rel=get_proxy("az_trainability").tolerance)


def test_the_structural_identity_test_agrees_with_the_code_on_a_sample_of_cells():
    """:func:`is_identity_cell` (the arch string) against the code's own test (input gradient equal
    to v bit for bit, a NaN sigma) on 30 seeded cells: 10 hits, 10 near-misses (skip on edge 0 -> 3
    and another path to node 3) and 10 other connected cells."""
    import itertools

    from nasearch.space.nb201.arch import Arch

    space = get_space("nb201")
    rng = np.random.default_rng(0)
    every = [Arch(ops) for ops in itertools.product(range(5), repeat=6)]
    hits = [a for a in every if is_identity_cell(a)]
    near = [a for a in every if a.ops[3] == 1 and not is_identity_cell(a) and not space.is_trivial(a)]
    other = [a for a in every if a.ops[3] != 1 and not space.is_trivial(a)]
    assert len(hits) == 341
    sample = [group[i] for group in (hits, near, other) for i in rng.choice(len(group), 10, replace=False)]
    images = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    for arch in sample:
        net = build_network(arch, "cifar10", generator=torch.Generator().manual_seed(0)).train()
        sigmas = block_sigmas(net, images, torch.Generator().manual_seed(1))
        assert any(math.isnan(s) for s in sigmas) == is_identity_cell(arch), space.to_string(arch)
        assert len(sigmas) == 17 or is_identity_cell(arch)  # an identity block ends the backward passes


def test_is_identity_block_needs_the_same_shape_and_the_same_bits():
    v = torch.tensor([[1.0, -1.0], [-1.0, 1.0]]).reshape(1, 1, 2, 2)
    assert is_identity_block(v.clone(), v)
    assert is_identity_block(v.contiguous(memory_format=torch.channels_last), v)  # layout ignored
    assert not is_identity_block(v + 1e-7, v)
    assert not is_identity_block(v.reshape(1, 4, 1, 1), v)


def test_a_macro_network_with_an_identity_block_is_not_nan():
    """NAS-Bench-Macro does not declare identity blocks degenerate (a layer choice present in most
    networks): a network whose identity layers are exact identities is scored by the formula."""
    space = get_space("nasbench_macro")
    arch = space.parse("01200100")  # identity blocks at layers 0, 3, 4, 6 and 7
    net = space.build_network(arch, "cifar10", generator=torch.Generator().manual_seed(0)).train()
    assert not getattr(net, IDENTITY_DEGENERATE, False)
    # the code's test does find an exact identity block in it (the rule would hit if declared)
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    found = []
    blocks = primary_blocks(net)
    h = blocks[0](x)
    for block in blocks[1:]:
        inp = h.detach().requires_grad_(True)
        h = block(inp)
        v = torch.randint(0, 2, h.shape, generator=torch.Generator().manual_seed(2)).float() * 2 - 1
        (g,) = torch.autograd.grad(h, inp, v, allow_unused=True)
        found.append(g is not None and is_identity_block(g, v))
    assert any(found)
    batch = [(x, torch.zeros(2, dtype=torch.int64))]
    assert math.isfinite(get_proxy("az_trainability").fn(net, batch, _ctx()))
    net.identity_block_is_degenerate = True  # declared: NaN, so the declaration is what decides
    assert math.isnan(get_proxy("az_trainability").fn(net, batch, _ctx()))
