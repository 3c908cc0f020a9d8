"""The ``nb201`` backend: NAS-Bench-201 figures in nasearch's table layout (``nb201.csv.gz``).

One row per (architecture, dataset) with columns ``index, arch, dataset, valid_acc_12, test_acc_12,
valid_acc_200, test_acc_200, train_time_12, train_time_200, params_m, flops_m, latency_s`` (see
the README's "Data" section). ``index`` is the official NAS-Bench-201 / NATS-Bench index (the
order of the benchmark's meta file); ``nasearch convert`` writes this layout from the official
NAS-Bench-201 and NATS-Bench files. The table is loaded once into numpy arrays positioned by
:attr:`Arch.index` (nasearch's internal ordinal, not the ``index`` column), so a query is two array
reads. The embedded table's ``index, arch`` columns also define :attr:`Arch.official_index` for the
whole package (:func:`nasearch.space.nb201.arch.official_maps`).

Metrics (:attr:`TableBenchmark.metrics`, read by ``column(dataset, name)`` on every dataset):
``valid_acc``, ``test_acc`` (``valid_acc_<epochs>``, ``test_acc_<epochs>``, percent), ``train_seconds``
(``train_time_<epochs>``), and the costs, the same at both fidelities but recorded per dataset (the
networks differ in image size and classes): ``params`` (``params_m``, millions), ``flops``
(``flops_m``, MFLOPs) and ``latency`` (``latency_s``, seconds). A metric whose columns the table leaves
empty throughout is not declared (a table of the layout may omit costs). ``column`` also reads the raw
float columns by their table names (``params_m``, ``valid_acc_12``, ...).

Which table: ``benchmark.path`` if given, else ``$NASEARCH_DATA/nb201/nb201.csv.gz`` if it exists,
else the table shipped inside the package (``nasearch/embedded/nb201/nb201.csv.gz``, read with
``importlib.resources``; NATS-Bench / NAS-Bench-201 figures, both MIT-licensed releases; provenance
in the README's "Data" section). So ``nb201`` works with no data at all, and a user's own table wins.
"""

from __future__ import annotations

import csv
import gzip
import logging
import os
import threading
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np

from nasearch.benchmarks.base import (
    DATASETS,
    BenchmarkError,
    Metric,
    Result,
    check_dataset,
    register_benchmark,
    resolve_fidelity,
    unknown_metric,
)
from nasearch.csvio import open_text, read_header
from nasearch.space.base import ArchError, get_space
from nasearch.space.nb201.arch import NUM_ARCHS, Arch

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

COLUMNS: tuple[str, ...] = (
    "index",
    "arch",
    "dataset",
    "valid_acc_12",
    "test_acc_12",
    "valid_acc_200",
    "test_acc_200",
    "train_time_12",
    "train_time_200",
    "params_m",
    "flops_m",
    "latency_s",
)
FLOAT_COLUMNS = COLUMNS[3:]
METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("valid_acc", True, "%", "validation accuracy after the schedule (valid_acc_<epochs> column; "
               "cifar10: cifar10-valid x-valid, trained on 25k images; others: the dataset's x-valid)", True),
        Metric("test_acc", True, "%", "test accuracy after the schedule (test_acc_<epochs> column; cifar10: "
               "ori-test, trained on all 50k images; others: the dataset's x-test)", True),
        Metric("train_seconds", False, "s", "total training seconds of the schedule, evaluation excluded "
               "(train_time_<epochs> column)", True),
        Metric("params", False, "M", "parameters of the network on the dataset, millions (params_m column)", False),
        Metric("flops", False, "M", "MFLOPs of one forward pass at the dataset's image size, as NAS-Bench-201 "
               "records them (flops_m column)", False),
        Metric("latency", False, "s", "forward-pass latency in seconds, as NATS-Bench records it "
               "(latency_s column)", False),
    )
}
"""Every metric the table layout can hold; :attr:`TableBenchmark.metrics` keeps those the table has."""
METRIC_COLUMNS: dict[str, str] = {
    "valid_acc": "valid_acc_{f}",
    "test_acc": "test_acc_{f}",
    "train_seconds": "train_time_{f}",
    "params": "params_m",
    "flops": "flops_m",
    "latency": "latency_s",
}
"""The table column of each metric (``{f}``: the fidelity, for the per-fidelity metrics)."""
TABLE_RELPATH = Path("nb201") / "nb201.csv.gz"

log = logging.getLogger(__name__)


EMBEDDED_PACKAGE = "nasearch.embedded"
"""The package folder of embedded data, laid out like ``$NASEARCH_DATA`` (``nb201/nb201.csv.gz``)."""


def embedded_table() -> Traversable:
    """The NAS-Bench-201 table shipped inside the package (``nasearch/embedded/nb201/nb201.csv.gz``)."""
    return resources.files(EMBEDDED_PACKAGE).joinpath(*TABLE_RELPATH.parts)


def resolve_table_path(path: str | os.PathLike[str] | None = None, where: str = "") -> Path | Traversable:
    """The NB201 table to read: ``path`` if given (it must exist), else ``$NASEARCH_DATA/nb201/nb201.csv.gz``
    when that file exists, else the table embedded in the package. The user's own table always wins; a
    ``NASEARCH_DATA`` that is not a folder is an error (a typo would otherwise go unnoticed)."""
    if path:
        return Path(path)
    root = os.environ.get("NASEARCH_DATA")
    if root:
        user = Path(root) / TABLE_RELPATH
        if user.is_file():
            return user
        if not Path(root).is_dir():
            raise BenchmarkError(
                f"NASEARCH_DATA={root!r} is not a folder (looked there for the NB201 table {str(user)!r})"
                + (f" ({where})" if where else "")
                + ": point NASEARCH_DATA at a folder (a nb201/nb201.csv.gz in it is read instead of the "
                "table embedded in the package), or unset it to use the embedded table"
            )
        log.info("no NB201 table at %s ($NASEARCH_DATA); using the one embedded in the package", user)
    table = embedded_table()
    if not table.is_file():
        raise BenchmarkError(
            "the NB201 table embedded in the package is missing (" + str(table) + ")"
            + (f" ({where})" if where else "")
            + ": reinstall nasearch, or set NASEARCH_DATA to a folder holding nb201/nb201.csv.gz, or "
            "benchmark.path=FILE; `nasearch convert` builds the table from the official NAS-Bench-201 / "
            "NATS-Bench files"
        )
    return table


_LOADED: dict[tuple, tuple] = {}
"""Parsed tables of this process by file identity (path, size, mtime), so a multirun's jobs and repeated
constructions parse a table once. The arrays are shared read-only (``column`` returns copies)."""
_LOCK = threading.Lock()


def _cache_ident(path: Path | Traversable) -> tuple | None:
    try:
        st = os.stat(path)  # type: ignore[arg-type]
    except (TypeError, OSError):
        return None  # not a file on disk (e.g. a zipped package): parsed on every construction
    return (str(path), st.st_size, st.st_mtime_ns)


@register_benchmark("nb201", space="nb201")
class TableBenchmark:
    """NAS-Bench-201 (or NATS-Bench topology) results from a table file; fidelities 12 and 200."""

    name = "nb201"
    title = "NB201"
    """The benchmark's name in prose (log lines)."""
    fidelities = (12, 200)
    has_train_time = True
    has_validation_split = True
    """``valid_acc`` comes from a split apart from ``test_acc`` (what ``task=evolve`` ranks against)."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, where: str = ""):
        self.space = get_space("nb201")
        path = resolve_table_path(path, where)
        self.embedded = not isinstance(path, Path) or path == embedded_table()
        """Whether this is the table shipped in the package (no user file given or found)."""
        if not path.is_file():
            raise BenchmarkError(
                f"NB201 table not found at {str(path)!r}"
                + (f" ({where})" if where else "")
                + ": expected a CSV (optionally .gz) with columns "
                + ", ".join(COLUMNS)
                + "; set NASEARCH_DATA to the folder holding nb201/nb201.csv.gz or benchmark.path=FILE"
            )
        self.path = path
        ident = _cache_ident(path)
        cached = _LOADED.get(ident) if ident is not None else None
        if cached is None:
            self._load(path)
            if ident is not None:
                with _LOCK:
                    _LOADED[ident] = (self.datasets, self._data, self._official, self._present)
        else:
            self.datasets, self._data, self._official, self._present = cached
        self._cols = {c: i for i, c in enumerate(FLOAT_COLUMNS)}
        recorded = {c for c, i in self._cols.items() if np.isfinite(self._data[:, i]).any()}
        self._metrics = {
            name: m for name, m in METRICS.items()
            if name in ("valid_acc", "test_acc")
            or any(METRIC_COLUMNS[name].format(f=f) in recorded for f in self.fidelities)
        }

    def _load(self, path: Path | Traversable) -> None:
        try:
            with open_text(path) as fh:
                reader = csv.reader(fh)
                wrong = read_header(reader, COLUMNS)
                if wrong:
                    raise BenchmarkError(f"malformed NB201 table {str(path)!r}: {wrong}")
                rows = list(reader)
        except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile) as exc:
            raise BenchmarkError(f"cannot read NB201 table {str(path)!r}: {exc}") from exc
        for lineno, r in enumerate(rows, start=2):
            if len(r) != len(COLUMNS):
                raise BenchmarkError(
                    f"malformed NB201 table {str(path)!r} line {lineno}: {len(r)} fields, expected {len(COLUMNS)}"
                )
            if r[2] not in DATASETS:
                raise BenchmarkError(
                    f"malformed NB201 table {str(path)!r} line {lineno}: dataset {r[2]!r} is not one of "
                    f"{', '.join(DATASETS)}"
                )
        datasets = sorted({r[2] for r in rows}, key=DATASETS.index)
        self.datasets = tuple(datasets)
        ds_pos = {d: i for i, d in enumerate(datasets)}
        self._data = np.full((len(datasets), len(FLOAT_COLUMNS), NUM_ARCHS), np.nan)
        self._official = np.full(NUM_ARCHS, -1, dtype=np.int64)
        self._present = np.zeros((len(datasets), NUM_ARCHS), dtype=bool)
        acc_cols = [i for i, c in enumerate(FLOAT_COLUMNS) if "_acc_" in c]
        parsed: dict[str, Arch] = {}  # each arch string appears once per dataset: parse it once
        for lineno, r in enumerate(rows, start=2):
            try:
                arch = parsed.get(r[1]) or parsed.setdefault(r[1], Arch.from_string(r[1]))
                values = [float(v) if v != "" else np.nan for v in r[3:]]
                official = int(r[0])
            except (ArchError, ValueError) as exc:
                raise BenchmarkError(f"malformed NB201 table {str(path)!r} line {lineno}: {exc}") from exc
            bad = [
                FLOAT_COLUMNS[i] for i in acc_cols if not 0.0 <= values[i] <= 100.0 and values[i] == values[i]
            ]
            if bad:
                raise BenchmarkError(
                    f"malformed NB201 table {str(path)!r} line {lineno}: "
                    + ", ".join(f"{c}={r[3 + FLOAT_COLUMNS.index(c)]}" for c in bad)
                    + " outside [0, 100] (accuracies are in percent)"
                )
            d = ds_pos[r[2]]
            if self._present[d, arch.index]:
                raise BenchmarkError(
                    f"malformed NB201 table {str(path)!r} line {lineno}: a second {r[2]} row for {arch}"
                )
            self._data[d, :, arch.index] = values
            self._present[d, arch.index] = True
            self._official[arch.index] = official

    @property
    def metrics(self) -> Mapping[str, Metric]:
        """The metrics this table records (see the module docstring); read-only."""
        return MappingProxyType(self._metrics)

    # ------------------------------------------------------------------ Benchmark protocol
    def query(self, arch: Arch, dataset: str, fidelity: int | None = None) -> Result:
        check_dataset(self, dataset)
        f = resolve_fidelity(self, fidelity)
        d = self.datasets.index(dataset)
        if not isinstance(arch, Arch):
            arch = self.space.parse(arch, where=f"query of benchmark {self.name!r}")
        i = arch.index
        if not self._present[d, i]:
            raise BenchmarkError(f"cell {arch} has no {dataset} row in table {str(self.path)!r}")
        row = self._data[d, :, i]
        c = self._cols
        return Result(
            valid_acc=float(row[c[f"valid_acc_{f}"]]),
            test_acc=float(row[c[f"test_acc_{f}"]]),
            train_seconds=float(row[c[f"train_time_{f}"]]),
        )

    def column(self, dataset: str, metric: str, fidelity: int | None = None) -> np.ndarray:
        """A metric of :data:`METRICS` (at ``fidelity`` for the per-fidelity ones; the costs are the same
        at every fidelity) or a raw float column by its table name; NaN where the table has no value."""
        check_dataset(self, dataset)
        d = self.datasets.index(dataset)
        f = resolve_fidelity(self, fidelity)
        if metric in METRIC_COLUMNS:
            key = METRIC_COLUMNS[metric].format(f=f)
        elif metric in self._cols:
            key = metric
        else:
            raise unknown_metric(self, metric, (*METRIC_COLUMNS, *FLOAT_COLUMNS))
        return self._data[d, self._cols[key]].copy()

    # ------------------------------------------------------------------ extras
    def official_index(self, arch: Arch) -> int:
        """NAS-Bench-201's own index of ``arch`` as this table's ``index`` column gives it (the order
        of the official meta file; for the embedded table and any table converted from the official
        files it equals :attr:`Arch.official_index`)."""
        return int(self._official[arch.index])

    def arch_from_official_index(self, index: int) -> Arch:
        """The cell whose ``index`` in this table is ``index`` (inverse of :meth:`official_index`)."""
        hits = np.flatnonzero(self._official == index)
        if len(hits) != 1:
            raise BenchmarkError(f"official NB201 index {index!r} not in table {str(self.path)!r} (0..15624)")
        return Arch.from_index(int(hits[0]))

    def __repr__(self) -> str:
        return f"TableBenchmark({str(self.path)!r}, datasets={self.datasets})"
