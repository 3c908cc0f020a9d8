"""A stand-in featurizer for contract tests of strategies that learn from cell features
(``Strategy.uses_features``: ``predictor``, ``robot``).

:class:`StandInFeaturizer` has the interface of :class:`nasearch.scoring.features.Featurizer` on any
space, with no store, no images and no network: each column is a fixed function of a cell's choice
vector (``space.to_choices``), so a search with it is deterministic, fast and the same in every
process. Pass it with the feature names it was built for::

    feat = StandInFeaturizer(("stand_in_sum", "stand_in_hash"))
    get_strategy("robot")(rng, space=space, featurizer=feat, features=list(feat.features))

(:func:`stand_in_settings` gives those two settings as a dict, for ``StrategyContract.settings``.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nasearch.space.base import get_space


class StandInFeaturizer:
    """Column 0: the normalised sum of the cell's choices; column ``j > 0``: a fixed pseudo-random
    value of the choice vector in ``[0, 1)`` (a different hash per column); trivial cells ``-inf``.
    ``cost(archs)`` is ``seconds`` per cell. Space-generic: ``space`` is None (the cells say which
    space they are of, through ``space_name``)."""

    space = None

    def __init__(self, features: Sequence[str] = ("stand_in_sum", "stand_in_hash"), *, seconds: float = 0.01,
                 space_name: str | None = None):
        self.features = tuple(features)
        self.names = self.features
        self.seconds = float(seconds)
        self.space_name = space_name

    def _space(self, arch: Any) -> Any:
        if self.space_name is not None:
            return get_space(self.space_name)
        from nasearch.space import space_names

        for name in space_names():  # the space whose arch type this is (each space owns its arch type)
            space = get_space(name)
            if type(space.from_index(0)) is type(arch):
                return space
        raise TypeError(f"StandInFeaturizer: {arch!r} is an arch of no registered space")

    def __call__(self, archs: Sequence[Any]) -> np.ndarray:
        out = np.empty((len(archs), len(self.features)), dtype=np.float64)
        if not len(archs):
            return out
        space = self._space(archs[0])
        top = float(sum(k - 1 for k in space.positions)) or 1.0
        for i, a in enumerate(archs):
            c = space.to_choices(a)
            if space.is_trivial(a):
                out[i] = -np.inf
                continue
            out[i, 0] = sum(c) / top
            for j in range(1, len(self.features)):
                h = 0
                for v in c:
                    h = (h * 1000003 + v + 7 * j) % 2147483647
                out[i, j] = (h * 2654435761 % 2**32) / 2**32
        return out

    def cost(self, archs: Sequence[Any]) -> float:
        return self.seconds * len(archs)

    def coverage(self) -> int:
        return 0 if self.space_name is None else get_space(self.space_name).num_archs

    def require_inputs(self, where: str) -> None:
        pass

    def __repr__(self) -> str:
        return f"StandInFeaturizer({list(self.features)!r})"


def stand_in_settings(features: Sequence[str] = ("stand_in_sum", "stand_in_hash"), **kwargs: Any) -> dict[str, Any]:
    """``{"featurizer": StandInFeaturizer(features), "features": [...]}``: the settings that let a
    strategy that learns from features run in a contract test on any space."""
    return {"featurizer": StandInFeaturizer(features, **kwargs), "features": list(features)}


__all__ = ["StandInFeaturizer", "stand_in_settings"]
