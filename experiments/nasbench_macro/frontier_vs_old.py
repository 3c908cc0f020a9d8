"""Paired Wilcoxon tests of the frontier pre-filters on NAS-Bench-Macro (issue 37, item 5) against the
best 2019-22 proxy at the same screen size (N = 10) and against vanilla.

Every arm below ran the same 500 seeds (run i of one arm pairs with run i of another: the seed list of
``runs=500 seed=0``), 100 queries, the incumbent's mean test accuracy as the benchmark reports it.
The best old proxy at N = 10 is synflow for both strategies (``assisted.md``: REA 93.11, RS 93.03;
ZiCo ties it under REA). Two-sided signed-rank test (scipy); a pair of identical arms gets p = 1.

    .venv/bin/python experiments/nasbench_macro/frontier_vs_old.py   # writes frontier_vs_old.md
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from scipy.stats import wilcoxon

HERE = Path(__file__).resolve().parent
ARMS = {
    "swap (N=10)": "sweep_swap/{i}_benchmark=nasbench_macro,proxy.n=10,proxy=swap,runs=500,strategy={s}",
    "ensemble swap + flops (N=10)": ("sweep_ens_swap_flops/{i}_benchmark=nasbench_macro,proxy.members=[swap,flops],"
                                     "proxy.n=10,proxy=ensemble,runs=500,strategy={s}"),
}
INDEX = {"rs": 0, "rea": 1}
BASELINES = {
    "vanilla": {"rs": None, "rea": None},
    "synflow (N=10)": {"rs": "sweep_synflow/0_benchmark=nasbench_macro,proxy.n=10,proxy=synflow,runs=500,strategy=rs",
                       "rea": "sweep_synflow/2_benchmark=nasbench_macro,proxy.n=10,proxy=synflow,runs=500,strategy=rea"},
}


def runs(folder: Path) -> dict[int, float]:
    with open(folder / "runs.csv", newline="") as fh:
        return {int(r["run"]): float(r["test_cifar10"]) for r in csv.DictReader(fh)}


def vanilla(strategy: str) -> Path:
    """The vanilla arm of the strategy in the first sweep (``sweep/``)."""
    for d in sorted((HERE / "sweep").iterdir()):
        if d.is_dir() and f"strategy={strategy}" in d.name and (d / "runs.csv").is_file():
            return d
    raise FileNotFoundError(f"no vanilla {strategy} arm below {HERE / 'sweep'}")


def main() -> None:
    lines = ["| arm | strategy | mean | vs vanilla: diff, p | vs synflow (N=10): diff, p |", "|---|---|---|---|---|"]
    for label, pattern in ARMS.items():
        for s, i in INDEX.items():
            arm = runs(HERE / pattern.format(i=i, s=s))
            cells = []
            for base in BASELINES.values():
                other = runs(vanilla(s) if base[s] is None else HERE / base[s])
                common = sorted(set(arm) & set(other))
                a = np.array([arm[k] for k in common])
                b = np.array([other[k] for k in common])
                p = wilcoxon(a, b).pvalue if np.any(a != b) else 1.0
                cells.append(f"{(a - b).mean():+.3f}, p = {p:.2g}")
            lines.append(f"| {label} | {s} | {np.mean(list(arm.values())):.2f} | " + " | ".join(cells) + " |")
    text = ("NAS-Bench-Macro, 500 paired runs of 100 queries; positive: the frontier arm is better.\n\n"
            + "\n".join(lines) + "\n")
    (HERE / "frontier_vs_old.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
