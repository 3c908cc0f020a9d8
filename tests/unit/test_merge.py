"""Shards that merge: ``score.shard/score.shards`` split the cells; ``merge_stores`` puts the shards'
stores (or exported tables) together idempotently and refuses conflicting values."""

from __future__ import annotations

import csv
import math
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from nasearch.proxies.registry import ProxyError
from nasearch.scoring import build_score_table, score_key, shard_indices
from nasearch.scoring.merge import MergeConflict, merge_stores
from nasearch.scoring.store import ScoreStore
from nasearch.scoring.tables import export_scores
from nasearch.space import get_space

NB201 = get_space("nb201")


def _rows(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as c:
        return c.execute(
            "SELECT proxy, version, dataset, image_dataset, batch_size, num_batches, seed, arch_index, arch, value "
            "FROM scores ORDER BY proxy, seed, arch_index"
        ).fetchall()


def test_shard_indices_partition():
    idx = np.random.default_rng(0).permutation(1000)
    parts = [shard_indices(idx, i, 4) for i in range(4)]
    assert sorted(np.concatenate(parts).tolist()) == list(range(1000))
    assert all((p % 4 == i).all() for i, p in enumerate(parts))
    assert shard_indices(idx, 0, 1).tolist() == idx.tolist()
    for shard, shards in ((4, 4), (-1, 2), (0, 0)):
        with pytest.raises(ProxyError, match="score.shard"):
            shard_indices(idx, shard, shards)


@pytest.mark.slow
def test_four_shards_merged_equal_one_shard(tmp_path: Path):
    kw = dict(sample=200, seed=0, batch_size=8, progress=False, space="nb201")
    whole = tmp_path / "whole.sqlite"
    build_score_table("params", **kw, store_path=whole, out_csv=tmp_path / "whole.csv")
    shard_rows = 0
    for i in range(4):
        out = build_score_table("params", **kw, store_path=tmp_path / f"shard_{i}.sqlite",
                                out_csv=tmp_path / f"shard_{i}.csv", shard=i, shards=4)
        with open(out) as f:
            rows = list(csv.DictReader(f))
        assert all(NB201.parse(r["arch"]).index % 4 == i for r in rows)  # shards by the internal ordinal
        shard_rows += len(rows)
    assert shard_rows == 200
    # shard 3 travels as an exported table (gzipped), the others as stores
    with ScoreStore(tmp_path / "shard_3.sqlite") as s3:
        export_scores(s3, tmp_path / "shard_3.csv.gz")
    sources = [tmp_path / f"shard_{i}.sqlite" for i in range(3)] + [tmp_path / "shard_3.csv.gz"]
    merged = tmp_path / "merged.sqlite"
    rep = merge_stores(sources, merged)
    assert rep.rows_added == len(_rows(whole)) == rep.rows_read
    assert _rows(merged) == _rows(whole)
    # merging again (and a store into a store that holds it) changes nothing
    rep2 = merge_stores(sources + [whole], merged)
    assert rep2.rows_added == 0 and rep2.rows_kept_once == rep2.rows_read
    assert _rows(merged) == _rows(whole)


def _store_with(path: Path, values: dict[int, float], seed: int = 0) -> Path:
    key = score_key("params", seed=seed, space="nb201")
    with ScoreStore(path) as s:
        s.put_many(key, [(NB201.from_index(i), v, 0.1) for i, v in values.items()])
    return path


def test_conflicting_merge_fails_clearly_and_writes_nothing_of_that_source(tmp_path: Path):
    a = _store_with(tmp_path / "a.sqlite", {5: 1.0, 6: math.nan, 7: math.inf})
    b = _store_with(tmp_path / "b.sqlite", {5: 1.0, 6: math.nan, 7: math.inf, 8: 2.0})  # equal, NaN == NaN
    c = _store_with(tmp_path / "c.sqlite", {5: 1.0000000000000002, 9: 3.0})  # one ulp apart: a conflict
    into = tmp_path / "into.sqlite"
    rep = merge_stores([a, b], into)
    assert (rep.rows_read, rep.rows_added) == (7, 4)
    with pytest.raises(MergeConflict) as err:
        merge_stores([c], into)
    msg = str(err.value)
    assert "cell 5" in msg and "proxy='params'" in msg and "seed=0" in msg
    assert "1.0000000000000002" in msg and "already holds 1.0" in msg and str(c) in msg
    key = score_key("params", space="nb201")
    with ScoreStore(into) as s:
        assert sorted(s.get_many(key, range(20))) == [5, 6, 7, 8]  # nothing of c (not even cell 9)
    # another seed is another key: no conflict
    d = _store_with(tmp_path / "d.sqlite", {5: 99.0}, seed=1)
    assert merge_stores([d], into).rows_added == 1


def test_merge_errors(tmp_path: Path):
    with pytest.raises(ProxyError, match="not found"):
        merge_stores([tmp_path / "missing.sqlite"], tmp_path / "x.sqlite")
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"not a database at all" * 100)
    with pytest.raises(ProxyError, match="cannot read .*bad.sqlite"):
        merge_stores([bad], tmp_path / "x.sqlite")
    a = _store_with(tmp_path / "a.sqlite", {5: 1.0})
    with pytest.raises(ProxyError, match="into itself"):
        merge_stores([a], a)


def test_cli_merge(tmp_path: Path, capsys):
    from nasearch.cli import main

    a = _store_with(tmp_path / "a.sqlite", {5: 1.0})
    b = _store_with(tmp_path / "b.sqlite", {6: 2.0})
    c = _store_with(tmp_path / "c.sqlite", {5: 7.0})
    into = tmp_path / "into.sqlite"
    main(["scores", "merge", str(a), str(b), "--into", str(into)])
    assert "2 rows read, 2 new" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        main(["scores", "merge", str(c), "--into", str(into)])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith("nasearch: error: conflicting scores") and "cell 5" in err
    with pytest.raises(SystemExit) as exit_:
        main(["scores", "merge", str(a)])
    assert exit_.value.code == 2 and "--into" in capsys.readouterr().err
