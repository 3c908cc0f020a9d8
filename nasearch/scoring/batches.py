"""The minibatches of a scoring run: the same for every cell of the run.

Images: ``sample_batches(load_images(image_dataset), batch_size, num_batches, seed)``; for a space
with ``resize_images`` (TransNAS-Bench-101) images of another size are resized to
``space.input_size(dataset)`` (:func:`~nasearch.data.images.resize_batches`); the image set stays in
the score key, so every figure says which images it used.

Batches without images ("data-free" batches, ``image_dataset='none'`` in the cache key) are standard
normal images of shape ``(batch_size, 3, size, size)``, ``size`` the input size of the scored task,
drawn from the run's seed on the space's own stream (:func:`data_free_stream`), with all-zero
labels.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from nasearch.data.images import SIZE, load_images, resize_batches, sample_batches
from nasearch.determinism import seeded_generator
from nasearch.scoring.store import ScoreKey
from nasearch.space.base import SearchSpace, get_space

NO_IMAGES = "none"
"""``image_dataset`` value meaning data-free (seeded Gaussian) batches; also its value in cache keys."""

Batches = list[tuple[torch.Tensor, torch.Tensor]]


def data_free_stream(space: SearchSpace | str) -> int:
    """SeedSequence spawn key of the data-free batches of ``space``: one past its last arch index
    (``num_archs + 1``, beyond every cell's key, so the streams never meet; NB201: 15,626)."""
    return get_space(space).num_archs + 1


def data_free_batches(
    batch_size: int, num_batches: int, input_size: int, seed: int, *, stream: int
) -> Batches:
    """Standard-normal images (N x 3 x size x size) with all-zero labels, drawn from ``seed``
    (``stream``: :func:`data_free_stream` of the space)."""
    g = seeded_generator(np.random.SeedSequence(int(seed), spawn_key=(int(stream),)))
    return [
        (
            torch.randn(batch_size, 3, input_size, input_size, generator=g),
            torch.zeros(batch_size, dtype=torch.int64),
        )
        for _ in range(num_batches)
    ]


def run_batches(key: ScoreKey, space: SearchSpace, dataset: str,
                data_root: str | os.PathLike[str] | None = None) -> tuple[Batches, int]:
    """``(batches, input size)`` of the run keyed ``key`` on ``space``'s ``dataset`` networks."""
    if key.image_dataset == NO_IMAGES:
        size = space.input_size(dataset)
        return data_free_batches(key.batch_size, key.num_batches, size, key.seed,
                                 stream=data_free_stream(space)), size
    images = load_images(key.image_dataset, data_root, "train")
    size = SIZE[key.image_dataset]
    batches = sample_batches(images, key.batch_size, key.num_batches, key.seed)
    if space.resize_images and size != space.input_size(dataset):
        size = space.input_size(dataset)
        batches = resize_batches(batches, size)
    return batches, size


__all__ = ["NO_IMAGES", "Batches", "data_free_batches", "data_free_stream", "run_batches"]
