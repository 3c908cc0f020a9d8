"""The engine: score many cells of one run, reading what is stored and computing the rest.

:func:`score_cells` is the one entry point (the pre-filter's scorer, the correlation study and the
score tables all call it). For one run (:class:`~nasearch.scoring.settings.ScoringSettings`) it

1. resolves and checks the settings (:meth:`ScoringSettings.resolve`) and parses the cells with the
   run's space; trivial cells (``space.is_trivial``) are never run;
2. reads the layers beneath the computation, in order: the user's store
   (:class:`~nasearch.scoring.store.ScoreStore`, under the run's
   :class:`~nasearch.scoring.store.ScoreKey`), then the tables shipped in the package
   (:mod:`nasearch.scoring.shipped`; ``shipped=False`` skips them);
3. computes the rest: draws the run's batches (:mod:`nasearch.scoring.batches`), splits the cells
   into chunks and hands them to an executor (:mod:`nasearch.executors`) as one
   :class:`~nasearch.executors.ScoringJob` whose worker is
   :func:`~nasearch.scoring.worker.score_chunk`; ``executor='local'`` (default) scores in this
   process with ``workers=1`` or in a ``spawn`` process pool, ``executor='ray'`` in Ray tasks.
   Workers run one torch thread and receive the batches once (as numpy arrays);
4. writes computed values as they arrive (:class:`~nasearch.scoring.writer.StoreWriter`: the driver
   is the only writer, so every executor resumes the same way); raw values are stored and
   disconnected cells are not;
5. applies the never-preferred policy on the way out (:mod:`nasearch.scoring.policy`).

Determinism: what a worker does to make a value independent of order, process, thread count and
executor is in :mod:`nasearch.scoring.worker` and :mod:`nasearch.determinism`; across machines
(other CPU kernels) scores move within each proxy's measured ``ProxySpec.tolerance``
(``experiments/cross_machine``).

Device: ``device='cpu'`` (default), ``'cuda'``, ``'cuda:N'`` or ``'auto'``
(:func:`nasearch.device.resolve_device`). The store key does not record the device: CUDA and CPU
scores are expected to agree within each proxy's cross-machine tolerance (not yet measured on a
GPU machine).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from nasearch.executors import Executor, ScoringJob, make_executor
from nasearch.proxies.registry import get_proxy
from nasearch.scoring import shipped as shipped_scores
from nasearch.scoring.batches import run_batches
from nasearch.scoring.ensemble import combine_connected, member_settings, space_reference
from nasearch.scoring.policy import apply_policy, never_preferred, rank_key
from nasearch.scoring.settings import ResolvedScoring, ScoringSettings, settings_from
from nasearch.scoring.store import ScoreStore
from nasearch.scoring.worker import CellScoring, score_chunk
from nasearch.scoring.writer import StoreWriter
from nasearch.space.base import SearchSpace, get_space

Arch = Any
"""An arch of the scored space."""

log = logging.getLogger(__name__)


def score_cells(
    archs: Sequence[Arch | str | int],
    proxy: str | ScoringSettings,
    dataset: str | None = None,
    *,
    store: ScoreStore | None = None,
    **settings: Any,
) -> np.ndarray:
    """Scores (float64, one per entry of ``archs``, in order) of one run.

    The run is a :class:`~nasearch.scoring.settings.ScoringSettings` (``score_cells(archs,
    settings, store=store)``) or a proxy name with the settings as keywords (``score_cells(archs,
    "zico", "cifar10", space="nasbench_macro", workers=2)``; ``space=`` is always given); keywords given
    with a settings object override its fields. ``image_dataset`` (default ``dataset``) is where
    the batches come from, read with :func:`nasearch.data.load_images` under ``data_root`` (default
    ``$NASEARCH_DATA``); ``image_dataset='none'`` or ``data_free=True`` uses seeded Gaussian batches
    instead. ``num_batches`` defaults to the proxy's ``min_batches``. Disconnected cells and
    non-finite scores get :func:`~nasearch.scoring.policy.never_preferred`. ``executor`` is a
    registered executor name (``local``, ``ray``; its options in ``executor_options``) or an
    :class:`~nasearch.executors.Executor` the caller owns. With a ``store``, cells it lacks are
    looked up in the package's shipped score tables before any is computed (``shipped=False`` skips
    them). ``checkpoint`` binds a file-parameterised proxy (``ghn``) to a trained model; the store
    keys its scores by the file's content hash (the spec's ``version``).
    """
    asked = settings_from(proxy, dataset, settings)
    if get_proxy(asked.proxy, where="score_cells(proxy=...)").members:
        return _score_ensemble(archs, asked, store)
    run = asked.resolve()
    spec, space, key, opts = run.spec, run.space, run.key, run.settings
    cells = [space.parse(a, where="score_cells(archs=...)") for a in archs]
    raw: dict[int, float] = {}

    connected = {a.index: a for a in cells if not space.is_trivial(a)}
    n_disconnected = len(cells) - sum(1 for a in cells if a.index in connected)
    if n_disconnected:
        log.warning(
            "%d of %d cells are disconnected (no path from input to output): not scored, given %s (%s)",
            n_disconnected, len(cells), never_preferred(spec), spec.name,
        )
    if store is not None and connected:
        raw.update(store.get_many(key, list(connected.values())))
        if opts.shipped:  # read-only tables shipped in the package, beneath the user's store
            raw.update(shipped_scores.get_many(key, [i for i in connected if i not in raw]))  # type: ignore[arg-type]
    todo = [a for i, a in sorted(connected.items()) if i not in raw]
    log.info("%s on %s: %d cells, %d disconnected, %d cached, %d to compute (%s)", spec.name, key.dataset,
             len(cells), n_disconnected, len(connected) - len(todo), len(todo), key.describe())
    if todo:
        raw.update(_compute(run, todo, store))
    return apply_policy(spec, cells, connected, raw)


def _score_ensemble(archs: Sequence[Arch | str | int], settings: ScoringSettings,
                    store: ScoreStore | None) -> np.ndarray:
    """An ensemble's scores (:mod:`nasearch.proxies.ensembles`): every member scored by
    :func:`score_cells` (stored and shipped scores reused), their rank keys combined
    (:func:`~nasearch.scoring.ensemble.combine`) over the connected cells of the call
    (``ranking=run``) or each member's whole-space table (``ranking=space``, checked before any work);
    disconnected cells get ``-inf``."""
    spec = get_proxy(settings.proxy, where="score_cells(proxy=...)", checkpoint=settings.checkpoint)
    space = get_space(settings.space, where="score_cells(space=...)")
    cells = [space.parse(a, where="score_cells(archs=...)") for a in archs]
    for m in spec.members:  # every member's settings checked before any member is scored
        member_settings(settings, m).resolve()
    refs = ([space_reference(settings, m, space, store, where=f"ensemble {spec.name}") for m in spec.members]
            if spec.ranking == "space" else None)
    members = [member_settings(settings, m) for m in spec.members]
    keys = np.column_stack([rank_key(ms.proxy, score_cells(cells, ms, store=store)) for ms in members])
    live = np.array([not space.is_trivial(a) for a in cells], dtype=bool)
    return combine_connected(keys, live, spec.combine, refs)


def _compute(run: ResolvedScoring, todo: list[Arch], store: ScoreStore | None) -> dict[int, float]:
    """Run ``todo`` through the run's executor; store results as they arrive."""
    opts, key, space = run.settings, run.key, run.space
    batches, size = run_batches(key, space, key.dataset, opts.data_root)
    owned = isinstance(opts.executor, str)
    ex = (make_executor(opts.executor, workers=int(opts.workers), device=run.device,
                        where="score_cells(executor=...)", **dict(opts.executor_options or {}))
          if isinstance(opts.executor, str) else opts.executor)
    try:
        job = ScoringJob(worker=score_chunk,
                         payload=CellScoring(spec=run.spec, dataset=key.dataset, seed=key.seed, input_size=size,
                                             space=space.name),
                         arrays=tuple((x.numpy(), y.numpy()) for x, y in batches), device=run.device,
                         threads=ex.threads_per_worker())
        return _run_chunks(ex, job, key, todo, store, opts, space)
    finally:
        if owned:
            ex.close()


def _run_chunks(ex: Executor, job: ScoringJob, key: Any, todo: list[Arch], store: ScoreStore | None,
                opts: ScoringSettings, space: SearchSpace) -> dict[int, float]:
    results: dict[int, float] = {}
    writer = StoreWriter(store, key, int(opts.flush_every), every_chunk=ex.remote)
    size = opts.chunk_size or max(1, min(32, math.ceil(len(todo) / (ex.parallelism * 4))))
    chunks = [[a.index for a in todo[i : i + size]] for i in range(0, len(todo), size)]
    bar = tqdm(total=len(todo), desc=f"{key.proxy} {key.dataset}", unit="cell", disable=not opts.progress)
    stream = ex.map_chunks(job, chunks)
    try:
        for chunk in stream:
            for i, v, s in chunk:
                results[i] = v
                writer.add(space.from_index(i), v, s)
            writer.chunk_done()
            bar.update(len(chunk))
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
        writer.flush()
        bar.close()
    return results


__all__ = ["score_cells"]
