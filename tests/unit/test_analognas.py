"""The embedded AnalogNAS-Bench backend: mapping, acceptance against NB201, safe loading, caching."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from nasearch.benchmarks import BenchmarkError, analognas, make_benchmark
from nasearch.benchmarks.analognas import AnalogNASBenchmark, load_accuracies, parse_data
from nasearch.space.nb201.arch import NUM_ARCHS, SKIP, Arch, all_archs


@pytest.fixture(scope="module")
def bench() -> AnalogNASBenchmark:
    return AnalogNASBenchmark()


def test_every_cell_has_an_accuracy(bench: AnalogNASBenchmark) -> None:
    acc = bench.column("cifar10", "test_acc")
    assert acc.shape == (NUM_ARCHS,) and not np.isnan(acc).any()
    assert acc.min() == 10.0 and 90.0 < acc.max() < 100.0


def test_disconnected_cells_score_chance(bench: AnalogNASBenchmark) -> None:
    acc = bench.column("cifar10", "test_acc")
    disconnected = np.array([not a.is_connected() for a in all_archs()])
    assert disconnected.sum() == 341
    assert np.all(acc[disconnected] == 10.0)
    assert acc[~disconnected].min() > 10.0  # every connected cell learns something


def test_edge_and_op_mapping_on_known_cells(bench: AnalogNASBenchmark) -> None:
    # AnalogNAS-Bench key (0,0,0,0,0,0) is all skip_connect (its op 0): 60.7836 in the package.
    assert bench.query(Arch((SKIP,) * 6), "cifar10").test_acc == 60.7836
    # Edge order: key positions 2 and 3 are edges 0->3 and 1->2, swapped in the official string.
    # With only 0->3 carrying a conv (1x1) and 0->1, 1->2 none, the cell is connected; with the conv
    # on 1->2 instead, it is not. A wrong edge map would swap their scores.
    direct = Arch.from_string("|none~0|+|none~0|none~1|+|nor_conv_1x1~0|none~1|none~2|")
    via_12 = Arch.from_string("|none~0|+|none~0|nor_conv_1x1~1|+|none~0|none~1|none~2|")
    assert bench.query(via_12, "cifar10").test_acc == 10.0
    assert bench.query(direct, "cifar10").test_acc > 10.0


def test_spearman_with_nb201(bench: AnalogNASBenchmark, nb201_table) -> None:
    from scipy.stats import spearmanr

    ours = bench.column("cifar10", "test_acc")
    theirs = nb201_table.column("cifar10", "test_acc", 200)
    rho = spearmanr(ours, theirs).statistic
    assert rho > 0.98, rho


def test_one_accuracy_no_time(bench: AnalogNASBenchmark) -> None:
    arch = Arch.from_string(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
    )
    r = bench.query(arch, "cifar10")
    assert r.valid_acc == r.test_acc and r.train_seconds is None
    assert bench.has_train_time is False and bench.fidelities == (200,) and bench.datasets == ("cifar10",)
    assert np.isnan(bench.column("cifar10", "train_seconds")).all()
    with pytest.raises(BenchmarkError, match="fidelity 12 epochs"):
        bench.query(arch, "cifar10", 12)
    with pytest.raises(BenchmarkError, match="'cifar100'.*accepted: cifar10"):
        bench.query(arch, "cifar100")


def test_cached_in_process() -> None:
    a, b = AnalogNASBenchmark(), make_benchmark("analognas")
    assert a._acc is b._acc is load_accuracies()
    assert not load_accuracies().flags.writeable


def test_takes_no_path() -> None:
    with pytest.raises(BenchmarkError, match="takes no path.*from config key benchmark.path"):
        make_benchmark("analognas", "/some/table.csv.gz", where="from config key benchmark.path")


def test_does_not_import_the_package() -> None:
    """The package imports pkg_resources; the backend must read its data without importing it."""
    code = (
        "import sys\n"
        "from nasearch.benchmarks.analognas import AnalogNASBenchmark\n"
        "AnalogNASBenchmark()\n"
        "assert 'analognasbench' not in sys.modules and 'pkg_resources' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=dict(os.environ), timeout=120)


def test_restricted_unpickler_refuses_other_globals() -> None:
    evil = pickle.dumps({(0, 0, 0, 0, 0, 0): os.system})
    with pytest.raises(
        BenchmarkError, match=r"refusing to load global posix\.system|refusing to load global nt\.system"
    ):
        parse_data(evil, "evil.anb")


def test_malformed_data() -> None:
    with pytest.raises(BenchmarkError, match="expected a dict"):
        parse_data(pickle.dumps([1, 2]), "x.anb")
    with pytest.raises(BenchmarkError, match="not a 6-tuple"):
        parse_data(pickle.dumps({(0, 1): None}), "x.anb")
    with pytest.raises(BenchmarkError, match="cannot read"):
        parse_data(b"not a pickle", "x.anb")


def test_missing_records_named() -> None:
    rec = analognas._Architecture()
    rec.baseline_accuracy = 50.0
    raw = pickle.dumps({(0, 0, 0, 0, 0, 0): rec}, protocol=2)  # GLOBAL opcode: text, no lengths
    # our local class is not on the allow list, so reuse the package's module/class name on the wire
    raw = raw.replace(b"nasearch.benchmarks.analognas", b"analognasbench.data").replace(
        b"_Architecture", b"Architecture"
    )
    with pytest.raises(BenchmarkError, match="15624 of 15625 cells have no record"):
        parse_data(raw, "x.anb")
