"""Contract tests of the search-space interface, parametrised over the space registry: every space
registered in ``nasearch.space`` gets one subclass of :class:`nasearch.testing.SpaceContract` (the kit
plugin authors use), which also runs every strategy (alone and behind a pre-filter) and every proxy on
the space.

Each space searches on its real benchmark when one is registered for it and loadable here (nb201's
table needs $NASEARCH_DATA or the embedded copy; analognas is embedded); otherwise on a small in-memory
benchmark whose accuracy is a fixed function of the arch index (:class:`nasearch.testing.IndexBench`).
"""

from __future__ import annotations

import numpy as np
import pytest
from cheap_archs import PROXY_ARCHS

from nasearch.benchmarks.base import BenchmarkError
from nasearch.search import Budget, run_search
from nasearch.space import SearchSpace, SpaceError, get_space, space_names
from nasearch.strategies import get_strategy
from nasearch.testing import SpaceContract, benchmark_for_space, contract_classes

SPACES = space_names()

# (proxy, space) pairs where a proxy does not apply, and why; every other pair must give finite
# scores (an error there is a bug, not "does not apply": gradsign on NAS-Bench-Macro's depthwise
# convs and zen on networks without NB201's pooling attribute once failed and passed this test)
DOES_NOT_APPLY: dict[tuple[str, str], str] = {}

# every proxy scores two networks per space: the seeded pick, or where that is slow the cheap ones of
# tests/cheap_archs.py

# one contract class per registered space: TestSpaceNb201, TestSpaceNasbenchMacro, ...
for _name in SPACES:
    globals().update(contract_classes(
        SpaceContract, [_name], prefix="TestSpace",
        does_not_apply={p: why for (p, sp), why in DOES_NOT_APPLY.items() if sp == _name},
        proxy_archs=PROXY_ARCHS.get(_name, ()),
    ))


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


# ------------------------------------------------------------------------------------ strategies
def test_a_strategy_of_another_space_is_refused():
    bench = benchmark_for_space("nb201")
    others = [s for s in SPACES if s != "nb201"]
    if not others:
        pytest.skip("only one space registered")
    st = get_strategy("rs")(np.random.default_rng(0), space=others[0], fidelities=bench.fidelities)
    with pytest.raises(BenchmarkError, match="space"):
        run_search(bench, st, bench.datasets[0], Budget(queries=2))
