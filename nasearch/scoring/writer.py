"""The driver's store writer: computed scores go into the store in short transactions as they
arrive, so a killed run keeps its work and a rerun resumes.

Only the driver (the process that called the engine) writes; workers return values. Scores are
written every ``flush_every`` cells or every :data:`FLUSH_SECONDS`, after every chunk when the
executor is remote, and when the run ends or fails. If the store breaks mid-run, every score the run
computed is rescued into a fresh store file, which the error names.
"""

from __future__ import annotations

import time
from typing import Any

from nasearch.scoring.store import ScoreKey, ScoreStore, StoreError

FLUSH_SECONDS = 5.0
"""The longest time computed scores wait in memory before they are written."""


class StoreWriter:
    """Buffers ``(arch, value, seconds)`` rows of one run and writes them to ``store`` (``None``: keep
    nothing; the run is still computed)."""

    def __init__(self, store: ScoreStore | None, key: ScoreKey, flush_every: int, *, every_chunk: bool = False):
        self.store = store
        self.key = key
        self.flush_every = flush_every
        self.every_chunk = every_chunk
        self.pending: list[tuple[Any, float, float]] = []
        self.done: list[tuple[Any, float, float]] = []  # every score computed here (rescued if the store breaks)
        self.last_flush = time.monotonic()

    def add(self, arch: Any, value: float, seconds: float) -> None:
        row = (arch, value, seconds)
        self.pending.append(row)
        self.done.append(row)

    def chunk_done(self) -> None:
        """Called after each finished chunk: write if the buffer is due."""
        if (self.every_chunk or len(self.pending) >= self.flush_every
                or time.monotonic() - self.last_flush > FLUSH_SECONDS):
            self.flush()

    def flush(self) -> None:
        if self.store is not None and self.pending:
            try:
                self.store.put_many(self.key, self.pending)
            except StoreError as exc:
                broken, self.store = self.store, None
                self.pending.clear()
                kept = broken.rescue(self.key, self.done)
                raise StoreError(
                    f"{exc}. The {len(self.done)} scores this run computed were "
                    + (f"saved to a fresh store {str(kept)!r}; use it (proxy.store=...) or move the damaged file "
                       "away and rerun" if kept else "not saved anywhere (no writable folder)"),
                    broken.path,
                ) from exc
        self.pending.clear()
        self.last_flush = time.monotonic()


__all__ = ["FLUSH_SECONDS", "StoreWriter"]
