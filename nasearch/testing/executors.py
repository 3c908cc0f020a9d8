"""The executor contract: what every executor (built-in or plugin) must do.

Subclass :class:`ExecutorContract` and set ``name`` to the executor's registry name (and ``options``,
the ``make_executor`` keywords it is built with)::

    from nasearch.testing import ExecutorContract

    class TestToyExecutor(ExecutorContract):
        name = "toy_executor"
        options = {"workers": 2}

Checks: the executor is registered and built by :func:`~nasearch.executors.make_executor` (an unknown
name is an error listing it); scores computed through it equal in-process scores bit for bit (one
torch thread), it is sent exactly the cells the store lacks, the driver stores every result, and a
rerun on the same store sends nothing (resume).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

from nasearch.executors.base import Executor
from nasearch.testing._common import ContractBase, non_trivial


class Counting(Executor):
    """Wraps a real executor and records the cells it was asked to score."""

    def __init__(self, inner: Executor):
        self.inner = inner
        self.remote = inner.remote
        self.sent: list[int] = []

    @property
    def parallelism(self) -> int:
        return self.inner.parallelism

    def threads_per_worker(self) -> int | None:
        return self.inner.threads_per_worker()

    def map_chunks(self, job: Any, chunks: Sequence[Sequence[int]]) -> Iterator[Any]:
        for c in chunks:
            self.sent.extend(c)
        yield from self.inner.map_chunks(job, chunks)

    def close(self) -> None:
        self.inner.close()


def _hex(values: Any) -> list[str]:
    return [float(v).hex() for v in values]


class ExecutorContract(ContractBase):
    """Contract tests of one executor; set ``name`` (and ``options``)."""

    name: ClassVar[str] = ""
    """Registry name of the executor under test."""
    options: ClassVar[dict[str, Any]] = {}
    """Keywords of :func:`~nasearch.executors.make_executor` (workers, device, address, ...)."""
    proxies: ClassVar[tuple[str, ...]] = ("naswot",)
    """Proxies (data-free scoring) whose scores are compared with in-process ones."""
    space: ClassVar[str] = "nb201"
    cells: ClassVar[int] = 12
    chunk_size: ClassVar[int] = 3
    seed: ClassVar[int] = 5

    def params(self) -> dict[str, list[Any]]:
        return {"proxy_name": list(self.proxies)}

    def make_executor(self) -> Executor:
        from nasearch.executors import make_executor

        assert self.name, f"{type(self).__name__}: set the class attribute name to the executor's registry name"
        return make_executor(self.name, where="nasearch.testing.ExecutorContract", **self.options)

    def test_registered(self) -> None:
        from nasearch.executors import ExecutorError, executor_names, make_executor

        assert self.name in executor_names()
        ex = self.make_executor()
        try:
            assert isinstance(ex, Executor)
            assert isinstance(ex.parallelism, int) and ex.parallelism >= 1
            threads = ex.threads_per_worker()
            assert threads is None or (isinstance(threads, int) and threads >= 1)
        finally:
            ex.close()
        with pytest.raises(ExecutorError, match=r"unknown executor 'no-such-executor' \(here\); accepted: .*"
                           + self.name):
            make_executor("no-such-executor", where="here")

    def test_equals_in_process_scoring_and_resumes(self, proxy_name: str, tmp_path: Path) -> None:
        import torch

        from nasearch.scoring import score_cells, score_key
        from nasearch.scoring.store import ScoreStore
        from nasearch.space import get_space

        space = get_space(self.space)
        cells = non_trivial(space, self.cells, seed=self.seed)
        kw: dict[str, Any] = dict(batch_size=8, data_free=True, progress=False, seed=self.seed, space=space)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            serial = score_cells(cells, proxy_name, **kw)
        finally:
            torch.set_num_threads(threads)
        store = ScoreStore(tmp_path / "s.sqlite")
        ex = Counting(self.make_executor())
        try:
            got = score_cells(cells, proxy_name, store=store, executor=ex, chunk_size=self.chunk_size, **kw)
        finally:
            ex.close()
        assert _hex(got) == _hex(serial)
        assert sorted(ex.sent) == sorted(a.index for a in cells)
        key = score_key(proxy_name, batch_size=8, data_free=True, seed=self.seed, space=space)
        assert store.count(key) == len(cells)  # the driver wrote every result
        again = Counting(self.make_executor())
        try:
            resumed = score_cells(cells, proxy_name, store=store, executor=again, **kw)
        finally:
            again.close()
        assert again.sent == []
        assert _hex(resumed) == _hex(serial)


__all__ = ["Counting", "ExecutorContract"]
