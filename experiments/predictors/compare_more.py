"""Issue 38's search studies beyond NB201 at 3,000 s (``search_3000/compare.py``): NB201 at 12,000
simulated seconds, NAS-Bench-Macro, and TransNAS-Bench-101 micro (class_scene, autoencoder). Every
arm of a study folder (``search_12000/``, ``search_macro/``, ``search_transnas_<task>/``) against the
committed baselines of the same protocol, paired run by run (every arm runs
``SeedSequence(0).spawn(500)``: the same ``run`` index is the same seed), two-sided Wilcoxon
signed-rank tests on the reported metric, and the share of runs that end on the space's best cell
(by that metric).

    .venv/bin/python experiments/predictors/compare_more.py     # writes compare_more.md, prints it
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from scipy.stats import wilcoxon

HERE = Path(__file__).resolve().parent
EXP = HERE.parent

# study folder -> (title, benchmark, search dataset, reported metrics, {baseline label: folder glob})
STUDIES = {
    "search_12000": (
        "NB201, 12,000 simulated seconds (GradSign's Table 5 protocol), CIFAR-10 search", "nb201", "cifar10",
        ("cifar10", "cifar100", "ImageNet16-120"),
        {"rea": "nb201_baselines/sweep/1_*", "bohb": "nb201_baselines/sweep/3_*",
         "rea + synflow (N=10)": "zico_synflow_table5/sweep/1_*proxy=synflow"}),
    "search_macro": (
        "NAS-Bench-Macro, CIFAR-10, the space's sweeps (100 queries)", "nasbench_macro", "cifar10", ("cifar10",),
        {"rea": "nasbench_macro/sweep/1_*", "bohb": "nasbench_macro/sweep/3_*",
         "rea + synflow (N=10)": "nasbench_macro/sweep_synflow/2_*", "rea + swap (N=10)": "nasbench_macro/sweep_swap/1_*"}),
    "search_transnas_class_scene": (
        "TransNAS-Bench-101 micro, class_scene (top-1 %), 100 queries", "transnas101_micro", "class_scene",
        ("class_scene",),
        {"rea": "transnas101/sweep/1_*", "bohb": "transnas101/sweep_bohb500/0_*",
         "rea + synflow (N=10)": "transnas101/frontier_class_scene_synflow/0_*",
         "rea + meco (N=10)": "transnas101/frontier_class_scene/1_*"}),
    "search_transnas_autoencoder": (
        "TransNAS-Bench-101 micro, autoencoder (SSIM), 100 queries", "transnas101_micro", "autoencoder",
        ("autoencoder",),
        {"rea": "transnas101/sweep/19_*", "bohb": "transnas101/sweep_bohb500/6_*",
         "rea + synflow (N=10)": "transnas101/frontier_autoencoder_synflow/0_*",
         "rea + meco (N=10)": "transnas101/frontier_autoencoder/1_*"}),
}


def read_runs(path: Path) -> dict[int, dict[str, str]]:
    with open(path, newline="") as fh:
        return {int(r["run"]): r for r in csv.DictReader(fh)}


def label_of(rows: dict[int, dict[str, str]], folder: Path | None = None) -> str:
    """An arm's label: strategy + screen, and for an arm of this study the settings its overrides
    change (``num_init``, ``features``)."""
    first = next(iter(rows.values()))
    label = first["strategy"] + ("" if first["proxy"] == "none" or first["n"] == "1" else f" + {first['proxy']} (N={first['n']})")
    overrides = folder / ".hydra" / "overrides.yaml" if folder is not None else None
    extra = []
    if overrides is not None and overrides.exists():
        for line in overrides.read_text().splitlines():
            line = line.strip().lstrip("- ").strip("'\"")
            if line.startswith("strategy.params.num_init="):
                extra.append(f"num_init = {line.split('=', 1)[1]}")
            elif line.startswith("strategy.params.features="):
                extra.append(line.split("=", 1)[1].strip("[]").replace(",", " + "))
    if extra:
        label = label.replace(first["strategy"], f"{first['strategy']} ({'; '.join(extra)})", 1)
    return label


def one_study(folder: str) -> str | None:
    from nasearch.benchmarks import make_benchmark

    title, bench_name, dataset, metrics, refs = STUDIES[folder]
    own = sorted((HERE / folder).glob("*/runs.csv")) + sorted((HERE / folder).glob("*/*/runs.csv"))
    if not own:
        return None
    arms = {}
    for path in own:
        rows = read_runs(path)
        arms[label_of(rows, path.parent)] = rows
    ref_rows = {}
    for label, pattern in refs.items():
        hits = sorted(EXP.glob(pattern + "/runs.csv"))
        if len(hits) != 1:
            raise SystemExit(f"{folder}: baseline {label!r} glob {pattern!r} matched {len(hits)} folders")
        ref_rows[label] = read_runs(hits[0])
        arms.setdefault(label, ref_rows[label])
    bench = make_benchmark(bench_name)
    best = float(np.nanmax(bench.column(dataset, "test_acc")))
    key = f"test_{metrics[0]}"
    lines = ["| arm | runs | " + " | ".join(metrics) + " | queries | ends on the best cell | "
             + " | ".join(f"vs {r} (diff, p)" for r in refs) + " |",
             "|---|---|" + "---|" * (len(metrics) + 2 + len(refs))]
    for label, rows in sorted(arms.items(), key=lambda kv: -np.mean([float(r[key]) for r in kv[1].values()])):
        acc = {m: np.array([float(r[f"test_{m}"]) for r in rows.values()]) for m in metrics}
        q = np.mean([float(r["queries"]) for r in rows.values()])
        share = float(np.mean(acc[metrics[0]] >= best - 1e-9))
        cells = []
        for ref in refs:
            if ref == label:
                cells.append("")
                continue
            common = sorted(set(rows) & set(ref_rows[ref]))
            a = np.array([float(rows[i][key]) for i in common])
            b = np.array([float(ref_rows[ref][i][key]) for i in common])
            p = wilcoxon(a, b).pvalue if np.any(a != b) else 1.0
            cells.append(f"{(a - b).mean():+.3f}, p = {p:.2g}")
        nd = 3 if abs(best) < 2 else 2
        lines.append(f"| {label} | {len(rows)} | " + " | ".join(f"{acc[m].mean():.{nd}f} +- {acc[m].std():.{nd}f}" for m in metrics)
                     + f" | {q:.1f} | {share:.0%} | " + " | ".join(cells) + " |")
    return (f"## {title} (`{folder}/`)\n\n500 paired runs per arm; the space's best cell: {best:.4g}.\n\n"
            + "\n".join(lines) + "\n")


def main() -> None:
    parts = [p for p in (one_study(f) for f in STUDIES) if p]
    text = "# Strategies that learn, beyond NB201 at 3,000 s\n\nWritten by `compare_more.py`.\n\n" + "\n".join(parts)
    (HERE / "compare_more.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
