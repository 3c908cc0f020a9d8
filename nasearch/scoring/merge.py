"""Merge score stores (and exported score tables) into one, idempotently and with conflict checks.

Jobs on different machines must not share one SQLite file over a network file system; instead each
job writes its own store (``task=score score.shard=i score.shards=n proxy.store=shard_i.sqlite``) or
export, and :func:`merge_stores` (``nasearch scores merge A B ... --into C``) puts them together:

* a row of a source whose (setting, cell) is not in the target is added;
* a row already in the target with an equal value is kept once (merging twice changes nothing);
  values are equal when SQLite compares them equal, or both are NaN (stored as NULL). SQLite keeps
  IEEE doubles, so this is bitwise equality except that it does not keep the sign of a zero;
* a row whose value differs is a conflict: nothing of that source is written and
  :class:`MergeConflict` names the setting (:class:`~nasearch.scoring.store.ScoreKey`), the cell, both
  values and both files. The compute ``seconds`` and ``created`` columns may differ; they are not
  compared (the target keeps its own).

A source is a SQLite store, or a CSV table written by ``nasearch scores export`` (``.csv`` or
``.csv.gz``, read with :func:`nasearch.scoring.tables.read_scores`). The target is a store; a target
named ``*.csv`` / ``*.csv.gz`` is built as a store next to it and exported at the end (atomically).

Each source is merged in one transaction with SQL over an ``ATTACH``-ed database: the conflict check
is a join on the table's primary key (the lookup index of the store), the copy one
``INSERT OR IGNORE ... SELECT``. The schema of the store is unchanged.
"""

from __future__ import annotations

import logging
import math
import os
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from nasearch.proxies.registry import ProxyError
from nasearch.scoring.store import ScoreKey, ScoreStore

log = logging.getLogger(__name__)

_KEY = ("proxy", "version", "dataset", "image_dataset", "batch_size", "num_batches", "seed")
_COLS = (*_KEY, "arch_index", "arch", "value", "seconds", "created")


class MergeConflict(ProxyError):
    """Two sources hold different values for the same setting and cell."""


@dataclass
class MergeReport:
    sources: int = 0
    rows_read: int = 0
    rows_added: int = 0

    @property
    def rows_kept_once(self) -> int:
        return self.rows_read - self.rows_added


def _is_table(path: Path) -> bool:
    return path.name.endswith((".csv", ".csv.gz"))


def _table_to_store(path: Path, tmpdir: str) -> Path:
    from nasearch.scoring.tables import read_scores

    out = Path(tmpdir) / (path.name.replace(".", "_") + ".sqlite")
    with ScoreStore(out) as store:
        for key, items in read_scores(path).items():
            store.put_many(key, items)
    return out


def _fmt(v: float | None) -> str:
    return "NaN" if v is None else repr(float(v))


def _merge_one(conn: sqlite3.Connection, source: Path, label: str, into: Path) -> tuple[int, int]:
    try:
        conn.execute("ATTACH DATABASE ? AS src", (str(source),))
        tables = {r[0] for r in conn.execute("SELECT name FROM src.sqlite_master WHERE type='table'")}
        if "scores" not in tables:
            raise ProxyError(f"{label} is not a nasearch score store (no 'scores' table)")
        conn.execute("BEGIN IMMEDIATE")
        try:
            on = " AND ".join(f"s.{c} = d.{c}" for c in (*_KEY, "arch_index"))
            bad = conn.execute(
                f"SELECT {', '.join('s.' + c for c in _KEY)}, s.arch_index, s.arch, s.value, d.value "
                f"FROM src.scores AS s JOIN main.scores AS d ON {on} WHERE s.value IS NOT d.value LIMIT 6"
            ).fetchall()
            if bad:
                first = bad[0]
                space, dataset = ScoreKey.split_dataset_field(first[2])
                key = ScoreKey(proxy=first[0], version=first[1], dataset=dataset, image_dataset=first[3],
                               batch_size=first[4], num_batches=first[5], seed=first[6], space=space)
                more = f" (and {len(bad) - 1}{'+' if len(bad) > 5 else ''} more)" if len(bad) > 1 else ""
                raise MergeConflict(
                    f"conflicting scores: {label} has {_fmt(first[9])} for cell {first[7]} {first[8]} under "
                    f"{key.describe()}, but {into} already holds {_fmt(first[10])}{more}; nothing of {label} "
                    "was merged. Scores of one setting must not differ between stores: check the two runs' "
                    "code versions and devices"
                )
            n_read = int(conn.execute("SELECT COUNT(*) FROM src.scores").fetchone()[0])
            before = conn.total_changes
            conn.execute(f"INSERT OR IGNORE INTO main.scores ({', '.join(_COLS)}) "
                         f"SELECT {', '.join(_COLS)} FROM src.scores")
            added = conn.total_changes - before
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    except sqlite3.DatabaseError as exc:
        raise ProxyError(f"cannot read {label} as a score store: {exc}") from exc
    finally:
        if any(row[1] == "src" for row in conn.execute("PRAGMA database_list")):
            conn.execute("DETACH DATABASE src")
    return n_read, added


def merge_stores(sources: list[str | os.PathLike[str]], into: str | os.PathLike[str]) -> MergeReport:
    """Merge every source (stores or score tables) into the store ``into`` (created when missing).

    Idempotent; raises :class:`MergeConflict` naming the setting and the cell on differing values
    (the sources merged before the conflicting one stay merged; a rerun after fixing resumes)."""
    target = Path(into)
    paths = [Path(s) for s in sources]
    if not paths:
        raise ProxyError("nasearch scores merge needs at least one source store or table")
    for p in paths:
        if not p.is_file():
            raise ProxyError(f"score store or table {str(p)!r} not found (a source of the merge)")
        if p.resolve() == target.resolve():
            raise ProxyError(f"cannot merge {str(p)!r} into itself")
    report = MergeReport()
    with tempfile.TemporaryDirectory(prefix="nasearch-merge-") as tmp:
        store_path = Path(tmp) / "into.sqlite" if _is_table(target) else target
        if _is_table(target) and target.is_file():
            paths = [target, *paths]  # an existing table target takes part like a source
        with ScoreStore(store_path) as store:
            conn = store._connect()
            for p in paths:
                src = _table_to_store(p, tmp) if _is_table(p) else p
                n, added = _merge_one(conn, src, str(p), target)
                report.sources += 1
                report.rows_read += n
                report.rows_added += added
                log.info("merged %s: %d rows, %d new", p, n, added)
            if _is_table(target):
                from nasearch.scoring.tables import export_scores

                export_scores(store, target)
    return report


def values_equal(a: float, b: float) -> bool:
    """The merge's notion of equal values: equal floats, or both NaN."""
    return (math.isnan(a) and math.isnan(b)) or a == b


__all__ = ["MergeConflict", "MergeReport", "merge_stores", "values_equal"]
