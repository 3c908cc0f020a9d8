"""The task registry: what ``nasearch task=NAME`` (and :func:`nasearch.api.run_task`) runs.

A task is an object with

* ``name``: the value of the ``task`` config key;
* ``prepare(cfg) -> TaskPlan``: every check of the job that can fail, before anything is written, and
  the job's settings fingerprint (:func:`nasearch.runfolder.fingerprint`);
* ``run(cfg, out_dir, plan) -> str``: the job itself, into ``out_dir`` (already claimed for the
  plan's fingerprint by :func:`nasearch.api.run_task`); returns its markdown table;
* optionally ``section`` and ``conf``: the task's own config section (``cfg.<section>``, the Hydra
  group of its settings) and its dataclass, which the config schema gains
  (:func:`nasearch.config.schema`); ``conf.check(space)``, if defined, validates it (``space``: the
  configured benchmark's search space) when the task is the one run;
* optionally ``keys``: the config sections (or dotted keys) whose values decide the task's results
  (its settings fingerprint, :func:`nasearch.runfolder.fingerprint`; default: every section), and
  ``not_results``: dotted keys inside them that only say where or how fast the work runs.

Built-in tasks (search, mpi, score, train_ghn, evolve) are registered by their own modules
(:data:`BUILTIN_MODULES`, one per task: its config section, checks, fingerprint keys and the job); tasks of other packages by an entry point of the group ``nasearch.tasks``
naming the module that registers them (:mod:`nasearch.registry`). This module is part of the core:
it imports only the standard library and :mod:`nasearch.registry`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from nasearch.errors import NasearchError
from nasearch.registry import Registry


class TaskError(NasearchError):
    """An unknown task, or a task plugin registered twice."""


@dataclass
class TaskPlan:
    """A job checked before it writes anything (``Task.prepare``): its settings fingerprint, how to
    read a folder written before fingerprints (``legacy``), and what the checks resolved (``state``,
    e.g. the search's loaded benchmark and scorer), handed to the task so nothing is done twice."""

    task: str
    fingerprint: dict[str, Any]
    legacy: Callable[[Path], list[str] | None] | None = None
    state: Any = None


@runtime_checkable
class Task(Protocol):
    name: str
    """The value of the ``task`` config key."""

    def prepare(self, cfg: Any) -> TaskPlan:
        """Check every precondition of the job; return its plan (settings fingerprint)."""
        ...

    def run(self, cfg: Any, out_dir: Path, plan: TaskPlan) -> str:
        """Run the job into ``out_dir``; return its markdown table."""
        ...


BUILTIN_MODULES: tuple[str, ...] = tuple(
    f"nasearch.experiments.{m}" for m in ("search", "mpi", "score", "train_ghn", "evolve"))
"""The modules of this package that register tasks."""

TASK_REGISTRY: Registry[Task] = Registry("task", error=TaskError, builtins=BUILTIN_MODULES, sort=False)
"""Every task: built-ins and the entry points of the group ``nasearch.tasks``."""


def register_task(task: Any) -> Any:
    """Register ``task`` (an object, or a class instantiated without arguments) under ``task.name``;
    returns its argument, so it decorates a class."""
    obj = task() if isinstance(task, type) else task
    if not getattr(obj, "name", ""):
        raise TypeError(f"{task!r} has no name")
    TASK_REGISTRY.register(obj.name, obj, origin=f"{type(obj).__module__}.{type(obj).__qualname__}")
    return task


def task_sections() -> dict[str, type]:
    """Config section -> dataclass of every registered task that declares one (``section``, ``conf``)."""
    out: dict[str, type] = {}
    for name in task_names():
        task = get_task(name)
        section, conf = getattr(task, "section", None), getattr(task, "conf", None)
        if section and conf is not None:
            if section in out and out[section] is not conf:
                raise TaskError(f"config section {section!r} is declared by two tasks (the second: task {name!r})")
            out[section] = conf
    return out


def task_names() -> tuple[str, ...]:
    """Every registered task: the built-ins, then installed plugins."""
    return TASK_REGISTRY.names()


def get_task(name: str, where: str = "") -> Task:
    return TASK_REGISTRY.get(name, where)


__all__ = ["BUILTIN_MODULES", "TASK_REGISTRY", "Task", "TaskError", "TaskPlan", "get_task", "register_task",
           "task_names", "task_sections"]
