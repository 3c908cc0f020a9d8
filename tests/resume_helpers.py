"""Shared by the kill-and-resume tests (tests/unit/test_scoring.py, tests/contract/test_executors.py)."""

from __future__ import annotations

import subprocess
import time


def kill_once_stored(proc: subprocess.Popen, store, key, rows: int, seconds: float, what: str,
                     poll: float = 0.05) -> int:
    """Wait until ``store`` holds ``rows`` rows of ``key`` while ``proc`` (``what``, e.g. "the driver")
    still runs, then SIGKILL it; returns the rows stored. Fails when ``proc`` ends first or nothing
    arrives within ``seconds``."""
    deadline = time.monotonic() + seconds
    try:
        while store.count(key) < rows:
            assert proc.poll() is None, f"{what} ended before it was killed"
            assert time.monotonic() < deadline, f"{what} stored nothing in {seconds} s"
            time.sleep(poll)
    finally:
        proc.kill()
        proc.wait()
    return store.count(key)
