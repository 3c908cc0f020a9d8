"""Restricted unpickling of the data files nasearch reads (CIFAR, ImageNet16, NATS-Bench).

A pickle can name any importable callable (``os.system``, ``builtins.eval``) and have the unpickler
call it; :func:`load` resolves only the globals of an explicit allow-list and refuses every other one
with :class:`RefusedGlobal` *before* anything is called, so a malicious file runs nothing. The
allow-lists hold exactly what the official files need:

* :data:`NUMPY_ARRAYS` (CIFAR-10/100, ImageNet16 batches): ``numpy.ndarray``, ``numpy.dtype`` and
  numpy's array and scalar reconstructors (``numpy.core.multiarray._reconstruct`` / ``scalar``, also
  under numpy 2's ``numpy._core``), plus ``_codecs.encode`` (how Python 3 writes ``bytes`` into a
  protocol-2 pickle). Dicts, lists, str, bytes, ints and floats need no global at all.
* :data:`NATS_BENCH` (NATS-Bench ``*.pickle.pbz2``): the above plus ``collections.OrderedDict``.

The standard library's ``pickle.Unpickler.find_class`` override is the documented way to restrict
globals ("Restricting Globals" in the ``pickle`` docs); torch's ``weights_only`` loader does the same
for torch files but reads only torch's own format, hence this module.
"""

from __future__ import annotations

import codecs
import collections
import pickle
from collections.abc import Mapping
from typing import IO, Any

import numpy as np


class RefusedGlobal(pickle.UnpicklingError):
    """The pickle names a global outside the allow-list (nothing has been called)."""

    def __init__(self, module: str, name: str):
        super().__init__(f"it would import {module}.{name}, which is not allowed in this file")
        self.module, self.name = module, name


def _multiarray() -> Any:
    try:
        from numpy._core import multiarray  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy < 2
        from numpy.core import multiarray  # type: ignore[no-redef]
    return multiarray


def _numpy_arrays() -> dict[tuple[str, str], Any]:
    ma = _multiarray()
    out: dict[tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
                                       ("_codecs", "encode"): codecs.encode}
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        out[(mod, "_reconstruct")] = ma._reconstruct
        out[(mod, "scalar")] = ma.scalar
    return out


NUMPY_ARRAYS: Mapping[tuple[str, str], Any] = _numpy_arrays()
NATS_BENCH: Mapping[tuple[str, str], Any] = {**NUMPY_ARRAYS, ("collections", "OrderedDict"): collections.OrderedDict}


class _Unpickler(pickle.Unpickler):
    def __init__(self, fh: IO[bytes], allowed: Mapping[tuple[str, str], Any], **kw: Any):
        super().__init__(fh, **kw)
        self._allowed = allowed

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise RefusedGlobal(module, name) from None


def load(fh: IO[bytes], allowed: Mapping[tuple[str, str], Any], *, encoding: str = "ASCII") -> Any:
    """``pickle.load(fh)`` admitting only the globals in ``allowed`` (:class:`RefusedGlobal` otherwise)."""
    return _Unpickler(fh, allowed, encoding=encoding).load()


__all__ = ["NATS_BENCH", "NUMPY_ARRAYS", "RefusedGlobal", "load"]
