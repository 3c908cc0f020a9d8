"""MPI study of the GHN proxy on the 1,000 cells of experiments/mpi_cifar10 (resumable, partial-aware).

Scores the cells of ``sample_cells(1000, seed=0)`` with ``proxy=ghn`` bound to ``--checkpoint``, in
a seeded random order (so a partial run is a uniform random subset of the 1,000), in chunks written
to the score store ``--store`` (a killed run resumes from the store). Then, on the cells scored so
far, Spearman's rho and Kendall's tau against NB201's 200-epoch test accuracy on CIFAR-10,
CIFAR-100 and ImageNet16-120, next to params, synflow, GradSign and ZiCo on the SAME cells (their
scores from experiments/mpi_cifar10/run/scores.csv). Writes mpi.md, mpi.csv, ghn_scores.csv and
scatter_ghn.png into ``--out`` (default: here).

    NASEARCH_DATA=... nice -n 10 .venv/bin/python experiments/ghn/mpi_study.py \
        --checkpoint nasearch/predictors/ghn_nb201_cifar10.pt [--budget-minutes 40] [--report-only]
"""

from __future__ import annotations

import argparse
import csv
import logging
import math
import os
import time
from pathlib import Path

import numpy as np
import torch

from nasearch.benchmarks.table import TableBenchmark
from nasearch.experiments.mpi import correlations, sample_cells, scatter
from nasearch.scoring import score_cells, score_key
from nasearch.scoring.store import ScoreStore

HERE = Path(__file__).parent
REPO = HERE.parent.parent
OTHERS = ("params", "synflow", "gradsign", "zico")
DATASETS = ("cifar10", "cifar100", "ImageNet16-120")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--checkpoint", default=str(REPO / "nasearch/predictors/ghn_nb201_cifar10.pt"))
    p.add_argument("--store", default=str(HERE / "scores.sqlite"))
    p.add_argument("--cells", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--num-batches", type=int, default=1)
    p.add_argument("--chunk", type=int, default=25)
    p.add_argument("--budget-minutes", type=float, default=math.inf)
    p.add_argument("--report-only", action="store_true")
    p.add_argument("--out", default=str(HERE), help="folder for mpi.md, mpi.csv, ghn_scores.csv, scatter_ghn.png")
    a = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(1)
    cells = sample_cells(a.cells, 0, space="nb201")
    order = np.random.default_rng(2019).permutation(len(cells))
    kw = dict(batch_size=a.batch_size, num_batches=a.num_batches, seed=0, checkpoint=a.checkpoint, space="nb201")
    key = score_key("ghn", "cifar10", **kw)
    t_end = time.monotonic() + 60 * a.budget_minutes
    with ScoreStore(a.store) as store:
        if not a.report_only:
            todo = [cells[i] for i in order]
            for s in range(0, len(todo), a.chunk):
                if time.monotonic() > t_end:
                    break
                chunk = todo[s : s + a.chunk]
                score_cells(chunk, "ghn", "cifar10", store=store, progress=False, **kw)
                print(f"{min(s + a.chunk, len(todo))} of {len(todo)} cells scored", flush=True)
        got = store.get_many(key, cells, with_seconds=True)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    report(cells, got, key, out)


def report(cells, got: dict, key, out: Path) -> None:
    from nasearch.space.nb201.arch import Arch

    bench = TableBenchmark(Path(os.environ["NASEARCH_DATA"]) / "nb201" / "nb201.csv.gz")
    done = [a for a in cells if a.index in got]
    idx = np.array([a.index for a in done])
    ghn = np.array([got[a.index][0] for a in done])
    secs = np.array([got[a.index][1] for a in done])
    others: dict[str, dict[int, float]] = {o: {} for o in OTHERS}
    with open(REPO / "experiments/mpi_cifar10/run/scores.csv") as f:
        for r in csv.DictReader(f):
            for o in OTHERS:
                # keyed through the arch string: a task=mpi scores.csv's index is the official NB201 index
                others[o][Arch.from_string(r["arch"]).index] = float(r[o])
    label = f"{len(done)} of {len(cells)} cells" + ("" if len(done) == len(cells) else " (partial, a uniform random subset)")
    rows = []
    n_img = key.batch_size * key.num_batches
    step = 100.0 / n_img
    acc = np.ceil(ghn / step - 1e-9) * step  # the accuracy part of ghn = acc - 1e-4 * loss
    loss = (acc - ghn) / 1e-4  # exact up to float rounding: the tie-break term is below one image
    cols = {"ghn": ghn, "ghn accuracy only": acc, "ghn_loss (negated)": -loss,
            **{o: np.array([others[o][i] for i in idx]) for o in OTHERS}}
    targets = {d: bench.column(d, "test_acc")[idx] for d in DATASETS}
    for name, keys in cols.items():
        row = {"proxy": name, "cells": len(done)}
        for d in DATASETS:
            rho, tau = correlations(keys, targets[d])
            row[f"{d}_rho"], row[f"{d}_tau"] = round(rho, 4), round(tau, 4)
        rows.append(row)
    fields = ["proxy", "cells", *[f"{d}_{m}" for d in DATASETS for m in ("rho", "tau")]]
    with open(out / "mpi.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    lines = [f"Spearman rho / Kendall tau against NB201 200-epoch test accuracy, on {label}; "
             f"GHN checkpoint version {key.version}, {key.batch_size * key.num_batches} held-out images per "
             f"cell, mean {np.nanmean(secs):.2f} s/cell", "",
             "| proxy | " + " | ".join(f"{d} rho / tau" for d in DATASETS) + " |",
             "|---|" + "---|" * len(DATASETS)]
    for r in rows:
        lines.append(f"| {r['proxy']} | " + " | ".join(f"{r[f'{d}_rho']:.3f} / {r[f'{d}_tau']:.3f}" for d in DATASETS) + " |")
    (out / "mpi.md").write_text("\n".join(lines) + "\n")
    with open(out / "ghn_scores.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["index", "arch", "ghn", "ghn_acc", "ghn_loss", "seconds", "test_acc_cifar10"])
        for a, s, ac, lo, t, y in zip(done, ghn, cols["ghn accuracy only"], loss, secs, targets["cifar10"]):
            w.writerow([a.index, a.to_string(), repr(float(s)), f"{ac:.4f}", f"{lo:.6f}", f"{t:.4g}", f"{y:.2f}"])
    if len(done) >= 3:
        scatter(ghn, targets["cifar10"], out / "scatter_ghn.png", proxy="ghn",
                label="cifar10 test accuracy (200 epochs)", rho=rows[0]["cifar10_rho"])
    print("\n".join(lines))


if __name__ == "__main__":
    main()
