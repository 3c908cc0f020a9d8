"""Portable score tables: move stored proxy scores between stores, machines and sessions.

``export_scores`` writes every stored score of one setting (or of all settings) to a CSV, gzipped
when the name ends in ``.gz``, with the full :class:`~nasearch.proxies.store.ScoreKey` on every row:
``proxy, version, dataset, image_dataset, batch_size, num_batches, seed, index, arch, value,
seconds``. Values are raw (as the proxy returned them; NaN is empty). ``import_scores`` reads such a
file into a store (rows already there are kept), so a score table computed in pieces, on several
machines or across sessions, adds up; ``nasearch task=score`` then computes only what is missing.
The write is atomic (temp file + rename).
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import os
from pathlib import Path

from nasearch.proxies.registry import ProxyError
from nasearch.proxies.store import ScoreKey, ScoreStore
from nasearch.space.arch import Arch, ArchError

FIELDS = (
    "proxy",
    "version",
    "dataset",
    "image_dataset",
    "batch_size",
    "num_batches",
    "seed",
    "index",
    "arch",
    "value",
    "seconds",
)


def _open(path: Path, mode: str) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.GzipFile(path, mode[0] + "b", mtime=0), encoding="utf-8", newline="")
    return open(path, mode, encoding="utf-8", newline="")


def export_scores(store: ScoreStore, path: str | os.PathLike[str], keys: list[ScoreKey] | None = None) -> int:
    """Write the stored scores of ``keys`` (default: every setting in the store); returns the row count."""
    path = Path(path)
    keys = store.keys() if keys is None else keys
    tmp = path.with_name(path.name + ".tmp" + "".join(path.suffixes[-1:]))
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with _open(tmp, "w") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(FIELDS)
        for key in keys:
            stored = store.get_many(key, range(15625), with_seconds=True)
            for idx in sorted(stored):
                value, secs = stored[idx]  # type: ignore[misc]
                w.writerow(
                    [key.proxy, key.version, key.dataset, key.image_dataset, key.batch_size, key.num_batches,
                     key.seed, idx, Arch.from_index(idx).to_string(), "" if math.isnan(value) else repr(value),
                     "" if math.isnan(secs) else repr(secs)]
                )
                n += 1
    os.replace(tmp, path)
    return n


def read_scores(path: str | os.PathLike[str]) -> dict[ScoreKey, list[tuple[Arch, float, float]]]:
    """The rows of a score table grouped by setting: ``{key: [(arch, value, seconds), ...]}``."""
    path = Path(path)
    if not path.is_file():
        raise ProxyError(f"score table {str(path)!r} not found: expected a CSV written by `nasearch scores export`")
    groups: dict[ScoreKey, list[tuple[Arch, float, float]]] = {}
    with _open(path, "r") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != FIELDS:
            raise ProxyError(
                f"malformed score table {str(path)!r}: columns {reader.fieldnames} do not match {', '.join(FIELDS)}"
            )
        for line, r in enumerate(reader, start=2):
            try:
                key = ScoreKey(proxy=r["proxy"], version=r["version"], dataset=r["dataset"],
                               image_dataset=r["image_dataset"], batch_size=int(r["batch_size"]),
                               num_batches=int(r["num_batches"]), seed=int(r["seed"]))
                arch = Arch.from_string(r["arch"])
                if arch.index != int(r["index"]):
                    raise ValueError(f"index {r['index']} does not belong to {r['arch']} (nasearch index {arch.index})")
                value = float(r["value"]) if r["value"] else math.nan
                secs = float(r["seconds"]) if r["seconds"] else math.nan
            except (ArchError, ValueError, KeyError) as exc:
                raise ProxyError(f"malformed score table {str(path)!r} line {line}: {exc}") from exc
            groups.setdefault(key, []).append((arch, value, secs))
    return groups


def import_scores(store: ScoreStore, path: str | os.PathLike[str]) -> int:
    """Add the rows of a score table to ``store``; returns how many were new."""
    groups = read_scores(path)
    return sum(store.put_many(key, items) for key, items in groups.items())
