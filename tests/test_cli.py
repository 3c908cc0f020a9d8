"""The command line: bad input ends with one clear paragraph, no traceback, exit code != 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BAD_ARCH = "|nor_conv_3x3~0|+|none~0|bad~1|+|none~0|none~1|none~2|"


def nasearch(*args: str, cwd: Path, data: str | None = None, timeout: int = 240) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "NASEARCH_DATA"}
    if data is not None:
        env["NASEARCH_DATA"] = data
    return subprocess.run(
        [sys.executable, "-m", "nasearch.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_clean_failure(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    assert proc.returncode != 0, proc.stdout + proc.stderr
    err = proc.stderr
    assert "Traceback" not in err, err
    assert "nasearch: error:" in err, err
    msg = err[err.index("nasearch: error:") :].strip()
    assert "\n" not in msg, f"not one paragraph: {msg!r}"
    for f in fragments:
        assert f in msg, (f, msg)


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["benchmark=nope"], ["'nope'", "benchmark", "analognas", "nb201"]),
        (["budget.seconds=-5"], ["budget.seconds", "-5", "positive"]),
        (["strategy=nope"], ["strategy", "'nope'", "rea"]),
        (["proxy.n=0"], ["proxy.n", "0", ">= 1"]),
        (["proxy=gradsign", "proxy.n=2", "proxy.k=3"], ["proxy.k", "k <= N"]),
        (["proxy.n=abc"], ["proxy.n", "abc"]),
        (["benchmark=nb201", "benchmark.path=/nonexistent/nb201.csv.gz"], ["/nonexistent/nb201.csv.gz", "NASEARCH_DATA"]),
        (["query", BAD_ARCH], [repr(BAD_ARCH), "bad", "nor_conv_3x3"]),
        # an arch string of another space (a NAS-Bench-Macro key): value, nb201's forms, where from
        (["query", "01201220"], ["'01201220'", "nb201", "|op~0|+|op~0|op~1|", "nasearch query ARCH", "0..15624"]),
        (["query", "64-41414-3_33_333"], ["'64-41414-3_33_333'", "nb201", "|op~0|+|op~0|op~1|", "nasearch query ARCH"]),
        (["-m", "strategy=rs,nope", "runs=2"], ["'nope'", "strategy"]),
        (["-m", "proxy=params", "proxy.n=1,0", "runs=2"], ["proxy.n", ">= 1"]),
    ],
)
def test_bad_input_fails_clearly(tmp_path, args, fragments):
    proc = nasearch(*args, cwd=tmp_path)
    assert_clean_failure(proc, *fragments)
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").rglob("runs.csv"))
    assert not (tmp_path / "multirun").exists() or not any((tmp_path / "multirun").rglob("runs.csv"))


def test_missing_data_folder_for_nb201(tmp_path):
    proc = nasearch("benchmark=nb201", "runs=2", cwd=tmp_path, data=str(tmp_path / "nowhere"))
    assert_clean_failure(proc, str(tmp_path / "nowhere"), "nb201.csv.gz")


def test_time_budget_on_analognas_is_refused(tmp_path):
    proc = nasearch("benchmark=analognas", "budget.seconds=12000", "budget.queries=null", "runs=2", cwd=tmp_path)
    assert_clean_failure(proc, "analognas", "query")


def test_query_prints_all_datasets(tmp_path, data_root):
    proc = nasearch(
        "query",
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
        cwd=tmp_path,
        data=str(data_root),
    )
    assert proc.returncode == 0, proc.stderr
    assert "ImageNet16-120" in proc.stdout and "200 epochs" in proc.stdout


def test_listings(tmp_path):
    proc = nasearch("proxies", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for name in ("gradsign", "zico", "synflow", "naswot", "jacob_cov", "flops"):
        assert name in proc.stdout
    proc = nasearch("strategies", cwd=tmp_path)
    assert proc.returncode == 0
    for name in ("rs", "rea", "reinforce", "bohb"):
        assert name in proc.stdout


@pytest.mark.parametrize(
    "args, expected",
    [
        (["experiment=gradsign_table5"], {("gradsign", 1), ("gradsign", 10), ("gradsign", 100)}),
        (["experiment=zico_synflow_table5"], {(p, n) for p in ("zico", "synflow") for n in (1, 10, 100)}),
        (["experiment=zico_synflow_table5", "proxy=synflow"], {("synflow", 1), ("synflow", 10), ("synflow", 100)}),
        (["experiment=gradsign_table5", "proxy.n=10,20"], {("gradsign", 10), ("gradsign", 20)}),
        # a swept preset contributes no sweep params (Hydra reads them from the primary config)
        (["experiment=gradsign_table5,zico_synflow_table5"], {("gradsign", 1), ("zico", 1)}),
    ],
)
def test_preset_sweeps_are_checked_up_front(monkeypatch, data_root, args, expected):
    """A preset's hydra.sweeper.params is expanded before any job starts (a command line wins)."""
    from nasearch.cli import validate_overrides

    monkeypatch.setenv("NASEARCH_DATA", str(data_root))
    jobs = validate_overrides(args, multirun=True)
    assert {(c.proxy.name, c.proxy.n) for c in jobs} == expected
    assert all(c.strategy.name == "rea" and c.runs == 500 for c in jobs)
