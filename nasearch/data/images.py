"""Image readers for NB201's three datasets in their official layouts, and seeded minibatches.

Layouts (the files the datasets' authors publish, so a full download is read as-is):

* ``cifar10``: folder ``cifar-10-batches-py`` with ``data_batch_1`` .. ``data_batch_5`` (any of them,
  at least one, for the ``train`` split) and ``test_batch`` (``test`` split); pickles with ``data``
  (uint8, N x 3072, R, G, B planes of 32x32) and ``labels`` (0..9). ``batches.meta`` is not needed.
* ``cifar100``: folder ``cifar-100-python`` with ``train`` and ``test``; pickles with ``data``
  (uint8, N x 3072) and ``fine_labels`` (0..99). ``meta`` is not needed.
* ``ImageNet16-120``: folder ``ImageNet16`` (as in NB201 / xautodl) with ``train_data_batch_1`` ..
  ``train_data_batch_10`` (any of them, at least one) for ``train`` and ``val_data`` for ``test``;
  pickles of the down-sampled ImageNet release with ``data`` (uint8, N x 768, R, G, B planes of
  16x16) and ``labels`` (1..1000). As in xautodl's ``ImageNet16(..., use_num_of_class_only=120)``
  only labels 1..120 are kept, and they are shifted to 0..119.

Normalisation follows xautodl's ``get_datasets`` (the code that trained NAS-Bench-201): per-channel
``(x / 255 - mean) / std`` with

=================  =========================  ======================
dataset            mean x 255                 std x 255
=================  =========================  ======================
cifar10            125.3, 123.0, 113.9        63.0, 62.1, 66.7
cifar100           129.3, 124.1, 112.4        68.2, 65.4, 70.4
ImageNet16-120     122.68, 116.66, 104.01     63.22, 61.26, 65.09
=================  =========================  ======================

No augmentation is applied (proxies score untrained networks on plain images).

The raw uint8 arrays are cached in-process (keyed by file path, size and modification time), so
loading a dataset a second time costs only the normalisation.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nasearch import safe_pickle
from nasearch.errors import NasearchError

log = logging.getLogger(__name__)

DATASETS: tuple[str, ...] = ("cifar10", "cifar100", "ImageNet16-120")
SPLITS: tuple[str, ...] = ("train", "test")

FOLDERS: dict[str, str] = {
    "cifar10": "cifar-10-batches-py",
    "cifar100": "cifar-100-python",
    "ImageNet16-120": "ImageNet16",
}
"""Official folder name of each dataset (looked up under ``$NASEARCH_DATA``)."""

MEAN: dict[str, tuple[float, float, float]] = {
    "cifar10": tuple(x / 255 for x in (125.3, 123.0, 113.9)),  # type: ignore[dict-item]
    "cifar100": tuple(x / 255 for x in (129.3, 124.1, 112.4)),  # type: ignore[dict-item]
    "ImageNet16-120": tuple(x / 255 for x in (122.68, 116.66, 104.01)),  # type: ignore[dict-item]
}
STD: dict[str, tuple[float, float, float]] = {
    "cifar10": tuple(x / 255 for x in (63.0, 62.1, 66.7)),  # type: ignore[dict-item]
    "cifar100": tuple(x / 255 for x in (68.2, 65.4, 70.4)),  # type: ignore[dict-item]
    "ImageNet16-120": tuple(x / 255 for x in (63.22, 61.26, 65.09)),  # type: ignore[dict-item]
}
SIZE: dict[str, int] = {"cifar10": 32, "cifar100": 32, "ImageNet16-120": 16}
CLASSES: dict[str, int] = {"cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}

_LAYOUT: dict[str, str] = {
    "cifar10": "the official CIFAR-10 python layout: data_batch_1..5 (at least one) and test_batch, "
    "pickles with 'data' (uint8 N x 3072) and 'labels' (0..9)",
    "cifar100": "the official CIFAR-100 python layout: train and test, "
    "pickles with 'data' (uint8 N x 3072) and 'fine_labels' (0..99)",
    "ImageNet16-120": "the official ImageNet16 layout: train_data_batch_1..10 (at least one) and val_data, "
    "pickles with 'data' (uint8 N x 768) and 'labels' (1..1000)",
}


class DataError(NasearchError):
    """A dataset that cannot be found or read: names the path looked at and what belongs there."""


@dataclass(frozen=True)
class ImageSet:
    """Images of one split of one dataset.

    ``images``: float32, N x 3 x H x W, normalised; ``labels``: int64, N, in 0..num_classes-1.
    """

    images: torch.Tensor
    labels: torch.Tensor
    dataset: str
    path: Path
    split: str = "train"

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def num_classes(self) -> int:
        return CLASSES[self.dataset]


# ---------------------------------------------------------------------------------------- paths
def _check_dataset(dataset: str) -> None:
    if dataset not in FOLDERS:
        raise DataError(f"unknown image dataset {dataset!r}; accepted: {', '.join(DATASETS)}")


def image_root(dataset: str, root: str | os.PathLike[str] | None = None) -> Path:
    """The folder holding ``dataset``'s official files.

    ``root`` may be that folder itself or a folder containing it under its official name
    (``cifar-10-batches-py``, ``cifar-100-python``, ``ImageNet16``). With ``root=None`` the folder is
    ``$NASEARCH_DATA/<official name>``.
    """
    _check_dataset(dataset)
    folder = FOLDERS[dataset]
    if root is None:
        env = os.environ.get("NASEARCH_DATA")
        if not env:
            raise DataError(
                f"no folder given for {dataset} images and NASEARCH_DATA is not set: pass a root or set "
                f"NASEARCH_DATA to a folder containing {folder}/ ({_LAYOUT[dataset]})"
            )
        path = Path(env) / folder
        where = f"$NASEARCH_DATA={env}"
    else:
        path = Path(root)
        where = f"root={str(root)!r}"
        if (path / folder).is_dir():
            path = path / folder
    if not path.is_dir():
        raise DataError(
            f"no {dataset} image folder at {path} (from {where}): expected a folder {folder}/ holding "
            f"{_LAYOUT[dataset]}"
        )
    return path


def _split_files(dataset: str, path: Path, split: str) -> list[Path]:
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r} for {dataset}; accepted: {', '.join(SPLITS)}")
    if dataset == "cifar10":
        names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    elif dataset == "cifar100":
        names = [split]
    else:
        names = [f"train_data_batch_{i}" for i in range(1, 11)] if split == "train" else ["val_data"]
    files = [path / n for n in names if (path / n).is_file()]
    if not files:
        raise DataError(
            f"no {split} files of {dataset} in {path} (looked for {', '.join(names)}): expected "
            f"{_LAYOUT[dataset]}"
        )
    return files


# ---------------------------------------------------------------------------------------- reading
_CACHE: dict[tuple[str, str, tuple[tuple[str, int, int], ...]], tuple[np.ndarray, np.ndarray]] = {}


def _read_pickle(file: Path, dataset: str) -> dict:
    try:
        with open(file, "rb") as f:
            # restricted: only dicts, lists, str/bytes and numpy arrays; any other global (os.system,
            # builtins.eval, ...) is refused before it is called (nasearch.safe_pickle)
            obj = safe_pickle.load(f, safe_pickle.NUMPY_ARRAYS, encoding="latin1")
    except safe_pickle.RefusedGlobal as exc:
        raise DataError(
            f"refused to read {file}: {exc} (an official {dataset} file holds only dicts, lists, "
            f"strings and numpy arrays; nothing in it was run); expected {_LAYOUT[dataset]}"
        ) from exc
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a malformed file
        raise DataError(f"cannot read {file} as a {dataset} pickle ({exc}); expected {_LAYOUT[dataset]}") from exc
    if not isinstance(obj, dict):
        raise DataError(
            f"{file} holds a {type(obj).__name__}, not a dict; expected {_LAYOUT[dataset]}"
        )
    return {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in obj.items()}


def _read_file(file: Path, dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """Raw uint8 images (N x 3 x H x W) and labels (int64, already mapped to 0..C-1) of one file."""
    d = _read_pickle(file, dataset)
    label_key = "fine_labels" if dataset == "cifar100" else "labels"
    if "data" not in d or label_key not in d:
        raise DataError(
            f"{file} lacks {'data' if 'data' not in d else label_key!r} (keys: {', '.join(map(str, d))}); "
            f"expected {_LAYOUT[dataset]}"
        )
    size = SIZE[dataset]
    data = np.asarray(d["data"])
    labels = np.asarray(d[label_key])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * size * size:
        raise DataError(
            f"{file}: 'data' is {data.dtype} {data.shape}, expected uint8 N x {3 * size * size}; "
            f"expected {_LAYOUT[dataset]}"
        )
    if labels.ndim != 1 or labels.shape[0] != data.shape[0] or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(
            f"{file}: {label_key!r} has shape {labels.shape} and dtype {labels.dtype}, expected "
            f"{data.shape[0]} integers (one per image); expected {_LAYOUT[dataset]}"
        )
    labels = labels.astype(np.int64)
    if dataset == "ImageNet16-120":
        lo, hi = 1, 1000
    else:
        lo, hi = 0, CLASSES[dataset] - 1
    if labels.size and (labels.min() < lo or labels.max() > hi):
        raise DataError(
            f"{file}: {label_key!r} range {labels.min()}..{labels.max()} outside {lo}..{hi}; "
            f"expected {_LAYOUT[dataset]}"
        )
    images = data.reshape(-1, 3, size, size)
    if dataset == "ImageNet16-120":
        keep = labels <= CLASSES[dataset]
        images, labels = images[keep], labels[keep] - 1
    return images, labels


def _load_raw(dataset: str, path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    files = _split_files(dataset, path, split)
    stamp = tuple((str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns) for f in files)
    key = (dataset, split, stamp)
    if key not in _CACHE:
        parts = [_read_file(f, dataset) for f in files]
        images = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        if labels.size == 0:
            raise DataError(f"no {dataset} images in {', '.join(map(str, files))}: expected {_LAYOUT[dataset]}")
        log.debug("read %d %s %s images from %s", labels.size, dataset, split, path)
        _CACHE[key] = (images, labels)
    return _CACHE[key]


def clear_cache() -> None:
    """Forget the cached raw arrays (tests; or to free memory)."""
    _CACHE.clear()


def normalise(raw: np.ndarray | torch.Tensor, dataset: str) -> torch.Tensor:
    """uint8 N x 3 x H x W -> float32 ``(x / 255 - mean) / std`` with ``dataset``'s NB201 statistics."""
    _check_dataset(dataset)
    x = torch.as_tensor(np.asarray(raw)).to(torch.float32).div_(255.0)
    mean = torch.tensor(MEAN[dataset], dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(STD[dataset], dtype=torch.float32).view(1, 3, 1, 1)
    return x.sub_(mean).div_(std)


def load_images(dataset: str, root: str | os.PathLike[str] | None = None, split: str = "train") -> ImageSet:
    """Read one split of ``dataset`` (see :func:`image_root` for ``root``), normalised as in NB201."""
    path = image_root(dataset, root)
    raw, labels = _load_raw(dataset, path, split)
    return ImageSet(
        images=normalise(raw, dataset),
        labels=torch.from_numpy(labels.copy()),
        dataset=dataset,
        path=path,
        split=split,
    )


# ---------------------------------------------------------------------------------------- batches
def sample_batches(
    images: ImageSet,
    batch_size: int,
    num_batches: int,
    seed: int,
    class_balanced: bool = False,
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``num_batches`` minibatches of ``batch_size`` images, drawn without replacement (no image
    appears twice across the batches), determined by ``seed`` alone (same batches in any process).

    With ``class_balanced`` every batch holds ``batch_size // C`` images of each of the C classes
    present, and the remaining ``batch_size % C`` slots go to distinct classes chosen at random per
    batch; images inside a batch are shuffled.
    """
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise DataError(f"batch_size must be a positive integer, got {batch_size!r}")
    if not isinstance(num_batches, (int, np.integer)) or num_batches < 1:
        raise DataError(f"num_batches must be a positive integer, got {num_batches!r}")
    n = len(images)
    need = int(batch_size) * int(num_batches)
    if need > n:
        raise DataError(
            f"{num_batches} batches of {batch_size} images need {need} distinct images but only {n} "
            f"{images.dataset} {images.split} images are available in {images.path}"
        )
    rng = np.random.default_rng(np.random.SeedSequence(int(seed)))
    if not class_balanced:
        order = rng.permutation(n)[:need]
        batches_idx = [order[i * batch_size : (i + 1) * batch_size] for i in range(num_batches)]
    else:
        labels = images.labels.numpy()
        classes = np.unique(labels)
        pools = {int(c): list(rng.permutation(np.flatnonzero(labels == c))) for c in classes}
        per, extra = divmod(int(batch_size), len(classes))
        batches_idx = []
        for b in range(num_batches):
            bonus = set(rng.choice(classes, size=extra, replace=False).tolist()) if extra else set()
            idx: list[int] = []
            for c in classes:
                k = per + (1 if int(c) in bonus else 0)
                pool = pools[int(c)]
                if len(pool) < k:
                    raise DataError(
                        f"class-balanced batch {b + 1} of {num_batches} needs {k} more images of class {c} "
                        f"but only {len(pool)} are left ({int((labels == c).sum())} in {images.dataset} "
                        f"{images.split} at {images.path}); lower batch_size ({batch_size}) or num_batches"
                    )
                idx.extend(pool[:k])
                del pool[:k]
            batches_idx.append(rng.permutation(np.asarray(idx, dtype=np.int64)))
    out = []
    for idx in batches_idx:
        t = torch.from_numpy(np.asarray(idx, dtype=np.int64))
        out.append((images.images[t].clone(), images.labels[t].clone()))
    return out


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


def resize_batches(
    batches: list[tuple[torch.Tensor, torch.Tensor]], size: int
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Batches with their images resized to ``size x size`` (bilinear, ``align_corners=False``, no
    antialiasing, as ``torchvision.transforms.Resize`` on tensors without antialias); labels unchanged.
    Deterministic: the same batches give the same pixels in any process. Used to run an image set on
    a network built for another resolution (TransNAS-Bench-101's 256 x 256 encoders on CIFAR images);
    upsampling adds no information, so scores computed this way say which images they used."""
    if not isinstance(size, (int, np.integer)) or size < 1:
        raise DataError(f"image size must be a positive integer, got {size!r}")
    out = []
    for x, y in batches:
        if x.shape[-1] != size or x.shape[-2] != size:
            x = torch.nn.functional.interpolate(x, size=(int(size), int(size)), mode="bilinear",
                                                align_corners=False, antialias=False)
        out.append((x.contiguous(), y))
    return out
