"""Paired Wilcoxon tests of the frontier pre-filters against the best 2019-22 proxy, synflow (N = 10).

Every arm here and synflow's arms (``../../zico_synflow_table5/sweep`` for REA,
``../../zico_synflow_table5/sweep_strategies`` for RS) run the same 500 seeds of the same protocol, so
run i of one arm pairs with run i of the other (``SeedSequence(0).spawn(500)[i]``). Tested: the
incumbent's 200-epoch test accuracy per dataset; two-sided signed-rank test (scipy).

    .venv/bin/python experiments/frontier/search/vs_synflow.py      # writes vs_synflow.md and prints it
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from scipy.stats import wilcoxon

HERE = Path(__file__).resolve().parent
OLD = HERE.parents[1] / "zico_synflow_table5"
SYNFLOW = {"rea": OLD / "sweep" / "1_experiment=zico_synflow_table5,proxy.n=10,proxy=synflow" / "runs.csv",
           "rs": OLD / "sweep_strategies" / "3_experiment=zico_synflow_table5,proxy.n=10,proxy=synflow,strategy=rs" / "runs.csv"}
DATASETS = ("cifar10", "cifar100", "ImageNet16-120")


def runs(path: Path) -> dict[int, dict[str, str]]:
    with open(path, newline="") as fh:
        return {int(r["run"]): r for r in csv.DictReader(fh)}


def main() -> None:
    lines = ["| arm | strategy | charged | " + " | ".join(f"{d}: mean diff, p" for d in DATASETS) + " |",
             "|---|---|---|" + "---|" * len(DATASETS)]
    for path in sorted(HERE.glob("*/*/runs.csv")):
        rows = runs(path)
        first = next(iter(rows.values()))
        if int(first["n"]) == 1:
            continue
        base = runs(SYNFLOW[first["strategy"]])
        common = sorted(set(rows) & set(base))
        cells = []
        for d in DATASETS:
            a = np.array([float(rows[i][f"test_{d}"]) for i in common])
            b = np.array([float(base[i][f"test_{d}"]) for i in common])
            p = wilcoxon(a, b).pvalue if np.any(a != b) else 1.0
            cells.append(f"{(a - b).mean():+.3f}, p = {p:.2g}")
        lines.append(f"| {path.parent.parent.name}: {first['proxy']} (N={first['n']}) | {first['strategy']} | "
                     f"{first['charge_time']} | " + " | ".join(cells) + " |")
    text = ("Paired against synflow (N = 10) on the same 500 seeds; positive: the frontier arm is better.\n\n"
            + "\n".join(lines) + "\n")
    (HERE / "vs_synflow.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
