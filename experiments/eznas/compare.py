"""EZNAS programs next to GradSign, ZiCo, synflow and NASWOT on the same cells.

Reads the per-cell scores of experiments/mpi_cifar10/run/scores.csv (batch 64, 1,000 cells) and of
each EZNAS run (``<dir>/scores.csv`` written by mpi_program.py), keeps the cells every column has, and
writes Spearman rho / Kendall tau against the 200-epoch test accuracy of the three datasets.

    NASEARCH_DATA=... python experiments/eznas/compare.py published=experiments/eznas/published_mpi1000 \
        [evolved=experiments/eznas/evolved_mpi1000] --out experiments/eznas/compare.md
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from nasearch.benchmarks import make_benchmark
from nasearch.experiments.mpi import correlations
from nasearch.scoring import rank_key

BASELINES = ("gradsign", "zico", "synflow", "naswot")


def read(path: Path, column: str) -> dict[int, float]:
    """Scores by nasearch's internal cell number, keyed through the ``arch`` column (a ``task=mpi``
    scores.csv's ``index`` is the official NB201 index; this script's own files wrote the internal one)."""
    from nasearch.space.nb201.arch import Arch

    with open(path, newline="") as f:
        return {Arch.from_string(r["arch"]).index: float(r[column]) for r in csv.DictReader(f)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("runs", nargs="+", help="label=directory with scores.csv")
    p.add_argument("--mpi", default="experiments/mpi_cifar10/run/scores.csv")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    cols = {b: read(Path(a.mpi), b) for b in BASELINES}
    for spec in a.runs:
        label, _, d = spec.partition("=")
        cols[f"eznas {label}"] = read(Path(d) / "scores.csv", "score")
    common = sorted(set.intersection(*(set(c) for c in cols.values())))
    idx = np.array(common)
    bench = make_benchmark("nb201", None)
    lines = [f"{len(common)} cells common to every column (of the 1,000 of experiments/mpi_cifar10); "
             "target: 200-epoch test accuracy", "",
             "| proxy | " + " | ".join(f"{d} rho | {d} tau" for d in bench.datasets) + " |",
             "|---|" + "---|---|" * len(bench.datasets)]
    for name, c in cols.items():
        proxy = name.split(" ")[0]
        keys = rank_key(proxy, np.array([c[i] for i in common]))
        cells = []
        for d in bench.datasets:
            rho, tau = correlations(keys, bench.column(d, "test_acc")[idx])
            cells.append(f"{rho:.3f} | {tau:.3f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    Path(a.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
