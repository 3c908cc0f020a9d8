"""Image readers (official layouts) and the seeded minibatch sampler."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from nasearch.data import (
    MEAN,
    STD,
    DataError,
    ImageSet,
    clear_cache,
    image_root,
    load_images,
    sample_batches,
)

REPO = Path(__file__).resolve().parents[2]


def _dump(path: Path, obj: dict) -> None:
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)


def _cifar100(root: Path, n_train: int = 40, n_test: int = 20, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    for name, n in (("train", n_train), ("test", n_test)):
        _dump(folder / name, {
            "filenames": [f"{i}.png" for i in range(n)],
            "fine_labels": [int(x) for x in rng.integers(0, 100, n)],
            "coarse_labels": [int(x) for x in rng.integers(0, 20, n)],
            "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        })
    _dump(folder / "meta", {"fine_label_names": [f"c{i}" for i in range(100)]})
    return folder


def _imagenet16(root: Path, files: int = 2, n: int = 30, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    folder = root / "ImageNet16"
    folder.mkdir(parents=True)
    for i in range(1, files + 1):
        labels = [1, 120, 121, 1000] + [int(x) for x in rng.integers(1, 1001, n - 4)]
        _dump(folder / f"train_data_batch_{i}", {
            "data": rng.integers(0, 256, (n, 768), dtype=np.uint8),
            "labels": labels,
            "mean": np.zeros(768),
        })
    _dump(folder / "val_data", {"data": rng.integers(0, 256, (n, 768), dtype=np.uint8),
                                "labels": [int(x) for x in rng.integers(1, 1001, n)]})
    return folder


# ------------------------------------------------------------------------------------- CIFAR-10 (real)
def test_cifar10_shared_subset(cifar10_root: Path):
    s = load_images("cifar10", cifar10_root)
    assert isinstance(s, ImageSet) and s.dataset == "cifar10" and s.path == cifar10_root
    assert s.images.shape == (10_000, 3, 32, 32) and s.images.dtype == torch.float32
    assert s.labels.dtype == torch.int64
    assert torch.bincount(s.labels).tolist() == [1000] * 10
    mean = s.images.mean(dim=(0, 2, 3))
    std = s.images.std(dim=(0, 2, 3))
    assert mean.abs().max() < 0.05, mean
    assert (std - 1).abs().max() < 0.05, std
    test = load_images("cifar10", cifar10_root.parent, split="test")  # parent folder also accepted
    assert test.images.shape == (10_000, 3, 32, 32) and test.split == "test"


def test_cifar10_pixels_and_normalisation(cifar10_root: Path):
    with open(cifar10_root / "data_batch_1", "rb") as f:
        raw = pickle.load(f, encoding="latin1")
    s = load_images("cifar10", cifar10_root)
    first = raw["data"][0].reshape(3, 32, 32).astype(np.float32) / 255
    expect = (first - np.array(MEAN["cifar10"])[:, None, None]) / np.array(STD["cifar10"])[:, None, None]
    np.testing.assert_allclose(s.images[0].numpy(), expect, rtol=1e-5, atol=1e-5)
    assert s.labels[0].item() == raw["labels"][0]


def test_nb201_statistics():
    # xautodl's get_datasets
    assert MEAN["cifar10"] == pytest.approx([125.3 / 255, 123.0 / 255, 113.9 / 255])
    assert STD["cifar100"] == pytest.approx([68.2 / 255, 65.4 / 255, 70.4 / 255])
    assert MEAN["ImageNet16-120"] == pytest.approx([122.68 / 255, 116.66 / 255, 104.01 / 255])
    assert STD["ImageNet16-120"] == pytest.approx([63.22 / 255, 61.26 / 255, 65.09 / 255])


def test_image_root_from_env(monkeypatch, data_root: Path):
    monkeypatch.setenv("NASEARCH_DATA", str(data_root))
    assert image_root("cifar10") == data_root / "cifar-10-batches-py"
    monkeypatch.delenv("NASEARCH_DATA")
    with pytest.raises(DataError, match="NASEARCH_DATA"):
        image_root("cifar10")


# ------------------------------------------------------------------------------------- CIFAR-100 / ImageNet16
def test_cifar100_official_layout(tmp_path: Path):
    folder = _cifar100(tmp_path)
    s = load_images("cifar100", tmp_path)
    assert s.images.shape == (40, 3, 32, 32) and s.path == folder
    with open(folder / "train", "rb") as f:
        raw = pickle.load(f)
    assert s.labels.tolist() == raw["fine_labels"]
    x = raw["data"][3].reshape(3, 32, 32).astype(np.float32) / 255
    expect = (x - np.array(MEAN["cifar100"])[:, None, None]) / np.array(STD["cifar100"])[:, None, None]
    np.testing.assert_allclose(s.images[3].numpy(), expect, rtol=1e-5, atol=1e-5)
    assert len(load_images("cifar100", folder, "test")) == 20


def test_imagenet16_keeps_120_classes(tmp_path: Path):
    folder = _imagenet16(tmp_path)
    s = load_images("ImageNet16-120", folder)
    raw_labels, raw_data = [], []
    for i in (1, 2):
        with open(folder / f"train_data_batch_{i}", "rb") as f:
            d = pickle.load(f)
        raw_labels += d["labels"]
        raw_data.append(d["data"])
    keep = [j for j, lab in enumerate(raw_labels) if lab <= 120]
    assert s.labels.tolist() == [raw_labels[j] - 1 for j in keep]
    assert s.labels.min() >= 0 and s.labels.max() <= 119
    assert s.labels[:2].tolist() == [0, 119]
    assert s.images.shape == (len(keep), 3, 16, 16)
    data = np.concatenate(raw_data)
    x = data[keep[1]].reshape(3, 16, 16).astype(np.float32) / 255
    expect = (x - np.array(MEAN["ImageNet16-120"])[:, None, None]) / np.array(STD["ImageNet16-120"])[:, None, None]
    np.testing.assert_allclose(s.images[1].numpy(), expect, rtol=1e-5, atol=1e-5)
    assert load_images("ImageNet16-120", tmp_path, "test").images.shape[1:] == (3, 16, 16)


def test_cache_sees_rewritten_files(tmp_path: Path):
    folder = _cifar100(tmp_path, seed=1)
    a = load_images("cifar100", folder)
    b = load_images("cifar100", folder)
    assert torch.equal(a.images, b.images)
    rng = np.random.default_rng(5)
    _dump(folder / "train", {"fine_labels": [7] * 5, "data": rng.integers(0, 256, (5, 3072), dtype=np.uint8)})
    assert load_images("cifar100", folder).labels.tolist() == [7] * 5
    clear_cache()


# ------------------------------------------------------------------------------------- errors
def test_missing_folder_and_files(tmp_path: Path):
    with pytest.raises(DataError, match=r"cifar-10-batches-py.*data_batch_1\.\.5"):
        load_images("cifar10", tmp_path / "nowhere")
    (tmp_path / "cifar-10-batches-py").mkdir()
    with pytest.raises(DataError, match=r"no train files of cifar10 in .*cifar-10-batches-py.*data_batch_1"):
        load_images("cifar10", tmp_path)
    with pytest.raises(DataError, match="unknown image dataset 'mnist'.*cifar10, cifar100, ImageNet16-120"):
        load_images("mnist", tmp_path)
    folder = _cifar100(tmp_path / "x")
    with pytest.raises(DataError, match="unknown split 'val'.*train, test"):
        load_images("cifar100", folder, "val")


def test_malformed_files(tmp_path: Path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "data_batch_1").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match=r"data_batch_1.*official CIFAR-10 python layout"):
        load_images("cifar10", folder)
    _dump(folder / "data_batch_1", {"data": np.zeros((4, 100), np.uint8), "labels": [0, 1, 2, 3]})
    with pytest.raises(DataError, match=r"data_batch_1: 'data' is uint8 \(4, 100\), expected uint8 N x 3072"):
        load_images("cifar10", folder)
    _dump(folder / "data_batch_1", {"data": np.zeros((4, 3072), np.uint8)})
    with pytest.raises(DataError, match="lacks 'labels'"):
        load_images("cifar10", folder)
    _dump(folder / "data_batch_1", {"data": np.zeros((2, 3072), np.uint8), "labels": [0, 10]})
    with pytest.raises(DataError, match=r"range 0\.\.10 outside 0\.\.9"):
        load_images("cifar10", folder)


class _Payload:
    """Unpickling this calls ``fn(*args)`` (``__reduce__``): what a malicious data file does."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def write_malicious_batch(path: Path, marker: Path) -> None:
    """A CIFAR-10 batch whose unpickling would run ``touch marker`` (through ``os.system``)."""
    import os

    with open(path, "wb") as f:
        pickle.dump({"data": _Payload(os.system, f"touch {marker}"), "labels": [0]}, f, protocol=2)


@pytest.mark.parametrize("fn", ["system", "eval", "call"])
def test_malicious_pickle_runs_nothing(tmp_path: Path, fn: str):
    import builtins

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    marker = tmp_path / "pwned"
    if fn == "system":
        write_malicious_batch(folder / "data_batch_1", marker)
        refused = "system"
    else:
        payload = (_Payload(builtins.eval, f"open({str(marker)!r}, 'w')") if fn == "eval"
                   else _Payload(subprocess.call, ["touch", str(marker)]))
        with open(folder / "data_batch_1", "wb") as f:
            pickle.dump({"data": payload, "labels": [0]}, f, protocol=2)
        refused = "eval" if fn == "eval" else ".call"  # protocol 2 names it commands.call
    with pytest.raises(DataError) as err:
        load_images("cifar10", folder)
    assert not marker.exists()
    msg = str(err.value)
    assert str(folder / "data_batch_1") in msg and refused in msg and "nothing in it was run" in msg, msg


def test_official_layouts_pass_the_restricted_reader(tmp_path: Path):
    """What the official files hold (dicts, lists, bytes keys, numpy arrays, numpy scalars) is read."""
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    with open(folder / "data_batch_1", "wb") as f:
        pickle.dump({b"batch_label": b"training batch 1 of 5", b"labels": [np.int64(3), 1],
                     b"data": np.zeros((2, 3072), np.uint8), b"filenames": [b"a.png", b"b.png"]}, f, protocol=2)
    s = load_images("cifar10", folder)
    assert s.labels.tolist() == [3, 1]


# ------------------------------------------------------------------------------------- sampler
def _small_set(n_per_class: int = 6, classes: int = 10) -> ImageSet:
    labels = torch.arange(classes).repeat_interleave(n_per_class)
    images = torch.arange(len(labels), dtype=torch.float32).view(-1, 1, 1, 1).expand(-1, 3, 2, 2).clone()
    return ImageSet(images=images, labels=labels, dataset="cifar10", path=Path("mem"))


def test_sampler_deterministic_and_distinct():
    s = _small_set()
    a = sample_batches(s, 8, 3, seed=4)
    b = sample_batches(s, 8, 3, seed=4)
    c = sample_batches(s, 8, 3, seed=5)
    assert len(a) == 3 and all(x.shape == (8, 3, 2, 2) and y.shape == (8,) for x, y in a)
    assert all(torch.equal(x1, x2) and torch.equal(y1, y2) for (x1, y1), (x2, y2) in zip(a, b))
    assert not all(torch.equal(x1, x2) for (x1, _), (x2, _) in zip(a, c))
    ids = torch.cat([x[:, 0, 0, 0] for x, _ in a]).long()
    assert len(set(ids.tolist())) == 24  # no image twice
    assert torch.equal(torch.cat([y for _, y in a]), s.labels[ids])  # labels follow their images


def test_sampler_same_in_another_process():
    s = _small_set()
    ours = torch.cat([y * 1000 + x[:, 0, 0, 0].long() for x, y in sample_batches(s, 8, 2, seed=11)]).tolist()
    code = (
        "import sys; sys.path[:0] = ['tests/unit', 'tests']; import test_data as t; import torch\n"
        "from nasearch.data import sample_batches\n"
        "b = sample_batches(t._small_set(), 8, 2, seed=11)\n"
        "print(torch.cat([y * 1000 + x[:, 0, 0, 0].long() for x, y in b]).tolist())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(ours)


def test_sampler_class_balanced():
    s = _small_set()
    for _x, y in sample_batches(s, 20, 3, seed=0, class_balanced=True):
        assert torch.bincount(y, minlength=10).tolist() == [2] * 10
    batches = sample_batches(s, 13, 2, seed=0, class_balanced=True)
    for _, y in batches:
        counts = torch.bincount(y, minlength=10)
        assert counts.sum() == 13 and counts.min() == 1 and counts.max() == 2 and (counts == 2).sum() == 3
    labels = s.labels.clone()
    labels[:5] = 1  # class 0 keeps one image
    skewed = ImageSet(images=s.images, labels=labels, dataset="cifar10", path=Path("mem"))
    with pytest.raises(DataError, match="batch 1 of 1 needs 2 more images of class 0 but only 1 are left"):
        sample_batches(skewed, 20, 1, seed=0, class_balanced=True)


def test_sampler_errors():
    s = _small_set()
    with pytest.raises(DataError, match="2 batches of 40 images need 80 distinct images but only 60"):
        sample_batches(s, 40, 2, seed=0)
    with pytest.raises(DataError, match="1 batches of 61 images need 61 distinct images but only 60"):
        sample_batches(s, 61, 1, seed=0)
    with pytest.raises(DataError, match="batch_size must be a positive integer, got 0"):
        sample_batches(s, 0, 1, seed=0)
