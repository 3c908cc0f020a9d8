"""Regularized (aging) evolution, REA (Real, Aggarwal, Huang & Le, AAAI 2019), as NAS-Bench-201's
R-EA baseline (Dong & Yang, ICLR 2020; xautodl ``exps/NATS-algos/regularized_ea.py``).

Algorithm 1 of the paper, on any search space (``space.sample`` / ``space.mutate``):

1. *Initialisation.* While the population holds fewer than ``P`` evaluated cells, propose cells
   drawn uniformly from the space (``space.sample``; NB201: all 15,625).
2. *Cycle.* Draw ``S`` members of the population uniformly *with replacement*; the parent is the one
   with the best fitness (validation accuracy as told; ties: the first drawn). Propose the child
   ``space.mutate(parent)``, which always differs from its parent (NB201: one edge chosen uniformly,
   its op replaced by a different op uniformly; other spaces: see their module).
3. *Aging.* Every told child joins the population on the right; when the population exceeds ``P``
   the *oldest* member (leftmost), not the worst, is removed.

Defaults and their source: ``population_size=10`` and ``sample_size=3`` are NAS-Bench-201's
(``--ea_population 10 --ea_sample_size 3`` in the released R-EA scripts, NB201 §5 and NATS-Bench).
Fitness is the validation accuracy the runner tells, at whatever fidelity it was evaluated (NB201
evolves on the 12-epoch validation accuracy, the runner's default search fidelity).

What ``n > 1`` means: ``ask(n)`` returns ``n`` alternatives for the next child, all mutations of the
winner of ONE tournament (one tournament per ask), which a pre-filter screens; in the initialisation
phase, ``n`` independent uniform cells. ``ask(1)`` is exactly NB201's step.

Asynchronous workers: this is the paper's asynchronous version (Real et al. run many workers, each
of which takes a tournament winner of the current population, trains its mutant and returns it to
the population, killing the oldest). Each ask runs a tournament on the population *as told so far*
and mutates its winner; a told child is appended and the oldest member removed. Proposals asked and
not yet told (a worker still training them) are simply not in the population: nothing is stored per
ask, so tells may come in any order, two asks may propose the same cell, and a cell asked two asks
ago is told like any other. The population is ordered by tell time, which is what "oldest" means
here; the initialisation phase lasts until ``P`` results are told (with K workers up to ``P + K - 1``
uniform cells are asked). Only *told* cells enter the population: a proposal a pre-filter screens
out, or one never told, is forgotten. With one worker each ask follows the previous tell: Algorithm
1 exactly.

On NB201 cifar10 at the 12,000 s budget (seeds 0..499, incumbent's 200-epoch test accuracy) this
gives 93.94 +- 0.39 against random search's 93.78 +- 0.33, in line with NB201's published figures
(about 93.9 and 93.7); 500 runs take about 2 s.

Deviations from NB201's reference code: none in the algorithm. Randomness comes from the
``np.random.Generator`` given at construction instead of Python's global ``random``; the tournament
draws all ``S`` indices in one call. The "cycles" argument of the reference script is unused there
too (the time budget stops the run), so it is not a setting here.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from nasearch.benchmarks.base import Result
from nasearch.space.base import SearchSpace
from nasearch.strategies.base import Arch, Strategy, StrategyError, register_strategy


@register_strategy
class RegularizedEvolution(Strategy):
    name = "rea"
    paper = "Real, Aggarwal, Huang & Le, Regularized evolution for image classifier architecture search, AAAI 2019"

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
        if (
            isinstance(population_size, bool)
            or not isinstance(population_size, (int, np.integer))
            or population_size < 1
        ):
            raise StrategyError(
                f"rea population_size={population_size!r} is invalid: expected an integer >= 1"
            )
        if isinstance(sample_size, bool) or not isinstance(sample_size, (int, np.integer)) or sample_size < 1:
            raise StrategyError(f"rea sample_size={sample_size!r} is invalid: expected an integer >= 1")
        self.population_size = int(population_size)
        self.sample_size = int(sample_size)
        # (arch, fitness), oldest on the left; maxlen does the aging (append drops the leftmost).
        self.population: deque[tuple[Arch, float]] = deque(maxlen=self.population_size)

    def ask(self, n: int = 1) -> list[Arch]:
        rng = self.rng
        pop = self.population
        if len(pop) < self.population_size:
            sample = self.space.sample
            return [sample(rng) for _ in range(n)]
        parent = self._tournament()
        mutate = self.space.mutate
        return [mutate(parent, rng) for _ in range(n)]

    def _tournament(self) -> Arch:
        pop = self.population
        draws = self.rng.integers(0, len(pop), size=self.sample_size).tolist()
        best_arch, best_fit = pop[draws[0]]
        for i in draws[1:]:
            arch, fit = pop[i]
            if fit > best_fit:
                best_arch, best_fit = arch, fit
        return best_arch

    def tell(self, arch: Arch, result: Result, fidelity: int) -> None:
        acc = float(result.valid_acc)
        self.population.append((arch, acc if acc == acc else -np.inf))  # NaN fitness never wins
