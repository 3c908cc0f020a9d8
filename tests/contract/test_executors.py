"""Executors: the registry, the kit's contract (:class:`nasearch.testing.ExecutorContract`) on the
local pool and in process, and Ray on a REAL local runtime (``ray.init(num_cpus=2)``).

Ray-scored cells must equal serial scores bit for bit (one torch thread everywhere), and a driver
killed halfway must resume from the store without recomputing what it stored.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from resume_helpers import kill_once_stored

from nasearch.executors import EXECUTORS, ExecutorError, make_executor
from nasearch.executors.local import LocalExecutor
from nasearch.scoring import score_cells, score_key
from nasearch.scoring.store import ScoreStore
from nasearch.space import get_space
from nasearch.testing import Counting, ExecutorContract

REPO = Path(__file__).resolve().parents[2]


def _connected(n: int, start: int = 0) -> list:
    space = get_space("nb201")
    out = []
    for i in range(start, space.num_archs, 37):
        a = space.from_index(i)
        if not space.is_trivial(a):
            out.append(a)
        if len(out) == n:
            return out
    raise AssertionError("not enough connected cells")


def _hex(values) -> list[str]:
    return [float(v).hex() for v in values]


# ------------------------------------------------------------------------------------ registry
def test_registry_and_errors():
    assert EXECUTORS == ("local", "ray")
    assert isinstance(make_executor("local", workers=3), LocalExecutor)
    with pytest.raises(ExecutorError, match=r"unknown executor 'dask' \(here\); accepted: local, ray"):
        make_executor("dask", where="here")
    with pytest.raises(ExecutorError, match="workers must be an integer >= 1"):
        LocalExecutor(workers=0)


class TestLocalPoolContract(ExecutorContract):
    """The kit's contract (nasearch.testing.ExecutorContract) on a pool of 2 local workers: the same
    scores as in-process scoring bit for bit, only the missing cells sent, resume from the store."""

    name = "local"
    options = {"workers": 2}


class TestLocalInProcessContract(ExecutorContract):
    name = "local"
    options = {"workers": 1}


# ------------------------------------------------------------------------------------ ray
ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'nasearch[ray]' (make test installs it)")


@pytest.fixture(scope="module")
def ray_runtime():
    if ray.is_initialized():
        ray.shutdown()
    t0 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    print(f"ray.init(num_cpus=2) took {time.perf_counter() - t0:.1f} s")
    yield ray
    ray.shutdown()


@pytest.mark.slow
@pytest.mark.parametrize("proxy", ["synflow", "naswot"])
def test_ray_equals_serial_bitwise(ray_runtime, proxy: str, tmp_path: Path):
    cells = _connected(40)
    kw = dict(batch_size=8, data_free=True, progress=False, seed=5, space="nb201")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        serial = score_cells(cells, proxy, **kw)
    finally:
        torch.set_num_threads(threads)
    store = ScoreStore(tmp_path / "ray.sqlite")
    ex = make_executor("ray")
    assert ex.parallelism == 2
    remote = score_cells(cells, proxy, store=store, executor=ex, chunk_size=4, **kw)
    ex.close()
    assert ray.is_initialized(), "an executor must not shut down a runtime it did not start"
    assert _hex(remote) == _hex(serial)
    key = score_key(proxy, batch_size=8, data_free=True, seed=5, space="nb201")
    assert store.count(key) == 40  # the driver wrote every result


@pytest.mark.slow
def test_ray_gpu_request_without_gpus_is_an_error_not_a_hang(ray_runtime):
    if ray.cluster_resources().get("GPU", 0):
        pytest.skip("this Ray runtime has GPUs")
    with pytest.raises(ExecutorError, match=r"ask for 1 GPU\(s\) each .* has 0: the tasks could never run"):
        make_executor("ray", device="cuda")
    with pytest.raises(ExecutorError, match="num_gpus=0: Ray tasks would see no GPU"):
        make_executor("ray", device="cuda", num_gpus=0)
    assert make_executor("ray", device="auto").num_gpus == 0.0


@pytest.mark.slow
class TestRayContract(ExecutorContract):
    """The kit's contract on Ray tasks of this test's runtime (``ray.init(num_cpus=2)``)."""

    name = "ray"

    @pytest.fixture(autouse=True)
    def _runtime(self, ray_runtime):
        yield


_DRIVER = """
import sys, torch
torch.set_num_threads(1)
from nasearch.executors import make_executor
from nasearch.scoring import score_cells
from nasearch.scoring.store import ScoreStore
from nasearch.space import get_space
space = get_space("nb201")
cells = [space.from_index(int(i)) for i in sys.argv[3].split(",")]
ex = make_executor("ray", address=sys.argv[2])
score_cells(cells, "naswot", batch_size=32, data_free=True, progress=False, store=ScoreStore(sys.argv[1]),
            executor=ex, chunk_size=1, space=space)
"""


@pytest.mark.slow
def test_ray_killed_driver_resumes_without_recomputing(ray_runtime, tmp_path: Path):
    """A driver (a subprocess joined to this test's Ray runtime by its address) is SIGKILLed once it
    has stored some cells; the rerun sends only the missing cells to Ray, and the result equals a
    fresh serial score."""
    cells = _connected(40, start=11)
    path = tmp_path / "s.sqlite"
    key = score_key("naswot", batch_size=32, data_free=True, space="nb201")
    address = ray.get_runtime_context().gcs_address
    proc = subprocess.Popen(
        [sys.executable, "-c", _DRIVER, str(path), address, ",".join(str(a.index) for a in cells)],
        cwd=REPO, env=dict(os.environ),
    )
    store = ScoreStore(path)
    kept = kill_once_stored(proc, store, key, 10, 180, "the driver", poll=0.02)
    assert 10 <= kept < 40, kept
    stored = set(store.get_many(key, cells))
    ex = Counting(make_executor("ray"))
    resumed = score_cells(cells, "naswot", batch_size=32, data_free=True, progress=False, store=store, executor=ex, space="nb201")
    assert sorted(ex.sent) == sorted(a.index for a in cells if a.index not in stored)
    assert len(ex.sent) == 40 - kept and store.count(key) == 40
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        fresh = score_cells(cells, "naswot", batch_size=32, data_free=True, progress=False, space="nb201")
    finally:
        torch.set_num_threads(torch_threads)
    assert _hex(resumed) == _hex(fresh)
    assert np.isfinite(fresh).all()
