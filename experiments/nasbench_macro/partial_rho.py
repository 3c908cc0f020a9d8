"""Spearman rho / Kendall tau-b of an exported score table (`nasearch scores export` format) against
NAS-Bench-Macro's mean test accuracy, over the networks the table holds. For a proxy whose `task=mpi`
run was stopped before its 1,000 networks: the figure is labelled with the count it covers.

    python experiments/nasbench_macro/partial_rho.py experiments/nasbench_macro/scores/naswot_*.csv.gz
"""

from __future__ import annotations

import csv
import gzip
import sys

import numpy as np
from scipy.stats import kendalltau, spearmanr

from nasearch.benchmarks import make_benchmark

bench = make_benchmark("nasbench_macro")
for path in sys.argv[1:]:
    with gzip.open(path, "rt") as fh:
        rows = [r for r in csv.DictReader(fh) if r["value"] != ""]
    score = np.array([float(r["value"]) for r in rows])
    acc = np.array([bench.query(bench.space.from_index(int(r["index"])), "cifar10").test_acc for r in rows])
    print(f"{rows[0]['proxy']}: {len(rows)} networks, Spearman rho {spearmanr(score, acc).statistic:.3f}, "
          f"Kendall tau-b {kendalltau(score, acc).statistic:.3f}, "
          f"mean {np.mean([float(r['seconds']) for r in rows]):.2f} s/network")
