"""The pre-filter's scorer: proxy scores from the score store, the rest computed live; and the check
that a job's scores can be had before it writes anything.

A search with ``proxy=P proxy.n=N`` screens thousands of cells over its runs; each cell is scored
once per setting (proxy, dataset, image dataset, batch size, batches, seed) and kept in the SQLite
score store (:mod:`nasearch.scoring.store`). The scorer loads every stored score of its setting into
an array at start-up (one lookup per cell afterwards), computes cells it has not seen with
:func:`nasearch.scoring.score_cells` (written back to the store, so other runs, workers and
later jobs reuse them) and returns "higher = better" keys with the never-preferred policy applied.

All runs share one score per cell (the setting's seed, ``proxy.seed``), as in GradSign's evaluation
with a precomputed score table; the run's own seed decides which cells are proposed.

Proxy compute time: the overhead charged for a screening step (``cost``) is the recorded compute
time of the screened cells' scores, whether they came from the store or were computed just now, so
``proxy.charge_time=true`` charges the same time in a cold and a warm run.

Both take plain values (the config-to-values adapters for the tasks are in
:mod:`nasearch.experiments.scorer`).
"""

from __future__ import annotations

import logging
import math

import numpy as np

from nasearch.data import DataError
from nasearch.data.images import _split_files, image_root
from nasearch.proxies import get_proxy
from nasearch.scoring.batches import NO_IMAGES
from nasearch.scoring.engine import score_cells
from nasearch.scoring.ensemble import combine_connected, incomplete_table, member_settings, space_reference
from nasearch.scoring.policy import never_preferred, rank_key
from nasearch.scoring.settings import ScoringSettings
from nasearch.scoring.shipped import layered
from nasearch.scoring.store import ScoreStore
from nasearch.space.base import get_space

log = logging.getLogger(__name__)


class ArchScorer:
    """Callable ``archs -> rank keys`` (higher = better) with a ``cost(archs) -> seconds``."""

    def __init__(self, settings: ScoringSettings, *, store_path: str | None):
        """``settings``: the scoring run whose scores rank cells (cells missing from the store are
        computed with its device, one worker, no progress bar); ``store_path``: the score store read
        and written (None: none, every cell is computed live)."""
        self.settings = settings.replace(workers=1, progress=False)
        self.space = get_space(settings.space, where="ArchScorer(space=...)")
        self.proxy = settings.proxy
        self.store_path = store_path
        self.shipped = settings.shipped
        """Read the package's shipped score tables beneath the store (nasearch.scoring.shipped)."""
        self.key = self.settings.key()
        self.keys = np.full(self.space.num_archs, np.nan)
        self.seconds = np.zeros(self.space.num_archs)
        self._load()

    def _load(self) -> None:
        spec = get_proxy(self.proxy, checkpoint=self.settings.checkpoint)
        space = self.space
        connected = np.array([not space.is_trivial(a) for a in space.all_archs()])
        self.keys[~connected] = -math.inf
        if self.store_path is None:
            return
        with ScoreStore(self.store_path) as store:
            stored = layered(store, self.key, np.flatnonzero(connected).tolist(), with_seconds=True,
                             shipped=self.shipped)
        if stored:
            idx = np.fromiter(stored.keys(), dtype=np.int64)
            vals = np.array([v[0] for v in stored.values()])  # type: ignore[index]
            secs = np.array([v[1] for v in stored.values()])  # type: ignore[index]
            vals[~np.isfinite(vals)] = never_preferred(spec)
            self.keys[idx] = rank_key(spec, vals)
            self.seconds[idx] = np.nan_to_num(secs)
        log.info(
            "%s scores: %d of %d connected cells already in the store %s"
            + (" or the score tables shipped with nasearch" if self.shipped else ""),
            self.proxy,
            len(stored),
            int(connected.sum()),
            self.store_path,
        )

    def _compute(self, archs: list) -> None:
        store = ScoreStore(self.store_path) if self.store_path else None
        try:
            values = score_cells(archs, self.settings, store=store)
            idx = [a.index for a in archs]
            self.keys[idx] = rank_key(self.proxy, values)
            if store is not None:
                got = layered(store, self.key, archs, with_seconds=True, shipped=self.shipped)
                for i, (_v, s) in got.items():  # type: ignore[misc]
                    self.seconds[i] = 0.0 if math.isnan(s) else s
        finally:
            if store is not None:
                store.close()

    def __call__(self, archs: list) -> np.ndarray:
        idx = [a.index for a in archs]
        missing = [a for a, i in zip(archs, idx) if np.isnan(self.keys[i])]
        if missing:
            self._compute(list(dict.fromkeys(missing)))
        return self.keys[idx]

    def cost(self, archs: list) -> float:
        return float(sum(self.seconds[a.index] for a in archs))

    @property
    def version(self) -> str:
        """The proxy's code version (or its program / checkpoint identity) that keys its scores."""
        return self.key.version

    def require_inputs(self, where: str) -> None:
        """Fail now, naming the config keys, if cells the store lacks would need images that are not
        there (a search would otherwise fail at its first unstored cell, minutes in)."""
        if self.key.image_dataset == NO_IMAGES:
            return
        missing = self.space.num_archs - self.coverage()
        try:
            _split_files(self.key.image_dataset, image_root(self.key.image_dataset, self.settings.data_root), "train")
        except DataError as exc:
            raise DataError(
                f"{where} must compute {missing} scores that no score store holds (proxy.store / the tables "
                f"shipped with nasearch), and they need {self.key.image_dataset} training images: {exc}. "
                f"Set NASEARCH_DATA to a folder with the images, choose them with proxy.image_dataset=NAME, "
                f"or point proxy.store at a store that holds these scores"
            ) from None

    def coverage(self) -> int:
        return int(np.isfinite(self.keys).sum() + np.isinf(self.keys).sum())

    def __repr__(self) -> str:
        return f"ArchScorer({self.key.describe()})"


class EnsembleScorer:
    """The pre-filter's scorer of a rank ensemble (:mod:`nasearch.proxies.ensembles`): one
    :class:`ArchScorer` per member (stored, shipped or live scores, as for any proxy) and their rank
    keys combined per call (:func:`~nasearch.scoring.ensemble.combine`): among the cells of the call
    (``ranking=run``: a pre-filter's N candidates, as AZ-NAS ranks its candidates) or against each
    member's whole-space table (``ranking=space``; refused here when a member's table is incomplete).
    Disconnected cells get ``-inf``. ``cost`` is the members' recorded compute time."""

    def __init__(self, settings: ScoringSettings, *, store_path: str | None):
        self.spec = get_proxy(settings.proxy, where="EnsembleScorer(proxy=...)")
        if not self.spec.members:
            raise ValueError(f"EnsembleScorer: {settings.proxy!r} is not an ensemble; use ArchScorer")
        self.space = get_space(settings.space, where="EnsembleScorer(space=...)")
        self.proxy = settings.proxy
        self.members = [ArchScorer(member_settings(settings, m), store_path=store_path) for m in self.spec.members]
        self.refs: list[np.ndarray] | None = None
        if self.spec.ranking == "space":
            connected = np.array([not self.space.is_trivial(a) for a in self.space.all_archs()])
            self.refs = []
            for m in self.members:
                if m.coverage() < self.space.num_archs:
                    raise incomplete_table(f"proxy {self.spec.name}", m.proxy, m.coverage(), self.space.num_archs,
                                           f"cells of {self.space.name}", m.key)
                self.refs.append(np.sort(m.keys[connected]))

    def __call__(self, archs: list) -> np.ndarray:
        keys = np.column_stack([m(archs) for m in self.members])
        live = np.array([not self.space.is_trivial(a) for a in archs], dtype=bool)
        return combine_connected(keys, live, self.spec.combine, self.refs)

    def cost(self, archs: list) -> float:
        return float(sum(m.cost(archs) for m in self.members))

    @property
    def version(self) -> str:
        """The ensemble's identity: the combination, its population and every member's version."""
        return self.spec.version

    def require_inputs(self, where: str) -> None:
        for m in self.members:
            m.require_inputs(f"{where} (ensemble member {m.proxy})")

    def coverage(self) -> int:
        """Cells every member can answer without computing."""
        return min(m.coverage() for m in self.members)

    def __repr__(self) -> str:
        return f"EnsembleScorer({self.spec.name})"


def make_arch_scorer(settings: ScoringSettings, *, store_path: str | None) -> ArchScorer | EnsembleScorer:
    """The pre-filter's scorer of ``settings.proxy``: :class:`EnsembleScorer` for an ensemble, else
    :class:`ArchScorer`."""
    if get_proxy(settings.proxy, where="proxy.name").members:
        return EnsembleScorer(settings, store_path=store_path)
    return ArchScorer(settings, store_path=store_path)


def require_scores_or_images(settings: ScoringSettings, cells: list, *, store_path: str | None, where: str) -> str:
    """Check, before a job writes anything, that the scores of ``cells`` under ``settings`` can be
    had: every one is in the score store at ``store_path`` (None: no store is read) or the shipped
    tables (when ``settings.shipped``), or the images to compute them are there. Returns the proxy's
    code version (its scores' identity) for the job's settings record. ``settings.checkpoint`` counts
    only for a proxy that binds one (``ghn``); ``where`` names the setting in the error. An ensemble
    checks each member (and, with ``ranking=space``, that each member's whole-space table is stored)
    and returns its own identity (members' versions included)."""
    spec = get_proxy(settings.proxy, where=where)
    if spec.members:
        for m in spec.members:
            require_scores_or_images(member_settings(settings, m), cells, store_path=store_path,
                                     where=f"{where} (ensemble member {m})")
        if spec.ranking == "space":
            store = ScoreStore(store_path) if store_path is not None else None
            try:
                for m in spec.members:
                    space_reference(settings, m, get_space(settings.space), store, where=where)
            finally:
                if store is not None:
                    store.close()
        return spec.version
    if get_proxy(settings.proxy).bind is None:
        settings = settings.replace(checkpoint=None)
    key = settings.key()
    if key.image_dataset == NO_IMAGES:
        return key.version
    stored = 0
    if store_path is not None:
        with ScoreStore(store_path) as store:
            stored = len(layered(store, key, cells, shipped=settings.shipped))
    if stored >= len(cells):
        return key.version
    try:
        _split_files(key.image_dataset, image_root(key.image_dataset, settings.data_root), "train")
    except DataError as exc:
        raise DataError(
            f"{where}: {len(cells) - stored} of the {len(cells)} cells' scores are in no score store (proxy.store, "
            f"the tables shipped with nasearch), and computing them needs {key.image_dataset} training images: {exc}. "
            "Set NASEARCH_DATA to a folder with the images, choose an image set with proxy.image_dataset=NAME, "
            "or point proxy.store at a store that holds these scores"
        ) from None
    return key.version


__all__ = ["ArchScorer", "EnsembleScorer", "make_arch_scorer", "require_scores_or_images"]
