"""What a worker runs: score one cell, or a chunk of cells, of a run (any process, any executor).

For each cell :func:`score_one`

1. builds the cell's network with ``space.build_network(arch, dataset, bn=spec.bn, generator=g)`` where
   ``g`` is a ``torch.Generator`` seeded from ``SeedSequence(seed, spawn_key=(arch.index,))`` (first
   child); the proxy's :class:`~nasearch.proxies.registry.ProxyContext` gets a generator from the
   second child (:func:`nasearch.determinism.cell_generators`). A cell's score therefore depends only
   on (proxy, dataset, batches, seed, cell): not on the order of the cells, the worker that ran it,
   or the process;
2. calls the proxy on the run's minibatches, network and batches in the proxy's memory layout
   (``ProxySpec.layout``, :func:`in_layout`); each call gets its own copies of the batches, so a
   proxy that modifies them in place cannot change later cells;
3. runs the proxy with one torch intra-op thread (:func:`nasearch.determinism.one_thread`) and, on
   CUDA, deterministic kernels (:func:`nasearch.device.deterministic_kernels`), so a value is
   bit-identical whatever the caller's thread count, ``workers`` or executor.

Proxies that need no weights (``needs_weights=False``: params, flops) get a network built with
zero-filling initialisers (:func:`blank_network`) and no batches. The network is built on the CPU
from the cell's generator (the same initial weights on every device) and moved to the device.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

from nasearch.determinism import cell_generators, one_thread
from nasearch.device import deterministic_kernels
from nasearch.executors import ChunkResult
from nasearch.proxies.registry import ProxyContext, ProxyError, ProxySpec
from nasearch.scoring.batches import Batches
from nasearch.space.base import SearchSpace, get_space

Arch = Any
"""An arch of the scored space."""


@contextmanager
def blank_network() -> Iterator[None]:
    """Build networks with every ``torch.nn.init`` initialiser filling zeros, for proxies that read
    only structure and shapes (``needs_weights=False``: params, flops): no random draws, and the
    Kaiming initialisation of a large network (half a second for a TransNAS-Bench-101 encoder) is
    skipped. (The ``meta`` device would avoid memory too, but its initialisers and forward passes run
    torch's Python reference decompositions: slower than the real thing.) The patch is process-wide
    for the duration of one build; the engine scores one cell at a time per process."""
    init = torch.nn.init
    names = [n for n in dir(init) if n.endswith("_") and not n.startswith("_") and callable(getattr(init, n))]
    saved = {n: getattr(init, n) for n in names}
    try:
        for n in names:
            setattr(init, n, _zero_init)
        yield
    finally:
        for n, f in saved.items():
            setattr(init, n, f)


def _zero_init(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    with torch.no_grad():
        return tensor.zero_()


def score_one(
    spec: ProxySpec, arch: Arch, dataset: str, batches: Batches, seed: int, input_size: int,
    space: SearchSpace | str,
    device: torch.device | None = None,
) -> tuple[float, float]:
    """Score one (non-trivial) cell: ``(raw value, seconds)``. Failures name the proxy and the cell.

    ``device`` (default: the CPU): where the network goes; ``batches`` must already be there (move
    them once per worker, not per cell). The network is built on the CPU, so its initial weights do
    not depend on the device.
    """
    space = get_space(space)
    t0 = time.perf_counter()
    g_net, g_ctx = cell_generators(seed, arch)
    try:
        if not spec.needs_weights:  # structure and shapes only: no initialisation, no data
            with blank_network():
                net = space.build_network(arch, dataset, bn=spec.bn, generator=None)
            batches = []
        else:
            net = space.build_network(arch, dataset, bn=spec.bn, generator=g_net)
        if spec.needs_weights and device is not None and device.type != "cpu":
            net = net.to(device)
        net.train()
        ctx = ProxyContext(num_classes=space.num_classes(dataset), generator=g_ctx, input_size=input_size)
        # a score must not depend on the thread count (see one_thread) nor on CUDA's kernel choice
        with one_thread(), deterministic_kernels(device):
            net, own = in_layout(net, batches, spec.layout)
            value = spec.fn(net, own, ctx)
            value = float(value.detach().item() if isinstance(value, torch.Tensor) else value)
    except Exception as exc:
        raise ProxyError(
            f"proxy {spec.name!r} failed on cell {arch.index} {arch} "  # type: ignore[attr-defined]
            f"(space {space.name}, dataset {dataset}, seed {seed}): "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    return value, time.perf_counter() - t0


def in_layout(net: torch.nn.Module, batches: Batches, layout: str) -> tuple[torch.nn.Module, Batches]:
    """The network and fresh copies of the batches in the proxy's memory layout
    (``ProxySpec.layout``): ``channels_last`` converts every 4-d parameter and buffer and the images
    (NHWC memory, the same shapes and values); ``contiguous`` leaves the network as built. The copies
    mean a proxy that modifies its batches in place cannot change later cells."""
    if layout == "channels_last":
        net = net.to(memory_format=torch.channels_last)
        return net, [(x.clone(memory_format=torch.channels_last), y.clone()) for x, y in batches]
    return net, [(x.clone(), y.clone()) for x, y in batches]


@dataclass(frozen=True)
class CellScoring:
    """What a worker needs, besides the cell indices and the batches, to score cells of one run: the
    payload of the :class:`~nasearch.executors.ScoringJob` the engine hands an executor."""

    spec: ProxySpec
    """Pickled by reference to its function."""
    dataset: str
    seed: int
    input_size: int
    space: str
    """Registry name of the search space whose cells are scored."""


def score_chunk(payload: CellScoring, indices: Sequence[int], device: torch.device, batches: Batches) -> ChunkResult:
    """The worker function of the engine's jobs (run by every executor, in whatever process): score
    the cells ``indices`` with :func:`score_one` on ``batches``, already on ``device``."""
    space = get_space(payload.space)
    out: ChunkResult = []
    for i in indices:
        v, s = score_one(payload.spec, space.from_index(int(i)), payload.dataset, batches, payload.seed,
                         payload.input_size, space, device=device)
        out.append((int(i), v, s))
    return out


__all__ = ["CellScoring", "blank_network", "in_layout", "score_chunk", "score_one"]
