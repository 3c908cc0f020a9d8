"""Plot the GHN-2-style run's rho rows: ghn2_train.pt.rho.csv -> ghn2_rho.png, with the references on the same
100 held-out cells read from rho_cells_baselines.md (parameter count, synflow, the shipped GHN-1).

    python experiments/ghn/plot_rho.py
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

here = Path(__file__).parent
rows = list(csv.DictReader(open(here / "ghn2_train.pt.rho.csv")))
step = [int(r["step"]) for r in rows]
rho = [float(r["rho"]) for r in rows]
tau = [float(r["tau"]) for r in rows]
acc = [float(r["mean_acc"]) for r in rows]

refs = {}
for line in (here / "rho_cells_baselines.md").read_text().splitlines():
    m = re.match(r"\| (.+?) \| 100 \| (-?[0-9.]+) \| (-?[0-9.]+) \|", line)
    if m:
        refs[m.group(1)] = float(m.group(2))

fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 3.8), dpi=110)
ax.plot(step, rho, marker="o", ms=3, label="GHN-2-style run: Spearman rho")
ax.plot(step, tau, marker="o", ms=3, alpha=0.6, label="Kendall tau")
for i, (name, v) in enumerate(refs.items()):
    ax.axhline(v, ls="--", lw=1, color=f"C{i + 2}", label=f"{name}: rho {v:.3f}")
best = max(range(len(rho)), key=lambda i: rho[i])
ax.annotate(f"best row: step {step[best]:,}, rho {rho[best]:.3f}", (step[best], rho[best]),
            xytext=(-40, 10), textcoords="offset points", fontsize=8)
ax.set_xlabel("training step")
ax.set_ylabel("rank correlation (100 held-out cells)")
ax.set_ylim(top=0.95)
ax.set_title("Ranking (CIFAR-10 test accuracy)", fontsize=10)
ax.legend(fontsize=7, loc="lower right")
ax.grid(alpha=0.3)
ax2.plot(step, acc, marker="o", ms=3, color="C1")
ax2.set_xlabel("training step")
ax2.set_ylabel("mean held-out accuracy (%)")
ax2.set_title("Generated networks' accuracy, same 100 cells", fontsize=10)
ax2.grid(alpha=0.3)
fig.tight_layout()
fig.savefig(here / "ghn2_rho.png")
print(here / "ghn2_rho.png")
