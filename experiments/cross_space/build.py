"""Cross-space table: rows = proxies, columns = (space, task), cells = Spearman rho against the
benchmark's target, from the committed CSVs of the correlation studies (no computation here).

    python experiments/cross_space/build.py      writes experiments/cross_space/table.md

Sources:
* NB201 / CIFAR-10: experiments/mpi_cifar10/run/mpi.csv (1,000 connected cells, 200-epoch test acc).
* NAS-Bench-Macro / CIFAR-10, 1,000 networks: experiments/nasbench_macro/mpi/mpi.csv (mean of the
  three test accuracies); a proxy absent there is "not computed".
* NAS-Bench-Macro / CIFAR-10, all 6,561: experiments/nasbench_macro/space_correlations.csv (the
  benchmark's own params/FLOPs fields).
* TransNAS-Bench-101 (micro and macro, every task): not computed (too slow on this CPU).
"""

from __future__ import annotations

import csv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).parent


def read(path: Path, **match: str) -> dict[str, tuple[float, int]]:
    if not path.exists():
        return {}
    out = {}
    for r in csv.DictReader(open(path)):
        if all(r.get(k) == v for k, v in match.items()) and r.get("metric", "test").startswith("test"):
            out.setdefault(r["proxy"], (float(r["spearman"]), int(r["cells"])))
    return out


columns = [
    ("NB201 / CIFAR-10 (1,000 cells)",
     read(ROOT / "mpi_cifar10/run/mpi.csv", network_dataset="cifar10", target_dataset="cifar10")),
    ("NAS-Bench-Macro / CIFAR-10 (1,000 networks)",
     read(ROOT / "nasbench_macro/mpi/mpi.csv", network_dataset="cifar10", target_dataset="cifar10")),
    ("NAS-Bench-Macro / CIFAR-10 (all 6,561)", read(ROOT / "nasbench_macro/space_correlations.csv")),
    ("TransNAS-Bench-101 micro / 7 tasks", {}),
    ("TransNAS-Bench-101 macro / 7 tasks", {}),
]
proxies = list(dict.fromkeys(p for _, col in columns for p in col))
lines = ["| proxy | " + " | ".join(name for name, _ in columns) + " |", "|" + "---|" * (len(columns) + 1)]
for p in proxies:
    cells = []
    for name, col in columns:
        if name.startswith("TransNAS"):
            cells.append("not computed (CPU)")
        elif p in col:
            cells.append(f"{col[p][0]:.3f}")
        else:
            cells.append("not computed")
    lines.append(f"| {p} | " + " | ".join(cells) + " |")
md = "\n".join(lines) + "\n"
(HERE / "table.md").write_text(md)
print(md)
