"""``task=evolve``: evolve an EZNAS program on an evolution task of cells, report its hall of fame.

See :mod:`nasearch.eznas.evolve` for the algorithm and the checkpoint. This module wires the config
to it: the task and validation cells (:func:`task_cells`), the statistics cache (built if missing,
resumable), the target accuracies from the benchmark (one with a validation split apart from its test
figures: ``has_validation_split``, the NAS-Bench-201 table), and the outputs in the run directory:

* ``checkpoint.json``: resumable state (rerun the same command with the same ``hydra.run.dir``);
* ``hall_of_fame.csv``: program, Kendall tau and Spearman rho on the task and on the validation cells
  (the task tau is the fitness: tau minus ``evolve.unscorable_penalty`` times the fraction of task
  cells the program cannot score; the validation figures are unpenalised);
* ``baselines.csv``: the published program and every single-statistic program on the same cells;
* ``evolution.csv``: best and mean fitness per generation; ``summary.md``.
"""

from __future__ import annotations

import csv
import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nasearch.config import Config, ConfigError, _bad
from nasearch.experiments.mpi import sample_cells
from nasearch.space.base import SearchSpace
from nasearch.suggest import did_you_mean
from nasearch.tasks import TaskPlan, register_task

if TYPE_CHECKING:  # the EZNAS modules import torch: loaded when the task runs, not when it is listed
    from nasearch.eznas.cache import StatsCache
    from nasearch.eznas.evolve import Evaluator

log = logging.getLogger(__name__)


@dataclass
class EvolveConf:
    """EZNAS evolution (``task=evolve``): DEAP GP over cached network statistics."""

    population: int = 50
    """mu: the population kept each generation (authors' evol_config: POPSIZE 50)."""
    offspring: int = 50
    """lambda: offspring made by VarOr each generation (authors: lambda_ 50)."""
    generations: int = 10
    cxpb: float = 0.4
    mutpb: float = 0.4
    tournament: int = 4
    init_min_depth: int = 2
    init_max_depth: int = 6
    hall_of_fame: int = 10
    seed: int = 0
    """Seed of the evolution (initial population, variation, selection)."""
    cells: int = 80
    """Evolution-task cells: seeded NB201 cells disjoint from the MPI study's 1,000."""
    validation_cells: int = 80
    """Held-out cells (disjoint from the task and the MPI cells) on which the hall of fame is reported."""
    cell_seed: int = 14
    mpi_cells: int = 1000
    """Cells excluded: sample_cells(mpi_cells, mpi_seed) of the MPI study."""
    mpi_seed: int = 0
    target: str = "cifar10"
    """Dataset (task) of the benchmark whose trained accuracy the fitness ranks against: one of its space's tasks."""
    metric: str = "valid_acc"
    """valid_acc (the authors' target: NB201 validation accuracy) or test_acc."""
    aggregate: str = "net_mean"
    batch_size: int = 16
    """Minibatch of the statistics (the authors' figures use 16)."""
    score_seed: int = 0
    """Seed of the networks' initialisation, minibatch and noise (as proxy.seed for scores)."""
    workers: int = 0
    """Processes for statistics and fitness (0: the top-level ``workers``)."""
    subsample_batch: int = 4
    subsample_channels: int = 2
    cache_dir: str | None = None
    """Statistics cache directory (default: $NASEARCH_CACHE/eznas or ~/.cache/nasearch/eznas)."""
    checkpoint: str | None = None
    """Checkpoint JSON (default: <run dir>/checkpoint.json); an existing one is resumed."""
    unscorable_penalty: float = 1.0
    """Fitness = Kendall tau minus this times the fraction of task cells the program cannot score (NaN):
    ranking them last would reward failing on poor cells. 0: the authors' fitness (tau alone); runs
    written before issue 37 (experiments/eznas) used 0."""

    def check(self, space: Any) -> None:
        """``space``: the configured benchmark's search space: ``target`` is one of its tasks."""
        for key in ("population", "offspring", "tournament", "hall_of_fame", "cells", "validation_cells",
                    "subsample_batch", "subsample_channels", "init_min_depth", "batch_size"):
            if getattr(self, key) < 1:
                raise _bad(f"evolve.{key}", getattr(self, key), "an integer >= 1")
        if not (math.isfinite(self.unscorable_penalty) and self.unscorable_penalty >= 0):
            raise _bad("evolve.unscorable_penalty", self.unscorable_penalty, "a number >= 0 (0: the authors' fitness)")
        if self.generations < 0:
            raise _bad("evolve.generations", self.generations, "an integer >= 0")
        if self.cells < 3:
            raise _bad("evolve.cells", self.cells, "an integer >= 3 (Kendall tau needs cells to rank)")
        if not (0 <= self.cxpb <= 1 and 0 <= self.mutpb <= 1 and self.cxpb + self.mutpb <= 1):
            raise _bad("evolve.cxpb/mutpb", (self.cxpb, self.mutpb), "probabilities with cxpb + mutpb <= 1 (VarOr)")
        if not self.init_min_depth <= self.init_max_depth <= 10:
            raise _bad("evolve.init_max_depth", self.init_max_depth, "init_min_depth <= init_max_depth <= 10")
        if self.metric not in ("valid_acc", "test_acc"):
            raise _bad("evolve.metric", self.metric, "valid_acc or test_acc")
        if self.aggregate not in ("net_mean", "net_sum"):
            raise _bad("evolve.aggregate", self.aggregate, "net_mean (authors' code) or net_sum (paper text)")
        accepted = tuple(space.tasks)
        if self.target not in accepted:
            raise _bad("evolve.target", self.target, "one of " + ", ".join(accepted)
                       + f" (benchmark space {space.name!r})" + did_you_mean(self.target, accepted))


@dataclass
class CacheLoader:
    """Picklable recipe of an :class:`Evaluator` (sent to worker processes)."""

    cache: StatsCache
    cells: list[int]
    target: np.ndarray
    unscorable_penalty: float = 0.0

    def __call__(self) -> Evaluator:
        from nasearch.eznas.evolve import Evaluator

        space = self.cache.space
        return Evaluator(self.cache.load([space.from_index(i) for i in self.cells]), self.target,
                         self.unscorable_penalty)


def task_cells(space: SearchSpace, n: int, validation: int, cell_seed: int, mpi_cells: int = 1000,
               mpi_seed: int = 0) -> tuple[list, list]:
    """(task cells, validation cells): disjoint seeded samples of the non-trivial cells of ``space``
    (NB201: the connected cells) that are not among the MPI study's
    ``sample_cells(mpi_cells, mpi_seed, space=space)``."""
    excluded = {a.index for a in sample_cells(mpi_cells, mpi_seed, space=space)} if mpi_cells > 0 else set()
    pool = [a for a in space.all_archs() if not space.is_trivial(a) and a.index not in excluded]
    if n + validation > len(pool):
        raise ConfigError(
            f"config keys evolve.cells={n} + evolve.validation_cells={validation} exceed the {len(pool)} "
            "connected cells outside the MPI sample"
        )
    perm = np.random.default_rng(cell_seed).permutation(len(pool))
    task = sorted((pool[i] for i in perm[:n]), key=lambda a: a.index)
    val = sorted((pool[i] for i in perm[n : n + validation]), key=lambda a: a.index)
    return task, val


def _write_csv(path: Path, rows: list[dict]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, path)


def _read_rows(path: Path, programs: list[str], n_val: int) -> list[dict] | None:
    """Rows of an earlier baselines.csv of this run directory, if it has exactly these programs and
    was computed on as many validation cells."""
    if not path.exists():
        return None
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if [r["program"] for r in rows] != programs or any(int(r.get("validation_cells", -1)) != n_val for r in rows):
        return None
    for r in rows:
        for k in ("task_tau", "task_rho", "validation_tau", "validation_rho"):
            r[k] = float(r[k])
        r["validation_cells"] = int(r["validation_cells"])
    return rows


def evolve_task(cfg: Config, out_dir: Path,
                on_evaluated: Callable[[int, int], None] | None = None) -> str:
    """Run ``task=evolve`` into ``out_dir``; returns the summary table. ``on_evaluated(generation, k)``
    is called after each new evaluation (:func:`nasearch.eznas.evolve.evolve`)."""
    from nasearch.experiments.scorer import workers as scoring_workers
    from nasearch.experiments.search import resolve_benchmark
    from nasearch.eznas.cache import StatsCache
    from nasearch.eznas.evolve import Fitness, evolve, single_statistic_programs
    from nasearch.eznas.program import PUBLISHED_NB201
    from nasearch.eznas.statistics import Subsample

    ec = cfg.evolve
    bench, _path, _budget = resolve_benchmark(cfg)
    if not getattr(bench, "has_validation_split", False):
        raise ConfigError(
            f"task=evolve ranks programs against trained accuracies with a validation split apart from the test "
            f"figures (the EZNAS protocol), and benchmark {bench.name!r} (config key benchmark.name) records none: "
            "use a benchmark with one (the NAS-Bench-201 table)"
        )
    task, val = task_cells(bench.space, ec.cells, ec.validation_cells, ec.cell_seed, ec.mpi_cells, ec.mpi_seed)
    workers = ec.workers or scoring_workers(cfg)
    cache = StatsCache(ec.cache_dir, space=bench.space, dataset=cfg.dataset.name, image_dataset=cfg.proxy.image_dataset,
                       batch_size=ec.batch_size, seed=ec.score_seed,
                       subsample=Subsample(ec.subsample_batch, ec.subsample_channels))
    cache.build(task + val, workers=workers, progress=cfg.progress)
    column = bench.column(ec.target, ec.metric)
    t_idx = [a.index for a in task]
    v_idx = [a.index for a in val]
    loader = CacheLoader(cache, t_idx, column[t_idx], cfg.evolve.unscorable_penalty)
    ckpt = Path(ec.checkpoint) if ec.checkpoint else out_dir / "checkpoint.json"
    identity = {"task_cells": t_idx, "cache": cache.settings(), "network_dataset": cfg.dataset.name}
    with Fitness(loader, workers=workers, progress=cfg.progress) as fitness:
        result = evolve(ec, fitness, ckpt, identity=identity, progress=cfg.progress, on_evaluated=on_evaluated)
    task_ev = loader()
    val_ev = CacheLoader(cache, v_idx, column[v_idx])()

    def row(kind: str, text: str) -> dict:
        t_tau, t_rho = task_ev(text)
        v_tau, v_rho = val_ev(text)
        return {"kind": kind, "program": text, "task_tau": t_tau, "task_rho": t_rho, "validation_tau": v_tau,
                "validation_rho": v_rho, "validation_cells": len(val)}

    hof_rows = [row(f"hof{r}", text) for r, (text, _f) in enumerate(result.hall_of_fame)]
    base_texts = [("published", PUBLISHED_NB201)] + [("single", t) for t in single_statistic_programs(ec.aggregate)]
    base_rows = _read_rows(out_dir / "baselines.csv", [t for _k, t in base_texts], len(val))
    if base_rows is None:  # the baselines depend only on the cells (fixed for a run directory)
        base_rows = [row(k, t) for k, t in base_texts]
    _write_csv(out_dir / "hall_of_fame.csv", hof_rows)
    _write_csv(out_dir / "baselines.csv", base_rows)
    _write_csv(out_dir / "evolution.csv", [{k: v for k, v in r.items() if k != "best"} | {"best": r["best"]}
                                           for r in result.log])
    best_single = max((r for r in base_rows if r["kind"] == "single"), key=lambda r: r["task_tau"])
    lines = [
        f"EZNAS evolution: {len(task)} task cells, {len(val)} validation cells, target {ec.target} {ec.metric}, "
        f"seed {ec.seed}, population {ec.population}, offspring {ec.offspring}, generations {result.generations}"
        + (f" (resumed from generation {result.resumed_from})" if result.resumed_from is not None else ""),
        "",
        "| program | task tau | task rho | validation tau | validation rho |",
        "|---|---|---|---|---|",
    ]
    for r in [*hof_rows[:5], best_single, base_rows[0]]:
        lines.append(f"| {r['kind']}: `{r['program']}` | {r['task_tau']:.4f} | {r['task_rho']:.4f} | "
                     f"{r['validation_tau']:.4f} | {r['validation_rho']:.4f} |")
    beats = hof_rows[0]["task_tau"] > best_single["task_tau"]
    lines += ["", f"best program {'beats' if beats else 'does not beat'} the best single statistic on the task "
              f"(tau {hof_rows[0]['task_tau']:.4f} vs {best_single['task_tau']:.4f})"]
    table = "\n".join(lines) + "\n"
    (out_dir / "summary.md").write_text(table)
    return table


@register_task
class EvolveTask:
    """EZNAS: evolve proxy programs over cached network statistics."""

    name = "evolve"
    section = "evolve"
    conf = EvolveConf
    keys = ("task", "benchmark", "dataset", "evolve", "proxy.image_dataset")
    not_results = ("evolve.workers", "evolve.cache_dir", "evolve.checkpoint")

    def prepare(self, cfg: Any) -> TaskPlan:
        from nasearch.experiments.search import benchmark_table_hash, resolve_benchmark
        from nasearch.runfolder import fingerprint

        bench, _path, _budget = resolve_benchmark(cfg)
        return TaskPlan("evolve", fingerprint(cfg, {"benchmark.name": bench.name,
                                                     "benchmark.table": benchmark_table_hash(bench)}))

    def run(self, cfg: Any, out_dir: Path, plan: TaskPlan) -> str:
        return evolve_task(cfg, Path(out_dir))
