"""The TransNAS-Bench-101 search table: per (space, task), each strategy's mean +- std of the
incumbent's value on the task it searched, beside the best value of that task in the benchmark
(the reference line) and the space's median. Built from `sweep/collected.csv` and `sweep_bohb500/collected.csv`
(written by the nasearch sweeps) and the embedded benchmark table.

Every value is the benchmark's final-epoch VALIDATION metric (the only one in the export): the
searches pick and report by the same figure.

    python experiments/transnas101/tables.py     writes experiments/transnas101/table.md
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from nasearch.benchmarks import make_benchmark
from nasearch.space.transnas101 import TASKS

HERE = Path(__file__).parent
ORDER = ("rs", "rea", "reinforce", "bohb")
METRIC = {"class_scene": "top-1 %", "class_object": "top-1 %", "jigsaw": "top-1 %",
          "segmentsemantic": "pixel acc %", "room_layout": "neg. L2 loss", "normal": "SSIM",
          "autoencoder": "SSIM"}

rows = [r for sweep in ("sweep", "sweep_bohb500") if (HERE / sweep / "collected.csv").exists()
        for r in csv.DictReader(open(HERE / sweep / "collected.csv"))]
cell = {(r["benchmark"], r["dataset"], r["strategy"]): r for r in rows if r["proxy"] == "none"}
lines = ["| space | task (metric) | " + " | ".join(f"{s.upper()} (runs)" for s in ORDER)
         + " | best in benchmark | median of space |", "|" + "---|" * (len(ORDER) + 4)]
for space in ("transnas101_micro", "transnas101_macro"):
    bench = make_benchmark(space)
    archs = list(bench.space.all_archs())
    for task in TASKS:
        vals = np.array([bench.query(a, task).valid_acc for a in archs])
        fmt = (lambda v: f"{v:.3f}") if abs(np.median(vals)) < 2 else (lambda v: f"{v:.2f}")
        cells = []
        for s in ORDER:
            r = cell.get((space, task, s))
            cells.append("not run" if r is None else
                         f"{fmt(float(r[f'mean_{task}']))} +- {fmt(float(r[f'std_{task}']))} ({r['runs']})")
        lines.append(f"| {space.removeprefix('transnas101_')} | {task} ({METRIC[task]}) | " + " | ".join(cells)
                     + f" | {fmt(vals.max())} | {fmt(float(np.median(vals)))} |")
md = "\n".join(lines) + "\n"
(HERE / "table.md").write_text(md)
print(md)
