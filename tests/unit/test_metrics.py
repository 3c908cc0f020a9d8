"""Every benchmark declares its metrics (``bench.metrics``, read with ``benchmark_metrics`` /
``get_metric``), in units shared by all benchmarks, and ``column`` reads each of them: checked against
the real files under $NASEARCH_DATA, read here directly."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from nasearch.benchmarks import BenchmarkError, Metric, benchmark_metrics, get_metric, make_benchmark
from nasearch.benchmarks.nasbench_macro import NASBenchMacroBenchmark
from nasearch.benchmarks.table import TableBenchmark
from nasearch.benchmarks.transnas101 import (
    METRIC_OF_TASK,
    TransNAS101MacroBenchmark,
    TransNAS101MicroBenchmark,
)
from nasearch.space.nb201.arch import Arch

COSTS = ("params", "flops", "latency")


@pytest.fixture(scope="module")
def nb201_csv(data_root: Path) -> Path:
    path = data_root / "nb201" / "nb201.csv.gz"
    if not path.is_file():
        pytest.skip(f"no NB201 table at {path}")
    return path


@pytest.fixture(scope="module")
def nb201(nb201_csv: Path) -> TableBenchmark:
    return TableBenchmark(nb201_csv)


@pytest.fixture(scope="module")
def macro_json(data_root: Path) -> Path:
    path = data_root / "nasbench_macro" / "nas-bench-macro_cifar10.json"
    if not path.is_file():
        pytest.skip(f"no NAS-Bench-Macro JSON at {path}")
    return path


@pytest.fixture(scope="module")
def macro(macro_json: Path) -> NASBenchMacroBenchmark:
    return NASBenchMacroBenchmark(macro_json)


@pytest.fixture(scope="module")
def tnb_table(data_root: Path) -> Path:
    path = data_root / "transnas101" / "tnb101_final_valid.csv.gz"
    if not path.is_file():
        pytest.skip(f"no TransNAS-Bench-101 table at {path}")
    return path


# ---------------------------------------------------------------------------------------------- NB201
def test_nb201_declares_accuracies_time_and_costs(nb201: TableBenchmark) -> None:
    metrics = benchmark_metrics(nb201)
    assert list(metrics) == ["valid_acc", "test_acc", "train_seconds", "params", "flops", "latency"]
    assert all(isinstance(m, Metric) for m in metrics.values())
    assert [(m.higher_is_better, m.unit, m.per_fidelity) for m in metrics.values()] == [
        (True, "%", True),
        (True, "%", True),
        (False, "s", True),
        (False, "M", False),
        (False, "M", False),
        (False, "s", False),
    ]
    assert "flops_m" in metrics["flops"].description and "latency_s" in metrics["latency"].description
    # a caller's copy is its own; the benchmark's mapping is read-only
    metrics.pop("flops")
    assert "flops" in benchmark_metrics(nb201)
    with pytest.raises(TypeError):
        nb201.metrics["flops"] = metrics["params"]  # type: ignore[index]


def test_nb201_cost_columns_are_the_tables_columns(nb201_csv: Path, nb201: TableBenchmark) -> None:
    with gzip.open(nb201_csv, "rt", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3 * 15625
    # a few cells on each dataset, spread over the file (its rows are grouped by dataset)
    picks = [rows[i] for i in (0, 1, 7777, 15624, 15625, 23456, 31249, 31250, 40000, 46874)]
    assert {r["dataset"] for r in picks} == set(nb201.datasets)
    for row in picks:
        i = Arch.from_string(row["arch"]).index
        for metric, column in (("params", "params_m"), ("flops", "flops_m"), ("latency", "latency_s")):
            for fidelity in (None, 12, 200):  # a cost is the same at every fidelity
                assert nb201.column(row["dataset"], metric, fidelity)[i] == float(row[column]), (row, metric)
            assert nb201.column(row["dataset"], column)[i] == float(row[column])  # the raw name still reads
        assert nb201.column(row["dataset"], "train_seconds", 12)[i] == float(row["train_time_12"])
    # costs are recorded per dataset: the same cell has more FLOPs on 32x32 CIFAR than on 16x16 ImageNet16
    cell = Arch.from_string(picks[1]["arch"]).index
    assert nb201.column("cifar10", "flops")[cell] > nb201.column("ImageNet16-120", "flops")[cell]


def test_nb201_cifar10_flops_percentiles(nb201: TableBenchmark) -> None:
    flops = nb201.column("cifar10", "flops")
    assert flops.dtype == np.float64 and flops.shape == (15625,) and np.isfinite(flops).all()
    q25, q50, q75 = np.percentile(flops, [25, 50, 75])
    assert np.isfinite([q25, q50, q75]).all()
    assert 0 < flops.min() <= q25 < q50 < q75 <= flops.max()


def test_a_table_without_costs_declares_none(tmp_path: Path) -> None:
    header = (
        "index,arch,dataset,valid_acc_12,test_acc_12,valid_acc_200,test_acc_200,train_time_12,train_time_200,"
        "params_m,flops_m,latency_s"
    )
    arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|none~0|nor_conv_3x3~1|avg_pool_3x3~2|"
    path = tmp_path / "t.csv"
    path.write_text(
        f"{header}\n11,{arch},cifar10,63.278,74.0,87.94,91.5833,149.545,2492.411,,,\n", encoding="utf-8"
    )
    table = TableBenchmark(path)
    assert list(benchmark_metrics(table)) == ["valid_acc", "test_acc", "train_seconds"]
    assert np.isnan(table.column("cifar10", "flops")).all()  # still readable: NaN, not recorded
    with pytest.raises(BenchmarkError, match="'flops'.*accepted: valid_acc, test_acc, train_seconds$"):
        get_metric(table, "flops")


# ---------------------------------------------------------------------------------------------- NAS-Bench-Macro
def test_macro_costs_are_the_files_counts_in_millions(
    macro_json: Path, macro: NASBenchMacroBenchmark
) -> None:
    data = json.loads(macro_json.read_text(encoding="utf-8"))
    metrics = benchmark_metrics(macro)
    assert list(metrics) == ["valid_acc", "test_acc", "params", "flops"]
    assert (metrics["flops"].unit, metrics["params"].unit) == ("M", "M")
    assert not metrics["flops"].higher_is_better and not metrics["flops"].per_fidelity
    params, flops = macro.column("cifar10", "params"), macro.column("cifar10", "flops")
    for key in ("02012100", "11111221", "00011110", "22212220", "00000000"):
        i = macro.space.parse(key).index
        assert params[i] == data[key]["params"] / 1e6 and flops[i] == data[key]["flops"] / 1e6
        # the raw counts stay readable, as columns and through params()/flops()
        assert macro.column("cifar10", "params_count")[i] == data[key]["params"] == macro.params(key)
        assert macro.column("cifar10", "flops_count")[i] == data[key]["flops"] == macro.flops(key)
    # the file's ranges (experiments/nasbench_macro_params/result.txt), in millions
    assert params.min() == pytest.approx(0.387882) and params.max() == pytest.approx(2.932586)
    assert flops.min() == pytest.approx(7.71328) and flops.max() == pytest.approx(105.660928)


def test_flops_mean_mflops_on_every_benchmark(nb201: TableBenchmark, macro: NASBenchMacroBenchmark) -> None:
    a, b = get_metric(nb201, "flops"), get_metric(macro, "flops")
    assert (a.unit, a.higher_is_better, a.per_fidelity) == (b.unit, b.higher_is_better, b.per_fidelity)
    # both spaces' CIFAR-10 networks sit in the same range of MFLOPs (NB201 7.8..220, Macro 7.7..106)
    for bench in (nb201, macro):
        assert 5 < float(bench.column("cifar10", "flops").min()) < 10


# ---------------------------------------------------------------------------------------------- TransNAS-Bench-101
@pytest.mark.parametrize("cls", [TransNAS101MicroBenchmark, TransNAS101MacroBenchmark])
def test_transnas_declares_its_task_metrics_and_no_cost(tnb_table: Path, cls) -> None:
    bench = cls(tnb_table)
    metrics = benchmark_metrics(bench)
    assert list(metrics) == ["valid_acc", "test_acc", "valid_neg_loss", "valid_ssim", "valid_top1"]
    assert set(METRIC_OF_TASK.values()) <= set(metrics)
    assert not {"params", "flops", "latency", "train_seconds"} & set(metrics)  # the export records none
    assert all(m.higher_is_better and m.per_fidelity for m in metrics.values())
    for task, own in METRIC_OF_TASK.items():
        np.testing.assert_array_equal(bench.column(task, own), bench.column(task, "valid_acc"))
        for other in set(METRIC_OF_TASK.values()) - {own, "valid_acc"}:  # valid_acc: every task's figure
            assert np.isnan(bench.column(task, other)).all(), (task, other)  # not recorded on this task
    for cost in ("flops", "params", "latency"):
        with pytest.raises(BenchmarkError, match=f"'{cost}'.*accepted: valid_acc, test_acc, valid_neg_loss"):
            get_metric(bench, cost, where="from config key search.constraints")
        with pytest.raises(BenchmarkError, match=f"'{cost}' on 'jigsaw'"):
            bench.column("jigsaw", cost)


# ---------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("name", ["nb201", "analognas", "nasbench_macro", "transnas101_micro"])
def test_unknown_metric_names_value_benchmark_and_accepted(data_root: Path, name: str) -> None:
    bench = make_benchmark(name)
    declared = list(benchmark_metrics(bench))
    with pytest.raises(BenchmarkError) as err:
        get_metric(bench, "test_accuracy", where="from config key search.objectives")
    msg = str(err.value)
    assert (
        "'test_accuracy'" in msg
        and f"benchmark {name!r}" in msg
        and "from config key search.objectives" in msg
    )
    assert f"accepted: {', '.join(declared)}" in msg and "did you mean 'test_acc'" in msg
    with pytest.raises(BenchmarkError) as err:
        bench.column(bench.datasets[0], "test_accuracy")
    msg = str(err.value)
    assert (
        "'test_accuracy'" in msg
        and f"benchmark {name!r}" in msg
        and f"accepted: {', '.join(declared)}" in msg
    )


def test_cost_typos_suggest_the_cost(nb201: TableBenchmark) -> None:
    with pytest.raises(BenchmarkError, match="'latancy'.*did you mean 'latency'"):
        get_metric(nb201, "latancy")
    with pytest.raises(BenchmarkError, match="'flop'.*did you mean 'flops'"):
        nb201.column("cifar10", "flop")
    assert get_metric(nb201, "latency").unit == "s"


def test_malformed_or_missing_declarations(nb201_csv: Path) -> None:
    class Renamed(TableBenchmark):
        metrics = {"valid_acc": Metric("test_acc", True, "%", "mislabelled", True)}

    with pytest.raises(BenchmarkError, match="benchmark 'nb201' declares metric 'valid_acc' as Metric"):
        benchmark_metrics(Renamed(nb201_csv))

    class NoAccuracy(TableBenchmark):
        metrics = {"flops": TableBenchmark(nb201_csv).metrics["flops"]}

    with pytest.raises(BenchmarkError, match="declares metrics flops without valid_acc, test_acc"):
        benchmark_metrics(NoAccuracy(nb201_csv))

    class Undeclared(TableBenchmark):  # a plugin written before ``metrics``: what the protocol guaranteed
        metrics = None

    got = benchmark_metrics(Undeclared(nb201_csv))
    assert (
        list(got) == ["valid_acc", "test_acc", "train_seconds"] and not got["train_seconds"].higher_is_better
    )
