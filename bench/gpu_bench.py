"""`make bench BENCH_ARGS="--only gpu"` (or ``python bench/gpu_bench.py``): proxies on a GPU, measured
in one run against the references the issue asks for, written to bench/results_gpu.md.

On ``--device`` (default ``cuda``; ``--device cpu`` is a dry run of the script on any machine):

1. per proxy: seconds per cell of the proxy function alone (network already built and on the device,
   batch of 64 on the device, CUDA synchronised), and of the whole ``score_one`` (network built on
   the CPU from the cell's seed, moved, scored): the cost of a full-space table; the ratio of the
   proxy to the floor, one plain forward+backward of the same network and batch on the same device
   (the faster of the default and the ``channels_last`` layout); and the CPU/GPU speed ratio (the
   same proxy on the CPU, all threads, on ``--cpu-cells`` cells);
2. GradSign over the whole connected space (15,284 cells) extrapolated from ``--gradsign-cells``
   cells (>= 1,000 for the issue's acceptance);
3. agreement: every proxy on ``--agree`` cells (50) on the CPU and on the device, the largest relative
   difference and whether the rankings agree (Spearman).

Batches: 64 real CIFAR-10 images from $NASEARCH_DATA when present, else seeded Gaussian images with
seeded labels (said in the output). cuDNN deterministic and TF32 off (as the scorer runs).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from nasearch.device import deterministic_kernels, resolve_device
from nasearch.proxies import network_proxies
from nasearch.proxies.registry import ProxyContext
from nasearch.scoring import cell_generators, score_one
from nasearch.space.nb201.arch import NUM_ARCHS, Arch
from nasearch.space.nb201.networks import build_network

CONNECTED = 15284


def cells(n: int, seed: int) -> list[Arch]:
    rng = np.random.default_rng(seed)
    pool = [i for i in range(NUM_ARCHS) if Arch.from_index(i).is_connected()]
    return [Arch.from_index(int(i)) for i in rng.choice(pool, size=min(n, len(pool)), replace=False)]


def batches(n: int = 2, size: int = 64) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], str]:
    root = os.environ.get("NASEARCH_DATA")
    if root and (Path(root) / "cifar-10-batches-py").is_dir():
        from nasearch.data import load_images, sample_batches

        return sample_batches(load_images("cifar10", root, "train"), size, n, seed=0), "real CIFAR-10"
    g = torch.Generator().manual_seed(0)
    return [(torch.randn(size, 3, 32, 32, generator=g), torch.randint(0, 10, (size,), generator=g))
            for _ in range(n)], "seeded Gaussian images (no $NASEARCH_DATA)"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _net(spec_bn: bool, arch: Arch, device: torch.device, channels_last: bool = False) -> torch.nn.Module:
    g, _ = cell_generators(0, arch)
    net = build_network(arch, "cifar10", bn=spec_bn, generator=g).to(device)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    net.train()
    return net


def floor(archs: list[Arch], bs: list, device: torch.device) -> float:
    """Seconds per cell of one plain fwd+bwd (the faster layout), network built beforehand."""
    x, y = bs[0]
    best = math.inf
    for cl in (False, True):
        xx = x.to(memory_format=torch.channels_last) if cl else x
        total = 0.0
        for a in archs:
            net = _net(True, a, device, cl)
            _sync(device)
            t0 = time.perf_counter()
            torch.nn.functional.cross_entropy(net(xx), y).backward()
            _sync(device)
            total += time.perf_counter() - t0
        best = min(best, total / len(archs))
    return best


def proxy_time(spec, archs: list[Arch], bs: list, device: torch.device) -> float:
    total = 0.0
    for a in archs:
        net = _net(spec.bn, a, device)
        _, g_ctx = cell_generators(0, a)
        ctx = ProxyContext(num_classes=10, generator=g_ctx, input_size=32)
        b = [(x.clone(), y.clone()) for x, y in bs[: max(1, spec.min_batches)]]
        _sync(device)
        t0 = time.perf_counter()
        spec.fn(net, b, ctx)
        _sync(device)
        total += time.perf_counter() - t0
    return total / len(archs)


def end_to_end(spec, archs: list[Arch], bs: list, device: torch.device) -> tuple[float, list[float]]:
    vals = []
    t0 = time.perf_counter()
    for a in archs:
        vals.append(score_one(spec, a, "cifar10", bs, 0, 32, device=device, space="nb201")[0])
    _sync(device)
    return (time.perf_counter() - t0) / len(archs), vals


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda", help="cuda, cuda:N, or cpu for a dry run")
    p.add_argument("--cells", type=int, default=100, help="cells timed per proxy on the device")
    p.add_argument("--cpu-cells", type=int, default=10, help="cells timed per proxy on the CPU")
    p.add_argument("--gradsign-cells", type=int, default=1000, help="cells for the full-space extrapolation")
    p.add_argument("--agree", type=int, default=50, help="cells compared CPU vs device per proxy")
    p.add_argument("--batch", type=int, default=64, help="images per batch (64 as in the papers)")
    p.add_argument("--out", default=None, help="default: bench/results_gpu.md on CUDA, stdout only on the CPU")
    a = p.parse_args(argv)
    device = resolve_device(a.device, where="--device")
    cpu = torch.device("cpu")
    bs_cpu, source = batches(size=a.batch)
    bs_dev = [(x.to(device), y.to(device)) for x, y in bs_cpu]
    timed = cells(a.cells, 1)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU (dry run)"
    lines = [f"# nasearch on {name} ({time.strftime('%Y-%m-%d')}, torch {torch.__version__}, "
             f"{os.cpu_count()} CPU cores; images: {source}, batch {a.batch})", ""]
    with deterministic_kernels(device):
        # warm-up: CUDA context, cuDNN handles, allocator
        proxy_time(next(iter(network_proxies())), timed[:2], bs_dev, device)
        fl = floor(timed, bs_dev, device)
        fl_cpu = floor(timed[: a.cpu_cells], bs_cpu, cpu)
        lines += [f"### Proxies on {device} ({len(timed)} cells; CPU: {min(a.cpu_cells, len(timed))} cells, "
                  f"{torch.get_num_threads()} threads)", "",
                  "| proxy | device s/cell (proxy) | ratio to fwd+bwd | device s/cell (score_one, incl. build) "
                  "| CPU s/cell (proxy) | CPU / device |", "|---|---|---|---|---|---|",
                  f"| plain fwd+bwd (floor) | {fl:.4f} | 1.00 |  | {fl_cpu:.4f} | {fl_cpu / fl:.1f} |"]
        for spec in network_proxies():
            t_dev = proxy_time(spec, timed, bs_dev, device)
            e2e, _ = end_to_end(spec, timed, bs_dev, device)
            t_cpu = proxy_time(spec, timed[: a.cpu_cells], bs_cpu, cpu)
            lines.append(f"| {spec.name} | {t_dev:.4f} | {t_dev / fl:.2f} | {e2e:.4f} | {t_cpu:.4f} | "
                         f"{t_cpu / t_dev:.1f} |")
            print(lines[-1], flush=True)
        gs = next(s for s in network_proxies() if s.name == "gradsign")
        gcells = cells(a.gradsign_cells, 2)
        e2e, _ = end_to_end(gs, gcells, bs_dev, device)
        lines += ["", f"### GradSign over the connected space ({CONNECTED:,} cells), from {len(gcells):,} cells", "",
                  f"score_one on {device}: {e2e:.4f} s/cell -> **{e2e * CONNECTED / 60:.1f} min** for {CONNECTED:,} "
                  "cells in one process (network construction on the CPU included).", ""]
        agree = cells(a.agree, 3)
        lines += [f"### CPU vs {device} agreement ({len(agree)} cells per proxy, same batches and seeds)", "",
                  "| proxy | max relative difference | cells bitwise equal | Spearman rho (CPU, device) |",
                  "|---|---|---|---|"]
        from scipy.stats import spearmanr

        for spec in network_proxies():
            _, v_cpu = end_to_end(spec, agree, bs_cpu, cpu)
            _, v_dev = end_to_end(spec, agree, bs_dev, device)
            c, d = np.array(v_cpu), np.array(v_dev)
            ok = np.isfinite(c) & np.isfinite(d)
            rel = np.abs(c[ok] - d[ok]) / np.maximum(np.abs(c[ok]), 1e-300)
            same = int(sum(float(x).hex() == float(y).hex() for x, y in zip(c, d)))
            rho = spearmanr(c[ok], d[ok]).statistic if ok.sum() > 2 else math.nan
            lines.append(f"| {spec.name} | {rel.max() if rel.size else math.nan:.2e} | {same}/{len(agree)} | "
                         f"{rho:.6f} |")
            print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    print(text)
    out = a.out or (str(Path(__file__).with_name("results_gpu.md")) if device.type == "cuda" else None)
    if out:
        tmp = Path(out).with_name(Path(out).name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, out)


if __name__ == "__main__":
    main(sys.argv[1:])
