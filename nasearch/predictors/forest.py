"""Tree-ensemble predictors (scikit-learn): ``rf`` (random forest; Breiman, Machine Learning 2001) and
``extra_trees`` (extremely randomised trees; Geurts, Ernst & Wehenkel, Machine Learning 2006).

The mean prediction is the forest's (the mean of its trees); the uncertainty is the standard
deviation of the trees' predictions, and :meth:`members` returns each tree's prediction, the
ensemble a Thompson-sampling acquisition draws from (BANANAS, White et al., AAAI 2021, §4, uses an
ensemble's spread the same way). Random forests over zero-cost proxies are the learned predictor of
GreenFactory (2025) and of NAS-Bench-Suite-Zero (Krishnakumar et al., NeurIPS 2022).

Settings: ``n_estimators`` (default 200), ``max_features`` (``1.0``: every feature at every split,
scikit-learn's regression default; a float in (0, 1] is a fraction, or ``"sqrt"``), ``min_samples_leaf``
(1). ``n_jobs=1`` always (a thread pool would not change a value but would change the cost across
machines); ``random_state`` from the predictor's seed.

How the trees are grown: scikit-learn's ``RandomForestRegressor`` / ``ExtraTreesRegressor`` spend
over 90% of a 200-tree fit on the few dozen cells a search has learned from (and of the prediction
of its 100 candidates) in per-tree Python work around the tree builder: cloning and re-validating
one estimator per tree, a fresh ``RandomState`` per tree (twice, about 0.1 ms each), input checks
per tree and per prediction. A search refits the forest at every query
(:mod:`nasearch.strategies.predictor`), so that overhead was most of a predictor search's wall time. :func:`grow_trees` calls scikit-learn's own tree builder
(``sklearn.tree._tree.DepthFirstTreeBuilder`` with the ``MSE`` criterion and the ``best`` /
``random`` splitter) directly, with exactly the estimator's seeding: tree ``i``'s seed is the
``i``-th ``randint(2**31 - 1)`` of ``RandomState(seed)``, a random forest's bootstrap counts are
``RandomState(seed_i).randint(0, n, n)`` as sample weights, the splitter draws from
``RandomState(seed_i)``. The trees are the estimator's, node for node, so every prediction is the
same bit for bit. Those classes are scikit-learn internals, so the first fit of each model in a
process grows a small forest both ways and compares every tree's predictions
(:func:`lean_trees_match`); where they differ, or the internals are not there (another
scikit-learn version), the model fits scikit-learn's estimator as before, and says so in the log;
either way a tree's predictions are its ``tree_.predict`` of the float32 rows, as the estimator's.

Deviations: none from scikit-learn's algorithms; non-finite features are replaced by the base class
(:class:`~nasearch.predictors.base.MissingBelow`) rather than by scikit-learn's missing-value
splits, so both models and every scikit-learn version see the same numbers.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import numpy as np

from nasearch.predictors.base import Predictor, PredictorError, check_int, register_predictor

log = logging.getLogger(__name__)

MAX_SEED = int(np.iinfo(np.int32).max)
"""scikit-learn's bound of the seed it draws for each tree of an ensemble (``ensemble._base``)."""


def _max_features(value: Any, who: str) -> float | str:
    if value == "sqrt":
        return "sqrt"
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.floating, np.integer))
        or not 0 < value <= 1
    ):
        raise PredictorError(
            f"{who} max_features={value!r} is invalid: expected a fraction in (0, 1] or 'sqrt'"
        )
    return float(value)


def features_per_split(max_features: float | str, d: int) -> int:
    """The number of features a split draws among ``d``, as scikit-learn's tree computes it."""
    if max_features == "sqrt":
        return max(1, int(np.sqrt(d)))
    return max(1, int(float(max_features) * d))


def grow_trees(
    X: np.ndarray,
    y: np.ndarray,
    *,
    seed: int,
    n_estimators: int,
    max_features: float | str,
    min_samples_leaf: int,
    bootstrap: bool,
    splitter: str,
) -> list[Any]:
    """The trees (``sklearn.tree._tree.Tree``) that ``RandomForestRegressor`` (``bootstrap=True``,
    ``splitter="best"``) or ``ExtraTreesRegressor`` (``bootstrap=False``, ``splitter="random"``) with
    these settings, ``random_state=seed`` and scikit-learn's other defaults grows on ``X`` (finite;
    float32 as the estimator converts it), ``y``, without the estimator's per-tree overhead (see the
    module docstring). Raises whatever the internals raise where they differ from those of the
    scikit-learn this was written against (1.9)."""
    from sklearn.tree._criterion import MSE
    from sklearn.tree._splitter import BestSplitter, RandomSplitter
    from sklearn.tree._tree import DepthFirstTreeBuilder, Tree

    split_cls = {"best": BestSplitter, "random": RandomSplitter}[splitter]
    X32 = np.asarray(X, dtype=np.float32)
    y2 = np.ascontiguousarray(np.asarray(y, dtype=np.float64).reshape(-1, 1))
    n, d = X32.shape
    per_split = features_per_split(max_features, d)
    min_samples_split = max(2, 2 * min_samples_leaf)
    n_classes = np.ones(1, dtype=np.intp)  # scikit-learn's Tree of a single-output regression
    # tree i's seed: the estimator's i-th draw, one call per tree as it draws them
    draws = np.random.RandomState(seed)
    seeds = [draws.randint(MAX_SEED) for _ in range(n_estimators)]
    # reseeded per tree: the stream of a new RandomState(seed_i) (which the estimator makes twice per
    # tree), at a fiftieth of the cost
    state = np.random.RandomState(0)
    trees = []
    for s in seeds:
        weight = None
        if bootstrap:
            state.seed(s)
            weight = np.bincount(state.randint(0, n, n), minlength=n).astype(np.float64)
        state.seed(s)  # the splitter draws its own seed from it when the build starts
        split = split_cls(MSE(1, n), per_split, min_samples_leaf, 0.0, state, None)
        tree = Tree(d, n_classes, 1)
        DepthFirstTreeBuilder(split, min_samples_split, min_samples_leaf, 0.0, MAX_SEED, 0.0).build(
            tree, X32, y2, weight, None
        )
        trees.append(tree)
    return trees


def tree_predictions(trees: list[Any], X: np.ndarray) -> np.ndarray:
    """Each tree's prediction of each row of ``X``, ``(len(trees), len(X))`` float64: what every
    estimator's ``predict`` returns (the same float32 conversion of ``X``, the same leaf values)."""
    X32 = np.asarray(X, dtype=np.float32)
    return np.stack([t.predict(X32)[:, 0] for t in trees]).astype(np.float64)


_MATCHES: dict[tuple[str, str | float, int], bool] = {}


def lean_trees_match(
    estimator_cls: Any, *, bootstrap: bool, splitter: str, max_features: float | str, min_samples_leaf: int
) -> bool:
    """Whether :func:`grow_trees` grows the trees ``estimator_cls`` (scikit-learn's forest) grows with
    these settings, checked once per process and setting on a fixed data set with ties and duplicate
    rows: every tree's prediction of fresh rows compared exactly. False (logged) where they differ or
    the internals are missing or changed."""
    key = (estimator_cls.__name__, max_features, min_samples_leaf)
    if key not in _MATCHES:
        rng = np.random.default_rng(20240601)
        X = np.column_stack([rng.integers(0, 2, size=(40, 6)), rng.normal(size=(40, 4)).round(1)])
        X[30:] = X[:10]  # duplicate rows
        y = np.round(rng.normal(90.0, 2.0, size=40), 1)
        Xp = np.column_stack([rng.integers(0, 2, size=(60, 6)), rng.normal(size=(60, 4))])
        try:
            ref = estimator_cls(
                n_estimators=8,
                max_features=max_features,
                min_samples_leaf=min_samples_leaf,
                random_state=12345,
                n_jobs=1,
            ).fit(X, y)
            want = np.stack([t.predict(Xp) for t in ref.estimators_]).astype(np.float64)
            got = tree_predictions(
                grow_trees(
                    X,
                    y,
                    seed=12345,
                    n_estimators=8,
                    max_features=max_features,
                    min_samples_leaf=min_samples_leaf,
                    bootstrap=bootstrap,
                    splitter=splitter,
                ),
                Xp,
            )
            same = bool(np.array_equal(want, got))
            why = "its trees differ from scikit-learn's"
        except Exception as exc:  # any failure of the internals means: use the estimator
            same, why = False, f"{type(exc).__name__}: {exc}"
        if not same:
            import sklearn

            log.warning(
                "%s: growing trees directly with scikit-learn %s's tree builder is not possible (%s); "
                "fitting scikit-learn's estimator instead (same results, slower)",
                estimator_cls.__name__,
                sklearn.__version__,
                why,
            )
        _MATCHES[key] = same
    return _MATCHES[key]


class _Forest(Predictor):
    bootstrap: ClassVar[bool] = True
    splitter: ClassVar[str] = "best"

    def __init__(
        self, seed: int = 0, *, n_estimators: int = 200, max_features: Any = 1.0, min_samples_leaf: int = 1
    ):
        super().__init__(seed)
        who = f"predictor {self.name!r}"
        self.n_estimators = check_int("n_estimators", n_estimators, 1, who)
        self.max_features = _max_features(max_features, who)
        self.min_samples_leaf = check_int("min_samples_leaf", min_samples_leaf, 1, who)
        self._trees: list[Any] = []

    def _estimator_cls(self) -> Any:
        raise NotImplementedError

    def _estimator(self) -> Any:
        return self._estimator_cls()(
            n_estimators=self.n_estimators,
            max_features=self.max_features,
            min_samples_leaf=self.min_samples_leaf,
            random_state=self.seed,
            n_jobs=1,
        )

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        settings = {"max_features": self.max_features, "min_samples_leaf": self.min_samples_leaf}
        lean = lean_trees_match(
            self._estimator_cls(), bootstrap=self.bootstrap, splitter=self.splitter, **settings
        )
        # the base class hands finite values (MissingBelow, WIDE): anything else takes the estimator's checks
        if lean and np.isfinite(np.asarray(X, dtype=np.float32)).all():
            self._trees = grow_trees(
                X,
                y,
                seed=self.seed,
                n_estimators=self.n_estimators,
                bootstrap=self.bootstrap,
                splitter=self.splitter,
                **settings,
            )
        else:
            self._trees = [t.tree_ for t in self._estimator().fit(X, y).estimators_]

    def _members(self, X: np.ndarray) -> np.ndarray:
        return tree_predictions(self._trees, X)

    def _predict_dist(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        per_tree = self._members(X)
        return per_tree.mean(axis=0), per_tree.std(axis=0)


@register_predictor
class RandomForest(_Forest):
    name = "rf"
    paper = "Breiman, Random forests, Machine Learning 2001"
    bootstrap = True
    splitter = "best"

    def _estimator_cls(self) -> Any:
        from sklearn.ensemble import RandomForestRegressor

        return RandomForestRegressor


@register_predictor
class ExtraTrees(_Forest):
    name = "extra_trees"
    paper = "Geurts, Ernst & Wehenkel, Extremely randomized trees, Machine Learning 2006"
    bootstrap = False
    splitter = "random"

    def _estimator_cls(self) -> Any:
        from sklearn.ensemble import ExtraTreesRegressor

        return ExtraTreesRegressor
