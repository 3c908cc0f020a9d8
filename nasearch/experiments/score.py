"""``task=score``: a score table of one proxy for the whole space or a seeded sample of it.

Scores go to the score store (``proxy.store``, default ``$NASEARCH_CACHE/scores.sqlite`` or
``~/.cache/nasearch/scores.sqlite``), so search jobs and correlation studies with the same setting
reuse them, and an interrupted table resumes; the table itself is written to ``scores_<proxy>.csv``
in the job directory.
"""

from __future__ import annotations

import os
from pathlib import Path

from nasearch.config import Config, ConfigError


def score_task(cfg: Config, out_dir: Path) -> str:
    from nasearch.experiments.scorer import default_store_path
    from nasearch.proxies.scoring import build_score_table

    if cfg.proxy.name == "none":
        raise ConfigError("task=score needs a proxy: set proxy=NAME (see `nasearch proxies`)")
    store = cfg.proxy.store or str(default_store_path())
    out = out_dir / f"scores_{cfg.proxy.name}.csv"
    build_score_table(
        cfg.proxy.ref,
        cfg.dataset.name,
        sample=cfg.score.sample,
        seed=cfg.proxy.seed,
        batch_size=cfg.proxy.batch_size,
        num_batches=cfg.proxy.num_batches,
        workers=cfg.workers or min(os.cpu_count() or 1, 8),
        store_path=store,
        out_csv=out,
        image_dataset=cfg.proxy.image_dataset,
        progress=cfg.progress,
    )
    n = sum(1 for _ in open(out)) - 1
    return f"{n} {cfg.proxy.name} scores written to {out} (store {store})\n"
