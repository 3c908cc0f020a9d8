"""One search run: the runner owns the simulated clock and the budget; it does no file I/O.

``run_search`` asks the strategy for one proposal at a time (a pre-filter wrapping it may screen N
candidates first), queries the benchmark at the fidelity the strategy wants (default: the search
fidelity), charges the recorded training time to the simulated clock, and tells the strategy the
result. The incumbent is the evaluated cell with the best *validation* accuracy at the fidelity it
was evaluated at (ties: the earlier); at the end it is reported by its *test* accuracy at the
benchmark's final fidelity on every dataset of the benchmark.

Budget semantics follow the NATS-Bench baseline scripts: the loop runs while the clock is below the
time budget, so the query that crosses it still counts (NB201's original RANDOM.py / R_EA.py drop that
last query instead; the difference is one evaluation per run). A query budget stops after exactly
that many evaluations.

Asynchronous workers (``workers=K``, the simulator backend of Syne Tune in spirit): K evaluations are
in flight on the simulated clock, each finishing at its start plus its tabulated training time; the
clock jumps to the next finish, the strategy is told that result and asked for a new proposal for
the freed worker. No evaluation starts once the clock has reached the time budget; those already
running finish and count, as the crossing query does with one worker (so a run may end up to one
training time past the budget, with up to K results there). The strategy's compute (``charge_overhead``)
delays the start of the proposal it produced: the scheduler is one process that asks in turn.
With one worker the calls, the clock's arithmetic and the results are those of the sequential loop.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from nasearch.benchmarks.base import (
    Benchmark,
    BenchmarkError,
    Result,
    benchmark_metrics,
    check_dataset,
    get_metric,
    resolve_fidelity,
)
from nasearch.errors import NasearchError
from nasearch.strategies.base import Arch, Strategy
from nasearch.strategies.constrained import ConstraintError


class BudgetError(NasearchError):
    """An impossible budget."""


@dataclass(frozen=True)
class Budget:
    """Simulated training seconds and/or number of benchmark queries; the first reached stops the run."""

    seconds: float | None = None
    queries: int | None = None

    def __post_init__(self) -> None:
        if self.seconds is None and self.queries is None:
            raise BudgetError("a search budget needs seconds or queries (or both); got neither")
        if self.seconds is not None and not (math.isfinite(self.seconds) and self.seconds > 0):
            raise BudgetError(f"budget seconds={self.seconds!r} is impossible: expected a positive number")
        if self.queries is not None and (not isinstance(self.queries, int) or self.queries < 1):
            raise BudgetError(f"budget queries={self.queries!r} is impossible: expected an integer >= 1")


@dataclass
class Trajectory:
    """What one run did: per evaluation, the clock, the cell and its result; and the incumbent."""

    sim_seconds: list[float] = field(default_factory=list)
    archs: list[Arch] = field(default_factory=list)
    fidelities: list[int] = field(default_factory=list)
    valid_accs: list[float] = field(default_factory=list)
    incumbents: list[Arch] = field(default_factory=list)
    objective_values: list[tuple[float, ...]] = field(default_factory=list)
    """Multi-objective search: each evaluation's objective values (oriented: higher is better)."""
    workers: int = 1
    """Simulated asynchronous workers of the run (``sim_seconds`` is when each evaluation finished)."""
    overhead_seconds: float = 0.0
    """Strategy compute (proxy scoring) over the run, whether or not it was charged to the clock."""
    final: dict[str, float] = field(default_factory=dict)
    """Incumbent's test accuracy at the final fidelity, per dataset."""
    final_valid: dict[str, float] = field(default_factory=dict)

    @property
    def incumbent(self) -> Arch | None:
        return self.incumbents[-1] if self.incumbents else None

    @property
    def queries(self) -> int:
        return len(self.archs)

    @property
    def total_seconds(self) -> float:
        return self.sim_seconds[-1] if self.sim_seconds else 0.0


def feasible_mask(
    bench: Benchmark, dataset: str, constraints: Mapping[str, Any], where: str = "search.constraints"
) -> np.ndarray:
    """Budgeted search (:mod:`nasearch.strategies.constrained`). Boolean mask by ``arch.index``: the cells of ``bench``'s space that satisfy every constraint
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


def objective_values(
    benchmark: Benchmark, dataset: str, objectives: tuple[str, ...], where: str = "search.objectives"
) -> Callable[[Arch, Result, int], tuple[float, ...]]:
    """The function ``(arch, result, fidelity) -> values`` of a multi-objective search: each metric's
    value for the evaluated cell, negated where lower is better. ``valid_acc`` and ``train_seconds``
    are the result's own (at the fidelity evaluated); another metric recorded per fidelity is read at
    that fidelity; an architecture metric (params, FLOPs, latency) from the benchmark's column.
    Refused (:class:`BudgetError`): fewer than two objectives, one named twice, an unknown metric, or
    ``test_acc`` (a search must not select by the test split)."""
    from nasearch.benchmarks.base import get_metric

    names = tuple(objectives)
    if len(names) < 2:
        raise BudgetError(f"{where}={list(names)!r}: a multi-objective search needs at least two metrics, e.g. "
                          "[valid_acc, latency]; for a single objective leave it unset (null)")
    if len(set(names)) != len(names):
        raise BudgetError(f"{where}={list(names)!r} names a metric twice")
    metrics = []
    for name in names:
        try:
            metric = get_metric(benchmark, name, where=where)
        except BenchmarkError as exc:
            raise BudgetError(str(exc)) from None
        if name == "test_acc":
            raise BudgetError(f"{where}: test_acc is the held-out figure a search reports, not one it may select "
                              "by; use valid_acc")
        metrics.append(metric)
    columns: dict[tuple[str, int | None], Any] = {}

    def value(metric: Any, arch: Arch, result: Result, fidelity: int) -> float:
        if metric.name == "valid_acc":
            v = result.valid_acc
        elif metric.name == "train_seconds" and result.train_seconds is not None:
            v = result.train_seconds
        else:
            key = (metric.name, fidelity if metric.per_fidelity else None)
            if key not in columns:
                columns[key] = benchmark.column(dataset, metric.name, key[1])
            v = float(columns[key][arch.index])
        return float(v) if metric.higher_is_better else -float(v)

    def values(arch: Arch, result: Result, fidelity: int) -> tuple[float, ...]:
        return tuple(value(m, arch, result, fidelity) for m in metrics)

    return values


def run_search(
    benchmark: Benchmark,
    strategy: Strategy,
    dataset: str,
    budget: Budget,
    *,
    fidelity: int | None = None,
    charge_overhead: bool = False,
    report_datasets: tuple[str, ...] | None = None,
    workers: int = 1,
    objectives: tuple[str, ...] | None = None,
) -> Trajectory:
    """Run ``strategy`` on ``benchmark``/``dataset`` until ``budget`` is spent.

    ``fidelity``: epochs of the search queries (default: the benchmark's lowest, NB201's 12-epoch
    protocol). ``charge_overhead``: add the strategy's own compute time (proxy scoring) to the clock.
    ``workers``: simulated asynchronous workers (K). Each evaluation occupies one from the moment it
    is asked for until its tabulated training time has passed; the strategy is asked for a new
    proposal whenever one frees and told results in the order they finish (ties: the one started
    first). ``workers=1`` is the sequential loop, call for call.
    ``objectives``: a multi-objective search's metrics (names the benchmark declares, at least two):
    every result told to the strategy carries their values (``Result.objectives``, each oriented so
    higher is better) and the trajectory records them (``objective_values``). The incumbent stays the
    best by validation accuracy.
    """
    check_dataset(benchmark, dataset)
    space = getattr(benchmark, "space", None)
    if space is not None and strategy.space is not space:
        raise BenchmarkError(
            f"strategy {type(strategy).__name__} searches space {strategy.space.name!r} but benchmark "
            f"{benchmark.name!r} answers for space {space.name!r}; build the strategy with space=benchmark.space"
        )
    search_fidelity = resolve_fidelity(benchmark, fidelity if fidelity is not None else benchmark.fidelities[0])
    if budget.seconds is not None and not benchmark.has_train_time:
        raise BudgetError(
            f"benchmark {benchmark.name!r} records no training times, so a simulated-time budget "
            f"(seconds={budget.seconds}) cannot be charged; use a query budget (budget.queries=N)"
        )
    final_fidelity = benchmark.fidelities[-1]
    report = report_datasets if report_datasets is not None else benchmark.datasets
    for d in report:
        check_dataset(benchmark, d)

    if not (isinstance(workers, int) and workers >= 1):
        raise BudgetError(f"simulated workers={workers!r} is impossible: expected an integer >= 1")
    values_of = objective_values(benchmark, dataset, objectives) if objectives else None
    traj = Trajectory(workers=workers)
    clock = 0.0
    best_acc = -math.inf
    best: Arch | None = None
    started = 0
    in_flight: list[tuple[float, int, Arch, int, Result]] = []  # (finish time, start order, arch, fidelity, result)
    queued: list[Arch] = []  # proposals of one ask beyond the free workers (a pre-filter's k > 1)

    def start(arch: Arch) -> None:
        nonlocal started
        f = strategy.fidelity_for(arch) or search_fidelity
        result = benchmark.query(arch, dataset, f)
        finish = clock + result.train_seconds if result.train_seconds is not None else clock
        heapq.heappush(in_flight, (finish, started, arch, f, result))
        started += 1

    def spent() -> bool:
        return budget.queries is not None and started >= budget.queries

    while True:
        # a free worker takes the next proposal already asked for (they were committed when asked,
        # so the time budget does not stop them), else the strategy is asked while the budget lasts
        while len(in_flight) < workers and not spent():
            if queued:
                start(queued.pop(0))
                continue
            if budget.seconds is not None and clock >= budget.seconds:
                break
            proposals = list(strategy.ask(1))
            overhead = strategy.take_overhead_seconds()
            traj.overhead_seconds += overhead
            if charge_overhead:
                clock += overhead
            queued.extend(proposals)
        if not in_flight:
            break
        # the evaluation that finishes first (ties: the one started first) frees its worker
        finish, _, arch, f, result = heapq.heappop(in_flight)
        clock = max(clock, finish)
        if values_of is not None:
            result = replace(result, objectives=values_of(arch, result, f))
            traj.objective_values.append(result.objectives)  # type: ignore[arg-type]
        strategy.tell(arch, result, f)
        if result.valid_acc > best_acc:
            best_acc, best = result.valid_acc, arch
        traj.sim_seconds.append(clock)
        traj.archs.append(arch)
        traj.fidelities.append(f)
        traj.valid_accs.append(result.valid_acc)
        traj.incumbents.append(best)  # type: ignore[arg-type]
    if best is None:
        raise BudgetError("the budget allowed no evaluation at all")
    for d in report:
        r = benchmark.query(best, d, final_fidelity)
        traj.final[d] = r.test_acc
        traj.final_valid[d] = r.valid_acc
    return traj


__all__ = ["Budget", "BudgetError", "BenchmarkError", "Trajectory", "feasible_mask", "objective_values", "run_search"]
