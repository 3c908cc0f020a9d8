"""Paired Wilcoxon tests between the TransNAS-Bench-101 micro pre-filters (issue 37 item 5): the
ensemble screen (``frontier_ens_<task>/``) against MeCo's (``frontier_<task>/``), the best new proxy
here, and synflow's (``frontier_<task>_synflow/``), the best old one; every arm N = 10, the same 500
seeds, so run i of one arm pairs with run i of another (``SeedSequence(0).spawn(500)[i]``). Tested: the
incumbent's final validation metric on the searched task (TransNAS-Bench-101's only metric in its
export); two-sided signed-rank test (scipy); the share of runs that end on the task's best network of
the space is given per arm.

    NASEARCH_DATA=/path .venv/bin/python experiments/transnas101/frontier_pairs.py   # writes frontier_pairs.md
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from scipy.stats import wilcoxon

from nasearch.benchmarks import make_benchmark

HERE = Path(__file__).resolve().parent
TASKS = ("class_scene", "autoencoder")
ARMS = {"ensemble meco + synflow + zen": "frontier_ens_{task}", "meco": "frontier_{task}",
        "synflow": "frontier_{task}_synflow"}


def arm_runs(folder: Path, strategy: str) -> dict[int, dict[str, str]] | None:
    for path in sorted(folder.glob("*/runs.csv")):
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
        if rows and rows[0]["strategy"] == strategy and int(rows[0]["n"]) == 10:
            return {int(r["run"]): r for r in rows}
    return None


def main() -> None:
    bench = make_benchmark("transnas101_micro")
    lines = ["| task | strategy | arm | mean +- sd | on the best network | vs meco: diff, p | vs synflow: diff, p |",
             "|---|---|---|---|---|---|---|"]
    for task in TASKS:
        best = float(np.nanmax(bench.column(task, "test_acc")))
        for strategy in ("rea", "rs"):
            got = {name: arm_runs(HERE / pattern.format(task=task), strategy) for name, pattern in ARMS.items()}
            for name, rows in got.items():
                if rows is None:
                    continue
                vals = {i: float(r[f"test_{task}"]) for i, r in rows.items()}
                a = np.array(list(vals.values()))
                cells = []
                for other in ("meco", "synflow"):
                    base = got.get(other)
                    if other == name or base is None:
                        cells.append("")
                        continue
                    common = sorted(set(vals) & set(base))
                    x = np.array([vals[i] for i in common])
                    y = np.array([float(base[i][f"test_{task}"]) for i in common])
                    p = wilcoxon(x, y).pvalue if np.any(x != y) else 1.0
                    cells.append(f"{(x - y).mean():+.4f}, p = {p:.2g}")
                on_best = float(np.mean(np.isclose(a, best)))
                lines.append(f"| {task} | {strategy} | {name} | {a.mean():.4f} +- {a.std(ddof=1):.4f} | {on_best:.0%} | "
                             + " | ".join(cells) + " |")
    text = ("Pre-filters on TransNAS-Bench-101 micro (N = 10, 100 queries, 500 paired runs each, screened "
            "through the class_scene network; positive: the row's arm is better).\n\n" + "\n".join(lines) + "\n")
    (HERE / "frontier_pairs.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
