"""Data embedded in the package, so nasearch runs with no data folder. Read with ``importlib.resources``.

Laid out like a ``$NASEARCH_DATA`` folder, so one relative path names a file in either place (the
user's folder, when it holds the file, wins):

* ``nb201/nb201.csv.gz``: the NAS-Bench-201 table (all 15,625 cells x CIFAR-10, CIFAR-100,
  ImageNet16-120; NATS-Bench / NAS-Bench-201 figures, MIT-licensed releases), read by
  :mod:`nasearch.benchmarks.table` when neither ``benchmark.path`` nor ``$NASEARCH_DATA`` gives one;
* ``nasbench_macro/nas-bench-macro_cifar10.json``: NAS-Bench-Macro as its authors publish it
  (Apache-2.0), read by :mod:`nasearch.benchmarks.nasbench_macro`;
* ``transnas101/tnb101_final_valid.csv.gz``: TransNAS-Bench-101's final-epoch validation metrics
  (MIT), read by :mod:`nasearch.benchmarks.transnas101`;
* ``scores/*.csv.gz``: proxy score tables this project computed (``nasearch scores export`` format),
  read-only beneath the user's score store by :mod:`nasearch.scoring.shipped`.

``DATA.md`` states where each file comes from and under which licence. Nothing writes here.

:func:`resolve_data_file` is the one rule every benchmark reader follows: an explicit path wins, then
the same relative path under ``$NASEARCH_DATA``, then the embedded copy.
"""

from __future__ import annotations

import logging
import os
from importlib import resources
from pathlib import Path, PurePosixPath

from nasearch.errors import NasearchError

log = logging.getLogger(__name__)


class EmbeddedDataError(NasearchError):
    """A data file that neither the user nor the package provides (or a NASEARCH_DATA that is no folder)."""


def embedded_file(relpath: str | PurePosixPath):
    """The embedded copy of ``relpath`` (a ``Traversable``; a real file in a normal install)."""
    return resources.files(__name__).joinpath(*PurePosixPath(relpath).parts)


def resolve_data_file(relpath: str | PurePosixPath, path: str | os.PathLike[str] | None = None, *,
                      what: str, where: str = ""):
    """The file to read for ``relpath`` (e.g. ``nasbench_macro/nas-bench-macro_cifar10.json``):
    ``path`` if given (returned as given: the reader reports a missing file with its own layout
    hint), else ``$NASEARCH_DATA/relpath`` when that file exists, else the embedded copy. A
    ``NASEARCH_DATA`` that is not a folder is an error naming it (a typo must not silently fall back).
    ``what`` names the file in messages ("the NAS-Bench-Macro JSON"); ``where`` says where the request
    came from."""
    rel = PurePosixPath(relpath)
    at = f" ({where})" if where else ""
    if path:
        return Path(path)
    root = os.environ.get("NASEARCH_DATA")
    if root:
        user = Path(root).joinpath(*rel.parts)
        if user.is_file():
            return user
        if not Path(root).is_dir():
            raise EmbeddedDataError(
                f"NASEARCH_DATA={root!r} is not a folder (looked there for {what}, {str(user)!r}){at}: point "
                f"NASEARCH_DATA at a folder (a {rel} in it is read instead of the copy embedded in the "
                "package), or unset it to use the embedded copy"
            )
        log.info("no %s at %s ($NASEARCH_DATA); using the copy embedded in the package", what, user)
    emb = embedded_file(rel)
    if not emb.is_file():
        raise EmbeddedDataError(
            f"{what} embedded in the package is missing ({emb}){at}: reinstall nasearch, or set NASEARCH_DATA "
            f"to a folder holding {rel}, or benchmark.path=FILE"
        )
    return emb


__all__ = ["EmbeddedDataError", "embedded_file", "resolve_data_file"]
