"""The search-space contract: what every space (built-in or plugin) must do.

Subclass :class:`SpaceContract` in a test module and set ``name`` to the space's registry name::

    from nasearch.testing import SpaceContract

    class TestToySpace(SpaceContract):
        name = "toy_space"

pytest then runs every check below on that space: registration, parse/print and index round trips,
seeded sampling and mutation that stay in the space, the one-hot encoding and ConfigSpace round
trip, errors that name the value and where it came from, networks for every task (with and without
BatchNorm), the operation graph, every registered strategy searching the space (alone and behind a
pre-filter) and every registered proxy scoring its networks.
"""

from __future__ import annotations

import math
import pickle
from typing import Any, ClassVar

import numpy as np
import pytest

from nasearch.testing._common import (
    FULL_ENUMERATION,
    ContractBase,
    benchmark_for_space,
    data_root_or_none,
    non_trivial,
    sample_archs,
    with_objectives,
)


class SpaceContract(ContractBase):
    """Contract tests of one search space; set ``name``."""

    name: ClassVar[str] = ""
    """Registry name of the space under test."""
    full_enumeration: ClassVar[int] = FULL_ENUMERATION
    """Spaces up to this size are round-tripped over every arch, bigger ones on a sample of 500."""
    strategies: ClassVar[tuple[str, ...] | None] = None
    """Strategies that must search this space (None: every registered strategy)."""
    strategy_settings: ClassVar[dict[str, dict[str, Any]]] = {}
    """Keyword settings per strategy name for the searches below (merged over :meth:`settings_for`'s
    defaults). A strategy that learns from cell features (``uses_features``) gets a space-generic
    stand-in featurizer by default (:func:`nasearch.testing.featurizers.stand_in_settings`)."""
    proxies: ClassVar[tuple[str, ...] | None] = None
    """Proxies that must give finite scores on this space's networks (None: every registered proxy)."""
    does_not_apply: ClassVar[dict[str, str]] = {}
    """Proxies that cannot apply to this space, with the reason: they must fail with a ProxyError
    naming the proxy (an error anywhere else is a bug, not "does not apply")."""
    proxy_archs: ClassVar[tuple[Any, ...]] = ()
    """The archs (anything ``space.parse`` takes) every proxy scores; default two non-trivial ones
    sampled with seed 2. A space of large inputs can name cheap ones that still hold every operation."""

    def params(self) -> dict[str, list[Any]]:
        from nasearch.proxies import network_proxies
        from nasearch.strategies import strategy_names

        return {
            "strategy_name": list(self.strategies if self.strategies is not None else strategy_names()),
            "proxy_name": list(self.proxies if self.proxies is not None else [s.name for s in network_proxies()]),
        }

    @pytest.fixture(scope="class")
    @classmethod
    def space(cls) -> Any:
        from nasearch.space import get_space

        assert cls.name, f"{cls.__name__}: set the class attribute name to the space's registry name"
        return get_space(cls.name)

    # ------------------------------------------------------------------------------ registry
    def test_registered(self, space: Any) -> None:
        from nasearch.space import SearchSpace, get_space, space_names

        assert self.name in space_names()
        assert isinstance(space, SearchSpace) and space.name == self.name and get_space(self.name) is space
        assert space.num_archs > 0 and space.tasks and space.positions
        assert set(space.networks_for()) <= set(space.tasks)

    def test_space_pickles_to_the_shared_instance(self, space: Any) -> None:
        assert pickle.loads(pickle.dumps(space)) is space

    # ------------------------------------------------------------------------------ arch values
    def test_strings_indices_and_choices_round_trip(self, space: Any) -> None:
        archs = sample_archs(space, full=self.full_enumeration)
        seen = set()
        for a in archs:
            s = space.to_string(a)
            assert str(a) == s
            assert space.parse(s) == a and space.parse(a) is a
            # from_index: nasearch's internal ordinal; parse(int): the official (user-facing) index
            assert space.from_index(a.index) == a and space.parse(space.official_index(a)) == a
            assert space.from_official_index(space.official_index(a)) == a
            c = space.to_choices(a)
            assert len(c) == len(space.positions)
            assert all(0 <= v < k for v, k in zip(c, space.positions))
            assert space.from_choices(c) == a
            seen.add((a, s))
        assert len(seen) == len(archs) == len({a.index for a in archs}) == len({s for _, s in seen})
        if space.num_archs <= self.full_enumeration:
            assert [a.index for a in archs] == list(range(space.num_archs))

    def test_sample_mutate_neighbours_are_valid_and_seeded(self, space: Any) -> None:
        def draws(seed: int) -> list:
            rng = np.random.default_rng(seed)
            out = []
            for _ in range(30):
                a = space.sample(rng)
                m = space.mutate(a, rng)
                out += [a, m]
            return out

        run = draws(3)
        assert run == draws(3) and run != draws(4)
        for a, m in zip(run[::2], run[1::2]):
            assert space.from_index(a.index) == a and space.from_index(m.index) == m
            assert m != a
            nbrs = space.neighbours(a)
            assert m in nbrs and a not in nbrs and len(set(nbrs)) == len(nbrs)
            assert nbrs == space.neighbours(a)  # deterministic order
            for b in nbrs:
                diff = sum(x != y for x, y in zip(space.to_choices(a), space.to_choices(b)))
                assert diff >= 1
        # uniform: 2,000 samples hit many distinct archs
        rng = np.random.default_rng(0)
        assert len({space.sample(rng) for _ in range(2000)}) > min(space.num_archs, 2000) * 0.5

    def test_encode_is_one_hot_per_position(self, space: Any) -> None:
        archs = non_trivial(space, 5)
        x = space.encode(archs)
        assert x.shape == (5, sum(space.positions)) and x.dtype == np.float32
        assert np.array_equal(x.sum(axis=1), np.full(5, len(space.positions), dtype=np.float32))
        assert space.encode([]).shape == (0, sum(space.positions))

    def test_config_space_round_trips(self, space: Any) -> None:
        pytest.importorskip("ConfigSpace")
        cs = space.config_space(seed=0)
        assert len(list(cs.values())) == len(space.positions)
        for a in non_trivial(space, 10):
            assert space.from_config(space.to_config(a, cs)) == a
        for conf in cs.sample_configuration(20):
            a = space.from_config(conf)
            assert a is None or space.from_index(a.index) == a

    # ------------------------------------------------------------------------------ bad input
    def test_bad_input_names_value_accepted_forms_and_origin(self, space: Any) -> None:
        from nasearch.space import ArchError, SpaceError

        for bad in ("definitely-not-an-arch", -1, space.num_archs):
            with pytest.raises(ArchError) as err:
                space.parse(bad, where="config key test.arch")
            msg = str(err.value)
            assert repr(bad) in msg or str(bad) in msg
            assert "config key test.arch" in msg and space.name in msg
        with pytest.raises(SpaceError, match="unknown task 'nope'"):
            space.num_classes("nope")

    def test_an_arch_of_another_space_is_refused(self, space: Any) -> None:
        from nasearch.space import ArchError, get_space, space_names

        for other in space_names():
            if other == space.name:
                continue
            o = get_space(other)
            a = non_trivial(o, 1)[0]
            with pytest.raises(ArchError) as err:
                space.parse(a, where="test")
            assert space.name in str(err.value)
            s = o.to_string(a)
            try:
                parsed = space.parse(s, where="test")
            except ArchError as exc:
                assert repr(s) in str(exc) or s in str(exc)
            else:  # a string both spaces spell the same way must at least not be the same value
                assert parsed != a

    # ------------------------------------------------------------------------------ networks
    def test_structural_proxies_count_a_blank_network_as_the_real_one(self, space: Any) -> None:
        """params and flops (``needs_weights=False``) are computed on a network built without
        initialisation: the same counts as on the initialised network, for every task's network."""
        import torch

        from nasearch.proxies import get_proxy
        from nasearch.proxies.registry import ProxyContext
        from nasearch.scoring import score_one

        archs = non_trivial(space, 2, seed=5)
        for task in space.networks_for():
            for name in ("params", "flops"):
                spec = get_proxy(name)
                assert not spec.needs_weights
                for arch in archs:
                    blank, _ = score_one(spec, arch, task, [], 0, space.input_size(task), space)
                    net = space.build_network(arch, task, generator=torch.Generator().manual_seed(0))
                    ctx = ProxyContext(space.num_classes(task), torch.Generator(), space.input_size(task))
                    real = spec.fn(net, [], ctx)
                    assert blank == real, (name, task, str(arch))

    @pytest.mark.parametrize("bn", [True, False])
    def test_networks_forward_every_task(self, space: Any, bn: bool) -> None:
        import torch

        from nasearch.space import ArchError

        a = non_trivial(space, 1, seed=1)[0]
        for task in space.tasks:
            if task not in space.networks_for():  # searchable, but no network: says so
                with pytest.raises(ArchError, match=task):
                    space.build_network(a, task, bn=bn)
                continue
            size = space.input_size(task)
            g = torch.Generator().manual_seed(0)
            net = space.build_network(a, task, bn=bn, generator=g)
            has_bn = any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in net.modules())
            assert has_bn == bn
            net.eval()
            x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))
            with torch.no_grad():
                y = net(x)
            assert y.shape == (2, space.num_classes(task))
            assert torch.isfinite(y).all()
            twin = space.build_network(a, task, bn=bn, generator=torch.Generator().manual_seed(0))
            for p, q in zip(net.parameters(), twin.parameters()):
                assert torch.equal(p, q)

    def test_op_graph_covers_its_network(self, space: Any) -> None:
        """The operation graph (GHN, EZNAS) comes from the space's built network: every conv and linear
        weight of the network is a node's parameter, and edges run forward in topological order."""
        import torch

        a = non_trivial(space, 1, seed=2)[0]
        task = space.networks_for()[0]
        g = space.op_graph(a, task)
        assert len(g.nodes) > 1 and g.edges
        assert all(src < dst for src, dst in g.edges)
        net = space.build_network(a, task)
        weights = {n for n, m in net.named_modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))}
        named = {p.rsplit(".", 1)[0] for node in g.nodes for p in node.params}
        assert weights <= named, sorted(weights - named)[:5]

    # ------------------------------------------------------------------------------ strategies
    def benchmark(self, space: Any) -> Any:
        """The benchmark searched on: a registered one of this space that loads, else an in-memory
        :class:`~nasearch.testing.IndexBench` (override to choose)."""
        return benchmark_for_space(space)

    def settings_for(self, strategy_name: str) -> dict[str, Any]:
        """The keyword settings a strategy is built with here: a stand-in featurizer for one that
        learns from features (and a small forest for ``predictor``, which refits at every step), then
        :attr:`strategy_settings`."""
        from nasearch.strategies import get_strategy
        from nasearch.testing.featurizers import stand_in_settings

        out: dict[str, Any] = {}
        if strategy_name == "predictor":
            out["model_params"] = {"n_estimators": 5}
        elif getattr(get_strategy(strategy_name), "uses_features", False):
            out.update(stand_in_settings())
        out.update(self.strategy_settings.get(strategy_name, {}))
        return out

    @pytest.mark.parametrize("pf", ["vanilla", "prefilter"])
    def test_every_strategy_searches_this_space(self, space: Any, strategy_name: str, pf: str) -> None:
        from nasearch.search import Budget, run_search
        from nasearch.strategies import get_strategy
        from nasearch.strategies.prefilter import PreFilter

        bench = self.benchmark(space)
        assert bench.space is space
        dataset = bench.datasets[0]

        def proxy(archs: list) -> np.ndarray:  # a deterministic stand-in proxy: prefers low indices
            return -np.array([a.index for a in archs], dtype=float)

        def run(seed: int) -> Any:
            inner = with_objectives(get_strategy(strategy_name)(
                np.random.default_rng(seed), space=space, fidelities=bench.fidelities, **self.settings_for(strategy_name)))
            st = PreFilter(inner, proxy, n=4) if pf == "prefilter" else inner
            return run_search(bench, st, dataset, Budget(queries=40))

        traj = run(0)
        assert traj.queries == 40
        for a in traj.archs:
            assert space.from_index(a.index) == a
        assert [a.index for a in traj.archs] == [a.index for a in run(0).archs]
        assert math.isfinite(traj.final[dataset])

    # ------------------------------------------------------------------------------ proxies
    def test_every_proxy_scores_this_space(self, space: Any, proxy_name: str) -> None:
        """Finite scores of two non-trivial cells (batches of 8 at up to 64 px, of 2 above: the same
        checks at a fraction of the pixels; the never-preferred score only where the proxy declares the
        cell unratable, ``ProxySpec.nan_on``), or, for a proxy listed in ``does_not_apply``, a ProxyError
        naming it. A proxy that needs labels scores CIFAR-10 images from $NASEARCH_DATA (skipped
        without them)."""
        from nasearch.proxies import get_proxy
        from nasearch.proxies.registry import ProxyError
        from nasearch.scoring import score_cells

        spec = get_proxy(proxy_name)
        task = space.networks_for()[0]
        archs = [space.parse(a) for a in self.proxy_archs] or non_trivial(space, 2, seed=2)
        small = space.input_size(task) <= 64
        kwargs: dict = {"batch_size": 8 if small else 2, "progress": False, "space": space}
        if spec.needs_labels:
            root = data_root_or_none()
            if root is None:
                pytest.skip("a proxy that needs labels needs images ($NASEARCH_DATA with cifar-10-batches-py)")
            kwargs.update(image_dataset="cifar10", data_root=str(root))
        else:
            kwargs.update(data_free=True)
        reason = self.does_not_apply.get(proxy_name)
        if reason is not None:  # it does not apply, and says so with a clear error naming the proxy
            with pytest.raises(ProxyError, match=proxy_name):
                score_cells(archs, proxy_name, task, **kwargs)
            return
        scores = score_cells(archs, proxy_name, task, **kwargs)
        assert scores.shape == (len(archs),), f"{proxy_name} on {space.name}: {scores}"
        from nasearch.testing.proxies import may_be_nan

        for arch, value in zip(archs, scores):
            if np.isfinite(value):
                continue
            # the engine's never-preferred score: only where the proxy declares it cannot rate the cell
            # (ProxySpec.nan_on) and this space's network sets that attribute
            net = space.build_network(arch, task)
            assert may_be_nan(spec, net), f"{proxy_name} on {space.name}: {value} for {arch} (not declared)"


__all__ = ["SpaceContract"]
