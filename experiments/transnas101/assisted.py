"""The proxy-assisted arm of the TransNAS-Bench-101 study: REA + params (N = 10) on the micro space's
class_scene task, paired run by run with vanilla REA of ``sweep/`` (same seeds), Wilcoxon signed-rank.

    python experiments/transnas101/assisted.py      writes experiments/transnas101/assisted.md and assisted_rea.png

Everything is read from the committed ``runs.csv`` / ``curves.csv`` of the two jobs; nothing is
searched here (the commands are in README.md).
"""

from __future__ import annotations

from pathlib import Path

from nasearch.results import (
    arm_key,
    find_job_dirs,
    markdown_table,
    plot_curves,
    read_curves,
    read_run_rows,
    summarize,
)

HERE = Path(__file__).parent
BENCH, TASK, STRATEGY = "transnas101_micro", "class_scene", "rea"

rows, curves = [], {}
for job in find_job_dirs(HERE / "sweep") + find_job_dirs(HERE / "assisted"):
    jr = [r for r in read_run_rows(job / "runs.csv")
          if r["benchmark"] == BENCH and r["dataset"] == TASK and r["strategy"] == STRATEGY]
    if jr:
        rows += jr
        c = read_curves(job)
        if c is not None:
            curves.setdefault(arm_key(jr[0]), c)
summaries = summarize(rows)
md = markdown_table(summaries)
(HERE / "assisted.md").write_text(md)
plot_curves({s.label: curves[tuple(s.factors[f] for f in s.factors)] for s in summaries
             if tuple(s.factors[f] for f in s.factors) in curves},
            HERE / "assisted_rea.png", xlabel="queries", title=f"{STRATEGY} on {BENCH}/{TASK}")
print(md)
