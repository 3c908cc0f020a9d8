"""Executors: where the scoring engine runs chunks of cells (one interface, chosen by name).

``local``: the scoring process itself or a process pool on this machine (:mod:`.local`); ``ray``:
Ray tasks on a local runtime or a cluster (:mod:`.ray_executor`, optional extra ``nasearch[ray]``).
Every executor yields results to the driver, which alone writes the score store, so a killed run
resumes the same way whichever executor ran it. See :mod:`.base` for the interface.
"""

from __future__ import annotations

from typing import Any

from nasearch.executors.base import ChunkResult, Executor, ExecutorError, ScoringJob, run_chunk
from nasearch.executors.registry import EXECUTOR_REGISTRY, executor_names, make_executor, register_executor


def __getattr__(name: str) -> Any:
    # EXECUTORS is computed from the registry (built-ins and installed plugins' entry points)
    if name == "EXECUTORS":
        return executor_names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def executor_options(cfg: Any) -> dict[str, Any]:
    """``make_executor`` keyword arguments from a config's ``executor`` node (address, num_cpus, num_gpus)."""
    ex = cfg.executor
    return {"address": ex.address, "num_cpus": ex.num_cpus, "num_gpus": ex.num_gpus}


__all__ = ["EXECUTORS", "EXECUTOR_REGISTRY", "ChunkResult", "Executor", "ExecutorError", "ScoringJob",
           "executor_names", "executor_options", "make_executor", "register_executor", "run_chunk"]
