"""Score tables: a whole space (or a seeded sample) scored into a store and written as a CSV, in
shards that separate jobs can compute (``task=score``, ``nasearch scores``)."""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nasearch.proxies.registry import ProxyError
from nasearch.scoring.engine import score_cells
from nasearch.scoring.settings import ScoringSettings, _positive_int, settings_from
from nasearch.scoring.store import ScoreStore
from nasearch.space.base import SearchSpace, get_space

log = logging.getLogger(__name__)

def shard_indices(indices: Sequence[int] | np.ndarray, shard: int, shards: int) -> np.ndarray:
    """The cells of shard ``shard`` of ``shards``: those whose nasearch index mod ``shards`` is
    ``shard`` (order kept). Deterministic and independent of the list's order or of other shards, so
    the shards of any cell list are disjoint and together cover it; index mod n also spreads the big
    and small cells evenly over the shards."""
    shards = _positive_int(shards, "score.shards")
    if isinstance(shard, bool) or not isinstance(shard, (int, np.integer)) or not 0 <= shard < shards:
        raise ProxyError(f"score.shard must be an integer in 0..{shards - 1} (score.shards={shards}), got {shard!r}")
    idx = np.asarray(indices, dtype=np.int64)
    return idx if shards == 1 else idx[idx % shards == int(shard)]


def table_cells(space: SearchSpace, sample: int | None, seed: int, shard: int = 0, shards: int = 1) -> list:
    """The cells a score table covers: every cell (``sample=None``) or ``sample`` drawn without
    replacement with ``default_rng(seed)``, in index order, then shard ``shard`` of ``shards``."""
    n_archs = space.num_archs
    if sample is None:
        indices = np.arange(n_archs)
    else:
        if isinstance(sample, bool) or not isinstance(sample, (int, np.integer)) or not 1 <= sample <= n_archs:
            raise ProxyError(
                f"sample must be None (all cells) or an integer in 1..{n_archs} (space {space.name}), got {sample!r}"
            )
        indices = np.sort(np.random.default_rng(int(seed)).choice(n_archs, size=int(sample), replace=False))
    indices = shard_indices(indices, shard, shards)
    return [space.from_index(int(i)) for i in indices]


def build_score_table(
    proxy: str | ScoringSettings,
    dataset: str | None = None,
    *,
    store_path: str | os.PathLike[str],
    out_csv: str | os.PathLike[str],
    sample: int | None = None,
    shard: int = 0,
    shards: int = 1,
    **settings: Any,
) -> Path:
    """Score the whole space (``sample=None``) or ``sample`` cells drawn without replacement with
    ``np.random.default_rng(seed)`` into the store at ``store_path``, and write ``out_csv``.

    ``proxy`` is a :class:`~nasearch.scoring.settings.ScoringSettings` or a proxy name with the other
    settings as keywords (``space=`` always given), as for
    :func:`~nasearch.scoring.engine.score_cells`; ``shipped`` is always off.

    CSV columns: ``index`` (the official index, :meth:`SearchSpace.official_index`: NB201's own for
    NB201), ``arch``, ``connected``, ``score`` (never-preferred policy applied), ``seconds`` (compute
    time, empty for disconnected cells), then the run's settings (``proxy, version, dataset,
    image_dataset, batch_size, num_batches, seed``) on every row. Rows are in nasearch's internal
    order (``arch.index``, which also picks the sample and the shards). Rerunning with the same store
    resumes. Returns ``out_csv`` as a Path. The shipped score tables are not read: a table is always
    computed (it is how they were made).

    ``shards > 1`` keeps only shard ``shard`` of those cells (:func:`shard_indices`: index mod
    ``shards``), so ``shards`` jobs, each with its own store, score disjoint parts that
    :func:`nasearch.scoring.merge.merge_stores` puts together.
    """
    run = settings_from(proxy, dataset, settings).replace(shipped=False)
    space = get_space(run.space, where="build_score_table(space=...)")
    run = run.replace(space=space)
    archs = table_cells(space, sample, run.seed, shard, shards)
    key = run.key()
    with ScoreStore(store_path) as store:
        scores = score_cells(archs, run, store=store)
        stored = store.get_many(key, archs, with_seconds=True)
    out = Path(out_csv)
    out.parent.mkdir(parents=True, exist_ok=True)
    columns = [key.proxy, key.version, key.dataset_field, key.image_dataset, key.batch_size, key.num_batches, key.seed]
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["index", "arch", "connected", "score", "seconds", "proxy", "version", "dataset",
                    "image_dataset", "batch_size", "num_batches", "seed"])
        for a, s in zip(archs, scores):
            secs = stored.get(a.index)
            w.writerow([space.official_index(a), space.to_string(a), int(not space.is_trivial(a)), repr(float(s)),
                        "" if secs is None else f"{secs[1]:.6g}", *columns])  # type: ignore[index]
    log.info("wrote %d %s scores to %s (store %s)", len(archs), key.proxy, out, store_path)
    return out


__all__ = ["build_score_table", "shard_indices", "table_cells"]
