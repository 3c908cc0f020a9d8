"""``task=train_ghn``: train (or resume) a Graph HyperNetwork on CIFAR-10 networks of the configured
benchmark's space, and report where it got to.

This module wires the config to the training library (:mod:`nasearch.predictors.ghn_train`: the
training function, its settings, the checkpoint format); the task is registered in
its own module (the ``TrainGHNTask`` below).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nasearch.config import Config, ConfigError, _bad
from nasearch.errors import NasearchError
from nasearch.results import write_text
from nasearch.tasks import TaskPlan, register_task

if TYPE_CHECKING:  # the GHN library imports torch: loaded when the task runs, not when it is listed
    from nasearch.predictors.ghn_train import TrainSettings


@dataclass
class GHNTrainConf:
    """``task=train_ghn``: train a Graph HyperNetwork (nasearch.predictors.ghn_train). The Hydra face of
    :class:`~nasearch.predictors.ghn_train.TrainSettings` and :class:`~nasearch.predictors.ghn.GHNConfig`
    (``cells`` is ``cells_per_step``; ``T``, ``hidden``, ``message_hidden``, ``hyper_hidden``, ``norm``,
    ``layernorm``, ``virtual_edges`` are the model's), plus the task's own keys (``device``,
    ``checkpoint``, ``threads``). Its defaults are the library's (a test holds them equal) and its
    values are checked by the library. GHN-2-style training: ``ghn.cells=8 ghn.T=1 ghn.norm=ghn2
    ghn.layernorm=true ghn.virtual_edges=50 ghn.weight_decay=1e-5 ghn.rho_cells=200``
    (``experiments/ghn/README.md``)."""

    steps: int = 1000
    batch: int = 64
    """Training images per step."""
    cells: int = 1
    """Architectures sampled per step (a minibatch of graphs)."""
    lr: float = 1e-3
    T: int = 5
    """Forward-backward propagations of the GatedGNN."""
    hidden: int = 32
    message_hidden: int = 32
    hyper_hidden: int = 64
    seed: int = 0
    device: str = "cpu"
    checkpoint: str = "ghn.pt"
    """Checkpoint file: written every ``every`` steps; an existing one is resumed."""
    every: int = 50
    holdout: int = 2000
    """Training images held out for validation / prediction (never trained on)."""
    holdout_seed: int = 0
    eval_cells: int = 8
    eval_images: int = 512
    norm: str = "fan_in"
    """Parameter normalisation: fan_in (GHN-1's) or ghn2 (GHN-2's: BN affines and biases generated too)."""
    layernorm: bool = False
    """Layer normalisation of the node embeddings before decoding (GHN-2)."""
    virtual_edges: int = 0
    """GHN-2's virtual edges up to this shortest-path distance (GHN-2: 50); 0: none."""
    weight_decay: float = 0.0
    """Adam's weight decay (GHN-2: 1e-5)."""
    rho_cells: int = 0
    """Fixed held-out architectures ranked during training (Spearman rho against the benchmark); 0: none."""
    rho_every: int = 500
    """Steps between rho evaluations (the best model by rho is kept as <checkpoint stem>.best.pt)."""
    rho_images: int = 512
    """Held-out images each rho cell is scored on."""
    threads: int = 0
    """torch threads (0: leave torch's default)."""

    def check(self, space: Any) -> None:
        """The training settings are checked by the library (:meth:`TrainSettings.check`, one set of
        rules for the task and for Python callers); the task's own keys here."""
        if self.device != "cpu" and not self.device.startswith(("cuda", "mps")):
            raise _bad("ghn.device", self.device, "cpu, cuda, cuda:N or mps")
        if self.threads < 0:
            raise _bad("ghn.threads", self.threads, "an integer >= 0 (0: torch's default)")
        try:
            settings_from_conf(self, space=space.name).check()
        except NasearchError as exc:
            raise ConfigError(str(exc)) from None


def settings_from_conf(c: GHNTrainConf, space: str) -> TrainSettings:
    """:class:`TrainSettings` of a :class:`GHNTrainConf` (``space``: the space of the
    configured benchmark)."""
    from nasearch.predictors.ghn import GHNConfig
    from nasearch.predictors.ghn_train import TrainSettings

    return TrainSettings(
        steps=c.steps, batch=c.batch, cells_per_step=c.cells, lr=c.lr, seed=c.seed, holdout=c.holdout,
        holdout_seed=c.holdout_seed, every=c.every, eval_cells=c.eval_cells, eval_images=c.eval_images,
        weight_decay=c.weight_decay, rho_cells=c.rho_cells, rho_every=c.rho_every, rho_images=c.rho_images,
        model=GHNConfig(hidden=c.hidden, message_hidden=c.message_hidden, hyper_hidden=c.hyper_hidden, T=c.T,
                        norm=c.norm, layernorm=c.layernorm, virtual_edges=c.virtual_edges),
        space=space,
    )


def train_ghn_task(cfg: Config, out_dir: Path) -> str:
    """``nasearch task=train_ghn ghn.steps=... ghn.checkpoint=PATH``: train or resume; returns a summary."""
    import torch

    from nasearch.predictors.ghn_train import GHNCheckpointError, best_path, load_checkpoint, train_ghn

    if cfg.ghn.threads:
        torch.set_num_threads(cfg.ghn.threads)
    settings = settings_from_conf(cfg.ghn, space=cfg.space().name)
    if cfg.dataset.name != "cifar10":
        raise GHNCheckpointError(f"task=train_ghn trains on CIFAR-10 images only (dataset={cfg.dataset.name!r})")
    path = train_ghn(settings, cfg.ghn.checkpoint, device=cfg.ghn.device, progress=cfg.progress)
    ck = load_checkpoint(path)
    h = ck["history"]
    last = h[-1].tolist() if len(h) else [0, math.nan, math.nan, math.nan, 0]
    text = (f"GHN at step {int(ck['step'])} of {settings.steps}: train loss {last[1]:.4f}, held-out accuracy "
            f"{last[2]:.2f}% (loss {last[3]:.4f}) on {settings.eval_cells} fixed {settings.space} architectures; checkpoint {path}, "
            f"curve {path}.csv\n")
    rho = ck.get("rho_history")
    if settings.rho_cells and rho is not None and len(rho):
        r = rho.tolist()
        best = max((row for row in r if row[1] == row[1]), key=lambda row: row[1], default=None)  # NaN != NaN
        text += (f"Rank correlation on {settings.rho_cells} held-out {settings.space} architectures at step {int(r[-1][0])}: "
                 f"Spearman rho {r[-1][1]:.4f}, Kendall tau {r[-1][2]:.4f}"
                 + (f"; best rho {best[1]:.4f} at step {int(best[0])} ({best_path(path)})" if best else "")
                 + f"; rows {path}.rho.csv\n")
    return text


@register_task
class TrainGHNTask:
    """Train (or resume) a Graph HyperNetwork on CIFAR-10 networks of the benchmark's space."""

    name = "train_ghn"
    section = "ghn"
    conf = GHNTrainConf
    keys = ("task", "benchmark", "dataset", "ghn")
    not_results = ("ghn.device", "ghn.threads", "ghn.checkpoint")

    def prepare(self, cfg: Any) -> TaskPlan:
        from nasearch.data import DataError
        from nasearch.data.images import _split_files, image_root
        from nasearch.runfolder import fingerprint

        try:  # train_ghn: CIFAR-10 training images, always
            _split_files("cifar10", image_root("cifar10"), "train")
        except DataError as exc:
            raise DataError(f"task=train_ghn trains on CIFAR-10 training images: {exc}") from None
        return TaskPlan(cfg.task, fingerprint(cfg, {"benchmark.name": cfg.space().name}))

    def run(self, cfg: Any, out_dir: Path, plan: TaskPlan) -> str:
        table = train_ghn_task(cfg, Path(out_dir))
        write_text(Path(out_dir) / "summary.md", table)  # the task writes no table of its own
        return table


__all__ = ["GHNTrainConf", "TrainGHNTask", "settings_from_conf", "train_ghn_task"]
