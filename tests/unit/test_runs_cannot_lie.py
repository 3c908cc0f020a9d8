"""Issue 34's cases, each a test that failed before the fix: the README's Python snippet as a plain
script, data-returning API calls, process pools safe in scripts and in daemonic workers, refusals
instead of silent no-ops (proxy without N, CUDA without a GPU), and preconditions checked before the
first run with no file left behind (images, incomplete tables)."""

from __future__ import annotations

import gzip
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import nasearch.api as nas
from nasearch.config import ConfigError

REPO = Path(__file__).resolve().parents[2]


def readme_snippet() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## From Python"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_python_snippet_runs_verbatim_as_a_script(tmp_path):
    """No main guard, default settings: exit 0, twice (the second run resumes every folder)."""
    script = tmp_path / "snippet.py"
    script.write_text(readme_snippet(), encoding="utf-8")
    env = {**os.environ, "NASEARCH_CACHE": str(tmp_path / "cache")}
    for attempt in range(2):
        proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                              timeout=600, env=env)
        assert proc.returncode == 0, (attempt, proc.stderr[-3000:])
        assert "Traceback" not in proc.stderr
    assert "rea+gradsign (N=10)" in proc.stdout
    assert (tmp_path / "out" / "rea" / "runs.csv").read_text().count("\n") == 101


def test_run_returns_data_and_load_reads_it_back(tmp_path):
    res = nas.run("strategy=rea", "runs=5", "progress=false", out_dir=tmp_path / "r")
    assert list(res.runs["run"]) == [0, 1, 2, 3, 4]
    assert res.runs["test_cifar10"].dtype.kind == "f"
    assert res.summary.loc[0, "runs"] == 5 and res.arms[0].runs == 5
    assert str(res) == res.table and res.table.startswith("| method")
    back = nas.load(tmp_path / "r")
    assert back.runs.drop(columns="wall_seconds").equals(res.runs.drop(columns="wall_seconds"))
    assert back.settings["."]["strategy.name"] == "rea"
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no nasearch results"):
        nas.load(tmp_path / "empty")


def test_load_reads_a_committed_sweep_written_before_records():
    res = nas.load(REPO / "experiments" / "headline" / "sweep")
    assert len(res.runs) == 1000 and len(res.arms) == 2
    assisted = next(a for a in res.arms if a.p_value is not None)
    assert round(assisted.mean["cifar10"], 2) == 94.16


SCRIPT_WITH_POOL = """
import nasearch.api as nas
res = nas.run("strategy=rea", "runs=6", "workers=2", "progress=false", out_dir="pool")
print("runs", len(res.runs))
"""


def test_a_process_pool_from_a_script_without_main_guard(tmp_path):
    """workers=2 spawns a pool; without the fix each child re-ran the script (BrokenProcessPool)."""
    (tmp_path / "s.py").write_text(SCRIPT_WITH_POOL)
    proc = subprocess.run([sys.executable, "s.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("runs 6") == 1  # printed once: the children did not run the script


def _in_daemon(out: str, q) -> None:
    import nasearch.api as api

    q.put(len(api.run("strategy=rs", "runs=4", "workers=2", "progress=false", out_dir=out).runs))


def test_api_inside_a_daemonic_worker_runs_in_process(tmp_path):
    """A worker of the user's own pool may not start children: the runs happen in it, same results."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_in_daemon, args=(str(tmp_path / "d"), q), daemon=True)
    p.start()
    p.join(300)
    assert p.exitcode == 0 and q.get(timeout=5) == 4
    direct = nas.run("strategy=rs", "runs=4", "workers=1", "progress=false", out_dir=tmp_path / "e")
    assert nas.load(tmp_path / "d").runs["incumbent"].tolist() == direct.runs["incumbent"].tolist()


# ------------------------------------------------------------------------------ refuse, never ignore
def test_proxy_without_n_is_refused_in_a_search():
    with pytest.raises(ConfigError, match=r"proxy=grasp .* proxy\.n is not set: give proxy\.n=N"):
        nas.config("proxy=grasp")
    assert nas.config("proxy=grasp", "proxy.n=1").proxy.n == 1  # explicit vanilla arm
    assert nas.config("task=mpi", "proxy=grasp").proxy.n == 1  # tasks that use no N
    assert nas.config("task=score", "proxy=grasp").proxy.n == 1


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="checks the refusal on a machine without GPU")
def test_cuda_without_gpu_is_refused():
    with pytest.raises(ConfigError, match=r"device 'cuda' \(config key device\) asks for a GPU"):
        nas.config("device=cuda")


def test_search_scoring_honours_device(monkeypatch, tmp_path):
    from nasearch.experiments.scorer import make_scorer
    from nasearch.experiments.search import resolve_benchmark

    cfg = nas.config("proxy=params", "proxy.n=2", "device=auto", f"proxy.store={tmp_path / 's.sqlite'}")
    bench, _, _ = resolve_benchmark(cfg)
    assert make_scorer(cfg, bench, "cifar10").settings.device == "auto"


def test_missing_images_fail_before_any_file(tmp_path, monkeypatch):
    """An image-using proxy whose scores are not stored, with no images: refused up front naming the
    config keys, and the output folder is never created."""
    monkeypatch.delenv("NASEARCH_DATA", raising=False)
    out = tmp_path / "o"
    with pytest.raises(Exception, match=r"proxy=snip must compute .* proxy\.image_dataset=NAME.*proxy\.store") as e:
        nas.run("proxy=snip", "proxy.n=10", "proxy.shipped=false", "runs=2", "progress=false",
                f"proxy.store={tmp_path / 's.sqlite'}", out_dir=out)
    assert "NASEARCH_DATA" in str(e.value)
    assert not out.exists()


def test_with_the_shipped_scores_no_images_are_needed(tmp_path, monkeypatch):
    monkeypatch.delenv("NASEARCH_DATA", raising=False)
    res = nas.run("strategy=rea", "proxy=gradsign", "proxy.n=10", "runs=2", "progress=false",
                  f"proxy.store={tmp_path / 's.sqlite'}", out_dir=tmp_path / "o")
    assert len(res.runs) == 2


def test_incomplete_table_is_refused_before_any_file(tmp_path):
    src = REPO / "nasearch" / "embedded" / "nb201" / "nb201.csv.gz"
    with gzip.open(src, "rt") as fh:
        lines = fh.read().splitlines(keepends=True)
    cut = tmp_path / "cut.csv.gz"
    with gzip.open(cut, "wt") as fh:
        fh.writelines(lines[:-30])
    out = tmp_path / "o"
    with pytest.raises(Exception, match=r"lacks .* for \d+ of 15625 cells, e\.g\. \|"):
        nas.run(f"benchmark.path={cut}", "runs=2", "progress=false", out_dir=out)
    assert not out.exists()


def test_cli_refusal_leaves_no_files(tmp_path, monkeypatch):
    monkeypatch.delenv("NASEARCH_DATA", raising=False)
    proc = subprocess.run(
        [sys.executable, "-m", "nasearch.cli", "proxy=snip", "proxy.n=10", "proxy.shipped=false", "runs=2",
         f"proxy.store={tmp_path / 's.sqlite'}", f"hydra.run.dir={tmp_path / 'o'}"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "NASEARCH_DATA"},
    )
    assert proc.returncode == 2 and "nasearch: error:" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()
