"""Full-space rank correlations of every proxy (and ensemble) whose NB201 score table is complete.

Reads the score tables shipped in the package and the user's store (``--store``; default none),
through the same lookup a search uses (``nasearch.scoring.shipped.layered``; FLOPs and parameter counts,
which no table ships, are computed into the store), over every connected
NB201 cell (15,284; the 341 disconnected ones are never scored). A cell a proxy cannot rate (NaN) is
ranked last, as every search and study here ranks it (the never-preferred policy); the table also
gives the correlation over the rated cells alone and how many cells are unrated. Ensembles are
combined with ``nasearch.scoring.ensemble.combine`` over the whole space (their ``run`` population
is then the space).

    NASEARCH_DATA=/path .venv/bin/python experiments/frontier/full_space.py [--store S] [--out DIR]

Writes ``full_space.csv`` and ``full_space.md`` (Spearman rho / Kendall tau-b against each dataset's
final test accuracy, 200 epochs, NB201's mean over seeds as the benchmark table holds it).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import tempfile
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau, spearmanr

from nasearch.benchmarks import make_benchmark
from nasearch.proxies import get_proxy
from nasearch.scoring import ScoreStore, ScoringSettings, rank_key, score_cells
from nasearch.scoring.ensemble import combine
from nasearch.scoring.shipped import layered

HERE = Path(__file__).resolve().parent
CANDIDATES = ["synflow", "zico", "gradsign", "naswot", "jacob_cov", "flops", "params", "snip", "grad_norm", "fisher",
              "grasp", "zen", "ghn", "eznas", "eznas:net_mean(square(det(sigmoid(mul(preact_D, preact_D)))))",
              "eznas:net_mean(square(det(sigmoid(mul(l1_mean(log(exp(inpact_N))), preact_D)))))",
              "meco", "meco_opt", "swap", "reg_swap", "az_expressivity", "az_progressivity", "az_trainability",
              "lswag", "ghn2"]
BATCH = {"eznas": 16}
STRUCTURAL = ("flops", "params")
"""Proxies that count the network (no pass): computed here, as nasearch ships no NB201 table of them."""
PRESETS = ("az_nas", "te_nas")
"""Registered preset ensembles reported once every member's table is complete."""
def selected(path: Path = HERE / "ensembles_1000.md") -> dict[str, tuple[str, ...]]:
    """Every ensemble ``ensembles_1000.py`` chose on the selection half of the 1,000-cell sample (its
    ``selected, ...`` rows, log-rank sum), read from its committed table, plus LIBRA's pick; each is
    reported here over the whole space once every member's table is complete: all of them, in the
    order they were chosen, not a hindsight pick among them."""
    out: dict[str, tuple[str, ...]] = {}
    for line in path.read_text().splitlines():
        cols = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cols) > 2 and cols[0].startswith("selected, "):
            members = tuple("eznas gen-10" if m == "eznas_gen10" else m for m in cols[1].split(" + "))
            out[cols[0].removeprefix("selected, ") + ", chosen on half of 1,000 cells"] = members
    out["LIBRA's pick on half of 1,000 cells (libra; uses labels)"] = ("meco_opt", "meco", "swap")
    return out


def full_table(store: ScoreStore, proxy: str, cells: list) -> np.ndarray | None:
    try:
        spec = get_proxy(proxy)
    except Exception:  # noqa: BLE001 - a proxy not registered in this checkout
        return None
    base = proxy.split(":")[0]
    settings = ScoringSettings(proxy=proxy, space="nb201", batch_size=BATCH.get(base, 64),
                               checkpoint=None)
    got = layered(store, settings.key(), cells)
    if len(got) < len(cells):
        return None
    return rank_key(spec, np.array([got[a.index] for a in cells], dtype=np.float64))


def correlations(keys: np.ndarray, acc: np.ndarray) -> tuple[float, float]:
    return float(spearmanr(keys, acc).statistic), float(kendalltau(keys, acc).statistic)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", default=None)
    ap.add_argument("--out", default=str(HERE))
    ap.add_argument("--ensembles", type=int, default=3, help="largest ensemble size searched exhaustively")
    args = ap.parse_args()
    bench = make_benchmark("nb201")
    space = bench.space
    cells = [a for a in space.all_archs() if not space.is_trivial(a)]
    idx = np.array([a.index for a in cells])
    acc = {d: bench.column(d, "test_acc")[idx] for d in bench.datasets}
    path = args.store or tempfile.mktemp(suffix=".sqlite")
    tables: dict[str, np.ndarray] = {}
    with ScoreStore(path) as store:
        for p in STRUCTURAL:  # no shipped table: computed into the store (no weights, no images; minutes)
            score_cells(cells, p, "cifar10", space="nb201", store=store, progress=False)
        for p in CANDIDATES:
            k = full_table(store, p, cells)
            if k is not None:
                label = {CANDIDATES[14]: "eznas gen-4", CANDIDATES[15]: "eznas gen-10"}.get(p, p)
                tables[label] = k
    def row(label: str, k: np.ndarray) -> dict:
        unrated = int(np.isneginf(k).sum())
        r = {"score": label, "cells": len(k), "unrated": unrated}
        for d in bench.datasets:
            r[f"{d}_rho"], r[f"{d}_tau"] = correlations(k, acc[d])  # rounded when written (once: csv 4, md 3)
        ok = np.isfinite(k)
        r["cifar10_rho_rated"] = round(float(spearmanr(k[ok], acc["cifar10"][ok]).statistic), 4) if unrated else ""
        return r

    def logrank(members: tuple[str, ...]) -> np.ndarray:
        return combine(np.column_stack([tables[m] for m in members]), "logrank")

    rows = [row(name, k) for name, k in tables.items()]
    # the registry's preset ensembles (their own members and combination) over the connected cells, and
    # as their papers count: all 15,625 cells, the disconnected ones last in every member
    everything = {d: bench.column(d, "test_acc") for d in bench.datasets}
    paper_rows = []
    for preset in PRESETS:
        spec = get_proxy(preset)
        if not all(m in tables for m in spec.members):
            continue
        k = combine(np.column_stack([tables[m] for m in spec.members]), spec.combine)
        rows.append(row(f"{preset} (preset, {spec.combine}): " + " + ".join(spec.members), k))
        whole = np.full((space.num_archs, len(spec.members)), -np.inf)
        whole[idx] = np.column_stack([tables[m] for m in spec.members])
        k = combine(whole, spec.combine)
        paper_rows.append(f"| {preset} (preset), all {space.num_archs:,} cells, the {space.num_archs - len(cells)} "
                              "disconnected ranked last by every member | " + " | ".join(
                                  "{:.3f} / {:.3f}".format(*correlations(k, everything[d])) for d in bench.datasets) + " |")
    rows += [row(f"{label}: " + " + ".join(members), logrank(members))
             for label, members in selected().items() if all(m in tables for m in members)]
    # ensembles: every combination of 2..n members among the full tables, log-rank sum, chosen in hindsight
    names = [n for n in tables if n not in ("params",)]
    ens = sorted(((correlations(logrank(combo), acc["cifar10"])[0], combo)
                  for size in range(2, args.ensembles + 1) for combo in itertools.combinations(names, size)),
                 reverse=True)
    rows += [row("logrank(" + " + ".join(combo) + ")", logrank(combo)) for _rho, combo in ens[:5]]
    fields = ["score", "cells", "unrated", *(f"{d}_{m}" for d in bench.datasets for m in ("rho", "tau")),
              "cifar10_rho_rated"]
    out = Path(args.out)
    with open(out / "full_space.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows({f: round(v, 4) if isinstance(v, float) else v for f, v in r.items()} for r in rows)
    lines = ["| score | cells | unrated | " + " | ".join(f"{d} rho / tau" for d in bench.datasets)
             + " | C10 rho, rated cells only |", "|---" * (4 + len(bench.datasets)) + "|"]
    for r in rows:
        lines.append(f"| {r['score']} | {r['cells']} | {r['unrated']} | "
                     + " | ".join(f"{r[f'{d}_rho']:.3f} / {r[f'{d}_tau']:.3f}" for d in bench.datasets)
                     + f" | {r['cifar10_rho_rated']} |")
    note = ("\nThe `logrank(...)` rows are the best log-rank ensembles of up to "
            f"{args.ensembles} of the complete tables above, **chosen by their full-space CIFAR-10 rho**: an "
            "upper bound of what choosing members in hindsight gives, not a held-out figure (for that: "
            "`ensembles_1000.md`, chosen on half of the 1,000-cell sample). `eznas gen-10` was evolved "
            "against the trained accuracy of 160 NB201 cells, so an ensemble holding it is not label-free. "
            "A cell a proxy cannot rate ranks last (the never-preferred policy).\n")
    if paper_rows:
        note += ("\nThe presets counted as their papers count them (the whole space; rho / tau):\n\n| preset | "
                 + " | ".join(f"{d} rho / tau" for d in bench.datasets) + " |\n" + "|---" * (1 + len(bench.datasets))
                 + "|\n" + "\n".join(paper_rows) + "\n")
    (out / "full_space.md").write_text("\n".join(lines) + "\n" + note)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
