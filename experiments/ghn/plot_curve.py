"""Plot a GHN training curve: <dir>/ghn_train.pt.csv -> <dir>/curve.png (default dir: experiments/ghn).

    python experiments/ghn/plot_curve.py [path/to/ghn_train.pt.csv]
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

here = Path(__file__).parent
src = Path(sys.argv[1]) if len(sys.argv) > 1 else here / "ghn_train.pt.csv"
rows = list(csv.DictReader(open(src)))
step = [int(r["step"]) for r in rows]
fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
ax[0].plot(step, [float(r["train_loss"]) for r in rows], label="train (mean since last checkpoint)")
ax[0].plot(step, [float(r["eval_loss"]) for r in rows], label="held-out, fixed architectures")
ax[0].axhline(2.302585, color="grey", ls=":", lw=1, label="chance (ln 10)")
ax[0].set_xlabel("step (one random architecture, 32 images)")
ax[0].set_ylabel("cross-entropy")
ax[0].legend(fontsize=8)
ax[1].plot(step, [float(r["eval_acc"]) for r in rows], color="C2")
ax[1].axhline(10, color="grey", ls=":", lw=1)
ax[1].set_xlabel("step")
ax[1].set_ylabel("held-out accuracy of generated weights (%)")
fig.suptitle(f"GHN training on CIFAR-10 ({step[-1] if step else 0} steps; {src.parent.parent.name}/{src.parent.name})")
fig.tight_layout()
fig.savefig(src.parent / "curve.png", dpi=110)
print(f"wrote {src.parent / 'curve.png'} ({len(rows)} checkpoints, last step {step[-1] if step else 0})")
