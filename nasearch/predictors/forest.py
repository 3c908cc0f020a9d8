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

Deviations: none from scikit-learn's algorithms; non-finite features are replaced by the base class
(:class:`~nasearch.predictors.base.MissingBelow`) rather than by scikit-learn's missing-value
splits, so both models and every scikit-learn version see the same numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nasearch.predictors.base import Predictor, PredictorError, check_int, register_predictor


def _max_features(value: Any, who: str) -> float | str:
    if value == "sqrt":
        return "sqrt"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) or not 0 < value <= 1:
        raise PredictorError(f"{who} max_features={value!r} is invalid: expected a fraction in (0, 1] or 'sqrt'")
    return float(value)


class _Forest(Predictor):
    _model: Any = None

    def __init__(self, seed: int = 0, *, n_estimators: int = 200, max_features: Any = 1.0, min_samples_leaf: int = 1):
        super().__init__(seed)
        who = f"predictor {self.name!r}"
        self.n_estimators = check_int("n_estimators", n_estimators, 1, who)
        self.max_features = _max_features(max_features, who)
        self.min_samples_leaf = check_int("min_samples_leaf", min_samples_leaf, 1, who)

    def _estimator(self) -> Any:
        raise NotImplementedError

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        self._model = self._estimator()
        self._model.fit(X, y)

    def _members(self, X: np.ndarray) -> np.ndarray:
        return np.stack([t.predict(X) for t in self._model.estimators_]).astype(np.float64)

    def _predict_dist(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        per_tree = self._members(X)
        return per_tree.mean(axis=0), per_tree.std(axis=0)


@register_predictor
class RandomForest(_Forest):
    name = "rf"
    paper = "Breiman, Random forests, Machine Learning 2001"

    def _estimator(self) -> Any:
        from sklearn.ensemble import RandomForestRegressor

        return RandomForestRegressor(n_estimators=self.n_estimators, max_features=self.max_features,
                                     min_samples_leaf=self.min_samples_leaf, random_state=self.seed, n_jobs=1)


@register_predictor
class ExtraTrees(_Forest):
    name = "extra_trees"
    paper = "Geurts, Ernst & Wehenkel, Extremely randomized trees, Machine Learning 2006"

    def _estimator(self) -> Any:
        from sklearn.ensemble import ExtraTreesRegressor

        return ExtraTreesRegressor(n_estimators=self.n_estimators, max_features=self.max_features,
                                   min_samples_leaf=self.min_samples_leaf, random_state=self.seed, n_jobs=1)
