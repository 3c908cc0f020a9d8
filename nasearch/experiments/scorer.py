"""Task-side adapters of the scorer (:mod:`nasearch.proxies.scorer`): the values a config's ``proxy``
section and ``device`` give it.

:func:`make_scorer` is the pre-filter's scorer a search config asks for; :func:`require_scores_or_images`
checks, before a job writes anything, that its scores can be had (stored, or computable from images).
"""

from __future__ import annotations

from nasearch.config import Config
from nasearch.proxies import scorer as engine
from nasearch.proxies.scorer import ArchScorer
from nasearch.proxies.store import default_store_path
from nasearch.space.base import SearchSpace


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
        device=cfg.device,
    )


def require_scores_or_images(proxy: str, dataset: str, cells: list, cfg: Config, space: SearchSpace,
                             where: str, shipped: bool | None = None) -> str:
    """:func:`nasearch.proxies.scorer.require_scores_or_images` with the settings of ``cfg.proxy`` (the
    store only with ``proxy.source=store``). ``shipped``: whether the shipped tables count (default
    ``proxy.shipped``; a score table recomputes what they hold)."""
    p = cfg.proxy
    return engine.require_scores_or_images(
        proxy, dataset, cells, space, image_dataset=p.image_dataset, batch_size=p.batch_size,
        num_batches=p.num_batches, seed=p.seed, checkpoint=p.checkpoint,
        store_path=(p.store or str(default_store_path())) if p.source == "store" else None,
        shipped=p.shipped if shipped is None else shipped, where=where,
    )


__all__ = ["make_scorer", "require_scores_or_images"]
