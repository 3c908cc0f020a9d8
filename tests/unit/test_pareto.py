"""nasearch.pareto: dominance, non-dominated sorting, crowding distance and exact hypervolume, each
against an independent reference: an O(n^2) dominance loop, peeling fronts one by one, hand-computed
staircases and boxes, inclusion-exclusion over every subset of points (exact in any dimension),
Monte Carlo with a tolerance from its standard error, and moocore's hypervolume (installed with DEAP)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from nasearch.errors import NasearchError
from nasearch.pareto import (
    ParetoError,
    crowding_distance,
    hypervolume,
    non_dominated,
    nondominated_sort,
    normalizer,
)


def dominates(p: np.ndarray, q: np.ndarray) -> bool:
    return bool(np.all(p >= q) and np.any(p > q))


def loop_non_dominated(points: np.ndarray) -> np.ndarray:
    n = len(points)
    return np.array(
        [not any(dominates(points[i], points[j]) for i in range(n) if i != j) for j in range(n)], dtype=bool
    )


def tied_points(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    """Points on a coarse grid, so equal values (and equal points) are common."""
    return rng.integers(0, 5, size=(n, m)).astype(float)


def inclusion_exclusion(points: np.ndarray, ref: np.ndarray) -> float:
    """Exact hypervolume by inclusion-exclusion over every non-empty subset of the points: the union
    of the boxes [ref, p] is the alternating sum of the volumes of their intersections, [ref, min]."""
    p = np.maximum(points - ref, 0.0)
    total = 0.0
    for k in range(1, len(p) + 1):
        for subset in itertools.combinations(range(len(p)), k):
            total += (-1) ** (k + 1) * float(np.prod(p[list(subset)].min(axis=0)))
    return total


# ------------------------------------------------------------------------------ non_dominated
@pytest.mark.parametrize("m", [1, 2, 3, 4])
def test_non_dominated_matches_a_quadratic_loop_with_ties(m: int) -> None:
    rng = np.random.default_rng(m)
    for n in (1, 2, 7, 60):
        for _ in range(5):
            pts = tied_points(rng, n, m)
            np.testing.assert_array_equal(non_dominated(pts), loop_non_dominated(pts))
        pts = rng.random((n, m))
        np.testing.assert_array_equal(non_dominated(pts), loop_non_dominated(pts))


def test_non_dominated_keeps_duplicates_and_handles_minus_inf() -> None:
    pts = np.array([[1.0, 1.0], [1.0, 1.0], [0.0, 0.0], [2.0, 0.0], [1.0, 0.0], [-math.inf, 5.0]])
    assert non_dominated(pts).tolist() == [True, True, False, True, False, True]
    assert non_dominated(np.empty((0, 2))).tolist() == []


def test_non_dominated_on_nb201_cells_matches_brute_force(nb201_table) -> None:
    acc = nb201_table.column("cifar10", "valid_acc", 12)
    lat = -nb201_table.column("cifar10", "latency")
    flops = -nb201_table.column("cifar10", "flops")
    pts = np.c_[acc, lat, flops][np.random.default_rng(0).choice(len(acc), 2500, replace=False)]
    for m in (2, 3):
        p = pts[:, :m]
        brute = np.array([not ((p >= q).all(axis=1) & (p > q).any(axis=1)).any() for q in p])
        np.testing.assert_array_equal(non_dominated(p), brute)
    whole = non_dominated(np.c_[acc, lat])  # the whole space: fast (a front of a few dozen cells)
    assert 5 < whole.sum() < 200 and acc.argmax() in np.flatnonzero(whole)


# ------------------------------------------------------------------------------ nondominated_sort
@pytest.mark.parametrize("m", [2, 3, 5])
def test_nondominated_sort_invariants(m: int) -> None:
    rng = np.random.default_rng(10 + m)
    for pts in (tied_points(rng, 80, m), rng.random((80, m))):
        front = nondominated_sort(pts)
        assert front.dtype.kind == "i" and front.min() == 0
        assert set(front.tolist()) == set(range(front.max() + 1))  # fronts numbered without gaps
        np.testing.assert_array_equal(front == 0, non_dominated(pts))
        n = len(pts)
        for i in range(n):
            for j in range(n):
                if dominates(pts[i], pts[j]):
                    assert front[i] < front[j]  # a dominator is in an earlier front
        for i in np.flatnonzero(front > 0):  # each later point is dominated by one of the front before
            assert any(dominates(pts[k], pts[i]) for k in np.flatnonzero(front == front[i] - 1))
        # peeling: front k is the Pareto front of what fronts 0..k-1 leave
        rest = np.arange(n)
        for k in range(front.max() + 1):
            first = non_dominated(pts[rest])
            np.testing.assert_array_equal(np.sort(rest[first]), np.flatnonzero(front == k))
            rest = rest[~first]
        assert rest.size == 0


def test_nondominated_sort_matrix_and_peeling_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    import nasearch.pareto as pareto

    rng = np.random.default_rng(3)
    for pts in (tied_points(rng, 150, 3), rng.random((150, 2))):
        matrix = nondominated_sort(pts)
        monkeypatch.setattr(pareto, "_BLOCK_ELEMENTS", 7)  # the matrix in blocks of one column
        np.testing.assert_array_equal(nondominated_sort(pts), matrix)
        monkeypatch.setattr(pareto, "_MATRIX_POINTS", 10)  # peeling instead of the matrix
        np.testing.assert_array_equal(nondominated_sort(pts), matrix)
        monkeypatch.undo()
        assert matrix.max() > 3


def test_nondominated_sort_by_hand() -> None:
    pts = [[3, 1], [1, 3], [2, 2], [2, 2], [1, 1], [0, 0], [2, 1]]
    assert nondominated_sort(pts).tolist() == [0, 0, 0, 0, 2, 3, 1]


# ------------------------------------------------------------------------------ crowding_distance
def test_crowding_distance_by_hand() -> None:
    # spans 10 and 10: (2,7) gets (3-0)/10 + (10-5)/10, (3,5) gets (10-2)/10 + (7-0)/10
    pts = np.array([[0.0, 10.0], [2.0, 7.0], [3.0, 5.0], [10.0, 0.0]])
    np.testing.assert_allclose(crowding_distance(pts), [math.inf, 0.8, 1.5, math.inf])
    # order does not matter
    np.testing.assert_allclose(crowding_distance(pts[::-1]), [math.inf, 1.5, 0.8, math.inf])
    assert crowding_distance(pts[:2]).tolist() == [math.inf, math.inf]
    # a constant objective adds nothing
    flat = np.c_[pts, np.full(4, 3.0)]
    np.testing.assert_allclose(crowding_distance(flat)[1:3], [0.8, 1.5])


def test_crowding_distance_with_infinite_values() -> None:
    # the -inf point is the first objective's lower boundary; its neighbour's gap there is infinite
    pts = np.array([[-math.inf, 9.0], [1.0, 5.0], [2.0, 3.0], [4.0, 1.0], [5.0, 0.0]])
    d = crowding_distance(pts)
    assert d[0] == math.inf and d[4] == math.inf and d[1] == math.inf
    # the first objective's span is over its finite values (1..5): (4-1)/4 + (5-1)/9
    assert d[2] == pytest.approx(3 / 4 + 4 / 9)
    assert np.isfinite(d[3])


# ------------------------------------------------------------------------------ hypervolume
def test_hypervolume_2d_staircase_by_hand() -> None:
    stairs = np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0]])
    assert hypervolume(stairs, [0, 0]) == pytest.approx(3 + 2 + 1)
    assert hypervolume(stairs, [0.5, 0.5]) == pytest.approx(0.5 * 2.5 + 1 * 1.5 + 1 * 0.5)
    # dominated, repeated and not-better-than-the-reference points change nothing
    more = np.vstack([stairs, [[1.0, 1.0], [2.0, 2.0], [5.0, 0.0], [9.0, -1.0], [-math.inf, 7.0]]])
    assert hypervolume(more, [0, 0]) == pytest.approx(6.0)
    assert hypervolume(np.empty((0, 2)), [0, 0]) == 0.0
    assert hypervolume([[0.0, 5.0]], [0, 0]) == 0.0
    assert hypervolume([[1.0, 5.0]], [0, 0]) == pytest.approx(5.0)


def test_hypervolume_3d_boxes_by_hand() -> None:
    assert hypervolume([[2.0, 3.0, 4.0]], [0, 0, 0]) == pytest.approx(24.0)
    assert hypervolume([[2.0, 3.0, 4.0]], [1, 1, 1]) == pytest.approx(1 * 2 * 3)
    # two boxes: 4 + 3 - their overlap [0,1]^3
    assert hypervolume([[2.0, 2.0, 1.0], [1.0, 1.0, 3.0]], [0, 0, 0]) == pytest.approx(6.0)
    # three boxes 3x1x1 along each axis: 9 - 3 pairwise overlaps + the triple one, all the unit cube
    assert hypervolume(np.eye(3) * 2 + 1, [0, 0, 0]) == pytest.approx(7.0)
    # a box inside another changes nothing
    assert hypervolume([[2.0, 2.0, 2.0], [1.0, 2.0, 1.0]], [0, 0, 0]) == pytest.approx(8.0)


@pytest.mark.parametrize("m", [1, 2, 3, 4, 5])
def test_hypervolume_matches_inclusion_exclusion(m: int) -> None:
    rng = np.random.default_rng(20 + m)
    for _ in range(6):
        pts = rng.random((9, m))
        ref = rng.random(m) * 0.3
        assert hypervolume(pts, ref) == pytest.approx(inclusion_exclusion(pts, ref), rel=1e-12, abs=1e-15)
        tied = tied_points(rng, 8, m)
        assert hypervolume(tied, np.zeros(m)) == pytest.approx(
            inclusion_exclusion(tied, np.zeros(m)), rel=1e-12
        )


@pytest.mark.parametrize("m", [2, 3])
def test_hypervolume_matches_monte_carlo(m: int) -> None:
    rng = np.random.default_rng(30 + m)
    x = np.abs(rng.normal(size=(150, m)))
    front = x / np.linalg.norm(x, axis=1, keepdims=True)  # every point on the front (a sphere)
    ref = np.full(m, 0.1)
    exact = hypervolume(front, ref)
    n = 200_000
    box = np.prod(1.0 - ref)
    samples = ref + rng.random((n, m)) * (1.0 - ref)
    inside = np.zeros(n, dtype=bool)
    for p in front:
        inside |= np.all(samples <= p, axis=1)
    frac = inside.mean()
    estimate = box * frac
    stderr = box * math.sqrt(frac * (1 - frac) / n)
    assert abs(exact - estimate) < 5 * stderr, (exact, estimate, stderr)


def test_hypervolume_matches_moocore() -> None:
    moocore = pytest.importorskip("moocore")  # a dependency of DEAP, itself a dependency
    rng = np.random.default_rng(40)
    for m in (2, 3, 4):
        for pts in (rng.random((120, m)), tied_points(rng, 60, m)):
            x = np.abs(rng.normal(size=(100, m)))
            sphere = x / np.linalg.norm(x, axis=1, keepdims=True)
            for p in (pts, sphere):
                ref = np.full(m, 0.05)
                want = moocore.hypervolume(p, ref=ref, maximise=True)
                assert hypervolume(p, ref) == pytest.approx(want, rel=1e-10)


def test_hypervolume_refuses_bad_input() -> None:
    with pytest.raises(ParetoError, match=r"NaN value .* row 1, objective 0"):
        hypervolume([[1.0, 1.0], [math.nan, 1.0]], [0, 0])
    with pytest.raises(ParetoError, match=r"reference \[0, 0, 0\] is invalid: expected 2 finite values"):
        hypervolume([[1.0, 1.0]], [0, 0, 0])
    with pytest.raises(ParetoError, match="unbounded"):
        hypervolume([[math.inf, 1.0]], [0, 0])
    with pytest.raises(ParetoError, match="shape"):
        non_dominated(np.zeros((2, 2, 2)))
    assert issubclass(ParetoError, NasearchError)


# ------------------------------------------------------------------------------ normalizer
def test_normalizer_maps_bounds_to_zero_and_one(nb201_table) -> None:
    acc = nb201_table.column("cifar10", "valid_acc", 12)
    lat = -nb201_table.column("cifar10", "latency")  # a cost: negated, higher is better
    norm = normalizer([acc.min(), lat.min()], [acc.max(), lat.max()])
    cells = norm(np.c_[acc, lat])
    assert cells.min(axis=0).tolist() == [0.0, 0.0] and cells.max(axis=0).tolist() == [1.0, 1.0]
    assert norm.reference.tolist() == [0.0, 0.0]
    whole = hypervolume(cells, norm.reference)
    assert 0.5 < whole < 1.0  # no cell is best in both; the front still covers most of the box
    # a subset's hypervolume is at most the whole space's
    some = cells[np.random.default_rng(0).choice(len(cells), 300, replace=False)]
    assert hypervolume(some, norm.reference) < whole


def test_normalizer_refuses_degenerate_bounds() -> None:
    with pytest.raises(ParetoError, match=r"objective 1 has minimum 2.0 and maximum 2.0"):
        normalizer([0, 2], [1, 2])
    with pytest.raises(ParetoError, match="one minimum and one maximum per objective"):
        normalizer([0, 1], [1])
    with pytest.raises(ParetoError, match="objective 0 has minimum nan"):
        normalizer([math.nan], [1])
    with pytest.raises(ParetoError, match="built for 2"):
        normalizer([0, 0], [1, 1])([[1.0, 2.0, 3.0]])
