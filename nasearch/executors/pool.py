"""The one way nasearch starts worker processes: a ``spawn`` pool that is safe to create anywhere.

Every process pool in the package (scoring chunks, search runs, EZNAS statistics and fitness) comes
from :func:`process_pool`, so three hazards are handled once:

* **Scripts without a main guard.** Python's ``spawn`` start method re-executes the parent's main
  script in every child (as ``__mp_main__``), so ``nas.run(...)`` at the top level of a script
  without ``if __name__ == "__main__":`` would run again in each worker and fail with
  ``BrokenProcessPool``. nasearch's workers only run functions of the ``nasearch`` package, never
  the user's script, so the pool starts its children the way it does from a notebook: the child is
  told nothing about the parent's main module (see :class:`_ScriptFreeProcess`).
* **Callers that are themselves pool workers.** A daemonic process (a worker of the user's own
  ``multiprocessing.Pool`` or of another library's pool) may not start children;
  :func:`can_start_processes` says so and the callers run the work in their own process instead.
  Results do not depend on the worker count (the package's reproducibility contract), so this
  changes the wall time only; it is logged.
* **Forked torch state.** ``spawn`` rather than ``fork``: a fork would copy the parent's torch
  thread pools and CUDA state.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import sys
import threading
import types
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import context as mp_context
from typing import Any

log = logging.getLogger(__name__)

_LAUNCH_LOCK = threading.Lock()


@contextmanager
def _main_hidden() -> Iterator[None]:
    """While a child is launched, ``sys.modules['__main__']`` is a blank module: ``spawn`` then
    records neither a main path nor a main module name, so the child does not re-run the script."""
    with _LAUNCH_LOCK:
        real = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            yield
        finally:
            if real is not None:
                sys.modules["__main__"] = real


class _ScriptFreeProcess(mp_context.SpawnProcess):
    """A spawned process whose preparation data omits the parent's main script."""

    @staticmethod
    def _Popen(process_obj: Any) -> Any:  # noqa: N802 - multiprocessing's name
        with _main_hidden():
            return mp_context.SpawnProcess._Popen(process_obj)


class _ScriptFreeContext(mp_context.SpawnContext):
    Process = _ScriptFreeProcess


SPAWN = _ScriptFreeContext()
"""The start context of every nasearch worker process."""


def can_start_processes() -> bool:
    """False inside a daemonic process (a pool worker), which may not have children."""
    return not mp.current_process().daemon


def process_pool(
    workers: int, *, initializer: Callable[..., None] | None = None, initargs: tuple = (), what: str = "work"
) -> ProcessPoolExecutor | None:
    """A pool of ``workers`` spawned processes, or None where the work should run in this process
    (``workers <= 1``, or this process is a daemonic pool worker; the latter is logged)."""
    if workers <= 1:
        return None
    if not can_start_processes():
        log.warning("running %s in this process: it is a daemonic worker (%s), which may not start "
                    "the %d worker processes asked for; results are the same", what,
                    mp.current_process().name, workers)
        return None
    return ProcessPoolExecutor(max_workers=workers, mp_context=SPAWN, initializer=initializer, initargs=initargs)


__all__ = ["SPAWN", "can_start_processes", "process_pool"]
