"""Helpers shared by the contract classes: small in-memory benchmarks, arch samples, batches."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from nasearch.benchmarks.base import BenchmarkError, Result, check_dataset, resolve_fidelity
from nasearch.space.base import SearchSpace, get_space
from nasearch.strategies.base import Strategy

FULL_ENUMERATION = 20_000
"""Spaces up to this size are checked over every arch, bigger ones on a sample."""


def sample_archs(space: SearchSpace, k: int = 500, seed: int = 0, full: int = FULL_ENUMERATION) -> list:
    """Every arch of a small space (index order), else ``k`` distinct ones drawn by index, sorted."""
    if space.num_archs <= full:
        return list(space.all_archs())
    idx = np.random.default_rng(seed).choice(space.num_archs, size=k, replace=False)
    return [space.from_index(int(i)) for i in sorted(idx)]


def non_trivial(space: SearchSpace, k: int, seed: int = 0) -> list:
    """``k`` distinct non-trivial archs, sampled with ``seed``."""
    rng = np.random.default_rng(seed)
    out: list = []
    for _ in range(100 * k + 1000):
        a = space.sample(rng)
        if not space.is_trivial(a) and a not in out:
            out.append(a)
            if len(out) == k:
                return out
    raise AssertionError(f"space {space.name!r}: fewer than {k} non-trivial archs found by sampling")


class IndexBench:
    """An in-memory benchmark of any space: accuracy a fixed function of the arch index (seeded
    noise), one fidelity per entry of ``fidelities``, training seconds when ``train_time``."""

    def __init__(self, space: SearchSpace | str, *, fidelities: tuple[int, ...] = (1,), train_time: bool = False,
                 datasets: tuple[str, ...] | None = None, seed: int = 7):
        self.space = get_space(space)
        self.name = f"index-{self.space.name}"
        self.datasets = tuple(datasets or (self.space.tasks[0],))
        self.fidelities = tuple(fidelities)
        self.has_train_time = train_time
        rng = np.random.default_rng(seed)
        self._acc = 50 + 40 * rng.random(self.space.num_archs)
        self._seconds = 10.0 + rng.integers(0, 7, self.space.num_archs).astype(float)

    def query(self, arch: Any, dataset: str, fidelity: int | None = None) -> Result:
        check_dataset(self, dataset)
        f = resolve_fidelity(self, fidelity)
        i = self.space.parse(arch).index
        acc = float(self._acc[i]) * (0.5 + 0.5 * (f / self.fidelities[-1]))
        secs = float(self._seconds[i]) * f / self.fidelities[-1] if self.has_train_time else None
        return Result(acc, acc, secs)

    def column(self, dataset: str, metric: str, fidelity: int | None = None) -> np.ndarray:
        check_dataset(self, dataset)
        f = resolve_fidelity(self, fidelity)
        scale = f / self.fidelities[-1]
        if metric in ("valid_acc", "test_acc"):
            return self._acc * (0.5 + 0.5 * scale)
        if metric == "train_seconds":
            return self._seconds * scale if self.has_train_time else np.full(self.space.num_archs, np.nan)
        raise BenchmarkError(f"unknown metric {metric!r}; accepted: valid_acc, test_acc, train_seconds")


def benchmark_for_space(space: SearchSpace | str) -> Any:
    """A registered benchmark of ``space`` that loads here (the first in registration order), else an
    :class:`IndexBench` of it."""
    from nasearch.benchmarks import BENCHMARK_REGISTRY

    space = get_space(space)
    for entry in BENCHMARK_REGISTRY.values():
        if entry.space != space.name:
            continue
        try:
            return entry.factory(None, where="nasearch.testing")
        except BenchmarkError:
            continue  # e.g. a table that needs $NASEARCH_DATA: try the next one of this space
    return IndexBench(space)


def data_root_or_none() -> Path | None:
    """``$NASEARCH_DATA`` when it holds CIFAR-10 images (proxies that need labels score them), else None."""
    root = os.environ.get("NASEARCH_DATA")
    path = Path(root).resolve() if root else None
    return path if path is not None and (path / "cifar-10-batches-py").is_dir() else None


def synthetic_batches(n: int, size: int, input_size: int = 32, num_classes: int = 10, seed: int = 0) -> list:
    """``n`` seeded minibatches of ``size`` Gaussian images (``input_size`` square) and labels."""
    import torch

    g = torch.Generator().manual_seed(seed)
    return [
        (torch.randn(size, 3, input_size, input_size, generator=g),
         torch.randint(0, num_classes, (size,), generator=g))
        for _ in range(n)
    ]


class ContractBase:
    """Parametrises a contract's tests from class attributes: a subclass's :meth:`params` maps an
    argument name of its tests to the values pytest runs them with (read when the tests are collected,
    so every registered plugin is a parameter)."""

    def params(self) -> dict[str, list[Any]]:
        return {}

    def pytest_generate_tests(self, metafunc: Any) -> None:
        for argname, values in self.params().items():
            if argname in metafunc.fixturenames:
                metafunc.parametrize(argname, list(values))


__all__ = ["ContractBase", "FULL_ENUMERATION", "IndexBench", "benchmark_for_space", "data_root_or_none",
           "non_trivial", "sample_archs", "synthetic_batches"]


class SyntheticObjectives(Strategy):
    """A multi-objective strategy (``multi_objective = True``) in the single-objective checks: every
    result is told with objectives (its validation accuracy, minus the sum of the cell's choices: a
    second objective every space has, higher is better), so the checks that drive strategies through
    the runner or by hand apply to it unchanged. Everything else passes through."""

    name = "synthetic-objectives"

    def __init__(self, inner: Any):
        self.inner = inner
        self.space, self.rng, self.fidelities = inner.space, inner.rng, inner.fidelities

    def ask(self, n: int = 1) -> list:
        return self.inner.ask(n)

    def tell(self, arch: Any, result: Result, fidelity: int) -> None:
        if result.objectives is None:
            from dataclasses import replace

            result = replace(result, objectives=(result.valid_acc, -float(sum(self.space.to_choices(arch)))))
        self.inner.tell(arch, result, fidelity)

    def fidelity_for(self, arch: Any) -> int | None:
        return self.inner.fidelity_for(arch)

    def take_overhead_seconds(self) -> float:
        return self.inner.take_overhead_seconds()

    def forget(self, archs: list) -> None:
        self.inner.forget(archs)


def with_objectives(strategy: Any) -> Any:
    """``strategy`` wrapped in :class:`SyntheticObjectives` when it is multi-objective, else itself."""
    return SyntheticObjectives(strategy) if getattr(type(strategy), "multi_objective", False) else strategy
