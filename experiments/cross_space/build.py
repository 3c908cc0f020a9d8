"""Cross-space table: rows = proxies, columns = (space, task), cells = Spearman rho against the
benchmark's target, from the committed CSVs of the correlation studies (no computation here).

    python experiments/cross_space/build.py      writes experiments/cross_space/table.md

Sources:
* NB201 / CIFAR-10: experiments/mpi_cifar10/run/mpi.csv (1,000 connected cells, 200-epoch test acc).
* NAS-Bench-Macro / CIFAR-10, 1,000 networks: experiments/nasbench_macro/mpi/mpi.csv (mean of the
  three test accuracies); a proxy absent there is "not computed". EZNAS (its protocol's batch 16,
  so its own run): experiments/nasbench_macro/mpi_eznas/mpi.csv, same 1,000 networks.
* GHN: on NB201 the shipped GHN (trained on NB201 cells), experiments/ghn/mpi.csv (the same 1,000
  cells); on NAS-Bench-Macro a GHN trained on that space's networks (experiments/nasbench_macro/ghn/),
  experiments/nasbench_macro/mpi_ghn/mpi.csv. ghn_loss is ranked by the negated loss.
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
  Zen and NASWOT (data-free: standard-normal images at 256 px) are in the same file, over the same
  3,927 cells (experiments/transnas101/zen_naswot_all.py scored them on CPU, resumably).
* TransNAS-Bench-101 macro / class_scene: experiments/transnas101/mpi_macro/mpi.csv (params and FLOPs
  of the class_scene network of every skeleton; the other proxies not computed).
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


def read_ghn_nb201(path: Path) -> dict[str, tuple[float, int]]:
    """experiments/ghn/mpi.csv (its own layout): the shipped NB201 GHN's ghn and ghn_loss rows."""
    names = {"ghn": "ghn", "ghn_loss (negated)": "ghn_loss"}
    return {names[r["proxy"]]: (float(r["cifar10_rho"]), int(r["cells"]))
            for r in (csv.DictReader(open(path)) if path.exists() else []) if r["proxy"] in names}


columns = [
    ("NB201 / CIFAR-10 (1,000 cells)",
     read(ROOT / "mpi_cifar10/run/mpi.csv", network_dataset="cifar10", target_dataset="cifar10")
     | read_eznas_nb201(ROOT / "eznas/published_mpi1000_partial/mpi.csv")
     | read_ghn_nb201(ROOT / "ghn/mpi.csv")),
    ("NAS-Bench-Macro / CIFAR-10 (1,000 networks)",
     read(ROOT / "nasbench_macro/mpi/mpi.csv", network_dataset="cifar10", target_dataset="cifar10")
     | read(ROOT / "nasbench_macro/mpi_eznas/mpi.csv", network_dataset="cifar10", target_dataset="cifar10")
     | read(ROOT / "nasbench_macro/mpi_ghn/mpi.csv", network_dataset="cifar10", target_dataset="cifar10")),
    ("NAS-Bench-Macro / CIFAR-10 (all 6,561)", read(ROOT / "nasbench_macro/space_correlations.csv")),
    ("TransNAS-Bench-101 micro / class_scene (all connected cells)",
     read(ROOT / "transnas101/mpi/mpi.csv", network_dataset="class_scene", target_dataset="class_scene")),
    ("TransNAS-Bench-101 micro / class_object (all connected cells)",
     read(ROOT / "transnas101/mpi/mpi.csv", network_dataset="class_scene", target_dataset="class_object")),
    ("TransNAS-Bench-101 macro / class_scene (all 3,256 skeletons)",
     read(ROOT / "transnas101/mpi_macro/mpi.csv", network_dataset="class_scene", target_dataset="class_scene")),
]
# the network count each column is named for: a cell computed on fewer networks says how many
NOMINAL = {"NB201": 1000, "NAS-Bench-Macro / CIFAR-10 (1,000": 1000, "NAS-Bench-Macro / CIFAR-10 (all": 6561,
           "TransNAS-Bench-101 micro": 3927, "TransNAS-Bench-101 macro": 3256}
proxies = list(dict.fromkeys(p for _, col in columns for p in col))
lines = ["| proxy | " + " | ".join(name for name, _ in columns) + " |", "|" + "---|" * (len(columns) + 1)]
for p in proxies:
    cells = []
    for name, col in columns:
        if p in col:
            nominal = next((n for prefix, n in NOMINAL.items() if name.startswith(prefix)), None)
            note = f" ({col[p][1]} cells)" if nominal is not None and col[p][1] != nominal else ""
            cells.append(f"{col[p][0]:.3f}{note}")
        else:
            if name.startswith("TransNAS") and p.startswith("ghn"):
                cells.append("no GHN trained (task=train_ghn: CIFAR-10 networks only)")
            else:
                cells.append("not computed (CPU)" if name.startswith("TransNAS") else "not computed")
    lines.append(f"| {p} | " + " | ".join(cells) + " |")
md = "\n".join(lines) + "\n"
(HERE / "table.md").write_text(md)
print(md)
