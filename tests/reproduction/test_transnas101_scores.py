"""The committed TransNAS-Bench-101 micro score tables (``experiments/transnas101/scores/``) are what
the code computes, cover every connected cell, and give the correlations the study reports
(``experiments/transnas101/mpi/mpi.csv``).

Recomputed cells are drawn with ``default_rng(0)``; they must agree within each proxy's measured
cross-machine tolerance (``ProxySpec.tolerance``): the tables were computed on this project's
machine over several sessions, and a reader's CPU may use other float32 kernels.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from nasearch.benchmarks import make_benchmark
from nasearch.experiments.mpi import correlations, sample_cells
from nasearch.proxies.registry import get_proxy
from nasearch.scoring import rank_key, score_cells, score_key
from nasearch.scoring.tables import read_scores

ROOT = Path(__file__).resolve().parents[2] / "experiments" / "transnas101"
SPACE = "transnas101_micro"
PROXIES = ("params", "flops", "synflow", "zen", "naswot")


def table(proxy: str) -> dict[int, float]:
    path = ROOT / "scores" / f"{proxy}_{SPACE}_class_scene_seed0.csv.gz"
    groups = read_scores(path)
    key = score_key(proxy, "class_scene", image_dataset="none", batch_size=64, seed=0, space=SPACE)
    assert list(groups) == [key], f"{path.name}: one setting expected, {list(groups)}"
    return {arch.index: value for arch, value, _seconds in groups[key]}  # type: ignore[attr-defined]


@pytest.mark.parametrize("proxy", PROXIES)
def test_tables_cover_every_connected_cell(proxy):
    got = table(proxy)
    connected = {a.index for a in sample_cells(3927, 0, space=SPACE)}
    assert len(connected) == 3927
    assert set(got) == connected
    assert all(math.isfinite(v) for v in got.values())


@pytest.mark.slow
@pytest.mark.parametrize("proxy", PROXIES)
def test_committed_scores_reproduce(proxy):
    import torch

    torch.set_num_threads(1)
    got = table(proxy)
    cells = sample_cells(3927, 0, space=SPACE)
    pick = [cells[i] for i in np.random.default_rng(0).choice(len(cells), 2, replace=False)]
    fresh = score_cells(
        pick, proxy, "class_scene", image_dataset="none", batch_size=64, seed=0, progress=False, space=SPACE
    )  # no store: computed here
    want = [got[arch.index] for arch in pick]
    assert fresh.tolist() == pytest.approx(want, rel=get_proxy(proxy).tolerance), [str(a) for a in pick]


def test_study_correlations_are_those_of_the_tables():
    """Every valid-metric row of mpi/mpi.csv is Spearman rho of a committed table against the benchmark."""
    bench = make_benchmark(SPACE)
    cells = sample_cells(3927, 0, space=SPACE)
    idx = np.array([a.index for a in cells])
    with open(ROOT / "mpi" / "mpi.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["metric"] == "valid_acc_-1"]
    assert sorted({r["proxy"] for r in rows}) == sorted(PROXIES)
    for proxy in PROXIES:
        scores = table(proxy)
        keys = rank_key(proxy, np.array([scores[i] for i in idx]))
        for r in (r for r in rows if r["proxy"] == proxy):
            assert int(r["cells"]) == 3927
            rho, tau = correlations(keys, bench.column(r["target_dataset"], "valid_acc")[idx])
            assert rho == pytest.approx(float(r["spearman"]), abs=1e-4), (proxy, r["target_dataset"])
            assert tau == pytest.approx(float(r["kendall"]), abs=1e-4), (proxy, r["target_dataset"])
