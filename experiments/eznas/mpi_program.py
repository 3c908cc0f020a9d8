"""MPI of an EZNAS program on the 1,000 cells of experiments/mpi_cifar10 (or the whole space).

Scores go through the score store (resumable: rerun the same command after a kill), then Spearman's
rho and Kendall's tau against the 200-epoch test and validation accuracy of every NB201 dataset are
written to ``<out>/mpi.csv`` / ``mpi.md`` (with "partial: N of M" when --max-cells stops early).

    NASEARCH_DATA=... python experiments/eznas/mpi_program.py --out experiments/eznas/published_mpi1000
    python experiments/eznas/mpi_program.py --program "net_mean(...)" --out ...
    python experiments/eznas/mpi_program.py --cells all --out experiments/eznas/published_full
"""

from __future__ import annotations

import argparse
import csv
import logging
import math
import os
import sys
from pathlib import Path

import numpy as np
import torch

from nasearch.benchmarks import make_benchmark
from nasearch.experiments.mpi import correlations, sample_cells
from nasearch.scoring import rank_key, score_cells
from nasearch.scoring.store import ScoreStore
from nasearch.space.nb201.arch import NUM_ARCHS, Arch


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--program", default=None, help="program text (default: the published NB201 program)")
    p.add_argument("--cells", default="1000", help="'1000' (the MPI study's cells, default_rng(0)) or 'all'")
    p.add_argument("--max-cells", type=int, default=None, help="score at most this many cells this run")
    p.add_argument("--stored-only", action="store_true", help="report the stored prefix of the order, compute nothing")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--store", default="experiments/eznas/store.sqlite")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s] %(message)s")
    torch.set_num_threads(1)
    proxy = "eznas" if a.program is None else f"eznas:{a.program}"
    if a.cells == "all":
        cells = [Arch.from_index(i) for i in range(NUM_ARCHS) if Arch.from_index(i).is_connected()]
    else:
        cells = sample_cells(int(a.cells), 0, space="nb201")
    # a seeded order, scored in chunks, so that a partial run is a uniform sample of the cells
    order = np.random.default_rng(2022).permutation(len(cells))
    todo = [cells[i] for i in order]
    if a.max_cells is not None:
        todo = todo[: a.max_cells]
    if a.stored_only:  # the longest prefix of the seeded order already in the store: no computing
        from nasearch.scoring import score_key

        with ScoreStore(a.store) as store:
            have = store.get_many(score_key(proxy, "cifar10", batch_size=a.batch_size, seed=a.seed, space="nb201"), todo)
        n = next((i for i, c in enumerate(todo) if c.index not in have), len(todo))
        todo = todo[:n]
    with ScoreStore(a.store) as store:
        parts = [score_cells(todo[i : i + 50], proxy, "cifar10", batch_size=a.batch_size, seed=a.seed,
                             workers=a.workers, store=store, progress=True, space="nb201") for i in range(0, len(todo), 50)]
    scores = np.concatenate(parts) if parts else np.array([])
    bench = make_benchmark("nb201", None)
    idx = np.array([c.index for c in todo])
    keys = rank_key("eznas", scores)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    label = "complete" if len(todo) == len(cells) else f"partial: {len(todo)} of {len(cells)} cells"
    rows = []
    for target in bench.datasets:
        for metric in ("test_acc", "valid_acc"):
            rho, tau = correlations(keys, bench.column(target, metric)[idx])
            rows.append(dict(program=proxy, cells=len(todo), status=label, target_dataset=target, metric=metric,
                             spearman=rho, kendall=tau))
    tmp = out / "mpi.csv.tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, out / "mpi.csv")
    with open(out / "scores.csv.tmp", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["index", "arch", "score"])
        for c, s in zip(todo, scores):
            w.writerow([c.index, c.to_string(), repr(float(s))])
    os.replace(out / "scores.csv.tmp", out / "scores.csv")
    md = [f"{proxy} ({label}, batch {a.batch_size}, seed {a.seed})", "",
          "| target | metric | rho | tau |", "|---|---|---|---|"]
    md += [f"| {r['target_dataset']} | {r['metric']} | {r['spearman']:.4f} | {r['kendall']:.4f} |" for r in rows]
    (out / "mpi.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    if not all(math.isfinite(r["spearman"]) for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
