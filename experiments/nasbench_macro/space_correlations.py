"""Spearman rho and Kendall tau-b of the benchmark's own `params` and `flops` fields, and of every
full-space proxy score table shipped with nasearch for this space (synflow, GradSign, ZiCo, SWAP; the
shipped FLOPs table is the JSON field's count and is not repeated), against the mean of the
three CIFAR-10 test accuracies, over all 6,561 NAS-Bench-Macro networks, and the best network of the
space (the reference line of the search table).

    NASEARCH_DATA=... python experiments/nasbench_macro/space_correlations.py
writes experiments/nasbench_macro/space_correlations.{md,csv} (the JSON's fields, no network is built; the
same counts as the built networks', see experiments/nasbench_macro_params/).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.stats import kendalltau, spearmanr

from nasearch.benchmarks import make_benchmark

HERE = Path(__file__).parent

bench = make_benchmark("nasbench_macro")
archs = list(bench.space.all_archs())
acc = np.array([bench.query(a, "cifar10").test_acc for a in archs])
lines = [f"All {len(archs):,} networks of NAS-Bench-Macro; target: mean of the three CIFAR-10 test accuracies.", "",
         "| score | Spearman rho | Kendall tau-b |", "|---|---|---|"]
csv_rows = ["proxy,cells,spearman,kendall"]
for name in ("params", "flops"):
    x = np.array([getattr(bench, name)(a) for a in archs], dtype=float)
    rho, tau = spearmanr(x, acc).statistic, kendalltau(x, acc).statistic
    lines.append(f"| {name} | {rho:.3f} | {tau:.3f} |")
    csv_rows.append(f"{name},{len(archs)},{rho:.4f},{tau:.4f}")
from nasearch.scoring import shipped  # noqa: E402

for key in shipped.keys():
    if key.space != "nasbench_macro" or key.proxy in ("params", "flops"):  # the JSON's fields, above
        continue
    cells = shipped.cells_of(key)
    if len(cells) != len(archs):  # full-space tables only
        continue
    x = np.array([cells[a.index][0] for a in archs], dtype=float)
    rho, tau = spearmanr(x, acc).statistic, kendalltau(x, acc).statistic
    name = f"{key.proxy} (batch {key.batch_size}, seed {key.seed})"
    lines.append(f"| {name} | {rho:.3f} | {tau:.3f} |")
    csv_rows.append(f"{key.proxy},{len(archs)},{rho:.4f},{tau:.4f}")
best = int(np.argmax(acc))
lines += ["", f"Best network: {bench.space.to_string(archs[best])} at {acc[best]:.2f}% "
          f"(median of the space {np.median(acc):.2f}%, worst {acc.min():.2f}%)."]
md = "\n".join(lines) + "\n"
(HERE / "space_correlations.md").write_text(md)
(HERE / "space_correlations.csv").write_text("\n".join(csv_rows) + "\n")
print(md)
