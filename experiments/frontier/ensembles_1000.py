"""Rank ensembles on the 1,000 cells of the correlation studies, chosen without looking at the test set.

Joins, by arch string, the per-cell scores of ``experiments/mpi_cifar10/run/scores.csv`` (the 2019-22
proxies) and ``experiments/frontier/mpi_1000/scores.csv`` (the frontier proxies), both over
``sample_cells(1000, seed=0)``. To keep the figure honest the 1,000 cells are split in two seeded
halves: every ensemble of 2..``--max`` members (AZ-NAS's log-rank sum, ``nasearch.scoring.ensemble.combine``)
is ranked by its Spearman rho on the *selection* half against CIFAR-10 test accuracy, and the best
few are reported on the *held-out* half and, where every member has a full-space table, over the
whole space (``full_space.py``). The AZ-NAS preset and the issue's six-proxy baseline are reported
on the same halves.

    .venv/bin/python experiments/frontier/ensembles_1000.py [--max 5]    # writes ensembles_1000.md
"""

from __future__ import annotations

import argparse
import csv
import itertools
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau, spearmanr

from nasearch.benchmarks import make_benchmark
from nasearch.proxies import get_proxy
from nasearch.scoring import rank_key
from nasearch.scoring.ensemble import combine

HERE = Path(__file__).resolve().parent
SOURCES = [HERE.parent / "mpi_cifar10" / "run" / "scores.csv", HERE / "mpi_1000" / "scores.csv"]
EXTRA = {"eznas_gen10": (HERE.parent / "eznas" / "evolved_gen10_mpi1000" / "scores.csv", "score", "eznas")}
"""Columns of other studies of the same cells: label -> (file, column, proxy whose sign applies). The
evolved EZNAS program was evolved against 160 cells' trained accuracy: ensembles holding it are not
label-free."""
BASELINE = ("synflow", "zico", "gradsign", "naswot", "jacob_cov", "flops")
AZ = ("az_expressivity", "az_progressivity", "az_trainability", "flops")
CHEAP = ("synflow", "zico", "gradsign", "meco", "meco_opt", "swap", "reg_swap", "flops")
"""Members whose full-space NB201 table is shipped (synflow, ZiCo, GradSign, MeCo, MeCo_opt) or takes under an
hour on this 2-core machine (SWAP and reg-SWAP, 0.10 s per cell; FLOPs): the candidates of the cheap
selection, fixed before any full-space figure of an ensemble was seen."""


def load() -> tuple[list[str], dict[str, np.ndarray]]:
    cols: dict[str, dict[str, float]] = {}
    archs: list[str] | None = None
    for src in SOURCES:
        with open(src, newline="") as fh:
            rows = list(csv.DictReader(fh))
        if archs is None:
            archs = [r["arch"] for r in rows]
        for name in rows[0]:
            if name in ("index", "arch") or ":" in name:
                continue
            cols[name] = {r["arch"]: float(r[name]) for r in rows}
    assert archs is not None
    signs = {}
    for label, (path, column, proxy) in EXTRA.items():
        if path.is_file():
            with open(path, newline="") as fh:
                cols[label] = {r["arch"]: float(r[column]) for r in csv.DictReader(fh)}
            signs[label] = proxy
    keys = {}
    for name, by_arch in cols.items():
        if not all(a in by_arch for a in archs):
            continue
        spec = get_proxy(signs.get(name, name))
        if spec.members:  # an ensemble's column (az_nas): members are proxies, not ensembles
            continue
        keys[name] = rank_key(spec, np.array([by_arch[a] for a in archs]))
    return archs, keys


def selection_half(n: int) -> np.ndarray:
    """The seeded selection half of the study's ``n`` cells (a boolean mask; the rest is held out)."""
    half = np.zeros(n, dtype=bool)
    half[np.random.default_rng(37).permutation(n)[: n // 2]] = True
    return half


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--max", type=int, default=5)
    ap.add_argument("--top", type=int, default=8)
    args = ap.parse_args()
    archs, keys = load()
    bench = make_benchmark("nb201")
    space = bench.space
    idx = np.array([space.parse(a).index for a in archs])
    acc = {d: bench.column(d, "test_acc")[idx] for d in bench.datasets}
    half = selection_half(len(archs))
    names = sorted(k for k in keys if k != "params")  # params equals flops in rank on NB201

    def rho(s, mask, d="cifar10"):
        return float(spearmanr(s[mask], acc[d][mask]).statistic)

    scored = []
    for size in range(2, args.max + 1):
        for combo in itertools.combinations(names, size):
            s = combine(np.column_stack([keys[n] for n in combo]), "logrank")
            scored.append((rho(s, half), combo))
    scored.sort(reverse=True)
    report = [("single: " + n, (n,)) for n in sorted(names, key=lambda n: -rho(keys[n], half))]
    report += [("six-proxy baseline (issue)", BASELINE), ("AZ-NAS preset (az_nas)", AZ)]
    free = [(r, c) for r, c in scored if not any(n in EXTRA for n in c)]
    report += [(f"selected, label-free #{i + 1}", combo) for i, (_r, combo) in enumerate(free[: args.top])]
    cheap = [(r, c) for r, c in free if all(n in CHEAP for n in c)]
    report += [(f"selected, cheap #{i + 1}", combo) for i, (_r, combo) in enumerate(cheap[: args.top // 2])]
    report += [(f"selected, any #{i + 1}", combo) for i, (_r, combo) in enumerate(scored[: args.top // 2])]
    lines = ["| score | members | selection half C10 rho | held-out half C10 rho / tau | held-out C100 rho | "
             "held-out IN16 rho |", "|---|---|---|---|---|---|"]
    for label, combo in report:
        if any(c not in keys for c in combo):
            continue
        s = keys[combo[0]] if len(combo) == 1 else combine(np.column_stack([keys[n] for n in combo]), "logrank")
        held = ~half
        tau = float(kendalltau(s[held], acc["cifar10"][held]).statistic)
        lines.append(f"| {label} | {' + '.join(combo)} | {rho(s, half):.3f} | {rho(s, held):.3f} / {tau:.3f} | "
                     f"{rho(s, held, 'cifar100'):.3f} | {rho(s, held, 'ImageNet16-120'):.3f} |")
    text = "\n".join(lines) + "\n"
    (HERE / "ensembles_1000.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
