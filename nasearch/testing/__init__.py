"""Contract tests for nasearch plugins, for the pytest suites of plugin authors (and nasearch's own).

One class per plugin kind, in the style of Optuna's ``optuna.testing`` sampler tests: subclass it in a
test module, set the class attribute naming your plugin, and pytest collects the inherited checks::

    # tests/test_my_plugin.py of the package that ships the proxy "toy_proxy"
    from nasearch.testing import ProxyContract

    class TestToyProxy(ProxyContract):
        name = "toy_proxy"

* :class:`SpaceContract` (``name``): registration, parse/print, index and choice round trips,
  seeded sample/mutate/neighbours inside the space, one-hot encoding, ConfigSpace round trip, errors
  naming the value and its origin, networks of every task, the operation graph, every strategy
  searching the space and every proxy scoring it.
* :class:`BenchmarkContract` (``name``): registered with its space, the Benchmark protocol, declared
  datasets are tasks of the space, ``query`` and ``column`` agree, unknown values are errors, stateless.
* :class:`StrategyContract` (``name``): registered and documented, the ask/tell contract under any
  interleaving (alone and behind a pre-filter), same seed same trajectory, searches every space.
* :class:`ProxyContract` (``name``): sane metadata, a finite score on a small network of each space,
  deterministic for a seed and independent of the global RNG, data-free proxies ignore the images.
* :class:`PredictorContract` (``name``): registered and documented, fit/predict/predict_dist/members
  shapes and values, non-finite features accepted, same seed same predictions (in another process
  too), bad params and misuse are errors naming the value, learns a smooth function.
* :class:`ExecutorContract` (``name``, ``options``): built by ``make_executor``, the same scores as
  in-process scoring bit for bit, only missing cells sent, resume from the store.
* :class:`StoreContract` (:meth:`~StoreContract.make_store`): put/get round trip, first write wins,
  keys, reopen and pickle, resume.

Class attributes documented on each class narrow or widen the checks (``spaces``, ``proxies``,
``strategies``, ``does_not_apply``, ...). :func:`contract_classes` makes one subclass per registered
name (nasearch's own suite checks every built-in plugin that way). This package needs pytest; nothing
in nasearch imports it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from nasearch.testing._common import (
    IndexBench,
    benchmark_for_space,
    non_trivial,
    sample_archs,
    synthetic_batches,
)
from nasearch.testing.benchmarks import BenchmarkContract
from nasearch.testing.executors import Counting, ExecutorContract
from nasearch.testing.predictors import PredictorContract
from nasearch.testing.proxies import ProxyContract
from nasearch.testing.spaces import SpaceContract
from nasearch.testing.store import StoreContract
from nasearch.testing.strategies import StrategyContract


def contract_classes(contract: type, names: Iterable[str], prefix: str = "Test", **attributes: Any) -> dict[str, type]:
    """One subclass of ``contract`` per name (``name`` set, plus ``attributes``), keyed by a class name
    pytest collects (``prefix`` + the name in CamelCase); ``globals().update(...)`` them in a test
    module."""
    import sys

    module = sys._getframe(1).f_globals.get("__name__", contract.__module__)
    out: dict[str, type] = {}
    for name in names:
        cls_name = prefix + "".join(part[:1].upper() + part[1:] for part in
                                    "".join(c if c.isalnum() else "_" for c in name).split("_"))
        out[cls_name] = type(cls_name, (contract,), {"name": name, "__module__": module, **attributes})
    return out


__all__ = ["BenchmarkContract", "Counting", "ExecutorContract", "IndexBench", "PredictorContract", "ProxyContract",
           "SpaceContract", "StoreContract", "StrategyContract", "benchmark_for_space", "contract_classes", "non_trivial",
           "sample_archs", "synthetic_batches"]
