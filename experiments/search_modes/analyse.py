"""Issue 39's studies from the folders `run.sh` writes: tables (results.md) and plots.

1. workers: final test accuracy per arm (REA / TPE x vanilla / synflow N=10 x K = 1, 8 simulated
   workers; REA vanilla also at K = 4, 16), paired Wilcoxon against the vanilla arm of the same
   strategy and K, the share of runs that reach 94.0 on CIFAR-10 and their median simulated time to
   it (from each run's anytime curve: 50 points over the 12,000 s budget, a resolution of 245 s).
2. budgeted: per FLOPs budget (the 25th, 50th, 75th percentile of the space, recomputed here), each
   arm's mean final test accuracy against the best cell under the budget in the table.
3. multi-objective: mean hypervolume ratio (final front / the table's true front) per arm, paired
   Wilcoxon vs the vanilla arm, anytime hypervolume plots, and one run's front beside the true front.

Run from the repository root: `python experiments/search_modes/analyse.py` (NASEARCH_DATA set).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from nasearch.benchmarks import make_benchmark
from nasearch.results import find_job_dirs, read_curves, read_run_rows

HERE = Path(__file__).parent
TARGET = 94.0


def arms(folder: Path) -> list[tuple[dict, list[dict], tuple | None]]:
    out = []
    for job in find_job_dirs(folder):
        rows = read_run_rows(job / "runs.csv")
        if rows:
            out.append((rows[0], rows, read_curves(job)))
    return out


def label(r: dict) -> str:
    proxy = "vanilla" if r["proxy"] == "none" or r["n"] == "1" else f"+{r['proxy']} N={r['n']}"
    extra = []
    if r.get("workers") and r["workers"] != "1":
        extra.append(f"K={r['workers']}")
    else:
        extra.append("K=1")
    if r.get("constraints"):
        extra.append(r["constraints"])
    return f"{r['strategy']} {proxy} ({', '.join(extra)})"


def paired(a: list[dict], b: list[dict], col: str) -> tuple[float, float]:
    from scipy.stats import wilcoxon

    x = {r["run"]: float(r[col]) for r in a}
    y = {r["run"]: float(r[col]) for r in b}
    common = sorted(set(x) & set(y), key=int)
    d = np.array([x[i] - y[i] for i in common])
    if len(d) == 0:
        return float("nan"), float("nan")
    p = 1.0 if np.all(d == 0) else float(wilcoxon(d).pvalue)
    return float(d.mean()), p


def vanilla_of(r: dict, all_arms: list) -> list[dict] | None:
    for r0, rows, _ in all_arms:
        if (r0["proxy"] == "none" or r0["n"] == "1") and all(
            r0.get(k, "") == r.get(k, "") for k in ("strategy", "workers", "constraints", "objectives", "benchmark")
        ):
            return rows
    return None


def time_to(curves: tuple | None, target: float) -> tuple[float, float]:
    """Share of runs whose incumbent reaches ``target`` within the budget, and their median time."""
    if curves is None:
        return float("nan"), float("nan")
    grid, values = curves
    hit = np.nan_to_num(values, nan=-np.inf) >= target
    reached = hit.any(axis=1)
    first = np.where(reached, hit.argmax(axis=1), -1)
    times = grid[first[reached]]
    return float(reached.mean()), float(np.median(times)) if len(times) else float("nan")


def workers_section() -> list[str]:
    found = arms(HERE / "workers") + arms(HERE / "workers_rea_k")
    if not found:
        return []
    lines = [
        "## 1. Simulated asynchronous workers (NB201 CIFAR-10, 12,000 simulated s, 500 paired runs)",
        "",
        "| arm | runs | queries | C10 | C100 | IN16 | vs vanilla, same K (C10) | runs reaching 94.0 | median s to 94.0 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    order = sorted(found, key=lambda t: (t[0]["strategy"], int(t[0].get("workers") or 1), t[0]["n"]))
    for r0, rows, curves in order:
        acc = {d: np.array([float(r[f"test_{d}"]) for r in rows]) for d in ("cifar10", "cifar100", "ImageNet16-120")}
        q = np.mean([float(r["queries"]) for r in rows])
        van = vanilla_of(r0, found)
        cmp = ""
        if van is not None and van is not rows:
            d, p = paired(rows, van, "test_cifar10")
            cmp = f"{d:+.3f}, p = {p:.2g}"
        share, med = time_to(curves, TARGET)
        lines.append(
            f"| {label(r0)} | {len(rows)} | {q:.0f} | "
            + " | ".join(f"{acc[d].mean():.2f} +- {acc[d].std(ddof=1):.2f}" for d in acc)
            + f" | {cmp} | {100 * share:.0f}% | {med:,.0f} |"
        )
    plot_anytime(order, HERE / "workers.png", "NB201 CIFAR-10: incumbent test accuracy vs simulated time",
                 "test accuracy (%)")
    return lines + ["", "![workers](workers.png)", ""]


def budgeted_section(bench) -> list[str]:
    found = arms(HERE / "budgeted")
    if not found:
        return []
    flops = bench.column("cifar10", "flops")
    test = bench.column("cifar10", "test_acc")
    pct = {q: float(np.nanpercentile(flops, q)) for q in (25, 50, 75)}
    lines = [
        "## 2. Budgeted search: the best CIFAR-10 cell under a FLOPs budget (NB201, 12,000 s, 500 paired runs)",
        "",
        "Budgets: the 25th, 50th and 75th percentile of the space's FLOPs: "
        + ", ".join(f"{q}th {v:.2f} MFLOPs" for q, v in pct.items()) + ".",
        "",
        "| budget | table optimum (C10 test) | arm | runs | C10 | gap to optimum | runs on the optimum | vs vanilla (C10) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r0, rows, _ in sorted(found, key=lambda t: (float(t[0]["constraints"].split("<=")[1]), t[0]["strategy"], t[0]["n"])):
        bound = float(r0["constraints"].split("<=")[1])
        feasible = flops <= bound
        best = float(np.nanmax(np.where(feasible, test, np.nan)))
        acc = np.array([float(r["test_cifar10"]) for r in rows])
        van = vanilla_of(r0, found)
        cmp = ""
        if van is not None and van is not rows:
            d, p = paired(rows, van, "test_cifar10")
            cmp = f"{d:+.3f}, p = {p:.2g}"
        q = next((k for k, v in pct.items() if abs(v - bound) < 1e-3), None)
        lines.append(
            f"| {bound:.2f} MFLOPs ({q}th pct, {int(feasible.sum()):,} cells) | {best:.2f} | {label(r0)} | {len(rows)} | "
            f"{acc.mean():.2f} +- {acc.std(ddof=1):.2f} | {best - acc.mean():.2f} | {100 * np.mean(np.isclose(acc, best)):.0f}% | {cmp} |"
        )
    plot_budgets(found, flops, test, HERE / "budgeted.png")
    return lines + ["", "![budgeted](budgeted.png)", ""]


def plot_budgets(found, flops, test, path: Path) -> None:
    """One panel per budget: each arm's mean incumbent test accuracy over the run, and the budget's
    optimum in the table as a dashed reference line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bounds = sorted({float(r0["constraints"].split("<=")[1]) for r0, _, _ in found})
    fig, axes = plt.subplots(1, len(bounds), figsize=(5 * len(bounds), 4.5), squeeze=False)
    for ax, bound in zip(axes[0], bounds):
        best = float(np.nanmax(np.where(flops <= bound, test, np.nan)))
        for r0, _rows, curves in found:
            if curves is None or float(r0["constraints"].split("<=")[1]) != bound:
                continue
            grid, values = curves
            ax.plot(grid, np.nanmean(values, axis=0), label=label(r0).split(" (")[0])
        ax.axhline(best, ls="--", c="k", label=f"optimum under the budget ({best:.2f})")
        ax.set_title(f"flops <= {bound:.2f} M")
        ax.set_xlabel("simulated seconds")
        ax.set_ylabel("incumbent test accuracy (%)")
        ax.set_ylim(best - 3, best + 0.5)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def mo_section(bench_name: str, folders: list[str], title: str) -> list[str]:
    found = [a for f in folders for a in arms(HERE / f)]
    if not found:
        return []
    lines = [
        f"## 3. Multi-objective: {title}",
        "",
        "| arm | runs | queries | HV ratio (final front / true front) | front size | vs vanilla (HV ratio) |",
        "|---|---|---|---|---|---|",
    ]
    order = sorted(found, key=lambda t: (t[0]["strategy"], t[0]["n"]))
    for r0, rows, _ in order:
        hv = np.array([float(r["hv_ratio"]) for r in rows])
        size = np.mean([len(r["front"].split()) for r in rows])
        q = np.mean([float(r["queries"]) for r in rows])
        van = vanilla_of(r0, found)
        cmp = ""
        if van is not None and van is not rows:
            d, p = paired(rows, van, "hv_ratio")
            cmp = f"{d:+.4f}, p = {p:.2g}"
        lines.append(f"| {label(r0).replace(' (K=1)', '')} | {len(rows)} | {q:.0f} | {hv.mean():.4f} +- {hv.std(ddof=1):.4f} | "
                     f"{size:.1f} | {cmp} |")
    name = folders[0]
    plot_anytime(order, HERE / f"{name}_hv.png", f"{title}: hypervolume ratio vs budget", "hypervolume / true front's")
    plot_front(bench_name, order, HERE / f"{name}_front.png", title)
    return lines + ["", f"![hv]({name}_hv.png) ![front]({name}_front.png)", ""]


def plot_anytime(order, path: Path, title: str, ylabel: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for r0, _rows, curves in order:
        if curves is None:
            continue
        grid, values = curves
        m = np.nanmean(values, axis=0)
        se = np.nanstd(values, axis=0) / np.sqrt(np.sum(~np.isnan(values), axis=0).clip(1))
        ax.plot(grid, m, label=label(r0))
        ax.fill_between(grid, m - 1.96 * se, m + 1.96 * se, alpha=0.2)
    if "hypervolume" in ylabel:
        ax.axhline(1.0, ls="--", c="k", label="the table's true front")
    ax.set_xlabel("simulated seconds" if order and order[0][0]["budget_seconds"] else "queries")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_front(bench_name: str, order, path: Path, title: str) -> None:
    """The table's true front and run 0's final front of each vanilla arm, in the reported objectives."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nasearch.experiments.search import reported_objectives
    from nasearch.pareto import non_dominated

    r0 = order[0][0]
    bench = make_benchmark(bench_name)
    objectives = tuple(r0["objectives"].split(","))
    values = reported_objectives(bench, r0["dataset"], objectives)
    ok = np.all(np.isfinite(values), axis=1)
    front = values[ok][non_dominated(values[ok])]
    front = front[np.argsort(front[:, 1])]
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.scatter(-values[ok][:, 1], values[ok][:, 0], s=2, c="0.85", label="every cell")
    ax.step(-front[:, 1], front[:, 0], where="post", c="k", label="true front")
    for r, rows, _ in order:
        row = next(x for x in rows if x["run"] == "0")
        idx = [bench.space.from_official_index(int(i)).index for i in row["front"].split()]
        pts = values[idx]
        ax.scatter(-pts[:, 1], pts[:, 0], s=14, label=f"{label(r).replace(' (K=1)', '')}, run 0")
    ax.set_xlabel(objectives[1])
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{title}: fronts")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    bench = make_benchmark("nb201")
    out = ["# Search modes (issue 39): results", "", "Written by `analyse.py` from the folders `run.sh` fills.", ""]
    out += workers_section()
    out += budgeted_section(bench)
    out += mo_section("nb201", ["mo_nb201", "mo_nb201_nsga2"], "NB201 CIFAR-10, accuracy vs latency (12,000 s)")
    out += mo_section("nasbench_macro", ["mo_macro", "mo_macro_nsga2"], "NAS-Bench-Macro, accuracy vs FLOPs (100 queries)")
    (HERE / "results.md").write_text("\n".join(out) + "\n", encoding="utf-8")
    print("\n".join(out))


if __name__ == "__main__":
    sys.exit(main())
