"""``task=score``: a score table of one proxy for the whole space or a seeded sample of it.

Scores go to the score store (``proxy.store``, default ``$NASEARCH_CACHE/scores.sqlite`` or
``~/.cache/nasearch/scores.sqlite``), so search jobs and correlation studies with the same setting
reuse them, and an interrupted table resumes; the table itself is written to ``scores_<proxy>.csv``
in the job directory.

``executor=ray`` scores in Ray tasks (``executor.address=auto`` on a cluster), ``device=cuda`` on a
GPU. ``score.shard=i score.shards=n`` scores only the cells whose nasearch ordinal (``arch.index``,
not the official index of the table's ``index`` column) mod n is i (the table is then
``scores_<proxy>_shard<i>of<n>.csv``): a SLURM array of n jobs, each with its own
``proxy.store=.../shard_i.sqlite``, plus one ``nasearch scores merge shard_*.sqlite --into C`` builds a
full-space table without sharing a SQLite file over a network file system.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nasearch.config import Config, ConfigError, _bad
from nasearch.results import write_text
from nasearch.tasks import TaskPlan, register_task


@dataclass
class ScoreConf:
    """Build a score table for the whole space or a seeded sample of it."""

    sample: int | None = None
    shard: int = 0
    """This job's part of the cells (nasearch index mod score.shards == score.shard)."""
    shards: int = 1
    """Number of parts (jobs) the cells are split into; each job writes its own proxy.store."""

    def check(self, space: Any = None) -> None:
        if self.sample is not None and self.sample < 1:
            raise _bad("score.sample", self.sample, "an integer >= 1, or null for every cell of the space")
        if self.shards < 1:
            raise _bad("score.shards", self.shards, "an integer >= 1 (number of jobs the cells are split into)")
        if not 0 <= self.shard < self.shards:
            raise _bad("score.shard", self.shard, f"an integer in 0..score.shards-1 = 0..{self.shards - 1}")



def prepare_score(cfg: Config) -> dict:
    """The checks of a ``task=score`` job that can fail, before it writes anything (a proxy is named;
    its scores are stored or its images are there); returns the values its settings record adds."""
    from nasearch.benchmarks import benchmark_space
    from nasearch.experiments.scorer import require_scores_or_images
    from nasearch.scoring import table_cells

    if cfg.proxy.name == "none":
        raise ConfigError("task=score needs a proxy: set proxy=NAME (see `nasearch proxies`)")
    from nasearch.proxies import get_proxy

    members = get_proxy(cfg.proxy.ref).members
    if members:
        raise ConfigError(
            f"task=score builds one proxy's table into the score store, and proxy={cfg.proxy.name} is an ensemble, "
            f"combined from its members' scores when it is read: build each member's table instead "
            f"({', '.join(_member_args(m) for m in members)}); task=mpi and searches then combine them"
        )
    space = benchmark_space(cfg.benchmark.name, where="config key benchmark.name")
    cells = table_cells(space, cfg.score.sample, cfg.proxy.seed, cfg.score.shard, cfg.score.shards)
    version = require_scores_or_images(cfg.proxy.ref, cfg.dataset.name, cells, cfg, space,
                                       where=f"task=score proxy={cfg.proxy.name}", shipped=False)
    return {"benchmark.name": space.name, "proxy.version": version}


def score_task(cfg: Config, out_dir: Path) -> str:
    from nasearch.benchmarks import benchmark_space
    from nasearch.executors import executor_options
    from nasearch.experiments.scorer import scoring_settings
    from nasearch.experiments.scorer import workers as scoring_workers
    from nasearch.scoring import build_score_table
    from nasearch.scoring.store import default_store_path

    if cfg.proxy.name == "none":
        raise ConfigError("task=score needs a proxy: set proxy=NAME (see `nasearch proxies`)")
    store = cfg.proxy.store or str(default_store_path())
    shards = cfg.score.shards
    tag = f"_shard{cfg.score.shard}of{shards}" if shards > 1 else ""
    out = out_dir / f"scores_{cfg.proxy.name}{tag}.csv"
    space = benchmark_space(cfg.benchmark.name, where="config key benchmark.name")
    settings = scoring_settings(cfg, space, workers=scoring_workers(cfg), executor=cfg.executor.name,
                                executor_options=executor_options(cfg))
    build_score_table(settings, store_path=store, out_csv=out, sample=cfg.score.sample, shard=cfg.score.shard,
                      shards=shards)
    n = sum(1 for _ in open(out)) - 1
    return f"{n} {cfg.proxy.name} scores written to {out} (store {store})\n"


@register_task
class ScoreTask:
    """A score table of a proxy over the whole space or a seeded sample of it."""

    name = "score"
    section = "score"
    conf = ScoreConf
    keys = ("task", "benchmark", "dataset", "proxy", "score")
    not_results: tuple[str, ...] = ()

    def prepare(self, cfg: Any) -> TaskPlan:
        from nasearch.runfolder import fingerprint

        return TaskPlan("score", fingerprint(cfg, prepare_score(cfg)))

    def run(self, cfg: Any, out_dir: Path, plan: TaskPlan) -> str:
        table = score_task(cfg, Path(out_dir))
        write_text(Path(out_dir) / "summary.md", table)  # the task writes no table of its own
        return table


def _member_args(member: str) -> str:
    """The arguments that build an ensemble member's table (``NAME@bN``: at batch size N)."""
    from nasearch.proxies.ensembles import split_member

    name, batch = split_member(member)
    return f"proxy={name}" + ("" if batch is None else f" proxy.batch_size={batch}")
