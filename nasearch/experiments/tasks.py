"""The built-in tasks (``task=search|mpi|score|train_ghn|evolve``), registered in :mod:`nasearch.tasks`.

Each is a small object whose ``prepare`` and ``run`` import the module doing the work when called, so
listing the tasks (``nasearch --help``, config validation) imports nothing heavy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nasearch.tasks import TaskPlan, register_task


def _summary(out: Path, table: str) -> str:
    """Tasks that write no table of their own leave their markdown table in ``summary.md``."""
    from nasearch.results import write_text

    write_text(out / "summary.md", table)
    return table


@register_task
class SearchTask:
    """Many seeded runs of one strategy (with or without a proxy pre-filter) on a benchmark."""

    name = "search"

    def prepare(self, cfg: Any) -> TaskPlan:
        from nasearch.experiments.search import prepare_search

        plan = prepare_search(cfg)
        return TaskPlan("search", plan.fingerprint, plan.legacy_differences, plan)

    def run(self, cfg: Any, out_dir: Path, plan: TaskPlan) -> str:
        from nasearch.experiments.search import search_task

        return search_task(cfg, Path(out_dir), plan.state)


@register_task
class MPITask:
    """Rank correlations of proxies with trained accuracy."""

    name = "mpi"

    def prepare(self, cfg: Any) -> TaskPlan:
        from nasearch.experiments.mpi import prepare_mpi
        from nasearch.runfolder import fingerprint

        return TaskPlan("mpi", fingerprint(cfg, prepare_mpi(cfg)))

    def run(self, cfg: Any, out_dir: Path, plan: TaskPlan) -> str:
        from nasearch.experiments.mpi import mpi_task

        return mpi_task(cfg, Path(out_dir))


@register_task
class ScoreTask:
    """A score table of a proxy over the whole space or a seeded sample of it."""

    name = "score"

    def prepare(self, cfg: Any) -> TaskPlan:
        from nasearch.experiments.score import prepare_score
        from nasearch.runfolder import fingerprint

        return TaskPlan("score", fingerprint(cfg, prepare_score(cfg)))

    def run(self, cfg: Any, out_dir: Path, plan: TaskPlan) -> str:
        from nasearch.experiments.score import score_task

        return _summary(Path(out_dir), score_task(cfg, Path(out_dir)))


@register_task
class TrainGHNTask:
    """Train (or resume) a Graph HyperNetwork on CIFAR-10 networks of the benchmark's space."""

    name = "train_ghn"

    def prepare(self, cfg: Any) -> TaskPlan:
        from nasearch.data import DataError
        from nasearch.data.images import _split_files, image_root
        from nasearch.runfolder import fingerprint

        try:  # train_ghn: CIFAR-10 training images, always
            _split_files("cifar10", image_root("cifar10"), "train")
        except DataError as exc:
            raise DataError(f"task=train_ghn trains on CIFAR-10 training images: {exc}") from None
        return TaskPlan(cfg.task, fingerprint(cfg, {"benchmark.name": cfg.space().name}))

    def run(self, cfg: Any, out_dir: Path, plan: TaskPlan) -> str:
        from nasearch.experiments.train_ghn import train_ghn_task

        return _summary(Path(out_dir), train_ghn_task(cfg, Path(out_dir)))


@register_task
class EvolveTask:
    """EZNAS: evolve proxy programs over cached network statistics."""

    name = "evolve"

    def prepare(self, cfg: Any) -> TaskPlan:
        from nasearch.experiments.search import benchmark_table_hash, resolve_benchmark
        from nasearch.runfolder import fingerprint

        bench, _path, _budget = resolve_benchmark(cfg)
        return TaskPlan("evolve", fingerprint(cfg, {"benchmark.name": bench.name,
                                                     "benchmark.table": benchmark_table_hash(bench)}))

    def run(self, cfg: Any, out_dir: Path, plan: TaskPlan) -> str:
        from nasearch.experiments.evolve import evolve_task

        return evolve_task(cfg, Path(out_dir))


__all__ = ["EvolveTask", "MPITask", "ScoreTask", "SearchTask", "TrainGHNTask"]
