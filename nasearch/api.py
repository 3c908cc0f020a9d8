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
:func:`nasearch.space.get_space`, :func:`nasearch.proxies.scoring.score_cells`,
:func:`nasearch.search.run_search`, :func:`nasearch.results.collect`.

Errors are the project's own exceptions (``ConfigError``, ``ProxyError``, ``BenchmarkError``, ...),
each naming the bad value, what is accepted and where it came from; the CLI prints the same message.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nasearch.config import Config
    from nasearch.results import ArmSummary

CONFIG_MODULE = "nasearch.conf"


def config(*overrides: str) -> Config:
    """The validated config of one job, composed from ``overrides`` exactly as ``nasearch`` does.

    Raises :class:`~nasearch.config.ConfigError` (or the error of the part that rejects a value)
    naming the key, the value and what is accepted."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from nasearch.config import ConfigError, register_configs, validate

    register_configs()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module=CONFIG_MODULE, version_base=None):
            try:
                cfg = compose(config_name="config", overrides=list(overrides))
            except (HydraException, OmegaConfBaseException) as exc:
                raise ConfigError(
                    f"cannot compose the config from overrides {list(overrides)}: {' '.join(str(exc).split())}"
                ) from exc
            return validate(cfg)
    finally:
        GlobalHydra.instance().clear()


def run_task(cfg: Config, out_dir: str | Path) -> str:
    """Run the task of a validated config (``search``, ``mpi``, ``score``, ``evolve``,
    ``train_ghn``) into ``out_dir``; return its markdown table. The CLI calls this too."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.task == "search":
        from nasearch.experiments.search import search_task

        return search_task(cfg, out)
    if cfg.task == "mpi":
        from nasearch.experiments.mpi import mpi_task

        return mpi_task(cfg, out)
    if cfg.task == "evolve":
        from nasearch.experiments.evolve import evolve_task

        return evolve_task(cfg, out)
    if cfg.task == "train_ghn":
        from nasearch.predictors.ghn_train import train_ghn_task

        return train_ghn_task(cfg, out)
    from nasearch.experiments.score import score_task

    return score_task(cfg, out)


def run(*overrides: str, out_dir: str | Path | None = None) -> str:
    """Compose, validate and run one job (``nasearch OVERRIDES``); return its markdown table.

    ``out_dir`` (default: a new temporary folder) receives what the CLI writes under
    ``hydra.run.dir``; rerunning into the same folder resumes a search job."""
    cfg = config(*overrides)
    return run_task(cfg, out_dir if out_dir is not None else tempfile.mkdtemp(prefix="nasearch-"))


def compare(
    *arms: Sequence[str], common: Sequence[str] = (), out_dir: str | Path | None = None
) -> list[ArmSummary]:
    """Run several search arms (each a list of overrides, ``common`` added to all) into sub-folders
    of ``out_dir`` and collect them like a sweep: one :class:`~nasearch.results.ArmSummary` per arm
    with mean +- std on every dataset and, for assisted arms, the paired Wilcoxon test against the
    vanilla arm of the same strategy (every arm uses the same seed list). Writes
    ``collected.csv/.md`` and the anytime plots in ``out_dir``."""
    from nasearch.config import ConfigError
    from nasearch.results import collect

    if not arms:
        raise ConfigError("compare() needs at least one arm (a list of overrides such as ['strategy=rea'])")
    root = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix="nasearch-compare-"))
    cfgs = [config(*common, *arm) for arm in arms]  # validate every arm before running any
    for i, (arm, cfg) in enumerate(zip(arms, cfgs)):
        if cfg.task != "search":
            raise ConfigError(f"compare() runs search arms; arm {i} {list(arm)} has task={cfg.task!r}")
        run_task(cfg, root / f"{i}_{','.join(arm) or 'defaults'}".replace("/", "_"))
    return collect(root)


__all__ = ["compare", "config", "run", "run_task"]
