"""One NB201 index everywhere (issue 34, item 6): every user-visible "index" of an NB201 cell is the
official NAS-Bench-201 / NATS-Bench index (the ``index`` column of the benchmark table), while
``arch.index``, nasearch's internal ordinal, keeps seeding networks and keying store rows."""

from __future__ import annotations

import csv
import gzip
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

from nasearch.benchmarks.table import embedded_table
from nasearch.proxies.registry import ProxyError
from nasearch.scoring import shipped
from nasearch.scoring.store import ScoreKey, ScoreStore
from nasearch.scoring.tables import FIELDS, export_scores, import_scores, read_scores
from nasearch.space import get_space
from nasearch.space.base import ArchError
from nasearch.space.nb201.arch import NUM_ARCHS, Arch

REPO = Path(__file__).resolve().parents[2]
README_CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
SPACE = get_space("nb201")


def _bench_rows() -> list[dict[str, str]]:
    """The CIFAR-10 rows of the NB201 table shipped in the package, read with nothing of nasearch."""
    with gzip.open(embedded_table().open("rb"), "rt", newline="") as fh:
        return [r for r in csv.DictReader(fh) if r["dataset"] == "cifar10"]


@pytest.fixture(scope="module")
def bench_rows() -> list[dict[str, str]]:
    return _bench_rows()


def _nb201_score_files() -> list:
    return [e for e in shipped.table_files() if "nasbench_macro" not in e.name and "transnas" not in e.name]


def _score_rows(entry) -> list[dict[str, str]]:
    with gzip.open(entry.open("rb"), "rt", newline="") as fh:
        return list(csv.DictReader(fh))


# ------------------------------------------------------------------------------------- the CLI
def test_query_by_integer_is_the_official_index(capsys, bench_rows):
    from nasearch.cli import main

    want = next(r["arch"] for r in bench_rows if r["index"] == "1")
    main(["query", "1"])
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert first.startswith(want + "  "), first
    assert "nb201 index 1," in first
    assert "choices " + ",".join(map(str, Arch.from_string(want).ops)) in first


def test_query_prints_the_official_index_of_a_string_and_of_choices(capsys):
    from nasearch.cli import main

    main(["query", README_CELL])
    by_string = capsys.readouterr().out.splitlines()[0]
    assert "nb201 index 1," in by_string and "11791" not in by_string
    main(["query", "3,3,4,1,3,1"])
    assert capsys.readouterr().out.splitlines()[0] == by_string


# ------------------------------------------------------------------------------------- the space
def test_official_index_round_trips_and_matches_the_table(bench_rows):
    official = {r["arch"]: int(r["index"]) for r in bench_rows}
    assert sorted(official.values()) == list(range(NUM_ARCHS))
    for a in SPACE.all_archs():
        i = official[a.to_string()]
        assert SPACE.official_index(a) == a.official_index == i
        assert SPACE.from_official_index(i) == Arch.from_official_index(i) == SPACE.parse(i) == a
        assert SPACE.from_index(a.index) == a  # the internal ordinal still inverts
    with pytest.raises(ArchError, match="official NB201 index"):
        SPACE.parse(NUM_ARCHS)


def test_internal_ordinal_is_unchanged():
    """arch.index seeds networks and keys store rows: it must stay today's base-5 number."""
    a = Arch.from_string(README_CELL)
    assert a.index == 11791 and a.official_index == 1
    assert Arch.from_index(11791) == a and Arch((0,) * 6).index == 0
    import torch

    from nasearch.determinism import cell_generators
    from nasearch.determinism import seeded_generator as _generator

    net, _ = cell_generators(0, a)
    want = _generator(np.random.SeedSequence(0, spawn_key=(11791,)).spawn(2)[0])
    assert torch.equal(torch.rand(8, generator=net), torch.rand(8, generator=want))


def test_other_spaces_have_their_own_enumeration():
    for name in ("nasbench_macro", "transnas101_micro"):
        space = get_space(name)
        a = space.from_index(17)
        assert space.official_index(a) == 17 and space.from_official_index(17) == a == space.parse(17)


# ------------------------------------------------------------------------------------- shipped tables
@pytest.mark.parametrize("entry", _nb201_score_files(), ids=lambda e: e.name)
def test_shipped_table_joins_the_benchmark_by_index(entry, bench_rows):
    """Joining a shipped NB201 score table to nb201.csv.gz by ``index`` (as a user would) gives the
    same cells, hence the same Spearman, as joining by ``arch``."""
    acc_by_index = {int(r["index"]): float(r["test_acc_200"]) for r in bench_rows}
    acc_by_arch = {r["arch"]: float(r["test_acc_200"]) for r in bench_rows}
    rows = [r for r in _score_rows(entry) if r["value"] and math.isfinite(float(r["value"]))]
    values = np.array([float(r["value"]) for r in rows])
    by_index = np.array([acc_by_index[int(r["index"])] for r in rows])
    by_arch = np.array([acc_by_arch[r["arch"]] for r in rows])
    assert np.array_equal(by_index, by_arch), entry.name
    rho_index, rho_arch = spearmanr(values, by_index).statistic, spearmanr(values, by_arch).statistic
    assert rho_index == pytest.approx(rho_arch, abs=1e-12)
    assert rho_arch > 0.3, (entry.name, rho_arch)  # every shipped proxy ranks cells (0.38 .. 0.79)
    if entry.name == "synflow_cifar10_b64_seed0.csv.gz":
        assert rho_index == pytest.approx(0.764, abs=0.01)  # README: 0.764 over the 15,284 connected cells


def test_shipped_tables_are_keyed_by_the_internal_ordinal():
    """The layer beneath the store still answers by arch.index (the store's key)."""
    entry = next(e for e in _nb201_score_files() if e.name.startswith("synflow_"))
    rows = _score_rows(entry)[:50]
    key = next(k for k in shipped.keys() if k.proxy == "synflow" and k.space == "nb201")
    cells = shipped.cells_of(key)
    for r in rows:
        a = Arch.from_string(r["arch"])
        assert int(r["index"]) == a.official_index
        assert cells[a.index][0] == float(r["value"])


# ------------------------------------------------------------------------------------- score tables
KEY = ScoreKey(proxy="zico", version="1", dataset="cifar10", image_dataset="cifar10", batch_size=64,
               num_batches=2, seed=0, space="nb201")
CELLS = [Arch.from_string(README_CELL), Arch.from_index(5), Arch.from_index(15624)]


def _table(path: Path, index_of, cells=CELLS) -> Path:
    lines = [",".join(FIELDS)]
    for j, a in enumerate(cells):
        lines.append(f"zico,1,cifar10,cifar10,64,2,0,{index_of(a)},{a},{float(j)},0.5")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_export_writes_the_official_index(tmp_path):
    with ScoreStore(tmp_path / "s.sqlite") as store:
        store.put_many(KEY, [(a, float(j), 0.5) for j, a in enumerate(CELLS)])
        assert export_scores(store, tmp_path / "t.csv.gz") == 3
    with gzip.open(tmp_path / "t.csv.gz", "rt", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["arch"]: int(r["index"]) for r in rows} == {str(a): a.official_index for a in CELLS}
    # and it reads back under the internal ordinal
    with ScoreStore(tmp_path / "back.sqlite") as store:
        assert import_scores(store, tmp_path / "t.csv.gz") == 3
        assert store.get_many(KEY, CELLS) == {a.index: float(j) for j, a in enumerate(CELLS)}


def test_store_to_csv_writes_the_official_index(tmp_path):
    with ScoreStore(tmp_path / "s.sqlite") as store:
        store.put_many(KEY, [(a, float(j), 0.5) for j, a in enumerate(CELLS)])
        store.to_csv(tmp_path / "out.csv", KEY)
    rows = list(csv.DictReader(open(tmp_path / "out.csv", newline="")))
    assert {r["arch"]: int(r["index"]) for r in rows} == {str(a): a.official_index for a in CELLS}


def test_readers_accept_old_and_new_tables(tmp_path):
    old = _table(tmp_path / "old.csv", lambda a: a.index)
    new = _table(tmp_path / "new.csv", lambda a: a.official_index)
    want = {a.index: float(j) for j, a in enumerate(CELLS)}
    for path in (old, new):
        (items,) = read_scores(path).values()
        assert [a for a, _, _ in items] == CELLS
        with ScoreStore(tmp_path / f"{path.stem}.sqlite") as store:
            assert import_scores(store, path) == 3
            assert store.get_many(KEY, CELLS) == want


def test_index_that_fits_neither_numbering_names_file_and_line(tmp_path):
    bad = _table(tmp_path / "bad.csv", lambda a: 7 if a == CELLS[1] else a.official_index)
    with pytest.raises(ProxyError, match=r"bad\.csv.*line 3.*index 7 does not belong"):
        read_scores(bad)
    # one numbering per file: official on line 2, then an ordinal on line 3
    mixed = _table(tmp_path / "mixed.csv", lambda a: a.index if a == CELLS[1] else a.official_index)
    with pytest.raises(ProxyError, match=r"mixed\.csv.*line 3.*one numbering"):
        read_scores(mixed)


def test_build_score_table_writes_the_official_index(tmp_path):
    from nasearch.scoring import build_score_table

    out = build_score_table("params", "cifar10", sample=6, seed=1, batch_size=8, workers=1, data_free=True,
                            store_path=tmp_path / "s.sqlite", out_csv=tmp_path / "t.csv", progress=False, space="nb201")
    rows = list(csv.DictReader(open(out, newline="")))
    assert len(rows) == 6
    assert all(int(r["index"]) == Arch.from_string(r["arch"]).official_index for r in rows)


@pytest.mark.slow
def test_mpi_scores_csv_writes_the_official_index(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NASEARCH_DATA"}
    proc = subprocess.run(
        [sys.executable, "-m", "nasearch.cli", "task=mpi", "mpi.cells=4", "mpi.proxies=[params]", "workers=1",
         "progress=false", f"proxy.store={tmp_path / 's.sqlite'}", f"hydra.run.dir={tmp_path / 'mpi'}"],
        capture_output=True, text=True, timeout=600, env=env, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = list(csv.DictReader(open(tmp_path / "mpi" / "scores.csv", newline="")))
    assert len(rows) == 4
    assert all(int(r["index"]) == Arch.from_string(r["arch"]).official_index for r in rows)
