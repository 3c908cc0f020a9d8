"""Predictor-guided search in the style of BANANAS (White, Neiswanger & Savani, BANANAS: Bayesian
optimization with neural architectures for neural architecture search, AAAI 2021, §4 and its
Algorithm 1; reference code ``naszilla/naszilla``, ``nas_algorithms.bananas``).

Any registered predictor (:mod:`nasearch.predictors`) on any features of the cells
(:mod:`nasearch.scoring.features`: the space's one-hot encoding, zero-cost proxies, parameter and FLOP
counts, the GHN embedding) drives the BANANAS loop:

1. *Initialisation* (Algorithm 1, line 1). While fewer than ``num_init`` cells have been told,
   propose cells drawn uniformly from the space (``space.sample``), distinct and not told before.
2. *Candidates* (line 2.ii, "randomly mutating the architectures with the lowest loss"). Rank the
   told cells by fitness (best first; ties: the earlier told); the parents are the best
   ``5 * num_parents`` (naszilla's ``patience_factor=5``); each parent in turn, until there are
   ``num_candidates`` distinct candidates, gets ``ceil(num_candidates / num_parents)`` mutations
   (the cells ``space.mutate(parent)`` draws from, its one-position neighbours; NB201: one edge's op
   replaced by another, 24 cells), drawn without replacement (all of them when there are fewer),
   keeping those that are new: neither told nor already a candidate (naszilla's hash dictionary).
3. *Model* (line 2.i). Fit the predictor ``model`` (``model_params``; its seed drawn from the
   strategy's generator at every fit) on the features of every told cell with a finite fitness
   against its validation accuracy.
4. *Acquisition* (line 2.iii-iv). ``acquisition="its"`` (independent Thompson sampling, BANANAS's
   choice): per candidate one draw from ``N(mean, std)`` of the predictor's ``predict_dist`` (an
   ensemble's members' mean and spread, a forest's trees', a GP's posterior); ``"ucb"``:
   ``mean + beta * std``. The candidates with the highest values are proposed (ties: generation
   order).

Fitness is the validation accuracy told, at whatever fidelity it was evaluated (the runner's search
fidelity: NB201's 12 epochs). A NaN result never wins: it ranks below every parent and is left out of
the model's training set. With fewer than two finite results, or when no new candidate can be made,
proposals are uniform samples as in step 1.

Defaults and their source: ``num_init=10`` (BANANAS's ``t_0``, naszilla's ``DEFAULT_NUM_INIT``),
``num_candidates=100`` (naszilla's ``get_candidates(num=100)``), ``num_parents=1`` (naszilla's
``num_arches_to_mutate=1``; with the patience factor the candidates of NB201 are the one-edit
neighbourhoods of the best few cells), ``acquisition="its"`` (BANANAS, §4 "independent Thompson
sampling"), ``beta=0.5`` (naszilla's UCB ``explore_factor``), ``features=["encoding"]`` (the one-hot
encoding of the choices, an adjacency-style encoding; BANANAS's own is its path encoding, which
nasearch does not have), ``model="rf"`` with the predictor's own defaults (ours: a random forest
gives a mean and a spread from its trees at a fraction of an ensemble's training cost;
``model=mlp_ensemble`` is BANANAS's five-network ensemble).

Measured here (NB201 CIFAR-10, 3,000 s, the 200-epoch test accuracy of the incumbent chosen by
12-epoch validation accuracy): defaults 93.71 +- 0.49 over the search task's seeds 0..9 (REA 93.45,
random search 93.41 on the same seeds); with ``model_params={n_estimators: 20}`` 93.38 over
``default_rng(0..19)`` against random search's 92.94 (paired t = 2.0).

Wall time: nearly all of it is the forest refitted at every ask (one fit per query with one worker),
that is scikit-learn's tree builder, which :mod:`nasearch.predictors.forest` calls directly, without
the estimator's per-tree Python overhead (the same trees). Measured on 2 busy cores, one thread,
``experiment=learning_search`` (REA: milliseconds per run): 0.44 s per run at 3,000 s with the default
features (4.6 s through scikit-learn's ``RandomForestRegressor``), 0.5 s with the encoding and four
proxies (3.6 s), and at 12,000 s (about 95 queries) 4.5 s and 5.3 s (31 s and 29 s); the proposals are
the same bit for bit (``tests/reproduction/test_predictor_search_reproduces.py``). A cell's features
are computed once per run (:class:`FeatureCache`); what remains is the trees' split search itself.

What ``n > 1`` means: ``ask(n)`` returns the ``n`` best candidates by the acquisition of ONE model fit
(one Thompson draw per candidate), i.e. the next proposal and its runners-up, for a pre-filter to
choose among (with a proxy pre-filter the predictor shortlists and the proxy picks). In the
initialisation phase, ``n`` distinct uniform cells. The candidates are at least ``n``: when the best
parents' untold neighbours are fewer (NB201 cells have 24 neighbours; a pre-filter may ask for 100),
the neighbours of the next-best told cells are added, then uniform untold cells, so ``ask(n)``
always returns ``n`` cells and a pre-filter always has its free choice (returning fewer would tell it
there is none, and it would pass every one on unscreened).

Overhead: :meth:`take_overhead_seconds` returns the featurizer's recorded ``cost`` of the cells
featurized for the first time in this run (told cells and candidates; each distinct cell is charged
once per run, its features are kept), so the runner charges it like a pre-filter's proxy time when
``proxy.charge_time`` is set. The encoding costs nothing. The wall time of fitting the predictor is
not charged, as for every strategy here (BOHB's KDEs, REINFORCE's policy): the tabular-benchmark
convention of NAS-Bench-201's baselines, which charge training time only.

Interleaving and asynchronous workers: only told cells are learned from, whatever order their
results come in (the model is fitted at each ask on every cell told so far; nothing refers to the
latest ask). A cell asked and not yet told is *pending*: it is not a training point (it has no
label yet) and it is not proposed again, neither as a candidate nor as a uniform cell, as BANANAS
proposes ``k`` distinct cells per batch (naszilla's ``DEFAULT_K``) and its candidates exclude cells
already queried. So K workers asking before their results are told get K different cells, each from
a refit on the same data with a new seed and new Thompson draws. A pending cell is given up (may be
proposed again) when a pre-filter names it in ``forget(archs)`` (the candidates it screened out) or
when it was an untold alternative of an ``ask(n > 1)`` whose other alternative was told
(:class:`nasearch.strategies.prefilter.PendingProposals`). With one worker nothing is pending at an
ask, so every proposal is the sequential one.

Deviations from BANANAS / naszilla: one evaluation per model fit (``k = 1``, the runner's sequential
loop; BANANAS fits once per batch of ``k = 10`` queries, naszilla's ``DEFAULT_K``); the model is any
registered predictor (default a random forest rather than the MLP ensemble, whose squared-error
training also differs from BANANAS's mean absolute percentage error: see
:mod:`nasearch.predictors.mlp`); features are the featurizer's (default the one-hot encoding, not the
path encoding); mutations are the space's one-position neighbours (naszilla's NB201 mutation changes
each of the 6 edges with probability 1/4, so 0, 1 or more edges), drawn without replacement
(naszilla draws 100 with replacement); validation accuracy is maximised directly instead of
minimising the validation loss ``100 - acc`` (the same order).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from nasearch.benchmarks.base import Result
from nasearch.space.base import SearchSpace
from nasearch.strategies.base import (
    Arch,
    Strategy,
    StrategyError,
    check_features,
    register_strategy,
    resolve_featurizer,
)
from nasearch.strategies.prefilter import PendingProposals

PATIENCE = 5
"""Parents tried per wanted parent before giving up on ``num_candidates`` new candidates (naszilla's
``patience_factor``)."""

ACQUISITIONS = ("its", "ucb")
_SEED_BOUND = 2**31 - 1
_RANDOM_TRIES = 100  # uniform draws per proposal before a told cell is accepted again


def _int_at_least(who: str, name: str, value: Any, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
        raise StrategyError(f"{who} {name}={value!r} is invalid: expected an integer >= {lo}")
    return int(value)


class FeatureCache:
    """Features of the cells of one run, computed once per distinct cell; the featurizer's recorded
    cost of each newly featurized cell is added to :attr:`cost` (taken by the strategy's overhead)."""

    def __init__(self, featurizer: Any, who: str):
        self.featurizer = featurizer
        self.who = who
        self.rows: dict[Arch, np.ndarray] = {}
        self.cost = 0.0

    def __call__(self, archs: list[Arch]) -> np.ndarray:
        rows = self.rows
        new = list(dict.fromkeys(a for a in archs if a not in rows))
        if new:
            X = np.asarray(self.featurizer(new), dtype=np.float64)
            if X.ndim != 2 or X.shape[0] != len(new):
                raise StrategyError(
                    f"{self.who}: the featurizer returned an array of shape {X.shape} for {len(new)} "
                    "cells: expected one row of features per cell"
                )
            self.cost += float(self.featurizer.cost(new))
            for a, row in zip(new, X):
                rows[a] = row
        if not archs:
            return np.zeros((0, 0))
        return np.stack([rows[a] for a in archs])

    def take_cost(self) -> float:
        out, self.cost = self.cost, 0.0
        return out


@register_strategy
class PredictorSearch(Strategy):
    name = "predictor"
    paper = (
        "White, Neiswanger & Savani, BANANAS: Bayesian optimization with neural architectures for neural "
        "architecture search, AAAI 2021"
    )
    uses_features = True

    def __init__(
        self,
        rng: np.random.Generator,
        *,
        space: SearchSpace | str,
        fidelities: tuple[int, ...] = (),
        featurizer: Any = None,
        features: Any = ("encoding",),
        num_init: int = 10,
        num_candidates: int = 100,
        num_parents: int = 1,
        model: str = "rf",
        model_params: Mapping[str, Any] | None = None,
        acquisition: str = "its",
        beta: float = 0.5,
    ):
        super().__init__(rng, space=space, fidelities=fidelities)
        who = f"strategy {self.name!r}"
        self.features = check_features(features, who)
        self.num_init = _int_at_least(who, "num_init", num_init, 1)
        self.num_candidates = _int_at_least(who, "num_candidates", num_candidates, 1)
        self.num_parents = _int_at_least(who, "num_parents", num_parents, 1)
        if acquisition not in ACQUISITIONS:
            raise StrategyError(
                f"{who} acquisition={acquisition!r} is invalid: accepted: {', '.join(ACQUISITIONS)} "
                "(its: independent Thompson sampling, BANANAS's; ucb: mean + beta * std)"
            )
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not (math.isfinite(beta) and beta >= 0):
            raise StrategyError(f"{who} beta={beta!r} is invalid: expected a number >= 0 (UCB's weight of std)")
        if model_params is None:
            model_params = {}
        if not isinstance(model_params, Mapping):
            raise StrategyError(
                f"{who} model_params={model_params!r} is invalid: expected a mapping of the predictor's "
                "settings, e.g. {n_estimators: 100}"
            )
        if not isinstance(model, str):
            raise StrategyError(f"{who} model={model!r} is invalid: expected a registered predictor's name")
        from nasearch.predictors.base import make_predictor

        self.model = model
        self.model_params = dict(model_params)
        # fail now on an unknown model or a bad setting (naming it), not at the first fit
        make_predictor(model, seed=0, where=f"{who} model / model_params", **self.model_params)
        self.acquisition = acquisition
        self.beta = float(beta)
        self.featurizer = resolve_featurizer(featurizer, self.features, self.space, who)
        self._cache = FeatureCache(self.featurizer, who)
        self._told: dict[Arch, float] = {}  # fitness (NaN kept: it never wins), in first-tell order
        self._asked = PendingProposals()  # cells asked and not yet told (or given up)

    # ------------------------------------------------------------------ ask / tell
    def ask(self, n: int = 1) -> list[Arch]:
        self._asked.settle()  # untold alternatives of earlier asks that the caller did not take
        out = self._ask(n)
        self._asked.add([(a, None) for a in out])
        return out

    def _ask(self, n: int) -> list[Arch]:
        told = self._told
        finite = [a for a, y in told.items() if y == y]
        if len(told) < self.num_init or len(finite) < 2:
            return self._uniform(n)
        candidates = self._candidates(max(n, self.num_candidates))
        if len(candidates) < n:  # the told cells' neighbourhoods are spent: uniform untold cells
            candidates += self._uniform(n - len(candidates), avoid=set(candidates))
        X = self._cache(finite + candidates)
        X_train, X_cand = X[: len(finite)], X[len(finite) :]
        y = np.array([told[a] for a in finite])
        from nasearch.predictors.base import make_predictor

        seed = int(self.rng.integers(_SEED_BOUND))
        model = make_predictor(self.model, seed=seed, **self.model_params).fit(X_train, y)
        mean, std = model.predict_dist(X_cand)
        std = np.where(np.isfinite(std) & (std > 0), std, 0.0)
        if self.acquisition == "its":
            acq = self.rng.normal(mean, std)
        else:
            acq = mean + self.beta * std
        acq = np.where(np.isnan(acq), -np.inf, acq)
        order = np.argsort(-acq, kind="stable")
        return [candidates[i] for i in order[:n].tolist()]

    def forget(self, archs: list[Arch]) -> None:
        """Give up proposals of the latest ask that will never be told (a pre-filter's screened-out
        candidates): they may be proposed again."""
        self._asked.forget(archs)

    def tell(self, arch: Arch, result: Result, fidelity: int) -> None:
        self._told[arch] = float(result.valid_acc)
        self._asked.tell(arch)

    def take_overhead_seconds(self) -> float:
        return self._cache.take_cost()

    # ------------------------------------------------------------------ helpers
    def _uniform(self, n: int, avoid: set | None = None) -> list[Arch]:
        """``n`` distinct uniform cells, none told before, pending, nor in ``avoid`` (when the space
        allows)."""
        sample, rng, told, asked = self.space.sample, self.rng, self._told, self._asked
        avoid = avoid or set()
        out: list[Arch] = []
        for _ in range(n):
            for _ in range(_RANDOM_TRIES):
                a = sample(rng)
                if a not in told and a not in asked and a not in out and a not in avoid:
                    break
            out.append(a)
        return out

    def _candidates(self, want: int) -> list[Arch]:
        """Up to ``want`` distinct untold cells (none pending): ``per_parent`` random neighbours of each
        of the best ``PATIENCE * num_parents`` told cells (BANANAS's mutation step), then, while short
        of ``want``, every untold neighbour of the next-best told cells."""
        told = self._told
        order = sorted(told, key=lambda a: -told[a] if told[a] == told[a] else math.inf)  # stable: ties keep tell order
        per_parent = -(-self.num_candidates // self.num_parents)
        neighbours, rng = self.space.neighbours, self.rng
        seen = set(told)
        seen.update(self._asked.keys())
        out: list[Arch] = []
        for rank, p in enumerate(order):
            if len(out) >= want or (rank >= PATIENCE * self.num_parents and len(out) >= self.num_candidates):
                break
            nbrs = neighbours(p)  # the cells space.mutate draws from, uniformly
            take = per_parent if rank < PATIENCE * self.num_parents else len(nbrs)
            for i in rng.permutation(len(nbrs))[:take].tolist():
                c = nbrs[i]
                if c not in seen:
                    seen.add(c)
                    out.append(c)
        return out[:want]

    def told_fitness(self) -> dict[Arch, float]:
        """The told cells and their fitness (validation accuracy; NaN kept), in tell order."""
        return dict(self._told)
