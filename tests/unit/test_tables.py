"""Portable score tables: export from one store, import into another, nothing lost or changed."""

from __future__ import annotations

import math

import pytest

from nasearch.proxies.registry import ProxyError
from nasearch.scoring.store import ScoreKey, ScoreStore
from nasearch.scoring.tables import export_scores, import_scores
from nasearch.space import get_space

NB201 = get_space("nb201")


@pytest.mark.parametrize("name", ["t.csv", "t.csv.gz"])
def test_round_trip(tmp_path, name):
    key = ScoreKey("gradsign", "cifar10", "cifar10", 64, 1, 0, space="nb201")
    other = ScoreKey("synflow", "cifar10", "none", 64, 1, 0, space="nb201")
    cells = [NB201.from_index(i) for i in (5, 77, 15624)]
    with ScoreStore(tmp_path / "a.sqlite") as a:
        a.put_many(key, [(cells[0], 1.5, 0.25), (cells[1], math.nan, 0.5), (cells[2], -math.inf, 0.1)])
        a.put_many(other, [(cells[0], 1e50, 0.01)])
        assert export_scores(a, tmp_path / name) == 4
    with ScoreStore(tmp_path / "b.sqlite") as b:
        assert import_scores(b, tmp_path / name) == 4
        assert import_scores(b, tmp_path / name) == 0  # already there: kept, not duplicated
        got = b.get_many(key, cells, with_seconds=True)
        assert got[5] == (1.5, 0.25)
        assert math.isnan(got[77][0])
        assert got[15624][0] == -math.inf
        assert b.get_many(other, cells) == {5: 1e50}
        assert sorted(k.proxy for k in b.keys()) == ["gradsign", "synflow"]


def test_bad_tables(tmp_path):
    with ScoreStore(tmp_path / "s.sqlite") as s:
        with pytest.raises(ProxyError, match="not found"):
            import_scores(s, tmp_path / "missing.csv")
        bad = tmp_path / "bad.csv"
        bad.write_text("a,b\n1,2\n")
        with pytest.raises(ProxyError, match="columns"):
            import_scores(s, bad)
        arch = NB201.from_index(3)
        wrong = tmp_path / "wrong.csv"
        wrong.write_text(
            "proxy,version,dataset,image_dataset,batch_size,num_batches,seed,index,arch,value,seconds\n"
            f"zico,1,cifar10,cifar10,64,2,0,4,{arch},1.0,0.1\n"
        )
        with pytest.raises(ProxyError, match="line 2"):
            import_scores(s, wrong)


def test_committed_score_tables_match_the_study(tmp_path):
    """The exported tables in experiments/score_tables hold the same scores as the MPI study."""
    import csv
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "experiments"
    tables = sorted((root / "score_tables").glob("*.csv.gz"))
    study = root / "mpi_cifar10" / "run" / "scores.csv"
    if not tables or not study.is_file():
        pytest.skip("no committed score tables")
    with open(study, newline="") as fh:
        rows = list(csv.DictReader(fh))
    with ScoreStore(tmp_path / "s.sqlite") as store:
        for t in tables:
            assert import_scores(store, t) > 0
        for key in store.keys():
            if key.proxy not in rows[0] or key.space != "nb201":  # the study scored NB201 cells
                continue
            got = store.get_many(key, [int(r["index"]) for r in rows])
            assert len(got) == len(rows), key
            for r in rows:
                assert got[int(r["index"])] == pytest.approx(float(r[key.proxy]), rel=1e-12), (key.proxy, r["arch"])
