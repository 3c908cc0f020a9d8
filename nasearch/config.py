"""Structured configs: the schema behind ``conf/`` and the validation at the boundary.

Hydra composes ``conf/config.yaml`` over this schema (types are checked while composing);
:func:`validate` then instantiates the dataclasses and runs each one's ``check()`` (ranges, names),
so a wrong value fails with the key, the value and the accepted options before any run starts.
"""

from __future__ import annotations

import dataclasses
import functools
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
    if name == "TaskConfig":  # the schema class, built from the task registry (and found so by pickle)
        return schema()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class ConfigError(NasearchError):
    """A config value out of range or not among the accepted options."""


FREE_KEY_SECTIONS: tuple[str, ...] = ("search.constraints",)
"""Config mappings whose keys are the user's to choose (a constraint per metric the benchmark
declares): ``search.constraints.flops=50`` adds the key, as Hydra's ``++`` form would
(:func:`free_key_overrides`)."""


def free_key_overrides(overrides: list[str]) -> list[str]:
    """``overrides`` with every plain ``KEY=VALUE`` below a :data:`FREE_KEY_SECTIONS` mapping written
    in Hydra's add-or-override form (``++KEY=VALUE``), so such a key need not exist beforehand."""
    out = []
    for o in overrides:
        key = o.partition("=")[0]
        if "=" in o and not o.startswith(("+", "~")) and any(key.startswith(p + ".") for p in FREE_KEY_SECTIONS):
            o = "++" + o
        out.append(o)
    return out


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
    network: str | None = None
    """The task whose networks a search's proxy scores (default: the search dataset). TransNAS's
    decoder tasks (autoencoder, segmentsemantic, normal, room_layout) have networks no proxy reads:
    screen them by a classification task's network of the same cell (``proxy.network=class_scene``,
    as the cross-space study correlates them)."""
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
    members: list[str] | None = None
    """For proxy=ensemble: the member proxies whose ranks are combined (at least two registered
    proxies; presets such as ``proxy=az_nas`` name their own)."""
    combine: str = "logrank"
    """For proxy=ensemble: ``logrank`` (AZ-NAS's sum of log rank fractions), ``meanrank`` or ``zscore``."""
    ranking: str = "run"
    """For proxy=ensemble: rank among the cells scored together (``run``) or against each member's
    whole-space table (``space``)."""

    @property
    def vanilla(self) -> bool:
        """Whether a search with this section screens nothing (no proxy, or N = 1:
        :func:`nasearch.strategies.prefilter.is_vanilla`)."""
        from nasearch.strategies.prefilter import is_vanilla

        return is_vanilla(self.name, 1 if self.n is None else self.n)

    @property
    def ref(self) -> str:
        """The name callers pass to the registry: ``name``, ``name:program`` with a program, or the
        ensemble's canonical name (``ensemble:M1+M2/COMBINE/RANKING``) for ``proxy=ensemble``."""
        if self.name == "ensemble":
            from nasearch.proxies.ensembles import ensemble_ref

            return ensemble_ref(list(self.members or ()), self.combine, self.ranking)
        return self.name if self.program is None else f"{self.name}:{self.program}"

    def check(self) -> None:
        from nasearch.proxies import get_proxy, proxy_names

        if self.name not in ("none", "ensemble") and self.name not in proxy_names():
            raise _bad("proxy.name", self.name, "'none', 'ensemble' or one of " + ", ".join(proxy_names())
                       + did_you_mean(self.name, ("none", "ensemble", *proxy_names())))
        if self.name == "ensemble":
            if not self.members:
                raise _bad("proxy.members", self.members, "for proxy=ensemble, a list of at least two registered "
                           "proxies, e.g. proxy.members=[synflow,zico,naswot]")
            get_proxy(self.ref, where="proxy.members / proxy.combine / proxy.ranking")
        elif self.members is not None or (self.combine, self.ranking) != ("logrank", "run"):
            raise _bad("proxy.members" if self.members is not None else "proxy.combine / proxy.ranking",
                       self.members if self.members is not None else f"{self.combine} / {self.ranking}",
                       "members, combine and ranking only with proxy=ensemble (presets such as az_nas fix their own)")
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
class Config:
    """The settings every task shares. The schema Hydra composes (:func:`schema`) adds each registered
    task's own section (``mpi``, ``score``, ``ghn``, ``evolve``, a plugin's), declared by the task
    (:mod:`nasearch.tasks`)."""

    task: str = "search"
    benchmark: BenchmarkConf = field(default_factory=BenchmarkConf)
    dataset: DatasetConf = field(default_factory=DatasetConf)
    strategy: StrategyConf = field(default_factory=StrategyConf)
    proxy: ProxyConf = field(default_factory=ProxyConf)
    budget: BudgetConf = field(default_factory=BudgetConf)
    executor: ExecutorConf = field(default_factory=ExecutorConf)
    device: str = "cpu"
    """Where networks and proxies run: cpu, cuda, cuda:N or auto (CUDA when available)."""
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


@functools.cache
def schema() -> type[Config]:
    """The config schema: :class:`Config` plus one field per task section (``cfg.mpi``, ``cfg.score``,
    ...; :func:`nasearch.tasks.task_sections`), each defaulting to its dataclass's defaults. The class is
    ``nasearch.config.TaskConfig`` (pickled by that name)."""
    from nasearch.tasks import task_sections

    sections = task_sections()
    clash = sorted(set(sections) & {f.name for f in dataclasses.fields(Config)})
    if clash:
        raise ConfigError(f"task config section(s) {', '.join(clash)} clash with the shared config keys")
    cls = dataclasses.make_dataclass(
        "TaskConfig", [(name, conf, field(default_factory=conf)) for name, conf in sections.items()],
        bases=(Config,))
    cls.__module__ = __name__  # pickled as nasearch.config.TaskConfig (see __getattr__)
    cls.__doc__ = Config.__doc__
    return cls


def validate(cfg: DictConfig) -> Config:
    """Instantiate the schema from a composed config and check it: the shared sections, then the
    running task's own section (its dataclass's ``check(space)``)."""
    from nasearch.tasks import get_task

    obj = OmegaConf.to_object(cfg)
    assert isinstance(obj, Config)
    for part in (obj, obj.benchmark, obj.strategy, obj.proxy, obj.budget, obj.executor):
        part.check()
    space = obj.space()
    obj.dataset.check(space)
    if obj.proxy.n is None:
        if obj.task == "search" and obj.proxy.name != "none":
            raise ConfigError(
                f"proxy={obj.proxy.name} in a search screens N candidates per proposal, and proxy.n is not set: "
                "give proxy.n=N (e.g. proxy.n=10); proxy.n=1 runs the vanilla strategy (nothing screened), "
                "as the vanilla arm of a comparison. Without a proxy, leave proxy=none"
            )
        obj.proxy.n = 1
    section = getattr(get_task(obj.task, "config key task"), "section", None)
    check = getattr(getattr(obj, section), "check", None) if section else None
    if check is not None:
        check(space)
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
    cs.store(name="nasearch_schema", node=schema())
    conf = resources.files("nasearch.conf")
    for group, names in registry_names().items():
        for name in names:
            if not conf.joinpath(group, f"{name}.yaml").is_file():
                cs.store(group=group, name=name, node={"name": name}, provider="nasearch")
    # proxy=ensemble: a rank ensemble of the proxies in proxy.members (not a registered name)
    cs.store(group="proxy", name="ensemble", node={"name": "ensemble"}, provider="nasearch")
