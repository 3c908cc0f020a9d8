"""Does the shipped GHN-2-style model (`ghn2`) add to the best label-free ensemble? One pre-declared check,
not a search: the ensemble chosen on half of the 1,000-cell sample before any full-space figure was seen
(``../frontier/ensembles_1000.md``, label-free #1, log-rank sum), with and without `ghn2` as a sixth member,
over all 15,284 connected NB201 cells, from the shipped tables (no score is computed).

    NASEARCH_DATA=/path python experiments/ghn/ghn2_in_ensemble.py     # writes ghn2_in_ensemble.md

Caveat written into the output: `ghn2`'s checkpoint was picked by its rank correlation on 100 labelled
NB201 cells (the run's rho rows), so an ensemble holding it has used those 100 labels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nasearch.benchmarks import make_benchmark
from nasearch.experiments.mpi import correlations
from nasearch.scoring import rank_key, score_key, shipped
from nasearch.scoring.ensemble import combine

HERE = Path(__file__).resolve().parent
BASE = ("az_expressivity", "az_trainability", "meco", "reg_swap", "synflow")


def main() -> None:
    bench = make_benchmark("nb201")
    space = bench.space
    idx = np.array([a.index for a in space.all_archs() if not space.is_trivial(a)])
    keys = {}
    for p in (*BASE, "ghn2"):
        table = shipped.cells_of(score_key(p, "cifar10", space="nb201"))
        keys[p] = rank_key(p, np.array([table[i][0] for i in idx]))
    rows = ["| ensemble (log-rank sum) | " + " | ".join(bench.datasets) + " |", "|---" * (1 + len(bench.datasets)) + "|"]
    for label, members in (("label-free #1", BASE), ("label-free #1 + ghn2", (*BASE, "ghn2")), ("ghn2 alone", ("ghn2",))):
        k = combine(np.column_stack([keys[m] for m in members]), "logrank")
        cells = ["{:.3f} / {:.3f}".format(*correlations(k, bench.column(d, "test_acc")[idx])) for d in bench.datasets]
        rows.append(f"| {label}: {' + '.join(members)} | " + " | ".join(cells) + " |")
    text = "\n".join([
        f"# `ghn2` as a member of the label-free ensemble ({len(idx):,} connected NB201 cells)", "",
        "Spearman rho / Kendall tau-b against each dataset's 200-epoch test accuracy; scores from the shipped tables.",
        "", *rows, "",
        "`ghn2`'s checkpoint was picked by its rho on 100 labelled NB201 cells (the GHN-2-style run's rho rows),",
        "so the ensemble holding it has used those 100 labels; the five others are label-free.", ""])
    (HERE / "ghn2_in_ensemble.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
