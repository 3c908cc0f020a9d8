"""Gaussian-process regression (scikit-learn; Rasmussen & Williams, Gaussian Processes for Machine
Learning, MIT Press 2006, Algorithm 2.1) as a predictor: ``gp``.

Features are standardised on the training cells (a constant column becomes 0); targets are
normalised by scikit-learn (``normalize_y=True``). Kernel: ``c * Matern(nu=2.5, one length scale per
feature) + white noise``, hyperparameters by maximum marginal likelihood with ``n_restarts`` (default
2) restarts drawn from the predictor's seed. ``predict_dist`` is the posterior mean and standard
deviation (of the latent function plus the fitted noise). :meth:`members` is ``None``: draw from the
normal the mean and standard deviation give.

Deviations: none from scikit-learn's GP; the kernel is our choice (BoTorch's default for
continuous inputs is the same Matern-5/2 with automatic relevance determination).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nasearch.predictors.base import Predictor, check_int, register_predictor


@register_predictor
class GaussianProcess(Predictor):
    name = "gp"
    paper = "Rasmussen & Williams, Gaussian Processes for Machine Learning, MIT Press 2006"

    def __init__(self, seed: int = 0, *, n_restarts: int = 2):
        super().__init__(seed)
        self.n_restarts = check_int("n_restarts", n_restarts, 0, f"predictor {self.name!r}")
        self._model: Any = None

    def _scale(self, X: np.ndarray) -> np.ndarray:
        return (X - self._mu) / self._sd

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

        self._mu = X.mean(axis=0)
        sd = X.std(axis=0)
        self._sd = np.where(sd > 0, sd, 1.0)
        kernel = ConstantKernel(1.0, (1e-3, 1e3)) * Matern(
            length_scale=np.ones(X.shape[1]), length_scale_bounds=(1e-2, 1e3), nu=2.5
        ) + WhiteKernel(1e-2, (1e-6, 1e1))
        self._model = GaussianProcessRegressor(kernel=kernel, normalize_y=True, n_restarts_optimizer=self.n_restarts,
                                               random_state=self.seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self._model.fit(self._scale(X), y)

    def _predict_dist(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean, std = self._model.predict(self._scale(X), return_std=True)
        return mean, std
