"""Benchmarks: stateless lookups of trained NB201 results behind one protocol (see ``base.py``).

``nb201``: :class:`~nasearch.benchmarks.table.TableBenchmark`, the NAS-Bench-201 / NATS-Bench figures
in nasearch's table layout (``$NASEARCH_DATA/nb201/nb201.csv.gz`` or ``benchmark.path``; build it from
the official files with :func:`nasearch.benchmarks.official.convert_to_table`).
``analognas``: :class:`~nasearch.benchmarks.analognas.AnalogNASBenchmark`, embedded, CIFAR-10 only,
works with no data.
``nasbench_macro``, ``transnas101_micro``, ``transnas101_macro``: the NAS-Bench-Macro and
TransNAS-Bench-101 readers (:mod:`nasearch.benchmarks.nasbench_macro`,
:mod:`nasearch.benchmarks.transnas101`); no training times, so searches spend a query budget.

Every benchmark names the search space it answers for (``bench.space``; :data:`BENCHMARK_SPACES`
knows it without loading the benchmark). Benchmarks register with
:func:`~nasearch.benchmarks.base.register_benchmark` (built-ins: the modules of
:data:`~nasearch.benchmarks.base.BUILTIN_MODULES`; installed plugins: entry points of the group
``nasearch.benchmarks``); :data:`BENCHMARKS` and :data:`BENCHMARK_SPACES` are computed from that
registry when read.

Every benchmark declares the metrics it records (``bench.metrics``, name ->
:class:`~nasearch.benchmarks.base.Metric`; read with :func:`benchmark_metrics` / :func:`get_metric`), in
units shared by all: percent, millions of parameters, MFLOPs, seconds.
"""

from __future__ import annotations

from typing import Any

from nasearch.benchmarks.base import (
    BENCHMARK_REGISTRY,
    DATASETS,
    Benchmark,
    BenchmarkEntry,
    BenchmarkError,
    Metric,
    Result,
    benchmark_metrics,
    get_metric,
    register_benchmark,
)

ALIASES: dict[str, str] = {"auto": "nb201"}
"""Benchmark names that stand for another (``benchmark=auto`` is nb201)."""


def benchmark_names() -> tuple[str, ...]:
    """Every registered benchmark: the built-ins in the order below, then installed plugins."""
    return BENCHMARK_REGISTRY.names()


def benchmark_spaces() -> dict[str, str]:
    """The search space each benchmark (and alias) answers for, known without loading it."""
    out = {name: entry.space for name, entry in BENCHMARK_REGISTRY.items()}
    for alias, target in ALIASES.items():
        out.setdefault(alias, out[target])
    return out


def __getattr__(name: str) -> Any:
    # BENCHMARKS and BENCHMARK_SPACES are computed from the registry (built-ins and entry points)
    if name == "BENCHMARKS":
        return benchmark_names()
    if name == "BENCHMARK_SPACES":
        return benchmark_spaces()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def benchmark_space(name: str, where: str = ""):
    """The :class:`~nasearch.space.base.SearchSpace` of the benchmark called ``name``."""
    from nasearch.space import get_space

    entry = BENCHMARK_REGISTRY.get(ALIASES.get(name, name), where)
    return get_space(entry.space, where=f"benchmark {name!r}")


def make_benchmark(name: str, path: str | None = None, *, where: str = "") -> Benchmark:
    """Build the benchmark called ``name``; ``path`` is the table file (``nb201`` only).

    ``where`` says where the values came from (e.g. "from config key benchmark.name") and is
    repeated in every error.
    """
    return BENCHMARK_REGISTRY.get(name, where).factory(path, where=where)


__all__ = ["ALIASES", "BENCHMARKS", "BENCHMARK_REGISTRY", "BENCHMARK_SPACES", "DATASETS", "benchmark_names",
           "benchmark_metrics", "benchmark_space", "benchmark_spaces", "Benchmark", "BenchmarkEntry", "BenchmarkError",
           "get_metric", "make_benchmark", "Metric", "register_benchmark", "Result"]
