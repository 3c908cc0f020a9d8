"""Image data: CIFAR-10/100 and ImageNet16-120 readers for the official layouts, seeded minibatches.

The package's API is :mod:`nasearch.data.images`' ``__all__`` (re-exported here, one list)."""

from nasearch.data import images
from nasearch.data.images import *  # noqa: F403 - exactly images.__all__

__all__ = list(images.__all__)
