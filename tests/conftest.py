"""Shared fixtures. Real data come from $NASEARCH_DATA (CI: ../shared/data); tests that need them
skip with a clear reason when it is unset."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seeded_global_rngs():
    """Every test starts from seeded global RNGs (torch, numpy's legacy one, Python's ``random``), so a
    draw a test makes without its own generator (a network built only to count its parameters, say)
    is the same in every run and on every worker: no test can pass or fail by chance. Library code
    never relies on this: it takes explicit generators (``tests/unit/test_networks.py`` checks that a
    seeded build leaves the global RNG alone)."""
    import random

    import numpy as np

    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
    yield


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
def nb201_table():
    """The NB201 table: $NASEARCH_DATA's when it holds one, else the one embedded in the package."""
    from nasearch.benchmarks.table import TableBenchmark, embedded_table

    root = _data_root()
    path = root / "nb201" / "nb201.csv.gz" if root else None
    return TableBenchmark(path if path is not None and path.is_file() else embedded_table())


@pytest.fixture(scope="session")
def cifar10_root(data_root: Path) -> Path:
    path = data_root / "cifar-10-batches-py"
    if not path.is_dir():
        pytest.skip(f"no CIFAR-10 images at {path}")
    return path
