"""Executors: where the scoring engine runs chunks of cells (one interface, chosen by name).

``local``: the scoring process itself or a process pool on this machine (:mod:`.local`); ``ray``:
Ray tasks on a local runtime or a cluster (:mod:`.ray_executor`, optional extra ``nasearch[ray]``).
Every executor yields results to the driver, which alone writes the score store, so a killed run
resumes the same way whichever executor ran it. See :mod:`.base` for the interface.
"""

from __future__ import annotations

from typing import Any

from nasearch.executors.base import ChunkResult, Executor, ExecutorError, ScoringJob, run_chunk

EXECUTORS = ("local", "ray")


def make_executor(
    name: str,
    *,
    workers: int = 1,
    device: str = "cpu",
    address: str | None = None,
    num_cpus: int | None = None,
    num_gpus: float | None = None,
    where: str = "executor",
) -> Executor:
    """The executor registered as ``name`` (``local`` uses ``workers``; ``ray`` uses ``address``,
    ``num_cpus`` for a local runtime and ``num_gpus`` per task)."""
    if name == "local":
        from nasearch.executors.local import LocalExecutor

        return LocalExecutor(workers=workers)
    if name == "ray":
        from nasearch.executors.ray_executor import RayExecutor

        return RayExecutor(address=address, num_cpus=num_cpus, num_gpus=num_gpus, device=device)
    raise ExecutorError(f"unknown executor {name!r} ({where}); accepted: {', '.join(EXECUTORS)}")


def executor_options(cfg: Any) -> dict[str, Any]:
    """``make_executor`` keyword arguments from a config's ``executor`` node (address, num_cpus, num_gpus)."""
    ex = cfg.executor
    return {"address": ex.address, "num_cpus": ex.num_cpus, "num_gpus": ex.num_gpus}


__all__ = ["EXECUTORS", "ChunkResult", "Executor", "ExecutorError", "ScoringJob", "executor_options",
           "make_executor", "run_chunk"]
