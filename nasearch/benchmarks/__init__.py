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
knows it without loading the benchmark).
"""

from __future__ import annotations

from nasearch.benchmarks.base import DATASETS, Benchmark, BenchmarkError, Result

BENCHMARKS: tuple[str, ...] = ("nb201", "analognas", "nasbench_macro", "transnas101_micro", "transnas101_macro")

BENCHMARK_SPACES: dict[str, str] = {
    "nb201": "nb201",
    "analognas": "nb201",
    "auto": "nb201",
    "nasbench_macro": "nasbench_macro",
    "transnas101_micro": "transnas101_micro",
    "transnas101_macro": "transnas101_macro",
}
"""The search space each benchmark answers for (``bench.space.name``), known without loading it."""


def benchmark_space(name: str, where: str = ""):
    """The :class:`~nasearch.space.base.SearchSpace` of the benchmark called ``name``."""
    from nasearch.space import get_space

    if name not in BENCHMARK_SPACES:
        raise BenchmarkError(
            f"unknown benchmark {name!r}" + (f" ({where})" if where else "") + f"; accepted: {', '.join(BENCHMARKS)}"
        )
    return get_space(BENCHMARK_SPACES[name])


def make_benchmark(name: str, path: str | None = None, *, where: str = "") -> Benchmark:
    """Build the benchmark called ``name``; ``path`` is the table file (``nb201`` only).

    ``where`` says where the values came from (e.g. "from config key benchmark.name") and is
    repeated in every error.
    """
    if name == "nb201":
        from nasearch.benchmarks.table import TableBenchmark

        return TableBenchmark(path, where=where)
    if name == "analognas":
        from nasearch.benchmarks.analognas import AnalogNASBenchmark

        return AnalogNASBenchmark(path, where=where)
    if name == "nasbench_macro":
        from nasearch.benchmarks.nasbench_macro import NASBenchMacroBenchmark

        return NASBenchMacroBenchmark(path, where=where)
    if name == "transnas101_micro":
        from nasearch.benchmarks.transnas101 import TransNAS101MicroBenchmark

        return TransNAS101MicroBenchmark(path, where=where)
    if name == "transnas101_macro":
        from nasearch.benchmarks.transnas101 import TransNAS101MacroBenchmark

        return TransNAS101MacroBenchmark(path, where=where)
    raise BenchmarkError(
        f"unknown benchmark {name!r}"
        + (f" ({where})" if where else "")
        + f"; accepted: {', '.join(BENCHMARKS)}"
    )


__all__ = ["BENCHMARKS", "BENCHMARK_SPACES", "DATASETS", "benchmark_space", "Benchmark", "BenchmarkError", "Result", "make_benchmark"]
