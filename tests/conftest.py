"""Shared fixtures. Real data come from $NASEARCH_DATA (CI: ../shared/data); tests that need them
skip with a clear reason when it is unset."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)


def _data_root() -> Path | None:
    root = os.environ.get("NASEARCH_DATA")
    # absolute: tests hand it to subprocesses that run in other directories (a relative
    # NASEARCH_DATA=../shared/data would point elsewhere from there)
    return Path(root).resolve() if root else None


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = _data_root()
    if root is None or not root.is_dir():
        pytest.skip("NASEARCH_DATA is not set to the shared data folder (CI sets ../shared/data)")
    return root


@pytest.fixture(scope="session")
def nb201_table(data_root: Path):
    from nasearch.benchmarks.table import TableBenchmark

    path = data_root / "nb201" / "nb201.csv.gz"
    if not path.is_file():
        pytest.skip(f"no NB201 table at {path}")
    return TableBenchmark(path)


@pytest.fixture(scope="session")
def cifar10_root(data_root: Path) -> Path:
    path = data_root / "cifar-10-batches-py"
    if not path.is_dir():
        pytest.skip(f"no CIFAR-10 images at {path}")
    return path
