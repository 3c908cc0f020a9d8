"""Data shipped in the package: the NB201 table (a user's table wins) and the score tables beneath the
user's store (a user's score wins, nothing is written into the package, a cell neither holds is
computed)."""

from __future__ import annotations

import csv
import gzip
import hashlib
import math
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from nasearch.benchmarks.table import COLUMNS, TableBenchmark, embedded_table
from nasearch.data import DataError
from nasearch.proxies import get_proxy
from nasearch.scoring import score_cells, score_key, shipped
from nasearch.scoring.store import ScoreStore
from nasearch.space.base import get_space

NB201 = get_space("nb201")
CELL_11 = NB201.parse(  # NAS-Bench-201's cell 11
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|none~0|nor_conv_3x3~1|avg_pool_3x3~2|"
)


def _package_digest() -> dict[str, str]:
    root = resources.files("nasearch.embedded")
    out = {}
    for folder in ("nb201", "scores"):
        for p in root.joinpath(folder).iterdir():
            out[f"{folder}/{p.name}"] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NASEARCH_DATA", "NASEARCH_CACHE")}
    env.update(extra)
    return env


# ---------------------------------------------------------------------------------------------- NB201 table
def test_embedded_table_is_the_real_nb201(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NASEARCH_DATA", raising=False)
    bench = TableBenchmark()
    assert bench.embedded and bench.path == embedded_table()
    assert bench.datasets == ("cifar10", "cifar100", "ImageNet16-120")
    # known facts of NAS-Bench-201 / NATS-Bench
    for dataset, best, official in (("cifar10", 94.37, 6111), ("cifar100", 73.51, 9930), ("ImageNet16-120", 47.31, 857)):
        col = bench.column(dataset, "test_acc", 200)
        assert round(float(np.nanmax(col)), 2) == best
        assert bench.query(bench.arch_from_official_index(official), dataset).test_acc == np.nanmax(col)
    assert bench.arch_from_official_index(11) == CELL_11
    r = bench.query(CELL_11, "cifar10", 12)
    assert r.valid_acc == pytest.approx(63.278) and r.train_seconds == pytest.approx(149.545)
    assert bench.column("cifar10", "flops_m")[CELL_11.index] == pytest.approx(113.95137)


def test_embedded_table_equals_the_shared_data(data_root: Path) -> None:
    shared = data_root / "nb201" / "nb201.csv.gz"
    if not shared.is_file():
        pytest.skip(f"no NB201 table at {shared}")
    assert embedded_table().read_bytes() == shared.read_bytes()


@pytest.fixture(scope="module")
def user_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A NASEARCH_DATA folder whose nb201 table is the embedded one with cell 11's CIFAR-10
    200-epoch test accuracy changed to 12.345."""
    root = tmp_path_factory.mktemp("data")
    dst = root / "nb201" / "nb201.csv.gz"
    dst.parent.mkdir(parents=True)
    col = COLUMNS.index("test_acc_200")
    with gzip.open(embedded_table().open("rb"), "rt", newline="") as src, \
            gzip.open(dst, "wt", newline="", compresslevel=1) as out:
        w = csv.writer(out)
        for r in csv.reader(src):
            if r[1] == str(CELL_11) and r[2] == "cifar10":
                r[col] = "12.345"
            w.writerow(r)
    return root


def test_user_table_under_nasearch_data_wins(user_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NASEARCH_DATA", str(user_data))
    bench = TableBenchmark()
    assert not bench.embedded and bench.path == user_data / "nb201" / "nb201.csv.gz"
    assert bench.query(CELL_11, "cifar10").test_acc == 12.345
    # benchmark.path wins over NASEARCH_DATA
    assert TableBenchmark(str(embedded_table())).query(CELL_11, "cifar10").test_acc == pytest.approx(91.5833)
    # a NASEARCH_DATA folder without a table (e.g. images only): the embedded table
    monkeypatch.setenv("NASEARCH_DATA", str(tmp_path))
    assert TableBenchmark().embedded
    assert TableBenchmark().query(CELL_11, "cifar10").test_acc == pytest.approx(91.5833)


def test_user_table_wins_at_the_command_line(user_data: Path, tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "nasearch.cli", "query", str(CELL_11)]
    mine = subprocess.run(cmd, cwd=tmp_path, env=_env(NASEARCH_DATA=str(user_data)), capture_output=True,
                          text=True, timeout=120)
    assert mine.returncode == 0, mine.stderr
    assert "test 12.35" in mine.stdout and "test 91.58" not in mine.stdout
    embedded = subprocess.run(cmd, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=120)
    assert embedded.returncode == 0, embedded.stderr
    assert "test 91.58" in embedded.stdout and "12.35" not in embedded.stdout


# ---------------------------------------------------------------------------------------------- score tables
def test_every_shipped_table_holds_one_setting_that_score_key_produces() -> None:
    files = shipped.table_files()
    ks = shipped.keys()
    assert len(ks) == len(files)  # one setting per file
    assert {k.space for k in ks} == {"nb201", "nasbench_macro"}
    # NAS-Bench-Macro: synflow, GradSign and ZiCo over all 6,561 networks (the dataset column is SPACE:TASK)
    macro = {k.proxy: k for k in ks if k.space == "nasbench_macro"}
    assert set(macro) == {"synflow", "gradsign", "zico", "swap", "flops"}
    for name, key in macro.items():
        assert key == score_key(name, "cifar10", batch_size=64, seed=0, space="nasbench_macro")
        assert sorted(shipped.cells_of(key)) == list(range(6561)), name
    by_proxy = {k.proxy: k for k in ks if k.space == "nb201"}
    full = ("gradsign", "synflow", "zico", "ghn", "ghn2")  # the shipped GHNs: their keys carry the checkpoint's hash
    sample = ("fisher", "grad_norm", "grasp", "jacob_cov", "naswot", "snip", "zen")
    assert set(full + sample) <= set(by_proxy)
    for name in full + sample:
        key = by_proxy[name]
        # the key nasearch builds for the proxy's default setting on CIFAR-10 (batch 64, seed 0)
        assert key == score_key(name, "cifar10", batch_size=64, seed=0, space="nb201")
        cells = shipped.cells_of(key)
        assert len(cells) == (15284 if name in full else 1000), key
        assert not any(NB201.is_trivial(NB201.from_index(i)) for i in cells)


def test_store_first_then_shipped_nothing_written(tmp_path: Path) -> None:
    before = _package_digest()
    key = score_key("gradsign", "cifar10", space="nb201")
    cells = [a for a in (NB201.from_index(i) for i in range(0, NB201.num_archs, 97)) if not NB201.is_trivial(a)][:40]
    want = shipped.get_many(key, cells)
    assert len(want) == len(cells)
    with ScoreStore(tmp_path / "s.sqlite") as store:
        got = shipped.layered(store, key, cells)
        assert got == want
        # the user's own score wins
        store.put_many(key, [(cells[0], -1.5, 0.25)])
        got = shipped.layered(store, key, cells, with_seconds=True)
        assert got[cells[0].index] == (-1.5, 0.25)
        assert got[cells[1].index] == shipped.get_many(key, [cells[1]], with_seconds=True)[cells[1].index]
        # off: the store alone; no store: nothing (compute live)
        assert shipped.layered(store, key, cells, shipped=False) == {cells[0].index: -1.5}
        assert shipped.layered(None, key, cells) == {}
        # score_cells reads the same layers, needs no images, and copies nothing into the store
        out = score_cells(cells, "gradsign", store=store, progress=False, space="nb201")
        assert out[0] == -1.5 and out[1:].tolist() == [want[a.index] for a in cells[1:]]
        assert store.count(key) == 1
    assert _package_digest() == before


def test_a_cell_nothing_holds_is_computed_and_needs_images(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NASEARCH_DATA", raising=False)
    key = score_key("snip", "cifar10", space="nb201")
    held = sorted(shipped.cells_of(key))
    missing = next(a for a in (NB201.from_index(i) for i in range(NB201.num_archs))
                   if not NB201.is_trivial(a) and a.index not in held)
    with ScoreStore(tmp_path / "s.sqlite") as store:
        out = score_cells([NB201.from_index(i) for i in held[:5]], "snip", store=store, progress=False, space="nb201")
        assert np.all(np.isfinite(out))
        with pytest.raises(DataError, match="no folder given for cifar10 images"):
            score_cells([NB201.from_index(held[0]), missing], "snip", store=store, progress=False, space="nb201")
        with pytest.raises(DataError, match="no folder given for cifar10 images"):
            score_cells([NB201.from_index(held[0])], "snip", store=store, progress=False, shipped=False, space="nb201")


def test_shipped_scores_are_what_the_code_computes(cifar10_root: Path, tmp_path: Path) -> None:
    """A few shipped cells recomputed from the shared CIFAR-10 subset (the images they were made from)."""
    import torch

    torch.set_num_threads(1)
    for proxy in ("gradsign", "synflow", "ghn", "ghn2", "meco", "az_expressivity", "az_progressivity", "az_trainability"):
        key = score_key(proxy, "cifar10", space="nb201")
        held = sorted(shipped.cells_of(key))
        cells = [NB201.from_index(held[j]) for j in np.random.default_rng(0).choice(len(held), 2, replace=False)]
        fresh = score_cells(cells, proxy, data_root=cifar10_root.parent, progress=False, space="nb201")  # no store: computed
        want = [shipped.cells_of(key)[a.index][0] for a in cells]
        # float32 kernels differ across CPUs: a relative tolerance, not equality (ghn: 1e-6, its
        # measured cross-CPU tolerance; GHN weights do not depend on the engine's initialisation)
        rel = {"ghn": 1e-6, "ghn2": get_proxy("ghn2").tolerance}.get(proxy, get_proxy(proxy).tolerance if proxy.startswith(("meco", "az_")) else 1e-4)
        assert fresh.tolist() == pytest.approx(want, rel=rel), proxy
    # NAS-Bench-Macro's GradSign table: two networks, within GradSign's cross-machine tolerance (part
    # of the table was computed in an earlier session, possibly on another CPU)
    key = score_key("gradsign", "cifar10", space="nasbench_macro")
    table = shipped.cells_of(key)
    space = get_space("nasbench_macro")
    nets = [space.from_index(int(i)) for i in np.random.default_rng(0).choice(6561, 2, replace=False)]
    fresh = score_cells(nets, "gradsign", data_root=cifar10_root.parent, progress=False, space=space)
    want = [table[a.index][0] for a in nets]
    assert fresh.tolist() == pytest.approx(want, rel=get_proxy("gradsign").tolerance)


# ---------------------------------------------------------------------------------------------- acceptance
@pytest.mark.slow
def test_assisted_search_with_no_data_and_an_empty_store_runs_from_shipped_scores(tmp_path: Path) -> None:
    """`nasearch strategy=rea proxy=zico proxy.n=10` with NASEARCH_DATA unset and an empty store."""
    store = tmp_path / "empty.sqlite"
    proc = subprocess.run(
        [sys.executable, "-m", "nasearch.cli", "strategy=rea", "proxy=zico", "proxy.n=10", "runs=20", "workers=1",
         "progress=false", f"proxy.store={store}", f"hydra.run.dir={tmp_path / 'out'}"],
        cwd=tmp_path, env=_env(NASEARCH_CACHE=str(tmp_path / "cache")), capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "rea+zico (N=10) | nb201/cifar10 | 20 |" in proc.stdout
    assert "15284 of 15284 connected cells already in the store" in proc.stderr
    with ScoreStore(store) as s:
        assert s.keys() == []  # nothing computed, nothing copied
    # and with the shipped layer off it needs images, with the clear error
    off = subprocess.run(
        [sys.executable, "-m", "nasearch.cli", "strategy=rea", "proxy=zico", "proxy.n=10", "runs=2", "workers=1",
         "progress=false", "proxy.shipped=false", f"proxy.store={store}", f"hydra.run.dir={tmp_path / 'off'}"],
        cwd=tmp_path, env=_env(NASEARCH_CACHE=str(tmp_path / "cache")), capture_output=True, text=True, timeout=600,
    )
    assert off.returncode != 0 and "Traceback" not in off.stderr
    assert "no folder given for cifar10 images" in off.stderr


@pytest.mark.slow
def test_headline_preset_prints_both_arms_a_p_value_and_the_plot(tmp_path: Path) -> None:
    """`make run`'s job, reduced to 30 paired runs per arm."""
    sweep = tmp_path / "sweep"
    proc = subprocess.run(
        [sys.executable, "-m", "nasearch.cli", "experiment=headline", "runs=30", "progress=false",
         f"hydra.sweep.dir={sweep}"],
        cwd=tmp_path, env=_env(NASEARCH_CACHE=str(tmp_path / "cache")), capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    collected = proc.stdout[proc.stdout.rindex("| method |"):]
    assert "| rea | nb201/cifar10 | 30 |" in collected
    assert "| rea+gradsign (N=10) | nb201/cifar10 | 30 |" in collected and "p=" in collected
    assert all(d in collected for d in ("cifar10", "cifar100", "ImageNet16-120"))
    assert f"anytime plot: {sweep / 'collected_rea.png'}" in proc.stdout
    assert (sweep / "collected_rea.png").stat().st_size > 1000


def _collected(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="") as fh:
        return {r["n"]: r for r in csv.DictReader(fh)}


@pytest.mark.slow
def test_headline_equals_the_gradsign_table5_study(tmp_path: Path) -> None:
    """The full `make run` job (500 paired runs per arm, no data) gives the committed study's rows."""
    sweep = tmp_path / "sweep"
    proc = subprocess.run(
        [sys.executable, "-m", "nasearch.cli", "experiment=headline", "progress=false", f"hydra.sweep.dir={sweep}"],
        cwd=tmp_path, env=_env(NASEARCH_CACHE=str(tmp_path / "cache")), capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = Path(__file__).resolve().parents[2] / "experiments" / "gradsign_table5" / "sweep" / "collected.csv"
    got, want = _collected(sweep / "collected.csv"), _collected(study)
    assert set(got) == {"1", "10"}
    for n in ("1", "10"):
        for col in ("runs", "mean_cifar10", "std_cifar10", "mean_cifar100", "mean_ImageNet16-120", "queries",
                    "delta_vs_vanilla", "p_wilcoxon"):
            assert got[n][col] == want[n][col], (n, col)
    assert math.isclose(float(got["1"]["mean_cifar10"]), 93.94, abs_tol=0.005)
    assert math.isclose(float(got["10"]["mean_cifar10"]), 94.16, abs_tol=0.005)


def test_layered_takes_archs_of_any_space(tmp_path: Path) -> None:
    """The store-then-shipped lookup keys a non-NB201 arch by its own index (the MPI study on
    NAS-Bench-Macro failed with a TypeError here), and nothing shipped answers for another space."""
    space = get_space("nasbench_macro")
    archs = [space.from_index(i) for i in (0, 17, 6560)]
    key = score_key("params", "cifar10", space=space)
    with ScoreStore(tmp_path / "s.sqlite") as store:
        assert shipped.layered(store, key, archs) == {}
        store.put_many(key, [(archs[1], 3.5, 0.5)])
        assert shipped.layered(store, key, archs, with_seconds=True) == {17: (3.5, 0.5)}
        assert shipped.layered(store, key, [17, 6560]) == {17: 3.5}
    assert shipped.get_many(key, archs) == {}
