"""LIBRA's member selection (nasearch.scoring.libra): the information-gain estimator against hand
computations and an independent slow implementation, each step of Algorithm 1 on synthetic cells where
the right pick is known, and the refusals."""

from __future__ import annotations

import dataclasses
import math
from collections import Counter

import numpy as np
import pytest
from scipy.stats import spearmanr

from nasearch.scoring.libra import (
    conditional_entropy,
    discretize,
    entropy,
    information_gain,
    libra_select,
    sturges_bins,
)


# ------------------------------------------------------------------------------------ estimator
def test_bin_count_is_nas_bench_suite_zero_24_at_1000_cells():
    assert sturges_bins(1000) == 24  # round(1 + 3.322 ln 1000) = round(23.95)
    assert sturges_bins(100) == 16  # round(16.30)
    assert sturges_bins(1) == 1


def test_information_gain_by_hand_on_small_integer_arrays():
    y = np.array([0, 0, 1, 1, 2, 2, 0, 1])
    z1 = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    z2 = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    # 3 equal-width bins over [0, 2] put 0, 1, 2 in bins 0, 1, 2 (z1: 0 -> 0, 1 -> 2): the codes are the values
    assert discretize(y, 3).tolist() == y.tolist()
    # H(y): counts 3, 3, 2 of 8
    h_y = -(2 * (3 / 8) * math.log2(3 / 8) + (2 / 8) * math.log2(2 / 8))
    assert entropy(discretize(y, 3)) == pytest.approx(h_y, abs=1e-12)
    # H(y | z1): z1 = 0 -> y {0, 0, 1, 1}: 1 bit; z1 = 1 -> y {2, 2, 0, 1}: 1.5 bits; each half the cells
    h_y_z1 = 0.5 * 1.0 + 0.5 * 1.5
    # H(y | z1, z2): the four (z1, z2) groups hold y {0, 1}, {0, 1}, {2, 0}, {2, 1}: 1 bit each
    h_y_z1z2 = 1.0
    cy, c1, c2 = (discretize(a, 3) for a in (y, z1, z2))
    assert conditional_entropy(cy, c1) == pytest.approx(h_y_z1, abs=1e-12)
    assert conditional_entropy(cy, c1, c2) == pytest.approx(h_y_z1z2, abs=1e-12)
    assert information_gain(y, z1, z2, bins=3) == pytest.approx(0.25, abs=1e-12)
    # reversed order: z2 = 0 -> y {0, 1, 2, 0}, z2 = 1 -> y {0, 1, 2, 1}: 1.5 bits each
    h_y_z2 = 0.5 * 1.5 + 0.5 * 1.5
    assert information_gain(y, z2, z1, bins=3) == pytest.approx(h_y_z2 - 1.0, abs=1e-12)
    # a copy adds nothing
    assert information_gain(y, z1, z1, bins=3) == 0.0


def _slow_ig(y, zi, zj, bins):
    """IG = H(y|zi) - H(y|zi,zj), binned with numpy's histogram edges, entropies by counting tuples."""

    def codes(v):
        edges = np.histogram_bin_edges(v, bins=bins)
        return [int(c) for c in np.digitize(v, edges[1:-1], right=False)]

    def h(*cols):
        n = len(cols[0])
        counts = Counter(zip(*cols, strict=True))
        return -sum(c / n * math.log2(c / n) for c in counts.values())

    a, b, c = codes(y), codes(zi), codes(zj)
    return (h(a, b) - h(b)) - (h(a, b, c) - h(b, c))


@pytest.mark.parametrize("bins", [2, 5, 24])
def test_information_gain_matches_an_independent_slow_implementation(bins):
    rng = np.random.default_rng(3)
    y = rng.normal(size=400)
    zi = y + rng.normal(size=400)
    zj = np.exp(y + 2.0 * rng.normal(size=400))  # skewed: equal-width bins crowd the low end
    want = _slow_ig(y, zi, zj, bins)
    assert information_gain(y, zi, zj, bins=bins) == pytest.approx(want, abs=1e-12)
    assert want >= 0.0


def test_discretize_gives_unrated_cells_a_state_of_their_own():
    v = np.array([0.0, np.nan, 1.0, -np.inf, 0.4, np.inf])
    assert discretize(v, 2).tolist() == [0, 2, 1, 2, 0, 1]  # range of the finite values; +inf top bin
    assert discretize(v, 2, "quantile").tolist() == [0, 2, 1, 2, 0, 1]  # ranks 1, 3, 2, 4 of 4 rated cells
    assert discretize(np.array([np.nan, np.nan]), 3).tolist() == [3, 3]


# ------------------------------------------------------------------------------------ selection
def _cells(n=1000, seed=0):
    rng = np.random.default_rng(seed)
    params = np.exp(rng.normal(size=n))
    a = (np.log(params) - np.log(params).mean()) / np.log(params).std()
    acc = 0.5 * a + rng.normal(size=n)  # accuracy favours larger networks, moderately
    return rng, acc, params, a


def test_first_is_the_highest_rho_and_rho_is_spearman_with_unrated_cells_last():
    rng, acc, params, _ = _cells()
    best = acc + 0.3 * rng.normal(size=acc.size)
    holes = best.copy()
    holes[:50] = np.nan
    holes[50:60] = -np.inf
    scores = {"best": best, "holes": holes, "noise": rng.normal(size=acc.size)}
    c = libra_select(scores, acc, params)
    assert c.members[0] == "best"
    assert c.rho["best"] == pytest.approx(spearmanr(best, acc).statistic, abs=1e-12)
    low = np.where(np.isfinite(holes), holes, np.nanmin(holes[np.isfinite(holes)]) - 1.0)
    assert c.rho["holes"] == pytest.approx(spearmanr(low, acc).statistic, abs=1e-12)


def test_a_copy_of_the_first_is_never_second():
    rng, acc, params, _ = _cells(seed=1)
    best = acc + 0.3 * rng.normal(size=acc.size)
    scores = {
        "best": best,
        "copy": np.exp(best / 3.0) + 7.0,  # another scale, the same ranking of the cells
        "near": best + 0.2 * rng.normal(size=acc.size),
        "other": acc + 0.5 * rng.normal(size=acc.size),
    }
    c = libra_select(scores, acc, params, margin=0.2)
    assert c.members[0] == "best" and "copy" not in c.members
    assert c.duplicates == ("copy",)
    # the literal Algorithm 1 takes it: a copy adds (next to) no information, the least IG of all
    # (exactly 0 for an affine copy; the exp warps the equal-width bins a little)
    lit = libra_select(scores, acc, params, margin=0.2, distinct=False)
    assert lit.members[:2] == ("best", "copy")
    assert lit.information_gain["copy"] == min(lit.information_gain.values())


def test_second_is_the_least_information_gain_inside_the_window():
    rng, acc, params, _ = _cells(seed=2)
    best = acc + 0.3 * rng.normal(size=acc.size)
    near = best + 0.1 * rng.normal(size=acc.size)  # redundant with best: little IG
    comp = acc + 0.4 * rng.normal(size=acc.size)  # independent errors: more IG
    coarse = (best > np.median(best)).astype(float)  # a function of best's ordering: even less IG, low rho
    scores = {"best": best, "near": near, "comp": comp, "coarse": coarse}
    c = libra_select(scores, acc, params)
    assert c.rho["best"] - 0.1 < c.rho["comp"] < c.rho["near"] < c.rho["best"]
    assert c.rho["coarse"] < c.rho["best"] - 0.1  # outside the window: not a candidate
    assert set(c.information_gain) == {"near", "comp"}
    assert c.information_gain["near"] < c.information_gain["comp"]
    assert c.members[:2] == ("best", "near")
    # with the window opened to every proxy, the coarse copy's lower IG wins
    wide = libra_select(scores, acc, params, margin=2.0)
    assert wide.information_gain["coarse"] < wide.information_gain["near"]
    assert wide.members[1] == "coarse"


def test_third_matches_the_accuracy_bias_and_params_itself_is_not_third():
    rng, acc, params, a = _cells(seed=4)
    best = acc + 0.3 * rng.normal(size=acc.size)
    scores = {
        "best": best,
        "near": best + 0.05 * rng.normal(size=acc.size),  # takes the second place (least IG)
        "size": params.copy(),  # b = 1: far more biased than the accuracy
        "matched": 0.5 * a + rng.normal(size=acc.size),  # same structure as the accuracy: b ~ b_val
        "unbiased": rng.normal(size=acc.size),  # b ~ 0
    }
    c = libra_select(scores, acc, params, margin=2.0)  # every proxy in the window
    assert c.members[:2] == ("best", "near")
    assert c.bias["size"] == pytest.approx(1.0)
    assert c.bias_accuracy == pytest.approx(spearmanr(acc, params).statistic, abs=1e-12)
    assert 0.3 < c.bias_accuracy < 0.6
    assert c.members[2] == "matched"
    assert c.bias_distance("matched") < min(c.bias_distance("size"), c.bias_distance("unbiased"))
    # with the bias-matched proxy gone, the nearest in bias among the rest wins, whichever it is
    rest = {k: v for k, v in scores.items() if k != "matched"}
    c2 = libra_select(rest, acc, params, margin=2.0)
    want = min(("size", "unbiased"), key=c2.bias_distance)
    assert c2.members[2] == want


def test_an_empty_window_widens_to_the_best_remaining_proxy_or_raises_when_strict():
    rng, acc, params, _ = _cells(seed=5)
    scores = {
        "best": acc + 0.1 * rng.normal(size=acc.size),
        "mid": acc + 1.0 * rng.normal(size=acc.size),
        "weak": acc + 3.0 * rng.normal(size=acc.size),
    }
    c = libra_select(scores, acc, params)
    assert c.rho["best"] - c.rho["mid"] > 0.1
    assert c.members == ("best", "mid", "weak") and c.widened == (True, True)
    with pytest.raises(ValueError, match="within 0.1 of rho_best"):
        libra_select(scores, acc, params, strict=True)


def test_ties_are_broken_by_name_not_by_mapping_order():
    rng, acc, params, _ = _cells(seed=6)
    x = acc + 0.3 * rng.normal(size=acc.size)
    other = {"p": acc + 0.5 * rng.normal(size=acc.size), "q": acc + 0.6 * rng.normal(size=acc.size)}
    one = libra_select({"b": x, "a": x.copy(), **other}, acc, params, distinct=False, margin=0.5)
    two = libra_select({**other, "a": x.copy(), "b": x}, acc, params, distinct=False, margin=0.5)
    assert one.members == two.members and one.members[:2] == ("a", "b")


def test_the_choice_is_immutable():
    rng, acc, params, _ = _cells(seed=7)
    c = libra_select({k: acc + s * rng.normal(size=acc.size) for k, s in (("a", 0.2), ("b", 0.3), ("c", 0.4))},
                     acc, params)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.members = ("x", "y", "z")  # type: ignore[misc]
    with pytest.raises(TypeError):
        c.rho["a"] = 0.0  # type: ignore[index]


# ------------------------------------------------------------------------------------- refusals
def _ok(n=10):
    rng = np.random.default_rng(0)
    return rng.normal(size=n), np.arange(1.0, n + 1)


def test_refuses_fewer_than_three_proxies():
    acc, params = _ok()
    with pytest.raises(ValueError, match=r"needs at least 3, got 2: \['a', 'b'\]"):
        libra_select({"a": acc, "b": -acc}, acc, params)


def test_refuses_a_length_mismatch_naming_the_proxy():
    acc, params = _ok()
    with pytest.raises(ValueError, match="proxy 'b' has 9 scores, accuracy has 10"):
        libra_select({"a": acc, "b": acc[:9], "c": -acc}, acc, params)
    with pytest.raises(ValueError, match=r"params has shape \(9,\)"):
        libra_select({"a": acc, "b": acc, "c": -acc}, acc, params[:9])


def test_refuses_a_proxy_that_rates_no_cell():
    acc, params = _ok()
    with pytest.raises(ValueError, match="proxy 'c' rates none of the 10 cells"):
        libra_select({"a": acc, "b": -acc, "c": np.full(10, np.nan)}, acc, params)
    with pytest.raises(ValueError, match="proxy 'c' ranks all 10 cells the same"):
        libra_select({"a": acc, "b": -acc, "c": np.ones(10)}, acc, params)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"margin": 0.0}, "margin=0.0"),
        ({"margin": float("nan")}, "margin=nan"),
        ({"bins": 0}, "bins=0"),
        ({"bins": 2.5}, "bins=2.5"),
        ({"binning": "kde"}, "binning='kde'"),
    ],
)
def test_refuses_bad_settings(kwargs, pattern):
    acc, params = _ok()
    with pytest.raises(ValueError, match=pattern):
        libra_select({"a": acc, "b": -acc, "c": acc ** 3}, acc, params, **kwargs)


def test_refuses_bad_accuracy_or_params():
    acc, params = _ok()
    s = {"a": acc, "b": -acc, "c": acc ** 3}
    bad = acc.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="accuracy has 1 non-finite value"):
        libra_select(s, bad, params)
    with pytest.raises(ValueError, match="accuracy is constant"):
        libra_select(s, np.ones(10), params)
    with pytest.raises(ValueError, match="params is constant"):
        libra_select(s, acc, np.ones(10))
    with pytest.raises(ValueError, match="at least 3 cells, got 2"):
        libra_select({k: v[:2] for k, v in s.items()}, acc[:2], params[:2])


def test_refuses_when_copies_leave_fewer_than_three_distinct_proxies():
    acc, params = _ok()
    with pytest.raises(ValueError, match="three distinct proxies; none is left for z3"):
        libra_select({"a": acc, "b": 2 * acc, "c": -acc}, acc, params)


def test_the_nb201_preset_is_what_libra_picks_on_the_committed_selection_half():
    """``libra``'s members are LIBRA's picks on the selection half of the committed 1,000-cell
    NB201 study (the half ``experiments/frontier/ensembles_1000.py`` selects on), over every label-free
    column (params kept as a candidate; the label-evolved EZNAS program left out)."""
    import importlib.util
    from pathlib import Path

    from nasearch.benchmarks import make_benchmark
    from nasearch.proxies import get_proxy

    path = Path(__file__).resolve().parents[2] / "experiments" / "frontier" / "ensembles_1000.py"
    spec = importlib.util.spec_from_file_location("ensembles_1000", path)
    study = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(study)
    archs, keys = study.load()
    bench = make_benchmark("nb201")
    idx = np.array([bench.space.parse(a).index for a in archs])
    acc = bench.column("cifar10", "test_acc")[idx]
    half = study.selection_half(len(archs))
    scores = {k: v[half] for k, v in keys.items() if k not in study.EXTRA}
    choice = libra_select(scores, acc[half], keys["params"][half])
    assert choice.members == get_proxy("libra").members
