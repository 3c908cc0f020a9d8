"""On-disk score cache: one SQLite file holding proxy scores of cells, keyed by every setting that
changes a score.

A row is one cell scored under one :class:`ScoreKey` (proxy, proxy code version, dataset whose
network was built, image dataset the batches came from, batch size, number of batches, seed) plus
the cell's nasearch index (and its NB201 string, for people reading the table), the raw value the
proxy returned and the seconds it took.

Values are stored as the proxy returned them: ``+inf`` / ``-inf`` round-trip through SQLite's REAL,
NaN is stored as NULL and read back as NaN. The never-preferred policy of
:mod:`nasearch.proxies.scoring` is applied on read, so a cached run and a fresh one agree.

Concurrency: WAL journal, a busy timeout, and every write is one short ``BEGIN IMMEDIATE`` ...
``COMMIT`` transaction of ``INSERT OR IGNORE`` rows, so several processes may write one store at
once without losing rows, and a killed writer keeps every transaction it committed. Scores are
deterministic, so when two runs compute the same cell the first row stays. A store opens its
connection lazily in the process that uses it, so a ``ScoreStore`` may be passed to other processes.
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
from dataclasses import astuple, dataclass, fields
from pathlib import Path

from nasearch.space.arch import Arch

log = logging.getLogger(__name__)

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

    def _params(self) -> tuple:
        return (
            self.proxy,
            self.version,
            self.dataset,
            self.image_dataset,
            int(self.batch_size),
            int(self.num_batches),
            int(self.seed),
        )

    def describe(self) -> str:
        return ", ".join(f"{f.name}={v!r}" for f, v in zip(fields(self), astuple(self)))


@functools.lru_cache(maxsize=1 << 16)
def _arch_string(a: Arch) -> str:
    """``a.to_string()``, cached: formatting is most of ``put_many``'s Python time on big imports."""
    return a.to_string()


def _arch_index(a: Arch | int) -> int:
    return a.index if isinstance(a, Arch) else int(a)


class ScoreStore:
    """A SQLite score cache at ``path`` (created with its parent folders when missing)."""

    def __init__(self, path: str | os.PathLike[str], timeout: float = 60.0):
        self.path = Path(path)
        self.timeout = float(timeout)
        self._conn: sqlite3.Connection | None = None
        self._pid: int | None = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
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
        except sqlite3.DatabaseError as exc:
            raise sqlite3.DatabaseError(
                f"cannot open score store {self.path} ({exc}); expected a SQLite file written by "
                "nasearch.proxies.store.ScoreStore, or a path where one can be created"
            ) from exc
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
        self, key: ScoreKey, archs: Iterable[Arch | int], with_seconds: bool = False
    ) -> dict[int, float] | dict[int, tuple[float, float]]:
        """Stored values of those ``archs`` (Arch or nasearch index) that are in the store, by index.

        With ``with_seconds`` the values are ``(value, seconds)`` pairs. NULL (a NaN score) reads NaN.
        """
        wanted = sorted({_arch_index(a) for a in archs})
        conn = self._connect()
        out: dict = {}
        chunk = 500
        for i in range(0, len(wanted), chunk):
            part = wanted[i : i + chunk]
            rows = conn.execute(
                f"SELECT arch_index, value, seconds FROM scores WHERE {_KEY_WHERE} "
                f"AND arch_index IN ({','.join('?' * len(part))})",
                (*key._params(), *part),
            ).fetchall()
            for idx, value, secs in rows:
                v = math.nan if value is None else float(value)
                out[int(idx)] = (v, math.nan if secs is None else float(secs)) if with_seconds else v
        return out

    def count(self, key: ScoreKey) -> int:
        conn = self._connect()
        return int(conn.execute(f"SELECT COUNT(*) FROM scores WHERE {_KEY_WHERE}", key._params()).fetchone()[0])

    def keys(self) -> list[ScoreKey]:
        """Every setting with at least one stored score."""
        conn = self._connect()
        rows = conn.execute(f"SELECT DISTINCT {_KEY_COLS} FROM scores ORDER BY {_KEY_COLS}").fetchall()
        return [
            ScoreKey(proxy=p, version=v, dataset=d, image_dataset=i, batch_size=b, num_batches=n, seed=s)
            for p, v, d, i, b, n, s in rows
        ]

    # ------------------------------------------------------------------ writing
    def put_many(self, key: ScoreKey, items: Sequence[tuple[Arch, float, float]]) -> int:
        """Store ``(arch, value, seconds)`` rows in one transaction; rows already stored are kept.

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
            conn.execute("ROLLBACK")
            raise
        return added

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
        """Write ``key``'s rows (``index, arch, value, seconds``; NaN as empty) sorted by index.

        Values are the raw stored ones (no never-preferred policy). Returns the number of rows.
        """
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
                w.writerow([idx, arch, "" if value is None else repr(float(value)), "" if secs is None else secs])
        return len(rows)


__all__ = ["ScoreKey", "ScoreStore"]
