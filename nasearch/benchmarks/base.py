"""The Benchmark protocol: a stateless lookup of trained results.

A benchmark answers ``query(arch, dataset, fidelity) -> Result``. It has no clock and no memory of
past queries: the runner (:func:`nasearch.search.run_search`) charges simulated time and counts
queries. Every backend shares this interface and one contract test suite
(:class:`nasearch.testing.BenchmarkContract`, run over every registered benchmark by tests/contract/test_benchmarks.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from nasearch.errors import NasearchError
from nasearch.registry import Registry
from nasearch.space.base import SearchSpace
from nasearch.suggest import did_you_mean

Arch = Any
"""An arch of the benchmark's space (``bench.space``)."""

DATASETS: tuple[str, ...] = ("cifar10", "cifar100", "ImageNet16-120")


class BenchmarkError(NasearchError):
    """Bad benchmark input: unknown dataset or fidelity, missing or malformed file."""


@dataclass(frozen=True, slots=True)
class Result:
    """One trained result. Accuracies in percent; ``train_seconds`` is None where unrecorded.

    ``objectives``: in a multi-objective search, the runner's values of the search's objectives for
    this cell (``search.objectives``, in that order), each oriented so that higher is better (a cost
    such as latency is negated); None in a single-objective search. Benchmarks never set it."""

    valid_acc: float
    test_acc: float
    train_seconds: float | None
    objectives: tuple[float, ...] | None = None


@dataclass(frozen=True)
class Metric:
    """One figure a benchmark records for every cell, as code outside the benchmark needs to know it
    (to rank, constrain or trade it off without knowing the benchmark's name). Units are shared by every
    benchmark, so ``search.constraints.flops=50`` means 50 MFLOPs whichever benchmark answers."""

    name: str
    """What ``column(dataset, name)`` reads, e.g. "valid_acc", "test_acc", "params", "flops", "latency",
    or a TransNAS-Bench-101 task metric such as "valid_ssim"."""
    higher_is_better: bool
    unit: str
    """"%" (percent), "M" (millions: parameters, MFLOPs), "s" (seconds), "" (unitless or task-dependent)."""
    description: str
    """One line: what it is and where the benchmark records it (the file's column or field)."""
    per_fidelity: bool
    """Whether the value depends on the training length (accuracies and training time do; parameters,
    FLOPs and latency do not, and their column is the same at every fidelity)."""


ACCURACIES: tuple[str, ...] = ("valid_acc", "test_acc")
"""The metrics every benchmark has (``Result``'s two figures); :func:`benchmark_metrics` lists them first."""


@runtime_checkable
class Benchmark(Protocol):
    """A stateless lookup of trained results (see the module docstring).

    Members: ``name``; ``space`` (the archs ``query`` takes); ``datasets``; ``fidelities`` (training
    epochs, ascending); ``has_train_time``; ``query(arch, dataset, fidelity) -> Result``;
    ``column(dataset, metric, fidelity=None)`` (every cell's value, float64, positioned by
    ``arch.index``, NaN where the benchmark has no value); and ``metrics``, a mapping name ->
    :class:`Metric` of the figures the benchmark records, accuracies first (``valid_acc`` and
    ``test_acc`` always; then e.g. ``train_seconds``, ``params``, ``flops``, ``latency``), each readable
    by ``column`` on every dataset. Read it through :func:`benchmark_metrics` / :func:`get_metric`,
    which also serve a plugin written before ``metrics`` existed (it has the accuracies, and
    ``train_seconds`` when it records training time). ``metrics`` is not a Protocol member, so such a
    plugin still passes ``isinstance(bench, Benchmark)``.
    """

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
        """``metric`` (a name of ``metrics``, or 'train_seconds', NaN where unrecorded) of all cells,
        indexed by Arch.index; an unknown name is a :class:`BenchmarkError` (:func:`unknown_metric`)."""
        ...


def _fallback_metrics(bench: Benchmark) -> dict[str, Metric]:
    """The metrics of a benchmark that declares none: what the protocol has always guaranteed."""
    out = {
        "valid_acc": Metric("valid_acc", True, "%", f"validation accuracy as {bench.name!r} records it", True),
        "test_acc": Metric("test_acc", True, "%", f"test accuracy as {bench.name!r} records it", True),
    }
    if getattr(bench, "has_train_time", False):
        out["train_seconds"] = Metric(
            "train_seconds", False, "s", f"training seconds of the schedule as {bench.name!r} records it", True
        )
    return out


def benchmark_metrics(bench: Benchmark) -> dict[str, Metric]:
    """The metrics ``bench`` declares (its ``metrics``), name -> :class:`Metric`, accuracies first
    (``valid_acc``, ``test_acc``, then the rest in the benchmark's order); a new dict, so a caller may
    change it. A benchmark without ``metrics`` (a plugin predating it) has ``valid_acc``, ``test_acc``
    and, when ``has_train_time``, ``train_seconds``. A malformed declaration (not Metric objects, a key
    that is not its metric's name, no ``valid_acc``/``test_acc``) is a :class:`BenchmarkError`."""
    name = getattr(bench, "name", type(bench).__name__)
    declared = getattr(bench, "metrics", None)
    if declared is None:
        return _fallback_metrics(bench)
    if not isinstance(declared, Mapping):
        raise BenchmarkError(
            f"benchmark {name!r} declares metrics={declared!r}: expected a mapping of metric name -> "
            "nasearch.benchmarks.base.Metric"
        )
    for key, metric in declared.items():
        if not isinstance(metric, Metric) or metric.name != key:
            raise BenchmarkError(
                f"benchmark {name!r} declares metric {key!r} as {metric!r}: expected a "
                f"nasearch.benchmarks.base.Metric whose name is {key!r}"
            )
    missing = [m for m in ACCURACIES if m not in declared]
    if missing:
        raise BenchmarkError(
            f"benchmark {name!r} declares metrics {', '.join(declared) or 'none'} without "
            f"{', '.join(missing)}: every benchmark has {' and '.join(ACCURACIES)} (Result's figures)"
        )
    return {k: declared[k] for k in ACCURACIES} | {k: m for k, m in declared.items() if k not in ACCURACIES}


def get_metric(bench: Benchmark, name: str, where: str = "") -> Metric:
    """The :class:`Metric` ``name`` of ``bench``; a name it does not declare is a
    :class:`BenchmarkError` naming the value, the benchmark, the accepted names and the closest one.
    ``where`` says where the name came from (e.g. "from config key search.constraints")."""
    metrics = benchmark_metrics(bench)
    if isinstance(name, str) and name in metrics:
        return metrics[name]
    raise BenchmarkError(
        f"metric {name!r}" + (f" ({where})" if where else "")
        + f" is not declared by benchmark {getattr(bench, 'name', type(bench).__name__)!r}; accepted: "
        + ", ".join(metrics) + did_you_mean(name, metrics)
    )


def unknown_metric(bench: Benchmark, metric: str, also: Iterable[str] = (), *, dataset: str | None = None) -> BenchmarkError:
    """The error of ``column(dataset, metric)`` for a name the benchmark does not read: it names the
    value, the benchmark, its declared metrics, the other column names it reads (``also``, e.g. a
    table's raw columns) and the closest accepted name."""
    declared = list(benchmark_metrics(bench))
    extra = [a for a in also if a not in declared]
    return BenchmarkError(
        f"unknown metric {metric!r}" + (f" on {dataset!r}" if dataset is not None else "")
        + f" of benchmark {bench.name!r}; accepted: {', '.join(declared)} (its declared metrics)"
        + (f"; column also reads {', '.join(extra)}" if extra else "")
        + did_you_mean(metric, declared + extra)
    )


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
