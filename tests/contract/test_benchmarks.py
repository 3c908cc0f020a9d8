"""One contract suite for every benchmark backend (the kit's
:class:`nasearch.testing.BenchmarkContract`), the NB201 table's known facts, the registry, and
TableBenchmark's file errors."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from nasearch.benchmarks import BENCHMARKS, Benchmark, BenchmarkError, Result, make_benchmark
from nasearch.benchmarks.table import COLUMNS, TableBenchmark
from nasearch.space.nb201.arch import Arch, all_archs
from nasearch.testing import BenchmarkContract, contract_classes

NATS_SAMPLE = Path("nats-tss-sample") / "NATS-tss-v1_0-3ffb9-simple"


@pytest.fixture(scope="session")
def nats_sample_table(data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> TableBenchmark:
    """A TableBenchmark over the converted NATS sample: 3 cells, every other cell absent."""
    from nasearch.benchmarks.official import convert_to_table

    src = data_root / NATS_SAMPLE
    if not src.is_dir():
        pytest.skip(f"no NATS-Bench sample at {src}")
    out = tmp_path_factory.mktemp("nats") / "nats.csv.gz"
    convert_to_table(src, out, progress=False)
    return TableBenchmark(out)


# ---------------------------------------------------------------------------------------------- contract
# the kit's contract (nasearch.testing.BenchmarkContract) on every registered benchmark, plus a
# TableBenchmark over the converted NATS-Bench sample (3 cells, every other cell absent)
class TestNB201Contract(BenchmarkContract):
    name = "nb201"

    def make_benchmark(self, request: pytest.FixtureRequest) -> Benchmark:
        return request.getfixturevalue("nb201_table")


class TestNATSSampleContract(BenchmarkContract):
    name = "nb201"

    def make_benchmark(self, request: pytest.FixtureRequest) -> Benchmark:
        return request.getfixturevalue("nats_sample_table")


class TestAnalogNASContract(BenchmarkContract):
    name = "analognas"


# every other registered benchmark (NAS-Bench-Macro, TransNAS-Bench-101 micro and macro, ...), read
# from $NASEARCH_DATA or the embedded copy; TransNAS-Bench-101's figures are each task's own metric
# (room_layout's is a negative loss), so only their finiteness is checked
_OTHERS = [n for n in BENCHMARKS if n not in ("nb201", "analognas")]
globals().update(contract_classes(BenchmarkContract, [n for n in _OTHERS if not n.startswith("transnas101")],
                                  prefix="TestContract"))
globals().update(contract_classes(BenchmarkContract, [n for n in _OTHERS if n.startswith("transnas101")],
                                  prefix="TestContract", value_range=None))


# ---------------------------------------------------------------------------------------------- table facts
def test_nats_sample_has_exactly_three_cells(nats_sample_table: TableBenchmark) -> None:
    for dataset in nats_sample_table.datasets:
        present = np.flatnonzero(~np.isnan(nats_sample_table.column(dataset, "test_acc")))
        officials = sorted(nats_sample_table.official_index(Arch.from_index(int(i))) for i in present)
        assert officials == [0, 11, 284]


@pytest.mark.parametrize(
    ("dataset", "best", "official"),
    [("cifar10", 94.37, 6111), ("cifar100", 73.51, 9930), ("ImageNet16-120", 47.31, 857)],
)
def test_best_cells(nb201_table: TableBenchmark, dataset: str, best: float, official: int) -> None:
    col = nb201_table.column(dataset, "test_acc", 200)
    top = float(np.nanmax(col))
    assert round(top, 2) == best
    # cifar10 has a tie at 94.3733 (official 6111 and 13714), so check membership of the argmax set
    winners = {nb201_table.official_index(Arch.from_index(int(i))) for i in np.flatnonzero(col == top)}
    assert official in winners
    arch = nb201_table.arch_from_official_index(official)
    assert nb201_table.query(arch, dataset).test_acc == top


def test_chance_level_cells_are_the_disconnected_ones(nb201_table: TableBenchmark) -> None:
    disconnected = np.array([not a.is_connected() for a in all_archs()])
    assert disconnected.sum() == 341
    chance = {"cifar10": 10.0, "cifar100": 1.0, "ImageNet16-120": 0.8333}
    at_chance = {
        d: np.isclose(nb201_table.column(d, "test_acc", 200), c, rtol=0, atol=1e-9) for d, c in chance.items()
    }
    np.testing.assert_array_equal(at_chance["cifar10"], disconnected)
    np.testing.assert_array_equal(at_chance["cifar100"], disconnected)
    # ImageNet16-120 has one more chance-level cell: a connected 1x1-conv chain NB201 failed to train.
    extra = np.flatnonzero(at_chance["ImageNet16-120"] & ~disconnected)
    assert [nb201_table.official_index(Arch.from_index(int(i))) for i in extra] == [4992]
    assert np.all(at_chance["ImageNet16-120"][disconnected])


def test_train_time_12_is_12_200ths(nb201_table: TableBenchmark) -> None:
    for dataset in nb201_table.datasets:
        t12 = nb201_table.column(dataset, "train_seconds", 12)
        t200 = nb201_table.column(dataset, "train_seconds", 200)
        # both are rounded to 3 decimals in the table
        np.testing.assert_allclose(t12, 12 / 200 * t200, rtol=0, atol=1e-3)


# ---------------------------------------------------------------------------------------------- registry
def test_make_benchmark_unknown_name() -> None:
    with pytest.raises(BenchmarkError) as err:
        make_benchmark("nb301", where="from config key benchmark.name")
    msg = str(err.value)
    assert "'nb301'" in msg and "nb201" in msg and "analognas" in msg
    assert "from config key benchmark.name" in msg


def test_make_benchmark_builds_each(nb201_table: TableBenchmark) -> None:
    assert make_benchmark("analognas").name == "analognas"
    table = make_benchmark("nb201", str(nb201_table.path))
    assert isinstance(table, TableBenchmark) and table.datasets == nb201_table.datasets


def test_make_benchmark_nb201_without_path_reads_the_embedded_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NASEARCH_DATA", raising=False)
    bench = make_benchmark("nb201", where="from config key benchmark.path")
    assert isinstance(bench, TableBenchmark) and bench.embedded
    assert bench.datasets == ("cifar10", "cifar100", "ImageNet16-120")


def test_nasearch_data_that_is_not_a_folder_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("NASEARCH_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(BenchmarkError, match="NASEARCH_DATA=.*nowhere.*is not a folder") as err:
        make_benchmark("nb201", where="from config key benchmark.path")
    assert "from config key benchmark.path" in str(err.value)


# ---------------------------------------------------------------------------------------------- table file errors
_HEADER = ",".join(COLUMNS)
_GOOD_ROW = (
    "11,|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|none~0|nor_conv_3x3~1|avg_pool_3x3~2|,cifar10,"
    "63.278,74.0,87.94,91.5833,149.545,2492.411,0.802426,113.95137,0.016163"
)


def _write(path: Path, text: str) -> Path:
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_table_tiny_good_file(tmp_path: Path) -> None:
    table = TableBenchmark(_write(tmp_path / "t.csv", f"{_HEADER}\n{_GOOD_ROW}\n"))
    arch = Arch.from_string(_GOOD_ROW.split(",")[1])
    assert table.query(arch, "cifar10") == Result(87.94, 91.5833, 2492.411)
    assert table.query(arch, "cifar10", 12) == Result(63.278, 74.0, 149.545)
    assert table.official_index(arch) == 11 and table.datasets == ("cifar10",)


def test_table_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv.gz"
    with pytest.raises(BenchmarkError, match="not found") as err:
        TableBenchmark(missing, where="from config key benchmark.path")
    assert str(missing) in str(err.value) and "from config key benchmark.path" in str(err.value)
    assert "test_acc_200" in str(err.value)  # says what belongs there


@pytest.mark.parametrize(
    ("content", "expect"),
    [
        ("", "header None"),
        ("index,arch,dataset\n", "header"),
        (f"{_HEADER}\n11,xx,cifar10\n", "line 2: 3 fields"),
        (
            f"{_HEADER}\n" + _GOOD_ROW.replace("|none~0|", "|conv~0|") + "\n",
            "line 2.*unknown operation 'conv'",
        ),
        (f"{_HEADER}\n" + _GOOD_ROW.replace("63.278", "sixty") + "\n", "line 2.*sixty"),
        (f"{_HEADER}\n" + _GOOD_ROW.replace("63.278", "163.278") + "\n", "line 2.*163.278"),
        (f"{_HEADER}\n" + _GOOD_ROW.replace(",cifar10,", ",mnist,") + "\n", "line 2.*'mnist'"),
        (f"{_HEADER}\n{_GOOD_ROW}\n{_GOOD_ROW}\n", "line 3: a second cifar10 row"),
    ],
    ids=[
        "empty",
        "bad-header",
        "short-row",
        "bad-arch",
        "bad-number",
        "acc-out-of-range",
        "bad-dataset",
        "duplicate",
    ],
)
def test_table_malformed(tmp_path: Path, content: str, expect: str) -> None:
    path = _write(tmp_path / "bad.csv", content)
    with pytest.raises(BenchmarkError, match=expect) as err:
        TableBenchmark(path)
    assert str(path) in str(err.value)


def test_table_not_gzip(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv.gz"
    path.write_text(f"{_HEADER}\n{_GOOD_ROW}\n")  # plain text under a .gz name
    with pytest.raises(BenchmarkError, match="cannot read"):
        TableBenchmark(path)
