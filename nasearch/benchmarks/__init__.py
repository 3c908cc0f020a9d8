"""Benchmarks: stateless lookups of trained NB201 results behind one protocol (see ``base.py``).

``nb201``: :class:`~nasearch.benchmarks.table.TableBenchmark`, the NAS-Bench-201 / NATS-Bench figures
in nasearch's table layout (``$NASEARCH_DATA/nb201/nb201.csv.gz`` or ``benchmark.path``; build it from
the official files with :func:`nasearch.benchmarks.official.convert_to_table`).
``analognas``: :class:`~nasearch.benchmarks.analognas.AnalogNASBenchmark`, embedded, CIFAR-10 only,
works with no data.
"""

from __future__ import annotations

from nasearch.benchmarks.base import DATASETS, Benchmark, BenchmarkError, Result

BENCHMARKS: tuple[str, ...] = ("nb201", "analognas")

BENCHMARK_SPACES: dict[str, str] = {"nb201": "nb201", "analognas": "nb201", "auto": "nb201"}
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
    raise BenchmarkError(
        f"unknown benchmark {name!r}"
        + (f" ({where})" if where else "")
        + f"; accepted: {', '.join(BENCHMARKS)}"
    )


__all__ = ["BENCHMARKS", "BENCHMARK_SPACES", "DATASETS", "benchmark_space", "Benchmark", "BenchmarkError", "Result", "make_benchmark"]
