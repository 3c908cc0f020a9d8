"""Zen and NASWOT on every connected TransNAS-Bench-101 micro cell, in a seeded random order, resumable.

The full run is 3,927 cells x (about 12 s for Zen + 6 s for NASWOT) on one core at 256 px, more
than one session of this 2-core machine. So the cells are scored in blocks along one fixed random
order (``default_rng(0).permutation`` of the connected cells in index order): whenever the run
stops, the cells done so far are the committed ones plus a prefix of that order, i.e. a uniform
random sample of the space, and the partial table (``--report``) is an honest estimate rather than
the low-index corner that an index-order run would leave.

After every block both score tables are exported (atomically) to ``experiments/transnas101/scores/``;
the next run imports them into its store and goes on. Scores are those of ``task=mpi`` (key: proxy,
version, ``transnas101_micro:class_scene``, images ``none``, batch 64, one batch, seed 0): once all
3,927 are in, the ordinary command in the README's micro section rebuilds ``mpi/`` with all five
proxies from the merged tables, computing nothing.

    python experiments/transnas101/zen_naswot_all.py --store /tmp/zn.sqlite --workers 2 [--hours 2]
    python experiments/transnas101/zen_naswot_all.py --store /tmp/zn.sqlite --report experiments/transnas101/mpi_sample
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np

from nasearch.benchmarks import make_benchmark
from nasearch.executors import make_executor
from nasearch.experiments.mpi import MPI_FIELDS, correlations, sample_cells, scatter
from nasearch.results import write_table, write_text
from nasearch.scoring import rank_key, score_cells, score_key
from nasearch.scoring.store import ScoreStore
from nasearch.scoring.tables import export_scores, import_scores, read_scores

HERE = Path(__file__).resolve().parent
SCORES = HERE / "scores"
SPACE = "transnas101_micro"
TASK = "class_scene"
PROXIES = ("zen", "naswot")
REPORTED = ("params", "synflow", "flops", "zen", "naswot")
log = logging.getLogger("zen_naswot_all")


def table(proxy: str) -> Path:
    return SCORES / f"{proxy}_{SPACE}_{TASK}_seed0.csv.gz"


def key(proxy: str):
    return score_key(proxy, TASK, image_dataset="none", batch_size=64, seed=0, space=SPACE)


def order() -> list:
    pool = sample_cells(3927, 0, space=SPACE)  # every connected cell, in index order
    return [pool[i] for i in np.random.default_rng(0).permutation(len(pool))]


def run(store: ScoreStore, workers: int, block: int, hours: float | None) -> None:
    for p in PROXIES:
        if table(p).is_file():
            log.info("%s: %d new rows from %s", p, import_scores(store, table(p)), table(p).name)
    cells = order()
    deadline = None if hours is None else time.monotonic() + 3600 * hours
    ex = make_executor("local", workers=workers)
    try:
        for start in range(0, len(cells), block):
            chunk = cells[start : start + block]
            have = {p: store.get_many(key(p), chunk) for p in PROXIES}
            if all(len(have[p]) == len(chunk) for p in PROXIES):
                continue
            if deadline is not None and time.monotonic() > deadline:
                log.info("stopping at the time limit before block %d", start // block)
                break
            for p in PROXIES:
                score_cells(chunk, p, TASK, image_dataset="none", batch_size=64, seed=0, store=store,
                            executor=ex, space=SPACE, progress=False, shipped=False)
                export_scores(store, table(p), [key(p)])
            done = {p: len(store.get_many(key(p), cells)) for p in PROXIES}
            log.info("block %d (cells %d-%d of the order) done; in the tables: %s", start // block, start,
                     start + len(chunk) - 1, ", ".join(f"{p} {n}" for p, n in done.items()))
    finally:
        ex.close()


def report(out: Path) -> None:
    """rho / tau of every data-free proxy on a uniform sample of cells that have Zen and NASWOT:
    ``mpi.csv`` (``task=mpi``'s columns), ``mpi.md`` and ``scatter_{zen,naswot}.png`` in ``out``."""
    values: dict[str, dict[int, tuple[float, float]]] = {}
    for p in REPORTED:
        groups = read_scores(table(p))
        rows = next(v for k, v in groups.items() if k.dataset == TASK and k.space == SPACE)
        values[p] = {a.index: (v, s) for a, v, s in rows}
    # the committed 200-cell sample (default_rng(0), as task=mpi mpi.cells=200) and the longest prefix
    # of the order that both proxies cover: two independent uniform samples, so their union is a
    # uniform sample of its size. Other rows (14 low-index cells of an early index-order run, a block
    # stopped halfway) are left out: they would bias the estimate.
    both = set(values["zen"]) & set(values["naswot"])
    prefix = 0
    for a in order():
        if a.index not in both:
            break
        prefix += 1
    chosen = {a.index for a in sample_cells(200, 0, space=SPACE)} | {a.index for a in order()[:prefix]}
    missing = chosen - both
    if missing:
        raise SystemExit(f"the committed tables lack Zen or NASWOT for {len(missing)} of the 200 sampled cells")
    common = sorted(chosen)
    bench = make_benchmark(SPACE)
    idx = np.array(common)
    out.mkdir(parents=True, exist_ok=True)
    head = (f"Spearman rho / Kendall tau against each task's final-epoch validation metric, on {len(common)} of "
            f"the 3,927 connected cells: the 200 of `mpi_sample200/` and the first {prefix} of the seeded order "
            "of `zen_naswot_all.py` (a uniform random sample); every proxy on the same cells. s/cell: the "
            "mean compute per cell recorded in the score tables.")
    lines = [head, "", "| proxy | " + " | ".join(bench.datasets) + " | s/cell |",
             "|---|" + "---|" * (len(bench.datasets) + 1)]
    csv_rows = []
    for p in REPORTED:
        keys = rank_key(p, np.array([values[p][i][0] for i in common]))
        secs = np.array([values[p][i][1] for i in common])
        spc = float(np.nanmean(secs)) if np.isfinite(secs).any() else float("nan")
        cells = []
        for target in bench.datasets:
            rho, tau = correlations(keys, bench.column(target, "valid_acc")[idx])
            cells.append(f"{rho:.3f} / {tau:.3f}")
            for metric in ("test_acc", "valid_acc"):  # one metric in the export: both rows alike, as task=mpi
                csv_rows.append({"proxy": p, "network_dataset": TASK, "image_dataset": "none",
                                 "target_dataset": target, "metric": f"{metric}_{bench.fidelities[-1]}",
                                 "cells": len(common), "spearman": round(rho, 4), "kendall": round(tau, 4),
                                 "seconds_per_cell": round(spc, 4)})
        lines.append(f"| {p} | " + " | ".join(cells) + f" | {spc:.2f} |")
        if p in PROXIES:
            rho0, _ = correlations(keys, bench.column(TASK, "valid_acc")[idx])
            scatter(keys, bench.column(TASK, "valid_acc")[idx], out / f"scatter_{p}.png", proxy=p,
                    label=f"{TASK} validation top-1 (final epoch)", rho=rho0)
    write_table(out / "mpi.csv", csv_rows, MPI_FIELDS)
    write_text(out / "mpi.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", help="SQLite score store (created if missing)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--block", type=int, default=40, help="cells per block (tables exported after each)")
    ap.add_argument("--hours", type=float, default=None, help="start no new block after this many hours")
    ap.add_argument("--report", type=Path, help="write the partial table (mpi.md) into this folder instead")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(message)s")
    if args.report:
        report(args.report)
        return 0
    if not args.store:
        ap.error("--store is required to score (or give --report DIR)")
    store = ScoreStore(args.store)
    try:
        run(store, args.workers, args.block, args.hours)
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
