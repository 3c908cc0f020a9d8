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

Space (``space``, required: the configured benchmark's; ``nasearch task=train_ghn benchmark=nasbench_macro``): any
registered space with networks for ``dataset`` (CIFAR-10: NB201 and NAS-Bench-Macro; TransNAS-Bench-
101's networks are Taskonomy networks, with no images here to train on). The architectures come from
the space interface (``num_archs``, ``from_index``, ``is_trivial``, ``build_network``) and the graphs
from the built networks (:func:`nasearch.space.graph.op_graph`), so nothing here is NB201's. A draw
is ``from_index(integers(num_archs))``, redrawn while trivial: for NB201 the same draws as before the
space interface, so NB201 checkpoints written then resume bit for bit (their settings carry no
``space`` and read as NB201's: :attr:`TrainSettings.STORED_DEFAULTS`).

Randomness: one ``numpy`` PCG64 generator seeded by ``seed`` draws the cells and the image indices
of every step; the GHN's initial weights come from a ``torch.Generator`` seeded by ``seed``. There
is no other randomness (the generated networks have no dropout), so a run is a function of its
settings.

Checkpoint (every ``every`` steps and at the end; written to a temporary file then ``os.replace``):
``torch.save`` of plain tensors, numbers and strings, read back with ``weights_only=True``:
``format``, ``config`` (the :class:`GHNConfig` as JSON), ``train`` (the training settings as JSON),
``step``, ``model`` (state dict), ``optim`` (Adam's state dict), ``rng`` (the numpy generator's
state as JSON) and ``history`` (one row per checkpoint: step, mean training loss since the last
checkpoint, held-out accuracy and loss of ``eval_cells`` fixed cells, wall seconds). A run finding
its checkpoint resumes from it; the result is bitwise the one of an uninterrupted run (same machine,
same thread count). A checkpoint written under other settings is refused with the differing keys.
``export_model`` writes the model-only file shipped as package data.
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
    GraphBatch,
    Target,
    TargetCache,
    evaluate,
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
    space: str = field(kw_only=True)
    """The search space whose architectures are trained on (a registered space name; required)."""
    model: GHNConfig = field(default_factory=GHNConfig)

    TRAJECTORY_KEYS = ("batch", "cells_per_step", "lr", "seed", "dataset", "holdout", "holdout_seed", "space")
    """Keys that must match to resume (``steps``, ``every`` and the logging-only ``eval_*`` may
    change between sessions)."""
    STORED_DEFAULTS = {"space": "nb201"}  # legacy rule: checkpoints written before spaces were NB201's
    """Values of trajectory keys that checkpoints written before the key existed carry implicitly."""

    def check(self) -> None:
        for k in ("steps", "batch", "cells_per_step", "every", "holdout", "eval_cells", "eval_images"):
            v = getattr(self, k)
            if not isinstance(v, int) or v < 1:
                key = "cells" if k == "cells_per_step" else k  # the config key (task=train_ghn)
                raise GHNCheckpointError(f"ghn.{key} must be an integer >= 1, got {v!r}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise GHNCheckpointError(f"ghn.lr must be a positive number, got {self.lr!r}")
        for k in ("T", "hidden", "message_hidden", "hyper_hidden"):
            v = getattr(self.model, k)
            if not isinstance(v, int) or v < 1:
                raise GHNCheckpointError(f"ghn.{k} must be an integer >= 1, got {v!r}")
        for k in ("seed", "holdout_seed"):
            v = getattr(self, k)
            if not isinstance(v, int) or v < 0:
                raise GHNCheckpointError(f"ghn.{k} must be a non-negative integer, got {v!r}")
        space = self.search_space()
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


def sample_arch(space, rng: np.random.Generator) -> Any:
    """A uniform draw among the non-trivial architectures of ``space`` (rejection sampling)."""
    while True:
        a = space.from_index(int(rng.integers(space.num_archs)))
        if not space.is_trivial(a):
            return a


def eval_archs(k: int, space) -> list[Any]:
    """The fixed architectures whose held-out accuracy is logged at every checkpoint."""
    from nasearch.space import get_space

    space = get_space(space)
    rng = np.random.default_rng(np.random.SeedSequence(12345))
    return [sample_arch(space, rng) for _ in range(k)]


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


def export_model(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> Path:
    """Write the model-only checkpoint (no optimizer/RNG state) of the training checkpoint ``src``."""
    ghn, ck = load_model(src)
    obj = {
        "format": FORMAT,
        "config": ck["config"].to_json(),
        "train": json.dumps(ck["train"], sort_keys=True),
        "step": int(ck["step"]),
        "model": {k: v.clone() for k, v in ghn.state_dict().items()},
        "history": ck.get("history", torch.zeros(0, 5, dtype=torch.float64)),
        "source_sha256": file_sha256(src),
    }
    dst = Path(dst)
    atomic_save(obj, dst)
    return dst


HISTORY_FIELDS = ("step", "train_loss", "eval_acc", "eval_loss", "seconds")


def write_history_csv(history: torch.Tensor, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(HISTORY_FIELDS)
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
    (``<checkpoint>.csv``).
    """
    settings.check()
    ckpt = Path(checkpoint)
    dev = torch.device(device)
    tr_x, tr_y, va_x, va_y = data if data is not None else split_images(
        settings.dataset, settings.holdout, settings.holdout_seed, data_root)
    va_x, va_y = va_x[: settings.eval_images].to(dev), va_y[: settings.eval_images].to(dev)
    with torch.random.fork_rng(devices=[]):  # torch's initialisers draw from the global RNG
        torch.manual_seed(int(settings.seed))
        ghn = GHN(settings.model)
    ghn.to(dev)
    opt = torch.optim.Adam(ghn.parameters(), lr=settings.lr)
    rng = np.random.default_rng(np.random.SeedSequence(int(settings.seed)))
    step = 0
    history = torch.zeros(0, len(HISTORY_FIELDS), dtype=torch.float64)
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
        log.info("resuming GHN training from %s at step %d of %d", ckpt, step, settings.steps)
    space = settings.search_space()
    build = space_target_builder(space, settings.dataset)
    targets = TargetCache(build)
    evals = [Target(build(a)) for a in eval_archs(settings.eval_cells, space)]
    n_train = len(tr_y)

    def save() -> None:
        nonlocal history
        row = torch.tensor([[step, float(np.mean(window)) if window else math.nan,
                             *_eval_row(ghn, evals, va_x, va_y), time.time() - t_start]], dtype=torch.float64)
        if not len(history) or history[-1, 0] != step:
            history = torch.cat([history, row])
        atomic_save({
            "format": FORMAT,
            "config": settings.model.to_json(),
            "train": json.dumps(settings.trajectory(), sort_keys=True),
            "step": step,
            "model": ghn.state_dict(),
            "optim": opt.state_dict(),
            "rng": json.dumps(rng.bit_generator.state),
            "history": history,
        }, ckpt)
        write_history_csv(history, ckpt.with_name(ckpt.name + ".csv"))
        window.clear()

    window: list[float] = []
    t_start = time.time()
    done_here = 0
    bar = tqdm(total=settings.steps, initial=step, desc="train GHN", unit="step", disable=not progress)
    try:
        while step < settings.steps:
            if stop_after is not None and done_here >= stop_after:
                return ckpt
            archs = [sample_arch(space, rng) for _ in range(settings.cells_per_step)]
            idx = torch.from_numpy(rng.choice(n_train, size=settings.batch, replace=False))
            x, y = tr_x[idx].to(dev), tr_y[idx].to(dev)
            ghn.train()
            tg = [targets.get(a) for a in archs]
            params = ghn(GraphBatch.of([t.graph for t in tg]).to(dev))
            loss = torch.stack([nn.functional.cross_entropy(t(p, x), y) for t, p in zip(tg, params)]).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            done_here += 1
            window.append(float(loss.detach()))
            bar.update(1)
            bar.set_postfix(loss=f"{window[-1]:.3f}")
            if step % settings.every == 0 or step == settings.steps:
                save()
    finally:
        bar.close()
    return ckpt


def _eval_row(ghn: GHN, evals: list[Target], x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    res = evaluate(ghn, evals, x, y)
    return float(np.mean([r[0] for r in res])), float(np.mean([r[1] for r in res]))


__all__ = [
    "GHNCheckpointError",
    "TrainSettings",
    "export_model",
    "file_sha256",
    "load_checkpoint",
    "load_model",
    "split_images",
    "train_ghn",
]
