"""Cross-space table: rows = proxies, columns = (space, task), cells = Spearman rho against the
benchmark's target, from the committed CSVs of the correlation studies (no computation here).

    python experiments/cross_space/build.py      writes experiments/cross_space/table.md

Sources:
* NB201 / CIFAR-10: experiments/mpi_cifar10/run/mpi.csv (1,000 connected cells, 200-epoch test acc).
* NAS-Bench-Macro / CIFAR-10, 1,000 networks: experiments/nasbench_macro/mpi/mpi.csv (mean of the
  three test accuracies); a proxy absent there is "not computed". EZNAS (its protocol's batch 16,
  so its own run): experiments/nasbench_macro/mpi_eznas/mpi.csv, same 1,000 networks.
* EZNAS on NB201: the published program on 600 of the 1,000 cells,
  experiments/eznas/published_mpi1000_partial/mpi.csv (marked "600 cells" in the table).
* NAS-Bench-Macro / CIFAR-10, all 6,561: experiments/nasbench_macro/space_correlations.csv (the
  benchmark's own params/FLOPs fields).
* NAS-Bench-Macro / CIFAR-10, all 6,561: experiments/nasbench_macro/space_correlations.csv also
  holds the full-space tables shipped with nasearch (synflow, GradSign, ZiCo).
* TransNAS-Bench-101 micro, class_scene / class_object: experiments/transnas101/mpi/mpi.csv (every
  connected cell; the class_scene network's scores against each task's final-epoch validation
  top-1, the only metric of the export). Micro encoders all end in the same width, so a class_object
  network's params/FLOPs differ from the class_scene network's by a constant: same ranks.
* TransNAS-Bench-101 macro: not computed (CPU).
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


def read_eznas_nb201(path: Path) -> dict[str, tuple[float, int]]:
    for r in csv.DictReader(open(path)) if path.exists() else []:
        if r["target_dataset"] == "cifar10" and r["metric"] == "test_acc":
            return {"eznas": (float(r["spearman"]), int(r["cells"]))}
    return {}


columns = [
    ("NB201 / CIFAR-10 (1,000 cells)",
     read(ROOT / "mpi_cifar10/run/mpi.csv", network_dataset="cifar10", target_dataset="cifar10")
     | read_eznas_nb201(ROOT / "eznas/published_mpi1000_partial/mpi.csv")),
    ("NAS-Bench-Macro / CIFAR-10 (1,000 networks)",
     read(ROOT / "nasbench_macro/mpi/mpi.csv", network_dataset="cifar10", target_dataset="cifar10")
     | read(ROOT / "nasbench_macro/mpi_eznas/mpi.csv", network_dataset="cifar10", target_dataset="cifar10")),
    ("NAS-Bench-Macro / CIFAR-10 (all 6,561)", read(ROOT / "nasbench_macro/space_correlations.csv")),
    ("TransNAS-Bench-101 micro / class_scene (all connected cells)",
     read(ROOT / "transnas101/mpi/mpi.csv", network_dataset="class_scene", target_dataset="class_scene")),
    ("TransNAS-Bench-101 micro / class_object (all connected cells)",
     read(ROOT / "transnas101/mpi/mpi.csv", network_dataset="class_scene", target_dataset="class_object")),
    ("TransNAS-Bench-101 macro / 7 tasks", {}),
]
proxies = list(dict.fromkeys(p for _, col in columns for p in col))
lines = ["| proxy | " + " | ".join(name for name, _ in columns) + " |", "|" + "---|" * (len(columns) + 1)]
for p in proxies:
    cells = []
    for name, col in columns:
        if p in col:
            note = f" ({col[p][1]} cells)" if name.startswith("NB201") and col[p][1] != 1000 else ""
            cells.append(f"{col[p][0]:.3f}{note}")
        else:
            cells.append("not computed (CPU)" if name.startswith("TransNAS") else "not computed")
    lines.append(f"| {p} | " + " | ".join(cells) + " |")
md = "\n".join(lines) + "\n"
(HERE / "table.md").write_text(md)
print(md)
