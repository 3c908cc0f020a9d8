"""Where cells are scored: the executor interface, the job it runs, and the worker-side chunk runner.

The scoring engine (:func:`nasearch.scoring.score_cells`) splits the cells it has to compute
into chunks and asks an executor to run them; the executor yields each finished chunk's results,
in any order, as they arrive. The driver (the process that called ``score_cells``) is the only
writer of the score store, whatever the executor: a killed driver keeps every result it stored, and
a rerun computes only the missing cells, the same way for every executor.

Executors are generic: they know nothing of proxies, spaces or scores. A :class:`ScoringJob` carries
the worker function it runs (``worker``, a top-level function, pickled by reference: the engine sets
:func:`nasearch.scoring.score_chunk`) and its ``payload`` (the engine's
:class:`~nasearch.scoring.CellScoring`: proxy spec, dataset, seed, input size, space), plus
what every worker needs: the minibatches (as numpy arrays, shipped once per worker by the local pool
and once per cluster through Ray's object store), the device and the number of torch threads.
:func:`run_chunk` is the worker side shared by every executor: it pins the torch threads, turns the
job's arrays into tensors on the job's device once per worker process (cached by the job's token,
not once per cell) and calls ``worker(payload, indices, device, batches)``.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nasearch.errors import NasearchError

ChunkResult = list[tuple[int, float, float]]
"""``(nasearch index, raw value, seconds)`` of every cell of a chunk."""


class ExecutorError(NasearchError):
    """An unknown executor, a bad executor option, or an executor that cannot start (Ray not installed,
    no cluster at the address)."""


@dataclass(frozen=True)
class ScoringJob:
    worker: Callable[[Any, Sequence[int], Any, list], ChunkResult]
    """``worker(payload, indices, device, batches) -> ChunkResult``: scores the cells ``indices`` on
    ``batches`` (tensors already on the torch ``device``). A top-level function, so the job pickles
    to worker processes and Ray tasks by reference."""
    payload: Any
    """Everything else ``worker`` needs (picklable), e.g. the scoring engine's ``CellScoring``."""
    arrays: tuple[tuple[np.ndarray, np.ndarray], ...]
    """The run's minibatches as (images, labels) numpy arrays."""
    device: str = "cpu"
    """A :func:`nasearch.device.parse_device` string; each worker resolves it where it runs."""
    threads: int | None = 1
    """torch threads in a worker; ``None`` leaves the process's setting alone (in-process scoring)."""
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    """Identifies the job in the workers' caches."""


# worker-process state: the job whose tensors are prepared (one at a time)
_PREPARED: dict[str, Any] = {}


def prepared_batches(job: ScoringJob) -> tuple[Any, list]:
    """(torch device, batches on it) of ``job`` in this process: built on the first chunk of the job,
    reused for the next ones (data moves to the device once per worker)."""
    import torch

    from nasearch.device import resolve_device

    if _PREPARED.get("token") != job.token:
        _PREPARED.clear()
        device = resolve_device(job.device, where="the scoring job's device")
        # np.array copies: arrays from Ray's object store are read-only views
        batches = [
            (torch.from_numpy(np.array(x)).to(device), torch.from_numpy(np.array(y)).to(device))
            for x, y in job.arrays
        ]
        _PREPARED.update(token=job.token, device=device, batches=batches)
    return _PREPARED["device"], _PREPARED["batches"]


def run_chunk(job: ScoringJob, indices: Sequence[int]) -> ChunkResult:
    """Run the cells ``indices`` of ``job`` in this process (the worker side of every executor): pin the
    job's torch threads, prepare its batches once per process, call ``job.worker``."""
    import torch

    if job.threads is not None and torch.get_num_threads() != job.threads:
        torch.set_num_threads(job.threads)
    device, batches = prepared_batches(job)
    return job.worker(job.payload, indices, device, batches)


class Executor(ABC):
    """Runs chunks of cells of a :class:`ScoringJob`; yields each chunk's results as it finishes.

    ``remote`` is true for executors whose workers are other processes: the driver then writes the
    store after every finished chunk (an in-process executor's results are flushed in batches).
    """

    name: str = "?"
    remote: bool = True

    @property
    @abstractmethod
    def parallelism(self) -> int:
        """How many chunks run at once (sets the default chunk size)."""

    @abstractmethod
    def map_chunks(self, job: ScoringJob, chunks: Sequence[Sequence[int]]) -> Iterator[ChunkResult]:
        """Run every chunk; yield results in completion order. Closing the iterator early (an error
        or ^C in the driver) cancels the chunks not started."""

    def threads_per_worker(self) -> int | None:
        return 1

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release workers or the runtime this executor started."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["ChunkResult", "Executor", "ExecutorError", "ScoringJob", "prepared_batches", "run_chunk"]
