"""Convert the official NAS-Bench-201 / NATS-Bench files into nasearch's table layout.

Sources read (with the benchmarks' own readers, which are nasearch dependencies):

* a NATS-Bench topology-space directory in the "simple" layout (``NATS-tss-v1_0-3ffb9-simple/``:
  ``meta.pickle.pbz2`` plus one ``NNNNNN.pickle.pbz2`` per cell), opened with
  ``nats_bench.create(path, 'tss', fast_mode=True)``; only the cells whose file is present are
  converted, so a partial directory works;
* a NATS-Bench topology-space single file (``NATS-tss-v1_0-3ffb9.pickle.pbz2``), opened with
  ``nats_bench.create(path, 'tss', fast_mode=False)``; its evaluated cells are converted;
* an official NAS-Bench-201 file (``NAS-Bench-201-v1_1-096897.pth``, or v1_0), opened with
  ``nas_201_api.NASBench201API``; its ``arch2infos`` holds ``{index: {'less': ArchResults state,
  'full': ArchResults state}}``, which the API exposes as hp '12' and '200'.

Column mapping (``shared/README.md``; the same for every source). Every figure is the mean over the
recorded training seeds (``ArchResults.get_metrics(..., is_random=False)``):

=============== ================================================================================
column          source
=============== ================================================================================
index           the official index (position in the file's ``meta_archs``)
arch            ``meta_archs[index]``, normalised through :class:`~nasearch.space.nb201.arch.Arch`
valid_acc_<hp>  cifar10: ('cifar10-valid', 'x-valid'), trained on 25k, validated on the other 25k;
                cifar100 / ImageNet16-120: (dataset, 'x-valid')
test_acc_<hp>   cifar10: ('cifar10', 'ori-test'), trained on all 50k; others: (dataset, 'x-test')
train_time_<hp> total training seconds of the schedule (``get_metrics(.., 'train')['all_time']``):
                cifar10 from 'cifar10-valid' (the protocol NB201 searches use), others from the
                dataset itself; evaluation time is not included
params_m        parameters (millions) of the network NB201's code builds, counted exactly from the
                cell (:func:`nb201_param_count`); see the deviation below
flops_m         ``get_compute_costs(dataset)['flops']`` of hp '200' (hp '12' if absent)
latency_s       ``get_compute_costs(dataset)['latency']`` of hp '200' (hp '12' if absent)
=============== ================================================================================

``<hp>`` is 12 or 200 (the official hp keys '12' and '200'). A figure the file does not record (for
example NB201 v1_0's 12-epoch runs exist only for cifar10-valid) is written empty and reads as NaN; a
dataset with neither schedule recorded gets no row.

Deviations, each deliberate:

* Values are rounded as in ``shared/data/nb201/nb201.csv.gz`` (accuracies 4 decimals, seconds 3,
  params 6, MFLOPs 5, latency 6) so a conversion reproduces that table's rows exactly (checked for the
  NATS sample cells 0, 11 and 284 in every column).
* ``params_m`` is counted from the cell instead of read from the cost info: NATS-Bench records a
  different figure for some seeds of 204 cells (its own ``get_compute_costs`` papers over it by
  taking seed 888), while the shared table's column is the network's count. The closed form
  (72,656 + 65 x classes + per-edge conv weights and BN affine parameters over the 15 cells) matches
  all 46,875 rows of the shared table; disagreements with a file's cost info are logged.
* Rows are written cell by cell (cifar10, cifar100, ImageNet16-120 for each index), not grouped by
  dataset as in the shared table; readers do not depend on the order.
* Files are written atomically: a temporary file in the destination folder, then ``os.replace``,
  so an interrupted conversion never leaves half a table. Gzip output (``.gz``) has a zero mtime, so
  the same input gives the same bytes.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tqdm import tqdm

from nasearch.benchmarks.base import DATASETS, BenchmarkError
from nasearch.benchmarks.table import COLUMNS
from nasearch.space.base import ArchError
from nasearch.space.nb201.arch import CONV1, CONV3, Arch

log = logging.getLogger(__name__)

HPS: tuple[str, ...] = ("12", "200")
"""Official hp keys of the two schedules (training epochs)."""

NUM_CLASSES: dict[str, int] = {"cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}

_VALID_SOURCE: dict[str, tuple[str, str]] = {
    "cifar10": ("cifar10-valid", "x-valid"),
    "cifar100": ("cifar100", "x-valid"),
    "ImageNet16-120": ("ImageNet16-120", "x-valid"),
}
_TEST_SOURCE: dict[str, tuple[str, str]] = {
    "cifar10": ("cifar10", "ori-test"),
    "cifar100": ("cifar100", "x-test"),
    "ImageNet16-120": ("ImageNet16-120", "x-test"),
}
_TRAIN_TIME_SOURCE: dict[str, str] = {
    "cifar10": "cifar10-valid",
    "cifar100": "cifar100",
    "ImageNet16-120": "ImageNet16-120",
}
_COST_SOURCE: dict[str, str] = {
    "cifar10": "cifar10",
    "cifar100": "cifar100",
    "ImageNet16-120": "ImageNet16-120",
}

DECIMALS: dict[str, int] = {
    "valid_acc_12": 4,
    "test_acc_12": 4,
    "valid_acc_200": 4,
    "test_acc_200": 4,
    "train_time_12": 3,
    "train_time_200": 3,
    "params_m": 6,
    "flops_m": 5,
    "latency_s": 6,
}
"""Decimals kept per column, as in the shared table."""

NATS_META = "meta.pickle.pbz2"
_NATS_CELL_FILE = re.compile(r"^(\d+)\.pickle\.pbz2$")
_EXPECTED_SOURCES = (
    "a NATS-Bench topology directory (e.g. NATS-tss-v1_0-3ffb9-simple/ holding meta.pickle.pbz2 and "
    "NNNNNN.pickle.pbz2 cell files), a NATS-Bench topology file (NATS-tss-v1_0-3ffb9.pickle.pbz2), or "
    "an official NAS-Bench-201 file (NAS-Bench-201-v1_1-096897.pth)"
)
_QUERY_ERRORS = (KeyError, ValueError, AssertionError, TypeError, IndexError, ZeroDivisionError)


# ---------------------------------------------------------------------------------------------- params
_CELL_CHANNELS = (16, 32, 64)
_CELLS_PER_STAGE = 5


def nb201_param_count(arch: Arch, num_classes: int) -> int:
    """Exact parameter count of the network NB201's code builds for ``arch``.

    Fixed part: stem conv 3->16 + BN, two ResNet reduction blocks, final BN, linear 64->classes
    (72,656 + 65 x classes). Each edge adds, in each of the 5 cells of each stage (C = 16, 32, 64),
    a ReLU-Conv-BN of C*C*k*k weights + 2C BN parameters for ``nor_conv_kxk``; other ops add nothing.
    """
    total = 72_656 + 65 * num_classes
    for op in arch.ops:
        k = 3 if op == CONV3 else 1 if op == CONV1 else 0
        if k:
            total += _CELLS_PER_STAGE * sum(c * c * k * k + 2 * c for c in _CELL_CHANNELS)
    return total


# ---------------------------------------------------------------------------------------------- rows
def _mean_metric(results: Any, dataset: str, setname: str, key: str) -> float | None:
    """``results.get_metrics(dataset, setname)[key]`` averaged over seeds, None where unrecorded."""
    if results is None or dataset not in results.get_dataset_names():
        return None
    try:
        value = results.get_metrics(dataset, setname, is_random=False)[key]
    except _QUERY_ERRORS:
        return None
    return None if value is None else float(value)


def _costs(results: Any, dataset: str) -> dict[str, Any] | None:
    if results is None or dataset not in results.get_dataset_names():
        return None
    try:
        return dict(results.get_compute_costs(dataset))
    except _QUERY_ERRORS:
        return None


def _fmt(column: str, value: float | None) -> str:
    if value is None or value != value:  # None or NaN
        return ""
    return repr(round(float(value), DECIMALS[column]))


class _ParamCheck:
    """Counts where a file's recorded params disagree with the network's count (logged once)."""

    def __init__(self) -> None:
        self.mismatches = 0
        self.examples: list[str] = []

    def check(self, index: int, dataset: str, recorded: Any, counted_m: float) -> None:
        if recorded is None:
            return
        try:
            if abs(float(recorded) - counted_m) <= 5e-7:
                return
        except (TypeError, ValueError):
            pass
        self.mismatches += 1
        if len(self.examples) < 5:
            self.examples.append(f"{index}/{dataset}: recorded {recorded!r}, counted {counted_m}")

    def report(self, source: Path) -> None:
        if self.mismatches:
            log.warning(
                "%d (cell, dataset) pairs of %s record params that differ from the network's count; "
                "params_m holds the network's count (e.g. %s)",
                self.mismatches,
                source,
                "; ".join(self.examples),
            )


def cell_rows(
    index: int, arch_str: str, by_hp: Mapping[str, Any], params: _ParamCheck | None = None
) -> list[list[str]]:
    """Table rows (one per dataset with a record) of one cell from its per-hp ``ArchResults``.

    ``by_hp`` maps the official hp keys ('12', '200') to ``ArchResults`` objects of
    ``nats_bench.api_utils`` or ``nas_201_api.api_utils`` (the two share this interface).
    """
    try:
        arch = Arch.from_string(arch_str)
    except ArchError as exc:
        raise BenchmarkError(f"official cell {index}: {exc}") from exc
    rows: list[list[str]] = []
    for dataset in DATASETS:
        record = {hp: by_hp.get(hp) for hp in HPS}
        values: dict[str, float | None] = {}
        for hp in HPS:
            r = record[hp]
            values[f"valid_acc_{hp}"] = _mean_metric(r, *_VALID_SOURCE[dataset], "accuracy")
            values[f"test_acc_{hp}"] = _mean_metric(r, *_TEST_SOURCE[dataset], "accuracy")
            values[f"train_time_{hp}"] = _mean_metric(r, _TRAIN_TIME_SOURCE[dataset], "train", "all_time")
        if all(v is None for v in values.values()):
            continue
        cost = _costs(record["200"], _COST_SOURCE[dataset]) or _costs(record["12"], _COST_SOURCE[dataset])
        params_m = nb201_param_count(arch, NUM_CLASSES[dataset]) / 1e6
        if params is not None and cost is not None:
            params.check(index, dataset, cost.get("params"), params_m)
        values["params_m"] = params_m
        values["flops_m"] = None if cost is None or cost.get("flops") is None else float(cost["flops"])
        latency = None if cost is None else cost.get("latency")
        values["latency_s"] = None if latency is None or latency <= 0 else float(latency)
        rows.append([str(index), arch.to_string(), dataset] + [_fmt(c, values[c]) for c in COLUMNS[3:]])
    return rows


# ---------------------------------------------------------------------------------------------- writing
def write_table_atomic(path: Path, rows: Iterable[list[str]]) -> int:
    """Write ``COLUMNS`` + ``rows`` to ``path`` (gzip when it ends in .gz) atomically; rows written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    n = 0
    try:
        with os.fdopen(fd, "wb") as raw:
            gz = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) if path.suffix == ".gz" else None
            text = io.TextIOWrapper(gz if gz is not None else raw, encoding="utf-8", newline="")
            try:
                writer = csv.writer(text, lineterminator="\n")
                writer.writerow(COLUMNS)
                for row in rows:
                    writer.writerow(row)
                    n += 1
                text.flush()
            finally:
                text.detach()  # leaves gz / raw open; closing them is ours
            if gz is not None:
                gz.close()  # writes the gzip trailer; does not close raw
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return n


# ---------------------------------------------------------------------------------------------- sources
def _missing(source: Path, why: str) -> BenchmarkError:
    return BenchmarkError(f"cannot convert {str(source)!r}: {why}; expected {_EXPECTED_SOURCES}")


def _nats_cells_in_dir(folder: Path, num_archs: int) -> list[int]:
    present = set()
    for entry in os.scandir(folder):
        m = _NATS_CELL_FILE.match(entry.name)
        if m and entry.is_file():
            idx = int(m.group(1))
            if 0 <= idx < num_archs:
                present.add(idx)
    return sorted(present)


def _safe_pickle_load(file_path: Any, ext: str = ".pbz2") -> Any:
    """nats_bench's ``pickle_load`` (same file lookup, bz2), through :mod:`nasearch.safe_pickle` with
    the NATS-Bench allow-list (dicts, lists, OrderedDict, numpy scalars and arrays)."""
    import bz2

    from nasearch import safe_pickle

    path = str(file_path) if os.path.isfile(str(file_path)) else str(file_path) + ext
    try:
        with bz2.BZ2File(path, "rb") as fh:
            return safe_pickle.load(fh, safe_pickle.NATS_BENCH)
    except safe_pickle.RefusedGlobal as exc:
        raise BenchmarkError(
            f"refused to read NATS-Bench file {path!r}: {exc} (an official NATS-Bench file holds only dicts, "
            "lists, OrderedDicts and numpy numbers; nothing in it was run)"
        ) from exc


@contextmanager
def _restricted_nats_pickles() -> Iterator[None]:
    """Make nats_bench read its pickles with :func:`_safe_pickle_load` for the duration of the block.

    nats_bench unpickles with plain ``pickle.load`` (any global, so a crafted file runs code) and offers
    no hook; its modules bind ``pickle_load`` by name, so each binding is swapped and restored."""
    import nats_bench
    import nats_bench.api_size
    import nats_bench.api_topology
    import nats_bench.api_utils

    mods = [nats_bench, nats_bench.api_utils, nats_bench.api_topology, nats_bench.api_size]
    saved = [(m, m.pickle_load) for m in mods if hasattr(m, "pickle_load")]
    for m, _ in saved:
        m.pickle_load = _safe_pickle_load
    try:
        yield
    finally:
        for m, f in saved:
            m.pickle_load = f


def _open_nats(source: Path, fast_mode: bool) -> Any:
    try:
        import nats_bench
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise BenchmarkError(f"converting {str(source)!r} needs the package nats_bench: {exc}") from exc
    try:
        with _restricted_nats_pickles():
            return nats_bench.create(str(source), "tss", fast_mode=fast_mode, verbose=False)
    except BenchmarkError:
        raise
    except Exception as exc:  # the reader raises ValueError, OSError, EOFError, pickle errors ...
        raise BenchmarkError(
            f"cannot read NATS-Bench topology {'directory' if fast_mode else 'file'} {str(source)!r}: "
            f"{type(exc).__name__}: {' '.join(str(exc).split())[:600]}"
        ) from exc


def _iter_nats(source: Path, progress: bool, params: _ParamCheck) -> Iterator[list[str]]:
    fast = source.is_dir()
    api = _open_nats(source, fast_mode=fast)
    if len(api.meta_archs) == 0:
        raise _missing(source, "its meta file lists no architectures")
    indices = _nats_cells_in_dir(source, len(api.meta_archs)) if fast else sorted(api.evaluated_indexes)
    if not indices:
        raise _missing(source, "it holds the meta file but no cell records")
    for idx in tqdm(indices, desc=f"NATS-Bench {source.name}", unit="cell", disable=not progress):
        try:
            if fast:
                with _restricted_nats_pickles():
                    api.reload(str(source), idx)
            by_hp = dict(api.arch2infos_dict[idx])
        except BenchmarkError:
            raise
        except Exception as exc:
            raise BenchmarkError(
                f"cannot read cell {idx} of NATS-Bench topology {str(source)!r}: {type(exc).__name__}: {exc}"
            ) from exc
        yield from cell_rows(idx, api.meta_archs[idx], by_hp, params)
        if fast:  # keep memory flat over 15,625 cells
            api.arch2infos_dict.pop(idx, None)


def _numpy_safe_globals() -> list[Any]:
    """numpy scalar types a benchmark file may pickle; allowed for ``torch.load(weights_only=True)``."""
    import numpy as np

    out: list[Any] = [np.dtype]
    try:
        from numpy._core.multiarray import scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import scalar  # type: ignore[no-redef]
    out.append(scalar)
    out.extend(
        getattr(np.dtypes, n)
        for n in ("Float64DType", "Float32DType", "Int64DType", "Int32DType")
        if hasattr(np, "dtypes") and hasattr(np.dtypes, n)
    )
    return out


def _iter_nb201(source: Path, progress: bool, params: _ParamCheck) -> Iterator[list[str]]:
    try:
        import torch
        from nas_201_api import NASBench201API
    except ImportError as exc:  # pragma: no cover - declared dependencies
        raise BenchmarkError(f"converting {str(source)!r} needs torch and nas-bench-201: {exc}") from exc
    try:
        # read here with weights_only=True, explicitly (nas_201_api's own torch.load(path) would depend
        # on torch's default and TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD): torch's allow-list of tensors and
        # containers plus plain numpy scalars; anything else is refused and nothing is run.
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            data = torch.load(str(source), map_location="cpu", weights_only=True)
        api = NASBench201API(data, verbose=False)
    except Exception as exc:  # AssertionError on a bad layout, UnpicklingError, RuntimeError, ...
        why = " ".join(str(exc).split())  # torch's messages span many lines: one paragraph
        raise BenchmarkError(
            f"cannot read NAS-Bench-201 file {str(source)!r}: {type(exc).__name__}: {why[:600]}; expected the "
            "official .pth (a dict with meta_archs, arch2infos {index: {'less': ..., 'full': ...}}, "
            "evaluated_indexes)"
        ) from exc
    indices = sorted(api.arch2infos_dict)
    if not indices:
        raise _missing(source, "it holds no cell records")
    for idx in tqdm(indices, desc=f"NAS-Bench-201 {source.name}", unit="cell", disable=not progress):
        if not 0 <= idx < len(api.meta_archs):
            raise BenchmarkError(
                f"malformed NAS-Bench-201 file {str(source)!r}: cell index {idx!r} outside meta_archs "
                f"(0..{len(api.meta_archs) - 1})"
            )
        yield from cell_rows(idx, api.meta_archs[idx], api.arch2infos_dict[idx], params)


def detect_source(source: Path) -> str:
    """'nats-dir', 'nats-file' or 'nb201-pth' for ``source``; BenchmarkError when it is none of them."""
    if not source.exists():
        raise _missing(source, "no such file or directory")
    if source.is_dir():
        if (source / NATS_META).is_file():
            return "nats-dir"
        raise _missing(source, f"the directory has no {NATS_META}")
    try:
        with open(source, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise _missing(source, f"cannot read it ({exc})") from exc
    if magic.startswith(b"BZh"):
        return "nats-file"
    if magic.startswith(b"PK\x03\x04") or magic[:1] == b"\x80":  # torch zip archive or legacy pickle
        return "nb201-pth"
    raise _missing(source, f"unrecognised file (starts with {magic!r})")


def convert_to_table(
    source: str | os.PathLike[str], out: str | os.PathLike[str], *, progress: bool = True
) -> int:
    """Convert an official NAS-Bench-201 / NATS-Bench topology file or directory to a table file.

    ``out`` gets the ``COLUMNS`` layout that :class:`~nasearch.benchmarks.table.TableBenchmark` reads
    (gzip when it ends in ``.gz``), written atomically. Returns the number of rows written.
    """
    src = Path(source)
    kind = detect_source(src)
    params = _ParamCheck()
    readers: dict[str, Callable[[Path, bool, _ParamCheck], Iterator[list[str]]]] = {
        "nats-dir": _iter_nats,
        "nats-file": _iter_nats,
        "nb201-pth": _iter_nb201,
    }
    n = write_table_atomic(Path(out), readers[kind](src, progress, params))
    params.report(src)
    log.info("wrote %d rows from %s (%s) to %s", n, src, kind, out)
    return n
