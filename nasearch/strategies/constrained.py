"""Budgeted search: only cells that satisfy the search's constraints are ever proposed.

A constraint bounds a metric the benchmark records for every cell *before* training (parameters,
FLOPs, latency: :class:`nasearch.benchmarks.base.Metric` with ``per_fidelity=False``):
``search.constraints.flops=50`` keeps cells with at most 50 MFLOPs; a metric where higher is better
is bounded from below instead. The constraints become one feasibility mask over the space
(:func:`feasible_mask`), and :class:`Constrained` wraps any strategy so that what it hands on (to a
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

from collections.abc import Mapping
from typing import Any

import numpy as np

from nasearch.benchmarks.base import Benchmark, BenchmarkError, benchmark_metrics, get_metric
from nasearch.errors import NasearchError
from nasearch.strategies.base import Arch, Strategy, StrategyError


class ConstraintError(NasearchError):
    """Constraints that cannot be applied: unknown or post-training metric, bad bound, nothing feasible."""


MAX_REJECTS = 100_000
"""Infeasible proposals in a row after which :class:`Constrained` gives up (a strategy that cannot
leave the infeasible region, e.g. a tiny feasible set its mutations never reach)."""


def feasible_mask(
    bench: Benchmark, dataset: str, constraints: Mapping[str, Any], where: str = "search.constraints"
) -> np.ndarray:
    """Boolean mask by ``arch.index``: the cells of ``bench``'s space that satisfy every constraint
    (metric name -> bound; an upper bound for a metric where lower is better, a lower bound otherwise).
    Raises :class:`ConstraintError` naming the key, the value and what is accepted."""
    n = bench.space.num_archs
    mask = np.ones(n, dtype=bool)
    for name, bound in constraints.items():
        key = f"{where}.{name}"
        try:
            metric = get_metric(bench, name, where=key)
        except BenchmarkError as exc:
            raise ConstraintError(str(exc)) from None
        if metric.per_fidelity:
            pre = [m for m, d in benchmark_metrics(bench).items() if not d.per_fidelity]
            raise ConstraintError(
                f"{key}={bound!r}: {name!r} is known only after training, so it cannot screen a candidate "
                f"before it is evaluated; constrain a metric of the architecture: "
                + (", ".join(pre) if pre else f"none (benchmark {bench.name!r} records no cost)")
            )
        if isinstance(bound, bool) or not isinstance(bound, (int, float)) or not np.isfinite(bound):
            raise ConstraintError(f"{key}={bound!r} is not accepted: a finite number ({metric.unit or 'no unit'})")
        values = np.asarray(bench.column(dataset, name), dtype=float)
        with np.errstate(invalid="ignore"):
            ok = values >= bound if metric.higher_is_better else values <= bound
        ok &= np.isfinite(values)
        alone = bool(ok.any())
        mask &= ok
        if not mask.any():
            finite = values[np.isfinite(values)]
            edge = (finite.max() if metric.higher_is_better else finite.min()) if len(finite) else float("nan")
            op = ">=" if metric.higher_is_better else "<="
            also = " together with the constraints before it" if alone else ""
            raise ConstraintError(
                f"{key}={bound!r} is infeasible: no cell of benchmark {bench.name!r} ({dataset}) has {name} {op} "
                f"{bound}{also} (the {'largest' if metric.higher_is_better else 'smallest'} {name} in the space is "
                f"{edge:g} {metric.unit})"
            )
    return mask


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


__all__ = ["MAX_REJECTS", "ConstraintError", "Constrained", "feasible_mask"]
