"""On-disk score cache: one SQLite file holding proxy scores of cells, keyed by every setting that
changes a score.

A row is one cell scored under one :class:`ScoreKey` (proxy, proxy code version, search space,
dataset whose network was built, image dataset the batches came from, batch size, number of
batches, seed) plus the arch's index in its space (and its benchmark string, for people reading the
table), the raw value the proxy returned and the seconds it took.

Search spaces in the key: the space is folded into the ``dataset`` column, which holds the task
alone for NB201 (``cifar10``: exactly what stores written before spaces existed hold, so they stay
valid as they are, in both directions) and ``SPACE:TASK`` for every other space
(``nasbench_macro:cifar10``). The table's schema and primary key are unchanged, so no migration is
needed; :class:`ScoreKey` carries ``space`` as its own (required) field and only this
module and the portable tables (:mod:`nasearch.scoring.tables`, same ``dataset`` column) fold it.

Values are stored as the proxy returned them: ``+inf`` / ``-inf`` round-trip through SQLite's REAL,
NaN is stored as NULL and read back as NaN. The never-preferred policy of
:mod:`nasearch.scoring` is applied on read, so a cached run and a fresh one agree.

Concurrency: WAL journal, a busy timeout, and every write is one short ``BEGIN IMMEDIATE`` ...
``COMMIT`` transaction of ``INSERT OR IGNORE`` rows, so several processes may write one store at
once without losing rows, and a killed writer keeps every transaction it committed. Scores are
deterministic, so when two runs compute the same cell the first row stays. A store opens its
connection lazily in the process that uses it, so a ``ScoreStore`` may be passed to other processes.

Errors: a file that is not a SQLite database, a damaged one ("database disk image is malformed"), or
one that cannot be written raises :class:`StoreError` naming the file. :meth:`ScoreStore.rescue` writes
scores into a fresh store next to a damaged one, so a scoring run that meets a damaged store keeps
what it computed (:func:`nasearch.scoring.score_cells` does this and names the new file).
"""

from __future__ import annotations

import csv
import functools
import logging
import math
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass, field, fields
from pathlib import Path
from typing import Any

from nasearch.proxies.registry import ProxyError

log = logging.getLogger(__name__)


class StoreError(ProxyError):
    """The score store file cannot be opened, read or written (not SQLite, damaged, read-only)."""

    def __init__(self, message: str, path: Path):
        super().__init__(message)
        self.path = path


_EXPECTED = "expected a SQLite file written by nasearch's score store, or a path where one can be created"


def _store_error(path: Path, action: str, exc: BaseException) -> StoreError:
    return StoreError(f"cannot {action} score store {str(path)!r} ({exc}); {_EXPECTED}", path)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS scores (
    proxy TEXT NOT NULL,
    version TEXT NOT NULL,
    dataset TEXT NOT NULL,
    image_dataset TEXT NOT NULL,
    batch_size INTEGER NOT NULL,
    num_batches INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    arch_index INTEGER NOT NULL,
    arch TEXT NOT NULL,
    value REAL,
    seconds REAL,
    created REAL,
    PRIMARY KEY (proxy, version, dataset, image_dataset, batch_size, num_batches, seed, arch_index)
)
"""
_KEY_COLS = "proxy, version, dataset, image_dataset, batch_size, num_batches, seed"
_KEY_WHERE = " AND ".join(f"{c.strip()} = ?" for c in _KEY_COLS.split(","))
# Legacy rule (the one place the store names a space): stores written before spaces existed held
# NB201 rows only, under a dataset column without a ``SPACE:`` prefix; NB201 keys still write it so.
LEGACY_SPACE = "nb201"
"""The space of keys whose dataset column holds no ``SPACE:`` prefix (every store written before)."""


@dataclass(frozen=True, order=True)
class ScoreKey:
    """Everything besides the cell that changes a score. ``image_dataset`` is ``'none'`` for runs on
    data-free (seeded Gaussian) batches."""

    proxy: str
    dataset: str
    image_dataset: str
    batch_size: int
    num_batches: int
    seed: int
    version: str = "1"
    space: str = field(kw_only=True)
    """Registry name of the search space whose networks were scored (required, keyword-only)."""

    @property
    def dataset_field(self) -> str:
        """The stored ``dataset`` column: the task for NB201, ``SPACE:TASK`` for other spaces."""
        return self.dataset if self.space == LEGACY_SPACE else f"{self.space}:{self.dataset}"

    @staticmethod
    def split_dataset_field(value: str) -> tuple[str, str]:
        """``(space, dataset)`` of a stored ``dataset`` column (inverse of :attr:`dataset_field`)."""
        space, sep, dataset = value.partition(":")
        return (space, dataset) if sep else (LEGACY_SPACE, value)

    def _params(self) -> tuple:
        return (
            self.proxy,
            self.version,
            self.dataset_field,
            self.image_dataset,
            int(self.batch_size),
            int(self.num_batches),
            int(self.seed),
        )

    def describe(self) -> str:
        return ", ".join(f"{f.name}={v!r}" for f, v in zip(fields(self), astuple(self)))


def _arch_index(a: Any) -> int:
    """The index of an arch of any space (``arch.index``), or an index given as an int."""
    return int(a) if isinstance(a, int) or not hasattr(a, "index") else int(a.index)


@functools.lru_cache(maxsize=1 << 16)
def _arch_string(a: Any) -> str:
    """``str(a)`` (the arch's benchmark string), cached: formatting is most of ``put_many``'s Python
    time on big imports."""
    return str(a)


class ScoreStore:
    """A SQLite score cache at ``path`` (created with its parent folders when missing)."""

    def __init__(self, path: str | os.PathLike[str], timeout: float = 60.0):
        self.path = Path(path)
        self.timeout = float(timeout)
        self._conn: sqlite3.Connection | None = None
        self._pid: int | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _store_error(self.path, "create the folder of", exc) from exc
        self._connect()

    # ------------------------------------------------------------------ connection
    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        try:
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                log.warning("score store %s: journal mode is %s, not WAL (file system without shared memory?)",
                            self.path, mode)
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute(_SCHEMA)
        except sqlite3.Error as exc:
            raise _store_error(self.path, "open", exc) from exc
        self._conn, self._pid = conn, os.getpid()
        return conn

    def close(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None

    def __enter__(self) -> ScoreStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict:
        return {"path": self.path, "timeout": self.timeout}

    def __setstate__(self, state: dict) -> None:
        self.path, self.timeout = state["path"], state["timeout"]
        self._conn, self._pid = None, None

    def __repr__(self) -> str:
        return f"ScoreStore({str(self.path)!r})"

    # ------------------------------------------------------------------ reading
    def get_many(
        self, key: ScoreKey, archs: Iterable[Any], with_seconds: bool = False
    ) -> dict[int, float] | dict[int, tuple[float, float]]:
        """Stored values of those ``archs`` (archs of ``key.space`` or indices) in the store, by index.

        With ``with_seconds`` the values are ``(value, seconds)`` pairs. NULL (a NaN score) reads NaN.
        """
        wanted = sorted({_arch_index(a) for a in archs})
        conn = self._connect()
        out: dict = {}
        chunk = 500
        for i in range(0, len(wanted), chunk):
            part = wanted[i : i + chunk]
            try:
                rows = conn.execute(
                    f"SELECT arch_index, value, seconds FROM scores WHERE {_KEY_WHERE} "
                    f"AND arch_index IN ({','.join('?' * len(part))})",
                    (*key._params(), *part),
                ).fetchall()
            except sqlite3.Error as exc:
                raise _store_error(self.path, "read", exc) from exc
            for idx, value, secs in rows:
                v = math.nan if value is None else float(value)
                out[int(idx)] = (v, math.nan if secs is None else float(secs)) if with_seconds else v
        return out

    def count(self, key: ScoreKey) -> int:
        conn = self._connect()
        try:
            return int(conn.execute(f"SELECT COUNT(*) FROM scores WHERE {_KEY_WHERE}", key._params()).fetchone()[0])
        except sqlite3.Error as exc:
            raise _store_error(self.path, "read", exc) from exc

    def keys(self) -> list[ScoreKey]:
        """Every setting with at least one stored score."""
        conn = self._connect()
        try:
            rows = conn.execute(f"SELECT DISTINCT {_KEY_COLS} FROM scores ORDER BY {_KEY_COLS}").fetchall()
        except sqlite3.Error as exc:
            raise _store_error(self.path, "read", exc) from exc
        out = []
        for p, v, d, i, b, n, s in rows:
            space, dataset = ScoreKey.split_dataset_field(d)
            out.append(ScoreKey(proxy=p, version=v, dataset=dataset, image_dataset=i, batch_size=b,
                                num_batches=n, seed=s, space=space))
        return out

    # ------------------------------------------------------------------ writing
    def put_many(self, key: ScoreKey, items: Sequence[tuple[Any, float, float]]) -> int:
        """Store ``(arch, value, seconds)`` rows (archs of ``key.space``; ``str(arch)`` is its
        benchmark string) in one transaction; rows already stored are kept.

        Returns the number of new rows.
        """
        if not items:
            return 0
        now = time.time()
        kp = key._params()
        params = [
            (*kp, a.index, _arch_string(a), None if math.isnan(v) else float(v), float(s), now)
            for a, v, s in items
        ]
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                before = conn.total_changes
                conn.executemany(
                    "INSERT OR IGNORE INTO scores (proxy, version, dataset, image_dataset, batch_size, "
                    "num_batches, seed, arch_index, arch, value, seconds, created) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    params,
                )
                added = conn.total_changes - before
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise _store_error(self.path, "write to", exc) from exc
        return added

    def rescue(self, key: ScoreKey, items: Sequence[tuple[Any, float, float]]) -> Path | None:
        """Write ``items`` to a fresh store next to this one (``<name>.rescued-<time>.sqlite``), or in
        the current folder when that is not writable; returns its path (None if nothing could be
        written). For a run whose store turned out damaged: the scores it computed are kept."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for folder in (self.path.parent, Path.cwd()):
            target = folder / f"{self.path.stem}.rescued-{stamp}-{os.getpid()}.sqlite"
            try:
                with ScoreStore(target) as fresh:
                    fresh.put_many(key, items)
                return target
            except (StoreError, OSError) as exc:
                log.error("could not write the rescued scores to %s: %s", target, exc)
        return None

    def delete(self, key: ScoreKey) -> int:
        """Remove every row of ``key``; returns how many."""
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            n = conn.execute(f"DELETE FROM scores WHERE {_KEY_WHERE}", key._params()).rowcount
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return int(n)

    # ------------------------------------------------------------------ export
    def to_csv(self, path: str | os.PathLike[str], key: ScoreKey) -> int:
        """Write ``key``'s rows (``index, arch, value, seconds``; NaN as empty) in nasearch's internal
        order; ``index`` is the official index (:meth:`SearchSpace.official_index`, NB201's own).

        Values are the raw stored ones (no never-preferred policy). Returns the number of rows.
        """
        from nasearch.space.base import get_space

        space = get_space(key.space, where=f"score store {self.path}")
        conn = self._connect()
        rows = conn.execute(
            f"SELECT arch_index, arch, value, seconds FROM scores WHERE {_KEY_WHERE} ORDER BY arch_index",
            key._params(),
        ).fetchall()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["index", "arch", "value", "seconds"])
            for idx, arch, value, secs in rows:
                official = space.official_index(space.from_index(int(idx)))
                w.writerow([official, arch, "" if value is None else repr(float(value)), "" if secs is None else secs])
        return len(rows)


def default_store_path() -> Path:
    """The score store used when no path is given (``proxy.store``, ``--store``):
    ``$NASEARCH_CACHE/scores.sqlite``, else ``~/.cache/nasearch/scores.sqlite``."""
    root = os.environ.get("NASEARCH_CACHE")
    if root:
        return Path(root) / "scores.sqlite"
    return Path.home() / ".cache" / "nasearch" / "scores.sqlite"


__all__ = ["ScoreKey", "ScoreStore", "StoreError", "default_store_path"]
