"""The search experiment: ``runs`` seeded runs of one arm (strategy x proxy x N), crash-safe.

The benchmark loads once per process; runs are spread over worker processes in chunks; every
finished run is appended to ``runs.csv`` (and its anytime curve to ``curves.csv``) in the job's
output directory at once, so an interrupted job keeps what it finished and a rerun in the same
directory (``hydra.run.dir=...``) computes only the missing runs. Run ``i`` draws from
``SeedSequence(seed).spawn(runs)[i]``: every arm of a sweep sees the same seed list, so vanilla and
assisted arms are paired run by run.
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nasearch import __version__
from nasearch.benchmarks import ALIASES, Benchmark, make_benchmark
from nasearch.benchmarks.base import BenchmarkError, check_complete
from nasearch.config import Config
from nasearch.executors.pool import process_pool
from nasearch.results import (
    CURVE_FIELDS,
    CURVES_FILE,
    MO_FIELDS,
    RUNS_FILE,
    AppendWriter,
    curve_grid,
    curve_values,
    legacy_row_fields,
    markdown_table,
    plot_curves,
    row_fields,
    summarize,
    write_text,
)
from nasearch.search import Budget, run_search
from nasearch.strategies import get_strategy
from nasearch.strategies.prefilter import PreFilter
from nasearch.tasks import TaskPlan, register_task

log = logging.getLogger(__name__)


@dataclass
class SearchConf:
    """The search task's own settings (``search.*``): how evaluations run and what a run optimises.
    Defaults are today's single-objective, one-at-a-time, unconstrained search."""

    simulated_workers: int = 1
    """K evaluations in flight on the simulated clock, each finishing at its tabulated training time;
    the strategy is asked whenever a worker frees and told results in finishing order
    (:func:`nasearch.search.run_search`). 1: the sequential search, bit for bit. Not to be confused
    with the top-level ``workers`` (processes that run the seeded runs)."""
    constraints: dict[str, float] = field(default_factory=dict)
    """Budgeted search: metric -> bound on a metric of the architecture the benchmark records
    (``search.constraints.flops=50``: at most 50 MFLOPs; params in M, latency in s); only cells within
    every bound are proposed, screened and evaluated (:mod:`nasearch.strategies.constrained`)."""
    objectives: list[str] | None = None
    """Multi-objective search: two or more metrics of the benchmark, e.g. ``[valid_acc,latency]``
    (each oriented by the benchmark: accuracy maximised, costs minimised); results carry them, runs
    report the final front's hypervolume against the table's true front. Null: accuracy alone."""

    def check(self, space: Any = None) -> None:
        from nasearch.config import _bad

        if isinstance(self.simulated_workers, bool) or self.simulated_workers < 1:
            raise _bad("search.simulated_workers", self.simulated_workers, "an integer >= 1 (evaluations in flight)")
        if self.objectives is not None and len(self.objectives) < 2:
            raise _bad("search.objectives", self.objectives, "at least two metrics of the benchmark, e.g. "
                       "[valid_acc,latency], or null for a single-objective search")


@dataclass(frozen=True)
class ArmSpec:
    """Everything a worker needs to run one arm (picklable)."""

    benchmark: str
    benchmark_path: str | None
    dataset: str
    strategy: str
    strategy_params: dict[str, Any]
    proxy: str
    n: int
    k: int
    budget: Budget
    fidelity: int | None
    charge_time: bool
    seed: int
    runs: int
    scorer: Any = None
    """A picklable ``ArchScorer`` (nasearch.scoring.scorer) or None."""
    featurizer: Any = None
    """A picklable ``Featurizer`` (nasearch.scoring.features) for a strategy that learns from cell
    features (``uses_features``), built once per arm from ``strategy.params.features``; else None."""
    workers: int = 1
    """Simulated asynchronous workers (``search.simulated_workers``)."""
    constraints: tuple[tuple[str, float], ...] = ()
    """``search.constraints`` as (metric, bound) pairs, in the config's order."""
    feasible: Any = None
    """The constraints' feasibility mask by ``arch.index`` (None: every cell)."""
    objectives: tuple[str, ...] | None = None
    """A multi-objective search's metrics (``search.objectives``), else None."""
    front: Any = None
    """Multi-objective: (normaliser lows, highs, true front's hypervolume) of the reported objectives."""

    def optional_factors(self, bench: Benchmark) -> dict[str, str]:
        """The :data:`nasearch.results.OPTIONAL_FACTORS` this arm sets, as written in ``runs.csv``."""
        from nasearch.benchmarks.base import get_metric

        out: dict[str, str] = {}
        if self.workers != 1:
            out["workers"] = str(self.workers)
        if self.constraints:
            out["constraints"] = ";".join(
                f"{m}{'>=' if get_metric(bench, m).higher_is_better else '<='}{b!r}" for m, b in self.constraints)
        if self.objectives:
            out["objectives"] = ",".join(self.objectives)
        return out

    def factors(self, search_fidelity: int) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            "dataset": self.dataset,
            "strategy": get_strategy(self.strategy).arm_label(dict(self.strategy_params)),
            "proxy": self.proxy,
            "n": self.n,
            "k": self.k,
            "budget_seconds": self.budget.seconds,
            "budget_queries": self.budget.queries,
            "fidelity": search_fidelity,
            "charge_time": self.charge_time,
            "seed": self.seed,
        }


def resolve_benchmark(cfg: Config) -> tuple[Benchmark, str, Budget]:
    """The benchmark the config asks for (an alias such as ``auto`` resolved by
    :data:`nasearch.benchmarks.ALIASES`: the NAS-Bench-201 table, the user's from benchmark.path or
    $NASEARCH_DATA when there is one, else the one embedded in the package); returns the benchmark,
    the table file a worker process should reopen ("" for the embedded one) and the budget."""
    name = cfg.benchmark.name
    path = cfg.benchmark.path
    seconds = cfg.budget.seconds
    queries = cfg.budget.queries
    name = ALIASES.get(name, name)
    bench = make_benchmark(name, path, where="config key benchmark.name / benchmark.path")
    check_complete(bench, where="config key benchmark.name / benchmark.path")
    if cfg.dataset.name not in bench.datasets:
        raise BenchmarkError(
            f"dataset.name={cfg.dataset.name!r} is not in benchmark {bench.name!r} (space {bench.space.name!r}); "
            f"accepted: {', '.join(bench.datasets)}"
        )
    if seconds is not None and not bench.has_train_time:
        if queries is None:
            raise BenchmarkError(
                f"benchmark {bench.name!r} records no training times, so budget.seconds={seconds} cannot be "
                "charged: it supports query-count budgets only; set budget.seconds=null budget.queries=N"
            )
        seconds = None
    embedded = getattr(bench, "embedded", None)  # declared by benchmarks that may read a table shipped in the package
    if embedded is not None:
        log.info("%s table: %s", getattr(bench, "title", bench.name),  # title: how the benchmark is written in prose
                 "embedded in the package" if embedded else bench.path)  # type: ignore[attr-defined]
        path = "" if embedded else str(bench.path)  # type: ignore[attr-defined]
    return bench, path or "", Budget(seconds=seconds, queries=queries)


# ------------------------------------------------------------------------------------------ workers
_WORKER: dict[str, Any] = {}


def _init_worker(spec: ArmSpec) -> None:
    import torch

    torch.set_num_threads(1)
    _WORKER["bench"] = make_benchmark(spec.benchmark, spec.benchmark_path or None)
    _WORKER["spec"] = spec


def _run_chunk(indices: list[int]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [_one_run(_WORKER["bench"], _WORKER["spec"], i) for i in indices]


def _one_run(bench: Benchmark, spec: ArmSpec, i: int) -> tuple[dict[str, Any], dict[str, Any]]:
    # the i-th child of SeedSequence(seed).spawn(runs), made directly (spawning all runs per run is O(runs))
    rng = np.random.default_rng(np.random.SeedSequence(spec.seed, spawn_key=(i,)))
    extra = {"featurizer": spec.featurizer} if spec.featurizer is not None else {}
    extra.update(objective_kwargs(get_strategy(spec.strategy), spec.objectives))
    inner = get_strategy(spec.strategy)(rng, space=bench.space, fidelities=bench.fidelities, **spec.strategy_params,
                                        **extra)
    if spec.feasible is not None:
        from nasearch.strategies.constrained import Constrained

        inner = Constrained(inner, spec.feasible)
    scorer = spec.scorer if spec.proxy != "none" else None
    screen = scorer
    if scorer is not None and spec.objectives:
        costs = objective_columns_cached(pre_training_objectives, bench, spec.dataset, spec.objectives)
        if costs.shape[1]:
            from nasearch.strategies.prefilter import ParetoScorer

            screen = ParetoScorer(scorer, costs)
    strategy = PreFilter(inner, screen, n=spec.n, k=spec.k, cost_fn=scorer.cost if scorer is not None else None)
    t0 = time.perf_counter()
    traj = run_search(
        bench, strategy, spec.dataset, spec.budget, fidelity=spec.fidelity, charge_overhead=spec.charge_time,
        workers=spec.workers, objectives=spec.objectives,
    )
    wall = time.perf_counter() - t0
    search_fidelity = spec.fidelity if spec.fidelity is not None else bench.fidelities[0]
    row: dict[str, Any] = spec.factors(search_fidelity)
    row.update(spec.optional_factors(bench))
    row.update(
        run=i,
        queries=traj.queries,
        sim_seconds=round(traj.total_seconds, 3),
        overhead_seconds=round(traj.overhead_seconds, 4),
        wall_seconds=round(wall, 4),
        incumbent=str(traj.incumbent),
        version=__version__,
    )
    for d in bench.datasets:
        row[f"test_{d}"] = traj.final[d]
        row[f"valid_{d}"] = traj.final_valid[d]
    final_f = bench.fidelities[-1]
    if spec.objectives:
        # anytime curve: the hypervolume ratio of the front found so far (reported objectives)
        ys, front = hypervolume_trace(bench, spec, traj.archs)
        row["hypervolume"] = round(ys[-1] * spec.front[2], 6)
        row["hv_ratio"] = round(ys[-1], 6)
        row["front"] = " ".join(str(bench.space.official_index(a)) for a in front)
    else:
        # anytime curve: incumbent's final-fidelity test accuracy on the search dataset
        cache: dict[Any, float] = {}
        ys = []
        for a in traj.incumbents:
            if a not in cache:
                cache[a] = bench.query(a, spec.dataset, final_f).test_acc
            ys.append(cache[a])
    if spec.budget.seconds is not None:
        xs, limit = traj.sim_seconds, spec.budget.seconds
    else:
        xs, limit = list(range(1, traj.queries + 1)), float(spec.budget.queries or traj.queries)
    curve = {"run": i}
    for j, v in enumerate(curve_values(xs, ys, curve_grid(limit))):
        curve[f"t{j}"] = round(float(v), 4)
    return row, curve


# ------------------------------------------------------------------------------ multi-objective
def reported_objectives(bench: Benchmark, dataset: str, objectives: tuple[str, ...]) -> np.ndarray:
    """Every cell's reported values of a multi-objective search's ``objectives`` (``(num_archs, m)``,
    oriented so higher is better, NaN where the table has none): the search selects by ``valid_acc``
    at the search fidelity and is judged by ``test_acc`` at the final fidelity, as a single-objective
    search is; another metric recorded per fidelity is read at the final fidelity; an architecture
    metric (params, FLOPs, latency) is its column."""
    from nasearch.benchmarks.base import get_metric

    final_f = bench.fidelities[-1]
    cols = []
    for name in objectives:
        metric = get_metric(bench, name, where="search.objectives")
        read = "test_acc" if name == "valid_acc" else name
        col = np.asarray(bench.column(dataset, read, final_f if metric.per_fidelity else None), dtype=float)
        cols.append(col if metric.higher_is_better else -col)
    return np.stack(cols, axis=1)


def true_front(bench: Benchmark, dataset: str, objectives: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, float]:
    """The normaliser of a multi-objective search's hypervolume and the reference it is judged by:
    each reported objective's worst and best value over the space (its normalised range is [0, 1], the
    reference point 0 is the worst value of each), and the hypervolume of the space's true Pareto front
    (every cell of the table) in that normalisation."""
    from nasearch.pareto import hypervolume, non_dominated

    values = reported_objectives(bench, dataset, objectives)
    ok = np.all(np.isfinite(values), axis=1)
    lows, highs = values[ok].min(axis=0), values[ok].max(axis=0)
    norm = normalised(values[ok], lows, highs)
    front = norm[non_dominated(norm)]
    return lows, highs, float(hypervolume(front, np.zeros(len(objectives))))


def hypervolume_trace(bench: Benchmark, spec: ArmSpec, archs: list[Any]) -> tuple[list[float], list[Any]]:
    """After each evaluation of a multi-objective run, the hypervolume of the cells evaluated so far
    (reported objectives, normalised by :func:`true_front`) as a ratio to the true front's; and the
    cells of the final front (in the order first evaluated)."""
    from nasearch.pareto import hypervolume, non_dominated

    lows, highs, true_hv = spec.front
    values = objective_columns_cached(reported_objectives, bench, spec.dataset, spec.objectives)
    ref = np.zeros(len(spec.objectives))
    front: list[Any] = []
    ratios: list[float] = []
    hv = 0.0
    for a in archs:
        if a not in front:
            cand = front + [a]
            pts = normalised(values[[c.index for c in cand]], lows, highs)
            pts = np.nan_to_num(pts, nan=-1.0)
            keep = non_dominated(pts)
            if keep[-1]:
                front = [c for c, k in zip(cand, keep) if k]
                hv = float(hypervolume(pts[keep], ref))
        ratios.append(hv / true_hv if true_hv > 0 else float("nan"))
    return ratios, front


def pre_training_objectives(bench: Benchmark, dataset: str, objectives: tuple[str, ...]) -> np.ndarray:
    """The columns of a multi-objective search's objectives known before training (architecture
    metrics: params, FLOPs, latency; ``Metric.per_fidelity`` false), ``(num_archs, j)``, oriented so
    higher is better: what a pre-filter may rank candidates by beside its proxy (``ParetoScorer``)."""
    from nasearch.benchmarks.base import get_metric

    cols = []
    for name in objectives:
        metric = get_metric(bench, name, where="search.objectives")
        if not metric.per_fidelity:
            col = np.asarray(bench.column(dataset, name), dtype=float)
            cols.append(col if metric.higher_is_better else -col)
    return np.stack(cols, axis=1) if cols else np.zeros((bench.space.num_archs, 0))


_COLUMNS: dict[tuple[str, int, str, tuple[str, ...]], tuple[Benchmark, np.ndarray]] = {}


def objective_columns_cached(fn: Any, bench: Benchmark, dataset: str, objectives: tuple[str, ...]) -> np.ndarray:
    """``fn(bench, dataset, objectives)`` (:func:`reported_objectives`, :func:`pre_training_objectives`)
    once per benchmark object in this process: every run of an arm reads the same columns. The entry
    holds the benchmark itself, so its ``id`` cannot be reused by another while the entry lives."""
    key = (fn.__name__, id(bench), dataset, tuple(objectives))
    hit = _COLUMNS.get(key)
    if hit is None or hit[0] is not bench:
        hit = _COLUMNS[key] = (bench, fn(bench, dataset, tuple(objectives)))
    return hit[1]


def normalised(values: np.ndarray, lows: np.ndarray, highs: np.ndarray) -> np.ndarray:
    """Oriented objective values mapped to [0, 1] by the space's worst (``lows``) and best (``highs``)
    values; a constant objective is left unscaled."""
    return (values - lows) / np.where(highs > lows, highs - lows, 1.0)


# ------------------------------------------------------------------------------------------ driver
def run_arm(
    spec: ArmSpec, out_dir: Path, *, workers: int = 1, progress: bool = True, bench: Benchmark | None = None
) -> list[dict[str, str]]:
    """Run (or finish) every run of one arm into ``out_dir``; return all rows.

    ``bench``: the benchmark already loaded in this process (used when running in-process)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    runs_path = out_dir / RUNS_FILE
    if bench is None:
        bench = make_benchmark(spec.benchmark, spec.benchmark_path or None)
    # the benchmark's own datasets; a runs.csv an older nasearch wrote (NB201's datasets in every file)
    # keeps its header, so the folder resumes
    optional = tuple(spec.optional_factors(bench))
    extra = MO_FIELDS if spec.objectives else ()
    legacy = () if optional or extra else (legacy_row_fields(bench.datasets),)
    writer = AppendWriter(runs_path, row_fields(bench.datasets, optional, extra), legacy=legacy)
    fields = writer.fields
    curves = AppendWriter(out_dir / CURVES_FILE, CURVE_FIELDS)
    limit = spec.budget.seconds if spec.budget.seconds is not None else spec.budget.queries
    write_text(out_dir / "curves_limit.txt", f"{limit} {'seconds' if spec.budget.seconds else 'queries'}\n")
    done = {int(r["run"]) for r in writer.rows}
    curves_done = {int(r["run"]) for r in curves.rows}
    todo = [i for i in range(spec.runs) if i not in done]
    if done:
        log.info("resuming %s: %d of %d runs already in %s", out_dir, len(done), spec.runs, runs_path)
    from tqdm import tqdm

    bar = tqdm(total=spec.runs, initial=len(done), desc=f"{spec.strategy}+{spec.proxy} N={spec.n}", disable=not progress, unit="run")
    try:
        pool = process_pool(workers if len(todo) > 1 else 1, initializer=_init_worker, initargs=(spec,),
                            what="search runs")
        if pool is None:
            for i in todo:
                row, curve = _one_run(bench, spec, i)
                writer.write(row)
                if i not in curves_done:
                    curves.write(curve)
                bar.update(1)
        else:
            chunk = max(1, min(25, len(todo) // (workers * 4) or 1))
            chunks = [todo[j : j + chunk] for j in range(0, len(todo), chunk)]
            with pool:
                futures = [pool.submit(_run_chunk, c) for c in chunks]
                for fut in as_completed(futures):
                    for row, curve in fut.result():
                        writer.write(row)
                        if int(curve["run"]) not in curves_done:
                            curves.write(curve)
                        bar.update(1)
    finally:
        bar.close()
        writer.close()
        curves.close()
    from nasearch.results import read_rows

    # the runs asked for (a folder written before settings records may hold more)
    return [r for r in read_rows(runs_path, fields) if int(r["run"]) < spec.runs]


VANILLA_IGNORED = ("proxy.k", "proxy.batch_size", "proxy.num_batches", "proxy.image_dataset", "proxy.seed",
                   "proxy.charge_time", "proxy.program", "proxy.members", "proxy.combine", "proxy.ranking",
                   "proxy.network")
"""Proxy settings that cannot change a vanilla search (no proxy, or N = 1: nothing is screened): left
out of its settings fingerprint."""


@dataclass
class SearchPlan:
    """A search job checked and resolved before it writes anything (:func:`prepare_search`)."""

    bench: Benchmark
    spec: ArmSpec
    workers: int
    fingerprint: dict[str, Any]

    def legacy_differences(self, folder: Path) -> list[str] | None:
        """For a folder written before settings records: its ``runs.csv`` arm against this job's."""
        found = legacy_arms(folder)
        if not found:
            return None
        want = arm_factors(self.spec, self.bench)
        have = found[0]
        return [f"{k}: {have[k]!r} in the folder's runs.csv, {want[k]!r} in this run"
                for k in want if have.get(k) != want[k]]


def arm_factors(spec: ArmSpec, bench: Benchmark) -> dict[str, str]:
    """The arm columns every ``runs.csv`` row of ``spec`` carries, as written."""
    from nasearch.results import _fmt

    fid = spec.fidelity if spec.fidelity is not None else bench.fidelities[0]
    return {k: _fmt(v) for k, v in spec.factors(fid).items()}


def legacy_arms(folder: Path) -> list[dict[str, str]] | None:
    """The arm columns of the first row of ``folder/runs.csv`` (None without rows)."""
    from nasearch.results import FACTORS, read_run_rows

    path = Path(folder) / RUNS_FILE
    if not path.is_file():
        return None
    try:
        rows = read_run_rows(path)
    except (OSError, ValueError):
        return None
    return [{k: rows[0][k] for k in FACTORS}] if rows else None


def prepare_search(cfg: Config) -> SearchPlan:
    """Every check of a search job that can fail, before any file is written: the benchmark loads
    and is complete, the strategy takes its params, the scorer opens its store and finds every score
    it will need or the images to compute them, the device exists. Returns the resolved plan."""
    bench, path, budget = resolve_benchmark(cfg)
    strategy_cls = get_strategy(cfg.strategy.name)
    mode = search_mode(cfg, bench, strategy_cls)
    featurizer = None
    if getattr(strategy_cls, "uses_features", False):
        featurizer = make_strategy_featurizer(cfg, bench, strategy_cls)
    extra = {"featurizer": featurizer} if featurizer is not None else {}
    extra.update(objective_kwargs(strategy_cls, mode.get("objectives")))
    try:
        strategy_cls(np.random.default_rng(0), space=bench.space, fidelities=bench.fidelities, **cfg.strategy.params,
                     **extra)
    except TypeError as exc:
        raise BenchmarkError(
            f"strategy.params={dict(cfg.strategy.params)!r} do not fit strategy {cfg.strategy.name!r}: {exc}"
        ) from exc
    scorer = None
    covered = True
    if not cfg.proxy.vanilla:
        from nasearch.experiments.scorer import make_scorer

        scorer = make_scorer(cfg, bench, cfg.proxy.network or cfg.dataset.name)
        covered = scorer.coverage() >= bench.space.num_archs
        if not covered:
            scorer.require_inputs(where="proxy=" + cfg.proxy.name)
    spec = ArmSpec(
        benchmark=bench.name,
        benchmark_path=path or None,
        dataset=cfg.dataset.name,
        strategy=cfg.strategy.name,
        strategy_params=dict(cfg.strategy.params),
        proxy=cfg.proxy.ref,
        n=cfg.proxy.n,
        k=cfg.proxy.k,
        budget=budget,
        fidelity=cfg.fidelity,
        charge_time=cfg.proxy.charge_time,
        seed=cfg.seed,
        runs=cfg.runs,
        scorer=scorer,
        featurizer=featurizer,
        **mode,
    )
    # in-process by default: a tabular search (vanilla, or every score already stored) costs less than
    # starting worker processes; a pool only when scores must be computed, or when asked for
    if featurizer is not None and featurizer.coverage() < bench.space.num_archs:
        covered = False  # features to compute: worker processes
    workers = cfg.workers or (1 if covered else min(os.cpu_count() or 1, 8))
    from nasearch.runfolder import fingerprint

    derived: dict[str, Any] = {
        "benchmark.name": bench.name,
        "benchmark.table": benchmark_table_hash(bench),
        "budget.seconds": budget.seconds,
        "budget.queries": budget.queries,
        "arm": arm_factors(spec, bench),
    }
    if scorer is not None:
        derived["proxy.version"] = scorer.version
    if spec.feasible is not None:
        derived["search.feasible_cells"] = int(np.count_nonzero(spec.feasible))
    feature_scorers = getattr(featurizer, "scorers", None) or {}
    if feature_scorers:
        derived["strategy.features.version"] = {n: s.version for n, s in feature_scorers.items()}
    # a strategy's proxy features are scored with the proxy section's settings (and their time charged
    # with proxy.charge_time), so those keys decide its results even in a vanilla arm
    ignore = VANILLA_IGNORED if cfg.proxy.vanilla and not feature_scorers else ()
    return SearchPlan(bench=bench, spec=spec, workers=workers, fingerprint=fingerprint(cfg, derived, ignore))


def objective_kwargs(strategy_cls: Any, objectives: tuple[str, ...] | None) -> dict[str, Any]:
    """``{"num_objectives": m}`` for a strategy whose constructor takes it (one that optimises one or
    several objectives: ``optuna``) in a multi-objective search; else nothing."""
    import inspect

    if objectives and "num_objectives" in inspect.signature(strategy_cls).parameters:
        return {"num_objectives": len(objectives)}
    return {}


def search_mode(cfg: Config, bench: Benchmark, strategy_cls: Any) -> dict[str, Any]:
    """The ``search.*`` section resolved against the benchmark, or refused before any run: simulated
    workers; constraints on metrics the benchmark declares, known before training, that some cell
    satisfies (their feasibility mask); objectives the benchmark declares (at least two, no test
    split) and the true front they are judged against; a multi-objective strategy without objectives."""
    from nasearch.search import BudgetError, feasible_mask, objective_values
    from nasearch.strategies.constrained import ConstraintError

    sc: SearchConf = cfg.search  # type: ignore[attr-defined]
    out: dict[str, Any] = {"workers": int(sc.simulated_workers)}
    if sc.constraints:
        try:
            out["feasible"] = feasible_mask(bench, cfg.dataset.name, dict(sc.constraints))
        except ConstraintError as exc:
            raise BenchmarkError(str(exc)) from None
        out["constraints"] = tuple((str(k), float(v)) for k, v in sc.constraints.items())
    multi = bool(getattr(strategy_cls, "multi_objective", False))
    if sc.objectives is not None:
        objectives = tuple(sc.objectives)
        try:
            objective_values(bench, cfg.dataset.name, objectives)  # the checks, before any run
        except BudgetError as exc:
            raise BenchmarkError(str(exc)) from None
        out["objectives"] = objectives
        out["front"] = true_front(bench, cfg.dataset.name, objectives)
    elif multi:
        raise BenchmarkError(
            f"strategy={cfg.strategy.name} is a multi-objective strategy and search.objectives is not set: give "
            "it at least two metrics of the benchmark, e.g. 'search.objectives=[valid_acc,latency]'"
        )
    return out


def make_strategy_featurizer(cfg: Config, bench: Benchmark, strategy_cls: Any) -> Any:
    """The featurizer of a strategy that learns from cell features (``uses_features``), built from
    ``strategy.params.features`` (default: the strategy's own) with the proxy section's scoring
    settings; it checks, before anything is written, that the features it will compute can be."""
    import inspect

    from nasearch.experiments.scorer import make_featurizer

    features = cfg.strategy.params.get("features")
    if features is None:
        param = inspect.signature(strategy_cls).parameters.get("features")
        features = param.default if param is not None and param.default is not inspect.Parameter.empty else None
    if features is None:
        raise BenchmarkError(
            f"strategy {cfg.strategy.name!r} learns from cell features but strategy.params has no features "
            "(a list of feature names, e.g. strategy.params.features=[encoding])"
        )
    featurizer = make_featurizer(cfg, bench, cfg.proxy.network or cfg.dataset.name, features)
    if featurizer.coverage() < bench.space.num_archs:
        featurizer.require_inputs(where=f"strategy={cfg.strategy.name} strategy.params.features")
    return featurizer


def benchmark_table_hash(bench: Benchmark) -> str:
    """Content hash of the file a benchmark was read from ("" when it keeps no path)."""
    from nasearch.runfolder import file_hash

    path = getattr(bench, "path", None)
    return file_hash(path) if path is not None else ""


def search_task(cfg: Config, out_dir: Path, plan: SearchPlan | None = None) -> str:
    """The ``task=search`` entry point: run the arm, write the summary and plot, return the table.
    ``plan``: the job's :func:`prepare_search` (made here when not given)."""
    plan = plan or prepare_search(cfg)
    bench, spec, workers = plan.bench, plan.spec, plan.workers
    budget = spec.budget
    t0 = time.perf_counter()
    rows = run_arm(spec, out_dir, workers=workers, progress=cfg.progress, bench=bench)
    log.info("%d runs in %.1f s wall", len(rows), time.perf_counter() - t0)
    summaries = summarize(rows)
    table = markdown_table(summaries)
    write_text(out_dir / "summary.md", table)
    from nasearch.results import read_curves

    c = read_curves(out_dir)
    if c is not None and summaries:
        plot_curves(
            {summaries[0].label: c},
            out_dir / "curve.png",
            xlabel="simulated seconds" if budget.seconds else "queries",
            title=f"{summaries[0].label} on {bench.name}/{cfg.dataset.name}",
        )
    return table


@register_task
class SearchTask:
    """Many seeded runs of one strategy (with or without a proxy pre-filter) on a benchmark. Its settings
    are the shared sections and ``search.*`` (:class:`SearchConf`: simulated workers, constraints,
    objectives)."""

    name = "search"
    section = "search"
    conf = SearchConf
    keys = ("task", "benchmark", "dataset", "strategy", "proxy", "budget", "runs", "seed", "fidelity", "search")
    not_results: tuple[str, ...] = ()

    def prepare(self, cfg: Any) -> TaskPlan:
        plan = prepare_search(cfg)
        return TaskPlan("search", plan.fingerprint, plan.legacy_differences, plan)

    def run(self, cfg: Any, out_dir: Path, plan: TaskPlan) -> str:
        return search_task(cfg, Path(out_dir), plan.state)
