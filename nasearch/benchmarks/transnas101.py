"""The ``transnas101_micro`` and ``transnas101_macro`` backends: TransNAS-Bench-101's final-epoch
validation metric of every network on its seven Taskonomy tasks.

Source: TransNAS-Bench-101 (Duan et al., CVPR 2021; MIT-licensed code and API in
yawen-d/TransNASBench), as exported in NASLib's zero-cost benchmark files: the table
``tnb101_final_valid.csv.gz`` with columns ``space, task, arch, metric, value`` (51,464 rows: 4,096
micro cells and 3,256 macro skeletons x 7 tasks), read as it is. ``value`` is the final-epoch
validation figure the benchmark's API returns; test metrics, training times and per-epoch curves are
not in this export.

=====================================  ==============================================
task                                   metric (higher is better for all)
=====================================  ==============================================
``class_scene``, ``class_object``,     ``valid_top1``, percent
``jigsaw``
``segmentsemantic``                    ``valid_acc``, pixel accuracy, percent
``room_layout``                        ``valid_neg_loss``, the negative L2 loss
``normal``, ``autoencoder``            ``valid_ssim``, 0..1
=====================================  ==============================================

Mapping onto :class:`~nasearch.benchmarks.base.Result`: ``valid_acc = test_acc =`` that value (the
only metric in the export: a search selects and reports by the same validation figure, and every
summary must say so); ``train_seconds`` is None (``has_train_time`` is False: searches spend a number
of queries, :data:`DEFAULT_QUERY_BUDGET`). The field names say "acc" but for ``room_layout``,
``normal`` and ``autoencoder`` the value is a negative loss or an SSIM; all are higher-is-better, so
every strategy maximises them unchanged.

Metrics (:attr:`TransNAS101Benchmark.metrics`): ``valid_acc`` and ``test_acc`` (each task's own figure,
unit task-dependent), then the tasks' own metric names ``valid_neg_loss``, ``valid_ssim`` and
``valid_top1`` (``valid_acc`` is also segmentsemantic's own name), all higher-is-better; a task
metric's column is NaN on the tasks that do not record it (``valid_ssim`` on ``jigsaw``). No cost
metric (parameters, FLOPs, latency) and no training time: the export records none, so a budget or
constraint on a cost cannot be set on this benchmark.

Fidelity: one, :data:`FINAL_EPOCH` = -1, the benchmark API's index of each task's final epoch (the
tasks were trained for different numbers of epochs and the export holds only the last).

The file is parsed once per process (both spaces share it) and kept as arrays indexed by the space's
``Arch.index``; a truncated or corrupt file, a wrong header, an unknown space/task/metric, an arch
string outside its space or a missing (arch, task) pair is a :class:`BenchmarkError` naming the file,
the line and what is accepted.
"""

from __future__ import annotations

import csv
import os
import threading
import zlib
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
from nasearch.csvio import open_text, read_header
from nasearch.space.base import ArchError
from nasearch.space.nasbench_macro import shared_instance
from nasearch.space.transnas101 import TASKS, TransNAS101MacroSpace, TransNAS101MicroSpace

RELPATH = Path("transnas101") / "tnb101_final_valid.csv.gz"
HEADER: tuple[str, ...] = ("space", "task", "arch", "metric", "value")
METRIC_OF_TASK: dict[str, str] = {
    "class_scene": "valid_top1",
    "class_object": "valid_top1",
    "jigsaw": "valid_top1",
    "segmentsemantic": "valid_acc",
    "room_layout": "valid_neg_loss",
    "normal": "valid_ssim",
    "autoencoder": "valid_ssim",
}
FINAL_EPOCH = -1
DEFAULT_QUERY_BUDGET = 100
SPACES = {"micro": TransNAS101MicroSpace, "macro": TransNAS101MacroSpace}
METRICS: tuple[str, ...] = ("valid_acc", "test_acc", "train_seconds", *sorted(set(METRIC_OF_TASK.values())))
_TASK_METRICS: dict[str, tuple[str, str]] = {
    "valid_neg_loss": ("", "the negative L2 loss"),
    "valid_ssim": ("", "SSIM, 0..1"),
    "valid_top1": ("%", "top-1 accuracy"),
}
"""Unit and meaning of each task metric other than ``valid_acc`` (segmentsemantic's pixel accuracy)."""


def _tasks_of(metric: str) -> str:
    return ", ".join(t for t, m in METRIC_OF_TASK.items() if m == metric)


DECLARED_METRICS: dict[str, Metric] = {
    "valid_acc": Metric("valid_acc", True, "", "final-epoch validation figure of the task, in its own metric "
                        "(metric_name(task); percent for the classification tasks and segmentsemantic) "
                        "(the table's value column)", True),
    "test_acc": Metric("test_acc", True, "", "the same figure as valid_acc: the export records no test metric "
                       "(the table's value column)", True),
    **{
        name: Metric(name, True, unit, f"final-epoch validation {what} of {_tasks_of(name)}; NaN on the other "
                     f"tasks (the table's rows with metric {name})", True)
        for name, (unit, what) in _TASK_METRICS.items()
    },
}
"""The metrics of both spaces: the accuracies, then each task metric name; no cost metric (the export
records none)."""

_cache: dict[tuple[str, float, int], dict[str, np.ndarray]] = {}
_lock = threading.Lock()


def _where(where: str) -> str:
    return f" ({where})" if where else ""


def default_path(name: str = "transnas101", where: str = "") -> Path:
    """``$NASEARCH_DATA/transnas101/tnb101_final_valid.csv.gz`` when it exists, else the copy embedded
    in the package (:func:`nasearch.embedded.resolve_data_file`)."""
    from nasearch.embedded import EmbeddedDataError, resolve_data_file

    try:
        return Path(str(resolve_data_file(RELPATH.as_posix(), what=f"the TransNAS-Bench-101 table ({name})",
                                          where=where)))
    except EmbeddedDataError as exc:
        raise BenchmarkError(str(exc)) from exc


def load_table(path: Path, where: str = "") -> dict[str, np.ndarray]:
    """Parse the table into ``{space: values (7 tasks x num_archs)}`` (cached per file version)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime, stat.st_size)
    with _lock:
        if key in _cache:
            return _cache[key]
    spaces = {name: cls() for name, cls in SPACES.items()}
    values = {name: np.full((len(TASKS), sp.num_archs), np.nan) for name, sp in spaces.items()}
    task_pos = {t: i for i, t in enumerate(TASKS)}
    seen: dict[str, dict[str, int]] = {name: {} for name in spaces}  # arch string -> index

    def bad(lineno: int, what: str) -> BenchmarkError:
        return BenchmarkError(f"malformed TransNAS-Bench-101 table {str(path)!r}{_where(where)} line {lineno}: {what}")

    try:
        with open_text(path) as fh:
            reader = csv.reader(fh)
            wrong = read_header(reader, HEADER)
            if wrong:
                raise BenchmarkError(f"malformed TransNAS-Bench-101 table {str(path)!r}{_where(where)}: {wrong}")
            for lineno, row in enumerate(reader, start=2):
                if len(row) != len(HEADER):
                    raise bad(lineno, f"{len(row)} fields, expected {len(HEADER)} ({', '.join(HEADER)})")
                space, task, arch_text, metric, value = row
                if space not in spaces:
                    raise bad(lineno, f"space {space!r} is not one of {', '.join(SPACES)}")
                if task not in task_pos:
                    raise bad(lineno, f"task {task!r} is not one of {', '.join(TASKS)}")
                if metric != METRIC_OF_TASK[task]:
                    raise bad(lineno, f"metric {metric!r} for task {task!r}: expected {METRIC_OF_TASK[task]!r}")
                index = seen[space].get(arch_text)
                if index is None:
                    try:
                        index = spaces[space].parse(arch_text).index
                    except ArchError as exc:
                        raise bad(lineno, str(exc)) from None
                    seen[space][arch_text] = index
                try:
                    v = float(value)
                except ValueError:
                    raise bad(lineno, f"value {value!r} is not a number") from None
                if not np.isfinite(v):
                    raise bad(lineno, f"value {value!r} is not finite")
                cell = values[space][task_pos[task]]
                if not np.isnan(cell[index]):
                    raise bad(lineno, f"a second {space} {task} row for {arch_text!r}")
                cell[index] = v
    except (OSError, EOFError, UnicodeDecodeError, zlib.error, csv.Error) as exc:
        raise BenchmarkError(
            f"cannot read TransNAS-Bench-101 table {str(path)!r}{_where(where)}: {exc} (a truncated or "
            f"corrupt file?); expected a CSV (optionally gzipped) with columns {', '.join(HEADER)}"
        ) from exc
    for name, arr in values.items():
        holes = np.isnan(arr)
        if holes.any():
            t, i = np.argwhere(holes)[0]
            raise BenchmarkError(
                f"incomplete TransNAS-Bench-101 table {str(path)!r}{_where(where)}: {int(holes.sum())} "
                f"(arch, task) pairs of the {name} space are missing (e.g. "
                f"{spaces[name].from_index(int(i))} on {TASKS[t]}); the export holds all "
                f"{spaces[name].num_archs} x {len(TASKS)} (a truncated file?)"
            )
    with _lock:
        _cache[key] = values
    return values


class TransNAS101Benchmark:
    """TransNAS-Bench-101 results of one space (``'micro'`` or ``'macro'``), see the module docstring."""

    datasets: tuple[str, ...] = TASKS
    fidelities: tuple[int, ...] = (FINAL_EPOCH,)
    has_train_time = False
    has_validation_split = False  # valid_acc == test_acc: the export's one figure
    default_query_budget = DEFAULT_QUERY_BUDGET
    metrics = MappingProxyType(DECLARED_METRICS)
    """:data:`DECLARED_METRICS`, read-only (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, space: str = "micro", where: str = ""):
        if space not in SPACES:
            raise BenchmarkError(
                f"TransNAS-Bench-101 space {space!r}{_where(where)} is unknown; accepted: {', '.join(SPACES)}"
            )
        self.space = shared_instance(SPACES[space], SPACES[space].name)
        self.name = self.space.name
        self.path = Path(path) if path else default_path(self.name, where)
        if not self.path.is_file():
            raise BenchmarkError(
                f"TransNAS-Bench-101 table not found at {str(self.path)!r}{_where(where)}: expected "
                f"tnb101_final_valid.csv.gz (columns {', '.join(HEADER)}); set NASEARCH_DATA to the "
                f"folder holding {RELPATH.as_posix()} or benchmark.path=FILE"
            )
        self._values = load_table(self.path, where)[space]

    def _index(self, arch) -> int:
        if isinstance(arch, self.space.Arch):
            return arch.index
        return self.space.parse(arch, where=f"query of benchmark {self.name!r}").index

    def query(self, arch, dataset: str, fidelity: int | None = None) -> Result:
        check_dataset(self, dataset)
        resolve_fidelity(self, fidelity)
        v = float(self._values[TASKS.index(dataset), self._index(arch)])
        return Result(valid_acc=v, test_acc=v, train_seconds=None)

    def column(self, dataset: str, metric: str, fidelity: int | None = None) -> np.ndarray:
        """``valid_acc`` / ``test_acc`` (both the export's value), the task's own metric name (e.g.
        ``valid_top1``; another task's metric name is all NaN: this task does not record it), or
        ``train_seconds`` (NaN: not recorded)."""
        check_dataset(self, dataset)
        resolve_fidelity(self, fidelity)
        if metric in ("valid_acc", "test_acc") or metric == METRIC_OF_TASK[dataset]:
            return self._values[TASKS.index(dataset)].copy()
        if metric == "train_seconds" or metric in DECLARED_METRICS:
            return np.full(self.space.num_archs, np.nan)
        raise unknown_metric(self, metric, ("train_seconds",), dataset=dataset)

    def metric_name(self, dataset: str) -> str:
        """The benchmark's name of the figure behind ``valid_acc``/``test_acc`` for ``dataset``."""
        check_dataset(self, dataset)
        return METRIC_OF_TASK[dataset]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, space={self.space.name!r})"


@register_benchmark("transnas101_micro", space="transnas101_micro")
class TransNAS101MicroBenchmark(TransNAS101Benchmark):
    name = "transnas101_micro"

    def __init__(self, path: str | os.PathLike[str] | None = None, *, where: str = ""):
        super().__init__(path, space="micro", where=where)


@register_benchmark("transnas101_macro", space="transnas101_macro")
class TransNAS101MacroBenchmark(TransNAS101Benchmark):
    name = "transnas101_macro"

    def __init__(self, path: str | os.PathLike[str] | None = None, *, where: str = ""):
        super().__init__(path, space="macro", where=where)


__all__ = [
    "DECLARED_METRICS",
    "DEFAULT_QUERY_BUDGET",
    "FINAL_EPOCH",
    "METRIC_OF_TASK",
    "TransNAS101Benchmark",
    "TransNAS101MacroBenchmark",
    "TransNAS101MicroBenchmark",
    "default_path",
    "load_table",
]
