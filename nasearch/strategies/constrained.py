"""Budgeted search: only cells that satisfy the search's constraints are ever proposed.

A constraint bounds a metric the benchmark records for every cell *before* training (parameters,
FLOPs, latency: :class:`nasearch.benchmarks.base.Metric` with ``per_fidelity=False``):
``search.constraints.flops=50`` keeps cells with at most 50 MFLOPs; a metric where higher is better
is bounded from below instead. The constraints become one feasibility mask over the space
(:func:`nasearch.search.feasible_mask`, which reads the benchmark's metrics), and :class:`Constrained` wraps any strategy so that what it hands on (to a
pre-filter, then to the runner) is feasible: an infeasible proposal is dropped unevaluated and
untold, as a pre-filter's screened-out candidates are, and the strategy is asked again. This is how
ZiCo's budgeted search (Li et al., ICLR 2023) and most budgeted NAS treat a cost known from the
architecture alone: a candidate over the budget costs nothing and is never trained. With a pre-filter,
the N candidates it screens are all feasible (``PreFilter(Constrained(strategy))``).

Refused before any run (:class:`ConstraintError`): an unknown metric (naming the benchmark's), a
metric known only after training (an accuracy, the training time), a bound that is not a finite
number, and constraints no cell of the space satisfies (naming the smallest / largest value there
is). Cells whose value the benchmark does not record (NaN) are infeasible.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nasearch.errors import NasearchError
from nasearch.strategies.base import Arch, Strategy, StrategyError


class ConstraintError(NasearchError):
    """Constraints that cannot be applied: unknown or post-training metric, bad bound, nothing feasible."""


MAX_REJECTS = 100_000
"""Infeasible proposals in a row after which :class:`Constrained` gives up (a strategy that cannot
leave the infeasible region, e.g. a tiny feasible set its mutations never reach)."""


class Constrained(Strategy):
    """Wraps ``inner`` so that it proposes only cells where ``mask[arch.index]`` is true.

    ``ask(n)`` asks ``inner`` again (for the missing number) until it has ``n`` feasible proposals, or,
    when ``inner`` has no free choice (returns fewer than asked), until one of its proposals is
    feasible; the infeasible ones are forgotten: never evaluated, never told; ``tell``, ``fidelity_for`` and the
    overhead pass through. With every cell feasible it is call for call the inner strategy."""

    name = "constrained"

    def __init__(self, inner: Strategy, mask: np.ndarray):
        self.inner = inner
        self.rng = inner.rng
        self.space = inner.space
        self.fidelities = inner.fidelities
        self.mask = np.asarray(mask, dtype=bool)
        if self.mask.shape != (self.space.num_archs,):
            raise ConstraintError(
                f"feasibility mask of shape {self.mask.shape} does not fit space {self.space.name!r} "
                f"({self.space.num_archs} cells)"
            )
        inner.restrict(self.mask)
        self.rejected = 0
        """Infeasible proposals dropped so far (over the run)."""

    def ask(self, n: int = 1) -> list[Arch]:
        keep: list[Arch] = []
        rejects = 0
        while True:
            asked = n - len(keep)
            proposals = self.inner.ask(asked)
            ok = [a for a in proposals if self.mask[a.index]]
            if len(ok) < len(proposals):
                self.inner.forget([a for a in proposals if not self.mask[a.index]])
            self.rejected += len(proposals) - len(ok)
            rejects += len(proposals) - len(ok)
            keep.extend(ok)
            # n alternatives for a pre-filter when the strategy has a free choice; when it has none
            # (it returned fewer than asked: BOHB promoting, say) what it gave, once one is feasible
            if len(keep) >= n or (keep and len(proposals) < asked):
                return keep
            if rejects >= MAX_REJECTS:
                raise StrategyError(
                    f"strategy {type(self.inner).__name__} proposed {rejects} cells that violate the search's "
                    f"constraints while asked for {n} ({int(self.mask.sum())} of {len(self.mask)} cells satisfy "
                    "them): loosen the constraints or use a strategy that samples the space (strategy=rs)"
                )

    def tell(self, arch: Arch, result: Any, fidelity: int) -> None:
        self.inner.tell(arch, result, fidelity)

    def fidelity_for(self, arch: Arch) -> int | None:
        return self.inner.fidelity_for(arch)

    def forget(self, archs: list[Arch]) -> None:
        self.inner.forget(archs)

    def take_overhead_seconds(self) -> float:
        return self.inner.take_overhead_seconds()


__all__ = ["MAX_REJECTS", "ConstraintError", "Constrained"]
