"""How far each proxy's score moves between CPU kernel sets ("another machine", simulated).

For every registered proxy, the 50 cells of :data:`CELLS` (every 20th cell of the committed 1,000-cell
correlation study, ``sample_cells(1000, seed=0)``, so each one also has a committed score in
``experiments/mpi_cifar10/run/scores.csv``) are scored on CIFAR-10 networks, batch 64, seed 0, the
CIFAR-10 training images, once per kernel setting of :data:`SETTINGS`, each in its own subprocess
with one torch thread (the kernel choice is made when torch starts, so it cannot change in-process).

Usage (resumable: each (proxy, setting) result is one CSV written atomically; a rerun skips them)::

    NASEARCH_DATA=/path/to/data nice -n 10 .venv/bin/python experiments/cross_machine/run.py [--parallel 2]
    .venv/bin/python experiments/cross_machine/run.py --summary   # table.md + table.csv from raw/
    ... run.py --parallel 2 --proxies ghn2 ghn2_loss   # a proxy added later: default + the extreme setting

``raw/<proxy>/<setting>.csv``: index, arch, score, seconds. ``table.csv`` / ``table.md``: per proxy and
setting, max and median relative difference to ``default`` (``|s - s_default| / |s_default|``),
Spearman rho between the two runs, and the worst cell; plus ``default`` against the committed study.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RAW = HERE / "raw"
STUDY = HERE.parent / "mpi_cifar10" / "run" / "scores.csv"

SETTINGS: dict[str, dict[str, str]] = {
    "default": {},
    "aten_default": {"ATEN_CPU_CAPABILITY": "default"},
    "onednn_sse41": {"ONEDNN_MAX_CPU_ISA": "SSE41"},
    "aten_default+onednn_sse41": {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41"},
    "aten_avx2+onednn_avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
}
# the kernel variables a setting leaves unset must not leak in from the caller's environment
KERNEL_VARS = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")
# the proxies the studies use first, so that a partial run has them
FIRST = ("zico", "zico_f64", "jacob_cov", "gradsign", "synflow")


def cells():
    from nasearch.experiments.mpi import sample_cells

    return sample_cells(1000, seed=0, space="nb201")[::20]


CELLS_DOC = "sample_cells(1000, seed=0)[::20]"


def _write_atomic(path: Path, rows: list[list[object]], header: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    os.replace(tmp, path)


def worker(proxy: str, setting: str) -> None:
    import torch

    torch.set_num_threads(1)
    from nasearch.scoring import score_cells

    archs = cells()
    rows = []
    for a in archs:
        t0 = time.perf_counter()
        (s,) = score_cells([a], proxy, "cifar10", batch_size=64, seed=0, progress=False, space="nb201")
        rows.append([a.index, a.to_string(), repr(float(s)), f"{time.perf_counter() - t0:.4g}"])
    _write_atomic(RAW / proxy / f"{setting}.csv", rows, ["index", "arch", "score", "seconds"])


LATER = ("eznas", "ghn", "ghn_loss", "ghn2", "ghn2_loss")
"""Learned and evolved proxies (added after this study began): measured after the hand-designed ones."""


def proxies() -> list[str]:
    from nasearch.proxies import network_proxies

    registered = [s.name for s in network_proxies()]
    names = [p for p in registered if p not in LATER] + [p for p in LATER if p in registered]
    return [p for p in FIRST if p in names] + [p for p in names if p not in FIRST]


def jobs() -> list[tuple[str, str]]:
    """(proxy, setting) in the order they run, so that a partial run is most useful: every proxy under
    ``default`` and the extreme setting (``aten_default+onednn_sse41``) first (the proxies of the
    committed score tables and tests leading, then the float64 ZiCo variant, the other hand-designed
    ones, the learned and evolved ones), then the other settings."""
    names = [p for p in proxies() if p not in LATER]
    both = "aten_default+onednn_sse41"
    first = [p for p in FIRST if p in names]
    rest = [p for p in names if p not in FIRST]
    others = [s for s in SETTINGS if s not in ("default", both)]
    # the float64 variant is the slowest and no default: last
    slow = [p for p in ("zico_f64",) if p in names]
    first = [p for p in first if p not in slow]
    later = [p for p in LATER if p in proxies()]
    # the float64 variant answers "does float64 reduce ZiCo's spread": right after ZiCo's own pair
    order = [(p, s) for p in first + slow + rest + later for s in ("default", both)]
    order += [(p, s) for p in first + rest + later + slow for s in others]
    return order


def kernel_env(setting: str) -> dict[str, str]:
    """This process's environment with the kernel variables of ``setting`` (and no others) and one
    OpenMP/MKL thread: the environment of a subprocess that scores under that setting."""
    env = {k: v for k, v in os.environ.items() if k not in KERNEL_VARS}
    env.update(SETTINGS[setting], OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def _cmd(proxy: str, setting: str) -> tuple[list[str], dict[str, str]]:
    return [sys.executable, __file__, "--worker", proxy, setting], kernel_env(setting)


def drive(parallel: int = 1, only: list[str] | None = None) -> None:
    """Run every missing (proxy, setting) job; with ``only``, just those proxies' two main settings
    (``default`` and ``aten_default+onednn_sse41``, what a proxy added later is measured under)."""
    if only:
        unknown = sorted(set(only) - set(proxies()))
        if unknown:
            raise SystemExit(f"--proxies {' '.join(unknown)}: not registered network proxies; accepted: "
                             f"{', '.join(proxies())}")
    todo = [j for j in jobs() if not (RAW / j[0] / f"{j[1]}.csv").is_file()
            and (not only or (j[0] in only and j[1] in ("default", "aten_default+onednn_sse41")))]
    running: list[tuple[subprocess.Popen, str, str, float]] = []
    while todo or running:
        while todo and len(running) < parallel:
            proxy, setting = todo.pop(0)
            cmd, env = _cmd(proxy, setting)
            running.append((subprocess.Popen(cmd, env=env), proxy, setting, time.time()))
        time.sleep(1.0)
        for job in list(running):
            proc, proxy, setting, t0 = job
            if proc.poll() is not None:
                running.remove(job)
                if proc.returncode != 0:
                    raise SystemExit(f"{proxy} {setting} failed with exit code {proc.returncode}")
                print(f"{proxy} {setting}: {time.time() - t0:.0f} s", flush=True)
                summary()
    summary()


def _read(path: Path) -> dict[int, float]:
    with open(path, newline="") as fh:
        return {int(r["index"]): float(r["score"]) for r in csv.DictReader(fh)}


def _compare(base: dict[int, float], other: dict[int, float]) -> tuple[float, float, float, int]:
    import numpy as np
    from scipy.stats import spearmanr

    idx = sorted(base)
    b = np.array([base[i] for i in idx])
    o = np.array([other[i] for i in idx])
    fin = np.isfinite(b) & np.isfinite(o)
    denom = np.where(b[fin] == 0, 1.0, np.abs(b[fin]))
    rel = np.abs(o[fin] - b[fin]) / denom
    worst = int(np.array(idx)[fin][int(np.argmax(rel))]) if rel.size else -1
    rho = float(spearmanr(b[fin], o[fin]).statistic) if fin.sum() > 2 and np.ptp(b[fin]) > 0 else float("nan")
    return float(rel.max()) if rel.size else float("nan"), float(np.median(rel)) if rel.size else float("nan"), rho, worst


def summary() -> None:
    committed: dict[str, dict[int, float]] = {}
    if STUDY.is_file():
        with open(STUDY, newline="") as fh:
            for r in csv.DictReader(fh):
                for k, v in r.items():
                    if k not in ("index", "arch"):
                        committed.setdefault(k, {})[int(r["index"])] = float(v)
    from nasearch.proxies import get_proxy

    header = ["proxy", "setting", "cells", "max_rel_diff", "median_rel_diff", "spearman", "worst_cell",
              "sec_per_cell", "tolerance"]
    rows: list[list[object]] = []
    for proxy in proxies():
        base_path = RAW / proxy / "default.csv"
        if not base_path.is_file():
            continue
        base = _read(base_path)
        for setting in list(SETTINGS)[1:]:
            path = RAW / proxy / f"{setting}.csv"
            if not path.is_file():
                continue
            mx, med, rho, worst = _compare(base, _read(path))
            rows.append([proxy, setting, len(base), f"{mx:.3g}", f"{med:.3g}", f"{rho:.6f}", worst, "",
                         f"{get_proxy(proxy).tolerance:g}"])
        if proxy in committed:
            want = {i: committed[proxy][i] for i in base}
            mx, med, rho, worst = _compare(base, want)
            rows.append([proxy, "committed study", len(base), f"{mx:.3g}", f"{med:.3g}", f"{rho:.6f}", worst, "",
                         f"{get_proxy(proxy).tolerance:g}"])
        with open(base_path, newline="") as fh:
            secs = [float(r["seconds"]) for r in csv.DictReader(fh)]
        rows[-1][-2] = f"{sum(secs) / len(secs):.3g}"
    _write_atomic(HERE / "table.csv", rows, header)
    lines = [
        f"Cells: {CELLS_DOC} (50 connected cells), cifar10 networks, batch 64, seed 0, CIFAR-10 train images,",
        "one torch thread. Relative difference to the `default` kernel run, |s - s_default| / |s_default|.",
        "",
        "The last column is the proxy's `ProxySpec.tolerance`, what the committed-score tests allow "
        "(`tests/reproduction/test_mpi.py`; `tests/reproduction/test_tolerances.py` checks it covers every row).",
        "",
        "| proxy | against `default` | max rel. diff | median rel. diff | Spearman rho | worst cell (index) | tolerance |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r[0]} | {r[1]} | {r[3]} | {r[4]} | {r[5]} | {r[6]} | {r[8]} |")
    (HERE / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--worker", nargs=2, metavar=("PROXY", "SETTING"))
    p.add_argument("--summary", action="store_true")
    p.add_argument("--parallel", type=int, default=1, help="subprocesses at once (each one thread)")
    p.add_argument("--proxies", nargs="+", metavar="PROXY", help="measure only these (default and the extreme setting)")
    a = p.parse_args()
    if a.worker:
        worker(*a.worker)
    elif a.summary:
        summary()
    else:
        drive(a.parallel, a.proxies)


if __name__ == "__main__":
    main()
