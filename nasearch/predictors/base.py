"""The Predictor interface: learned performance predictors with fit / predict and uncertainty.

A predictor maps a feature matrix (one row per cell; see :mod:`nasearch.scoring.features` for the
features a space's cells get: its one-hot encoding, any proxy's scores, parameter and FLOP counts, the
GHN's graph embedding) to predicted accuracy. It knows nothing of spaces, proxies or benchmarks:
plain ``float64`` arrays in and out, so a study, a strategy and a user's notebook use it alike.

Contract (:class:`nasearch.testing.PredictorContract` checks it over every registered predictor):

* ``Predictor(seed=..., **params)``; bad params raise :class:`PredictorError` naming the value.
* ``fit(X, y)`` (``X``: ``(n, d)``, ``y``: ``(n,)``) returns ``self``; ``predict(X)`` the mean
  prediction ``(m,)``; ``predict_dist(X)`` the mean and a standard deviation ``(m,)``, ``(m,)`` (the
  spread of the model's members: trees of a forest, members of an ensemble, or a GP's posterior).
  ``members(X)`` returns one row of predictions per member ``(k, m)`` where the model has members
  (Thompson sampling draws from them), else ``None``.
* Missing features: a non-finite entry of ``X`` (a proxy that cannot rate a cell: NaN, or the
  ``-inf`` of a cell whose output ignores its input) is replaced, column by column, by a value below
  the smallest finite one seen in training (:class:`MissingBelow`): "worse than every rated cell",
  the never-preferred policy of the scoring engine, in a form every model takes. A column with no
  finite training value becomes a constant.
* Wide features: a column with a magnitude above ``1e30`` among the (cleaned) training rows is mapped
  by ``sign(x) * log1p(|x|)`` before fitting and predicting (:data:`WIDE`). synflow reaches ``2e49``
  on NB201: scikit-learn's trees work in float32 and overflow on it, and a GP or a network standardises
  such a column into one spike. The map is monotone, so a tree partitions the training cells as on
  the raw values; other columns are used as they are, except that a value a cell to predict holds
  beyond ``+-1e30`` in them (far outside every training value) is clipped there.
* Reproducible: the same ``seed`` and data give the same predictions in another process, with any
  thread count (models run single-threaded: ``n_jobs=1``).

Registry: ``@register_predictor`` on a subclass with ``name`` and ``paper``; the built-in modules are
listed in :data:`BUILTIN_MODULES`, plugins declare an entry point of the group ``nasearch.predictors``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from nasearch.errors import NasearchError
from nasearch.registry import Registry


class PredictorError(NasearchError):
    """A bad predictor setting, or data a predictor cannot fit."""


WIDE = 1e30
"""A feature column with a training magnitude above this is log-compressed (``sign(x) log1p|x|``)."""


class MissingBelow:
    """Per-column replacement of non-finite features by a value below every finite training value:
    ``min - (max - min) - 1`` of the column's finite training values (0 for a column without any)."""

    def fit(self, X: np.ndarray) -> MissingBelow:
        X = np.asarray(X, dtype=np.float64)
        finite = np.isfinite(X)
        lo = np.where(finite, X, np.inf).min(axis=0)
        hi = np.where(finite, X, -np.inf).max(axis=0)
        ok = np.isfinite(lo)
        self.fill = np.where(ok, lo - (np.where(ok, hi, 0.0) - np.where(ok, lo, 0.0)) - 1.0, 0.0)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        X = np.array(X, dtype=np.float64, copy=True)
        bad = ~np.isfinite(X)
        if bad.any():
            X[bad] = np.broadcast_to(self.fill, X.shape)[bad]
        return X


def check_xy(X: Any, y: Any | None = None, *, d: int | None = None, who: str = "predictor") -> tuple[np.ndarray, np.ndarray | None]:
    """``X`` as a 2-D float64 array (and ``y`` as 1-D, finite, one per row); errors name the shapes."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise PredictorError(f"{who}: features must be a 2-D array (cells x features); got shape {X.shape}")
    if d is not None and X.shape[1] != d:
        raise PredictorError(f"{who}: fitted on {d} features, asked to predict with {X.shape[1]}")
    if y is None:
        return X, None
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if y.shape[0] != X.shape[0]:
        raise PredictorError(f"{who}: {X.shape[0]} feature rows but {y.shape[0]} targets")
    if X.shape[0] < 2:
        raise PredictorError(f"{who}: needs at least 2 labelled cells to fit; got {X.shape[0]}")
    if not np.isfinite(y).all():
        raise PredictorError(f"{who}: targets must be finite; got {int((~np.isfinite(y)).sum())} non-finite")
    return X, y


def check_int(name: str, value: Any, lo: int, who: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
        raise PredictorError(f"{who} {name}={value!r} is invalid: expected an integer >= {lo}")
    return int(value)


class Predictor(ABC):
    """Base class: subclasses implement :meth:`_fit` and :meth:`_predict_dist` on clean arrays
    (non-finite features already replaced) and may override :meth:`_members`."""

    name: ClassVar[str] = ""
    paper: ClassVar[str] = ""

    def __init__(self, seed: int = 0):
        self.seed = check_int("seed", seed, 0, f"predictor {self.name!r}")
        self._missing: MissingBelow | None = None
        self._d: int | None = None
        self._wide = np.zeros(0, dtype=bool)

    # -------------------------------------------------------------- public
    def fit(self, X: Any, y: Any) -> Predictor:
        X, y = check_xy(X, y, who=f"predictor {self.name!r}")
        self._missing = MissingBelow().fit(X)
        self._d = X.shape[1]
        clean = self._missing.transform(X)
        self._wide = np.abs(clean).max(axis=0) > WIDE
        self._fit(self._narrow(clean), y)  # type: ignore[arg-type]
        return self

    def predict(self, X: Any) -> np.ndarray:
        return self.predict_dist(X)[0]

    def predict_dist(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        mean, std = self._predict_dist(self._clean(X))
        return np.asarray(mean, dtype=np.float64).reshape(-1), np.asarray(std, dtype=np.float64).reshape(-1)

    def members(self, X: Any) -> np.ndarray | None:
        return self._members(self._clean(X))

    @property
    def fitted(self) -> bool:
        return self._missing is not None

    # -------------------------------------------------------------- subclasses
    @abstractmethod
    def _fit(self, X: np.ndarray, y: np.ndarray) -> None: ...

    @abstractmethod
    def _predict_dist(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def _members(self, X: np.ndarray) -> np.ndarray | None:
        return None

    # -------------------------------------------------------------- helpers
    def _clean(self, X: Any) -> np.ndarray:
        if self._missing is None:
            raise PredictorError(f"predictor {self.name!r} is not fitted: call fit(X, y) first")
        X, _ = check_xy(X, d=self._d, who=f"predictor {self.name!r}")
        return self._narrow(self._missing.transform(X))

    def _narrow(self, X: np.ndarray) -> np.ndarray:
        """The wide columns (:data:`WIDE`) log-compressed, the others clipped to ``+-WIDE`` (a
        training set's narrow column holds nothing beyond it; a cell to predict may); ``X`` itself
        when nothing changes."""
        wide = self._wide
        if not wide.any() and not (np.abs(X) > WIDE).any():
            return X
        X = X.copy()
        w = X[:, wide]
        X[:, wide] = np.sign(w) * np.log1p(np.abs(w))
        X[:, ~wide] = np.clip(X[:, ~wide], -WIDE, WIDE)
        return X

    def __repr__(self) -> str:
        return f"{type(self).__name__}(seed={self.seed})"


BUILTIN_MODULES: tuple[str, ...] = tuple(f"nasearch.predictors.{m}" for m in ("forest", "gp", "mlp"))
"""The modules of this package that define predictors."""

PREDICTORS: Registry[type[Predictor]] = Registry("predictor", error=PredictorError, builtins=BUILTIN_MODULES)
"""Every predictor class: built-ins and the entry points of the group ``nasearch.predictors``."""


def register_predictor(cls: type[Predictor]) -> type[Predictor]:
    """Class decorator: register a :class:`Predictor` subclass under ``cls.name``."""
    if not cls.name:
        raise TypeError(f"{cls.__name__} has no name")
    return PREDICTORS.register(cls.name, cls)


def predictor_names() -> tuple[str, ...]:
    return PREDICTORS.names()


def get_predictor(name: str, where: str = "") -> type[Predictor]:
    return PREDICTORS.get(name, where)


def make_predictor(name: str, seed: int = 0, where: str = "", **params: Any) -> Predictor:
    """An unfitted predictor ``name`` with ``params``; unknown params are an error naming them."""
    cls = get_predictor(name, where)
    try:
        return cls(seed=seed, **params)
    except TypeError as exc:
        raise PredictorError(f"predictor {name!r}{' (' + where + ')' if where else ''} does not take "
                             f"params {sorted(params)!r}: {exc}") from None


__all__ = ["PREDICTORS", "WIDE", "MissingBelow", "Predictor", "PredictorError", "get_predictor", "make_predictor",
           "predictor_names", "register_predictor"]
