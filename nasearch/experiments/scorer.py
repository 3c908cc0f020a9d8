"""Task-side adapters of the scoring engine: a config's ``proxy`` section, ``device``, ``workers``
and ``executor`` as one :class:`~nasearch.scoring.settings.ScoringSettings`.

:func:`scoring_settings` is the one place a config becomes scoring settings; :func:`make_scorer` is
the pre-filter's scorer a search config asks for; :func:`make_featurizer` the features of a learned
predictor; :func:`require_scores_or_images` checks, before a
job writes anything, that its scores can be had (stored, or computable from images);
:func:`store_path` is the store a config reads and writes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from nasearch.config import Config
from nasearch.proxies import get_proxy
from nasearch.scoring import scorer as engine
from nasearch.scoring.features import Featurizer
from nasearch.scoring.scorer import ArchScorer, EnsembleScorer, make_arch_scorer
from nasearch.scoring.settings import ScoringSettings
from nasearch.scoring.store import default_store_path
from nasearch.space.base import SearchSpace


def scoring_settings(cfg: Config, space: SearchSpace, proxy: str | None = None, dataset: str | None = None,
                     **changes: Any) -> ScoringSettings:
    """The scoring settings of ``cfg``: ``proxy`` (default ``cfg.proxy.ref``) on ``space``'s
    ``dataset`` (default ``cfg.dataset.name``) networks, with the image set, batches, seed, shipped
    tables and checkpoint of ``cfg.proxy`` and the config's device. ``proxy.checkpoint`` goes with the
    config's own proxy (which refuses it if it takes none); another named proxy (``mpi.proxies``)
    gets it only if it takes one (``ghn``). ``changes`` override fields (workers, executor, ...)."""
    p = cfg.proxy
    name = p.ref if proxy is None else proxy
    checkpoint = p.checkpoint if proxy is None or get_proxy(name).bind is not None else None
    return ScoringSettings(
        proxy=name, space=space, dataset=cfg.dataset.name if dataset is None else dataset,
        image_dataset=p.image_dataset, batch_size=p.batch_size, num_batches=p.num_batches, seed=p.seed,
        checkpoint=checkpoint, shipped=p.shipped, device=cfg.device, progress=cfg.progress,
    ).replace(**changes)


def store_path(cfg: Config) -> str | None:
    """The score store a job reads and writes: ``proxy.store`` (default: the user's store), none with
    ``proxy.source=live``."""
    return None if cfg.proxy.source == "live" else (cfg.proxy.store or str(default_store_path()))


def workers(cfg: Config) -> int:
    """Scoring workers of a job: ``workers``, or (0) the CPU count up to 8."""
    return cfg.workers or min(os.cpu_count() or 1, 8)


def make_scorer(cfg: Config, bench: object, dataset: str) -> ArchScorer | EnsembleScorer:
    """The scorer a search config asks for (``proxy.source=store``: backed by the store; an ensemble's
    members each read and write it)."""
    return make_arch_scorer(scoring_settings(cfg, bench.space, dataset=dataset), store_path=store_path(cfg))  # type: ignore[attr-defined]


def make_featurizer(cfg: Config, bench: object, dataset: str, features: Sequence[str]) -> Featurizer:
    """The features ``features`` of ``bench.space``'s ``dataset`` cells (:class:`~nasearch.scoring.
    features.Featurizer`): proxy features scored with the settings of ``cfg.proxy`` (images, batches,
    seed, shipped tables, device) and its store (``proxy.source=store``); the ``ghn`` embedding with
    ``proxy.checkpoint`` (default: the shipped GHN, for the space it was trained on)."""
    features = [features] if isinstance(features, str) else list(features)
    return Featurizer(bench.space, features,  # type: ignore[attr-defined]
                      settings=scoring_settings(cfg, bench.space, dataset=dataset),  # type: ignore[attr-defined]
                      store_path=store_path(cfg),
                      ghn_checkpoint=cfg.proxy.checkpoint if "ghn" in features else None)


def require_scores_or_images(proxy: str, dataset: str, cells: list, cfg: Config, space: SearchSpace,
                             where: str, shipped: bool | None = None) -> str:
    """:func:`nasearch.scoring.scorer.require_scores_or_images` with the settings of ``cfg.proxy`` (the
    store only with ``proxy.source=store``). ``shipped``: whether the shipped tables count (default
    ``proxy.shipped``; a score table recomputes what they hold)."""
    settings = scoring_settings(cfg, space, proxy, dataset)
    if shipped is not None:
        settings = settings.replace(shipped=shipped)
    return engine.require_scores_or_images(settings, cells, store_path=store_path(cfg), where=where)


__all__ = ["make_featurizer", "make_scorer", "require_scores_or_images", "scoring_settings", "store_path", "workers"]
