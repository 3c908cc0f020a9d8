"""The Ray executor: chunks of cells as Ray tasks, on a local Ray runtime or a running cluster.

``address``: ``None`` or ``""`` starts a local runtime in this process (``num_cpus`` CPUs, default
all), ``"auto"`` joins the cluster this machine belongs to (``ray start --head`` / a SLURM-started
cluster), ``"ray://host:10001"`` or ``"host:6379"`` a named one. If Ray is already initialised in the
process (a notebook, a test fixture) the executor uses that runtime and leaves it running; a runtime
it started itself is shut down by :meth:`close`.

The job (its worker function and payload, minibatches as numpy arrays) goes to the object store once
(``ray.put``); every task gets its reference, and a worker process moves the batches to its device
once per job (:func:`nasearch.executors.base.prepared_batches`), not per cell. Each task asks for one
CPU and, when the job's device is CUDA, ``num_gpus`` GPUs (default 1; a fraction such as 0.25 packs
four tasks on a GPU; ``device=auto``: 1 when the cluster has GPUs); Ray sets ``CUDA_VISIBLE_DEVICES``
for the task, so ``cuda`` means "the task's GPU" there (give ``cuda``, not ``cuda:N``). Tasks that
could never be placed (GPUs asked of a cluster without them) are an error up front, not a hang. Tasks run with one torch thread, so their scores equal serial scores run with one thread
bit for bit.

Results come back to the driver as tasks finish (``ray.wait``); the driver alone writes the store.
Ray is an optional dependency: ``pip install 'nasearch[ray]'``.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any

from nasearch.executors.base import ChunkResult, Executor, ExecutorError, ScoringJob, run_chunk
from nasearch.executors.registry import register_executor

log = logging.getLogger(__name__)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ExecutorError(
            "executor=ray needs Ray, which is not installed: pip install 'nasearch[ray]' (or use executor=local)"
        ) from exc
    return ray


def _ray_chunk(job: ScoringJob, indices: list[int]) -> ChunkResult:
    return run_chunk(job, indices)


class RayExecutor(Executor):
    name = "ray"
    remote = True

    def __init__(self, address: str | None = None, num_cpus: int | None = None, num_gpus: float | None = None,
                 device: str = "cpu"):
        from nasearch.device import is_cuda, parse_device

        self.ray = _import_ray()
        self.address = address or None
        self.device = parse_device(device, where="executor=ray device")
        if num_gpus is not None and not (num_gpus >= 0):
            raise ExecutorError(f"executor.num_gpus must be >= 0 (GPUs per Ray task), got {num_gpus!r}")
        self._started = False
        if not self.ray.is_initialized():
            t0 = time.perf_counter()
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if self.address is None and num_cpus is not None:
                kwargs["num_cpus"] = int(num_cpus)
            try:
                self.ray.init(address=self.address, **kwargs)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ExecutorError(
                    f"cannot start Ray (executor.address={address!r}: 'auto' joins a running cluster, null/empty "
                    f"starts a local runtime): {type(exc).__name__}: {exc}"
                ) from exc
            self._started = True
            log.info("Ray runtime ready in %.1f s (%s)", time.perf_counter() - t0, self.address or "local")
        gpus = float(self.ray.cluster_resources().get("GPU", 0))
        cuda = is_cuda(self.device) if self.device != "auto" else gpus > 0
        self.num_gpus = (1.0 if cuda else 0.0) if num_gpus is None else float(num_gpus)
        if cuda and self.num_gpus == 0:
            raise ExecutorError(f"device={device!r} with executor.num_gpus=0: Ray tasks would see no GPU; "
                                "set executor.num_gpus (e.g. 1, or 0.25 for four tasks per GPU)")
        if self.num_gpus > gpus:
            raise ExecutorError(
                f"Ray tasks ask for {self.num_gpus:g} GPU(s) each (device={device!r}, executor.num_gpus={num_gpus!r}) "
                f"but the Ray cluster at {self.address or 'this machine'} has {gpus:g}: the tasks could never run"
            )
        self._remote = self.ray.remote(num_cpus=1, num_gpus=self.num_gpus, max_retries=0)(_ray_chunk)

    @property
    def parallelism(self) -> int:
        cpus = int(self.ray.cluster_resources().get("CPU", 1))
        if self.num_gpus > 0:
            gpus = self.ray.cluster_resources().get("GPU", 0)
            cpus = min(cpus, max(1, int(gpus / self.num_gpus)))
        return max(1, cpus)

    def map_chunks(self, job: ScoringJob, chunks: Sequence[Sequence[int]]) -> Iterator[ChunkResult]:
        ray = self.ray
        if job.device.startswith("cuda:"):  # inside a task, its GPU(s) are the only ones visible
            job = dataclasses.replace(job, device="cuda")
        ref = ray.put(job)
        pending = [self._remote.remote(ref, list(c)) for c in chunks]
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for r in done:
                    try:
                        yield ray.get(r)
                    except ray.exceptions.RayTaskError as exc:
                        cause = exc.as_instanceof_cause() if hasattr(exc, "as_instanceof_cause") else exc
                        raise cause from None
        finally:
            for r in pending:
                ray.cancel(r, force=True)

    def close(self) -> None:
        if self._started and self.ray.is_initialized():
            self.ray.shutdown()
        self._started = False

    def __repr__(self) -> str:
        return f"RayExecutor(address={self.address!r}, num_gpus={self.num_gpus})"


@register_executor("ray")
def _ray(*, device: str = "cpu", address: str | None = None, num_cpus: int | None = None,
         num_gpus: float | None = None, **_options: object) -> RayExecutor:
    return RayExecutor(address=address, num_cpus=num_cpus, num_gpus=num_gpus, device=device)


__all__ = ["RayExecutor"]
