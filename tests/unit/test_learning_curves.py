"""The learning-curve study's logic (experiments/predictors/learning_curves.py): the seeded splits, the
metrics, the monotone proxy transform, and resuming from results.csv with the same values."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "experiments/predictors/learning_curves.py"


@pytest.fixture(scope="module")
def lc():
    spec = importlib.util.spec_from_file_location("learning_curves", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["learning_curves"] = mod  # its dataclass resolves annotations through sys.modules
    try:
        spec.loader.exec_module(mod)
        yield mod
    finally:
        sys.modules.pop("learning_curves", None)


def test_split_is_a_seeded_partition(lc):
    train, test, seed = lc.split(1000, 100, space="nb201", protocol="issue1000", repeat=3)
    assert len(train) == 100 and len(test) == 900
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(1000))
    assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)
    assert 0 <= seed < 2**32
    again = lc.split(1000, 100, space="nb201", protocol="issue1000", repeat=3)
    assert np.array_equal(again[0], train) and again[2] == seed
    # every part of the key changes the draw
    for kw in (dict(repeat=4), dict(protocol="full"), dict(space="nasbench_macro")):
        other = lc.split(1000, 100, **{**dict(space="nb201", protocol="issue1000", repeat=3), **kw})
        assert not np.array_equal(other[0], train) and other[2] != seed
    assert not np.array_equal(lc.split(1000, 101, space="nb201", protocol="issue1000", repeat=3)[0][:100], train)
    # the documented derivation
    ss = np.random.SeedSequence(38, spawn_key=(0, 0, 100, 3))
    a, b = ss.spawn(2)
    assert np.array_equal(np.sort(np.random.default_rng(a).permutation(1000)[:100]), train)
    assert seed == int(b.generate_state(1)[0])
    with pytest.raises(ValueError, match="n=1000"):
        lc.split(1000, 1000, space="nb201", protocol="issue1000", repeat=0)


def test_correlations_and_slog(lc):
    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert lc.correlations(y * 2, y) == pytest.approx((1.0, 1.0))
    assert lc.correlations(-y, y) == pytest.approx((-1.0, -1.0))
    assert all(math.isnan(v) for v in lc.correlations(np.ones(5), y))
    k = np.array([-np.inf, -5.0, -0.5, 0.0, 3.0, 2e49])
    s = lc.slog(k)
    assert s[0] == -np.inf and np.all(np.diff(s) > 0) and np.isfinite(s[1:]).all() and s[-1] < 200
    assert np.float32(s[-1]) < np.inf


def tiny_design(lc, pool=60):
    rng = np.random.default_rng(0)
    enc = rng.integers(0, 2, size=(pool, 6)).astype(float)
    y = enc @ rng.normal(size=6) + rng.normal(size=pool) * 0.1
    d = lc.Design("nb201", "issue1000", list(range(pool)), {"cifar10": y})
    d.blocks = {"encoding": enc, "params": (y + rng.normal(size=pool)).reshape(-1, 1),
                "synflow": np.where(np.arange(pool) % 7 == 0, -np.inf, 1e45 * np.exp(y)).reshape(-1, 1)}
    return d.finish(["params"], ["synflow"], ghn=False)


def test_run_design_resumes_without_changing_values(lc, tmp_path, monkeypatch):
    monkeypatch.setattr(lc, "RESULTS", tmp_path / "results.csv")
    monkeypatch.setattr(lc, "REPEATS", 3)
    monkeypatch.setattr(lc, "MODELS", {"rf": {"n_estimators": 5}})
    d = tiny_design(lc)
    assert set(d.sets) == {"encoding", "encoding+old", "encoding+all", "proxies"}
    jobs = [("cifar10", "encoding+all", "rf", 10), ("cifar10", "encoding", "rf", 20)]
    done: set = set()
    lc.run_design("t", d, done, jobs[:1])
    first = lc.read_results(lc.RESULTS)
    assert len(first) == 6 and {r["model"] for r in first} == {"rf", "zero_shot"}
    assert all(int(r["n_test"]) == 50 for r in first)
    # resume: the done rows are skipped, the missing job runs
    done = {lc.row_key(r) for r in first}
    lc.run_design("t", d, done, jobs)
    rows = lc.read_results(lc.RESULTS)
    assert len(rows) == 6 + 6  # the second job: its rf rows and the zero-shot rows at n=20
    assert rows[:6] == first
    # a fresh run writes the same values
    monkeypatch.setattr(lc, "RESULTS", tmp_path / "again.csv")
    lc.run_design("t", d, set(), jobs)
    again = lc.read_results(lc.RESULTS)
    key = lambda r: lc.row_key(r)  # noqa: E731
    assert sorted(again, key=key) == sorted(rows, key=key)
    agg = lc.aggregate(rows)
    assert agg[("nb201/issue1000", "cifar10", "encoding+all", "rf", 10)]["tau"].shape == (3,)


def test_jobs_with_a_lazy_block_run_last_and_compute_it_once(lc):
    d = tiny_design(lc)
    calls = []

    def embed():
        calls.append(1)
        return np.ones((len(d.archs), 2))

    d.lazy["ghn"] = embed
    d.sets["encoding+all+ghn"] = ["encoding", "params", "synflow", "ghn"]
    jobs = lc.jobs_of("t", d)
    ghn = [j[1] == "encoding+all+ghn" for j in jobs]
    assert any(ghn) and ghn == sorted(ghn)  # every job of the lazy set after every other
    assert not calls
    X = d.X("encoding+all+ghn")
    d.X("encoding+all+ghn")
    assert calls == [1] and X.shape == (60, 6 + 1 + 1 + 2)
    # proxy columns enter through slog; the encoding and the embedding as they are
    assert np.array_equal(X[:, 6], lc.slog(d.blocks["params"][:, 0])) and np.array_equal(X[:, :6], d.blocks["encoding"])
