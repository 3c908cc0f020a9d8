"""Image data: CIFAR-10/100 and ImageNet16-120 readers for the official layouts, seeded minibatches."""

from nasearch.data.images import (
    CLASSES,
    DATASETS,
    FOLDERS,
    MEAN,
    SIZE,
    STD,
    DataError,
    ImageSet,
    clear_cache,
    image_root,
    load_images,
    normalise,
    sample_batches,
)

__all__ = [
    "CLASSES",
    "DATASETS",
    "FOLDERS",
    "MEAN",
    "SIZE",
    "STD",
    "DataError",
    "ImageSet",
    "clear_cache",
    "image_root",
    "load_images",
    "normalise",
    "sample_batches",
]
