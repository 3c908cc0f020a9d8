"""The Benchmark protocol: a stateless lookup of trained results.

A benchmark answers ``query(arch, dataset, fidelity) -> Result``. It has no clock and no memory of
past queries: the runner (:func:`nasearch.search.run_search`) charges simulated time and counts
queries. Every backend shares this interface and one contract test suite
(:class:`nasearch.testing.BenchmarkContract`, run over every registered benchmark by tests/contract/test_benchmarks.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from nasearch.errors import NasearchError
from nasearch.registry import Registry
from nasearch.space.base import SearchSpace

Arch = Any
"""An arch of the benchmark's space (``bench.space``)."""

DATASETS: tuple[str, ...] = ("cifar10", "cifar100", "ImageNet16-120")


class BenchmarkError(NasearchError):
    """Bad benchmark input: unknown dataset or fidelity, missing or malformed file."""


@dataclass(frozen=True, slots=True)
class Result:
    """One trained result. Accuracies in percent; ``train_seconds`` is None where unrecorded."""

    valid_acc: float
    test_acc: float
    train_seconds: float | None


@runtime_checkable
class Benchmark(Protocol):
    name: str
    space: SearchSpace
    """The search space whose archs ``query`` takes (``column`` is indexed by ``arch.index``)."""
    datasets: tuple[str, ...]
    fidelities: tuple[int, ...]
    """Training epochs with recorded results, ascending; the last is the final fidelity."""
    has_train_time: bool
    """Whether ``train_seconds`` is recorded, i.e. whether a simulated-time budget is possible."""

    def query(self, arch: Arch, dataset: str, fidelity: int | None = None) -> Result:
        """Result of ``arch`` trained for ``fidelity`` epochs (default: the final fidelity)."""
        ...

    def column(self, dataset: str, metric: str, fidelity: int | None = None) -> np.ndarray:
        """``metric`` ('valid_acc', 'test_acc', 'train_seconds') of all cells, indexed by Arch.index."""
        ...


def check_dataset(bench: Benchmark, dataset: str) -> None:
    if dataset not in bench.datasets:
        raise BenchmarkError(
            f"dataset {dataset!r} is not in benchmark {bench.name!r}; accepted: {', '.join(bench.datasets)}"
        )


def resolve_fidelity(bench: Benchmark, fidelity: int | None) -> int:
    if fidelity is None:
        return bench.fidelities[-1]
    if fidelity not in bench.fidelities:
        raise BenchmarkError(
            f"fidelity {fidelity!r} epochs is not recorded by benchmark {bench.name!r}; "
            f"accepted: {', '.join(map(str, bench.fidelities))}"
        )
    return int(fidelity)


def check_complete(bench: Benchmark, where: str = "") -> None:
    """Every cell of the space has every figure a search reads (validation and test accuracy at each
    fidelity on every dataset, and training time where the benchmark records it): a table with
    missing rows is refused when it is opened for a run, not when a search first proposes a missing
    cell."""
    metrics = ("valid_acc", "test_acc") + (("train_seconds",) if bench.has_train_time else ())
    for d in bench.datasets:
        for f in bench.fidelities:
            for m in metrics:
                missing = np.flatnonzero(np.isnan(bench.column(d, m, f)))
                if len(missing):
                    example = bench.space.to_string(bench.space.from_index(int(missing[0])))
                    source = getattr(bench, "path", None)
                    raise BenchmarkError(
                        f"benchmark {bench.name!r}" + (f" (table {str(source)!r})" if source is not None else "")
                        + (f" ({where})" if where else "")
                        + f" lacks {m} at {f'{f} epochs' if f >= 0 else 'the final epoch'} on {d} for {len(missing)} "
                        f"of {bench.space.num_archs} cells, e.g. {example}: a search may propose any cell, so every cell needs its figures; use a "
                        "complete table (`nasearch convert` builds one from the official NAS-Bench-201 / NATS-Bench files)"
                    )


# ---------------------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class BenchmarkEntry:
    """A registered benchmark: how to build it and the search space it answers for (known without
    building it, so ``benchmark_space`` never loads a table)."""

    name: str
    factory: Callable[..., Benchmark]
    """``factory(path, where=...)`` -> the benchmark (``path``: its file, None for the default)."""
    space: str
    """Registry name of the benchmark's search space (``bench.space.name``)."""


BUILTIN_MODULES: tuple[str, ...] = tuple(
    f"nasearch.benchmarks.{m}" for m in ("table", "analognas", "nasbench_macro", "transnas101")
)
"""The modules of this package that define benchmarks, in the order :data:`BENCHMARKS` lists them."""

BENCHMARK_REGISTRY: Registry[BenchmarkEntry] = Registry(
    "benchmark", error=BenchmarkError, builtins=BUILTIN_MODULES, sort=False
)
"""Every benchmark: built-ins and the entry points of the group ``nasearch.benchmarks``."""


def register_benchmark(name: str, *, space: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator of a benchmark class (or factory function) called as ``factory(path, where=...)``:
    register it as ``name``, answering for the search space registered as ``space``."""

    def deco(factory: Callable[..., Any]) -> Callable[..., Any]:
        BENCHMARK_REGISTRY.register(name, BenchmarkEntry(name, factory, space),
                                    origin=f"{factory.__module__}.{factory.__qualname__}")
        return factory

    return deco
