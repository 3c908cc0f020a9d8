"""The predictor contract: what every learned performance predictor (built-in or plugin) must do.

Subclass :class:`PredictorContract` and set ``name`` to the predictor's registry name::

    from nasearch.testing import PredictorContract

    class TestToyPredictor(PredictorContract):
        name = "toy_predictor"

Checks: the class is registered under its ``name`` with a paper and a module docstring naming its
deviations; ``fit`` returns the predictor, ``predict`` / ``predict_dist`` / ``members`` have the
documented shapes, the standard deviation is finite and >= 0, ``predict`` is ``predict_dist``'s mean
and (for a model whose prediction is its members' mean: ``members_are_mean``) the mean of
``members``; non-finite features (NaN, +-inf, a column without any finite value) are accepted and
give finite predictions; the same seed and data give the same predictions (whatever the global
RNGs, which are left alone), in another process with another thread count too, and other training
data other predictions; bad params (``bad_params``, by default derived from the constructor's
numeric keyword defaults), an unknown param or seed, predicting before ``fit``, a wrong feature
count and bad training data raise :class:`~nasearch.predictors.base.PredictorError` naming the
value; and the model learns: Kendall's tau above 0.5 on a smooth synthetic function from 100
training points.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from typing import Any, ClassVar

import numpy as np
import pytest

from nasearch.testing._common import ContractBase


def synthetic_data(n: int, d: int = 5, seed: int = 0, noise: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points uniform in ``[0, 1]^d`` and a smooth target of the first three features
    (``3 x0 + 2 x1^2 - x2``) plus Gaussian noise; ``d >= 3``."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, d))
    y = 3.0 * X[:, 0] + 2.0 * X[:, 1] ** 2 - X[:, 2] + noise * rng.standard_normal(n)
    return X, y


_CHILD = """
import importlib, json, sys
for m in {imports!r}:
    importlib.import_module(m)
from nasearch.predictors.base import make_predictor
from nasearch.testing.predictors import synthetic_data
X, y = synthetic_data({n}, {d}, seed={data_seed})
p = make_predictor({name!r}, seed={seed}, **json.loads({params!r})).fit(X[:{train}], y[:{train}])
mean, std = p.predict_dist(X[{train}:])
print(json.dumps([[float(v).hex() for v in mean], [float(v).hex() for v in std]]))
"""


class PredictorContract(ContractBase):
    """Contract tests of one predictor; set ``name``."""

    name: ClassVar[str] = ""
    """Registry name of the predictor under test."""
    settings: ClassVar[dict[str, Any]] = {}
    """Keyword params every check constructs the predictor with (``make_predictor(name, seed, **settings)``)."""
    members_are_mean: ClassVar[bool] = True
    """Whether ``predict`` is the mean of ``members`` (rows of per-member predictions) when the model
    has members (forests, ensembles); checked to 1e-9."""
    bad_params: ClassVar[tuple[dict[str, Any], ...] | None] = None
    """Params the constructor must refuse with a :class:`PredictorError` naming the value; None: for
    every keyword parameter with a numeric (not bool) default, ``-1`` and ``"bogus"``."""
    imports: ClassVar[tuple[str, ...]] = ()
    """Modules the reproducibility subprocess imports before looking the predictor up (a plugin that
    is neither built in nor an entry point registers when its module is imported)."""
    documents: ClassVar[tuple[str, ...]] = ("Deviation",)
    """Words the predictor module's docstring must contain (nasearch's convention: each predictor
    module names its paper, its defaults and every deviation from the reference)."""
    n_train: ClassVar[int] = 40
    """Training points of the quick checks (the learning check uses 100)."""

    # ------------------------------------------------------------------------------ helpers
    def make(self, seed: int = 0, **params: Any) -> Any:
        """The unfitted predictor (``settings`` updated with ``params``)."""
        from nasearch.predictors.base import make_predictor

        assert self.name, f"{type(self).__name__}: set the class attribute name to the predictor's registry name"
        return make_predictor(self.name, seed=seed, where=type(self).__name__, **{**self.settings, **params})

    def data(self, seed: int = 0, d: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(X_train, y_train, X_test, y_test) of :func:`synthetic_data`, ``n_train`` + 30 points."""
        X, y = synthetic_data(self.n_train + 30, d, seed=seed)
        return X[: self.n_train], y[: self.n_train], X[self.n_train :], y[self.n_train :]

    @pytest.fixture(scope="class")
    @classmethod
    def fitted(cls) -> tuple[Any, np.ndarray]:
        """The predictor (seed 0) fitted on :meth:`data`, and the test features (shared by a class's checks)."""
        inst = cls()
        Xtr, ytr, Xte, _ = inst.data()
        return inst.make().fit(Xtr, ytr), Xte

    # ------------------------------------------------------------------------------ registry
    def test_registered_and_documented(self) -> None:
        from nasearch.predictors.base import Predictor, get_predictor, predictor_names

        assert self.name, f"{type(self).__name__}: set the class attribute name to the predictor's registry name"
        assert self.name in predictor_names()
        cls = get_predictor(self.name)
        assert isinstance(cls, type) and issubclass(cls, Predictor)
        assert cls.name == self.name
        assert isinstance(cls.paper, str) and len(cls.paper) > 10, f"predictor {self.name!r} names no paper"
        mod = sys.modules.get(cls.__module__) or __import__(cls.__module__, fromlist=["_"])
        assert mod.__doc__, f"the module of predictor {self.name!r} has no docstring"
        for word in self.documents:
            assert word in mod.__doc__, f"the module of predictor {self.name!r} documents no {word!r}"

    # ------------------------------------------------------------------------------ shapes and values
    def test_fit_returns_self_and_shapes(self) -> None:
        Xtr, ytr, Xte, _ = self.data()
        p = self.make()
        assert not p.fitted
        assert p.fit(Xtr, ytr) is p
        assert p.fitted
        pred = p.predict(Xte)
        mean, std = p.predict_dist(Xte)
        for a in (pred, mean, std):
            assert isinstance(a, np.ndarray) and a.dtype == np.float64 and a.shape == (len(Xte),), (a.shape, a.dtype)
        one = p.predict(Xte[:1])
        assert one.shape == (1,)

    def test_predict_dist_is_finite_with_nonnegative_std(self, fitted: tuple[Any, np.ndarray]) -> None:
        p, Xte = fitted
        mean, std = p.predict_dist(Xte)
        assert np.isfinite(mean).all() and np.isfinite(std).all()
        assert (std >= 0).all(), std.min()
        assert np.array_equal(mean, p.predict(Xte))

    def test_members(self, fitted: tuple[Any, np.ndarray]) -> None:
        p, Xte = fitted
        m = p.members(Xte)
        if m is None:
            return
        assert isinstance(m, np.ndarray) and m.ndim == 2 and m.shape[1] == len(Xte) and m.shape[0] >= 1, m.shape
        assert np.isfinite(m).all()
        if self.members_are_mean:
            diff = np.abs(m.mean(axis=0) - p.predict(Xte)).max()
            assert diff <= 1e-9, f"predict is not the mean of members: max difference {diff}"

    def test_non_finite_features_are_accepted(self) -> None:
        Xtr, ytr, Xte, _ = self.data(d=6)
        Xtr = Xtr.copy()
        Xte = Xte.copy()
        Xtr[::3, 0] = np.nan
        Xtr[1::4, 1] = -np.inf
        Xtr[2::5, 2] = np.inf
        Xtr[:, 5] = np.nan  # a column without any finite training value
        Xte[::2, 0] = np.nan
        Xte[1::3, 1] = -np.inf
        Xte[:, 5] = -np.inf
        kept = (Xtr.copy(), Xte.copy())
        p = self.make().fit(Xtr, ytr)
        mean, std = p.predict_dist(Xte)
        assert np.isfinite(mean).all() and np.isfinite(std).all() and (std >= 0).all()
        m = p.members(Xte)
        assert m is None or np.isfinite(m).all()
        assert np.array_equal(Xtr, kept[0], equal_nan=True) and np.array_equal(Xte, kept[1], equal_nan=True), \
            "the predictor modified the caller's feature arrays"

    # ------------------------------------------------------------------------------ reproducible
    def test_same_seed_same_predictions_whatever_the_global_rngs(self) -> None:
        import random

        import torch

        Xtr, ytr, Xte, _ = self.data()
        np.random.seed(1)
        torch.manual_seed(1)
        random.seed(1)
        a = self.make(seed=3).fit(Xtr, ytr).predict_dist(Xte)
        np.random.seed(2)
        torch.manual_seed(2)
        random.seed(2)
        before = (np.random.get_state()[1].copy(), torch.random.get_rng_state().clone(), random.getstate())
        b = self.make(seed=3).fit(Xtr, ytr).predict_dist(Xte)
        after = (np.random.get_state()[1], torch.random.get_rng_state(), random.getstate())
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
        assert np.array_equal(before[0], after[0]) and torch.equal(before[1], after[1]) and before[2] == after[2], \
            "fit / predict drew from a global RNG"

    def test_different_data_different_predictions(self, fitted: tuple[Any, np.ndarray]) -> None:
        p, Xte = fitted
        Xtr, ytr, _, _ = self.data(seed=1)
        other = self.make().fit(Xtr, ytr)
        assert not np.array_equal(p.predict(Xte), other.predict(Xte))
        Xtr0, ytr0, _, _ = self.data()
        shuffled = self.make().fit(Xtr0, ytr0[::-1].copy())
        assert not np.array_equal(p.predict(Xte), shuffled.predict(Xte))

    def test_reproducible_in_a_subprocess(self) -> None:
        """The same predictions, bit for bit, in a fresh process with one BLAS / OpenMP thread."""
        n, d, data_seed, seed = self.n_train + 30, 5, 0, 4
        Xtr, ytr, Xte, _ = self.data()
        mean, std = self.make(seed=seed).fit(Xtr, ytr).predict_dist(Xte)
        code = _CHILD.format(imports=tuple(self.imports), n=n, d=d, data_seed=data_seed, name=self.name, seed=seed,
                             params=json.dumps(self.settings), train=self.n_train)
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "PYTHONHASHSEED": "123"}
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        got_mean, got_std = json.loads(proc.stdout.strip().splitlines()[-1])
        assert got_mean == [float(v).hex() for v in mean], "predictions differ in another process"
        assert got_std == [float(v).hex() for v in std], "standard deviations differ in another process"

    # ------------------------------------------------------------------------------ errors
    def bad_param_cases(self) -> list[dict[str, Any]]:
        """:attr:`bad_params`, or the ones derived from the constructor's numeric keyword defaults."""
        if self.bad_params is not None:
            return [dict(b) for b in self.bad_params]
        from nasearch.predictors.base import get_predictor

        sig = inspect.signature(get_predictor(self.name).__init__)
        out: list[dict[str, Any]] = []
        for pname, prm in sig.parameters.items():
            if pname in ("self", "seed") or prm.kind not in (prm.KEYWORD_ONLY, prm.POSITIONAL_OR_KEYWORD):
                continue
            dflt = prm.default
            if isinstance(dflt, bool) or not isinstance(dflt, (int, float, np.integer, np.floating)):
                continue
            out.extend([{pname: -1}, {pname: "bogus"}])
        return out

    def test_bad_params_are_refused_naming_the_value(self) -> None:
        from nasearch.predictors.base import PredictorError

        for bad in self.bad_param_cases():
            with pytest.raises(PredictorError) as info:
                self.make(**bad)
            (key, value), = bad.items()
            msg = str(info.value)
            assert key in msg and repr(value) in msg, f"{bad}: {msg}"
        with pytest.raises(PredictorError, match="no_such_param"):
            self.make(no_such_param=7)
        for seed in (-1, 1.5, "0"):
            with pytest.raises(PredictorError) as info:
                self.make(seed=seed)  # type: ignore[arg-type]
            assert repr(seed) in str(info.value)

    def test_predict_before_fit_is_an_error(self) -> None:
        from nasearch.predictors.base import PredictorError

        _, _, Xte, _ = self.data()
        p = self.make()
        for call in (p.predict, p.predict_dist, p.members):
            with pytest.raises(PredictorError, match="fit"):
                call(Xte)

    def test_wrong_feature_count_is_an_error(self, fitted: tuple[Any, np.ndarray]) -> None:
        from nasearch.predictors.base import PredictorError

        p, Xte = fitted
        for X in (Xte[:, :-1], np.hstack([Xte, Xte[:, :1]])):
            with pytest.raises(PredictorError, match=str(X.shape[1])):
                p.predict(X)
        with pytest.raises(PredictorError):
            p.predict(Xte[0])  # 1-D

    def test_bad_training_data_is_an_error(self) -> None:
        from nasearch.predictors.base import PredictorError

        Xtr, ytr, _, _ = self.data()
        y = ytr.copy()
        y[3] = np.nan
        for X, yy in ((Xtr, y), (Xtr, ytr[:-1]), (Xtr[:1], ytr[:1]), (Xtr[:, 0], ytr)):
            with pytest.raises(PredictorError):
                self.make().fit(X, yy)

    # ------------------------------------------------------------------------------ learning
    def test_learns_a_smooth_function(self) -> None:
        from scipy.stats import kendalltau

        X, y = synthetic_data(300, 5, seed=11)
        p = self.make(seed=0).fit(X[:100], y[:100])
        tau = kendalltau(p.predict(X[100:]), y[100:])[0]
        assert tau > 0.5, f"predictor {self.name!r}: Kendall tau {tau:.3f} on 200 held-out points (expected > 0.5)"


__all__ = ["PredictorContract", "synthetic_data"]
