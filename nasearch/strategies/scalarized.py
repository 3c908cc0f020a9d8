"""Regularized evolution with random scalarizations: REA (Real, Aggarwal, Huang & Le, AAAI 2019; see
:mod:`nasearch.strategies.evolution`) whose tournament winner is the drawn member that maximises a
Chebyshev scalarization of the objectives under weights drawn afresh at every ask: the random
scalarization idea of Paria, Kandasamy & Poczos ("A flexible framework for multi-objective Bayesian
optimization using random scalarizations", UAI 2019, PMLR 115, 2020) applied to evolution instead of
Bayesian optimisation.

It needs a multi-objective search (``search.objectives`` with at least two metrics): every told
result must carry ``Result.objectives``, each oriented so that higher is better; a result without
them is refused with a :class:`~nasearch.strategies.base.StrategyError`, as in ``mo_rea``
(:mod:`nasearch.strategies.mo_rea`, whose population, aging and checks this strategy shares).

Algorithm, on any search space (``space.sample`` / ``space.mutate`` only):

1. *Initialisation.* While the population holds fewer than ``P`` told cells, uniform cells.
2. *Cycle.* Draw ``S`` members uniformly with replacement (one ``rng.integers`` call, as REA), then
   weights ``w`` uniformly from the simplex {w >= 0, sum w = 1} (``rng.dirichlet(ones(m))``, the flat
   Dirichlet). Each drawn member's objectives ``y`` are normalised by the running minimum and maximum
   of every result told so far (aged-out members included): ``u_j = (y_j - lo_j) / (hi_j - lo_j)``, in
   [0, 1] (an objective whose told values are all equal so far gives ``u_j = 1``, so it decides
   nothing). The parent is the member with the largest Chebyshev scalarization
   ``s_w(y) = min_j w_j * (u_j - z_j)`` with ``z = 0`` (the running minimum: Paria et al.'s reference
   point below every told value); ties: the first drawn, as REA. Propose ``space.mutate(parent)``.
3. *Aging.* As REA: a told child joins on the right, beyond ``P`` members the oldest leaves.

A result with an objective that is NaN (unrecorded) or infinite counts as ``-inf`` in every objective
(as in ``mo_rea``): it leaves the running min/max alone, its scalarization is ``-inf`` and it never
wins a tournament against a member whose objectives are all finite.

Why these choices. Chebyshev rather than a weighted sum: every maximiser of a Chebyshev
scalarization with positive weights is weakly Pareto-optimal and every Pareto-optimal point maximises
one of them, whereas a weighted sum only reaches the convex hull of the front (Paria et al.);
an accuracy/latency front need not be convex. Normalising by the running min/max puts objectives of
different units (percent, seconds) on one scale without knowing the space's ranges, as a strategy
must (it never sees the benchmark). Weights uniform on the simplex: the paper lets the user choose the
distribution of the weights to focus on a region of the front; with no preference, the flat one
covers all of it. A new weight vector per ask (not per tell) gives every tournament its own trade-off,
so successive parents favour different parts of the front.

Defaults: ``population_size=10``, ``sample_size=3``, as nasearch's REA. ``ask(n)``: ``n`` mutations of
the winner of ONE tournament (one weight vector per ask); in the initialisation phase ``n`` uniform
cells. Asynchronous workers: as REA's; the running min/max only widens with tells, nothing is stored
per ask, tells may come in any order.

Deviations from Paria et al.: they maximise the scalarized objective of a Gaussian-process posterior
sample (Thompson sampling) or UCB over the whole domain; here the scalarization only picks a
tournament winner among told cells, and the proposal is that winner's mutation.
"""

from __future__ import annotations

import math

import numpy as np

from nasearch.benchmarks.base import Result
from nasearch.space.base import SearchSpace
from nasearch.strategies.base import Arch, register_strategy
from nasearch.strategies.mo_rea import AgingMultiObjectiveEvolution


def chebyshev(values: np.ndarray, weights: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``min_j w_j * (y_j - lo_j) / (hi_j - lo_j)`` of each row of ``values`` (higher is better); an
    objective with ``hi_j <= lo_j`` normalises to 1; a row holding ``-inf`` scores ``-inf``."""
    span = hi - lo
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        u = np.where(span > 0, (values - lo) / np.where(span > 0, span, 1.0), 1.0)
        scaled = np.where(np.isneginf(values), -math.inf, weights * u)
    return scaled.min(axis=1)


@register_strategy
class RandomScalarizationEvolution(AgingMultiObjectiveEvolution):
    name = "random_scalarization"
    paper = (
        "Paria, Kandasamy & Poczos, A flexible framework for multi-objective Bayesian optimization using "
        "random scalarizations, UAI 2019 (PMLR 115, 2020); on Real et al., AAAI 2019 (regularized evolution)"
    )

    def __init__(
        self,
        rng: np.random.Generator,
        *,
        space: SearchSpace | str,
        fidelities: tuple[int, ...] = (),
        population_size: int = 10,
        sample_size: int = 3,
    ):
        super().__init__(
            rng, space=space, fidelities=fidelities, population_size=population_size, sample_size=sample_size
        )
        self.lo: np.ndarray | None = None
        """Running minimum of every objective over all results told (finite values; inf before any)."""
        self.hi: np.ndarray | None = None
        """Running maximum, likewise (-inf before any finite value)."""

    def tell(self, arch: Arch, result: Result, fidelity: int) -> None:
        super().tell(arch, result, fidelity)
        values = self.population[-1][1]
        if self.lo is None or self.hi is None:
            self.lo, self.hi = np.full(values.size, math.inf), np.full(values.size, -math.inf)
        if np.isfinite(values).all():
            self.lo, self.hi = np.minimum(self.lo, values), np.maximum(self.hi, values)

    def _winner(self, draws: np.ndarray) -> int:
        assert self.lo is not None and self.hi is not None  # a tournament follows P >= 1 tells
        y = self.objective_matrix()[draws]
        weights = self.rng.dirichlet(np.ones(y.shape[1]))
        scores = chebyshev(y, weights, self.lo, self.hi)
        return int(draws[int(np.argmax(scores))])  # ties: the first drawn
