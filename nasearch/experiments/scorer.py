"""The pre-filter's scorer for search jobs: proxy scores from the score store, the rest computed live.

A search with ``proxy=P proxy.n=N`` screens thousands of cells over its runs; each cell is scored
once per setting (proxy, dataset, image dataset, batch size, batches, seed) and kept in the SQLite
score store (:mod:`nasearch.proxies.store`). The scorer loads every stored score of its setting into
an array at start-up (one lookup per cell afterwards), computes cells it has not seen with
:func:`nasearch.proxies.scoring.score_cells` (written back to the store, so other runs, workers and
later jobs reuse them) and returns "higher = better" keys with the never-preferred policy applied.

All runs share one score per cell (the setting's seed, ``proxy.seed``), as in GradSign's evaluation
with a precomputed score table; the run's own seed decides which cells are proposed.

Proxy compute time: the overhead charged for a screening step (``cost``) is the recorded compute
time of the screened cells' scores, whether they came from the store or were computed just now, so
``proxy.charge_time=true`` charges the same time in a cold and a warm run.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import numpy as np

from nasearch.config import Config
from nasearch.space.base import SearchSpace, get_space

log = logging.getLogger(__name__)


def default_store_path() -> Path:
    root = os.environ.get("NASEARCH_CACHE")
    if root:
        return Path(root) / "scores.sqlite"
    return Path.home() / ".cache" / "nasearch" / "scores.sqlite"


class ArchScorer:
    """Callable ``archs -> rank keys`` (higher = better) with a ``cost(archs) -> seconds``."""

    def __init__(
        self,
        proxy: str,
        dataset: str,
        *,
        image_dataset: str | None,
        batch_size: int,
        num_batches: int | None,
        seed: int,
        store_path: str | None,
        data_root: str | None = None,
        shipped: bool = True,
        space: SearchSpace | str = "nb201",
        checkpoint: str | None = None,
    ):
        from nasearch.proxies.scoring import score_key

        self.space = get_space(space, where="ArchScorer(space=...)")
        self.proxy = proxy
        self.dataset = dataset
        self.image_dataset = image_dataset
        self.batch_size = batch_size
        self.num_batches = num_batches
        self.seed = seed
        self.store_path = store_path
        self.data_root = data_root
        self.shipped = shipped
        """Read the package's shipped score tables beneath the store (nasearch.proxies.shipped)."""
        self.checkpoint = checkpoint
        self.key = score_key(
            proxy, dataset, image_dataset=image_dataset, batch_size=batch_size, num_batches=num_batches, seed=seed,
            space=self.space, checkpoint=checkpoint,
        )
        self.keys = np.full(self.space.num_archs, np.nan)
        self.seconds = np.zeros(self.space.num_archs)
        self._load()

    def _load(self) -> None:
        from nasearch.proxies import get_proxy
        from nasearch.proxies.scoring import never_preferred, rank_key
        from nasearch.proxies.store import ScoreStore

        spec = get_proxy(self.proxy, checkpoint=self.checkpoint)
        space = self.space
        connected = np.array([not space.is_trivial(a) for a in space.all_archs()])
        self.keys[~connected] = -math.inf
        if self.store_path is None:
            return
        from nasearch.proxies.shipped import layered

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
        from nasearch.proxies.scoring import rank_key, score_cells
        from nasearch.proxies.store import ScoreStore

        store = ScoreStore(self.store_path) if self.store_path else None
        try:
            values = score_cells(
                archs,
                self.proxy,
                self.dataset,
                image_dataset=self.image_dataset,
                data_root=self.data_root,
                batch_size=self.batch_size,
                num_batches=self.num_batches,
                seed=self.seed,
                workers=1,
                store=store,
                progress=False,
                shipped=self.shipped,
                space=self.space,
                checkpoint=self.checkpoint,
            )
            idx = [a.index for a in archs]
            self.keys[idx] = rank_key(self.proxy, values)
            if store is not None:
                from nasearch.proxies.shipped import layered

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

    def coverage(self) -> int:
        return int(np.isfinite(self.keys).sum() + np.isinf(self.keys).sum())

    def __repr__(self) -> str:
        return f"ArchScorer({self.key.describe()})"


def make_scorer(cfg: Config, bench: object, dataset: str) -> ArchScorer:
    """The scorer a search config asks for (``proxy.source=store``: backed by the store)."""
    p = cfg.proxy
    store = None
    if p.source == "store":
        store = p.store or str(default_store_path())
    return ArchScorer(
        p.ref,
        dataset,
        image_dataset=p.image_dataset,
        batch_size=p.batch_size,
        num_batches=p.num_batches,
        seed=p.seed,
        store_path=store,
        shipped=p.shipped,
        space=bench.space,  # type: ignore[attr-defined]
        checkpoint=p.checkpoint,
    )
