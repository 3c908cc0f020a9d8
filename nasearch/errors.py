"""The one root of nasearch's exceptions.

Every error nasearch raises for bad input (an unknown name, a malformed string, a missing or corrupt
file, an impossible budget, settings that differ from an output folder's) is a
:class:`NasearchError`, whose message names the value, what is accepted and where the value came
from. The CLI catches this root (and ``OSError``, whose message names the path) and prints one
paragraph; Python callers can catch it the same way. It subclasses ``ValueError`` so code written
against the earlier per-module classes keeps working.
"""

from __future__ import annotations


class NasearchError(ValueError):
    """Bad input to nasearch; the message says which value, what is accepted and where it came from."""


__all__ = ["NasearchError"]
