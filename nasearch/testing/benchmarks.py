"""The benchmark contract: what every benchmark backend (built-in or plugin) must do.

Subclass :class:`BenchmarkContract` and set ``name`` to the benchmark's registry name (and ``path``
when it needs a file)::

    from nasearch.testing import BenchmarkContract

    class TestToyBenchmark(BenchmarkContract):
        name = "toy_bench"

Checks: the benchmark is registered with the space it builds (so ``benchmark_space`` is right without
loading it), it satisfies the :class:`~nasearch.benchmarks.base.Benchmark` protocol, its declared
datasets are tasks of its space and its fidelities ascend, ``query`` and ``column`` agree (positioned
by ``arch.index``, NaN exactly where a cell is absent), the default fidelity is the last, unknown
datasets, fidelities and metrics are errors naming the value, and a caller mutating a column changes
nothing (stateless). Its declared ``metrics`` are :class:`~nasearch.benchmarks.base.Metric` objects,
accuracies first, each readable by ``column`` on every dataset (right length, float64, finite somewhere,
the same at every fidelity unless ``per_fidelity``), and ``get_metric`` / ``column`` refuse an unknown
metric naming it and the declared ones.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import pytest

from nasearch.testing._common import ContractBase


class BenchmarkContract(ContractBase):
    """Contract tests of one benchmark; set ``name`` (override :meth:`make_benchmark` to build it
    another way, e.g. from a test fixture)."""

    name: ClassVar[str] = ""
    """Registry name of the benchmark under test."""
    path: ClassVar[str | None] = None
    """Its file (None: the benchmark's default)."""
    value_range: ClassVar[tuple[float, float] | None] = (0.0, 100.0)
    """Bounds of ``valid_acc`` / ``test_acc`` (percent); None for a benchmark whose figures are
    another metric (any finite value)."""

    def make_benchmark(self, request: pytest.FixtureRequest) -> Any:
        from nasearch.benchmarks import make_benchmark

        return make_benchmark(self.name, self.path, where="nasearch.testing.BenchmarkContract")

    @pytest.fixture(scope="class")
    @classmethod
    def bench(cls, request: pytest.FixtureRequest) -> Any:
        assert cls.name, f"{cls.__name__}: set the class attribute name to the benchmark's registry name"
        return cls().make_benchmark(request)

    @staticmethod
    def present(bench: Any, dataset: str, n: int = 25) -> list:
        """Up to ``n`` cells (seeded pick) that the benchmark records for ``dataset``."""
        col = bench.column(dataset, "test_acc")
        idx = np.flatnonzero(~np.isnan(col))
        assert len(idx) > 0
        rng = np.random.default_rng(0)
        pick = rng.choice(idx, size=min(n, len(idx)), replace=False)
        return [bench.space.from_index(int(i)) for i in pick]

    # ------------------------------------------------------------------------------ registry, protocol
    def test_registered_with_its_space(self, bench: Any) -> None:
        from nasearch.benchmarks import BENCHMARK_REGISTRY, benchmark_names, benchmark_space

        assert self.name in benchmark_names()
        assert bench.name == self.name
        assert BENCHMARK_REGISTRY.get(self.name).space == bench.space.name
        assert benchmark_space(self.name) is bench.space

    def test_protocol_attributes(self, bench: Any) -> None:
        from nasearch.benchmarks import Benchmark

        assert isinstance(bench, Benchmark)
        assert bench.datasets and set(bench.datasets) <= set(bench.space.tasks)  # declared datasets
        assert len(set(bench.datasets)) == len(bench.datasets)
        assert list(bench.fidelities) == sorted(bench.fidelities) and len(set(bench.fidelities)) == len(
            bench.fidelities
        )
        assert isinstance(bench.has_train_time, bool)

    def test_query_returns_results_in_range(self, bench: Any) -> None:
        from nasearch.benchmarks import Result

        for dataset in bench.datasets:
            for fidelity in bench.fidelities:
                for arch in self.present(bench, dataset):
                    r = bench.query(arch, dataset, fidelity)
                    assert isinstance(r, Result)
                    assert math.isfinite(r.valid_acc) and math.isfinite(r.test_acc)
                    if self.value_range is not None:
                        lo, hi = self.value_range
                        assert lo <= r.valid_acc <= hi and lo <= r.test_acc <= hi
                    if bench.has_train_time:
                        assert r.train_seconds is not None and r.train_seconds > 0
                    else:
                        assert r.train_seconds is None

    def test_default_fidelity_is_last(self, bench: Any) -> None:
        for dataset in bench.datasets:
            for arch in self.present(bench, dataset, 5):
                assert bench.query(arch, dataset) == bench.query(arch, dataset, bench.fidelities[-1])
                col = bench.column(dataset, "valid_acc")
                np.testing.assert_array_equal(col, bench.column(dataset, "valid_acc", bench.fidelities[-1]))

    def test_unknown_dataset_fidelity_and_metric(self, bench: Any) -> None:
        from nasearch.benchmarks import BenchmarkError

        arch = self.present(bench, bench.datasets[0], 1)[0]
        bad = 7 if 7 not in bench.fidelities else max(bench.fidelities) + 1
        with pytest.raises(BenchmarkError, match="'mnist'"):
            bench.query(arch, "mnist")
        with pytest.raises(BenchmarkError, match="'mnist'"):
            bench.column("mnist", "test_acc")
        with pytest.raises(BenchmarkError, match=f"{bad} epochs"):
            bench.query(arch, bench.datasets[0], bad)
        with pytest.raises(BenchmarkError, match=f"{bad} epochs"):
            bench.column(bench.datasets[0], "test_acc", bad)
        with pytest.raises(BenchmarkError, match="'loss'"):
            bench.column(bench.datasets[0], "loss")

    def test_declared_metrics(self, bench: Any) -> None:
        from nasearch.benchmarks import BenchmarkError, Metric, benchmark_metrics, get_metric

        declared = getattr(bench, "metrics", None)  # absent: a plugin predating it gets the fallback
        metrics = benchmark_metrics(bench)
        if declared is not None:
            assert all(isinstance(m, Metric) for m in declared.values()), declared
            assert set(declared) == set(metrics)
        assert list(metrics)[:2] == ["valid_acc", "test_acc"]
        for name in ("valid_acc", "test_acc"):
            assert metrics[name].higher_is_better and metrics[name].per_fidelity
        n = bench.space.num_archs
        for name, m in metrics.items():
            assert isinstance(m, Metric) and m.name == name
            assert isinstance(m.higher_is_better, bool) and isinstance(m.per_fidelity, bool)
            assert isinstance(m.unit, str) and isinstance(m.description, str) and m.description.strip()
            assert get_metric(bench, name) == m
            finite = 0
            for dataset in bench.datasets:
                cols = [bench.column(dataset, name, f) for f in bench.fidelities]
                for col in cols:
                    assert isinstance(col, np.ndarray), (name, dataset, type(col))
                    # a benchmark declaring ``metrics`` returns float64 (NaN where unrecorded); one predating
                    # it may return any real numbers
                    if declared is not None:
                        assert col.dtype == np.float64, (name, dataset, col.dtype)
                    else:
                        assert np.issubdtype(col.dtype, np.floating) or np.issubdtype(col.dtype, np.integer)
                    assert col.shape == (n,), (name, dataset, col.shape)
                    finite += int(np.isfinite(col).sum())
                if not m.per_fidelity:  # a cost: the same column whatever the training length
                    for col in cols[1:]:
                        np.testing.assert_array_equal(col, cols[0], err_msg=f"{name} on {dataset}")
            assert finite > 0, f"declared metric {name!r} has no finite value on any dataset"

        with pytest.raises(BenchmarkError, match="'no_such_metric'") as err:
            get_metric(bench, "no_such_metric", where="from the contract")
        msg = str(err.value)
        assert bench.name in msg and "from the contract" in msg and all(name in msg for name in metrics)
        with pytest.raises(BenchmarkError, match="did you mean 'test_acc'"):
            get_metric(bench, "test_accc")
        with pytest.raises(BenchmarkError, match="'no_such_metric'") as err:
            bench.column(bench.datasets[0], "no_such_metric")
        assert all(name in str(err.value) for name in metrics)  # the accepted names include the declared

    def test_column_consistent_with_query(self, bench: Any) -> None:
        for dataset in bench.datasets:
            for fidelity in bench.fidelities:
                cols = {m: bench.column(dataset, m, fidelity) for m in ("valid_acc", "test_acc", "train_seconds")}
                for col in cols.values():
                    assert col.shape == (bench.space.num_archs,)
                for arch in self.present(bench, dataset, 10):
                    r = bench.query(arch, dataset, fidelity)
                    assert cols["valid_acc"][arch.index] == r.valid_acc
                    assert cols["test_acc"][arch.index] == r.test_acc
                    if r.train_seconds is None:
                        assert np.isnan(cols["train_seconds"][arch.index])
                    else:
                        assert cols["train_seconds"][arch.index] == r.train_seconds

    def test_column_nan_exactly_where_absent(self, bench: Any) -> None:
        from nasearch.benchmarks import BenchmarkError

        for dataset in bench.datasets:
            col = bench.column(dataset, "test_acc")
            absent = np.flatnonzero(np.isnan(col))
            for i in absent[:5]:
                with pytest.raises(BenchmarkError):
                    bench.query(bench.space.from_index(int(i)), dataset)

    def test_stateless(self, bench: Any) -> None:
        dataset = bench.datasets[0]
        archs = self.present(bench, dataset, 5)
        first = [bench.query(a, dataset) for a in archs]
        col = bench.column(dataset, "test_acc")
        col[:] = -1.0  # a caller mutating its copy changes nothing
        assert [bench.query(a, dataset) for a in archs] == first
        assert not np.any(bench.column(dataset, "test_acc") == -1.0)


__all__ = ["BenchmarkContract"]
