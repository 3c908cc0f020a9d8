"""Structured configs: the schema behind ``conf/`` and the validation at the boundary.

Hydra composes ``conf/config.yaml`` over this schema (types are checked while composing);
:func:`validate` then instantiates the dataclasses and runs each one's ``check()`` (ranges, names),
so a wrong value fails with the key, the value and the accepted options before any run starts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, OmegaConf

from nasearch.errors import NasearchError
from nasearch.suggest import did_you_mean

SCORE_SOURCES = ("store", "live")


def __getattr__(name: str) -> Any:
    # TASKS is computed from the task registry (nasearch.tasks: built-ins and installed plugins)
    if name == "TASKS":
        from nasearch.tasks import task_names

        return task_names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class ConfigError(NasearchError):
    """A config value out of range or not among the accepted options."""


def _bad(key: str, value: Any, accepted: str) -> ConfigError:
    return ConfigError(f"config key {key}={value!r} is not accepted: {accepted}")


@dataclass
class BenchmarkConf:
    name: str = "auto"
    """A registered benchmark (``nasearch.benchmarks.BENCHMARKS``: the NAS-Bench-201 table, AnalogNAS-Bench,
    NAS-Bench-Macro, TransNAS-Bench-101) or an alias (``nasearch.benchmarks.ALIASES``: 'auto', the
    NAS-Bench-201 table)."""
    path: str | None = None
    """The benchmark's file (default: its file under $NASEARCH_DATA if it exists, else the embedded one)."""

    def check(self) -> None:
        from nasearch.benchmarks import ALIASES, benchmark_names

        if self.name not in (*benchmark_names(), *ALIASES):
            accepted = (*benchmark_names(), *ALIASES)
            raise _bad("benchmark.name", self.name, "one of " + ", ".join(accepted) + did_you_mean(self.name, accepted))


@dataclass
class DatasetConf:
    name: str = "cifar10"
    """The dataset (NB201) or task (other spaces) searched on: one of the benchmark space's tasks."""
    time_budget: float = 12000.0
    """Default simulated search budget in seconds for this dataset (NB201 / NATS-Bench)."""

    def check(self, space: Any) -> None:
        """``space``: the configured benchmark's search space (``Config.space()``): its tasks are the
        accepted names."""
        accepted = tuple(space.tasks)
        if self.name not in accepted:
            raise _bad("dataset.name", self.name, "one of " + ", ".join(accepted)
                       + f" (benchmark space {space.name!r})" + did_you_mean(self.name, accepted))


@dataclass
class StrategyConf:
    name: str = "rs"
    params: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        from nasearch.strategies import strategy_names

        if self.name not in strategy_names():
            raise _bad("strategy.name", self.name, "one of " + ", ".join(strategy_names())
                       + did_you_mean(self.name, strategy_names()))


@dataclass
class ProxyConf:
    name: str = "none"
    """A registered proxy, or 'none' for the vanilla strategy."""
    n: int | None = None
    """Candidates the proxy screens per proposal (N of the GradSign paper). A search with a proxy must
    set it (``proxy.n=1`` is the vanilla arm of a comparison); tasks that use the proxy without N
    (mpi, score) ignore it. Validated configs hold an integer (1 when unset)."""
    k: int = 1
    """How many of the N best-by-proxy are evaluated."""
    batch_size: int = 64
    num_batches: int | None = None
    """Minibatches per score (default: the proxy's minimum, e.g. 2 for ZiCo)."""
    image_dataset: str | None = None
    """Images the proxy sees (default: the search dataset)."""
    seed: int = 0
    """Initialisation/minibatch seed of the scores (one score per cell, shared by all runs)."""
    source: str = "store"
    """'store': scores from the score store, missing ones computed and stored; 'live': no store."""
    store: str | None = None
    """SQLite score store (default: $NASEARCH_CACHE or ~/.cache/nasearch/scores.sqlite)."""
    shipped: bool = True
    """Beneath the store, read the score tables shipped in the package (nasearch.scoring.shipped);
    false: compute every score the store lacks."""
    charge_time: bool = False
    """Charge the proxy's compute time to the simulated clock (GradSign does not)."""
    checkpoint: str | None = None
    """Trained model file of a learned proxy (``ghn``): scores are keyed by its content hash.
    Default: the checkpoint shipped with the package."""
    program: str | None = None
    """An EZNAS program text for proxy=eznas (null: the authors' published program)."""

    @property
    def ref(self) -> str:
        """The name callers pass to the registry: ``name``, or ``name:program`` with a program."""
        return self.name if self.program is None else f"{self.name}:{self.program}"

    def check(self) -> None:
        from nasearch.proxies import get_proxy, proxy_names

        if self.name != "none" and self.name not in proxy_names():
            raise _bad("proxy.name", self.name, "'none' or one of " + ", ".join(proxy_names())
                       + did_you_mean(self.name, ("none", *proxy_names())))
        if self.checkpoint is not None and self.name != "none":
            from nasearch.proxies import get_proxy

            # the file must load (with proxy=none, e.g. task=mpi, it is checked when a proxy binds it)
            get_proxy(self.name, "proxy.name", checkpoint=self.checkpoint)
        if self.program is not None:
            if self.name != "eznas":
                raise _bad("proxy.program", self.program, "a program only for proxy=eznas (null otherwise)")
            get_proxy(self.ref, where="proxy.program")  # parses: a malformed program fails here
        if self.n is not None and self.n < 1:
            raise _bad("proxy.n", self.n, "an integer >= 1 (N candidates screened per proposal)")
        if not 1 <= self.k <= (self.n or 1):
            raise _bad("proxy.k", self.k, f"an integer in 1..proxy.n={self.n} (k <= N)")
        if self.batch_size < 1:
            raise _bad("proxy.batch_size", self.batch_size, "an integer >= 1")
        if self.num_batches is not None and self.num_batches < 1:
            raise _bad("proxy.num_batches", self.num_batches, "an integer >= 1 or null")
        if self.source not in SCORE_SOURCES:
            raise _bad("proxy.source", self.source, "one of " + ", ".join(SCORE_SOURCES))


@dataclass
class BudgetConf:
    seconds: float | None = None
    """Simulated training seconds (default: dataset.time_budget)."""
    queries: int | None = None

    def check(self) -> None:
        if self.seconds is not None and not (math.isfinite(self.seconds) and self.seconds > 0):
            raise _bad("budget.seconds", self.seconds, "a positive number of simulated seconds, or null")
        if self.queries is not None and self.queries < 1:
            raise _bad("budget.queries", self.queries, "an integer >= 1, or null")


@dataclass
class MPIConf:
    """Model performance inference: rank correlation of proxies with trained accuracy."""

    proxies: list[str] = field(default_factory=lambda: ["synflow", "jacob_cov", "gradsign", "zico"])
    cells: int = 1000
    include_disconnected: bool = False

    def check(self) -> None:
        from nasearch.proxies import get_proxy, proxy_names

        for p in self.proxies:
            if ":" in p:
                get_proxy(p, where="mpi.proxies")  # "eznas:<program>": a malformed program fails here
            elif p not in proxy_names():
                raise _bad("mpi.proxies", p, "registered proxies: " + ", ".join(proxy_names())
                           + did_you_mean(p, proxy_names()))
        if self.cells < 3:
            raise _bad("mpi.cells", self.cells, "an integer >= 3")


@dataclass
class ScoreConf:
    """Build a score table for the whole space or a seeded sample of it."""

    sample: int | None = None
    shard: int = 0
    """This job's part of the cells (nasearch index mod score.shards == score.shard)."""
    shards: int = 1
    """Number of parts (jobs) the cells are split into; each job writes its own proxy.store."""

    def check(self) -> None:
        if self.sample is not None and self.sample < 1:
            raise _bad("score.sample", self.sample, "an integer >= 1, or null for every cell of the space")
        if self.shards < 1:
            raise _bad("score.shards", self.shards, "an integer >= 1 (number of jobs the cells are split into)")
        if not 0 <= self.shard < self.shards:
            raise _bad("score.shard", self.shard, f"an integer in 0..score.shards-1 = 0..{self.shards - 1}")


@dataclass
class ExecutorConf:
    """Where scoring runs chunks of cells (see nasearch.executors)."""

    name: str = "local"
    """'local' (this process, or a pool of `workers` processes) or 'ray'."""
    address: str | None = None
    """Ray: 'auto' joins a running cluster, null/empty starts a local runtime, or host:port / ray://..."""
    num_cpus: int | None = None
    """Ray local runtime: CPUs it may use (default: all)."""
    num_gpus: float | None = None
    """Ray: GPUs per task when device is cuda (default 1; 0.25 packs four tasks on a GPU)."""

    def check(self) -> None:
        from nasearch.executors import executor_names

        executors = executor_names()
        if self.name not in executors:
            raise _bad("executor.name", self.name, "one of " + ", ".join(executors) + did_you_mean(self.name, executors))
        if self.num_cpus is not None and self.num_cpus < 1:
            raise _bad("executor.num_cpus", self.num_cpus, "an integer >= 1, or null for all CPUs")
        if self.num_gpus is not None and not self.num_gpus >= 0:
            raise _bad("executor.num_gpus", self.num_gpus, "a number >= 0 (GPUs per Ray task), or null")


@dataclass
class GHNTrainConf:
    """``task=train_ghn``: train a Graph HyperNetwork (nasearch.predictors.ghn_train)."""

    steps: int = 1000
    batch: int = 64
    """Training images per step."""
    cells: int = 1
    """Architectures sampled per step (a minibatch of graphs)."""
    lr: float = 1e-3
    T: int = 5
    """Forward-backward propagations of the GatedGNN."""
    hidden: int = 32
    message_hidden: int = 32
    hyper_hidden: int = 64
    seed: int = 0
    device: str = "cpu"
    checkpoint: str = "ghn.pt"
    """Checkpoint file: written every ``every`` steps; an existing one is resumed."""
    every: int = 50
    holdout: int = 2000
    """Training images held out for validation / prediction (never trained on)."""
    holdout_seed: int = 0
    eval_cells: int = 8
    eval_images: int = 512
    threads: int = 0
    """torch threads (0: leave torch's default)."""

    def check(self) -> None:
        for k in ("steps", "batch", "cells", "T", "hidden", "message_hidden", "hyper_hidden", "every",
                  "holdout", "eval_cells", "eval_images"):
            if getattr(self, k) < 1:
                raise _bad(f"ghn.{k}", getattr(self, k), "an integer >= 1")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise _bad("ghn.lr", self.lr, "a positive learning rate")
        if self.seed < 0 or self.holdout_seed < 0:
            raise _bad("ghn.seed", self.seed, "a non-negative integer")
        if self.device != "cpu" and not self.device.startswith(("cuda", "mps")):
            raise _bad("ghn.device", self.device, "cpu, cuda, cuda:N or mps")


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

    def check(self, space: Any) -> None:
        """``space``: the configured benchmark's search space: ``target`` is one of its tasks."""
        for key in ("population", "offspring", "tournament", "hall_of_fame", "cells", "validation_cells",
                    "subsample_batch", "subsample_channels", "init_min_depth", "batch_size"):
            if getattr(self, key) < 1:
                raise _bad(f"evolve.{key}", getattr(self, key), "an integer >= 1")
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
class Config:
    task: str = "search"
    benchmark: BenchmarkConf = field(default_factory=BenchmarkConf)
    dataset: DatasetConf = field(default_factory=DatasetConf)
    strategy: StrategyConf = field(default_factory=StrategyConf)
    proxy: ProxyConf = field(default_factory=ProxyConf)
    budget: BudgetConf = field(default_factory=BudgetConf)
    mpi: MPIConf = field(default_factory=MPIConf)
    score: ScoreConf = field(default_factory=ScoreConf)
    executor: ExecutorConf = field(default_factory=ExecutorConf)
    device: str = "cpu"
    """Where networks and proxies run: cpu, cuda, cuda:N or auto (CUDA when available)."""
    ghn: GHNTrainConf = field(default_factory=GHNTrainConf)
    evolve: EvolveConf = field(default_factory=EvolveConf)
    runs: int = 500
    seed: int = 0
    """Experiment seed; run i gets SeedSequence(seed).spawn(runs)[i]."""
    workers: int = 0
    """Processes (0: one per core, at most 8)."""
    fidelity: int | None = None
    """Epochs of search queries (default: the benchmark's lowest: NB201's 12-epoch protocol)."""
    progress: bool = True
    overwrite: bool = False
    """An output folder holding results of other settings is refused; ``overwrite=true`` moves it
    aside to ``<folder>.replaced-<time>`` (never deletes it) and starts afresh (nasearch.runfolder)."""

    def space(self) -> Any:
        """The search space of the configured benchmark (``bench.space``, known without loading it)."""
        from nasearch.benchmarks import benchmark_space

        return benchmark_space(self.benchmark.name, where="config key benchmark.name")

    def check(self) -> None:
        from nasearch.tasks import task_names

        tasks = task_names()
        if self.task not in tasks:
            raise _bad("task", self.task, "one of " + ", ".join(tasks) + did_you_mean(self.task, tasks))
        if self.runs < 1:
            raise _bad("runs", self.runs, "an integer >= 1")
        if self.workers < 0:
            raise _bad("workers", self.workers, "an integer >= 0 (0: one per core)")
        if self.seed < 0:
            raise _bad("seed", self.seed, "a non-negative integer")
        from nasearch.device import DeviceError, resolve_device

        try:  # cuda without a GPU is refused here, not silently run on the CPU
            resolve_device(self.device, where="config key device")
        except DeviceError as exc:
            raise ConfigError(str(exc)) from None


def validate(cfg: DictConfig) -> Config:
    """Instantiate the schema (running every ``__post_init__`` check) from a composed config."""
    obj = OmegaConf.to_object(cfg)
    assert isinstance(obj, Config)
    for part in (obj, obj.benchmark, obj.strategy, obj.proxy, obj.budget, obj.score, obj.executor):
        part.check()
    obj.dataset.check(obj.space())
    if obj.proxy.n is None:
        if obj.task == "search" and obj.proxy.name != "none":
            raise ConfigError(
                f"proxy={obj.proxy.name} in a search screens N candidates per proposal, and proxy.n is not set: "
                "give proxy.n=N (e.g. proxy.n=10); proxy.n=1 runs the vanilla strategy (nothing screened), "
                "as the vanilla arm of a comparison. Without a proxy, leave proxy=none"
            )
        obj.proxy.n = 1
    if obj.task == "mpi":
        obj.mpi.check()
    if obj.task == "train_ghn":
        obj.ghn.check()
    if obj.task == "evolve":
        obj.evolve.check(obj.space())
    return obj


def registry_names() -> dict[str, tuple[str, ...]]:
    """The config groups whose choices are registry names: group -> every registered name (built-ins
    and plugins installed through entry points, see :mod:`nasearch.registry`)."""
    from nasearch.benchmarks import benchmark_names
    from nasearch.executors import executor_names
    from nasearch.proxies import proxy_names
    from nasearch.strategies import strategy_names

    return {"proxy": tuple(proxy_names()), "strategy": tuple(strategy_names()), "benchmark": benchmark_names(),
            "executor": executor_names()}


def register_configs() -> None:
    """Store the schema and, for every registered proxy, strategy, benchmark and executor without a yaml
    file in ``conf/<group>/``, the group choice ``{name: NAME}`` (what a one-line yaml file would hold), so
    ``proxy=NAME`` accepts every name the registry has (a yaml file, where there is one, adds settings)."""
    from importlib import resources

    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    cs.store(name="nasearch_schema", node=Config)
    conf = resources.files("nasearch.conf")
    for group, names in registry_names().items():
        for name in names:
            if not conf.joinpath(group, f"{name}.yaml").is_file():
                cs.store(group=group, name=name, node={"name": name}, provider="nasearch")
