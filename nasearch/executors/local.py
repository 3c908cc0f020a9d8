"""The local executor: the scoring process itself (``workers=1``) or a pool of ``workers`` processes.

With ``workers > 1`` chunks run in a pool from :func:`nasearch.executors.pool.process_pool` (``spawn``,
safe in scripts without a main guard; in-process inside a daemonic worker); each worker
receives the job (minibatches as numpy arrays) once, through the pool's initializer, runs with one
torch thread and moves the batches to the job's device once. Results equal those of ``workers=1``
run with one torch thread (different thread counts may change the last bits of a float).

``workers=1`` runs the cells in the calling process, one at a time, and leaves the caller's torch
thread setting alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait

from nasearch.executors.base import ChunkResult, Executor, ExecutorError, ScoringJob, run_chunk
from nasearch.executors.pool import process_pool
from nasearch.executors.registry import register_executor

# the job of this pool worker, set once by _init_worker
_JOB: list[ScoringJob] = []


def _init_worker(job: ScoringJob) -> None:
    import torch

    torch.set_num_threads(1)
    _JOB[:] = [job]


def _pool_chunk(indices: list[int]) -> ChunkResult:
    return run_chunk(_JOB[0], indices)


class LocalExecutor(Executor):
    name = "local"

    def __init__(self, workers: int = 1):
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ExecutorError(f"local executor: workers must be an integer >= 1, got {workers!r}")
        self.workers = workers
        self.remote = workers > 1

    @property
    def parallelism(self) -> int:
        return self.workers

    def threads_per_worker(self) -> int | None:
        return 1 if self.workers > 1 else None

    def map_chunks(self, job: ScoringJob, chunks: Sequence[Sequence[int]]) -> Iterator[ChunkResult]:
        if self.workers == 1 or sum(len(c) for c in chunks) <= 1:
            for chunk in chunks:
                for i in chunk:
                    yield run_chunk(job, [i])
            return
        pool = process_pool(min(self.workers, len(chunks)), initializer=_init_worker, initargs=(job,),
                            what="scoring")
        if pool is None:  # one chunk, or this process may not start children (a daemonic worker)
            for chunk in chunks:
                yield run_chunk(job, list(chunk))
            return
        with pool as ex:
            futures: set[Future] = {ex.submit(_pool_chunk, list(c)) for c in chunks}
            try:
                while futures:
                    done, futures = wait(futures, return_when=FIRST_COMPLETED)
                    for fut in done:
                        yield fut.result()
            finally:
                for fut in futures:
                    fut.cancel()

    def __repr__(self) -> str:
        return f"LocalExecutor(workers={self.workers})"


@register_executor("local")
def _local(*, workers: int = 1, **_options: object) -> LocalExecutor:
    return LocalExecutor(workers=workers)


__all__ = ["LocalExecutor"]
