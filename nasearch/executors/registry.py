"""The executor registry: executors are chosen by name (``executor=local``, ``executor=ray``).

An executor registers a *factory* called with every executor option as a keyword
(``workers``, ``device``, ``address``, ``num_cpus``, ``num_gpus``; it takes what it uses and ignores
the rest through ``**options``) that returns an :class:`~nasearch.executors.base.Executor`. Built-ins
are registered by the modules of :data:`BUILTIN_MODULES`; executors of other packages by an entry
point of the group ``nasearch.executors`` naming the module that registers them
(:mod:`nasearch.registry`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nasearch.executors.base import Executor, ExecutorError
from nasearch.registry import Registry

ExecutorFactory = Callable[..., Executor]

BUILTIN_MODULES: tuple[str, ...] = ("nasearch.executors.local", "nasearch.executors.ray_executor")
"""The modules of this package that register executors, in the order :data:`EXECUTORS` lists them."""

EXECUTOR_REGISTRY: Registry[ExecutorFactory] = Registry(
    "executor", error=ExecutorError, builtins=BUILTIN_MODULES, sort=False
)
"""Every executor factory: built-ins and the entry points of the group ``nasearch.executors``."""


def register_executor(name: str) -> Callable[[ExecutorFactory], ExecutorFactory]:
    """Decorator: register ``factory(**options) -> Executor`` as the executor ``name``."""
    return EXECUTOR_REGISTRY.register(name)


def executor_names() -> tuple[str, ...]:
    """Every registered executor: the built-ins (local, ray), then installed plugins."""
    return EXECUTOR_REGISTRY.names()


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
    factory = EXECUTOR_REGISTRY.get(name, where)
    options: dict[str, Any] = {"workers": workers, "device": device, "address": address, "num_cpus": num_cpus,
                               "num_gpus": num_gpus}
    return factory(**options)


__all__ = ["BUILTIN_MODULES", "EXECUTOR_REGISTRY", "ExecutorFactory", "executor_names", "make_executor",
           "register_executor"]
