"""Text handles on CSV tables, plain or gzipped: the one place that opens them.

Every table nasearch reads or writes (the NB201 and TransNAS-Bench-101 benchmark tables, score tables)
is UTF-8 CSV, gzipped when its name ends in ``.gz``. :func:`open_text` opens one for the ``csv``
module (``newline=""``); gzip streams are written with ``mtime=0``, so the same rows give the same
bytes. :func:`read_header` reads a table's header and says what is wrong with it.
Callers turn ``OSError`` / ``EOFError`` / ``UnicodeDecodeError`` (``gzip.BadGzipFile`` is an OSError)
into their own errors, naming the file.
"""

from __future__ import annotations

import gzip
import io
import os
from typing import Any


def open_text(path: Any, mode: str = "r") -> io.TextIOBase:
    """``path`` (a filesystem path, or for reading an ``importlib.resources`` traversable) opened as
    UTF-8 text for the ``csv`` module, through gzip when its name ends in ``.gz``; ``mode`` "r" or "w".
    Closing the handle closes the file (except a gzipped traversable's, which gzip cannot own)."""
    if mode not in ("r", "w"):
        raise ValueError(f"open_text mode {mode!r}; accepted: r, w")
    if not path.name.endswith(".gz"):
        return path.open(mode, encoding="utf-8", newline="")
    if isinstance(path, os.PathLike):
        raw = gzip.GzipFile(path, mode + "b", mtime=0)
    else:
        raw = gzip.GzipFile(fileobj=path.open("rb"))
    return io.TextIOWrapper(raw, encoding="utf-8", newline="")


def read_header(reader: Any, columns: tuple[str, ...]) -> str | None:
    """Read the header row of ``reader`` (a ``csv.reader``): None when it is ``columns``, else what is
    wrong ("header [...] does not match the expected columns a, b, ...") for the caller's error."""
    header = next(reader, None)
    if header is None or tuple(header) != columns:
        return f"header {header!r} does not match the expected columns {', '.join(columns)}"
    return None


__all__ = ["open_text", "read_header"]
