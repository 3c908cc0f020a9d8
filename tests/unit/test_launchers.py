"""Hydra launchers for sweeps: a 2 x 2 sweep through ``hydra/launcher=nasearch_local``
(hydra-submitit-launcher's local executor: every job a real subprocess, as on SLURM) collects into the
same 4-row table as the basic launcher; the shipped presets compose."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

SWEEP = [
    "benchmark=analognas",  # embedded: no data files needed
    "strategy=rs,rea",
    "budget.queries=8,12",
    "runs=5",
    "budget.seconds=null",
    "workers=1",
    "progress=false",
]


def _sweep(tmp_path: Path, name: str, *extra: str) -> list[dict[str, str]]:
    out = tmp_path / name
    proc = subprocess.run(
        [sys.executable, "-m", "nasearch.cli", "-m", *SWEEP, *extra, f"hydra.sweep.dir={out}"],
        cwd=tmp_path, env=dict(os.environ), capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out / "collected.csv", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.slow
def test_submitit_local_sweep_collects_like_the_basic_launcher(tmp_path: Path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher",
                        reason="hydra-submitit-launcher is an optional extra: pip install 'nasearch[launchers]'")
    submitit = _sweep(tmp_path, "submitit", "hydra/launcher=nasearch_local")
    assert any((tmp_path / "submitit" / ".submitit").rglob("*_submitted.pkl")), "jobs did not go through submitit"
    basic = _sweep(tmp_path, "basic")
    assert len(basic) == len(submitit) == 4
    assert {(r["strategy"], r["budget_queries"]) for r in basic} == {
        (s, q) for s in ("rs", "rea") for q in ("8", "12")
    }
    key = lambda r: (r["strategy"], r["budget_queries"])  # noqa: E731
    assert sorted(submitit, key=key) == sorted(basic, key=key)  # every column


@pytest.mark.parametrize("preset", ["nasearch_slurm", "nasearch_local", "nasearch_joblib"])
def test_launcher_presets_compose(preset: str):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="pip install 'nasearch[launchers]'")
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher", reason="pip install 'nasearch[launchers]'")
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    from nasearch.config import register_configs

    register_configs()
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="nasearch.conf", version_base=None):
        cfg = compose(config_name="config", overrides=[f"hydra/launcher={preset}"], return_hydra_config=True)
    GlobalHydra.instance().clear()
    launcher = cfg.hydra.launcher
    if preset == "nasearch_slurm":
        assert launcher._target_.endswith("SlurmLauncher")
        assert launcher.array_parallelism == 64 and launcher.timeout_min == 240 and "partition" in launcher
    elif preset == "nasearch_local":
        assert launcher._target_.endswith("LocalLauncher")
    else:
        assert launcher._target_.endswith("JoblibLauncher") and launcher.n_jobs == 2
