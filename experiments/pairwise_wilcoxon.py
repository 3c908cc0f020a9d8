"""Paired Wilcoxon signed-rank tests between the vanilla strategies of a sweep, per (benchmark, dataset).

`nasearch collect` pairs each proxy-assisted arm with its vanilla arm only; this adds the
strategy-vs-strategy comparison. Runs are paired by run index (run i of every arm uses the seed
`SeedSequence(seed).spawn(runs)[i]`, so an arm of 100 runs pairs with the first 100 of an arm of 500).
The value tested is the incumbent's `test_<dataset>` column (for TransNAS-Bench-101 that is the
validation metric: the only one in its export).

    python experiments/pairwise_wilcoxon.py experiments/nasbench_macro/sweep
writes <sweep>/pairwise.md and prints it.
"""

from __future__ import annotations

import itertools
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy.stats import wilcoxon

from nasearch.results import find_job_dirs, read_run_rows

ORDER = ("rs", "rea", "reinforce", "bohb")


def pairwise(root: Path) -> str:
    arms: dict[tuple[str, str], dict[str, dict[str, float]]] = defaultdict(dict)
    for job in find_job_dirs(root):
        for r in read_run_rows(job / "runs.csv"):
            if r["proxy"] != "none":
                continue
            v = r.get(f"test_{r['dataset']}", "")
            if v != "":
                arms[(r["benchmark"], r["dataset"])].setdefault(r["strategy"], {})[r["run"]] = float(v)
    lines = ["| search on | pair (A - B) | paired runs | mean diff | A better / worse / tied | p |",
             "|---|---|---|---|---|---|"]
    for (bench, ds), by in sorted(arms.items()):
        names = sorted(by, key=lambda s: ORDER.index(s) if s in ORDER else len(ORDER))
        for a, b in itertools.combinations(names, 2):
            common = sorted(set(by[a]) & set(by[b]), key=int)
            x = np.array([by[a][i] for i in common])
            y = np.array([by[b][i] for i in common])
            d = x - y
            p = 1.0 if np.all(d == 0) else float(wilcoxon(x, y, zero_method="wilcox").pvalue)
            lines.append(f"| {bench}/{ds} | {a} - {b} | {len(common)} | {d.mean():+.4f} | "
                         f"{(d > 0).sum()} / {(d < 0).sum()} / {(d == 0).sum()} | {p:.3g} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    root = Path(sys.argv[1])
    md = pairwise(root)
    (root / "pairwise.md").write_text(md)
    print(md)
