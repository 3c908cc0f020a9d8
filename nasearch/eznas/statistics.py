"""EZNAS network statistics: the 22 tensors of every ReLU-Conv-BN instance for inputs D, N and P.

Akhauri, Munoz, Jain & Iyer, "EZNAS: Evolving Zero-Cost Proxies For Neural Architecture Scoring",
NeurIPS 2022, Sec. 3 and the authors' code (IntelLabs/Hardware-Aware-Automated-Machine-Learning,
``EZNAS/evol_utilities.py``: ``process_network_output``, ``process_layer_data``).

Instances. A ReLU-Conv-BN instance is any run of three consecutive children ``(nn.ReLU, nn.Conv2d,
nn.BatchNorm2d)`` of an ``nn.Sequential``, found in ``net.modules()`` order. On NB201 these are exactly
the ``ReLUConvBN`` blocks (the conv edges of every cell and the two convs of each residual reduction
block): the authors' rule for NB201 stated structurally (they walk the flat list of Conv/BN/ReLU
modules and cut the stem, the residual shortcut conv that has no BN, and the final BN-ReLU). It needs
no knowledge of the space, so every nasearch space's networks have instances: TransNAS-Bench-101's
ReLU-conv-BN ops and basic blocks, and in NAS-Bench-Macro's MobileNetV2 blocks (1x1 conv, BN, ReLU,
depthwise conv, BN, ReLU, 1x1 conv, BN) the depthwise and the projection convs with the ReLU before
and the BN after each (the expansion conv has no ReLU before it, like NB201's stem conv). In-place
ReLUs run out of place while statistics are recorded (same values).

Inputs (one forward and one backward pass each, BN in train mode, same network for all three; forward
only when no gradient statistic is asked for, see :func:`collect`):

* ``D``: the data minibatch (the scorer's images);
* ``N``: standard normal noise of the same shape;
* ``P``: the minibatch plus Gaussian noise of variance 0.01 (std 0.1), as the authors' ``perturb=0.01``.

The backward pass differentiates the sum of the pooled features, i.e. the input of the network's last
``nn.Linear`` (the authors call ``out.backward(torch.ones_like(out))`` on xautodl's first output, the
pooled feature vector before the classifier); a network without an ``nn.Linear`` differentiates the
sum of its output. Parameter gradients are cleared before every pass.

The 22 statistics per instance (authors' names; ``X`` in ``D``, ``N``, ``P``):

* ``wt``: the conv weight (one copy: the same for the three inputs);
* ``wtgrad_X``: the conv weight's gradient;
* ``inpact_X``: the ReLU's input; ``inpactgrad_X``: the gradient reaching it through this ReLU
  (the authors' module backward hook on the ReLU, i.e. the gradient of the ReLU output masked by
  ``input > 0``, not the total gradient of the node, which other edges also read);
* ``preact_X``: the ReLU's output = the conv's input; ``preactgrad_X``: its gradient;
* ``act_X``: the BN output; ``actgrad_X``: its gradient.

``P`` statistics are differences ``stat(P) - stat(D)``, as in the authors' code.

Compact cache (deviation, documented). The full tensors of one NB201 network at batch 16 are about
1 GB; 80 cells would be tens of GB. :class:`Subsample` keeps the first ``batch`` samples and the first
``channels`` channels of every activation-shaped tensor (all spatial positions, so per-matrix
operations such as ``logdet`` over H x W keep their meaning) and the first ``channels`` output and
input channels of weight-shaped tensors, stored in bfloat16 (float32's range, so small gradients do
not flush to zero as in float16; 8 bits of mantissa). Programs evaluated on a subsample estimate
their full-tensor value: per-matrix statistics are unbiased, sums and norms scale with the number of
elements kept. Evolution reads the subsample; the ``eznas`` proxy always evaluates on full tensors,
collecting only the statistics the program names.

Float discipline: :func:`collect` pins torch to one thread while it computes (restoring the caller's
setting), so the values are identical whatever the caller's thread count on one machine; across CPU
kernels (AVX2 vs SSE4.1) float32 results differ in the last bits, and sign-sensitive programs
(``sign`` of a gradient near zero) may flip a few elements: compare across machines with a tolerance
(the tests use rtol 1e-4 on statistics).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch
from torch import nn

from nasearch.determinism import one_thread  # the scoring engine's pin: statistics are summed like scores
from nasearch.errors import NasearchError

KINDS = ("D", "N", "P")
"""Input kinds: data minibatch, Gaussian noise, noise-perturbed minibatch."""

PERTURB_VARIANCE = 0.01
"""Variance of the Gaussian perturbation of input P (authors' ``perturb=0.01``: std 0.1)."""

_PER_KIND = ("wtgrad", "inpact", "inpactgrad", "preact", "preactgrad", "act", "actgrad")

STAT_NAMES: tuple[str, ...] = ("wt",) + tuple(f"{s}_{k}" for s in _PER_KIND for k in KINDS)
"""The 22 statistic names, in the canonical order used by the program language."""

WEIGHT_LIKE = frozenset({"wt", "wtgrad_D", "wtgrad_N", "wtgrad_P"})


class StatisticsError(NasearchError):
    """A network without ReLU-Conv-BN instances, or an unknown statistic name."""


@dataclass(frozen=True)
class Subsample:
    """Keep the first ``batch`` samples and first ``channels`` channels (see the module docstring)."""

    batch: int = 4
    channels: int = 2

    def apply(self, name: str, t: torch.Tensor) -> torch.Tensor:
        if name in WEIGHT_LIKE:
            return t[: self.channels, : self.channels].contiguous()
        return t[: self.batch, : self.channels].contiguous()


Instance = tuple[nn.ReLU, nn.Conv2d, nn.BatchNorm2d]


def find_instances(net: nn.Module) -> list[Instance]:
    """Every run of three consecutive children (ReLU, Conv2d, BatchNorm2d) of an ``nn.Sequential``,
    in ``net.modules()`` order (see the module docstring)."""
    out: list[Instance] = []
    for m in net.modules():
        if isinstance(m, nn.Sequential):
            kids = list(m.children())
            for a, b, c in zip(kids, kids[1:], kids[2:]):
                if isinstance(a, nn.ReLU) and isinstance(b, nn.Conv2d) and isinstance(c, nn.BatchNorm2d):
                    out.append((a, b, c))
    return out


@contextlib.contextmanager
def out_of_place_relus(net: nn.Module) -> Iterator[None]:
    """Every ``nn.ReLU(inplace=True)`` of ``net`` runs out of place for the block (same values): an
    in-place ReLU would overwrite the BN output and the ReLU input that the hooks record."""
    relus = [m for m in net.modules() if isinstance(m, nn.ReLU) and m.inplace]
    for m in relus:
        m.inplace = False
    try:
        yield
    finally:
        for m in relus:
            m.inplace = True


def make_inputs(images: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """The three inputs D, N, P from a minibatch; the noise is drawn from ``generator`` (N first)."""
    noise = torch.randn(images.shape, generator=generator, dtype=images.dtype)
    perturb = torch.randn(images.shape, generator=generator, dtype=images.dtype)
    return {"D": images, "N": noise, "P": images + PERTURB_VARIANCE**0.5 * perturb}


def kinds_needed(names: Iterable[str]) -> tuple[str, ...]:
    """Input kinds whose passes the statistics ``names`` need (P needs D too; ``wt`` needs none)."""
    need = set()
    for n in names:
        if n not in STAT_NAMES:
            raise StatisticsError(f"unknown statistic {n!r}; accepted: {', '.join(STAT_NAMES)}")
        if n != "wt":
            need.add(n[-1])
    if "P" in need:
        need.add("D")
    return tuple(k for k in KINDS if k in need)


GRADIENT_STATS = frozenset({"wtgrad", "inpactgrad", "preactgrad", "actgrad"})
"""Per-kind statistics that need the backward pass."""


def needs_backward(names: Iterable[str]) -> bool:
    """Whether any of the statistics ``names`` is a gradient (else the passes run forward only)."""
    return any(n != "wt" and n[:-2] in GRADIENT_STATS for n in names)


def _loss_input(net: nn.Module) -> nn.Linear | None:
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    return linears[-1] if linears else None


def _one_pass(net: nn.Module, x: torch.Tensor, instances: list[Instance],
              subsample: Subsample | None = None, backward: bool = True) -> list[dict[str, torch.Tensor]]:
    """Forward + backward of ``x``; per instance the 7 per-kind tensors (detached, float32), cut by
    ``subsample`` right away (elementwise work after the cut gives bitwise the same values).

    ``backward=False``: forward only, under ``torch.no_grad`` (the forward values are the same
    tensors; the gradient statistics are then absent from the result)."""
    rec: list[dict[str, torch.Tensor]] = [{} for _ in instances]
    handles = []

    def relu_hook(i: int):
        def fn(mod: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
            rec[i]["inpact"] = inp[0].detach()
            rec[i]["preact"] = out.detach()
            if out.requires_grad:
                out.register_hook(lambda g: rec[i].__setitem__("preactgrad", g.detach()))

        return fn

    def bn_hook(i: int):
        def fn(mod: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
            rec[i]["act"] = out.detach()
            if out.requires_grad:
                out.register_hook(lambda g: rec[i].__setitem__("actgrad", g.detach()))

        return fn

    for i, m in enumerate(instances):
        handles.append(m[0].register_forward_hook(relu_hook(i)))
        handles.append(m[2].register_forward_hook(bn_hook(i)))
    captured: dict[str, torch.Tensor] = {}
    lin = _loss_input(net) if backward else None  # only the backward pass needs the loss input
    if lin is not None:
        handles.append(lin.register_forward_pre_hook(lambda mod, inp: captured.__setitem__("z", inp[0])))
    try:
        if backward:
            for p in net.parameters():
                p.grad = None
            x = x.detach().clone().requires_grad_(True)
            out = net(x)
            z = captured.get("z", out)
            z.sum().backward()
        else:  # the hooks see outputs that do not require grad, so they register no gradient hook
            with torch.no_grad():
                net(x.detach().clone())
    finally:
        for h in handles:
            h.remove()
    for i, m in enumerate(instances):
        r = rec[i]
        if subsample is not None:
            r.update({k: subsample.apply(k, v) for k, v in r.items()})
        if not backward:
            continue
        zeros = torch.zeros_like(r["preact"])
        g_pre = r.get("preactgrad", zeros)  # an instance the loss does not reach has zero gradients
        r["preactgrad"] = g_pre
        r["actgrad"] = r.get("actgrad", torch.zeros_like(r["act"]))
        r["inpactgrad"] = g_pre * (r["inpact"] > 0).to(g_pre.dtype)  # ReLU backward, this path only
        w = m[1].weight
        g = w.grad.detach().clone() if w.grad is not None else torch.zeros_like(w)
        r["wtgrad"] = subsample.apply("wt", g) if subsample is not None else g
    return rec


def collect(
    net: nn.Module,
    images: torch.Tensor,
    generator: torch.Generator,
    names: Iterable[str] = STAT_NAMES,
    subsample: Subsample | None = None,
    dtype: torch.dtype = torch.float32,
) -> list[dict[str, torch.Tensor]]:
    """Statistics ``names`` of every ReLU-Conv-BN instance of ``net`` (one dict per instance).

    ``net`` is used as given (train mode is set); ``generator`` draws the N and P noise (both drawn
    even when only one is needed, so the values do not depend on ``names``). When no name is a
    gradient statistic the passes run forward only (no backward: about 40% of the time saved). With ``subsample`` the
    tensors are cut as :class:`Subsample` says; ``dtype`` is the storage type of the result.
    """
    names = tuple(dict.fromkeys(names))
    kinds = kinds_needed(names)
    instances = find_instances(net)
    if not instances:
        raise StatisticsError(
            f"{type(net).__name__} has no ReLU-Conv-BN instance (consecutive ReLU, Conv2d, BatchNorm2d "
            "children of an nn.Sequential); EZNAS statistics need at least one"
        )
    with one_thread(), out_of_place_relus(net):
        inputs = make_inputs(images.to(torch.float32), generator)
        net.train()
        backward = needs_backward(names)
        passes = {k: _one_pass(net, inputs[k], instances, subsample, backward) for k in kinds}
    out = []
    for i, m in enumerate(instances):
        d: dict[str, torch.Tensor] = {}
        for n in names:
            if n == "wt":
                t = m[1].weight.detach()
                if subsample is not None:
                    t = subsample.apply(n, t)
            else:
                base, kind = n[:-2], n[-1]
                t = passes[kind][i][base]
                if kind == "P":
                    t = t - passes["D"][i][base]
            d[n] = t.to(dtype).clone()
        out.append(d)
    return out


def shape_signature(instance: dict[str, torch.Tensor]) -> tuple:
    """Instances with equal signatures can be stacked and evaluated together."""
    return tuple((n, tuple(t.shape)) for n, t in sorted(instance.items()))


@dataclass
class StatGroup:
    """Instances of equal shapes stacked along a leading dimension, with the cell each belongs to."""

    stats: dict[str, torch.Tensor]
    owner: torch.Tensor
    """int64 (n,): position of each instance's cell in the cell list."""

    def __len__(self) -> int:
        return int(self.owner.numel())


def group_instances(per_cell: list[list[dict[str, torch.Tensor]]]) -> list[StatGroup]:
    """Stack the instances of many cells into shape groups (deterministic order: first appearance)."""
    buckets: dict[tuple, list[tuple[int, dict[str, torch.Tensor]]]] = {}
    for c, insts in enumerate(per_cell):
        for inst in insts:
            buckets.setdefault(shape_signature(inst), []).append((c, inst))
    groups = []
    for members in buckets.values():
        names = list(members[0][1])
        groups.append(
            StatGroup(
                stats={n: torch.stack([inst[n] for _, inst in members]) for n in names},
                owner=torch.tensor([c for c, _ in members], dtype=torch.int64),
            )
        )
    return groups


__all__ = [
    "KINDS",
    "PERTURB_VARIANCE",
    "STAT_NAMES",
    "StatGroup",
    "StatisticsError",
    "Subsample",
    "collect",
    "find_instances",
    "group_instances",
    "kinds_needed",
    "make_inputs",
    "needs_backward",
    "one_thread",
    "shape_signature",
]
