"""The ``analognas`` backend: AnalogNAS-Bench's digital CIFAR-10 accuracies, embedded (no data needed).

Source: AnalogNAS-Bench (Benmeziane et al., "AnalogNAS-Bench: A NAS Benchmark for Analog In-Memory
Computing", arXiv:2506.18495, 2025), shipped as the PyPI package ``analog-nasbench`` (file
``analognasbench/data.anb``: a pickle of ``{6-tuple: analognasbench.data.Architecture}`` covering all
15,625 NB201 cells). It is a declared dependency, so this backend works right after ``pip install``.

What we read and how it maps onto nasearch:

* The figure used is ``Architecture.baseline_accuracy``: full-precision (digital) CIFAR-10 test
  accuracy in percent. The noisy / analog / drift figures are ignored.
* Key tuple position -> edge: (0->1), (0->2), (0->3), (1->2), (1->3), (2->3). nasearch's official
  string order is (0->1), (0->2), (1->2), (0->3), (1->3), (2->3), so positions 2 and 3 swap
  (:data:`_TUPLE_POS_OF_EDGE`).
* Key op ids: 0 skip_connect, 1 none, 2 nor_conv_3x3, 3 nor_conv_1x1, 4 avg_pool_3x3; they are
  re-numbered to nasearch's :data:`~nasearch.space.nb201.arch.OPS` (:data:`_OP_FROM_ANALOG`).
  The mapping is checked by the tests: the 341 cells without an input->output path score exactly
  10.0 (chance), and the ranking agrees with NB201's CIFAR-10 200-epoch test accuracy (Spearman
  ~0.99).

Deviations and choices (the benchmark records less than NB201):

* One accuracy per cell, so ``valid_acc == test_acc == baseline_accuracy``. A search that selects by
  validation accuracy therefore selects on the reported figure; use ``nb201`` for a proper split.
* One fidelity, labelled 200 epochs. The package does not state the training schedule; 200 is
  NB201's final schedule, the accuracies are on that scale (best 94.07 vs NB201's 94.37), and the
  label lets code that asks for the final fidelity work unchanged. Asking for 12 is an error.
* No training time: ``has_train_time = False`` and ``train_seconds`` is None, so only a
  query-count budget is possible.
* Only ``cifar10``.
* Metrics (:attr:`AnalogNASBenchmark.metrics`): ``valid_acc`` and ``test_acc``, both
  ``baseline_accuracy``. The package's file records no parameters, FLOPs or latency of its own
  (the NB201 table has them for the same cells: ``benchmark=nb201``).

Loading: the package's own module imports the deprecated ``pkg_resources`` (absent from recent
setuptools), so it is never imported. The data file is located through the import system's
spec (no import) and unpickled by :class:`_RestrictedUnpickler`, which maps only
``analognasbench.data.Architecture`` / ``DriftMeasurement`` to inert local classes and refuses every
other global. The parsed array is cached per process, so constructing the benchmark again is free.
"""

from __future__ import annotations

import importlib.util
import io
import pickle
import threading
from importlib import metadata
from pathlib import Path
from types import MappingProxyType

import numpy as np

from nasearch.benchmarks.base import (
    BenchmarkError,
    Metric,
    Result,
    check_dataset,
    register_benchmark,
    resolve_fidelity,
    unknown_metric,
)
from nasearch.space.base import get_space
from nasearch.space.nb201.arch import NUM_ARCHS, NUM_EDGES, OPS, Arch

PACKAGE = "analognasbench"
DISTRIBUTION = "analog-nasbench"
DATA_FILE = "data.anb"

_ANALOG_OPS: tuple[str, ...] = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
_OP_FROM_ANALOG: tuple[int, ...] = tuple(OPS.index(name) for name in _ANALOG_OPS)
"""nasearch op id of each AnalogNAS-Bench op id."""
_ANALOG_EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))
_NASEARCH_EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
_TUPLE_POS_OF_EDGE: tuple[int, ...] = tuple(_ANALOG_EDGES.index(e) for e in _NASEARCH_EDGES)
"""For each nasearch edge (official order), the position of that edge in an AnalogNAS-Bench key."""

_METRICS: dict[str, Metric] = {
    "valid_acc": Metric(
        "valid_acc",
        True,
        "%",
        "digital CIFAR-10 test accuracy (baseline_accuracy of data.anb; no "
        "validation split, so the same figure as test_acc)",
        True,
    ),
    "test_acc": Metric(
        "test_acc", True, "%", "digital CIFAR-10 test accuracy (baseline_accuracy of data.anb)", True
    ),
}


class _Architecture:
    """Inert stand-in for ``analognasbench.data.Architecture`` (attributes only, no code runs)."""


class _DriftMeasurement:
    """Inert stand-in for ``analognasbench.data.DriftMeasurement``."""


_ALLOWED_GLOBALS: dict[tuple[str, str], type] = {
    ("analognasbench.data", "Architecture"): _Architecture,
    ("analognasbench.data", "DriftMeasurement"): _DriftMeasurement,
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickles AnalogNAS-Bench's data file and nothing else: every other global is refused."""

    def find_class(self, module: str, name: str) -> type:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name} from the AnalogNAS-Bench data file; "
                f"accepted: {', '.join(f'{m}.{n}' for m, n in _ALLOWED_GLOBALS)}"
            ) from None


def data_path() -> Path:
    """Where the installed ``analog-nasbench`` package keeps ``data.anb`` (without importing it)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            candidate = Path(folder) / DATA_FILE
            if candidate.is_file():
                return candidate
    try:
        located = Path(str(metadata.distribution(DISTRIBUTION).locate_file(f"{PACKAGE}/{DATA_FILE}")))
    except metadata.PackageNotFoundError:
        located = None
    if located is not None and located.is_file():
        return located
    raise BenchmarkError(
        f"benchmark 'analognas' needs {PACKAGE}/{DATA_FILE} from the PyPI package {DISTRIBUTION!r}, "
        "which is not installed: `pip install analog-nasbench` (a nasearch dependency), or use "
        "benchmark=nb201 with NASEARCH_DATA"
    )


def parse_data(raw: bytes, source: str = DATA_FILE) -> np.ndarray:
    """Baseline accuracies of all 15,625 cells from the bytes of ``data.anb``, indexed by Arch.index."""
    try:
        data = _RestrictedUnpickler(io.BytesIO(raw)).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise BenchmarkError(f"cannot read AnalogNAS-Bench data {source!r}: {exc}") from exc
    if not isinstance(data, dict):
        raise BenchmarkError(
            f"malformed AnalogNAS-Bench data {source!r}: expected a dict keyed by 6-tuples of op ids, "
            f"got {type(data).__name__}"
        )
    acc = np.full(NUM_ARCHS, np.nan)
    for key, record in data.items():
        if (
            not isinstance(key, tuple)
            or len(key) != NUM_EDGES
            or not all(isinstance(o, int) and 0 <= o < len(_ANALOG_OPS) for o in key)
        ):
            raise BenchmarkError(
                f"malformed AnalogNAS-Bench data {source!r}: key {key!r} is not a 6-tuple of op ids "
                f"0..{len(_ANALOG_OPS) - 1}"
            )
        value = getattr(record, "baseline_accuracy", None)
        if not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 100.0:
            raise BenchmarkError(
                f"malformed AnalogNAS-Bench data {source!r}: cell {key!r} has baseline_accuracy "
                f"{value!r}, expected a percentage in [0, 100]"
            )
        arch = Arch(tuple(_OP_FROM_ANALOG[key[pos]] for pos in _TUPLE_POS_OF_EDGE))
        acc[arch.index] = float(value)
    missing = int(np.isnan(acc).sum())
    if missing:
        raise BenchmarkError(
            f"malformed AnalogNAS-Bench data {source!r}: {missing} of {NUM_ARCHS} cells have no record"
        )
    acc.flags.writeable = False
    return acc


_CACHE: np.ndarray | None = None
_CACHE_LOCK = threading.Lock()


def load_accuracies() -> np.ndarray:
    """The parsed accuracy array (read-only), loaded once per process."""
    global _CACHE
    with _CACHE_LOCK:
        if _CACHE is None:
            path = data_path()
            try:
                raw = path.read_bytes()
            except OSError as exc:
                raise BenchmarkError(f"cannot read AnalogNAS-Bench data {str(path)!r}: {exc}") from exc
            _CACHE = parse_data(raw, str(path))
        return _CACHE


@register_benchmark("analognas", space="nb201")
class AnalogNASBenchmark:
    """AnalogNAS-Bench baseline (digital) CIFAR-10 accuracy of every NB201 cell; see the module doc."""

    name = "analognas"
    datasets: tuple[str, ...] = ("cifar10",)
    fidelities: tuple[int, ...] = (200,)
    has_train_time = False
    has_validation_split = False  # valid_acc == test_acc
    metrics = MappingProxyType(_METRICS)
    """``valid_acc`` and ``test_acc`` (see the module docstring), read-only."""

    def __init__(self, path: str | None = None, *, where: str = ""):
        if path:
            raise BenchmarkError(
                f"benchmark 'analognas' is embedded and takes no path, got {path!r}"
                + (f" ({where})" if where else "")
                + "; leave benchmark.path unset, or use benchmark=nb201 for a table file"
            )
        self._acc = load_accuracies()
        self.space = get_space("nb201")

    # ------------------------------------------------------------------ Benchmark protocol
    def query(self, arch: Arch, dataset: str, fidelity: int | None = None) -> Result:
        check_dataset(self, dataset)
        resolve_fidelity(self, fidelity)
        if not isinstance(arch, Arch):
            arch = self.space.parse(arch, where=f"query of benchmark {self.name!r}")
        acc = float(self._acc[arch.index])
        return Result(valid_acc=acc, test_acc=acc, train_seconds=None)

    def column(self, dataset: str, metric: str, fidelity: int | None = None) -> np.ndarray:
        check_dataset(self, dataset)
        resolve_fidelity(self, fidelity)
        if metric in ("valid_acc", "test_acc"):
            return self._acc.copy()
        if metric == "train_seconds":
            return np.full(NUM_ARCHS, np.nan)
        raise unknown_metric(self, metric, ("train_seconds",))

    def __repr__(self) -> str:
        return "AnalogNASBenchmark(cifar10, fidelity=200)"
