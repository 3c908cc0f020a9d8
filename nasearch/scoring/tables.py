"""Portable score tables: move stored proxy scores between stores, machines and sessions.

``export_scores`` writes every stored score of one setting (or of all settings) to a CSV, gzipped
when the name ends in ``.gz``, with the full :class:`~nasearch.scoring.store.ScoreKey` on every row:
``proxy, version, dataset, image_dataset, batch_size, num_batches, seed, index, arch, value,
seconds``. Values are raw (as the proxy returned them; NaN is empty). ``import_scores`` reads such a
file into a store (rows already there are kept), so a score table computed in pieces, on several
machines or across sessions, adds up; ``nasearch task=score`` then computes only what is missing.
The write is atomic (temp file + rename).

Search spaces: the ``dataset`` column holds the task alone for NB201 (as every table written before
spaces existed, e.g. ``experiments/score_tables/``) and ``SPACE:TASK`` for other spaces, as in the
store (:attr:`~nasearch.scoring.store.ScoreKey.dataset_field`); ``arch`` is the benchmark string in
that space, parsed by the space on import, and ``index`` the arch's *official* index
(:meth:`SearchSpace.official_index <nasearch.space.base.SearchSpace.official_index>`: NB201's /
NATS-Bench's own index for NB201, the space's enumeration elsewhere). Rows are written in nasearch's
internal order (``arch.index``, the store's key).

Tables written before the official index was used (the NB201 tables of ``experiments/``) hold
nasearch's internal ordinal in ``index``; :class:`IndexColumn` reads both: the ``arch`` column is
trusted, a file's numbering is recognised from its rows, and an index that is neither numbering of
its row's arch is an error naming the file and line.
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
from pathlib import Path

from nasearch.csvio import open_text
from nasearch.proxies.registry import ProxyError
from nasearch.scoring.store import ScoreKey, ScoreStore
from nasearch.space.base import ArchError, get_space

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


_PARSED: dict[tuple[str, str], tuple] = {}
"""(space, arch string) -> (arch, official index, nasearch ordinal): tables repeat the same strings."""


class IndexColumn:
    """Reads the ``index`` column of one score table, old or new.

    Since issue 34 every table writes the official index (:meth:`SearchSpace.official_index`); older
    NB201 tables wrote nasearch's internal ordinal (``arch.index``). :meth:`arch` trusts the row's
    ``arch`` string and checks its ``index`` against both numberings: a file uses one of them
    throughout (recognised from its first row where they differ), and an index that is neither (or
    the other numbering after the file's was recognised) is a ``ValueError`` for the caller to name
    with the file and line. ``convention`` is "official", "nasearch" or None (not yet told apart)."""

    def __init__(self, space) -> None:  # noqa: ANN001 - a SearchSpace
        self.space = space
        self.convention: str | None = None
        self._first = 0

    def arch(self, index_text: str, arch_text: str, line: int, where: str = ""):  # noqa: ANN201 - an arch of the space
        """The arch of one row (``line`` of the file; ``where`` names it in a parse error)."""
        space = self.space
        if not isinstance(arch_text, str):
            raise ValueError("the row has no arch")
        hit = _PARSED.get((space.name, arch_text))
        if hit is None:
            arch = space.parse(arch_text, where=f"{where}, column arch" if where else "column arch")
            hit = _PARSED[(space.name, arch_text)] = (arch, space.official_index(arch), arch.index)
        arch, official, own = hit
        try:
            i = int(index_text)
        except (TypeError, ValueError):
            raise ValueError(f"index {index_text!r} is not an integer") from None
        if official == own:
            if i != own:
                raise ValueError(f"index {i} does not belong to {arch_text} ({space.name} index {own})")
            return arch
        found = "official" if i == official else "nasearch" if i == own else None
        if found is None:
            raise ValueError(
                f"index {i} does not belong to {arch_text}: its official {space.name} index is {official} "
                f"(nasearch ordinal {own})"
            )
        if self.convention is None:
            self.convention, self._first = found, line
        elif found != self.convention:
            raise ValueError(
                f"index {i} is the {'nasearch ordinal' if found == 'nasearch' else 'official index'} of {arch_text}, "
                f"but line {self._first} used {'official indices' if self.convention == 'official' else 'nasearch ordinals'}"
                f" (official {official}, nasearch ordinal {own}); a table uses one numbering throughout"
            )
        return arch


def export_scores(store: ScoreStore, path: str | os.PathLike[str], keys: list[ScoreKey] | None = None) -> int:
    """Write the stored scores of ``keys`` (default: every setting in the store); returns the row count."""
    path = Path(path)
    keys = store.keys() if keys is None else keys
    tmp = path.with_name(path.name + ".tmp" + "".join(path.suffixes[-1:]))
    try:
        return _export(store, path, tmp, keys)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise ProxyError(
            f"cannot write score table {str(path)!r} ({type(exc).__name__}: {exc}); give a path in a folder "
            "you can write to"
        ) from exc


def _export(store: ScoreStore, path: Path, tmp: Path, keys: list[ScoreKey]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with open_text(tmp, "w") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(FIELDS)
        for key in keys:
            space = get_space(key.space, where=f"score store {store.path}")
            stored = store.get_many(key, range(space.num_archs), with_seconds=True)
            for idx in sorted(stored):
                value, secs = stored[idx]  # type: ignore[misc]
                w.writerow(
                    [key.proxy, key.version, key.dataset_field, key.image_dataset, key.batch_size,
                     key.num_batches, key.seed, space.official_index(arch := space.from_index(idx)),
                     space.to_string(arch),
                     "" if math.isnan(value) else repr(value),
                     "" if math.isnan(secs) else repr(secs)]
                )
                n += 1
    os.replace(tmp, path)
    return n


def read_scores(path: str | os.PathLike[str]) -> dict[ScoreKey, list[tuple[object, float, float]]]:
    """The rows of a score table grouped by setting: ``{key: [(arch, value, seconds), ...]}``."""
    path = Path(path)
    if not path.is_file():
        raise ProxyError(f"score table {str(path)!r} not found: expected a CSV written by `nasearch scores export`")
    try:
        groups = _read_rows(path)
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as exc:  # BadGzipFile is an OSError
        raise ProxyError(
            f"cannot read score table {str(path)!r} ({type(exc).__name__}: {exc}); expected a CSV (gzipped when "
            f"the name ends in .gz) written by `nasearch scores export`, columns {', '.join(FIELDS)}"
        ) from exc
    return groups


def _read_rows(path: Path) -> dict[ScoreKey, list[tuple[object, float, float]]]:
    groups: dict[ScoreKey, list[tuple[object, float, float]]] = {}
    columns: dict[str, IndexColumn] = {}  # one per space: a file's numbering is told apart per space
    with open_text(path, "r") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != FIELDS:
            raise ProxyError(
                f"malformed score table {str(path)!r}: columns {reader.fieldnames} do not match {', '.join(FIELDS)}"
            )
        for line, r in enumerate(reader, start=2):
            try:
                space_name, dataset = ScoreKey.split_dataset_field(r["dataset"])
                where = f"score table {str(path)!r} line {line}"
                space = get_space(space_name, where=where + ", column dataset")
                space.check_task(dataset, where=where + ", column dataset")
                key = ScoreKey(proxy=r["proxy"], version=r["version"], dataset=dataset,
                               image_dataset=r["image_dataset"], batch_size=int(r["batch_size"]),
                               num_batches=int(r["num_batches"]), seed=int(r["seed"]), space=space.name)
                arch = columns.setdefault(space.name, IndexColumn(space)).arch(r["index"], r["arch"], line, where)
                value = float(r["value"]) if r["value"] else math.nan
                secs = float(r["seconds"]) if r["seconds"] else math.nan
            except (ArchError, ValueError, KeyError, TypeError) as exc:  # TypeError: a short row (None)
                raise ProxyError(f"malformed score table {str(path)!r} line {line}: {exc}") from exc
            groups.setdefault(key, []).append((arch, value, secs))
    return groups


def import_scores(store: ScoreStore, path: str | os.PathLike[str]) -> int:
    """Add the rows of a score table to ``store``; returns how many were new."""
    groups = read_scores(path)
    return sum(store.put_many(key, items) for key, items in groups.items())
