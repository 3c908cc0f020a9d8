"""The scoring engine: score many cells with one registered proxy, reproducibly, in parallel, cached.

:func:`score_cells` is the one entry point (the pre-filter, the correlation study and the score tables
all call it). For each cell it

Cells are archs of one search space (``space=``, a :class:`~nasearch.space.base.SearchSpace` or its
registry name; always given: the engine knows no default space): parsed by ``space.parse``, networks built by
``space.build_network``, trivial cells found by ``space.is_trivial``, data-free batches drawn at
``space.input_size(dataset)``, and the space is part of the cache key. ``dataset`` is the task whose
network is built (one of ``space.tasks``).

1. builds the cell's network with ``space.build_network(arch, dataset, bn=spec.bn, generator=g)`` where
   ``g`` is a ``torch.Generator`` seeded from ``SeedSequence(seed, spawn_key=(arch.index,))`` (first
   child); the proxy's :class:`ProxyContext` gets a generator from the second child. A cell's score
   therefore depends only on (proxy, dataset, batches, seed, cell): not on the order of the cells,
   the worker that ran it, or the process;
2. calls the proxy on the run's minibatches, the same for every cell of a run:
   ``sample_batches(load_images(image_dataset), batch_size, num_batches, seed)``. Each call gets its
   own copies of the batches, so a proxy that modifies them in place cannot change later cells.
   For a space with ``resize_images`` (TransNAS-Bench-101) images of another size are first resized
   to ``space.input_size(dataset)`` (:func:`~nasearch.data.images.resize_batches`); the image set stays
   in the score key, so every figure says which images it used.

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

Parallelism: the cells to compute are split into chunks and run by an executor
(:mod:`nasearch.executors`): ``executor='local'`` (default) scores in this process with ``workers=1``
or in a ``spawn`` process pool of ``workers`` processes, ``executor='ray'`` in Ray tasks. Workers
run one torch thread and receive the batches once (as numpy arrays); the calling process (the driver)
collects the results as chunks finish and is the only writer of the store, so every executor resumes
the same way. The executor runs :func:`score_chunk` (the job carries it, with a :class:`CellScoring`
of the run), so the executors know nothing of proxies. Every proxy call runs with one torch intra-op
thread (:func:`one_thread`, from :mod:`nasearch.determinism`, which
restores the caller's setting afterwards), so a score is bit-identical whatever the caller's thread
count, ``workers`` or executor (``tests/unit/test_scoring.py`` checks every proxy). Across machines (other
CPU kernels) scores move within each proxy's measured ``ProxySpec.tolerance``
(``experiments/cross_machine``).

Device: ``device='cpu'`` (default), ``'cuda'``, ``'cuda:N'`` or ``'auto'``
(:func:`nasearch.device.resolve_device`). The network is built on the CPU from the cell's generator
(the same initial weights on every device) and moved to the device; the batches move to the device
once per worker; CUDA work runs with cuDNN deterministic and TF32 off
(:func:`nasearch.device.deterministic_kernels`). The store key does not record the device: CUDA and
CPU scores are expected to agree within each proxy's cross-machine tolerance (not yet measured on a
GPU machine).
"""

from __future__ import annotations

import csv
import logging
import math
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from nasearch.data.images import CLASSES, SIZE, load_images, resize_batches, sample_batches
from nasearch.determinism import cell_generators, one_thread, seeded_generator
from nasearch.device import deterministic_kernels, parse_device
from nasearch.executors import ChunkResult, Executor, ScoringJob, make_executor
from nasearch.proxies import shipped as shipped_scores
from nasearch.proxies.registry import ProxyContext, ProxyError, ProxySpec, get_proxy
from nasearch.proxies.store import ScoreKey, ScoreStore, StoreError
from nasearch.space.base import SearchSpace, get_space

Arch = object
"""An arch of the scored space."""

log = logging.getLogger(__name__)

NO_IMAGES = "none"
"""``image_dataset`` value meaning data-free (seeded Gaussian) batches; also its value in cache keys."""



def data_free_stream(space: SearchSpace | str) -> int:
    """SeedSequence spawn key of the data-free batches of ``space``: one past its last arch index
    (``num_archs + 1``, beyond every cell's key, so the streams never meet; NB201: 15,626)."""
    return get_space(space).num_archs + 1

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
# cell_generators and one_thread live in nasearch.determinism (the EZNAS statistics share them)
_generator = seeded_generator


def data_free_batches(
    batch_size: int, num_batches: int, input_size: int, seed: int, *, stream: int
) -> Batches:
    """Standard-normal images (N x 3 x size x size) with all-zero labels, drawn from ``seed``
    (``stream``: :func:`data_free_stream` of the space)."""
    g = seeded_generator(np.random.SeedSequence(int(seed), spawn_key=(int(stream),)))
    return [
        (
            torch.randn(batch_size, 3, input_size, input_size, generator=g),
            torch.zeros(batch_size, dtype=torch.int64),
        )
        for _ in range(num_batches)
    ]


# ---------------------------------------------------------------------------------------- one cell
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
            value = spec.fn(net, [(x.clone(), y.clone()) for x, y in batches], ctx)
            value = float(value.detach().item() if isinstance(value, torch.Tensor) else value)
    except Exception as exc:
        raise ProxyError(
            f"proxy {spec.name!r} failed on cell {arch.index} {arch} "  # type: ignore[attr-defined]
            f"(space {space.name}, dataset {dataset}, seed {seed}): "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    return value, time.perf_counter() - t0


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
    space: SearchSpace | str,
    checkpoint: str | None = None,
) -> ScoreKey:
    """The validated cache key of a run (the same validation and defaults as :func:`score_cells`)."""
    spec = get_proxy(proxy, where="score_cells(proxy=...)", checkpoint=checkpoint)
    space = get_space(space, where="score_cells(space=...)")
    if dataset not in space.networks_for():
        raise ProxyError(
            f"unknown dataset {dataset!r} (score_cells(dataset=...)) for space {space.name!r}: proxies "
            f"score the networks of {', '.join(space.networks_for())}"
        )
    if image_dataset is None:
        if dataset in CLASSES:
            image_dataset = dataset
        elif data_free or spec.data_free or not spec.needs_network:
            image_dataset = NO_IMAGES  # a task without an image set here (TransNAS-Bench-101's)
        else:
            raise ProxyError(
                f"proxy {spec.name!r} needs images and there are none for {dataset!r} (space {space.name!r}): "
                f"name an image set with image_dataset=... ({', '.join(CLASSES)}), or run data-free "
                f"(data_free=True) if the proxy needs no labels"
            )
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
    if uses_images and spec.needs_labels and CLASSES[image_dataset] > space.num_classes(dataset):
        raise ProxyError(
            f"proxy {spec.name!r} needs labels, but {image_dataset} images have {CLASSES[image_dataset]} "
            f"classes and a {dataset} network only {space.num_classes(dataset)} outputs; use "
            + (f"image_dataset={dataset!r}" if dataset in CLASSES else "images with fewer classes")
        )
    return ScoreKey(
        proxy=spec.name,
        dataset=dataset,
        image_dataset=image_dataset if uses_images else NO_IMAGES,
        batch_size=batch_size,
        num_batches=num_batches,
        seed=seed,
        version=str(getattr(spec, "version", "1")),
        space=space.name,
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
    shipped: bool = True,
    space: SearchSpace | str,
    executor: str | Executor = "local",
    executor_options: dict[str, Any] | None = None,
    device: str | torch.device = "cpu",
    checkpoint: str | None = None,
) -> np.ndarray:
    """Scores (float64, one per entry of ``archs``, in order) of ``proxy`` on ``dataset``'s networks.

    ``image_dataset`` (default ``dataset``) is where the batches come from, read with
    :func:`nasearch.data.load_images` under ``data_root`` (default ``$NASEARCH_DATA``);
    ``image_dataset='none'`` or ``data_free=True`` uses seeded Gaussian batches instead.
    ``num_batches`` defaults to the proxy's ``min_batches``. Disconnected cells and non-finite scores
    get :func:`never_preferred`. ``executor`` is a registered executor name (``local``, ``ray``; its
    options in ``executor_options``) or an :class:`~nasearch.executors.Executor` the caller owns;
    ``device`` is ``cpu``, ``cuda``, ``cuda:N`` or ``auto``. See the module docstring for seeding,
    caching, parallelism and devices.
    With a ``store``, cells it lacks are looked up in the package's shipped score tables before any
    is computed (:mod:`nasearch.proxies.shipped`; ``shipped=False`` skips them).
    ``checkpoint`` binds a file-parameterised proxy (``ghn``) to a trained model; the store keys its
    scores by the file's content hash (the spec's ``version``).
    """
    spec = get_proxy(proxy, where="score_cells(proxy=...)", checkpoint=checkpoint)
    space = get_space(space, where="score_cells(space=...)")
    key = score_key(proxy, dataset, image_dataset=image_dataset, batch_size=batch_size,
                    num_batches=num_batches, seed=seed, data_free=data_free, space=space, checkpoint=checkpoint)
    workers = _positive_int(workers, "workers")
    device = parse_device(device, where="score_cells(device=...)")
    flush_every = _positive_int(flush_every, "flush_every")
    cells = [space.parse(a, where="score_cells(archs=...)") for a in archs]
    sentinel = never_preferred(spec)
    raw: dict[int, float] = {}

    connected = {a.index: a for a in cells if not space.is_trivial(a)}
    n_disconnected = len(cells) - sum(1 for a in cells if a.index in connected)
    if n_disconnected:
        log.warning(
            "%d of %d cells are disconnected (no path from input to output): not scored, given %s (%s)",
            n_disconnected, len(cells), sentinel, spec.name,
        )
    if store is not None and connected:
        raw.update(store.get_many(key, list(connected.values())))  # type: ignore[arg-type]
        if shipped:  # read-only tables shipped in the package, beneath the user's store
            raw.update(shipped_scores.get_many(key, [i for i in connected if i not in raw]))  # type: ignore[arg-type]
    todo = [a for i, a in sorted(connected.items()) if i not in raw]
    log.info("%s on %s: %d cells, %d disconnected, %d cached, %d to compute (%s)", spec.name, dataset,
             len(cells), n_disconnected, len(connected) - len(todo), len(todo), key.describe())

    if todo:
        if key.image_dataset == NO_IMAGES:
            size = space.input_size(dataset)
            batches = data_free_batches(key.batch_size, key.num_batches, size, key.seed,
                                        stream=data_free_stream(space))
        else:
            images = load_images(key.image_dataset, data_root, "train")
            size = SIZE[key.image_dataset]
            batches = sample_batches(images, key.batch_size, key.num_batches, key.seed)
            if space.resize_images and size != space.input_size(dataset):
                size = space.input_size(dataset)
                batches = resize_batches(batches, size)
        owned = isinstance(executor, str)
        ex = (make_executor(executor, workers=workers, device=device, where="score_cells(executor=...)",
                            **(executor_options or {}))
              if isinstance(executor, str) else executor)
        try:
            job = ScoringJob(worker=score_chunk,
                             payload=CellScoring(spec=spec, dataset=dataset, seed=key.seed, input_size=size,
                                                 space=space.name),
                             arrays=tuple((x.numpy(), y.numpy()) for x, y in batches), device=device,
                             threads=ex.threads_per_worker())
            raw.update(_compute(ex, job, key, todo, store, progress, flush_every, chunk_size, space))
        finally:
            if owned:
                ex.close()

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
    ex: Executor,
    job: ScoringJob,
    key: ScoreKey,
    todo: list[Arch],
    store: ScoreStore | None,
    progress: bool,
    flush_every: int,
    chunk_size: int | None,
    space: SearchSpace,
) -> dict[int, float]:
    """Run ``todo`` through the executor; store results as they arrive (the driver is the only writer)."""
    results: dict[int, float] = {}
    pending: list[tuple[Arch, float, float]] = []
    done: list[tuple[Arch, float, float]] = []  # every score computed here (rescued if the store breaks)
    last_flush = time.monotonic()

    def flush() -> None:
        nonlocal last_flush, store
        if store is not None and pending:
            try:
                store.put_many(key, pending)
            except StoreError as exc:
                broken, store = store, None
                pending.clear()
                kept = broken.rescue(key, done)
                raise StoreError(
                    f"{exc}. The {len(done)} scores this run computed were "
                    + (f"saved to a fresh store {str(kept)!r}; use it (proxy.store=...) or move the damaged file "
                       "away and rerun" if kept else "not saved anywhere (no writable folder)"),
                    broken.path,
                ) from exc
        pending.clear()
        last_flush = time.monotonic()

    size = chunk_size or max(1, min(32, math.ceil(len(todo) / (ex.parallelism * 4))))
    chunks = [[a.index for a in todo[i : i + size]] for i in range(0, len(todo), size)]
    bar = tqdm(total=len(todo), desc=f"{key.proxy} {key.dataset}", unit="cell", disable=not progress)
    stream = ex.map_chunks(job, chunks)
    try:
        for chunk in stream:
            for i, v, s in chunk:
                results[i] = v
                pending.append((space.from_index(i), v, s))
                done.append(pending[-1])
            if ex.remote or len(pending) >= flush_every or time.monotonic() - last_flush > 5.0:
                flush()
            bar.update(len(chunk))
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
        flush()
        bar.close()
    return results


# ---------------------------------------------------------------------------------------- tables
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
    space: SearchSpace | str,
    executor: str | Executor = "local",
    executor_options: dict[str, Any] | None = None,
    device: str | torch.device = "cpu",
    shard: int = 0,
    shards: int = 1,
    checkpoint: str | None = None,
) -> Path:
    """Score the whole space (``sample=None``) or ``sample`` cells drawn without replacement with
    ``np.random.default_rng(seed)`` into the store at ``store_path``, and write ``out_csv``.

    CSV columns: ``index`` (the official index, :meth:`SearchSpace.official_index`: NB201's own for
    NB201), ``arch``, ``connected``, ``score`` (never-preferred policy applied), ``seconds`` (compute
    time, empty for disconnected cells), then the run's settings (``proxy, version, dataset,
    image_dataset, batch_size, num_batches, seed``) on every row. Rows are in nasearch's internal
    order (``arch.index``, which also picks the sample and the shards). Rerunning with the same store resumes. Returns ``out_csv`` as a Path. The shipped
    score tables are not read: a table is always computed (it is how they were made).

    ``shards > 1`` keeps only shard ``shard`` of those cells (:func:`shard_indices`: index mod
    ``shards``), so ``shards`` jobs, each with its own store, score disjoint parts that
    :func:`nasearch.proxies.merge.merge_stores` puts together.
    """
    space = get_space(space, where="build_score_table(space=...)")
    archs = table_cells(space, sample, seed, shard, shards)
    key = score_key(proxy, dataset, image_dataset=image_dataset, batch_size=batch_size,
                    num_batches=num_batches, seed=seed, data_free=data_free, space=space, checkpoint=checkpoint)
    with ScoreStore(store_path) as store:
        scores = score_cells(archs, proxy, dataset, image_dataset=image_dataset, data_root=data_root,
                             batch_size=batch_size, num_batches=num_batches, seed=seed, workers=workers,
                             store=store, progress=progress, data_free=data_free, shipped=False, space=space,
                             executor=executor, executor_options=executor_options, device=device,
                             checkpoint=checkpoint)
        stored = store.get_many(key, archs, with_seconds=True)
    out = Path(out_csv)
    out.parent.mkdir(parents=True, exist_ok=True)
    settings = [key.proxy, key.version, key.dataset_field, key.image_dataset, key.batch_size, key.num_batches, key.seed]
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["index", "arch", "connected", "score", "seconds", "proxy", "version", "dataset",
                    "image_dataset", "batch_size", "num_batches", "seed"])
        for a, s in zip(archs, scores):
            secs = stored.get(a.index)
            w.writerow([space.official_index(a), space.to_string(a), int(not space.is_trivial(a)), repr(float(s)),
                        "" if secs is None else f"{secs[1]:.6g}", *settings])  # type: ignore[index]
    log.info("wrote %d %s scores to %s (store %s)", len(archs), proxy, out, store_path)
    return out


__all__ = [
    "NO_IMAGES",
    "CellScoring",
    "build_score_table",
    "cell_generators",
    "data_free_batches",
    "data_free_stream",
    "never_preferred",
    "one_thread",
    "rank_key",
    "score_cells",
    "score_key",
    "score_chunk",
    "score_one",
    "shard_indices",
]
