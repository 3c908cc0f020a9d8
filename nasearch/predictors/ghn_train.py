"""Training a Graph HyperNetwork over random architectures of a search space, with resumable, safe
checkpoints.

Protocol (Zhang, Ren & Urtasun, ICLR 2019, Sec. 3.2 / 4.1): every step samples fresh
architectures (``cells_per_step`` non-trivial architectures of ``space``, uniformly: connected NB201
cells by default), the GHN generates their weights,
and the loss is the mean cross-entropy of the generated networks on one training minibatch of
``batch`` images; Adam on the GHN's parameters. Deviations: the shared CIFAR-10 subset has 10,000
training images, not 50,000; ``holdout`` of them (default 2,000, chosen by ``holdout_seed``) are held
out as validation (the paper holds out 5,000 of 50,000) and never trained on; prediction (the ``ghn``
proxy) uses them. No data augmentation.

GHN-2-style training (Knyazev, Drozdzal, Taylor & Romero-Soriano, "Parameter Prediction for Unseen
Deep Architectures", NeurIPS 2021): the model options of :class:`~nasearch.predictors.ghn.GHNConfig`
(``norm="ghn2"``, the parameter normalisation of Sec. 4; ``layernorm``; ``virtual_edges``, Eq. 4;
``T=1``) plus, here, meta-batching (``cells_per_step`` = b_m architectures per step; GHN-2 on
CIFAR-10: b_m = 8, 64 images) and ``weight_decay`` (Adam's L2 term; GHN-2: 1e-5, lr 1e-3). E.g.
``cells_per_step=8, batch=64, model=GHNConfig(T=1, norm="ghn2", layernorm=True, virtual_edges=50),
weight_decay=1e-5``. Deviations from GHN-2's training: no learning-rate schedule (GHN-2 decays the
rate at fixed epochs; here a constant ``lr``), a number of steps instead of epochs, the shared
10,000-image CIFAR-10 subset (not 50,000), no data augmentation, architectures drawn uniformly from
one search space (GHN-2 trains on DeepNets-1M), one GPU or CPU (GHN-2 spreads a meta-batch over
GPUs); the model's deviations are in :mod:`nasearch.predictors.ghn`.

Ranking during training (``rho_cells = K > 0``): K fixed held-out architectures of the space
(:func:`rho_archs`: a fixed seed, non-trivial, distinct) are never drawn for training (the training
sampler redraws them), and every ``rho_every`` steps and at the end the GHN scores each of them as the
``ghn`` proxy does (:func:`rho_evaluation`: accuracy of the generated network on the first
``rho_images`` held-out images in minibatches of 64, each with its own BN statistics, ties broken by
the loss) and records the Spearman rho and Kendall tau of the scores against the space's benchmark
accuracy for ``dataset`` (:func:`benchmark_accuracy`: the final test accuracy of the first benchmark
registered for the space; NB201 CIFAR-10: 200 epochs). A rho step is also a checkpoint step. When a
rho beats every earlier one, the model is written (before the checkpoint, atomically) as a model-only
export to ``<checkpoint stem>.best.pt``, with ``step``, ``rho``, ``tau`` and ``rho_history`` (the rows
so far) inside.

Space (``space``, required: the configured benchmark's; ``nasearch task=train_ghn benchmark=nasbench_macro``): any
registered space with networks for ``dataset`` (CIFAR-10: NB201 and NAS-Bench-Macro; TransNAS-Bench-
101's networks are Taskonomy networks, with no images here to train on). The architectures come from
the space interface (``num_archs``, ``from_index``, ``is_trivial``, ``build_network``) and the graphs
from the built networks (:func:`nasearch.space.graph.op_graph`), so nothing here is NB201's. A draw
is ``from_index(integers(num_archs))``, redrawn while trivial (or one of the rho cells): for NB201 the
same draws as before the space interface, so NB201 checkpoints written then resume bit for bit (their
settings carry no ``space`` and read as NB201's: :attr:`TrainSettings.STORED_DEFAULTS`).

Randomness: one ``numpy`` PCG64 generator seeded by ``seed`` draws the cells and the image indices
of every step; the GHN's initial weights come from a ``torch.Generator`` seeded by ``seed``. There
is no other randomness (the generated networks have no dropout), so a run is a function of its
settings.

Checkpoint (every ``every`` steps, every rho step and at the end; written to a temporary file then
``os.replace``): ``torch.save`` of plain tensors, numbers and strings, read back with
``weights_only=True``: ``format``, ``config`` (the :class:`GHNConfig` as JSON), ``train`` (the
training settings as JSON), ``step``, ``model`` (state dict), ``optim`` (Adam's state dict), ``rng``
(the numpy generator's state as JSON), ``history`` (one row per checkpoint: step, mean training loss
since the last checkpoint, held-out accuracy and loss of ``eval_cells`` fixed cells, wall seconds;
also ``<checkpoint>.csv``) and, with ``rho_cells``, ``rho_history`` (one row per rho step: step, rho, tau,
mean held-out accuracy of the K generated networks, seconds the evaluation took; also
``<checkpoint>.rho.csv``). A run finding its checkpoint resumes from it; the result is bitwise the
one of an uninterrupted run (same machine, same thread count), rho rows and best export included. A
checkpoint written under other settings is refused with the differing keys. ``export_model`` writes
the model-only file shipped as package data.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import os
import pickle
import time
import zipfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from nasearch.errors import NasearchError
from nasearch.predictors.ghn import (
    GHN,
    GHNConfig,
    Target,
    TargetCache,
    evaluate,
    proxy_score,
    space_target_builder,
)

log = logging.getLogger(__name__)

FORMAT = "nasearch-ghn-1"


class GHNCheckpointError(NasearchError):
    """A GHN checkpoint that is missing, corrupted, or written under other settings (or bad training
    settings). The ``ghn`` proxy re-raises it as a ``ProxyError`` when it binds a checkpoint."""


@dataclass
class TrainSettings:
    """Settings of one training run (the Hydra group ``ghn``)."""

    steps: int = 1000
    batch: int = 64
    """Training images per step."""
    cells_per_step: int = 1
    """Architectures sampled per step (a minibatch of graphs)."""
    lr: float = 1e-3
    seed: int = 0
    dataset: str = "cifar10"
    holdout: int = 2000
    holdout_seed: int = 0
    every: int = 50
    """Checkpoint every this many steps."""
    eval_cells: int = 8
    eval_images: int = 512
    weight_decay: float = 0.0
    """Adam's weight decay (L2; GHN-2: 1e-5)."""
    rho_cells: int = 0
    """Fixed held-out architectures ranked every ``rho_every`` steps (never trained on); 0: none."""
    rho_every: int = 500
    """Steps between two rho evaluations (each is also a checkpoint)."""
    rho_images: int = 512
    """Held-out images each rho cell is scored on (the first ones, in minibatches of 64)."""
    space: str = field(kw_only=True)
    """The search space whose architectures are trained on (a registered space name; required)."""
    model: GHNConfig = field(default_factory=GHNConfig)

    TRAJECTORY_KEYS = ("batch", "cells_per_step", "lr", "seed", "dataset", "holdout", "holdout_seed", "space",
                       "weight_decay", "rho_cells")
    """Keys that must match to resume (``steps``, ``every`` and the logging-only ``eval_*``,
    ``rho_every`` and ``rho_images`` may change between sessions)."""
    STORED_DEFAULTS = {"space": "nb201"}  # legacy rule: checkpoints written before spaces were NB201's
    STORED_DEFAULTS |= {"weight_decay": 0.0, "rho_cells": 0}  # written before GHN-2-style training
    """Values of trajectory keys that checkpoints written before the key existed carry implicitly."""

    def check(self) -> None:
        for k in ("steps", "batch", "cells_per_step", "every", "holdout", "eval_cells", "eval_images", "rho_every",
                  "rho_images"):
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                key = "cells" if k == "cells_per_step" else k  # the config key (task=train_ghn)
                raise GHNCheckpointError(f"ghn.{key} must be an integer >= 1, got {v!r}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise GHNCheckpointError(f"ghn.lr must be a positive number, got {self.lr!r}")
        wd = self.weight_decay
        if isinstance(wd, bool) or not isinstance(wd, (int, float)) or not (math.isfinite(wd) and wd >= 0):
            raise GHNCheckpointError(
                f"ghn.weight_decay must be a number >= 0 (Adam's weight decay; GHN-2: 1e-5), got {wd!r}")
        rc = self.rho_cells
        if isinstance(rc, bool) or not isinstance(rc, int) or rc < 0 or rc == 1:
            raise GHNCheckpointError(
                f"ghn.rho_cells must be 0 (no rank correlation during training) or an integer >= 2 (held-out "
                f"architectures to rank), got {rc!r}")
        if rc and self.rho_images > self.holdout:
            raise GHNCheckpointError(
                f"ghn.rho_images={self.rho_images} is more than the {self.holdout} held-out images "
                f"(ghn.holdout); use at most {self.holdout}")
        for k in ("T", "hidden", "message_hidden", "hyper_hidden"):
            v = getattr(self.model, k)
            if not isinstance(v, int) or v < 1:
                raise GHNCheckpointError(f"ghn.{k} must be an integer >= 1, got {v!r}")
        for k in ("seed", "holdout_seed"):
            v = getattr(self, k)
            if not isinstance(v, int) or v < 0:
                raise GHNCheckpointError(f"ghn.{k} must be a non-negative integer, got {v!r}")
        space = self.search_space()
        if rc > space.num_archs // 2:
            raise GHNCheckpointError(
                f"ghn.rho_cells={rc} is more than half of space {space.name!r}'s {space.num_archs} architectures; "
                f"use at most {space.num_archs // 2}, so that training keeps architectures to draw")
        if self.dataset not in space.networks_for():
            from nasearch.space import get_space, space_names

            fit = [n for n in space_names() if self.dataset in get_space(n).networks_for()]
            raise GHNCheckpointError(
                f"GHN training uses {self.dataset} images, and space {space.name!r} has no {self.dataset} "
                f"networks (its tasks: {', '.join(space.networks_for())}); train on a space with "
                f"{self.dataset} networks ({', '.join(fit)})")

    def search_space(self):
        from nasearch.space import SpaceError, get_space

        try:
            return get_space(self.space, where="ghn training space (benchmark=...)")
        except SpaceError as exc:  # an unknown space: one error type for the training task
            raise GHNCheckpointError(str(exc)) from exc

    def trajectory(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.TRAJECTORY_KEYS}


# ---------------------------------------------------------------------------------------- data
def split_images(dataset: str, holdout: int, holdout_seed: int, data_root=None):
    """(train images, train labels, held-out images, held-out labels) of the shared training split;
    the held-out part is a seeded random subset of ``holdout`` images, in a seeded random order."""
    from nasearch.data.images import load_images

    imgs = load_images(dataset, data_root, "train")
    n = len(imgs)
    if not 1 <= holdout < n:
        raise GHNCheckpointError(f"ghn.holdout={holdout} must be in 1..{n - 1} ({n} {dataset} training images)")
    perm = np.random.default_rng(np.random.SeedSequence(int(holdout_seed))).permutation(n)
    val = torch.from_numpy(perm[:holdout].copy())
    tr = torch.from_numpy(np.sort(perm[holdout:]))
    return imgs.images[tr], imgs.labels[tr], imgs.images[val], imgs.labels[val]


def sample_arch(space, rng: np.random.Generator, exclude: frozenset | set = frozenset()) -> Any:
    """A uniform draw among the non-trivial architectures of ``space`` not in ``exclude`` (rejection
    sampling: with nothing excluded, the draws of the code before ``exclude`` existed)."""
    while True:
        a = space.from_index(int(rng.integers(space.num_archs)))
        if not space.is_trivial(a) and a not in exclude:
            return a


def eval_archs(k: int, space) -> list[Any]:
    """The fixed architectures whose held-out accuracy is logged at every checkpoint."""
    from nasearch.space import get_space

    space = get_space(space)
    rng = np.random.default_rng(np.random.SeedSequence(12345))
    return [sample_arch(space, rng) for _ in range(k)]


RHO_SEED = 20211206
"""Seed of the rho cells' draw (:func:`rho_archs`): fixed, so every run of a space ranks the same cells."""
RHO_BATCH = 64
"""Minibatch of the rho evaluation: the ``ghn`` proxy's default ``batch_size`` (each minibatch with its
own BN statistics, as the proxy's)."""


def rho_archs(k: int, space) -> list[Any]:
    """The ``k`` fixed held-out architectures of ``space`` ranked during training (``rho_cells``):
    distinct non-trivial draws of a generator seeded by :data:`RHO_SEED`, in draw order (the first
    ``k`` of a larger ``k``'s list)."""
    from nasearch.space import get_space

    space = get_space(space)
    rng = np.random.default_rng(np.random.SeedSequence(RHO_SEED))
    out: list[Any] = []
    seen: set = set()
    while len(out) < k:
        a = sample_arch(space, rng, seen)
        seen.add(a)
        out.append(a)
    return out


def benchmark_accuracy(space, dataset: str, archs: list[Any]) -> tuple[str, np.ndarray]:
    """(benchmark name, final test accuracy of each architecture on ``dataset``): the first benchmark
    registered for ``space`` (in :func:`~nasearch.benchmarks.benchmark_names` order; NB201: its table,
    200-epoch test accuracy, the figure the ``ghn`` proxy's studies correlate with), read as the MPI
    task reads it (``column(dataset, "test_acc")`` at the final fidelity, by ``arch.index``)."""
    from nasearch.benchmarks import ALIASES, benchmark_spaces, make_benchmark
    from nasearch.space import get_space

    space = get_space(space)
    names = [b for b, s in benchmark_spaces().items() if s == space.name and b not in ALIASES]
    if not names:
        raise GHNCheckpointError(
            f"ghn.rho_cells needs trained accuracies of space {space.name!r}, and no registered benchmark "
            f"answers for it (benchmarks: {', '.join(benchmark_spaces())}); set ghn.rho_cells=0")
    try:
        bench = make_benchmark(names[0], where="ghn.rho_cells (the space's benchmark)")
    except NasearchError as exc:
        raise GHNCheckpointError(
            f"ghn.rho_cells needs the {dataset} test accuracies of benchmark {names[0]!r} (space "
            f"{space.name!r}), which cannot be loaded: {exc}") from exc
    if dataset not in bench.datasets:
        raise GHNCheckpointError(
            f"ghn.rho_cells needs {dataset} test accuracies, and benchmark {names[0]!r} (space {space.name!r}) "
            f"has no {dataset} accuracies (its datasets: {', '.join(bench.datasets)})")
    col = bench.column(dataset, "test_acc")
    return names[0], np.asarray(col, dtype=np.float64)[[a.index for a in archs]]


def rho_evaluation(
    ghn: GHN, targets: Iterable[Target], images: torch.Tensor, labels: torch.Tensor, accuracy: np.ndarray
) -> tuple[float, float, float, np.ndarray]:
    """(Spearman rho, Kendall tau, mean accuracy %, scores) of the ``ghn`` proxy's scores of
    ``targets`` against ``accuracy`` (the benchmark's, one per target; NaN ones are left out of the
    correlations). Each target is scored as the proxy scores a cell: alone (one GNN pass per graph),
    on ``images`` in minibatches of :data:`RHO_BATCH`, ``proxy_score(accuracy, loss)``."""
    from scipy.stats import kendalltau, spearmanr

    scores, accs = [], []
    for t in targets:
        ((acc, loss),) = evaluate(ghn, [t], images, labels, chunk=RHO_BATCH)
        scores.append(proxy_score(acc, loss))
        accs.append(acc)
    sc = np.asarray(scores, dtype=np.float64)
    ok = np.isfinite(accuracy) & np.isfinite(sc)
    if ok.sum() < 2:
        return math.nan, math.nan, float(np.mean(accs)), sc
    rho = float(spearmanr(sc[ok], accuracy[ok]).statistic)
    tau = float(kendalltau(sc[ok], accuracy[ok]).statistic)
    return rho, tau, float(np.mean(accs)), sc


# ---------------------------------------------------------------------------------------- files
def file_sha256(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_save(obj: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | os.PathLike[str]) -> dict:
    """Read a GHN checkpoint safely (``weights_only=True``); errors name the file and the problem."""
    p = Path(path)
    if not p.is_file():
        raise GHNCheckpointError(f"GHN checkpoint {p} does not exist (give an existing file to proxy.checkpoint / ghn.checkpoint)")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, zipfile.BadZipFile, ValueError, OSError) as exc:
        raise GHNCheckpointError(
            f"GHN checkpoint {p} cannot be read ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}): "
            "the file is corrupted, truncated, or not a nasearch GHN checkpoint"
        ) from exc
    if not isinstance(obj, dict) or obj.get("format") != FORMAT or "model" not in obj or "config" not in obj:
        got = obj.get("format") if isinstance(obj, dict) else type(obj).__name__
        raise GHNCheckpointError(f"GHN checkpoint {p} is not a nasearch GHN checkpoint (format {got!r}, expected {FORMAT!r})")
    try:
        obj["config"] = GHNConfig.from_dict(json.loads(obj["config"]))
        obj["train"] = json.loads(obj["train"]) if obj.get("train") else {}
    except (TypeError, ValueError) as exc:
        raise GHNCheckpointError(f"GHN checkpoint {p} has an unreadable config: {exc}") from exc
    return obj


def _diff(a: dict, b: dict) -> str:
    keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return "; ".join(f"{k}: checkpoint {a.get(k)!r}, this run {b.get(k)!r}" for k in keys)


def load_model(path: str | os.PathLike[str], expect: GHNConfig | None = None) -> tuple[GHN, dict]:
    """The GHN stored at ``path`` (eval mode) and the checkpoint dict."""
    ck = load_checkpoint(path)
    cfg: GHNConfig = ck["config"]
    if expect is not None and cfg != expect:
        raise GHNCheckpointError(f"GHN checkpoint {path} was written by another GHN configuration: {_diff(asdict(cfg), asdict(expect))}")
    ghn = GHN(cfg)
    try:
        ghn.load_state_dict(ck["model"])
    except RuntimeError as exc:
        raise GHNCheckpointError(f"GHN checkpoint {path} does not fit its own configuration: {str(exc).splitlines()[0]}") from exc
    ghn.eval()
    return ghn, ck


def _model_only(config: GHNConfig, train: dict, step: int, model: dict[str, torch.Tensor],
                history: torch.Tensor) -> dict:
    """The fields of a model-only checkpoint (the file :func:`export_model` and the best-rho export write)."""
    return {
        "format": FORMAT,
        "config": config.to_json(),
        "train": json.dumps(train, sort_keys=True),
        "step": int(step),
        "model": {k: v.detach().to("cpu", copy=True) for k, v in model.items()},
        "history": history,
    }


def export_model(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> Path:
    """Write the model-only checkpoint (no optimizer/RNG state) of the training checkpoint ``src``
    (with its ``rho_history`` rows when it has them)."""
    ghn, ck = load_model(src)
    obj = _model_only(ck["config"], ck["train"], int(ck["step"]), ghn.state_dict(),
                      ck.get("history", torch.zeros(0, 5, dtype=torch.float64)))
    if "rho_history" in ck:
        obj["rho_history"] = ck["rho_history"]
    obj["source_sha256"] = file_sha256(src)
    dst = Path(dst)
    atomic_save(obj, dst)
    return dst


def best_path(checkpoint: str | os.PathLike[str]) -> Path:
    """``<checkpoint stem>.best.pt``: where training with ``rho_cells`` keeps the best model by rho."""
    ck = Path(checkpoint)
    return ck.with_name(ck.stem + ".best.pt")


HISTORY_FIELDS = ("step", "train_loss", "eval_acc", "eval_loss", "seconds")
RHO_FIELDS = ("step", "rho", "tau", "mean_acc", "seconds")
"""Columns of the ``rho_history`` rows (``seconds``: the wall time of that rho evaluation)."""


def write_history_csv(history: torch.Tensor, path: Path, fields: tuple[str, ...] = HISTORY_FIELDS) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(fields)
        for row in history.tolist():
            w.writerow([int(row[0]), *(f"{v:.6g}" for v in row[1:])])
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------- training
def train_ghn(
    settings: TrainSettings,
    checkpoint: str | os.PathLike[str],
    *,
    device: str = "cpu",
    data_root: str | os.PathLike[str] | None = None,
    progress: bool = True,
    data: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
    stop_after: int | None = None,
) -> Path:
    """Train (or resume) until ``settings.steps``; returns the checkpoint path.

    ``data`` replaces the image split (tests); ``stop_after`` ends the call after that many steps of
    this call (a simulated kill: tests). A history CSV is written next to the checkpoint
    (``<checkpoint>.csv``), and with ``rho_cells`` the rho rows (``<checkpoint>.rho.csv``) and the
    best model by rho (:func:`best_path`).
    """
    settings.check()
    ckpt = Path(checkpoint)
    dev = torch.device(device)
    tr_x, tr_y, va_x, va_y = data if data is not None else split_images(
        settings.dataset, settings.holdout, settings.holdout_seed, data_root)
    if settings.rho_cells and settings.rho_images > len(va_y):
        raise GHNCheckpointError(
            f"ghn.rho_images={settings.rho_images} is more than the {len(va_y)} held-out images; use fewer")
    rho_x, rho_y = va_x[: settings.rho_images].to(dev), va_y[: settings.rho_images].to(dev)
    va_x, va_y = va_x[: settings.eval_images].to(dev), va_y[: settings.eval_images].to(dev)
    with torch.random.fork_rng(devices=[]):  # torch's initialisers draw from the global RNG
        torch.manual_seed(int(settings.seed))
        ghn = GHN(settings.model)
    ghn.to(dev)
    opt = torch.optim.Adam(ghn.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    rng = np.random.default_rng(np.random.SeedSequence(int(settings.seed)))
    step = 0
    history = torch.zeros(0, len(HISTORY_FIELDS), dtype=torch.float64)
    rho_history = torch.zeros(0, len(RHO_FIELDS), dtype=torch.float64)
    if ckpt.exists():
        ck = load_checkpoint(ckpt)
        if ck["config"] != settings.model:
            raise GHNCheckpointError(
                f"GHN checkpoint {ckpt} was written by another GHN configuration: "
                f"{_diff(asdict(ck['config']), asdict(settings.model))}; use another ghn.checkpoint path")
        if "optim" not in ck or "rng" not in ck:
            raise GHNCheckpointError(f"GHN checkpoint {ckpt} is a model-only export and cannot be resumed; use another ghn.checkpoint path")
        stored = {k: ck["train"].get(k, TrainSettings.STORED_DEFAULTS.get(k)) for k in TrainSettings.TRAJECTORY_KEYS}
        if stored != settings.trajectory():
            raise GHNCheckpointError(
                f"GHN checkpoint {ckpt} was written under other training settings: "
                f"{_diff(stored, settings.trajectory())}; use another ghn.checkpoint path")
        ghn.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optim"])
        rng.bit_generator.state = json.loads(ck["rng"])
        step = int(ck["step"])
        history = ck["history"]
        rho_history = ck.get("rho_history", rho_history)
        log.info("resuming GHN training from %s at step %d of %d", ckpt, step, settings.steps)
    space = settings.search_space()
    build_cpu = space_target_builder(space, settings.dataset)

    def build(arch: Any) -> nn.Module:
        # the networks live on the training device: the generated weights are made there, and the
        # parameters a GHN does not generate (fixed BN affines, dead ops) must be there too
        return build_cpu(arch).to(dev)

    targets = TargetCache(build)
    evals = [Target(build(a)) for a in eval_archs(settings.eval_cells, space)]
    held = rho_archs(settings.rho_cells, space) if settings.rho_cells else []
    exclude = frozenset(held)
    rho_acc = benchmark_accuracy(space, settings.dataset, held)[1] if held else None
    n_train = len(tr_y)

    def rho_step() -> None:
        """One rho row; the best export when it beats every earlier row (written before the checkpoint,
        so a kill between the two is repaired by the rerun of the same steps)."""
        nonlocal rho_history
        t0 = time.time()
        # each network is built for its evaluation and dropped after it (a generator): K targets kept
        # between rho steps would hold K networks' memory for the whole run
        rho, tau, mean_acc, _ = rho_evaluation(ghn, (Target(build(a)) for a in held), rho_x, rho_y, rho_acc)
        row = torch.tensor([[step, rho, tau, mean_acc, time.time() - t0]], dtype=torch.float64)
        earlier = rho_history[:, 1]
        beats = math.isfinite(rho) and bool((earlier[~torch.isnan(earlier)] < rho).all())
        rho_history = torch.cat([rho_history, row])
        if beats:
            obj = _model_only(settings.model, settings.trajectory(), step, ghn.state_dict(), history)
            obj.update(rho=rho, tau=tau, rho_history=rho_history.clone())
            atomic_save(obj, best_path(ckpt))
        log.info("GHN step %d: rho %.4f, tau %.4f over %d held-out cells (%.1f s)%s", step, rho, tau, len(held),
                 row[0, 4].item(), "; best so far" if beats else "")

    def save(rho_now: bool) -> None:
        nonlocal history
        row = torch.tensor([[step, float(np.mean(window)) if window else math.nan,
                             *_eval_row(ghn, evals, va_x, va_y), time.time() - t_start]], dtype=torch.float64)
        if not len(history) or history[-1, 0] != step:
            history = torch.cat([history, row])
        if rho_now:
            rho_step()
        obj = {
            "format": FORMAT,
            "config": settings.model.to_json(),
            "train": json.dumps(settings.trajectory(), sort_keys=True),
            "step": step,
            "model": ghn.state_dict(),
            "optim": opt.state_dict(),
            "rng": json.dumps(rng.bit_generator.state),
            "history": history,
        }
        if held or len(rho_history):
            obj["rho_history"] = rho_history
        atomic_save(obj, ckpt)
        write_history_csv(history, ckpt.with_name(ckpt.name + ".csv"))
        if held:
            write_history_csv(rho_history, ckpt.with_name(ckpt.name + ".rho.csv"), RHO_FIELDS)
        window.clear()

    window: list[float] = []
    t_start = time.time()
    done_here = 0
    bar = tqdm(total=settings.steps, initial=step, desc="train GHN", unit="step", disable=not progress)
    try:
        while step < settings.steps:
            if stop_after is not None and done_here >= stop_after:
                return ckpt
            archs = [sample_arch(space, rng, exclude) for _ in range(settings.cells_per_step)]
            idx = torch.from_numpy(rng.choice(n_train, size=settings.batch, replace=False))
            x, y = tr_x[idx].to(dev), tr_y[idx].to(dev)
            ghn.train()
            tg = [targets.get(a) for a in archs]
            params = ghn(ghn.batch_of(tg).to(dev))
            loss = torch.stack([nn.functional.cross_entropy(t(p, x), y) for t, p in zip(tg, params)]).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            done_here += 1
            window.append(float(loss.detach()))
            bar.update(1)
            bar.set_postfix(loss=f"{window[-1]:.3f}")
            rho_now = bool(held) and (step % settings.rho_every == 0 or step == settings.steps)
            if step % settings.every == 0 or step == settings.steps or rho_now:
                save(rho_now)
    finally:
        bar.close()
    return ckpt


def _eval_row(ghn: GHN, evals: list[Target], x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    res = evaluate(ghn, evals, x, y)
    return float(np.mean([r[0] for r in res])), float(np.mean([r[1] for r in res]))


__all__ = [
    "GHNCheckpointError",
    "RHO_FIELDS",
    "TrainSettings",
    "benchmark_accuracy",
    "best_path",
    "export_model",
    "file_sha256",
    "load_checkpoint",
    "load_model",
    "rho_archs",
    "rho_evaluation",
    "split_images",
    "train_ghn",
]
