"""Multi-objective regularized evolution, MO-REA: REA (Real, Aggarwal, Huang & Le, AAAI 2019; see
:mod:`nasearch.strategies.evolution`) whose tournament ranks members by Pareto dominance, as Syne
Tune's ``MultiObjectiveRegularizedEvolution`` (Salinas et al., AutoML Conf 2022;
``syne_tune/optimizer/schedulers/multiobjective/multi_objective_regularized_evolution.py``), with
NSGA-II's ranking (Deb, Pratap, Agarwal & Meyarivan, IEEE TEVC 2002).

It needs a multi-objective search: every told result must carry ``Result.objectives`` (the runner
sets them with ``search.objectives=[valid_acc,latency]``, say: each objective oriented so that higher
is better, costs negated). A result without them (a single-objective search) is refused with a
:class:`~nasearch.strategies.base.StrategyError` saying so; so are fewer than two objectives, or a
number of objectives that changes between tells. The class declares ``multi_objective = True`` for
the runner and the checks that need to know.

Algorithm, on any search space (``space.sample`` / ``space.mutate`` only):

1. *Initialisation.* While the population holds fewer than ``P`` told cells, propose cells drawn
   uniformly from the space (``space.sample``), as REA.
2. *Cycle.* Rank the population: the front number of every member by non-dominated sorting
   (:func:`nasearch.pareto.nondominated_sort`, 0 = the population's Pareto front) and, within each
   front, NSGA-II's crowding distance (:func:`nasearch.pareto.crowding_distance`; a front's extremes
   are ``inf``). Draw ``S`` members uniformly *with replacement* (one ``rng.integers`` call, as REA);
   the parent is the drawn member of the lowest front, ties broken by the larger crowding distance,
   remaining ties (distinct members only) uniformly at random (one more ``rng.integers`` call, made
   only when there is such a tie). Propose ``space.mutate(parent)``.
3. *Aging.* A told child joins the population on the right; beyond ``P`` members the oldest leaves.

A result with an objective that is NaN (unrecorded) or infinite counts as ``-inf`` in every
objective: dominated by every member whose objectives are all finite, it never wins a tournament
against one (REA treats a NaN accuracy the same way).

Defaults: ``population_size=10``, ``sample_size=3``, as nasearch's REA (NAS-Bench-201's R-EA
settings), so the two are comparable arm for arm; Syne Tune's defaults are 100 and 10.

What ``n > 1`` means: ``ask(n)`` returns ``n`` mutations of the winner of ONE tournament (one per
ask), which a pre-filter screens; in the initialisation phase ``n`` independent uniform cells.

Asynchronous workers: as REA's. Each ask runs a tournament on the population *as told so far*
(ranked once per change of the population, not per ask); nothing is stored per ask, so tells may come
in any order, pending proposals are simply not in the population yet, and a proposal never told is
forgotten. With one worker each ask follows the previous tell.

Deviations from Syne Tune: it re-scores every member when a result arrives, over the population
including the newcomer *before* the oldest member is removed (so the scores still count a member that
has just left); here the ranking is of the current population (after aging), as NSGA-II ranks its
current population. Its score is one position in a total order: the fronts in turn, each ordered by
an epsilon-net (Clarkson's farthest-point order, seeded by the best member of the first objective:
Salinas, Perrone, Archambeau & Cruchant, NAS workshop at ICLR 2021); here within a front by NSGA-II's
crowding distance (less crowded first), then at random, as the NSGA-II tournament. Its tournament
draws candidates with numpy's legacy ``RandomState.choice``; here all randomness comes from the
``np.random.Generator`` given at construction. Its defaults (P = 100, S = 10) are not used (above).
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections import deque
from typing import ClassVar

import numpy as np

from nasearch.benchmarks.base import Result
from nasearch.pareto import crowding_distance, nondominated_sort
from nasearch.space.base import SearchSpace
from nasearch.strategies.base import Arch, Strategy, StrategyError, register_strategy


def check_size(who: str, key: str, value: object) -> int:
    """A positive integer setting, else a :class:`StrategyError` naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise StrategyError(f"{who} {key}={value!r} is invalid: expected an integer >= 1")
    return int(value)


class AgingMultiObjectiveEvolution(Strategy):
    """REA's population, aging and mutation with a multi-objective tournament: the shared body of
    ``mo_rea`` and ``random_scalarization``. A subclass chooses the parent among the drawn members
    (:meth:`_winner`); everything else (settings, initialisation, aging, the objectives check) is
    here."""

    multi_objective: ClassVar[bool] = True
    """Every told result must carry ``Result.objectives`` (a multi-objective search)."""

    def __init__(
        self,
        rng: np.random.Generator,
        *,
        space: SearchSpace | str,
        fidelities: tuple[int, ...] = (),
        population_size: int = 10,
        sample_size: int = 3,
    ):
        super().__init__(rng, space=space, fidelities=fidelities)
        self.population_size = check_size(self.name, "population_size", population_size)
        self.sample_size = check_size(self.name, "sample_size", sample_size)
        # (arch, oriented objectives, all -inf when one is not finite), oldest on the left; maxlen ages
        self.population: deque[tuple[Arch, np.ndarray]] = deque(maxlen=self.population_size)
        self.num_objectives: int | None = None
        self._ranked: tuple[np.ndarray, ...] | None = None
        """What a subclass derives from the population (MO-REA: its ranking); None after each tell."""

    def ask(self, n: int = 1) -> list[Arch]:
        rng = self.rng
        if len(self.population) < self.population_size:
            sample = self.space.sample
            return [sample(rng) for _ in range(n)]
        draws = rng.integers(0, len(self.population), size=self.sample_size)
        parent = self.population[self._winner(draws)][0]
        mutate = self.space.mutate
        return [mutate(parent, rng) for _ in range(n)]

    @abstractmethod
    def _winner(self, draws: np.ndarray) -> int:
        """The population position of the parent among the drawn positions ``draws``."""

    def objectives_of(self, result: Result) -> np.ndarray:
        """``result.objectives`` as a float array (all ``-inf`` when one is NaN or infinite), or a
        :class:`StrategyError` when the result has none, fewer than two, or another number than the
        results told before."""
        values = getattr(result, "objectives", None)
        if values is None:
            raise StrategyError(
                f"strategy {self.name!r} is multi-objective: every result it is told must carry its "
                "objectives (Result.objectives), which the runner sets when search.objectives names at "
                "least two metrics, e.g. search.objectives=[valid_acc,latency]; this result has none "
                f"(valid_acc={result.valid_acc!r}), so the search is single-objective: set "
                "search.objectives or use a single-objective strategy such as rea"
            )
        arr = np.asarray(tuple(values), dtype=np.float64).reshape(-1)
        if arr.size < 2:
            raise StrategyError(
                f"strategy {self.name!r} is multi-objective and needs search.objectives with at least two "
                f"metrics (e.g. [valid_acc,latency]); the result told has objectives={tuple(values)!r}"
            )
        if self.num_objectives is not None and arr.size != self.num_objectives:
            raise StrategyError(
                f"strategy {self.name!r} was told {self.num_objectives} objectives before and now "
                f"{arr.size} (objectives={tuple(values)!r}): every result of a search has the same "
                "search.objectives"
            )
        if not np.isfinite(arr).all():
            return np.full(arr.size, -math.inf)  # unrecorded or failed: never a parent over a finite member
        return arr

    def tell(self, arch: Arch, result: Result, fidelity: int) -> None:
        values = self.objectives_of(result)
        self.num_objectives = values.size
        self.population.append((arch, values))
        self._ranked = None  # the population changed

    def objective_matrix(self) -> np.ndarray:
        """The population's objectives, shape (members, objectives), oldest first."""
        return np.stack([v for _, v in self.population])


@register_strategy
class MultiObjectiveRegularizedEvolution(AgingMultiObjectiveEvolution):
    name = "mo_rea"
    paper = (
        "Real et al., AAAI 2019 (regularized evolution); Deb et al., IEEE TEVC 2002 (NSGA-II's "
        "non-dominated sorting and crowding distance); as Syne Tune's MultiObjectiveRegularizedEvolution "
        "(Salinas et al., AutoML Conf 2022)"
    )

    def ranking(self) -> tuple[np.ndarray, np.ndarray]:
        """(front number, crowding distance within its front) of every member, oldest first."""
        if self._ranked is None:
            y = self.objective_matrix()
            front = nondominated_sort(y)
            crowd = np.zeros(len(y))
            for k in np.unique(front):
                members = np.flatnonzero(front == k)
                crowd[members] = crowding_distance(y[members])
            self._ranked = (front, crowd)
        front, crowd = self._ranked
        return front, crowd

    def _winner(self, draws: np.ndarray) -> int:
        front, crowd = self.ranking()
        drawn = np.unique(draws)  # distinct members, by population position
        best_front = front[drawn].min()
        drawn = drawn[front[drawn] == best_front]
        best_crowd = crowd[drawn].max()
        drawn = drawn[crowd[drawn] == best_crowd]
        if drawn.size == 1:
            return int(drawn[0])
        return int(drawn[int(self.rng.integers(drawn.size))])
