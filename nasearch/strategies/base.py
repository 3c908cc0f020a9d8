"""The Strategy interface: ask/tell, in the style of optuna's samplers and NAS-Bench-201's baselines.

A strategy proposes cells and learns from their results. It never sees the benchmark, the clock or
the proxy: the runner (:func:`nasearch.search.run_search`) evaluates what it proposes and charges the
time, and the pre-filter (:mod:`nasearch.strategies.prefilter`) screens its proposals.

Contract (:class:`nasearch.testing.StrategyContract` checks it; tests/contract/test_strategies.py runs that over
every registered strategy):

* ``ask(n)`` returns between 1 and ``n`` valid cells. ``n > 1`` asks for ``n`` alternatives of the
  *next* proposal for a pre-filter to choose from; each strategy documents what they are. Returning
  fewer than ``n`` means the strategy has no free choice at this step (BOHB promoting a cell to a
  higher fidelity, say); the pre-filter then passes the proposal on unscreened.
* ``tell(arch, result, fidelity)`` reports the result of a proposal that was evaluated. A proposal
  that was asked for but never told (screened out by a pre-filter) is forgotten.
* Asynchronous workers: the runner (``run_search(..., workers=K)``) asks ``ask(1)`` whenever a
  worker frees, so up to K proposals are *pending* (asked, not yet told), and tells results in the
  order their training finishes, not the order they were asked. A strategy must accept any number
  of asks before the tells and tells in any order (the same cell pending twice, a cell asked several
  asks ago), never block or return nothing, and keep nothing keyed to "the latest ask" that a tell
  relies on; each module says what its asynchronous version does. With K = 1 the calls are ask(1),
  tell, ask(1), tell, ... and every strategy proposes exactly what it did before workers existed.
* Optional ``forget(archs)``: a wrapper that screens proposals out (the pre-filter) calls it right
  after an ask with the proposals of that ask it will never pass on, so a strategy that tracks its
  pending proposals (optuna, predictor, robot, bohb:
  :class:`nasearch.strategies.prefilter.PendingProposals`) tells them apart from those still in
  flight. A strategy without pending state needs no such method.
* ``fidelity_for(arch)`` is the training length (epochs) the strategy wants ``arch`` evaluated at;
  ``None`` leaves it to the runner (the search fidelity of the experiment).
* Reproducible: all randomness comes from the ``np.random.Generator`` given at construction.
* Space-generic: a strategy gets its search space at construction (``space=``, a
  :class:`~nasearch.space.base.SearchSpace` or its registry name) and proposes archs of that space
  only through its interface (``sample``, ``mutate``, ``positions``, ``from_choices``, ...).

Strategies that learn from cell features (``uses_features = True``: ``predictor``, ``robot``) take
two more settings: the param ``features``, a list of feature names (``"encoding"``, proxy names,
``"ghn"``: :mod:`nasearch.scoring.features`), and the keyword ``featurizer``, an object with the
``Featurizer`` interface of that module (``featurizer(archs) -> (len(archs), d) float64``,
``featurizer.cost(archs) -> seconds``, ``names``, ``features``, ``space``). The search task builds the
featurizer from the config once per arm (``nasearch.experiments.scorer.make_featurizer(cfg, bench,
dataset, params["features"])``) and passes it. Constructed without one, such a strategy uses
``nasearch.scoring.features.encoding_featurizer(space)`` when ``features`` is just ``["encoding"]`` and
refuses anything else with a :class:`StrategyError` (:func:`resolve_featurizer`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from nasearch.benchmarks.base import Result
from nasearch.errors import NasearchError
from nasearch.registry import Registry
from nasearch.space.base import SearchSpace, get_space

Arch = Any
"""An arch of the strategy's space (each space owns its arch type)."""


class StrategyError(NasearchError):
    """A bad strategy setting."""


class Strategy(ABC):
    name: ClassVar[str] = ""
    paper: ClassVar[str] = ""
    uses_features: ClassVar[bool] = False
    """True for a strategy that learns from cell features: it takes the keyword ``featurizer`` (an
    object with the ``Featurizer`` interface of :mod:`nasearch.scoring.features`) and the param
    ``features`` (a list of feature names). The search task builds the featurizer from the config and
    passes it; without one the strategy uses ``encoding_featurizer(space)`` when ``features`` is just
    ``["encoding"]`` and refuses otherwise (:func:`resolve_featurizer`)."""

    def __init__(
        self, rng: np.random.Generator, *, space: SearchSpace | str, fidelities: tuple[int, ...] = ()
    ):
        """``space``: the search space (instance or registry name) the strategy proposes archs of.
        ``fidelities``: the benchmark's recorded training lengths, ascending (multi-fidelity
        strategies use them; others ignore them). Subclasses add their own keyword settings."""
        self.rng = rng
        self.space = get_space(space, where="strategy space=")
        self.fidelities = tuple(fidelities)

    @abstractmethod
    def ask(self, n: int = 1) -> list[Arch]:
        """Propose up to ``n`` alternative cells for the next evaluation."""

    @abstractmethod
    def tell(self, arch: Arch, result: Result, fidelity: int) -> None:
        """Learn from the result of evaluating ``arch`` at ``fidelity`` epochs."""

    def fidelity_for(self, arch: Arch) -> int | None:
        return None

    @classmethod
    def arm_label(cls, params: dict[str, Any]) -> str:
        """The strategy as the ``strategy`` column of a results table names it, given its params:
        its registry name, unless a param makes a different method (``optuna:tpe``)."""
        return cls.name

    def restrict(self, feasible: Any) -> None:
        """Budgeted search: ``feasible`` (bool array by ``arch.index``) marks the only cells that will
        be evaluated; infeasible proposals are dropped and forgotten
        (:class:`nasearch.strategies.constrained.Constrained`). A strategy that picks cells from a
        ranking of the space (RoBoT's greedy stage) must skip the others here, or it would propose the
        same infeasible cell again; one that samples or mutates needs nothing (the default)."""
        return None

    def forget(self, archs: list[Arch]) -> None:
        """Give up proposals that were asked for and will never be told (screened out by a
        pre-filter, dropped by a constraint). Strategies that keep pending proposals (in flight for
        asynchronous workers) release them here; the default keeps nothing, so does nothing."""
        return None

    def take_overhead_seconds(self) -> float:
        """Compute time spent inside the strategy since the last call (proxy scoring, say)."""
        return 0.0


def check_features(features: Any, who: str) -> tuple[str, ...]:
    """The ``features`` param of a strategy that uses features as a tuple of names: a non-empty list
    of distinct non-empty strings, else a :class:`StrategyError` naming the value."""
    if isinstance(features, str) or not isinstance(features, Sequence) or not features or not all(
        isinstance(f, str) and f for f in features
    ):
        raise StrategyError(
            f"{who} features={features!r} is invalid: expected a non-empty list of feature names "
            "('encoding', proxy names such as synflow or params, 'ghn'), e.g. features=[encoding]"
        )
    if len(set(features)) != len(features):
        raise StrategyError(f"{who} features={list(features)!r} names a feature twice")
    return tuple(features)


def resolve_featurizer(featurizer: Any, features: tuple[str, ...], space: SearchSpace, who: str) -> Any:
    """The featurizer a strategy that uses features works with: ``featurizer`` when given (it must
    be callable, have ``cost``, and be of ``space`` and ``features`` where it says so), else
    ``encoding_featurizer(space)`` when ``features`` is ``("encoding",)``; anything else is refused
    with a :class:`StrategyError` saying how to get one."""
    if featurizer is None:
        if features == ("encoding",):
            from nasearch.scoring.features import encoding_featurizer

            return encoding_featurizer(space)
        raise StrategyError(
            f"{who} features={list(features)!r} needs a featurizer (only features=[encoding] works "
            "without one): run it through the search task, which builds one from the config "
            "(nasearch.experiments.scorer.make_featurizer), or pass featurizer=... to the constructor"
        )
    if not callable(featurizer) or not callable(getattr(featurizer, "cost", None)):
        raise StrategyError(
            f"{who} featurizer={featurizer!r} is invalid: expected a Featurizer (callable on a list of "
            "archs, with cost(archs); nasearch.scoring.features)"
        )
    own_space = getattr(featurizer, "space", None)
    if own_space is not None and own_space is not space:
        raise StrategyError(
            f"{who} featurizer is of space {getattr(own_space, 'name', own_space)!r} but the strategy "
            f"searches space {space.name!r}"
        )
    own = getattr(featurizer, "features", None)
    if own is not None and tuple(own) != features:
        raise StrategyError(
            f"{who} featurizer computes features {list(own)!r} but the strategy's features param is "
            f"{list(features)!r}: build the featurizer from the same list"
        )
    return featurizer


BUILTIN_MODULES: tuple[str, ...] = tuple(
    f"nasearch.strategies.{m}"
    for m in (
        "random_search",
        "evolution",
        "reinforce",
        "bohb",
        "predictor",
        "robot",
        "optuna_sampler",
        "mo_rea",
        "scalarized",
    )
)
"""The modules of this package that define strategies (``prefilter`` wraps them and is not one)."""

STRATEGIES: Registry[type[Strategy]] = Registry("strategy", error=StrategyError, builtins=BUILTIN_MODULES)
"""Every strategy class: built-ins and the entry points of the group ``nasearch.strategies``."""


def register_strategy(cls: type[Strategy]) -> type[Strategy]:
    """Class decorator: register a :class:`Strategy` subclass under ``cls.name``. In this package, list
    its module in :data:`BUILTIN_MODULES`; from another package, name it in an entry point of the
    group ``nasearch.strategies``."""
    if not cls.name:
        raise TypeError(f"{cls.__name__} has no name")
    return STRATEGIES.register(cls.name, cls)


def strategy_names() -> tuple[str, ...]:
    return STRATEGIES.names()


def get_strategy(name: str, where: str = "") -> type[Strategy]:
    return STRATEGIES.get(name, where)
