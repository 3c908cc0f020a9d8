"""The never-preferred policy: what a ranking does with a cell whose score would mislead it.

A cell gets the value a ranking can never prefer, ``-inf`` for higher-is-better proxies and ``+inf``
for the others, when it is disconnected (no path from input to output: its network outputs zeros,
NB201 trains such cells to chance; they are never run) or when its proxy returned NaN or +-inf. The
store keeps raw values; the policy is applied on read (:func:`apply_policy`), so changing it never
invalidates a store.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from nasearch.proxies.registry import ProxySpec, get_proxy

log = logging.getLogger(__name__)


def never_preferred(spec: ProxySpec) -> float:
    """The sentinel score a ranking by ``spec`` can never prefer: ``-inf`` if higher is better, else
    ``+inf``. Given to disconnected cells and to cells whose proxy returned NaN or +-inf."""
    return -math.inf if spec.higher_is_better else math.inf


def rank_key(spec: ProxySpec | str, scores: Sequence[float] | np.ndarray) -> np.ndarray:
    """Scores turned into "higher = better" values (``sign * score``); NaN becomes ``-inf``.

    Never-preferred sentinels map to ``-inf`` whatever the proxy's direction, so
    ``np.argsort(-rank_key(spec, s))`` lists the best cells first and sentinels last.
    """
    if isinstance(spec, str):
        spec = get_proxy(spec, where="rank_key")
    out = np.asarray(scores, dtype=np.float64) * spec.sign()
    out[np.isnan(out)] = -math.inf
    return out


def apply_policy(spec: ProxySpec, cells: Sequence[Any], connected: Mapping[int, Any] | set[int],
                 raw: Mapping[int, float]) -> np.ndarray:
    """The scores of ``cells`` in order (float64): ``raw[arch.index]`` for a connected cell with a
    finite value, :func:`never_preferred` for the rest. Logs one warning with the count of
    non-finite values (never one per cell)."""
    sentinel = never_preferred(spec)
    out = np.empty(len(cells), dtype=np.float64)
    bad = scored = 0
    for j, a in enumerate(cells):
        if a.index not in connected:
            out[j] = sentinel
            continue
        scored += 1
        v = raw[a.index]
        if not math.isfinite(v):
            bad += 1
            v = sentinel
        out[j] = v
    if bad:
        log.warning("%d of %d scored cells got a non-finite %s score (NaN or inf): given %s",
                    bad, scored, spec.name, sentinel)
    return out


__all__ = ["apply_policy", "never_preferred", "rank_key"]
