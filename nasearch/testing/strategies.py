"""The strategy contract: what every search strategy (built-in or plugin) must do.

Subclass :class:`StrategyContract` and set ``name`` to the strategy's registry name::

    from nasearch.testing import StrategyContract

    class TestToyStrategy(StrategyContract):
        name = "toy_strategy"

Checks, alone and behind the proxy pre-filter: the class is registered under its ``name`` with a
paper and a documented module; any interleaving of ``ask`` and ``tell`` (several asks before a tell,
tells in shuffled order, some proposals never told) yields 1..n valid archs of the space at fidelities
the benchmark records; asynchronous workers (rounds of four ``ask(1)`` whose results, from a real
benchmark of the space, are told in reverse order) get valid archs, reproducibly; the same seed gives
the same trajectory and other seeds another; and the strategy searches every space of ``spaces``
(default: every registered space) reproducibly.
"""

from __future__ import annotations

import math
import sys
from typing import Any, ClassVar

import numpy as np
import pytest

from nasearch.testing._common import ContractBase, IndexBench, benchmark_for_space, with_objectives

PREFILTERS = ("vanilla", "prefilter")


def _stand_in_proxy(archs: list) -> np.ndarray:
    """A deterministic stand-in proxy: prefers low indices."""
    return -np.array([a.index for a in archs], dtype=float)


class StrategyContract(ContractBase):
    """Contract tests of one strategy; set ``name``."""

    name: ClassVar[str] = ""
    """Registry name of the strategy under test."""
    space: ClassVar[str] = "nb201"
    """The space the ask/tell and reproducibility checks run on."""
    spaces: ClassVar[tuple[str, ...] | None] = None
    """Spaces the strategy must search (None: every registered space)."""
    settings: ClassVar[dict[str, Any]] = {}
    """Keyword settings the strategy is constructed with (``strategy.params``)."""
    stand_in_proxy = staticmethod(_stand_in_proxy)
    """The pre-filter's scorer in these checks: a deterministic function of the archs (default: prefers
    low indices)."""

    def params(self) -> dict[str, list[Any]]:
        from nasearch.space import space_names

        return {"pf": list(PREFILTERS), "space_name": list(self.spaces if self.spaces is not None else space_names())}

    def make(self, pf: str, seed: int, fidelities: tuple[int, ...], *, space: Any = None, proxy: Any = None,
             n: int = 4) -> Any:
        """The strategy (seeded), wrapped in a pre-filter of ``n`` when ``pf == "prefilter"``."""
        from nasearch.strategies import get_strategy
        from nasearch.strategies.prefilter import PreFilter

        inner = with_objectives(get_strategy(self.name)(np.random.default_rng(seed), space=space or self.space,
                                                        fidelities=fidelities, **self.settings))
        return PreFilter(inner, proxy or self.stand_in_proxy, n=n) if pf == "prefilter" else inner

    def benchmark(self) -> Any:
        """The benchmark of the reproducibility check (single fidelity, with training times); override
        to use another."""
        return IndexBench(self.space, fidelities=(50,), train_time=True)

    # ------------------------------------------------------------------------------ registry
    def test_registered(self) -> None:
        from nasearch.strategies import Strategy, get_strategy, strategy_names

        assert self.name, f"{type(self).__name__}: set the class attribute name to the strategy's registry name"
        assert self.name in strategy_names()
        cls = get_strategy(self.name)
        assert isinstance(cls, type) and issubclass(cls, Strategy)
        assert cls.name == self.name and cls.paper
        assert sys.modules[cls.__module__].__doc__, f"strategy module of {self.name!r} has no docstring"

    # ------------------------------------------------------------------------------ ask / tell
    @staticmethod
    def assert_valid_arch(space: Any, a: Any) -> None:
        """``a`` is an arch of ``space``: the space's own object for its index, with a valid choice vector."""
        own = space.from_index(a.index)
        assert type(a) is type(own) and a == own and hash(a) == hash(own) and space.parse(a) is a
        c = space.to_choices(a)
        assert all(type(v) is int and 0 <= v < k for v, k in zip(c, space.positions))

    @pytest.mark.parametrize("fidelities", [(12, 200), (50,), ()], ids=["two-fid", "one-fid", "no-fid"])
    def test_any_interleaving_of_ask_and_tell(self, pf: str, fidelities: tuple[int, ...]) -> None:
        """Valid archs only; several asks before a tell, tells in shuffled order, some never told."""
        from nasearch.benchmarks import Result
        from nasearch.space import get_space

        space = get_space(self.space)
        s = self.make(pf, 0, fidelities)
        driver = np.random.default_rng(1)
        default_f = fidelities[0] if fidelities else 7
        told = 0
        for _ in range(60):
            pending: list[tuple[Any, int]] = []
            for _ in range(int(driver.integers(1, 4))):
                n = int(driver.choice([1, 3, 8]))
                props = s.ask(n)
                assert 1 <= len(props) <= n
                for a in props:
                    self.assert_valid_arch(space, a)
                    f = s.fidelity_for(a) or default_f
                    assert f == default_f or f in fidelities
                    pending.append((a, f))
            for i in driver.permutation(len(pending)):
                if driver.random() < 0.6:
                    a, f = pending[i]
                    s.tell(a, Result(valid_acc=float(sum(space.to_choices(a))), test_acc=0.0, train_seconds=1.0), f)
                    told += 1
        assert told > 0
        assert s.take_overhead_seconds() >= 0.0

    ASYNC_WORKERS: ClassVar[int] = 4
    ASYNC_ROUNDS: ClassVar[int] = 8

    def asynchronous_rounds(self, pf: str, seed: int) -> list[tuple[int, Any]]:
        """K = :attr:`ASYNC_WORKERS` simulated asynchronous workers, :attr:`ASYNC_ROUNDS` times: ``ask(1)``
        K times (each proposal's fidelity taken right after its ask, as the runner does), then the K
        results, queried from a real benchmark of the space (:func:`benchmark_for_space`), told in
        reverse order (the last asked first, the first asked K asks after it). Returns every proposal
        as ``(index, fidelity)``, in ask order; checks each is a valid arch at a recorded fidelity."""
        from nasearch.space import get_space

        space = get_space(self.space)
        bench = benchmark_for_space(space)
        dataset = bench.datasets[0]
        s = self.make(pf, seed, bench.fidelities, space=space)
        asked: list[tuple[int, Any]] = []
        for _ in range(self.ASYNC_ROUNDS):
            pending: list[tuple[Any, Any]] = []
            for _ in range(self.ASYNC_WORKERS):
                props = s.ask(1)
                assert props, f"strategy {self.name!r}: ask(1) returned nothing while results are pending"
                for a in props:
                    self.assert_valid_arch(space, a)
                    f = s.fidelity_for(a) or bench.fidelities[0]
                    assert f in bench.fidelities, f"fidelity {f!r} is not one of {bench.fidelities}"
                    pending.append((a, f))
                    asked.append((a.index, f))
            for a, f in reversed(pending):
                s.tell(a, bench.query(a, dataset, f), f)
        assert s.take_overhead_seconds() >= 0.0
        return asked

    def test_asynchronous_asks_and_tells(self, pf: str) -> None:
        """Asynchronous workers: several ``ask(1)`` before the tells, results told in reverse order, on
        a real benchmark of the space (fidelities it records; NB201: 12 and 200 epochs): valid archs
        only, nothing raises, and the same seed gives the same proposals at the same fidelities."""
        first = self.asynchronous_rounds(pf, 3)
        assert len(first) >= self.ASYNC_WORKERS * self.ASYNC_ROUNDS
        assert self.asynchronous_rounds(pf, 3) == first, "the same seed gave other proposals"

    # ------------------------------------------------------------------------------ reproducible
    def trajectory(self, pf: str, seed: int) -> dict:
        """One run of 60 queries on :meth:`benchmark`, as plain data."""
        from nasearch.search import Budget, run_search

        bench = self.benchmark()
        dataset = bench.datasets[0]
        traj = run_search(bench, self.make(pf, seed, bench.fidelities), dataset, Budget(queries=60))
        return {
            "archs": [a.index for a in traj.archs],
            "incumbents": [a.index for a in traj.incumbents],
            "fidelities": traj.fidelities,
            "final": traj.final[dataset],
        }

    def test_same_seed_same_trajectory(self, pf: str) -> None:
        a, b = self.trajectory(pf, 3), self.trajectory(pf, 3)
        assert a == b
        others = [self.trajectory(pf, seed)["archs"] for seed in (4, 5)]
        assert any(o != a["archs"] for o in others), "different seeds gave identical runs"

    def test_budgeted_search_with_simulated_workers(self, pf: str) -> None:
        """Through the runner with 4 simulated workers and a constraint (a feasibility mask keeping two
        cells of every three, ``strategies.constrained.Constrained`` inside the pre-filter, as the
        search task builds it): every evaluated cell and every cell the pre-filter screened is feasible,
        and the same seed gives the same run."""
        from nasearch.search import Budget, run_search
        from nasearch.space import get_space
        from nasearch.strategies import get_strategy
        from nasearch.strategies.constrained import Constrained
        from nasearch.strategies.prefilter import PreFilter

        bench = self.benchmark()
        dataset = bench.datasets[0]
        space = get_space(self.space)
        mask = np.arange(space.num_archs) % 3 != 0
        screened: list = []

        def proxy(archs: list) -> np.ndarray:
            screened.extend(archs)
            return self.stand_in_proxy(archs)

        def run(seed: int) -> Any:
            inner = with_objectives(get_strategy(self.name)(np.random.default_rng(seed), space=space,
                                                            fidelities=bench.fidelities, **self.settings))
            st = Constrained(inner, mask)
            if pf == "prefilter":
                st = PreFilter(st, proxy, n=4)
            return run_search(bench, st, dataset, Budget(queries=48), workers=4)

        traj = run(2)
        assert traj.queries == 48 and traj.workers == 4
        assert all(mask[a.index] for a in traj.archs), "an infeasible cell was evaluated"
        assert all(mask[a.index] for a in screened), "the pre-filter screened an infeasible cell"
        assert [a.index for a in run(2).archs] == [a.index for a in traj.archs]

    # ------------------------------------------------------------------------------ every space
    def test_searches_every_space(self, space_name: str, pf: str) -> None:
        from nasearch.search import Budget, run_search
        from nasearch.space import get_space

        space = get_space(space_name)
        bench = benchmark_for_space(space)
        dataset = bench.datasets[0]

        def run(seed: int) -> Any:
            st = self.make(pf, seed, bench.fidelities, space=space)
            return run_search(bench, st, dataset, Budget(queries=40))

        traj = run(0)
        assert traj.queries == 40
        for a in traj.archs:
            assert space.from_index(a.index) == a
        assert [a.index for a in traj.archs] == [a.index for a in run(0).archs]
        assert math.isfinite(traj.final[dataset])


__all__ = ["PREFILTERS", "StrategyContract"]

