"""Pareto dominance, non-dominated sorting, crowding distance and exact hypervolume, on plain arrays.

The building blocks of multi-objective search (``search.objectives``; the strategies ``mo_rea`` and
``random_scalarization``) and of its evaluation. Every function takes points as an array of shape
``(n, m)``: ``n`` points, ``m`` objectives, **every column maximised** (a cost such as latency is
negated before it gets here, as the runner orients ``Result.objectives``). NaN is refused everywhere
(a :class:`ParetoError` naming the row and column); ``-inf`` is allowed where dominance is all that
matters (the worst possible value: a failed or unrecorded figure a strategy must never prefer).

* :func:`non_dominated`: which points no other point dominates. ``p`` dominates ``q`` when ``p >= q``
  in every objective and ``p > q`` in at least one, so two equal points do not dominate each other:
  duplicates on the front are all kept.
* :func:`nondominated_sort`: the front number of every point (0 = the Pareto front, 1 = the front of
  what is left, ...): the fast non-dominated sorting of NSGA-II (Deb, Pratap, Agarwal & Meyarivan,
  "A fast and elitist multiobjective genetic algorithm: NSGA-II", IEEE TEVC 6(2), 2002, §III-A).
* :func:`crowding_distance`: NSGA-II's crowding distance of the points of one front (§III-B): the
  sum over objectives of the gap between each point's two neighbours in that objective, divided by
  the objective's range; the two boundary points of every objective get ``inf``.
* :func:`hypervolume`: the exact volume of the region dominated by the points and bounded below by
  a reference point. 2-D: sort and sweep, O(n log n). m >= 3: hypervolume by slicing objectives
  (HSO; While, Hingston, Barone & Huband, IEEE TEVC 10(1), 2006): sort by the last objective and sum
  slabs, each the (m-1)-D hypervolume of the points above it, recursively down to the 2-D sweep;
  O(n^(m-1) log n), fine for fronts of a few hundred points in 3-D.
* :func:`normalizer`: maps raw oriented values to [0, 1] per objective from each objective's worst
  and best value (of the space, say: ``bench.column``), so that hypervolumes of objectives in
  different units (percent, seconds) are comparable across runs and strategies; its
  :attr:`Normalizer.reference` is the origin, the worst value of every objective.

Why not a library: Optuna (a dependency) computes hypervolumes only in ``optuna._hypervolume``, a
private module whose API changes between releases (it is not part of Optuna's documented API in
5.x); pymoo is not a dependency; moocore, the C library DEAP's indicators wrap, arrives only
transitively through DEAP, minimises by default and has a 0.x API. The algorithms here are short,
exact and numpy-only, and ``tests/unit/test_pareto.py`` checks them against brute force (an O(n^2)
dominance loop, Monte Carlo volumes, hand-computed staircases and boxes) and against moocore's
hypervolume where it is installed.

Cost: :func:`non_dominated` is O(m n f) for a front of f points (a whole space's front takes
milliseconds); :func:`nondominated_sort` is NSGA-II's O(m n^2) sort with its n x n dominance matrix up
to :data:`_MATRIX_POINTS` points (populations, fronts found by a search), and peels fronts off with
:func:`non_dominated` beyond, without the matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nasearch.errors import NasearchError

_BLOCK_ELEMENTS = 1 << 22
"""Comparisons per block of the pairwise dominance matrix (bounds its temporary memory)."""

_MATRIX_POINTS = 2048
"""Up to this many points :func:`nondominated_sort` keeps the n x n dominance matrix (4 MiB)."""


class ParetoError(NasearchError):
    """Bad points, reference or bounds given to a Pareto function."""


def as_points(points: object, what: str = "points", *, allow_inf: bool = True) -> np.ndarray:
    """``points`` as a float64 array of shape ``(n, m)`` (a 1-D array is one point per row of one
    objective: shape ``(n, 1)``), else a :class:`ParetoError` naming the shape or the first NaN
    (and, with ``allow_inf=False``, the first infinite value)."""
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or (arr.shape[0] > 0 and arr.shape[1] == 0):
        raise ParetoError(
            f"{what} of shape {np.shape(points)} are invalid: expected an array of shape (n, m), one row "
            "per point and one column per objective (every column maximised)"
        )
    bad = np.isnan(arr) if allow_inf else ~np.isfinite(arr)
    if bad.any():
        row, col = (int(v) for v in np.argwhere(bad)[0])
        kind = "NaN" if allow_inf else "non-finite"
        raise ParetoError(
            f"{what} hold a {kind} value ({arr[row, col]!r} at row {row}, objective {col}): "
            + (
                "every value must be a number (-inf for the worst possible)"
                if allow_inf
                else "every value must be finite"
            )
        )
    return arr


def _blocks(n: int, m: int) -> list[slice]:
    """Slices of ``range(n)`` small enough that one block's pairwise comparisons with all ``n``
    points stay within :data:`_BLOCK_ELEMENTS`."""
    step = max(1, _BLOCK_ELEMENTS // max(1, n * m))
    return [slice(start, min(n, start + step)) for start in range(0, n, step)]


def _dominators(arr: np.ndarray, block: slice) -> np.ndarray:
    """``D[i, j]``: point ``i`` of ``arr`` dominates point ``block.start + j``."""
    q = arr[block]
    ge = (arr[:, None, :] >= q[None, :, :]).all(axis=2)
    gt = (arr[:, None, :] > q[None, :, :]).any(axis=2)
    return ge & gt


def non_dominated(points: object) -> np.ndarray:
    """Boolean mask of the points no other point dominates (the Pareto front); equal points are all
    kept. Maximisation in every column; NaN refused (:func:`as_points`).

    Points are visited in descending lexicographic order, where every dominator of a point comes
    before it; each point reached removes the later points it dominates. A point reached is never
    removed afterwards (nothing after it can dominate it), so the points reached are the front: O(m n f)
    for a front of f points, fast on a whole space (NB201's 15,625 cells in milliseconds)."""
    arr = as_points(points)
    n = arr.shape[0]
    order = np.lexsort(arr.T[::-1])[::-1]  # descending by the first column, then the second, ...
    cand = order
    i = 0
    while i < cand.size:
        p = arr[cand[i]]
        rest = arr[cand[i + 1 :]]
        beaten = (p >= rest).all(axis=1) & (p > rest).any(axis=1)
        if beaten.any():
            cand = np.concatenate((cand[: i + 1], cand[i + 1 :][~beaten]))
        i += 1
    out = np.zeros(n, dtype=bool)
    out[cand] = True
    return out


def nondominated_sort(points: object) -> np.ndarray:
    """The front number of every point (int64): 0 for the Pareto front, 1 for the front of the rest,
    and so on; equal points share a front. Up to :data:`_MATRIX_POINTS` points: NSGA-II's fast
    non-dominated sort (Deb et al. 2002): count each point's dominators in the n x n dominance
    matrix, peel off the points with none, subtract what they dominate, repeat. Beyond (a whole
    space, say), the same fronts by peeling :func:`non_dominated` off what is left, which needs no
    n x n matrix."""
    arr = as_points(points)
    n, m = arr.shape
    front = np.full(n, -1, dtype=np.int64)
    if n > _MATRIX_POINTS:
        rest = np.arange(n)
        k = 0
        while rest.size:
            first = non_dominated(arr[rest])
            front[rest[first]] = k
            rest = rest[~first]
            k += 1
        return front
    dom = np.zeros((n, n), dtype=bool)
    for block in _blocks(n, m):
        dom[:, block] = _dominators(arr, block)
    count = dom.sum(axis=0)
    current = np.flatnonzero(count == 0)
    k = 0
    while current.size:
        front[current] = k
        count = count - dom[current].sum(axis=0)
        current = np.flatnonzero((count == 0) & (front < 0))
        k += 1
    return front


def crowding_distance(points: object) -> np.ndarray:
    """NSGA-II's crowding distance of each point of ONE front (Deb et al. 2002, §III-B): for every
    objective, sort the points by it; the first and last get ``inf``, every other point adds the gap
    between its two neighbours divided by the objective's range (max - min over the front's finite
    values). A larger distance means a less crowded point. Fewer than three points: all ``inf``. An
    objective whose values are all equal adds nothing; a gap to an infinite neighbour is ``inf``."""
    arr = as_points(points)
    n, m = arr.shape
    dist = np.zeros(n, dtype=np.float64)
    if n < 3:
        dist[:] = np.inf
        return dist
    for j in range(m):
        v = arr[:, j]
        order = np.argsort(v, kind="stable")
        s = v[order]
        finite = s[np.isfinite(s)]
        span = float(finite[-1] - finite[0]) if finite.size else 0.0
        with np.errstate(invalid="ignore"):
            gap = s[2:] - s[:-2]
        gap = np.where(np.isnan(gap), 0.0, gap)  # inf - inf: both neighbours equal (and infinite)
        if span > 0:
            part = np.where(np.isinf(gap), np.inf, gap / span)
        else:
            part = np.where(np.isinf(gap), np.inf, 0.0)
        dist[order[1:-1]] += part
        dist[order[0]] = dist[order[-1]] = np.inf
    return dist


def hypervolume(points: object, reference: object) -> float:
    """The exact hypervolume of ``points`` (shape ``(n, m)``, maximised) above ``reference`` (shape
    ``(m,)``): the Lebesgue measure of the set of vectors ``y`` with ``reference <= y <= p`` for some
    point ``p``. Points not strictly better than the reference in every objective contribute nothing
    (they are dropped), dominated and repeated points change nothing. NaN and ``+inf`` are refused
    (an unbounded volume); ``-inf`` is below any reference and dropped."""
    arr = as_points(points)
    ref = np.asarray(reference, dtype=np.float64)
    m = arr.shape[1] if arr.size else ref.size
    if ref.shape != (m,) or not np.isfinite(ref).all():
        raise ParetoError(
            f"reference {np.asarray(reference).tolist()!r} is invalid: expected {m} finite values, one per "
            "objective (the worst value of each that still counts)"
        )
    if np.isposinf(arr).any():
        row, col = (int(v) for v in np.argwhere(np.isposinf(arr))[0])
        raise ParetoError(
            f"points hold +inf (row {row}, objective {col}): the hypervolume would be unbounded"
        )
    keep = (arr > ref).all(axis=1)
    if not keep.any():
        return 0.0
    return float(_hv(arr[keep] - ref))


def _hv2(p: np.ndarray) -> float:
    """2-D hypervolume above the origin of positive points: sweep from the largest first objective
    down, each point adding the strip its second objective rises above the best so far."""
    order = np.lexsort((-p[:, 1], -p[:, 0]))  # first objective descending, ties: second descending
    x, y = p[order, 0], p[order, 1]
    best = np.maximum.accumulate(y)
    prev = np.concatenate(([0.0], best[:-1]))
    return float(np.sum(x * np.maximum(y - prev, 0.0)))


def _hv(p: np.ndarray) -> float:
    """Hypervolume above the origin of points positive in every objective (HSO for m >= 3)."""
    m = p.shape[1]
    if m == 1:
        return float(p[:, 0].max())
    if m == 2:
        return _hv2(p)
    p = np.unique(p[non_dominated(p)], axis=0)
    p = p[np.argsort(-p[:, -1], kind="stable")]
    z = p[:, -1]
    below = np.concatenate((z[1:], [0.0]))
    total = 0.0
    for k in range(p.shape[0]):
        depth = z[k] - below[k]
        if depth > 0:
            total += depth * _hv(p[: k + 1, :-1])
    return total


@dataclass(frozen=True)
class Normalizer:
    """Maps oriented values to [0, 1] per objective: ``(v - lo) / (hi - lo)``, ``lo`` each objective's
    worst value and ``hi`` its best (values outside are mapped linearly outside [0, 1], not clipped).
    :attr:`reference` (the origin) is the worst of every objective, the hypervolume's reference."""

    lo: np.ndarray
    hi: np.ndarray

    def __call__(self, points: object) -> np.ndarray:
        arr = as_points(points)
        if arr.shape[1] != self.lo.size:
            raise ParetoError(
                f"points have {arr.shape[1]} objectives but the normalizer was built for {self.lo.size}"
            )
        return (arr - self.lo) / (self.hi - self.lo)

    @property
    def reference(self) -> np.ndarray:
        """The hypervolume reference after normalising: 0 in every objective."""
        return np.zeros(self.lo.size)


def normalizer(columns_min: object, columns_max: object) -> Normalizer:
    """A :class:`Normalizer` from each objective's minimum and maximum (oriented: the minimum is the
    worst), e.g. over every cell of a space: ``[col.min() for col in oriented_columns]``. Each pair
    must be finite with ``max > min`` (a constant objective cannot be normalised: drop it)."""
    lo = np.asarray(columns_min, dtype=np.float64).reshape(-1)
    hi = np.asarray(columns_max, dtype=np.float64).reshape(-1)
    if lo.shape != hi.shape or lo.size == 0:
        raise ParetoError(
            f"normalizer bounds of {lo.size} minima and {hi.size} maxima: expected one minimum and one maximum "
            "per objective"
        )
    for j, (a, b) in enumerate(zip(lo.tolist(), hi.tolist())):
        if not (np.isfinite(a) and np.isfinite(b) and b > a):
            raise ParetoError(
                f"objective {j} has minimum {a!r} and maximum {b!r}: expected finite bounds with maximum > "
                "minimum (a constant objective cannot be normalised: leave it out)"
            )
    return Normalizer(lo, hi)


__all__ = [
    "Normalizer",
    "ParetoError",
    "as_points",
    "crowding_distance",
    "hypervolume",
    "non_dominated",
    "nondominated_sort",
    "normalizer",
]
