"""The scoring engine: score many cells with one registered proxy, reproducibly, in parallel, cached.

:func:`score_cells` is the one entry point (the pre-filter, the correlation study and the score tables
all call it). For each cell it

1. builds the cell's network with ``build_network(arch, dataset, bn=spec.bn, generator=g)`` where
   ``g`` is a ``torch.Generator`` seeded from ``SeedSequence(seed, spawn_key=(arch.index,))`` (first
   child); the proxy's :class:`ProxyContext` gets a generator from the second child. A cell's score
   therefore depends only on (proxy, dataset, batches, seed, cell): not on the order of the cells,
   the worker that ran it, or the process;
2. calls the proxy on the run's minibatches, the same for every cell of a run:
   ``sample_batches(load_images(image_dataset), batch_size, num_batches, seed)``. Each call gets its
   own copies of the batches, so a proxy that modifies them in place cannot change later cells.

Batches without images ("data-free" batches, ``image_dataset='none'`` in the cache key) are standard
normal images of shape ``(batch_size, 3, size, size)``, ``size`` the input size of ``dataset``, drawn from the run's seed, with all-zero
labels. They are used for proxies registered ``data_free=True`` and for proxies that need no network
(``needs_network=False``: params, flops), which never read image files, and for any proxy that does
not need labels when the caller asks for ``data_free=True`` (or ``image_dataset='none'``).

Proxies that need no network are still handed a freshly built network (building one takes ~50 ms;
the proxy signature ``fn(net, batches, ctx)`` stays the same for all proxies); no forward pass is run
by the engine.

The never-preferred policy (:func:`never_preferred`): a cell whose score would mislead a ranking gets
the value a ranking can never prefer, ``-inf`` for higher-is-better proxies and ``+inf`` for the
others. This applies to disconnected cells (no path from input to output: their network outputs
zeros, NB201 trains them to chance; they are not run) and to cells whose proxy returned NaN or
+-inf. Each call logs one warning for each kind, with counts, never one per cell.

Caching: with a :class:`~nasearch.proxies.store.ScoreStore` the engine reads the cells already stored
under the run's :class:`~nasearch.proxies.store.ScoreKey` and computes only the missing ones, writing
new scores in short transactions (every ``flush_every`` cells or every few seconds, and after each
finished chunk with ``workers > 1``), so a killed run keeps its work and a rerun resumes. Raw values
are stored; the policy is applied on read. Disconnected cells are not stored.

Parallelism: ``workers > 1`` runs chunks of cells in a ``ProcessPoolExecutor`` with the ``spawn``
context; each worker sets ``torch.set_num_threads(1)`` and receives the batches once (as numpy
arrays); the parent collects the results and is the only writer of the store. Results equal those of
``workers=1`` (with one torch thread in the parent, as the tests use; different thread counts may
change the last bits of a float). ``workers=1`` leaves the caller's thread setting alone.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from nasearch.data.images import CLASSES, SIZE, load_images, sample_batches
from nasearch.proxies.registry import ProxyContext, ProxyError, ProxySpec, get_proxy
from nasearch.proxies.store import ScoreKey, ScoreStore
from nasearch.space.arch import NUM_ARCHS, Arch
from nasearch.space.networks import INPUT_SIZE, NUM_CLASSES, build_network

log = logging.getLogger(__name__)

NO_IMAGES = "none"
"""``image_dataset`` value meaning data-free (seeded Gaussian) batches; also its value in cache keys."""

_DATA_FREE_STREAM = NUM_ARCHS + 1
"""SeedSequence spawn key of the data-free batches (beyond every cell index, so streams never meet)."""

Batches = list[tuple[torch.Tensor, torch.Tensor]]


# ---------------------------------------------------------------------------------------- policy
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


# ---------------------------------------------------------------------------------------- seeding
def _generator(ss: np.random.SeedSequence) -> torch.Generator:
    state = int(ss.generate_state(1, np.uint64)[0]) & (2**63 - 1)
    return torch.Generator().manual_seed(state)


def cell_generators(seed: int, arch: Arch) -> tuple[torch.Generator, torch.Generator]:
    """(network generator, proxy-context generator) of one cell under one run seed."""
    net_ss, ctx_ss = np.random.SeedSequence(int(seed), spawn_key=(arch.index,)).spawn(2)
    return _generator(net_ss), _generator(ctx_ss)


def data_free_batches(batch_size: int, num_batches: int, input_size: int, seed: int) -> Batches:
    """Standard-normal images (N x 3 x size x size) with all-zero labels, drawn from ``seed``."""
    g = _generator(np.random.SeedSequence(int(seed), spawn_key=(_DATA_FREE_STREAM,)))
    return [
        (
            torch.randn(batch_size, 3, input_size, input_size, generator=g),
            torch.zeros(batch_size, dtype=torch.int64),
        )
        for _ in range(num_batches)
    ]


# ---------------------------------------------------------------------------------------- one cell
def score_one(
    spec: ProxySpec, arch: Arch, dataset: str, batches: Batches, seed: int, input_size: int
) -> tuple[float, float]:
    """Score one (connected) cell: ``(raw value, seconds)``. Failures name the proxy and the cell."""
    t0 = time.perf_counter()
    g_net, g_ctx = cell_generators(seed, arch)
    try:
        net = build_network(arch, dataset, bn=spec.bn, generator=g_net)
        net.train()
        ctx = ProxyContext(num_classes=NUM_CLASSES[dataset], generator=g_ctx, input_size=input_size)
        value = spec.fn(net, [(x.clone(), y.clone()) for x, y in batches], ctx)
        value = float(value.detach().item() if isinstance(value, torch.Tensor) else value)
    except Exception as exc:
        raise ProxyError(
            f"proxy {spec.name!r} failed on cell {arch.index} {arch} (dataset {dataset}, seed {seed}): "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    return value, time.perf_counter() - t0


# worker-process state, set once per worker by _init_worker
_W: dict = {}


def _init_worker(spec: ProxySpec, dataset: str, arrays: list[tuple[np.ndarray, np.ndarray]], seed: int,
                 input_size: int) -> None:
    torch.set_num_threads(1)
    _W.update(
        spec=spec,
        dataset=dataset,
        batches=[(torch.from_numpy(x), torch.from_numpy(y)) for x, y in arrays],
        seed=seed,
        input_size=input_size,
    )


def _run_chunk(indices: list[int]) -> list[tuple[int, float, float]]:
    out = []
    for i in indices:
        v, s = score_one(_W["spec"], Arch.from_index(i), _W["dataset"], _W["batches"], _W["seed"],
                         _W["input_size"])
        out.append((i, v, s))
    return out


# ---------------------------------------------------------------------------------------- engine
def _positive_int(value: object, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ProxyError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def score_key(
    proxy: str,
    dataset: str = "cifar10",
    *,
    image_dataset: str | None = None,
    batch_size: int = 64,
    num_batches: int | None = None,
    seed: int = 0,
    data_free: bool = False,
    checkpoint: str | None = None,
) -> ScoreKey:
    """The validated cache key of a run (the same validation and defaults as :func:`score_cells`)."""
    spec = get_proxy(proxy, where="score_cells(proxy=...)", checkpoint=checkpoint)
    if dataset not in NUM_CLASSES:
        raise ProxyError(f"unknown dataset {dataset!r} (score_cells(dataset=...)); accepted: {', '.join(NUM_CLASSES)}")
    if image_dataset is None:
        image_dataset = dataset
    if image_dataset == NO_IMAGES:
        data_free = True
    elif image_dataset not in CLASSES:
        raise ProxyError(
            f"unknown image dataset {image_dataset!r} (score_cells(image_dataset=...)); accepted: "
            f"{', '.join(CLASSES)}, or {NO_IMAGES!r} for data-free batches"
        )
    batch_size = _positive_int(batch_size, "batch_size")
    num_batches = spec.min_batches if num_batches is None else _positive_int(num_batches, "num_batches")
    if num_batches < spec.min_batches:
        raise ProxyError(
            f"proxy {spec.name!r} needs at least {spec.min_batches} batches, got num_batches={num_batches}"
        )
    seed = _positive_int(seed, "seed", minimum=0)
    uses_images = spec.needs_network and not spec.data_free and not data_free
    if data_free and spec.needs_labels:
        raise ProxyError(
            f"proxy {spec.name!r} needs labels and cannot run data-free (data_free=True or "
            f"image_dataset={NO_IMAGES!r}); give it an image dataset: {', '.join(CLASSES)}"
        )
    if uses_images and spec.needs_labels and CLASSES[image_dataset] > NUM_CLASSES[dataset]:
        raise ProxyError(
            f"proxy {spec.name!r} needs labels, but {image_dataset} images have {CLASSES[image_dataset]} "
            f"classes and a {dataset} network only {NUM_CLASSES[dataset]} outputs; use image_dataset={dataset!r}"
        )
    return ScoreKey(
        proxy=spec.name,
        dataset=dataset,
        image_dataset=image_dataset if uses_images else NO_IMAGES,
        batch_size=batch_size,
        num_batches=num_batches,
        seed=seed,
        version=str(getattr(spec, "version", "1")),
    )


def score_cells(
    archs: Sequence[Arch | str | int],
    proxy: str,
    dataset: str = "cifar10",
    *,
    image_dataset: str | None = None,
    data_root: str | os.PathLike[str] | None = None,
    batch_size: int = 64,
    num_batches: int | None = None,
    seed: int = 0,
    workers: int = 1,
    store: ScoreStore | None = None,
    progress: bool = True,
    data_free: bool = False,
    flush_every: int = 8,
    chunk_size: int | None = None,
    checkpoint: str | None = None,
) -> np.ndarray:
    """Scores (float64, one per entry of ``archs``, in order) of ``proxy`` on ``dataset``'s networks.

    ``image_dataset`` (default ``dataset``) is where the batches come from, read with
    :func:`nasearch.data.load_images` under ``data_root`` (default ``$NASEARCH_DATA``);
    ``image_dataset='none'`` or ``data_free=True`` uses seeded Gaussian batches instead.
    ``num_batches`` defaults to the proxy's ``min_batches``. Disconnected cells and non-finite scores
    get :func:`never_preferred`. See the module docstring for seeding, caching and parallelism.
    ``checkpoint`` binds a file-parameterised proxy (``ghn``) to a trained model; the store keys its
    scores by the file's content hash (the spec's ``version``).
    """
    spec = get_proxy(proxy, where="score_cells(proxy=...)", checkpoint=checkpoint)
    key = score_key(proxy, dataset, image_dataset=image_dataset, batch_size=batch_size,
                    num_batches=num_batches, seed=seed, data_free=data_free, checkpoint=checkpoint)
    workers = _positive_int(workers, "workers")
    flush_every = _positive_int(flush_every, "flush_every")
    cells = [Arch.parse(a) for a in archs]
    sentinel = never_preferred(spec)
    raw: dict[int, float] = {}

    connected = {a.index: a for a in cells if a.is_connected()}
    n_disconnected = sum(1 for a in cells if not a.is_connected())
    if n_disconnected:
        log.warning(
            "%d of %d cells are disconnected (no path from input to output): not scored, given %s (%s)",
            n_disconnected, len(cells), sentinel, spec.name,
        )
    if store is not None and connected:
        raw.update(store.get_many(key, list(connected.values())))  # type: ignore[arg-type]
    todo = [a for i, a in sorted(connected.items()) if i not in raw]
    log.info("%s on %s: %d cells, %d disconnected, %d cached, %d to compute (%s)", spec.name, dataset,
             len(cells), n_disconnected, len(connected) - len(todo), len(todo), key.describe())

    if todo:
        if key.image_dataset == NO_IMAGES:
            size = INPUT_SIZE[dataset]
            batches = data_free_batches(key.batch_size, key.num_batches, size, key.seed)
        else:
            images = load_images(key.image_dataset, data_root, "train")
            size = SIZE[key.image_dataset]
            batches = sample_batches(images, key.batch_size, key.num_batches, key.seed)
        computed = _compute(spec, key, todo, batches, size, workers, store, progress, flush_every, chunk_size)
        raw.update(computed)

    out = np.empty(len(cells), dtype=np.float64)
    bad = 0
    for j, a in enumerate(cells):
        if a.index not in connected:
            out[j] = sentinel
            continue
        v = raw[a.index]
        if not math.isfinite(v):
            bad += 1
            v = sentinel
        out[j] = v
    if bad:
        log.warning("%d of %d scored cells got a non-finite %s score (NaN or inf): given %s",
                    bad, len(cells) - n_disconnected, spec.name, sentinel)
    return out


def _compute(
    spec: ProxySpec,
    key: ScoreKey,
    todo: list[Arch],
    batches: Batches,
    input_size: int,
    workers: int,
    store: ScoreStore | None,
    progress: bool,
    flush_every: int,
    chunk_size: int | None,
) -> dict[int, float]:
    results: dict[int, float] = {}
    pending: list[tuple[Arch, float, float]] = []
    last_flush = time.monotonic()

    def flush() -> None:
        nonlocal last_flush
        if store is not None and pending:
            store.put_many(key, pending)
        pending.clear()
        last_flush = time.monotonic()

    bar = tqdm(total=len(todo), desc=f"{spec.name} {key.dataset}", unit="cell", disable=not progress)
    try:
        if workers == 1 or len(todo) == 1:
            for a in todo:
                v, s = score_one(spec, a, key.dataset, batches, key.seed, input_size)
                results[a.index] = v
                pending.append((a, v, s))
                if len(pending) >= flush_every or time.monotonic() - last_flush > 5.0:
                    flush()
                bar.update(1)
        else:
            size = chunk_size or max(1, min(32, math.ceil(len(todo) / (workers * 4))))
            chunks = [[a.index for a in todo[i : i + size]] for i in range(0, len(todo), size)]
            arrays = [(x.numpy(), y.numpy()) for x, y in batches]
            with ProcessPoolExecutor(
                max_workers=min(workers, len(chunks)),
                mp_context=get_context("spawn"),
                initializer=_init_worker,
                initargs=(spec, key.dataset, arrays, key.seed, input_size),
            ) as ex:
                futures: set[Future] = {ex.submit(_run_chunk, c) for c in chunks}
                try:
                    while futures:
                        done, futures = wait(futures, return_when=FIRST_COMPLETED)
                        for fut in done:
                            for i, v, s in fut.result():
                                results[i] = v
                                pending.append((Arch.from_index(i), v, s))
                            flush()
                            bar.update(len(fut.result()))
                except BaseException:
                    for fut in futures:
                        fut.cancel()
                    raise
    finally:
        flush()
        bar.close()
    return results


# ---------------------------------------------------------------------------------------- tables
def build_score_table(
    proxy: str,
    dataset: str = "cifar10",
    *,
    sample: int | None = None,
    seed: int = 0,
    batch_size: int = 64,
    num_batches: int | None = None,
    workers: int = 1,
    store_path: str | os.PathLike[str],
    out_csv: str | os.PathLike[str],
    image_dataset: str | None = None,
    data_root: str | os.PathLike[str] | None = None,
    data_free: bool = False,
    progress: bool = True,
    checkpoint: str | None = None,
) -> Path:
    """Score the whole space (``sample=None``) or ``sample`` cells drawn without replacement with
    ``np.random.default_rng(seed)`` into the store at ``store_path``, and write ``out_csv``.

    CSV columns: ``index`` (nasearch index), ``arch``, ``connected``, ``score`` (never-preferred policy
    applied), ``seconds`` (compute time, empty for disconnected cells), then the run's settings
    (``proxy, version, dataset, image_dataset, batch_size, num_batches, seed``) on every row. Rows are
    in index order. Rerunning with the same store resumes. Returns ``out_csv`` as a Path.
    """
    if sample is None:
        indices = np.arange(NUM_ARCHS)
    else:
        if isinstance(sample, bool) or not isinstance(sample, (int, np.integer)) or not 1 <= sample <= NUM_ARCHS:
            raise ProxyError(f"sample must be None (all cells) or an integer in 1..{NUM_ARCHS}, got {sample!r}")
        indices = np.sort(np.random.default_rng(int(seed)).choice(NUM_ARCHS, size=int(sample), replace=False))
    archs = [Arch.from_index(int(i)) for i in indices]
    key = score_key(proxy, dataset, image_dataset=image_dataset, batch_size=batch_size,
                    num_batches=num_batches, seed=seed, data_free=data_free, checkpoint=checkpoint)
    with ScoreStore(store_path) as store:
        scores = score_cells(archs, proxy, dataset, image_dataset=image_dataset, data_root=data_root,
                             batch_size=batch_size, num_batches=num_batches, seed=seed, workers=workers,
                             store=store, progress=progress, data_free=data_free, checkpoint=checkpoint)
        stored = store.get_many(key, archs, with_seconds=True)
    out = Path(out_csv)
    out.parent.mkdir(parents=True, exist_ok=True)
    settings = [key.proxy, key.version, key.dataset, key.image_dataset, key.batch_size, key.num_batches, key.seed]
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["index", "arch", "connected", "score", "seconds", "proxy", "version", "dataset",
                    "image_dataset", "batch_size", "num_batches", "seed"])
        for a, s in zip(archs, scores):
            secs = stored.get(a.index)
            w.writerow([a.index, a.to_string(), int(a.is_connected()), repr(float(s)),
                        "" if secs is None else f"{secs[1]:.6g}", *settings])  # type: ignore[index]
    log.info("wrote %d %s scores to %s (store %s)", len(archs), proxy, out, store_path)
    return out


__all__ = [
    "NO_IMAGES",
    "build_score_table",
    "cell_generators",
    "data_free_batches",
    "never_preferred",
    "rank_key",
    "score_cells",
    "score_key",
    "score_one",
]
