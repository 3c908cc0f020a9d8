"""Graph HyperNetwork prediction as a proxy: ``ghn`` (accuracy) and ``ghn_loss`` (cross-entropy).

Paper: Zhang, Ren & Urtasun, "Graph HyperNetworks for Neural Architecture Search", ICLR 2019,
Sec. 3.4: a trained GHN generates a candidate's weights in one forward pass, and the candidate is
ranked by the validation accuracy of the network with those weights. The GHN, its training and
every deviation are documented in :mod:`nasearch.predictors.ghn` and
:mod:`nasearch.predictors.ghn_train`.

* ``ghn``: accuracy (%) of the generated network on held-out images, ties broken by the loss:
  ``score = accuracy - 1e-4 * min(loss, 100)`` (:func:`nasearch.predictors.ghn.proxy_score`, which
  GHN training's rho cells use too; the tie-break term is below 0.01, under one image's worth of
  accuracy for up to 2,500 images). Higher is better.
* ``ghn_loss``: the mean cross-entropy on the same images. Lower is better.
* ``ghn2`` / ``ghn2_loss``: the same two scores with the second checkpoint shipped in the package,
  :data:`GHN2_CHECKPOINT`, a GHN trained the way GHN-2 trains (Knyazev et al., NeurIPS 2021: several
  architectures per step, GHN-2's parameter normalisation, layer norm, virtual edges; 10,000 steps,
  the model of its best rho row on 100 fixed held-out cells; ``experiments/ghn/``). ``ghn`` keeps the
  first (GHN-1) checkpoint so that the studies and the table made with it still reproduce.

Images: the engine's minibatches fix HOW MANY images and their batching (``batch_size`` x
``num_batches``, default 64 x 1 = 64); the images themselves are the first that many of the
checkpoint's held-out images (the part of the shared training split the GHN never trained on,
read from ``$NASEARCH_DATA``), each minibatch normalised by its own BatchNorm statistics. The
engine's network is used as the target (its weights are replaced by generated ones).

Checkpoint: ``proxy.checkpoint=PATH`` (``score_cells(..., checkpoint=PATH)``) binds the proxy to a
trained GHN; without it the checkpoint shipped in the package for that name (``nasearch/predictors/``
:data:`DEFAULT_CHECKPOINT` for ``ghn`` and ``ghn_loss``, :data:`GHN2_CHECKPOINT` for ``ghn2`` and
``ghn2_loss``) is used. The proxy's ``version`` in the score store is
``1+<first 12 hex digits of the checkpoint file's sha256>``, so scores of different GHNs never mix.

GHN-1 and GHN-2 checkpoints: the GHN's configuration comes from the checkpoint file (a GHN-2-style
one, ``norm="ghn2"``, also generates the network's BN affines and biases; see
:mod:`nasearch.predictors.ghn`); the proxy scores with whatever it holds.

Spaces: the graph is the built network's (:func:`nasearch.space.graph.op_graph`), so a checkpoint
scores the networks of any space. A GHN is trained on one space (``nasearch task=train_ghn
benchmark=<space>``; the space is in the checkpoint's ``train`` settings, NB201 for the shipped one);
scores of another space's networks are a transfer figure, not the paper's protocol.

Deviations from the paper's prediction protocol: the held-out images are part of the shared
10,000-image CIFAR-10 subset (default 2,000 held out, not 5,000 of 50,000) and a score uses only
``batch_size x num_batches`` of them (default 64, to keep a score near one second on CPU; more
with ``proxy.num_batches``);
BatchNorm uses batch statistics (a GHN-1 checkpoint generates no BN parameters: they are fixed at
1 / 0; see the GHN module).

Cross-machine tolerance (``ProxySpec.tolerance``, relative), measured on 50 cells with the shipped
checkpoint (``experiments/cross_machine``), default kernels against ``ATEN_CPU_CAPABILITY=default
ONEDNN_MAX_CPU_ISA=SSE41``: ``ghn`` max 1.5e-12 (median 0: the generated weights do not depend on the
engine's random initialisation, and no prediction flipped), ``ghn_loss`` max 1.3e-7 (median 0).
With the GHN-2-style checkpoint (the same 50 cells and settings): ``ghn2`` max 4.9e-13, ``ghn2_loss``
max 2.4e-7 (median 1.0e-7), no prediction flipped. Tolerance 1e-6 for all four. A prediction that flips on another machine moves ``ghn`` by 100/N points
(N held-out images), a step, not a rounding: compare rankings, not values, across machines.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import torch

from nasearch.proxies.registry import ProxyContext, ProxyError, ProxySpec, register_proxy

DEFAULT_CHECKPOINT = "ghn_nb201_cifar10.pt"
GHN2_CHECKPOINT = "ghn2_nb201_cifar10.pt"
PAPER = "Zhang, Ren & Urtasun, Graph HyperNetworks for Neural Architecture Search, ICLR 2019"
PAPER_GHN2 = "Knyazev et al., Parameter Prediction for Unseen Deep Architectures, NeurIPS 2021"


def packaged_checkpoint(name: str) -> Path:
    """A GHN checkpoint shipped in ``nasearch/predictors/`` (the file may be absent in a broken install)."""
    return Path(str(resources.files("nasearch.predictors").joinpath(name)))


def default_checkpoint() -> Path:
    return packaged_checkpoint(DEFAULT_CHECKPOINT)


class GHNPredictor:
    """Picklable proxy function bound to one checkpoint file; loads the GHN lazily (per process)."""

    def __init__(self, path: str | os.PathLike[str], metric: str):
        self.path = str(path)
        self.metric = metric
        self._ghn = None
        self._heldout: tuple[torch.Tensor, torch.Tensor] | None = None

    def __getstate__(self) -> dict:
        return {"path": self.path, "metric": self.metric, "_ghn": None, "_heldout": None}

    def _load(self) -> None:
        from nasearch.predictors.ghn_train import load_model, split_images

        ghn, ck = load_model(self.path)
        tr = ck.get("train") or {}
        try:
            _, _, vx, vy = split_images(tr["dataset"], int(tr["holdout"]), int(tr["holdout_seed"]))
        except KeyError as exc:
            raise ProxyError(f"GHN checkpoint {self.path} does not record its held-out split ({exc})") from exc
        self._ghn, self._heldout = ghn, (vx, vy)

    def __call__(self, net: torch.nn.Module, batches: list, ctx: ProxyContext) -> float:
        from nasearch.predictors.ghn import Target, forward_counts, proxy_score

        if self._ghn is None:
            self._load()
        assert self._heldout is not None and self._ghn is not None
        vx, vy = self._heldout
        need = sum(len(b[1]) for b in batches)
        if need > len(vy):
            raise ProxyError(
                f"the GHN proxy needs {need} held-out images (batch_size x num_batches) but checkpoint "
                f"{self.path} holds out {len(vy)}; use fewer"
            )
        target = Target(net)
        with torch.no_grad():  # the checkpoint's configuration decides what is generated (GHN-1 or GHN-2)
            params = self._ghn(self._ghn.batch_of([target]))[0]
            correct, loss = forward_counts(target, params, vx, vy, [len(b[1]) for b in batches])
        acc, mean_loss = 100.0 * correct / need, loss / need
        if self.metric == "loss":
            return mean_loss
        return proxy_score(acc, mean_loss)


def _version(path: str | os.PathLike[str]) -> str:
    from nasearch.predictors.ghn_train import file_sha256

    return "1+" + file_sha256(path)[:12]


class _Binder:
    """``bind(checkpoint)`` of the ghn proxies: a module-level class, not a closure, so a spec (which
    holds it) pickles to worker processes and Ray tasks."""

    def __init__(self, name: str, metric: str):
        self.name, self.metric = name, metric

    def __call__(self, checkpoint: str) -> ProxySpec:
        from dataclasses import replace

        from nasearch.predictors.ghn_train import GHNCheckpointError, load_checkpoint
        from nasearch.proxies.registry import get_proxy

        try:
            load_checkpoint(checkpoint)  # fail early, naming the file, if it is missing or not a GHN
        except GHNCheckpointError as exc:  # a proxy's error, as every failure of get_proxy
            raise ProxyError(str(exc)) from exc
        return replace(get_proxy(self.name), fn=GHNPredictor(checkpoint, self.metric), version=_version(checkpoint))


def _default_version(p: Path) -> str:
    return _version(p) if p.is_file() else "1+missing"


def _make(name: str, metric: str, higher: bool, checkpoint: str, paper: str) -> None:
    path = packaged_checkpoint(checkpoint)
    register_proxy(
        name,
        paper=paper,
        work="forward",
        higher_is_better=higher,
        needs_labels=True,
        min_batches=1,
        version=_default_version(path),
        tolerance=1e-6,  # cross-machine, relative (experiments/cross_machine)
        bind=_Binder(name, metric),
    )(GHNPredictor(path, metric))


_make("ghn", "acc", True, DEFAULT_CHECKPOINT, PAPER)
_make("ghn_loss", "loss", False, DEFAULT_CHECKPOINT, PAPER)
_make("ghn2", "acc", True, GHN2_CHECKPOINT, PAPER_GHN2)
_make("ghn2_loss", "loss", False, GHN2_CHECKPOINT, PAPER_GHN2)
