"""The SQLite score cache: the kit's store contract (round trips with inf and NaN, keys, resume),
export, concurrent writers, the space in the key."""

from __future__ import annotations

import csv
import math
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nasearch.scoring.store import ScoreKey, ScoreStore
from nasearch.space import get_space
from nasearch.testing import StoreContract

REPO = Path(__file__).resolve().parents[2]
NB201 = get_space("nb201")
KEY = ScoreKey(proxy="p", dataset="cifar10", image_dataset="cifar10", batch_size=8, num_batches=1, seed=0, space="nb201")


class TestScoreStoreContract(StoreContract):
    """The kit's contract (nasearch.testing.StoreContract) on ScoreStore: round trips (inf, NaN) with
    seconds, first write wins, separate keys, count/keys/delete, reopen and pickle, resume."""


def test_to_csv(tmp_path: Path):
    store = ScoreStore(tmp_path / "s.sqlite")
    store.put_many(KEY, [(NB201.from_index(i), v, 0.1) for i, v in ((3, 1.0), (1, math.nan), (2, -math.inf))])
    assert store.to_csv(tmp_path / "out.csv", KEY) == 3
    rows = list(csv.DictReader(open(tmp_path / "out.csv")))
    # rows in internal order, each with its official NB201 index
    assert [r["index"] for r in rows] == [str(NB201.official_index(NB201.from_index(i))) for i in (1, 2, 3)]
    assert rows[0]["value"] == "" and float(rows[1]["value"]) == -math.inf and float(rows[2]["value"]) == 1.0
    assert rows[2]["arch"] == str(NB201.from_index(3))


def test_bad_file(tmp_path: Path):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(Exception, match="cannot open score store .*bad.sqlite"):
        ScoreStore(bad)


_WRITER = """
import sys, time
from pathlib import Path
from nasearch.scoring.store import ScoreKey, ScoreStore
from nasearch.space import get_space
space = get_space("nb201")
path, go, lo, hi = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
key = ScoreKey(proxy="p", dataset="cifar10", image_dataset="cifar10", batch_size=8, num_batches=1, seed=0,
               space="nb201")
store = ScoreStore(path)
while not go.exists():
    time.sleep(0.01)
for i in range(lo, hi, 2):
    store.put_many(key, [(space.from_index(i), float(i), 0.0), (space.from_index(i + 1), float(i + 1), 0.0)])
"""


def test_concurrent_writers_lose_no_rows(tmp_path: Path):
    path = tmp_path / "s.sqlite"
    ScoreStore(path).close()
    go = tmp_path / "go"
    # two processes, overlapping ranges [0, 300) and [200, 500): 500 distinct cells, 100 written twice
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(path), str(go), str(lo), str(hi)], cwd=REPO)
        for lo, hi in ((0, 300), (200, 500))
    ]
    time.sleep(0.5)
    go.touch()
    for p in procs:
        assert p.wait(timeout=120) == 0
    store = ScoreStore(path)
    assert store.count(KEY) == 500
    got = store.get_many(KEY, range(500))
    assert got == {i: float(i) for i in range(500)}


def test_the_space_is_part_of_the_key_and_old_stores_stay_valid(tmp_path: Path):
    """NB201 keys read and write exactly the rows of a store written before spaces existed (plain
    dataset column); another space's key is folded into the dataset column (``SPACE:TASK``) and never
    meets NB201's rows, although both use the same arch indices."""
    import sqlite3

    path = tmp_path / "old.sqlite"
    # a store as nasearch wrote it before search spaces: same schema, dataset column = the task
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE scores (proxy TEXT NOT NULL, version TEXT NOT NULL, dataset TEXT NOT NULL, "
        "image_dataset TEXT NOT NULL, batch_size INTEGER NOT NULL, num_batches INTEGER NOT NULL, "
        "seed INTEGER NOT NULL, arch_index INTEGER NOT NULL, arch TEXT NOT NULL, value REAL, seconds REAL, "
        "created REAL, PRIMARY KEY (proxy, version, dataset, image_dataset, batch_size, num_batches, seed, "
        "arch_index))"
    )
    conn.execute("INSERT INTO scores VALUES ('p', '1', 'cifar10', 'cifar10', 8, 1, 0, 5, ?, 2.5, 0.1, 0)",
                 (str(NB201.from_index(5)),))
    conn.commit()
    conn.close()
    store = ScoreStore(path)
    assert KEY.space == "nb201" and KEY.dataset_field == "cifar10"
    assert store.get_many(KEY, [5]) == {5: 2.5}
    assert store.keys() == [KEY]
    other = ScoreKey(proxy="p", dataset="cifar10", image_dataset="cifar10", batch_size=8, num_batches=1, seed=0,
                     space="nasbench_macro")
    assert other.dataset_field == "nasbench_macro:cifar10"
    assert store.get_many(other, [5]) == {}

    class MacroArch:  # any space's arch: .index and str() (the benchmark string)
        index = 5

        def __str__(self) -> str:
            return "00000000"

    assert store.put_many(other, [(MacroArch(), 7.0, 0.2)]) == 1
    assert store.get_many(other, [5]) == {5: 7.0} and store.get_many(KEY, [5]) == {5: 2.5}
    assert set(store.keys()) == {KEY, other}
    assert ScoreKey.split_dataset_field("nasbench_macro:cifar10") == ("nasbench_macro", "cifar10")
    assert ScoreKey.split_dataset_field("ImageNet16-120") == ("nb201", "ImageNet16-120")
    store.close()
