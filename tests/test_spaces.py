"""Contract tests of the search-space interface, parametrised over the space registry: every space
registered in ``nasearch.space`` (NB201 today; NAS-Bench-Macro and TransNAS-Bench-101 once their
modules register) is covered by the same tests, with every strategy and every proxy.

Each space searches on its real benchmark when one is known (``BENCHMARK_SPACES``) and loadable
here (nb201's table needs $NASEARCH_DATA; analognas is embedded); otherwise on a small in-memory
benchmark whose accuracy is a fixed function of the arch index (:class:`IndexBench`).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nasearch.benchmarks import BENCHMARK_SPACES, make_benchmark
from nasearch.benchmarks.base import BenchmarkError, Result
from nasearch.proxies import all_proxies
from nasearch.proxies.registry import ProxyError
from nasearch.search import Budget, run_search
from nasearch.space import ArchError, SearchSpace, SpaceError, get_space, space_names
from nasearch.strategies import get_strategy, strategy_names
from nasearch.strategies.prefilter import PreFilter

SPACES = space_names()
FULL_ENUMERATION = 20_000  # spaces up to this size are checked over every arch, bigger ones on a sample


def _sample_archs(space: SearchSpace, k: int = 500, seed: int = 0) -> list:
    if space.num_archs <= FULL_ENUMERATION:
        return list(space.all_archs())
    idx = np.random.default_rng(seed).choice(space.num_archs, size=k, replace=False)
    return [space.from_index(int(i)) for i in sorted(idx)]


def _non_trivial(space: SearchSpace, k: int, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    out: list = []
    while len(out) < k:
        a = space.sample(rng)
        if not space.is_trivial(a) and a not in out:
            out.append(a)
    return out


class IndexBench:
    """An in-memory benchmark of any space: accuracy a fixed function of the arch index."""

    fidelities = (1,)
    has_train_time = False

    def __init__(self, space: SearchSpace):
        self.space = space
        self.name = f"index-{space.name}"
        self.datasets = (space.tasks[0],)
        noise = np.random.default_rng(7).random(space.num_archs)
        self._acc = 50 + 40 * noise

    def query(self, arch, dataset: str, fidelity: int | None = None) -> Result:
        if dataset not in self.datasets:
            raise BenchmarkError(f"unknown dataset {dataset!r}")
        acc = float(self._acc[self.space.parse(arch).index])
        return Result(acc, acc, None)

    def column(self, dataset: str, metric: str, fidelity: int | None = None) -> np.ndarray:
        return self._acc.copy()


def _benchmark(name: str):
    for bench_name, space_name in BENCHMARK_SPACES.items():
        if space_name != name or bench_name == "auto":
            continue
        try:
            return make_benchmark(bench_name)
        except BenchmarkError:
            continue  # e.g. nb201 without $NASEARCH_DATA: try the next one of this space
    return IndexBench(get_space(name))


@pytest.fixture(scope="module", params=SPACES)
def space(request) -> SearchSpace:
    return get_space(request.param)


# ------------------------------------------------------------------------------------ registry
def test_registry():
    assert "nb201" in SPACES
    for name in SPACES:
        s = get_space(name)
        assert isinstance(s, SearchSpace) and s.name == name and get_space(name) is s
        assert s.num_archs > 0 and s.tasks and s.positions
    with pytest.raises(SpaceError) as err:
        get_space("nope", where="config key space")
    assert "'nope'" in str(err.value) and "config key space" in str(err.value)
    for name in SPACES:
        assert name in str(err.value)


def test_space_pickles_to_the_shared_instance(space):
    import pickle

    assert pickle.loads(pickle.dumps(space)) is space


# ------------------------------------------------------------------------------------ arch values
def test_strings_indices_and_choices_round_trip(space):
    archs = _sample_archs(space)
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
    if space.num_archs <= FULL_ENUMERATION:
        assert [a.index for a in archs] == list(range(space.num_archs))


def test_sample_mutate_neighbours_are_valid_and_seeded(space):
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


def test_encode_is_one_hot_per_position(space):
    archs = _non_trivial(space, 5)
    x = space.encode(archs)
    assert x.shape == (5, sum(space.positions)) and x.dtype == np.float32
    assert np.array_equal(x.sum(axis=1), np.full(5, len(space.positions), dtype=np.float32))
    assert space.encode([]).shape == (0, sum(space.positions))


def test_config_space_round_trips(space):
    pytest.importorskip("ConfigSpace")
    cs = space.config_space(seed=0)
    assert len(list(cs.values())) == len(space.positions)
    for a in _non_trivial(space, 10):
        assert space.from_config(space.to_config(a, cs)) == a
    for conf in cs.sample_configuration(20):
        a = space.from_config(conf)
        assert a is None or space.from_index(a.index) == a


# ------------------------------------------------------------------------------------ bad input
def test_bad_input_names_value_accepted_forms_and_origin(space):
    for bad in ("definitely-not-an-arch", -1, space.num_archs):
        with pytest.raises(ArchError) as err:
            space.parse(bad, where="config key test.arch")
        msg = str(err.value)
        assert repr(bad) in msg or str(bad) in msg
        assert "config key test.arch" in msg and space.name in msg
    with pytest.raises(SpaceError, match="unknown task 'nope'"):
        space.num_classes("nope")


def test_an_arch_of_another_space_is_refused(space):
    for other in SPACES:
        if other == space.name:
            continue
        o = get_space(other)
        a = _non_trivial(o, 1)[0]
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


# ------------------------------------------------------------------------------------ networks
def test_structural_proxies_count_a_blank_network_as_the_real_one(space):
    """params and flops (``needs_weights=False``) are computed on a network built without
    initialisation: the same counts as on the initialised network, for every task's network."""
    from nasearch.proxies import get_proxy
    from nasearch.proxies.registry import ProxyContext
    from nasearch.proxies.scoring import score_one

    archs = _non_trivial(space, 2, seed=5)
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
def test_networks_forward_every_task(space, bn):
    a = _non_trivial(space, 1, seed=1)[0]
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


def test_op_graph_of_every_space_covers_its_network(space):
    """The operation graph (GHN, EZNAS) comes from the space's built network: every conv and linear
    weight of the network is a node's parameter, and edges run forward in topological order."""
    a = _non_trivial(space, 1, seed=2)[0]
    task = space.networks_for()[0]
    g = space.op_graph(a, task)
    assert len(g.nodes) > 1 and g.edges
    assert all(src < dst for src, dst in g.edges)
    net = space.build_network(a, task)
    weights = {n for n, m in net.named_modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))}
    named = {p.rsplit(".", 1)[0] for node in g.nodes for p in node.params}
    assert weights <= named, sorted(weights - named)[:5]


# ------------------------------------------------------------------------------------ strategies
@pytest.mark.parametrize("pf", ["vanilla", "prefilter"])
@pytest.mark.parametrize("strategy", strategy_names())
def test_every_strategy_searches_every_space(space, strategy, pf):
    bench = _benchmark(space.name)
    assert bench.space is space
    dataset = bench.datasets[0]

    def proxy(archs):  # a deterministic stand-in proxy: prefers low indices
        return -np.array([a.index for a in archs], dtype=float)

    def run(seed: int):
        inner = get_strategy(strategy)(np.random.default_rng(seed), space=space, fidelities=bench.fidelities)
        st = PreFilter(inner, proxy, n=4) if pf == "prefilter" else inner
        return run_search(bench, st, dataset, Budget(queries=40))

    traj = run(0)
    assert traj.queries == 40
    for a in traj.archs:
        assert space.from_index(a.index) == a
    assert [a.index for a in traj.archs] == [a.index for a in run(0).archs]
    assert math.isfinite(traj.final[dataset])


def test_a_strategy_of_another_space_is_refused():
    bench = _benchmark("nb201")
    others = [s for s in SPACES if s != "nb201"]
    if not others:
        pytest.skip("only one space registered")
    st = get_strategy("rs")(np.random.default_rng(0), space=others[0], fidelities=bench.fidelities)
    with pytest.raises(BenchmarkError, match="space"):
        run_search(bench, st, bench.datasets[0], Budget(queries=2))


# ------------------------------------------------------------------------------------ proxies
# (proxy, space) pairs where a proxy does not apply, and why; every other pair must give finite
# scores (an error there is a bug, not "does not apply": gradsign on NAS-Bench-Macro's depthwise
# convs and zen on networks without NB201's pooling attribute once failed and passed this test)
DOES_NOT_APPLY: dict[tuple[str, str], str] = {}


@pytest.mark.parametrize("proxy", [p.name for p in all_proxies()])
def test_every_proxy_runs_on_every_space_or_says_it_does_not_apply(space, proxy, data_root_or_none):
    from nasearch.proxies.scoring import score_cells

    spec = next(p for p in all_proxies() if p.name == proxy)
    task = space.networks_for()[0]
    archs = _non_trivial(space, 2, seed=2)
    # batches of 8 at 32 px; at TransNAS-Bench-101's 256 px, batches of 2 (the same checks, a
    # sixteenth of the pixels per batch, so the contract suite stays minutes, not a quarter hour)
    small = space.input_size(task) <= 64
    kwargs: dict = {"batch_size": 8 if small else 2, "progress": False, "space": space}
    if spec.needs_labels:
        if data_root_or_none is None:
            pytest.skip("a proxy that needs labels needs images ($NASEARCH_DATA)")
        kwargs.update(image_dataset="cifar10", data_root=str(data_root_or_none))
    else:
        kwargs.update(data_free=True)
    reason = DOES_NOT_APPLY.get((proxy, space.name))
    if reason is not None:  # it does not apply, and says so with a clear error naming the proxy
        with pytest.raises(ProxyError, match=proxy):
            score_cells(archs, proxy, task, **kwargs)
        return
    scores = score_cells(archs, proxy, task, **kwargs)
    assert scores.shape == (2,) and np.isfinite(scores).all(), f"{proxy} on {space.name}: {scores}"


@pytest.fixture(scope="session")
def data_root_or_none():
    import os
    from pathlib import Path

    root = os.environ.get("NASEARCH_DATA")
    path = Path(root).resolve() if root else None
    return path if path is not None and (path / "cifar-10-batches-py").is_dir() else None
