"""The search experiment end to end: 500 seeded runs, reproducibility across processes, resume,
sweeps collected into one table."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nasearch.results import read_rows, row_fields

ROW_FIELDS = row_fields(("cifar10", "cifar100", "ImageNet16-120"))
"""NB201's runs.csv columns (its datasets, in its order)."""

VOLATILE = {"wall_seconds", "overhead_seconds"}


def nasearch(*args: str, cwd: Path, data: str | None, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "NASEARCH_DATA"}
    if data:
        env["NASEARCH_DATA"] = data
    proc = subprocess.run(
        [sys.executable, "-m", "nasearch.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def stable(rows):
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in sorted(rows, key=lambda r: int(r["run"]))]


@pytest.mark.slow
def test_500_runs_of_random_search_reproducible_in_another_process(tmp_path, data_root):
    a, b = tmp_path / "a", tmp_path / "b"
    out = nasearch("runs=500", "workers=2", "progress=false", f"hydra.run.dir={a}", cwd=tmp_path, data=str(data_root))
    nasearch("runs=500", "workers=1", "progress=false", f"hydra.run.dir={b}", cwd=tmp_path, data=str(data_root))
    ra, rb = read_rows(a / "runs.csv", ROW_FIELDS), read_rows(b / "runs.csv", ROW_FIELDS)
    assert len(ra) == len(rb) == 500
    assert stable(ra) == stable(rb)
    # the summary reports mean +- std on the three datasets
    table = (a / "summary.md").read_text()
    assert "cifar10" in table and "cifar100" in table and "ImageNet16-120" in table
    assert "+-" in out.stdout
    test10 = [float(r["test_cifar10"]) for r in ra]
    # NAS-Bench-201 (Table 5) reports RS at 93.70 +- 0.36 on CIFAR-10 test with this budget
    assert 93.4 < sum(test10) / 500 < 94.0
    assert all(float(r["sim_seconds"]) >= 12000 for r in ra)


def test_interrupted_job_resumes(tmp_path, data_root):
    full, cut = tmp_path / "full", tmp_path / "cut"
    args = ("strategy=rea", "runs=12", "workers=1", "progress=false")
    nasearch(*args, f"hydra.run.dir={full}", cwd=tmp_path, data=str(data_root))
    nasearch(*args, f"hydra.run.dir={cut}", cwd=tmp_path, data=str(data_root))
    # simulate a kill: keep 5 finished rows and half of the sixth
    text = (cut / "runs.csv").read_text().splitlines(keepends=True)
    (cut / "runs.csv").write_text("".join(text[:6]) + text[6][: len(text[6]) // 2])
    proc = nasearch(*args, f"hydra.run.dir={cut}", cwd=tmp_path, data=str(data_root))
    assert "resuming" in proc.stderr
    rows = read_rows(cut / "runs.csv", ROW_FIELDS)
    assert len(rows) == 12
    assert stable(rows) == stable(read_rows(full / "runs.csv", ROW_FIELDS))


def test_default_needs_no_data_and_searches_the_embedded_nb201(tmp_path):
    out = nasearch("runs=20", "workers=1", "progress=false", f"hydra.run.dir={tmp_path / 'x'}", cwd=tmp_path, data=None)
    assert "nb201/cifar10" in out.stdout
    assert "NB201 table: embedded in the package" in out.stderr
    rows = read_rows(tmp_path / "x" / "runs.csv", ROW_FIELDS)
    # NB201's protocol: 12,000 simulated seconds on cifar10, reported on all three datasets
    assert len(rows) == 20 and all(float(r["sim_seconds"]) >= 12000 for r in rows)
    assert all(r["budget_seconds"] == "12000.0" and r["test_ImageNet16-120"] for r in rows)


@pytest.mark.slow
def test_sweep_2x2x2_collects_into_one_table(tmp_path, data_root):
    sweep = tmp_path / "sweep"
    nasearch(
        "-m",
        "strategy=rs,rea",
        "proxy=none,params",
        "proxy.n=2,5",
        "runs=6",
        "budget.seconds=null",
        "budget.queries=15",
        "workers=1",
        "progress=false",
        f"proxy.store={tmp_path / 'scores.sqlite'}",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
        data=str(data_root),
    )
    with open(sweep / "collected.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 8
    assert {(r["strategy"], r["proxy"], r["n"]) for r in rows} == {
        (s, p, n) for s in ("rs", "rea") for p in ("none", "params") for n in ("2", "5")
    }
    assistant = [r for r in rows if r["proxy"] == "params"]
    assert all(r["p_wilcoxon"] != "" for r in assistant)
    assert (sweep / "collected.md").read_text().count("\n") == 2 + 8
    assert (sweep / "collected_rea.png").stat().st_size > 1000
    # re-runnable on an old sweep directory
    (sweep / "collected.csv").unlink()
    subprocess.run([sys.executable, "-m", "nasearch.cli", "collect", str(sweep)], check=True, capture_output=True)
    assert (sweep / "collected.csv").exists()
