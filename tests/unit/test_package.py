"""Package hygiene: a wheel built from the repository, installed (not editable) into a fresh venv, runs
the main job from another folder with no data: configs, presets, the NB201 table and the score
tables all come from the installed package."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 900) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_runs_the_main_job_from_another_folder(tmp_path: Path) -> None:
    # 1. a wheel of the working tree (the same build `pip install .` does; not editable)
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-w", str(dist), "-q"], cwd=tmp_path)
    (wheel,) = dist.glob("nasearch-*.whl")
    # 2. a fresh venv; the dependencies (torch, hydra, ...) come from this environment's site-packages
    #    through a .pth path entry (a path line only: the editable install's hooks there stay inactive),
    #    so no multi-GB torch download; nasearch itself is the wheel, installed without its deps
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    py = venv / "bin" / "python"
    purelib = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                        cwd=tmp_path).stdout.strip())
    (purelib / "_dev_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index", "-q", str(wheel)],
         cwd=tmp_path)
    # 3. from another folder, with no data and an empty cache
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("NASEARCH_DATA", "NASEARCH_CACHE", "PYTHONPATH")}
    env["NASEARCH_CACHE"] = str(tmp_path / "cache")
    where = _run([str(py), "-c", "import nasearch, nasearch.conf, nasearch.embedded as e; "
                  "print(nasearch.__file__); print(nasearch.conf.__file__); print(e.__file__)"], cwd=work, env=env)
    for line in where.stdout.split():
        assert line.startswith(str(purelib)), (line, "not from the installed wheel")
    proc = _run([str(venv / "bin" / "nasearch"), "experiment=headline", "runs=20", "progress=false"], cwd=work,
                env=env)
    collected = proc.stdout[proc.stdout.rindex("| method |"):]
    assert "| rea | nb201/cifar10 | 20 |" in collected
    assert "| rea+gradsign (N=10) | nb201/cifar10 | 20 |" in collected and "p=" in collected
    assert "NB201 table: embedded in the package" in proc.stderr
    assert "15284 of 15284 connected cells already in the store" in proc.stderr
    plots = list((work / "multirun").rglob("collected_rea.png"))
    assert len(plots) == 1 and f"anytime plot: {plots[0].relative_to(work)}" in proc.stdout
    # nothing was written into the installed package
    assert not any(p.suffix in (".sqlite", ".tmp") for p in (purelib / "nasearch").rglob("*"))
