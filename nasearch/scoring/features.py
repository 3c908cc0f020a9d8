"""Features of cells for learned predictors (:mod:`nasearch.predictors`): one ``float64`` row per
cell, one column per feature value.

A **feature** is named by what it reads:

* ``"encoding"``: the space's fixed-length one-hot encoding (:meth:`SearchSpace.encode`), one column
  per (position, choice), named ``enc0, enc1, ...`` (``sum(space.positions)`` columns);
* a **proxy** name (any registered proxy or ensemble, ``params`` and ``flops`` included, or an
  ``ensemble:M1+M2/COMBINE/RANKING`` spec): one column named after it holding the proxy's rank key
  as the pre-filter's scorer returns it (:func:`~nasearch.scoring.scorer.make_arch_scorer`: higher =
  better, the proxy's sign applied; the score store, then the tables shipped with nasearch beneath
  it, then live computation of the missing cells, written back to the store);
* ``"ghn"``: the Graph HyperNetwork's embedding of the cell's operation graph
  (:func:`nasearch.predictors.ghn.graph_embeddings`: the mean, then the maximum, over the graph's
  nodes of the GHN's final node embeddings), ``2 * hidden`` columns named ``ghn0, ghn1, ...`` (64
  with the shipped GHN). The graph is the space's :meth:`~SearchSpace.op_graph` of the cell's
  network for the featurizer's task (``settings.dataset``, else the space's first task with a
  network), built with zero-filling initialisers and the global RNG untouched. The checkpoint is
  ``ghn_checkpoint``, else the one shipped in the package if it was trained on this space (the
  space is in its training record); otherwise it is refused. ``"ghn"`` always means this embedding:
  the ``ghn`` *proxy* (the generated network's held-out accuracy) is not available as a feature
  under that name (``ghn_loss``, its loss, is).

Column order: the features in the order asked, each expanded in place (``Featurizer(space,
["synflow", "encoding"]).names == ("synflow", "enc0", ...)``).

Non-finite values are kept as the scorer gives them: ``-inf`` for a trivial cell (output independent
of input) and for a cell whose proxy returned a non-finite score, NaN where a value cannot be had.
The predictors replace them below every finite training value
(:class:`~nasearch.predictors.base.MissingBelow`).

Rank ensembles: a ``ranking=run`` ensemble (every preset) combines its members' ranks among the
cells of each call, so its column compares cells of one call only; list the members as features (a
predictor learns their combination) or use ``ranking=space``.

Costs (the simulated clock): :meth:`Featurizer.cost` is the recorded compute time of the proxy
features' scores of the cells (the scorers' ``cost``, the same whether a score was stored or
computed just now). The encoding and the GHN embedding cost 0: the encoding is free, and the
embedding (about 0.05-0.1 s of CPU per cell on first use, the network build and trace included,
then cached per cell in memory) is not charged, like the predictor's own fitting.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from nasearch.errors import NasearchError
from nasearch.proxies.registry import ProxyError, get_proxy, proxy_names
from nasearch.scoring.scorer import ArchScorer, EnsembleScorer, make_arch_scorer
from nasearch.scoring.settings import ScoringSettings
from nasearch.space.base import SearchSpace, get_space
from nasearch.suggest import did_you_mean

log = logging.getLogger(__name__)

ENCODING = "encoding"
GHN = "ghn"
SPECIAL = (ENCODING, GHN)
"""Feature names that are not proxies."""


class FeatureError(NasearchError):
    """An unknown, repeated or unusable feature name, or settings a feature cannot work with."""


def accepted_features() -> tuple[str, ...]:
    """Every accepted feature name: ``encoding``, ``ghn`` and every registered proxy (besides the
    ``ghn`` proxy, whose name the embedding takes); ``ensemble:...`` specs are accepted too."""
    return SPECIAL + tuple(n for n in proxy_names() if n not in SPECIAL)


def _check_names(features: Any, where: str) -> tuple[str, ...]:
    if isinstance(features, str):
        raise FeatureError(f"{where}: features must be a list of names, got the string {features!r} "
                           f"(write [{features!r}])")
    features = tuple(features)
    if not features:
        raise FeatureError(f"{where}: no features given; accepted: {', '.join(accepted_features())}")
    seen: set[str] = set()
    for f in features:
        if not isinstance(f, str):
            raise FeatureError(f"{where}: feature names are strings, got {f!r} ({type(f).__name__})")
        if f in seen:
            raise FeatureError(f"{where}: feature {f!r} is given twice ({list(features)!r}); each may be "
                               "asked once")
        seen.add(f)
        if f in SPECIAL or f in proxy_names():
            continue
        if ":" in f:  # a parametric proxy (ensemble:M1+M2/COMBINE/RANKING): its own parser's error
            try:
                get_proxy(f, where=where)
            except ProxyError as exc:
                raise FeatureError(f"{where}: feature {f!r} is not a usable proxy: {exc}") from None
            continue
        accepted = accepted_features()
        raise FeatureError(f"{where}: unknown feature {f!r}; accepted: {', '.join(accepted)} (or an "
                           f"ensemble:M1+M2/COMBINE/RANKING spec){did_you_mean(f, accepted)}")
    return features


def _checkpoint_space(ck: dict) -> str:
    from nasearch.predictors.ghn_train import TrainSettings

    return str((ck.get("train") or {}).get("space", TrainSettings.STORED_DEFAULTS["space"]))


class Featurizer:
    """Features of cells of one space for one dataset/task (see the module docstring).

    ``Featurizer(space, features, *, settings=None, store_path=None, ghn_checkpoint=None)``:
    ``features`` the names in column order; ``settings`` the base scoring settings of the proxy
    features (each proxy feature is scored with ``settings.replace(proxy=name)``, its checkpoint
    kept only for a proxy that binds one; required when a proxy feature is asked; its ``space`` must
    be ``space``, its ``dataset`` is the featurizer's task); ``store_path`` the score store read and
    written (None: none, every missing score is computed live); ``ghn_checkpoint`` the GHN of the
    ``ghn`` feature (default: the shipped one, for the space it was trained on only).

    Every name is checked before any work: an unknown name (with "did you mean"), a repeated one or
    none at all is a :class:`FeatureError`.
    """

    def __init__(self, space: SearchSpace | str, features: Sequence[str], *, settings: ScoringSettings | None = None,
                 store_path: str | None = None, ghn_checkpoint: str | None = None):
        where = "Featurizer(features=...)"
        self.features: tuple[str, ...] = _check_names(features, where)
        self.space: SearchSpace = get_space(space, where="Featurizer(space=...)")
        proxies = [f for f in self.features if f not in SPECIAL]
        if proxies and settings is None:
            raise FeatureError(f"{where}: proxy feature(s) {', '.join(proxies)} need the base scoring settings "
                               "(settings=ScoringSettings(...): images, batches, seed, device)")
        if settings is not None and get_space(settings.space, where="Featurizer(settings.space)").name != self.space.name:
            raise FeatureError(f"Featurizer: settings.space is {get_space(settings.space).name!r} but the "
                               f"featurizer's space is {self.space.name!r}; give settings of the same space")
        self.settings = settings
        self.task: str = settings.dataset if settings is not None else self.space.networks_for()[0]
        self.store_path = store_path

        self._ghn: Any = None
        self.ghn_checkpoint: str | None = None
        if GHN in self.features:
            self._ghn, self.ghn_checkpoint = self._load_ghn(ghn_checkpoint)
            if self.task not in self.space.networks_for():
                raise FeatureError(f"Featurizer: the ghn feature embeds the {self.space.name} network of task "
                                   f"{self.task!r}, which the space does not build; tasks with a network: "
                                   f"{', '.join(self.space.networks_for())}")
        self._ghn_cache: dict[int, np.ndarray] = {}

        self.scorers: dict[str, ArchScorer | EnsembleScorer] = {}
        """The scorer of each proxy feature, by name."""
        for name in proxies:
            assert settings is not None
            checkpoint = settings.checkpoint if get_proxy(name).bind is not None else None
            self.scorers[name] = make_arch_scorer(settings.replace(proxy=name, space=self.space, checkpoint=checkpoint),
                                                  store_path=store_path)

        names: list[str] = []
        self._widths: list[int] = []
        for f in self.features:
            if f == ENCODING:
                cols = [f"enc{i}" for i in range(int(sum(self.space.positions)))]
            elif f == GHN:
                cols = [f"ghn{i}" for i in range(2 * self._ghn.config.hidden)]
            else:
                cols = [f]
            names.extend(cols)
            self._widths.append(len(cols))
        self.names: tuple[str, ...] = tuple(names)

    # ------------------------------------------------------------------ the GHN embedding
    def _load_ghn(self, checkpoint: str | None) -> tuple[Any, str]:
        import torch

        from nasearch.predictors.ghn_train import GHNCheckpointError
        from nasearch.predictors.ghn_train import load_model as _load
        from nasearch.proxies.ghn import default_checkpoint

        def load_model(path: Any) -> tuple[Any, dict]:
            with torch.random.fork_rng(devices=[]):  # GHN() initialises its modules from the global RNG
                return _load(path)

        if checkpoint is None:
            shipped = default_checkpoint()
            try:
                ghn, ck = load_model(shipped)
            except GHNCheckpointError as exc:
                raise FeatureError(f"Featurizer: the ghn feature needs a GHN checkpoint and the shipped one cannot "
                                   f"be read: {exc}") from None
            trained_on = _checkpoint_space(ck)
            if trained_on != self.space.name:
                raise FeatureError(
                    f"Featurizer: the ghn feature on space {self.space.name!r} needs a GHN checkpoint "
                    f"(ghn_checkpoint=PATH, proxy.checkpoint=PATH); the one shipped with nasearch was trained on "
                    f"{trained_on!r}. Train one with `nasearch task=train_ghn benchmark=<a benchmark of "
                    f"{self.space.name}>`"
                )
            return ghn, str(shipped)
        try:
            ghn, ck = load_model(checkpoint)
        except GHNCheckpointError as exc:
            raise FeatureError(f"Featurizer(ghn_checkpoint={checkpoint!r}): {exc}") from None
        trained_on = _checkpoint_space(ck)
        if trained_on != self.space.name:
            log.warning("GHN checkpoint %s was trained on %s; embedding %s cells with it", checkpoint, trained_on,
                        self.space.name)
        return ghn, str(checkpoint)

    def _graph(self, arch: Any) -> Any:
        import torch

        from nasearch.scoring.worker import blank_network

        with torch.random.fork_rng(devices=[]), blank_network():
            return self.space.op_graph(arch, self.task)

    def _embeddings(self, archs: list) -> np.ndarray:
        from nasearch.predictors.ghn import graph_embeddings

        missing = list(dict.fromkeys(a for a in archs if a.index not in self._ghn_cache))
        if missing:
            rows = graph_embeddings(self._ghn, [self._graph(a) for a in missing])
            for a, row in zip(missing, rows):
                self._ghn_cache[a.index] = row
        width = 2 * self._ghn.config.hidden
        if not archs:
            return np.zeros((0, width))
        return np.stack([self._ghn_cache[a.index] for a in archs])

    # ------------------------------------------------------------------ the interface
    def _archs(self, archs: Sequence[Any]) -> list:
        parse = self.space.parse
        return [parse(a, where="Featurizer(archs)") for a in archs]

    def __call__(self, archs: Sequence[Any]) -> np.ndarray:
        """The feature matrix of ``archs``: ``float64``, ``(len(archs), len(self.names))``."""
        archs = self._archs(archs)
        out = np.empty((len(archs), len(self.names)), dtype=np.float64)
        if not archs:
            return out
        col = 0
        for f, w in zip(self.features, self._widths):
            if f == ENCODING:
                out[:, col:col + w] = self.space.encode(archs)
            elif f == GHN:
                out[:, col:col + w] = self._embeddings(archs)
            else:
                out[:, col] = np.asarray(self.scorers[f](archs), dtype=np.float64)
            col += w
        return out

    def cost(self, archs: Sequence[Any]) -> float:
        """Recorded compute seconds of the proxy features' scores of ``archs`` (the scorers' ``cost``:
        the same from the store as computed live). The encoding and the GHN embedding cost 0 in the
        simulated clock."""
        archs = self._archs(archs)
        return float(sum(s.cost(archs) for s in self.scorers.values()))

    def coverage(self) -> int:
        """Cells whose every feature is available without computing: cells every proxy feature's
        scorer (every member of an ensemble) already holds a value for (stored, shipped, or computed
        earlier). The encoding and the GHN embedding need no store and no images: every cell."""
        scorers: list[ArchScorer] = []
        for s in self.scorers.values():
            scorers.extend(s.members if isinstance(s, EnsembleScorer) else [s])
        if not scorers:
            return self.space.num_archs
        have = np.ones(self.space.num_archs, dtype=bool)
        for s in scorers:
            have &= ~np.isnan(s.keys)
        return int(have.sum())

    def require_inputs(self, where: str) -> None:
        """Fail now, naming the config keys, if cells the store lacks would need images that are not
        there (each proxy feature's scorer checks; see :meth:`ArchScorer.require_inputs`)."""
        for name, s in self.scorers.items():
            s.require_inputs(f"{where} (feature {name})")

    def __repr__(self) -> str:
        return f"Featurizer({self.space.name!r}, {list(self.features)!r}, task={self.task!r})"


def encoding_featurizer(space: SearchSpace | str) -> Featurizer:
    """The featurizer of the space's one-hot encoding alone: no store, no settings, costs 0."""
    return Featurizer(space, (ENCODING,))


__all__ = ["ENCODING", "GHN", "FeatureError", "Featurizer", "accepted_features", "encoding_featurizer"]
