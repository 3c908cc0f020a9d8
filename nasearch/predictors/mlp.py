"""BANANAS's predictor: an ensemble of feed-forward networks (White, Neiswanger & Savani, BANANAS:
Bayesian optimization with neural architectures for neural architecture search, AAAI 2021, §4 and
Appendix: "an ensemble of five feedforward neural networks", 10 layers of width 20, Adam at learning
rate 0.01, 200 epochs), as ``mlp_ensemble`` with scikit-learn's ``MLPRegressor``.

Each member is trained from its own seed (the predictor's seed, spawned); the mean prediction is
the members' mean, the uncertainty their standard deviation, and :meth:`members` their predictions
(BANANAS's independent Thompson sampling draws from a normal with that mean and deviation).

Deviations: scikit-learn minimises the squared error, not BANANAS's mean absolute percentage error;
features are standardised on the training cells and targets centred and scaled (the MAPE loss is
scale-free, the squared error is not); full-batch L-BFGS is not used: Adam with ``batch_size =
min(200, n)`` as scikit-learn does.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from nasearch.predictors.base import Predictor, check_int, register_predictor


@register_predictor
class MLPEnsemble(Predictor):
    name = "mlp_ensemble"
    paper = "White, Neiswanger & Savani, BANANAS, AAAI 2021"

    def __init__(self, seed: int = 0, *, members: int = 5, layers: int = 10, width: int = 20, epochs: int = 200):
        super().__init__(seed)
        who = f"predictor {self.name!r}"
        self.n_members = check_int("members", members, 1, who)
        self.layers = check_int("layers", layers, 1, who)
        self.width = check_int("width", width, 1, who)
        self.epochs = check_int("epochs", epochs, 1, who)
        self._nets: list[Any] = []

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPRegressor

        self._mu = X.mean(axis=0)
        sd = X.std(axis=0)
        self._sd = np.where(sd > 0, sd, 1.0)
        self._ym = float(y.mean())
        self._ys = float(y.std()) or 1.0
        Xs = (X - self._mu) / self._sd
        ys = (y - self._ym) / self._ys
        seeds = np.random.SeedSequence(self.seed).generate_state(self.n_members)
        self._nets = []
        for s in seeds.tolist():
            net = MLPRegressor(hidden_layer_sizes=(self.width,) * self.layers, learning_rate_init=0.01,
                               max_iter=self.epochs, random_state=int(s) % (2**31))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                net.fit(Xs, ys)
            self._nets.append(net)

    def _members(self, X: np.ndarray) -> np.ndarray:
        Xs = (X - self._mu) / self._sd
        return np.stack([n.predict(Xs) * self._ys + self._ym for n in self._nets]).astype(np.float64)

    def _predict_dist(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        m = self._members(X)
        return m.mean(axis=0), m.std(axis=0)
