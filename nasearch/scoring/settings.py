"""One scoring run's settings: what is scored (the score key) and how the work runs.

:class:`ScoringSettings` is the one object every entry point of the engine takes
(:func:`~nasearch.scoring.engine.score_cells`, :func:`~nasearch.scoring.score_table.build_score_table`,
:class:`~nasearch.scoring.scorer.ArchScorer`). Its fields fall in two groups:

* **what is scored**: ``proxy``, ``space``, ``dataset`` (the task whose networks are built, one of
  ``space.networks_for()``), ``image_dataset``, ``batch_size``, ``num_batches``, ``seed``,
  ``data_free``, ``checkpoint``. They make the run's :class:`~nasearch.scoring.store.ScoreKey`
  (:func:`score_key` validates them and fills the defaults), and a cell's score depends on nothing
  else;
* **how the work runs** (never a score): ``data_root``, ``workers``, ``executor``,
  ``executor_options``, ``device``, ``flush_every``, ``chunk_size``, ``shipped``, ``progress``.

:meth:`ScoringSettings.resolve` checks every field before any work and returns the resolved run
(:class:`ResolvedScoring`: the proxy spec, the space object, the key, the device).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from nasearch.data.images import CLASSES
from nasearch.device import parse_device
from nasearch.executors import Executor
from nasearch.proxies.registry import ProxyError, ProxySpec, get_proxy
from nasearch.scoring.batches import NO_IMAGES
from nasearch.scoring.store import ScoreKey
from nasearch.space.base import SearchSpace, get_space


def _positive_int(value: object, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ProxyError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def score_key(
    proxy: str,
    dataset: str = "cifar10",
    *,
    image_dataset: str | None = None,
    batch_size: int = 64,
    num_batches: int | None = None,
    seed: int = 0,
    data_free: bool = False,
    space: SearchSpace | str,
    checkpoint: str | None = None,
) -> ScoreKey:
    """The validated cache key of a run (the same validation and defaults as :func:`score_cells`)."""
    spec = get_proxy(proxy, where="score_cells(proxy=...)", checkpoint=checkpoint)
    space = get_space(space, where="score_cells(space=...)")
    if dataset not in space.networks_for():
        raise ProxyError(
            f"unknown dataset {dataset!r} (score_cells(dataset=...)) for space {space.name!r}: proxies "
            f"score the networks of {', '.join(space.networks_for())}"
        )
    if image_dataset is None:
        if dataset in CLASSES:
            image_dataset = dataset
        elif data_free or spec.data_free or not spec.needs_network:
            image_dataset = NO_IMAGES  # a task without an image set here (TransNAS-Bench-101's)
        else:
            raise ProxyError(
                f"proxy {spec.name!r} needs images and there are none for {dataset!r} (space {space.name!r}): "
                f"name an image set with image_dataset=... ({', '.join(CLASSES)}), or run data-free "
                f"(data_free=True) if the proxy needs no labels"
            )
    if image_dataset == NO_IMAGES:
        data_free = True
    elif image_dataset not in CLASSES:
        raise ProxyError(
            f"unknown image dataset {image_dataset!r} (score_cells(image_dataset=...)); accepted: "
            f"{', '.join(CLASSES)}, or {NO_IMAGES!r} for data-free batches"
        )
    batch_size = _positive_int(batch_size, "batch_size")
    num_batches = spec.min_batches if num_batches is None else _positive_int(num_batches, "num_batches")
    if num_batches < spec.min_batches:
        raise ProxyError(
            f"proxy {spec.name!r} needs at least {spec.min_batches} batches, got num_batches={num_batches}"
        )
    seed = _positive_int(seed, "seed", minimum=0)
    uses_images = spec.needs_network and not spec.data_free and not data_free
    if data_free and spec.needs_labels:
        raise ProxyError(
            f"proxy {spec.name!r} needs labels and cannot run data-free (data_free=True or "
            f"image_dataset={NO_IMAGES!r}); give it an image dataset: {', '.join(CLASSES)}"
        )
    if uses_images and spec.needs_labels and CLASSES[image_dataset] > space.num_classes(dataset):
        raise ProxyError(
            f"proxy {spec.name!r} needs labels, but {image_dataset} images have {CLASSES[image_dataset]} "
            f"classes and a {dataset} network only {space.num_classes(dataset)} outputs; use "
            + (f"image_dataset={dataset!r}" if dataset in CLASSES else "images with fewer classes")
        )
    return ScoreKey(
        proxy=spec.name,
        dataset=dataset,
        image_dataset=image_dataset if uses_images else NO_IMAGES,
        batch_size=batch_size,
        num_batches=num_batches,
        seed=seed,
        version=str(getattr(spec, "version", "1")),
        space=space.name,
    )


@dataclass(frozen=True)
class ScoringSettings:
    """What a scoring run scores and how it runs (see the module docstring). Build one with keywords;
    ``replace(**changes)`` gives a copy with some fields changed."""

    proxy: str
    space: SearchSpace | str
    """The scored search space (an object or its registry name); always given: the engine knows no
    default space."""
    dataset: str = "cifar10"
    image_dataset: str | None = None
    batch_size: int = 64
    num_batches: int | None = None
    seed: int = 0
    data_free: bool = False
    checkpoint: str | None = None
    # how the work runs
    data_root: str | os.PathLike[str] | None = None
    workers: int = 1
    executor: str | Executor = "local"
    executor_options: Mapping[str, Any] | None = None
    device: str | torch.device = "cpu"
    flush_every: int = 8
    chunk_size: int | None = None
    shipped: bool = True
    progress: bool = True

    def replace(self, **changes: Any) -> ScoringSettings:
        return dataclasses.replace(self, **changes)

    def key(self) -> ScoreKey:
        """The validated cache key (:func:`score_key`)."""
        return score_key(self.proxy, self.dataset, image_dataset=self.image_dataset, batch_size=self.batch_size,
                         num_batches=self.num_batches, seed=self.seed, data_free=self.data_free, space=self.space,
                         checkpoint=self.checkpoint)

    def resolve(self) -> ResolvedScoring:
        """Check every field (errors name the field and what is accepted) and resolve the names."""
        spec = get_proxy(self.proxy, where="score_cells(proxy=...)", checkpoint=self.checkpoint)
        space = get_space(self.space, where="score_cells(space=...)")
        key = self.key()
        _positive_int(self.workers, "workers")
        device = parse_device(self.device, where="score_cells(device=...)")
        _positive_int(self.flush_every, "flush_every")
        if self.chunk_size is not None:
            _positive_int(self.chunk_size, "chunk_size")
        return ResolvedScoring(settings=self, spec=spec, space=space, key=key, device=device)


@dataclass(frozen=True)
class ResolvedScoring:
    """A checked :class:`ScoringSettings` with its names resolved."""

    settings: ScoringSettings
    spec: ProxySpec
    space: SearchSpace
    key: ScoreKey
    device: torch.device


def settings_from(proxy: str | ScoringSettings, dataset: str | None, changes: Mapping[str, Any]) -> ScoringSettings:
    """The settings of a call that gives either a :class:`ScoringSettings` or a proxy name (with the
    other fields as keywords): ``score_cells(archs, settings)`` and ``score_cells(archs, "zico",
    "cifar10", space=..., ...)`` are the same call."""
    if isinstance(proxy, ScoringSettings):
        if dataset is not None:
            changes = {**changes, "dataset": dataset}
        return proxy.replace(**changes) if changes else proxy
    if "space" not in changes:
        raise ProxyError("score_cells needs space=... (the scored search space's name or object)")
    fields = {f.name for f in dataclasses.fields(ScoringSettings)}
    unknown = sorted(set(changes) - fields)
    if unknown:
        raise TypeError(f"unknown scoring setting(s) {', '.join(unknown)}; accepted: {', '.join(sorted(fields))}")
    return ScoringSettings(proxy=proxy, **({} if dataset is None else {"dataset": dataset}), **changes)


__all__ = ["ResolvedScoring", "ScoringSettings", "score_key", "settings_from"]
