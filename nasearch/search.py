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
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from nasearch.benchmarks.base import Benchmark, BenchmarkError, check_dataset, resolve_fidelity
from nasearch.errors import NasearchError
from nasearch.strategies.base import Arch, Strategy


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


def run_search(
    benchmark: Benchmark,
    strategy: Strategy,
    dataset: str,
    budget: Budget,
    *,
    fidelity: int | None = None,
    charge_overhead: bool = False,
    report_datasets: tuple[str, ...] | None = None,
) -> Trajectory:
    """Run ``strategy`` on ``benchmark``/``dataset`` until ``budget`` is spent.

    ``fidelity``: epochs of the search queries (default: the benchmark's lowest, NB201's 12-epoch
    protocol). ``charge_overhead``: add the strategy's own compute time (proxy scoring) to the clock.
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

    traj = Trajectory()
    clock = 0.0
    best_acc = -math.inf
    best: Arch | None = None
    while True:
        if budget.seconds is not None and clock >= budget.seconds:
            break
        if budget.queries is not None and traj.queries >= budget.queries:
            break
        proposals = strategy.ask(1)
        overhead = strategy.take_overhead_seconds()
        traj.overhead_seconds += overhead
        if charge_overhead:
            clock += overhead
        for arch in proposals:
            f = strategy.fidelity_for(arch) or search_fidelity
            result = benchmark.query(arch, dataset, f)
            if result.train_seconds is not None:
                clock += result.train_seconds
            strategy.tell(arch, result, f)
            if result.valid_acc > best_acc:
                best_acc, best = result.valid_acc, arch
            traj.sim_seconds.append(clock)
            traj.archs.append(arch)
            traj.fidelities.append(f)
            traj.valid_accs.append(result.valid_acc)
            traj.incumbents.append(best)  # type: ignore[arg-type]
            if budget.queries is not None and traj.queries >= budget.queries:
                break
    if best is None:
        raise BudgetError("the budget allowed no evaluation at all")
    for d in report:
        r = benchmark.query(best, d, final_fidelity)
        traj.final[d] = r.test_acc
        traj.final_valid[d] = r.valid_acc
    return traj


__all__ = ["Budget", "BudgetError", "BenchmarkError", "Trajectory", "run_search"]
