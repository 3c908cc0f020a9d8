"""``task=train_ghn``: train (or resume) a Graph HyperNetwork on CIFAR-10 networks of the configured
benchmark's space, and report where it got to.

This module wires the config to the training library (:mod:`nasearch.predictors.ghn_train`: the
training function, its settings, the checkpoint format); the task is registered in
:mod:`nasearch.experiments.tasks`.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from nasearch.config import Config, GHNTrainConf
from nasearch.predictors.ghn import GHNConfig
from nasearch.predictors.ghn_train import GHNCheckpointError, TrainSettings, load_checkpoint, train_ghn


def settings_from_conf(c: GHNTrainConf, space: str) -> TrainSettings:
    """:class:`TrainSettings` of a :class:`nasearch.config.GHNTrainConf` (``space``: the space of the
    configured benchmark)."""
    return TrainSettings(
        steps=c.steps, batch=c.batch, cells_per_step=c.cells, lr=c.lr, seed=c.seed, holdout=c.holdout,
        holdout_seed=c.holdout_seed, every=c.every, eval_cells=c.eval_cells, eval_images=c.eval_images,
        model=GHNConfig(hidden=c.hidden, message_hidden=c.message_hidden, hyper_hidden=c.hyper_hidden, T=c.T),
        space=space,
    )


def train_ghn_task(cfg: Config, out_dir: Path) -> str:
    """``nasearch task=train_ghn ghn.steps=... ghn.checkpoint=PATH``: train or resume; returns a summary."""
    if cfg.ghn.threads:
        torch.set_num_threads(cfg.ghn.threads)
    settings = settings_from_conf(cfg.ghn, space=cfg.space().name)
    if cfg.dataset.name != "cifar10":
        raise GHNCheckpointError(f"task=train_ghn trains on CIFAR-10 images only (dataset={cfg.dataset.name!r})")
    path = train_ghn(settings, cfg.ghn.checkpoint, device=cfg.ghn.device, progress=cfg.progress)
    ck = load_checkpoint(path)
    h = ck["history"]
    last = h[-1].tolist() if len(h) else [0, math.nan, math.nan, math.nan, 0]
    return (f"GHN at step {int(ck['step'])} of {settings.steps}: train loss {last[1]:.4f}, held-out accuracy "
            f"{last[2]:.2f}% (loss {last[3]:.4f}) on {settings.eval_cells} fixed {settings.space} architectures; checkpoint {path}, "
            f"curve {path}.csv\n")


__all__ = ["settings_from_conf", "train_ghn_task"]
