"""Shipped score tables: a read-only layer of proxy scores beneath the user's score store.

The package carries the score tables this project computed (``nasearch/embedded/scores/*.csv.gz``,
the format of ``nasearch scores export``: full-space GradSign, synflow, ZiCo and MeCo on NB201's CIFAR-10
networks, batch 64, seed 0; the 1,000 cells of the correlation study for the other proxies; synflow,
GradSign and ZiCo over all 6,561 NAS-Bench-Macro networks, whose ``dataset`` column reads ``nasbench_macro:cifar10``;
full-space tables of EZNAS programs evolved here, batch 16, keyed by the program's hash as every
``eznas`` score; the full-space table of the GHN shipped in ``nasearch/predictors/``, keyed by the
checkpoint's hash as every ``ghn`` score). A lookup under a
:class:`~nasearch.scoring.store.ScoreKey` that one of them holds finds its scores without an import
step:

* the user's store is read first and wins (:func:`layered`); the shipped tables only fill the cells
  it lacks;
* nothing is ever written into the package, and shipped scores are never copied into the store
  (the store holds what the user computed or imported);
* a cell that neither holds is computed by :func:`nasearch.scoring.score_cells` as before
  (which then needs images for image-using proxies).

Each file holds one setting. A process reads the first row of every file on its first lookup (to
know which file holds which setting) and a setting's file(s) on the first lookup of that setting,
into ``{arch index: (value, seconds)}`` keyed by nasearch's internal ordinal (``arch.index``, the
store's key), kept for the process. The files' ``index`` column is the official index
(:meth:`SearchSpace.official_index <nasearch.space.base.SearchSpace.official_index>`, NB201's own);
files of the older layout (nasearch's ordinal there) read the same: each row's ``arch`` string is
trusted and its ``index`` checked against it (:class:`nasearch.scoring.tables.IndexColumn`).
Keys are built from the files' columns by :class:`ScoreKey`'s own field names, so a key field a file
does not carry takes its default (the space: from the ``dataset`` column, ``SPACE:TASK``, as the store
reads it).

The shipped image-using scores were computed on the project's CIFAR-10 training subset (10,000
images); a user with another CIFAR-10 copy samples other minibatches, so the same key can give other
values there. Turn the layer off with ``proxy.shipped=false`` (config) or ``shipped=False``
(:func:`~nasearch.scoring.score_cells`, :class:`~nasearch.scoring.scorer.ArchScorer`)
to compute every missing score from your own images.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import threading
from collections.abc import Iterable
from dataclasses import fields
from importlib import resources
from typing import Any

from nasearch.proxies.registry import ProxyError
from nasearch.scoring.store import ScoreKey, ScoreStore, _arch_index

Arch = Any
"""An arch of the key's space (``key.space``), or its index."""

PACKAGE = "nasearch.embedded"
FOLDER = "scores"

_INDEX: dict[ScoreKey, list] | None = None
_TABLES: dict[ScoreKey, dict[int, tuple[float, float]]] = {}
_LOCK = threading.RLock()


def table_files() -> list:
    """The shipped score tables (``importlib.resources`` traversables), sorted by name."""
    root = resources.files(PACKAGE).joinpath(FOLDER)
    if not root.is_dir():
        return []
    return sorted((p for p in root.iterdir() if p.name.endswith((".csv", ".csv.gz"))), key=lambda p: p.name)


def _rows(entry):
    """(key column names, csv reader positioned after the header) of one shipped table."""
    raw = entry.open("rb")
    data = gzip.GzipFile(fileobj=raw) if entry.name.endswith(".gz") else raw
    reader = csv.reader(io.TextIOWrapper(data, encoding="utf-8", newline=""))
    header = next(reader, None) or []
    return raw, header, reader


def _key_of(header: list[str], row: list[str], entry_name: str) -> ScoreKey:
    types = {f.name: f.type for f in fields(ScoreKey)}
    names = [c for c in header if c in types]
    if "proxy" not in names or not {"index", "value", "seconds"} <= set(header):
        raise ProxyError(f"malformed shipped score table {entry_name!r}: columns {header}")
    try:
        values = {n: int(row[header.index(n)]) if types[n] in (int, "int") else row[header.index(n)] for n in names}
        if "dataset" in values and "space" not in values:  # the exported form: SPACE:TASK outside NB201
            values["space"], values["dataset"] = ScoreKey.split_dataset_field(values["dataset"])
        return ScoreKey(**values)
    except (ValueError, IndexError) as exc:
        raise ProxyError(f"malformed shipped score table {entry_name!r} line 2: {exc}") from exc


def _index() -> dict[ScoreKey, list]:
    """Which shipped files hold which setting, from each file's first row (one setting per file)."""
    global _INDEX
    if _INDEX is None:
        with _LOCK:
            if _INDEX is None:
                index: dict[ScoreKey, list] = {}
                for entry in table_files():
                    raw, header, reader = _rows(entry)
                    with raw:
                        first = next(reader, None)
                    if first is not None:
                        index.setdefault(_key_of(header, first, entry.name), []).append(entry)
                _INDEX = index
    return _INDEX


def _parse(entry, key: ScoreKey) -> dict[int, tuple[float, float]]:
    """Every row of one shipped file (which must hold the single setting ``key``)."""
    raw, header, reader = _rows(entry)
    col = {c: i for i, c in enumerate(header)}
    ident = [(col[f.name], key.dataset_field if f.name == "dataset" and "space" not in col else str(getattr(key, f.name)))
             for f in fields(ScoreKey) if f.name in col]
    i_idx, i_val, i_sec = col["index"], col["value"], col["seconds"]
    i_arch = col.get("arch")
    from nasearch.scoring.tables import IndexColumn
    from nasearch.space.base import ArchError, get_space

    space = get_space(key.space, where=f"shipped score table {entry.name!r}")
    size = space.num_archs
    index_column = IndexColumn(space)
    out: dict[int, tuple[float, float]] = {}
    with raw:
        for line, r in enumerate(reader, start=2):
            try:
                if any(r[c] != v for c, v in ident):
                    raise ValueError(f"a second setting in one file ({', '.join(r[c] for c, _ in ident)}); "
                                     "ship one setting per file")
                if i_arch is not None:  # the arch string is trusted; the index is checked against it
                    idx = index_column.arch(r[i_idx], r[i_arch], line).index
                else:  # no arch column: the index is the official one (the exported layout)
                    official = int(r[i_idx])
                    if not 0 <= official < size:
                        raise ValueError(f"index {official} outside 0..{size - 1} (space {key.space})")
                    idx = space.from_official_index(official).index
                out[idx] = (float(r[i_val]) if r[i_val] else math.nan, float(r[i_sec]) if r[i_sec] else math.nan)
            except (ValueError, IndexError, ArchError) as exc:
                raise ProxyError(f"malformed shipped score table {entry.name!r} line {line}: {exc}") from exc
    return out


def cells_of(key: ScoreKey) -> dict[int, tuple[float, float]]:
    """The shipped ``{arch index: (value, seconds)}`` of one setting ({} if none ships), read on first use."""
    if key not in _TABLES:
        files = _index().get(key, [])
        with _LOCK:
            if key not in _TABLES:
                merged: dict[int, tuple[float, float]] = {}
                for entry in files:
                    for i, v in _parse(entry, key).items():
                        merged.setdefault(i, v)
                _TABLES[key] = merged
    return _TABLES[key]


def tables() -> dict[ScoreKey, dict[int, tuple[float, float]]]:
    """Every shipped score by setting (reads every file; treat the result as read-only)."""
    return {key: cells_of(key) for key in _index()}


def keys() -> list[ScoreKey]:
    """The settings with shipped scores."""
    return sorted(_index())


def get_many(
    key: ScoreKey, archs: Iterable[Arch | int], with_seconds: bool = False
) -> dict[int, float] | dict[int, tuple[float, float]]:
    """Shipped scores of those ``archs`` that a shipped table holds under ``key`` (the same contract as
    :meth:`ScoreStore.get_many <nasearch.scoring.store.ScoreStore.get_many>`)."""
    cells = cells_of(key)
    if not cells:
        return {}
    out: dict = {}
    for a in archs:
        i = _arch_index(a)
        v = cells.get(i)
        if v is not None:
            out[i] = v if with_seconds else v[0]
    return out


def layered(
    store: ScoreStore | None, key: ScoreKey, archs: Iterable[Arch | int], *, with_seconds: bool = False,
    shipped: bool = True,
) -> dict[int, float] | dict[int, tuple[float, float]]:
    """The user's stored scores of ``archs``, and for the cells the store lacks, the shipped ones.

    With ``store=None`` nothing is read (no store means "compute live"); ``shipped=False`` reads the
    store alone."""
    if store is None:
        return {}
    wanted = list(archs)
    got = dict(store.get_many(key, wanted, with_seconds=with_seconds))
    if shipped:
        missing = [a for a in wanted if _arch_index(a) not in got]
        if missing:
            got.update(get_many(key, missing, with_seconds=with_seconds))
    return got


__all__ = ["get_many", "keys", "layered", "table_files", "tables"]
