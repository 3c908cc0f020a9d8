"""On-disk cache of subsampled EZNAS statistics for a set of cells (what evolution reads).

One directory per setting (search space, network dataset, image dataset, batch size, seed,
subsample, code version), named by a hash of them, holding one file per cell (``<index>.pt``: a list of per-instance
dicts of bfloat16 tensors, written with ``torch.save`` to a temporary file then ``os.replace``; read
back with ``torch.load(weights_only=True)``, so a cache file can never run code). Building resumes:
cells already on disk are skipped. Statistics are computed exactly as the ``eznas`` proxy computes
them (the scorer's network initialisation, ``space.build_network`` seeded by
:func:`nasearch.determinism.cell_generators`, and minibatch, noise from the cell's context generator),
then cut by :class:`~nasearch.eznas.statistics.Subsample`.

Size: at batch 16 with the default subsample (4 samples, 2 channels) an NB201 CIFAR-10 cell takes
about 3-8 MB, so 80 cells take about 0.5 GB (the budget of the issue: under 2 GB).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from nasearch.determinism import cell_generators
from nasearch.executors.pool import process_pool
from nasearch.eznas.statistics import STAT_NAMES, StatGroup, Subsample, collect, group_instances
from nasearch.space.base import SearchSpace, get_space

Arch = Any
"""An arch of the cache's space."""

log = logging.getLogger(__name__)

CACHE_VERSION = "1"

# Legacy rule: caches (and evolution checkpoints, which record the cache's settings) written before the
# space was a setting hold NB201 cells; NB201's settings leave the space out so they keep their folder.
LEGACY_SPACE = "nb201"


def default_cache_dir() -> Path:
    root = os.environ.get("NASEARCH_CACHE")
    return Path(root) / "eznas" if root else Path.home() / ".cache" / "nasearch" / "eznas"


class StatsCache:
    """Subsampled statistics of cells under one setting (see the module docstring)."""

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        space: SearchSpace | str,
        dataset: str = "cifar10",
        image_dataset: str | None = None,
        batch_size: int = 16,
        seed: int = 0,
        subsample: Subsample | None = None,
        data_root: str | None = None,
    ):
        self.space = get_space(space, where="StatsCache(space=...)")
        self.dataset = dataset
        self.image_dataset = image_dataset or dataset
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.subsample = subsample or Subsample()
        self.data_root = data_root
        settings = self.settings()
        tag = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]
        self.dir = Path(root or default_cache_dir()) / f"{dataset}-b{batch_size}-s{seed}-{tag}"

    def settings(self) -> dict:
        settings = {
            "version": CACHE_VERSION,
            "dataset": self.dataset,
            "image_dataset": self.image_dataset,
            "batch_size": self.batch_size,
            "seed": self.seed,
            "subsample": [self.subsample.batch, self.subsample.channels],
        }
        if self.space.name != LEGACY_SPACE:
            settings["space"] = self.space.name
        return settings

    def __getstate__(self) -> dict:  # the space by name: workers look up their own instance
        return {**self.__dict__, "space": self.space.name}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.space = get_space(state["space"])

    def path(self, arch: Arch) -> Path:
        return self.dir / f"{arch.index}.pt"

    def missing(self, cells: Sequence[Arch]) -> list[Arch]:
        return [a for a in cells if not self.path(a).exists()]

    def build(self, cells: Sequence[Arch], workers: int = 1, progress: bool = True) -> None:
        """Compute and store the cells not on disk yet (``workers`` processes, one thread each)."""
        todo = self.missing(cells)
        if not todo:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "settings.json").write_text(json.dumps(self.settings(), indent=1))
        log.info("EZNAS statistics: %d of %d cells to compute into %s", len(todo), len(cells), self.dir)
        bar = tqdm(total=len(todo), desc="eznas statistics", unit="cell", disable=not progress)
        try:
            pool = process_pool(workers if len(todo) > 1 else 1, initializer=_init_worker, initargs=(self,),
                                what="EZNAS statistics")
            if pool is None:
                images = self._images()
                for a in todo:
                    self._write(a, _cell_stats(self.space, a, self.dataset, images, self.seed, self.subsample))
                    bar.update(1)
            else:
                with pool as ex:
                    for a, stats in zip(todo, ex.map(_worker_cell, [a.index for a in todo])):
                        self._write(a, stats)
                        bar.update(1)
        finally:
            bar.close()

    def _images(self) -> torch.Tensor:
        from nasearch.data.images import load_images, sample_batches

        images = load_images(self.image_dataset, self.data_root, "train")
        return sample_batches(images, self.batch_size, 1, self.seed)[0][0]

    def _write(self, arch: Arch, stats: list[dict[str, torch.Tensor]]) -> None:
        tmp = self.path(arch).with_suffix(".pt.tmp")
        torch.save(stats, tmp)
        os.replace(tmp, self.path(arch))

    def load(self, cells: Sequence[Arch]) -> list[StatGroup]:
        """Shape groups of the cells' instances (owner = position in ``cells``)."""
        per_cell = []
        for a in cells:
            try:
                per_cell.append(torch.load(self.path(a), weights_only=True))
            except Exception as exc:
                raise FileNotFoundError(
                    f"EZNAS statistics cache file {self.path(a)} is missing or corrupt ({type(exc).__name__}); "
                    "delete it and rebuild (task=evolve rebuilds missing cells)"
                ) from exc
        return group_instances(per_cell)

    def nbytes(self, cells: Sequence[Arch]) -> int:
        return sum(self.path(a).stat().st_size for a in cells if self.path(a).exists())


def _cell_stats(space: SearchSpace, arch: Arch, dataset: str, images: torch.Tensor, seed: int,
                subsample: Subsample) -> list[dict[str, torch.Tensor]]:
    g_net, g_ctx = cell_generators(seed, arch)
    net = space.build_network(arch, dataset, bn=True, generator=g_net)
    return collect(net, images.clone(), g_ctx, STAT_NAMES, subsample=subsample, dtype=torch.bfloat16)


_W: dict = {}


def _init_worker(cache: StatsCache) -> None:
    torch.set_num_threads(1)
    _W["cache"] = cache
    _W["images"] = cache._images()


def _worker_cell(index: int) -> list[dict[str, torch.Tensor]]:
    c: StatsCache = _W["cache"]
    return _cell_stats(c.space, c.space.from_index(index), c.dataset, _W["images"], c.seed, c.subsample)


__all__ = ["StatsCache", "default_cache_dir"]
