"""What makes a computed value reproducible: seeded torch generators per cell, and the one-thread pin.

Shared by the scoring engine (:mod:`nasearch.scoring`, which re-exports these names) and the
EZNAS statistics (:mod:`nasearch.eznas.statistics`, :mod:`nasearch.eznas.cache`), which must build,
seed and sum exactly as the engine does. Part of the core: imports nothing of nasearch.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch


def seeded_generator(ss: np.random.SeedSequence) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with the first 63 bits of ``ss``'s state."""
    state = int(ss.generate_state(1, np.uint64)[0]) & (2**63 - 1)
    return torch.Generator().manual_seed(state)


def cell_generators(seed: int, arch: Any) -> tuple[torch.Generator, torch.Generator]:
    """(network generator, proxy-context generator) of one cell under one run seed: the two children
    of ``SeedSequence(seed, spawn_key=(arch.index,))``."""
    net_ss, ctx_ss = np.random.SeedSequence(int(seed), spawn_key=(arch.index,)).spawn(2)
    return seeded_generator(net_ss), seeded_generator(ctx_ss)


@contextmanager
def one_thread() -> Iterator[None]:
    """Run the block with one torch intra-op thread, then restore the caller's setting.

    Why: float32 conv weight gradients are sums over the batch and the spatial positions that torch
    (oneDNN) splits among its threads; another thread count sums in another order, which changes the
    last bits of every gradient, and ill-conditioned proxies (ZiCo's std over two batches) turn that
    into a 0.01-1% change of the score. Pinning makes a score independent of the caller's thread
    count and of ``workers`` (workers run with one thread too). Cost (``make bench BENCH_ARGS='--only
repro'``, 8 cells, 2 cores, 2026-11-29): entering and leaving the block costs 3.4 us per proxy call;
a caller at 2 threads that scores in-process now takes 1.8x as long per cell (ZiCo: 3.05 s pinned
against 1.68 s at 2 threads), which ``workers=2`` (one thread each, the same values) wins back.
    """
    n = torch.get_num_threads()
    if n == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


__all__ = ["cell_generators", "one_thread", "seeded_generator"]
