"""The references for the GHN-2-style run's rho rows (``ghn2_train.pt.rho.csv``): the same 100 fixed
held-out NB201 cells (``nasearch.predictors.ghn_train.rho_archs(100, nb201)``), ranked by the shipped
GHN-1 model's full-space table, by parameter count and by synflow (shipped full-space tables), against
NB201's 200-epoch CIFAR-10 test accuracy, as the run's rows are.

    NASEARCH_DATA=... .venv/bin/python experiments/ghn/rho_cells_baselines.py   # writes rho_cells_baselines.md
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau, spearmanr

HERE = Path(__file__).resolve().parent
SHIPPED = HERE.parents[1] / "nasearch/embedded/scores"


def table(name: str) -> dict[str, float]:
    with gzip.open(SHIPPED / name, "rt", newline="") as fh:
        return {r["arch"]: (float(r["value"]) if r["value"] else np.nan) for r in csv.DictReader(fh)}


def main() -> None:
    from nasearch.benchmarks import make_benchmark
    from nasearch.predictors.ghn_train import rho_archs
    from nasearch.space import get_space
    from nasearch.space.networks import count_parameters

    sp = get_space("nb201")
    held = rho_archs(100, sp)
    y = make_benchmark("nb201").column("cifar10", "test_acc")[np.array([a.index for a in held])]
    task = sp.networks_for()[0]
    rows = {
        "shipped GHN-1 (step 350, `ghn` proxy table)": np.array([table("ghn-1643b58636b7_cifar10_b64_seed0.csv.gz")[str(a)] for a in held]),
        "parameter count": np.array([float(count_parameters(sp.build_network(a, task))) for a in held]),
        "synflow (shipped table)": np.array([table("synflow_cifar10_b64_seed0.csv.gz")[str(a)] for a in held]),
    }
    lines = ["# References for the GHN-2-style run's rho rows (`rho_cells_baselines.py`)", "",
             "The run's 100 fixed held-out NB201 cells, NB201's 200-epoch CIFAR-10 test accuracy.", "",
             "| score | cells | Spearman rho | Kendall tau |", "|---|---|---|---|"]
    for label, s in rows.items():
        ok = np.isfinite(s)
        lines.append(f"| {label} | {int(ok.sum())} | {spearmanr(s[ok], y[ok]).statistic:.3f} | "
                     f"{kendalltau(s[ok], y[ok]).statistic:.3f} |")
    (HERE / "rho_cells_baselines.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
