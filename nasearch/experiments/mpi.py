"""Model performance inference (MPI): how well each proxy ranks untrained cells (GradSign, Sec. 5.1).

``task=mpi`` samples ``mpi.cells`` cells (default 1,000) with ``np.random.default_rng(seed)``, by
default among the 15,284 cells with an input-output path (``mpi.include_disconnected=true`` samples
all 15,625; disconnected cells then get the never-preferred score and rank last, which inflates every
correlation a little because NB201 trains them to chance level). It scores them with every proxy in
``mpi.proxies`` on the search dataset's networks and the images of ``proxy.image_dataset`` (default:
the search dataset), through the score store, and reports Spearman's rho and Kendall's tau (scipy,
tau-b) between the proxy score (sign-adjusted so that positive means "ranks well") and the final
test and validation accuracy of every dataset in the benchmark.

Outputs in the job directory: ``mpi.csv`` (one row per proxy x dataset x metric), ``mpi.md``,
``scores.csv`` (every sampled cell's score per proxy; ``index`` is the official index, NB201's own,
since issue 34, nasearch's internal ordinal in studies written before) and ``scatter_<proxy>.png``.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nasearch.config import Config, _bad
from nasearch.results import write_table, write_text
from nasearch.space.base import SearchSpace, get_space
from nasearch.suggest import did_you_mean
from nasearch.tasks import TaskPlan, register_task

log = logging.getLogger(__name__)

MPI_FIELDS = (
    "proxy",
    "network_dataset",
    "image_dataset",
    "target_dataset",
    "metric",
    "cells",
    "spearman",
    "kendall",
    "seconds_per_cell",
)


@dataclass
class MPIConf:
    """Model performance inference: rank correlation of proxies with trained accuracy."""

    proxies: list[str] = field(default_factory=lambda: ["synflow", "jacob_cov", "gradsign", "zico"])
    cells: int = 1000
    include_disconnected: bool = False

    def check(self, space: Any = None) -> None:
        from nasearch.proxies import get_proxy, proxy_names

        for p in self.proxies:
            if ":" in p:
                get_proxy(p, where="mpi.proxies")  # "eznas:<program>": a malformed program fails here
            elif p not in proxy_names():
                raise _bad("mpi.proxies", p, "registered proxies: " + ", ".join(proxy_names())
                           + did_you_mean(p, proxy_names()))
        if self.cells < 3:
            raise _bad("mpi.cells", self.cells, "an integer >= 3")



def sample_cells(k: int, seed: int, include_disconnected: bool = False, *, space: SearchSpace | str) -> list:
    """``k`` archs of ``space`` (required, keyword-only) drawn without replacement (trivial ones excluded unless
    ``include_disconnected``), in nasearch's internal order (``arch.index``)."""
    space = get_space(space)
    pool = list(space.all_archs())
    if not include_disconnected:
        pool = [a for a in pool if not space.is_trivial(a)]
    if k > len(pool):
        from nasearch.config import ConfigError

        raise ConfigError(f"config key mpi.cells={k} is more than the {len(pool)} cells available to sample")
    idx = np.random.default_rng(seed).choice(len(pool), size=k, replace=False)
    return [pool[i] for i in sorted(idx)]


def correlations(keys: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    from scipy.stats import kendalltau, spearmanr

    ok = ~np.isnan(target)
    x, y = keys[ok], target[ok]
    if len(x) < 3 or np.all(x == x[0]):
        return math.nan, math.nan
    rho = spearmanr(x, y).statistic
    tau = kendalltau(x, y).statistic
    return float(rho), float(tau)


def scatter(keys: np.ndarray, target: np.ndarray, path: Path, *, proxy: str, label: str, rho: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.stats import rankdata

    fig, ax = plt.subplots(figsize=(5, 4), dpi=110)
    ok = np.isfinite(keys) & ~np.isnan(target)
    ax.scatter(rankdata(keys[ok]) / ok.sum(), target[ok], s=4, alpha=0.5)
    ax.set_xlabel(f"{proxy} score (rank quantile)")
    ax.set_ylabel(label)
    ax.set_title(f"{proxy}: Spearman rho = {rho:.3f} ({int(ok.sum())} cells)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)


def prepare_mpi(cfg: Config) -> dict:
    """The checks of a ``task=mpi`` job that can fail, before it writes anything (the benchmark opens
    and is complete, every proxy's scores are stored or its images are there); returns the values its
    settings record adds to the config (:func:`nasearch.runfolder.fingerprint`)."""
    from nasearch.experiments.scorer import require_scores_or_images
    from nasearch.experiments.search import benchmark_table_hash, resolve_benchmark

    bench, _path, _budget = resolve_benchmark(cfg)
    cells = sample_cells(cfg.mpi.cells, cfg.seed, cfg.mpi.include_disconnected, space=bench.space)
    versions = {p: require_scores_or_images(p, cfg.dataset.name, cells, cfg, bench.space, where=f"mpi.proxies: {p}")
                for p in cfg.mpi.proxies}
    return {"benchmark.name": bench.name, "benchmark.table": benchmark_table_hash(bench), "proxy.versions": versions}


def mpi_task(cfg: Config, out_dir: Path) -> str:
    from nasearch.executors import executor_options, make_executor
    from nasearch.experiments.scorer import scoring_settings
    from nasearch.experiments.scorer import store_path as scoring_store_path
    from nasearch.experiments.scorer import workers as scoring_workers
    from nasearch.experiments.search import resolve_benchmark
    from nasearch.proxies import get_proxy
    from nasearch.scoring import rank_key, score_cells
    from nasearch.scoring.ensemble import member_settings
    from nasearch.scoring.shipped import layered
    from nasearch.scoring.store import ScoreStore

    bench, _path, _budget = resolve_benchmark(cfg)
    space = bench.space
    dataset = cfg.dataset.name
    cells = sample_cells(cfg.mpi.cells, cfg.seed, cfg.mpi.include_disconnected, space=space)
    idx = np.array([a.index for a in cells])
    store_path = scoring_store_path(cfg)
    workers = scoring_workers(cfg)
    rows = []
    per_cell: dict[str, np.ndarray] = {}
    store = ScoreStore(store_path) if store_path else None
    # one executor (one Ray runtime, say) for every proxy of the study
    executor = make_executor(cfg.executor.name, workers=workers, device=cfg.device, where="config key executor",
                             **executor_options(cfg))
    try:
        for proxy in cfg.mpi.proxies:
            t0 = time.perf_counter()
            settings = scoring_settings(cfg, space, proxy, dataset, workers=workers, executor=executor)
            scores = score_cells(cells, settings, store=store)
            elapsed = time.perf_counter() - t0
            spc = math.nan
            if store is not None:  # recorded compute time per cell (an ensemble's: its members' summed)
                parts = []
                members = get_proxy(settings.proxy).members
                for s in [member_settings(settings, m) for m in members] if members else [settings]:
                    got = layered(store, s.key(), cells, with_seconds=True, shipped=settings.shipped)
                    secs = [v[1] for v in got.values() if not math.isnan(v[1])]  # type: ignore[index]
                    parts.append(float(np.mean(secs)) if secs else math.nan)
                spc = float(sum(parts))
            else:
                spc = elapsed / len(cells)
            keys = rank_key(proxy, scores)
            per_cell[proxy] = scores
            for target in bench.datasets:
                for metric in ("test_acc", "valid_acc"):
                    acc = bench.column(target, metric)[idx]
                    rho, tau = correlations(keys, acc)
                    rows.append(
                        {
                            "proxy": proxy,
                            "network_dataset": dataset,
                            "image_dataset": cfg.proxy.image_dataset or dataset,
                            "target_dataset": target,
                            "metric": f"{metric}_{bench.fidelities[-1]}",
                            "cells": len(cells),
                            "spearman": round(rho, 4),
                            "kendall": round(tau, 4),
                            "seconds_per_cell": round(spc, 4),
                        }
                    )
            acc = bench.column(dataset, "test_acc")[idx]
            rho, _ = correlations(keys, acc)
            scatter(keys, acc, out_dir / f"scatter_{proxy}.png", proxy=proxy,
                    label=f"{dataset} test accuracy ({bench.fidelities[-1]} epochs)", rho=rho)
            log.info("%s: Spearman %.3f on %s test accuracy (%.1f s)", proxy, rho, dataset, elapsed)
    finally:
        executor.close()
        if store is not None:
            store.close()
    write_table(out_dir / "mpi.csv", rows, MPI_FIELDS)
    score_rows = []
    for j, a in enumerate(cells):
        r = {"index": space.official_index(a), "arch": space.to_string(a)}  # the official index (NB201's own)
        for p, s in per_cell.items():
            r[p] = repr(float(s[j]))
        score_rows.append(r)
    write_table(out_dir / "scores.csv", score_rows, ("index", "arch", *per_cell))
    table = mpi_markdown(rows, bench.datasets)
    write_text(out_dir / "mpi.md", table)
    return table


def mpi_markdown(rows: list[dict], datasets: tuple[str, ...]) -> str:
    """Spearman rho / Kendall tau against final test accuracy, one row per proxy."""
    proxies = list(dict.fromkeys(r["proxy"] for r in rows))
    head = ["proxy", *(f"{d} rho / tau" for d in datasets), "s/cell"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for p in proxies:
        cells = [p]
        spc = ""
        for d in datasets:
            r = next(r for r in rows if r["proxy"] == p and r["target_dataset"] == d and r["metric"].startswith("test"))
            cells.append(f"{r['spearman']:.3f} / {r['kendall']:.3f}")
            spc = f"{r['seconds_per_cell']:.3f}"
        cells.append(spc)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


@register_task
class MPITask:
    """Rank correlations of proxies with trained accuracy."""

    name = "mpi"
    section = "mpi"
    conf = MPIConf
    keys = ("task", "benchmark", "dataset", "proxy", "mpi", "seed")
    not_results: tuple[str, ...] = ()

    def prepare(self, cfg: Any) -> TaskPlan:
        from nasearch.runfolder import fingerprint

        return TaskPlan("mpi", fingerprint(cfg, prepare_mpi(cfg)))

    def run(self, cfg: Any, out_dir: Path, plan: TaskPlan) -> str:
        return mpi_task(cfg, Path(out_dir))
