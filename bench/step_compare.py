"""Strategy-step and per-run task cost of this tree against a reference commit.

Issues 34 and 35's acceptance: settings-checked resume, the new defaults (a tabular search runs in
the calling process) and the redesign must not make a search run more than 5% costlier than at
``f3da7e7`` (the tree both issues were filed against), with the same accuracies bit for bit. (Issue
16 measured the same against ``ad7ea20``, the parent of the search-space interface; ``--ref ad7ea20``
still runs that comparison.) The script extracts the reference commit
with ``git archive`` into a temporary folder, then times the same NB201 searches (the search section
of ``run_bench.py``: 12,000 simulated seconds on CIFAR-10, seeds ``SeedSequence(0).spawn(runs)``) in
fresh subprocesses, one tree after the other, ``--rounds`` times, and keeps each tree's fastest
round (the least disturbed by other load). ``bohb + prefilter (N=100)`` is the arm where BOHB's
model dominates (100 proposals of 64 candidates each per step). Reported per arm: ms per run in each tree, the ratio
(this tree / reference; above 1.05 fails the acceptance) and whether the final accuracies agree bit
for bit (same seeds, same results).

Usage: ``python bench/step_compare.py [--ref COMMIT] [--runs 200] [--rounds 3]`` (needs git history
and ``NASEARCH_DATA``); ``run_bench.py --only step`` runs it and merges the table into results.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = "f3da7e7"
LIMIT = 1.05

# Runs in a subprocess with PYTHONPATH set to one tree; works with both APIs (before the interface,
# strategies took no ``space``).
CHILD = r"""
import json, sys, time
from pathlib import Path
import numpy as np
from nasearch.benchmarks import make_benchmark
from nasearch.search import Budget, run_search
from nasearch.strategies import get_strategy
from nasearch.strategies.prefilter import PreFilter

root, runs = sys.argv[1], int(sys.argv[2])
bench = make_benchmark("nb201", str(Path(root) / "nb201" / "nb201.csv.gz"))
budget = Budget(seconds=12000)
table = bench.column("cifar10", "flops_m")
try:  # NB201's package since issue 35; nasearch.space.arch before
    from nasearch.space.nb201.arch import Arch
except ImportError:
    from nasearch.space.arch import Arch
table[[not Arch.from_index(i).is_connected() for i in range(len(table))]] = -np.inf

def scorer(archs):
    return table[[a.index for a in archs]]

def make(name, rng):
    space = getattr(bench, "space", None)  # benchmarks have a space since the interface
    if space is None:
        return get_strategy(name)(rng, fidelities=bench.fidelities)
    return get_strategy(name)(rng, space=space, fidelities=bench.fidelities)

out = {}
for label, name, n, k in [("rs", "rs", runs, 1), ("rea", "rea", runs, 1), ("reinforce", "reinforce", max(50, runs // 5), 1),
                          ("bohb", "bohb", max(50, runs // 5), 1), ("rea + prefilter (N=10)", "rea", runs, 10),
                          ("bohb + prefilter (N=100)", "bohb", max(50, runs // 5), 100)]:
    accs = []
    t0 = time.perf_counter()
    for ss in np.random.SeedSequence(0).spawn(n):
        st = PreFilter(make(name, np.random.default_rng(ss)), scorer if k > 1 else None, n=k)
        accs.append(run_search(bench, st, "cifar10", budget).final["cifar10"])
    out[label] = {"runs": n, "ms_per_run": 1000 * (time.perf_counter() - t0) / n, "accs": accs}
print(json.dumps(out))
"""

# The whole task through the public Python API with its default settings (``workers`` left at its
# default), as a user runs it: compose + validate, benchmark load, the runs, runs.csv and the summary.
# At f3da7e7 the default started a spawn pool of one process per core; now a tabular search runs in
# the calling process. Accuracies are read back from runs.csv in run order.
TASK_CHILD = r"""
import csv, json, sys, tempfile, time
from pathlib import Path
import nasearch.api as nas

runs = int(sys.argv[2])
nas.config("strategy=rea")  # imports and Hydra's first compose, outside the timing
out = {}
for label, ov in [("task: rea, default settings", ["strategy=rea"]),
                  ("task: rea + gradsign (N=10), default settings", ["strategy=rea", "proxy=gradsign", "proxy.n=10"])]:
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        nas.run(*ov, f"runs={runs}", "progress=false", out_dir=d)
        dt = time.perf_counter() - t0
        with open(Path(d) / "runs.csv", newline="") as fh:
            rows = sorted(csv.DictReader(fh), key=lambda r: int(r["run"]))
    out[label] = {"runs": runs, "ms_per_run": 1000 * dt / runs, "accs": [r["test_cifar10"] for r in rows]}
print(json.dumps(out))
"""


def extract(commit: str, dest: Path) -> Path:
    """``git archive`` of ``commit`` unpacked under ``dest``; a clear error if git cannot."""
    tar = dest / "ref.tar"
    try:
        with open(tar, "wb") as fh:
            subprocess.run(["git", "-C", str(ROOT), "archive", commit], stdout=fh, check=True, stderr=subprocess.PIPE)
    except (OSError, subprocess.CalledProcessError) as exc:
        err = getattr(exc, "stderr", b"") or b""
        raise SystemExit(
            f"step_compare: cannot extract commit {commit!r} with git archive: {err.decode().strip() or exc}"
        ) from exc
    tree = dest / "tree"
    with tarfile.open(tar) as tf:
        tf.extractall(tree, filter="data")
    # the package ships conf/ as nasearch.conf; the editable install maps that name to this checkout's
    # conf/, so give the extracted tree its own (found first through the tree's nasearch/__path__)
    if (tree / "conf").is_dir() and not (tree / "nasearch" / "conf").exists():
        (tree / "nasearch" / "conf").symlink_to(tree / "conf", target_is_directory=True)
    return tree


def run_tree(tree: Path, data: str, runs: int) -> dict:
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        # NASEARCH_DATA for both trees' tables; a fresh score store (shipped GradSign scores beneath it)
        env = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS="1", NASEARCH_DATA=data, NASEARCH_CACHE=cache)
        for child in (CHILD, TASK_CHILD):
            res = subprocess.run([sys.executable, "-c", child, data, str(runs)], env=env, cwd=tree,
                                 capture_output=True, text=True, check=False)
            if res.returncode != 0:
                raise SystemExit(f"step_compare: the search in {tree} failed:\n{res.stderr[-2000:]}")
            out.update(json.loads(res.stdout.strip().splitlines()[-1]))
    return out


def compare(ref: str = REFERENCE, runs: int = 200, rounds: int = 3) -> list[str]:
    data = os.environ.get("NASEARCH_DATA")
    if not data:
        return ["### Strategy step vs the pre-interface tree", "", "skipped: set NASEARCH_DATA"]
    data = os.path.abspath(data)  # the children run in the extracted tree (.ci/run passes ../shared/data)
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"ref": extract(ref, Path(tmp)), "head": ROOT}
        best: dict[str, dict] = {}
        for _ in range(rounds):
            for name, tree in trees.items():
                got = run_tree(tree, data, runs)
                for arm, r in got.items():
                    key = (name, arm)
                    if key not in best or r["ms_per_run"] < best[key]["ms_per_run"]:
                        best[key] = r  # type: ignore[index]
    arms = [a for (n, a) in best if n == "head"]  # type: ignore[misc]
    lines = [
        f"### Strategy step and search task: this tree vs {ref}, NB201 cifar10, "
        f"12,000 simulated s; fastest of {rounds} alternating rounds, one torch thread "
        "(task rows: the whole job through nasearch.api.run with default settings, per run)",
        "",
        "| arm | runs | ref ms/run | this ms/run | ratio (this / ref) | same accuracies |",
        "|---|---|---|---|---|---|",
    ]
    worst = 0.0
    for arm in arms:
        r, h = best[("ref", arm)], best[("head", arm)]  # type: ignore[index]
        ratio = h["ms_per_run"] / r["ms_per_run"]
        worst = max(worst, ratio)
        same = "yes" if r["accs"] == h["accs"] else "NO"
        lines.append(f"| {arm} | {h['runs']} | {r['ms_per_run']:.2f} | {h['ms_per_run']:.2f} | {ratio:.2f} | {same} |")
    lines += ["", f"Worst ratio {worst:.2f} (acceptance: at most {LIMIT:.2f})."]
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ref", default=REFERENCE)
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()
    print("\n".join(compare(a.ref, a.runs, a.rounds)))


if __name__ == "__main__":
    main()
