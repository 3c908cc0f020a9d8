"""The device setting: resolution, errors, CPU scores unchanged, and CUDA checks that run only where a
GPU is visible (marked ``cuda``; skipped with the reason otherwise)."""

from __future__ import annotations

import math

import pytest
import torch

from nasearch.device import DeviceError, deterministic_kernels, parse_device, resolve_device
from nasearch.proxies import network_proxies
from nasearch.scoring import score_cells
from nasearch.space import get_space

HAS_CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(
    not HAS_CUDA, reason="no CUDA GPU visible (torch.cuda.is_available() is False); run on the GPU machine"
)


def _cells(n: int) -> list:
    space = get_space("nb201")
    out = [a for a in (space.from_index(i) for i in range(3, space.num_archs, 401)) if not space.is_trivial(a)]
    return out[:n]


def test_resolve_and_parse():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(None) == torch.device("cpu")
    assert resolve_device(" CPU ") == torch.device("cpu")
    assert resolve_device("auto") == (torch.device("cuda") if HAS_CUDA else torch.device("cpu"))
    assert parse_device("cuda:3") == "cuda:3"  # spelling only: a Ray driver may have no GPU
    for bad in ("gpu", "cuda:", "cuda:x", "tpu", ""):
        with pytest.raises(DeviceError, match=r"unknown device .* \(config key device\); accepted: auto, cpu, cuda"):
            resolve_device(bad, where="config key device")


@pytest.mark.skipif(HAS_CUDA, reason="checks the error raised where no GPU is visible")
def test_cuda_without_gpu_is_a_clear_error():
    for value in ("cuda", "cuda:0"):
        with pytest.raises(DeviceError, match=r"asks for a GPU, but torch sees none .* use device=cpu or auto"):
            resolve_device(value, where="score_cells(device=...)")
    with pytest.raises(DeviceError, match="asks for a GPU"):
        score_cells(_cells(1), "params", device="cuda", progress=False, space="nb201")


def test_config_rejects_unknown_device():
    from hydra import compose, initialize_config_module

    from nasearch.config import ConfigError, register_configs, validate

    register_configs()
    with initialize_config_module(config_module="nasearch.conf", version_base=None):
        assert validate(compose(config_name="config")).device == "cpu"
        with pytest.raises(ConfigError, match="unknown device 'gpu'"):
            validate(compose(config_name="config", overrides=["device=gpu"]))


@pytest.mark.slow
@pytest.mark.parametrize("proxy", [s.name for s in network_proxies()])
def test_cpu_device_equals_default(proxy: str, data_root):
    """``device='cpu'`` (and ``auto`` without a GPU) is exactly the engine's default path."""
    cells = _cells(2)
    kw = dict(batch_size=8, seed=1, progress=False, data_root=data_root, space="nb201")
    default = score_cells(cells, proxy, **kw)
    cpu = score_cells(cells, proxy, device="auto" if not HAS_CUDA else "cpu", **kw)
    assert [float(v).hex() for v in cpu] == [float(v).hex() for v in default]


def test_deterministic_kernels_is_a_no_op_on_cpu():
    before = (torch.backends.cudnn.deterministic, torch.backends.cuda.matmul.allow_tf32)
    with deterministic_kernels(torch.device("cpu")):
        assert (torch.backends.cudnn.deterministic, torch.backends.cuda.matmul.allow_tf32) == before
    assert (torch.backends.cudnn.deterministic, torch.backends.cuda.matmul.allow_tf32) == before


# ------------------------------------------------------------------------------------------ CUDA
@pytest.mark.cuda
@needs_cuda
def test_cuda_flags_set_while_scoring_and_restored():
    torch.backends.cuda.matmul.allow_tf32 = True
    with deterministic_kernels(torch.device("cuda")):
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
        assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
    assert torch.backends.cuda.matmul.allow_tf32


# Cross-device tolerances: relative, per proxy. Count-like proxies are exact; float32 gradient sums
# differ in the last bits between CPU and GPU kernels (the same order as the cross-CPU tolerance).
CUDA_RTOL = {"params": 0.0, "flops": 0.0, "gradsign": 1e-3, "naswot": 1e-6, "synflow": 1e-6}


@pytest.mark.cuda
@needs_cuda
@pytest.mark.parametrize("proxy", [s.name for s in network_proxies()])
def test_cuda_scores_agree_with_cpu(proxy: str, data_root):
    cells = _cells(5)
    kw = dict(batch_size=16, seed=2, progress=False, data_root=data_root, space="nb201")
    cpu = score_cells(cells, proxy, device="cpu", **kw)
    gpu = score_cells(cells, proxy, device="cuda", **kw)
    rtol = CUDA_RTOL.get(proxy, 1e-3)
    for c, g in zip(cpu, gpu):
        assert math.isclose(c, g, rel_tol=rtol, abs_tol=1e-9), (proxy, c, g)


@pytest.mark.cuda
@needs_cuda
def test_cuda_through_worker_pool_equals_in_process(data_root):
    cells = _cells(6)
    kw = dict(batch_size=16, seed=2, progress=False, data_root=data_root, device="cuda", space="nb201")
    one = score_cells(cells, "gradsign", **kw)
    two = score_cells(cells, "gradsign", workers=2, **kw)
    assert [float(v).hex() for v in one] == [float(v).hex() for v in two]
