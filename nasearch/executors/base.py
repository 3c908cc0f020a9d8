"""Where cells are scored: the executor interface, the job it runs, and the worker-side chunk runner.

The scoring engine (:func:`nasearch.proxies.scoring.score_cells`) splits the cells it has to compute
into chunks and asks an executor to run them; the executor yields each finished chunk's results,
in any order, as they arrive. The driver (the process that called ``score_cells``) is the only
writer of the score store, whatever the executor: a killed driver keeps every result it stored, and
a rerun computes only the missing cells, the same way for every executor.

A :class:`ScoringJob` is everything a worker needs besides the cell indices: the proxy spec, the
dataset whose networks are built, the run's seed, the input size, the minibatches (as numpy arrays,
shipped once per worker by the local pool and once per cluster through Ray's object store), the
device and the number of torch threads. :func:`run_chunk` is the worker side shared by every
executor: it turns the job's arrays into tensors on the job's device once per worker process (cached
by the job's token, not once per cell) and scores the chunk with
:func:`nasearch.proxies.scoring.score_one`.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
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
    spec: Any
    """The :class:`~nasearch.proxies.registry.ProxySpec` (pickled by reference to its function)."""
    dataset: str
    seed: int
    input_size: int
    arrays: tuple[tuple[np.ndarray, np.ndarray], ...]
    """The run's minibatches as (images, labels) numpy arrays."""
    device: str = "cpu"
    """A :func:`nasearch.device.parse_device` string; each worker resolves it where it runs."""
    threads: int | None = 1
    """torch threads in a worker; ``None`` leaves the process's setting alone (in-process scoring)."""
    space: str = "nb201"
    """Registry name of the search space whose cells are scored."""
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
    """Score the cells ``indices`` of ``job`` in this process (the worker side of every executor)."""
    import torch

    from nasearch.proxies.scoring import score_one
    from nasearch.space.base import get_space

    if job.threads is not None and torch.get_num_threads() != job.threads:
        torch.set_num_threads(job.threads)
    device, batches = prepared_batches(job)
    space = get_space(job.space)
    out: ChunkResult = []
    for i in indices:
        v, s = score_one(job.spec, space.from_index(int(i)), job.dataset, batches, job.seed, job.input_size,
                         space, device=device)
        out.append((int(i), v, s))
    return out


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
