"""The Python API: what ``nasearch KEY=VALUE ...`` does, from a notebook, in a few lines.

The CLI is a thin layer over this module: both compose the same Hydra config (``conf/``, shipped as
``nasearch.conf``) from the same overrides, validate it with the same checks, and run the same task
functions (:func:`run_task`). So every command line in the README has a Python twin::

    import nasearch.api as nas

    cfg = nas.config("strategy=rea", "proxy=gradsign", "proxy.n=10", "runs=100")   # validated Config
    print(nas.run("strategy=rea", "runs=100", out_dir="out/rea"))                  # one job: its table
    table = nas.compare(["strategy=rea"], ["strategy=rea", "proxy=gradsign", "proxy.n=10"],
                        common=["runs=100"], out_dir="out/headline")               # arms + paired tests
    for arm in table:                                                              # ArmSummary rows
        print(arm.label, arm.mean["cifar10"], arm.p_value)

Lower-level pieces are plain functions too: :func:`nasearch.benchmarks.make_benchmark`,
:func:`nasearch.space.get_space`, :func:`nasearch.scoring.score_cells`,
:func:`nasearch.search.run_search`, :func:`nasearch.results.collect`.

Errors are the project's own exceptions (``ConfigError``, ``ProxyError``, ``BenchmarkError``, ...),
each naming the bad value, what is accepted and where it came from; the CLI prints the same message.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from nasearch.results import RunResult, load
from nasearch.tasks import TaskPlan

if TYPE_CHECKING:
    from nasearch.config import Config

CONFIG_MODULE = "nasearch.conf"


def config(*overrides: str) -> Config:
    """The validated config of one job, composed from ``overrides`` exactly as ``nasearch`` does.

    Raises :class:`~nasearch.config.ConfigError` (or the error of the part that rejects a value)
    naming the key, the value and what is accepted."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from nasearch.config import ConfigError, free_key_overrides, register_configs, validate

    register_configs()
    GlobalHydra.instance().clear()
    overrides = tuple(free_key_overrides(list(overrides)))
    try:
        with initialize_config_module(config_module=CONFIG_MODULE, version_base=None):
            try:
                cfg = compose(config_name="config", overrides=list(overrides))
            except (HydraException, OmegaConfBaseException) as exc:
                from nasearch.suggest import unknown_override_message

                unknown = unknown_override_message(exc, list(overrides), source="the overrides")
                if unknown is not None:
                    raise ConfigError(unknown) from exc
                raise ConfigError(
                    f"cannot compose the config from overrides {list(overrides)}: {' '.join(str(exc).split())}"
                ) from exc
            return validate(cfg)
    finally:
        GlobalHydra.instance().clear()


def prepare(cfg: Config) -> TaskPlan:
    """Every precondition of ``cfg``'s task that can fail, checked before any file is written: the
    benchmark opens and is complete, the strategy takes its params, the images a proxy or a GHN needs
    are there unless every score it needs is stored, the device exists (checked when ``cfg`` was
    validated). Raises the project's errors (``ConfigError``, ``BenchmarkError``, ``DataError``, ...).

    The task is the one registered as ``cfg.task`` (:mod:`nasearch.tasks`: the built-ins and installed
    plugins); its ``prepare`` does the checks."""
    from nasearch.tasks import get_task

    return get_task(cfg.task, "config key task").prepare(cfg)


def run_task(cfg: Config, out_dir: str | Path, plan: TaskPlan | None = None) -> str:
    """Run the task of a validated config (``search``, ``mpi``, ``score``, ``evolve``,
    ``train_ghn``, or a task an installed plugin registers) into ``out_dir``; return its markdown
    table (also written to ``summary.md`` where the task writes no table of its own). The CLI calls
    this too.

    Before any work: :func:`prepare` (unless ``plan`` is given), then the folder is claimed
    (:func:`nasearch.runfolder.claim_folder`): a folder holding results of other settings is refused
    naming every differing key, or moved aside with ``overwrite=true``; the same settings resume."""
    from nasearch.runfolder import claim_folder
    from nasearch.tasks import get_task

    task = get_task(cfg.task, "config key task")
    out = Path(out_dir)
    plan = plan or task.prepare(cfg)
    claim_folder(out, plan.fingerprint, overwrite=cfg.overwrite, legacy=plan.legacy)
    return task.run(cfg, out, plan)


def run(*overrides: str, out_dir: str | Path | None = None) -> RunResult:
    """Compose, validate and run one job (``nasearch OVERRIDES``) in this process; return its results
    as data (:class:`~nasearch.results.RunResult`: ``.runs`` and ``.summary`` DataFrames, ``.arms``,
    ``.table``; ``print()`` shows the table).

    ``out_dir`` (default: a new temporary folder) receives what the CLI writes under
    ``hydra.run.dir``; rerunning with the same settings into the same folder resumes, other settings
    are refused (add ``"overwrite=true"`` to move the old folder aside). Safe in a script without a
    main guard and in a notebook: a tabular search runs in this process, and worker processes, when
    scoring needs them, never re-run the calling script."""
    cfg = config(*overrides)
    out = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix="nasearch-"))
    run_task(cfg, out)
    return load(out)


def compare(
    *arms: Sequence[str], common: Sequence[str] = (), out_dir: str | Path | None = None
) -> RunResult:
    """Run several search arms (each a list of overrides, ``common`` added to all) into sub-folders
    of ``out_dir`` and collect them like a sweep; return the sweep as data
    (:class:`~nasearch.results.RunResult`): ``.arms`` has one :class:`~nasearch.results.ArmSummary`
    per arm with mean +- std on every dataset and, for assisted arms, the paired Wilcoxon test against
    the vanilla arm of the same strategy (every arm uses the same seed list); ``.summary`` the same as
    a DataFrame, ``.runs`` every run. Writes ``collected.csv/.md`` and the anytime plots in ``out_dir``.
    Every arm is validated and checked (folder settings, preconditions) before any arm runs."""
    from nasearch.config import ConfigError
    from nasearch.results import collect
    from nasearch.runfolder import check_folder

    if not arms:
        raise ConfigError("compare() needs at least one arm (a list of overrides such as ['strategy=rea'])")
    root = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix="nasearch-compare-"))
    cfgs = [config(*common, *arm) for arm in arms]  # validate every arm before running any
    for i, (arm, cfg) in enumerate(zip(arms, cfgs)):
        if cfg.task != "search":
            raise ConfigError(f"compare() runs search arms; arm {i} {list(arm)} has task={cfg.task!r}")
    folders = [root / f"{i}_{','.join(arm) or 'defaults'}".replace("/", "_") for i, arm in enumerate(arms)]
    plans = [prepare(cfg) for cfg in cfgs]
    for cfg, plan, folder in zip(cfgs, plans, folders):
        if not cfg.overwrite:
            check_folder(folder, plan.fingerprint, legacy=plan.legacy)
    for cfg, plan, folder in zip(cfgs, plans, folders):
        run_task(cfg, folder, plan)
    collect(root)
    return load(root)


__all__ = ["RunResult", "TaskPlan", "compare", "config", "load", "prepare", "run", "run_task"]
