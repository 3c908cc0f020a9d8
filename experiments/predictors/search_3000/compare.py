"""The issue-38 search study at NB201's 3,000 simulated seconds: every arm under this folder against
REA, REA + synflow (N = 100) and BOHB, paired run by run (every arm runs ``SeedSequence(0).spawn(500)``),
two-sided Wilcoxon signed-rank tests on the incumbent's 200-epoch CIFAR-10 test accuracy, and the
share of runs that end on the space's best cell (by CIFAR-10 test accuracy, 94.37).

    .venv/bin/python experiments/predictors/search_3000/compare.py     # writes compare.md, prints it
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from scipy.stats import wilcoxon

HERE = Path(__file__).resolve().parent
DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
GHN_ARM = "predictor (encoding + proxies + GHN embedding)"
WITHOUT_GHN = "predictor (encoding + proxies)"


def arms() -> dict[str, dict[int, dict[str, str]]]:
    out = {}
    for path in sorted(HERE.glob("*/*/runs.csv")):
        with open(path, newline="") as fh:
            rows = {int(r["run"]): r for r in csv.DictReader(fh)}
        first = next(iter(rows.values()))
        label = first["strategy"] + ("" if first["proxy"] == "none" or first["n"] == "1"
                                     else f" + {first['proxy']} (N={first['n']})")
        overrides = (path.parent / ".hydra" / "overrides.yaml").read_text() if (path.parent / ".hydra" / "overrides.yaml").exists() else ""
        features = [line.split("=", 1)[1] for line in overrides.splitlines() if "strategy.params.features=" in line]
        if features and "ghn" in features[0].strip("[]'\" ").split(","):
            label = label.replace("predictor", GHN_ARM, 1)
        elif path.parent.parent.name.startswith("predictor_proxies"):
            label = label.replace("predictor", "predictor (encoding + proxies)", 1)
        for line in overrides.splitlines():
            if "strategy.params.num_init=" in line:
                label = label.replace("predictor", f"predictor (num_init = {line.split('=')[-1].strip()})", 1)
        out[label] = rows
    return out


def main() -> None:
    from nasearch.benchmarks import make_benchmark

    bench = make_benchmark("nb201")
    best = float(np.nanmax(bench.column("cifar10", "test_acc")))
    found = arms()
    refs = [r for r in ("rea", "rea + synflow (N=100)", "bohb") if r in found]
    lines = ["| arm | runs | " + " | ".join(DATASETS) + " | queries | ends on the best cell | "
             + " | ".join(f"vs {r} (C10 diff, p)" for r in refs) + " |",
             "|---|---|" + "---|" * (len(DATASETS) + 2 + len(refs))]
    for label, rows in sorted(found.items(), key=lambda kv: -np.mean([float(r["test_cifar10"]) for r in kv[1].values()])):
        acc = {d: np.array([float(r[f"test_{d}"]) for r in rows.values()]) for d in DATASETS}
        q = np.mean([float(r["queries"]) for r in rows.values()])
        share = float(np.mean(acc["cifar10"] >= best - 1e-9))
        cells = []
        for ref in refs:
            if ref == label:
                cells.append("")
                continue
            common = sorted(set(rows) & set(found[ref]))
            a = np.array([float(rows[i]["test_cifar10"]) for i in common])
            b = np.array([float(found[ref][i]["test_cifar10"]) for i in common])
            p = wilcoxon(a, b).pvalue if np.any(a != b) else 1.0
            cells.append(f"{(a - b).mean():+.3f}, p = {p:.2g}")
        lines.append(f"| {label} | {len(rows)} | " + " | ".join(f"{acc[d].mean():.2f} +- {acc[d].std():.2f}" for d in DATASETS)
                     + f" | {q:.1f} | {share:.0%} | " + " | ".join(cells) + " |")
    text = (f"NB201 CIFAR-10, 3,000 simulated seconds, 500 paired runs per arm; the space's best cell: {best:.2f}.\n\n"
            + "\n".join(lines) + "\n")
    if GHN_ARM in found and WITHOUT_GHN in found:  # the embedding's contribution, paired on the runs both have
        common = sorted(set(found[GHN_ARM]) & set(found[WITHOUT_GHN]))
        parts = []
        for d in DATASETS:
            a = np.array([float(found[GHN_ARM][i][f"test_{d}"]) for i in common])
            b = np.array([float(found[WITHOUT_GHN][i][f"test_{d}"]) for i in common])
            p = wilcoxon(a, b).pvalue if np.any(a != b) else 1.0
            parts.append(f"{d} {(a - b).mean():+.3f} (p = {p:.2g})")
        text += (f"\nThe GHN embedding's contribution: `{GHN_ARM}` minus `{WITHOUT_GHN}` over the {len(common)} runs "
                 "both have: " + "; ".join(parts) + ".\n")
    (HERE / "compare.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
