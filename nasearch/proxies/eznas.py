"""EZNAS: an evolved program over network statistics as a zero-cost proxy.

Akhauri, Munoz, Jain & Iyer, "EZNAS: Evolving Zero-Cost Proxies For Neural Architecture Scoring",
NeurIPS 2022. The score of a network is ``AGG_i mean(program(stats_i))`` over its ReLU-Conv-BN
instances ``i`` (Sec. 3; :mod:`nasearch.eznas.program`), with the statistics of
:mod:`nasearch.eznas.statistics` computed on the full tensors of the first minibatch (input D), of
Gaussian noise and of the noise-perturbed minibatch (inputs N and P, drawn from the proxy context's
generator).

* ``proxy=eznas`` scores with the authors' published program behind their NB201 figures,
  :data:`~nasearch.eznas.program.PUBLISHED_NB201` (batch size 16 in their protocol:
  ``conf/proxy/eznas.yaml``).
* ``proxy=eznas proxy.program="<expression>"`` (Python: the proxy name ``"eznas:<expression>"``) scores
  with any program, e.g. one printed by ``task=evolve``.

Score store: every program is stored under the proxy name ``eznas`` with version
``1-<first 12 hex digits of sha256(normalised program text)>`` (the normalised text is what
:func:`~nasearch.eznas.program.parse` prints back: explicit aggregate, ``", "`` between arguments).

Deviations from the authors' code: the network keeps the scorer's initialisation (PyTorch's defaults
from the cell's seeded generator, like every proxy here) instead of their Kaiming-normal (fan-out)
re-initialisation; images come from the scorer's minibatch (no random crop/flip augmentation).

Cross-machine tolerance (eznas, ``ProxySpec.tolerance``, relative; the published program): measured on
50 cells (``experiments/cross_machine``): max 9.5e-4, median 7.6e-5 between the default kernels and
``ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41`` (Spearman rho 0.9999, worst cell index 9090);
tolerance 2e-3 (2x the worst). Other programs get the same tolerance; an evolved program can be worse
conditioned than the published one (measure it with ``experiments/cross_machine/run.py``).
"""

from __future__ import annotations

import functools

import torch

from nasearch.eznas.program import PUBLISHED_NB201, parse, score_network
from nasearch.proxies.registry import ProxyContext, ProxySpec, register_parametric, register_proxy

PAPER = "Akhauri et al., EZNAS: Evolving Zero-Cost Proxies For Neural Architecture Scoring, NeurIPS 2022"
CODE_VERSION = "1"


def program_version(text: str, where: str = "") -> str:
    """The score-store version of a program text (validates it)."""
    return f"{CODE_VERSION}-{parse(text, where).digest()}"


def _score(net: torch.nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]], ctx: ProxyContext,
           text: str) -> float:
    return score_network(parse(text), net, batches[0][0], ctx.generator)


TOLERANCE = 2e-3
"""Cross-machine tolerance (relative), measured for the published program (module docstring)."""


LAYOUT = "contiguous"
"""Memory layout of every eznas spec (the published program's and any parsed one's):
``experiments/channels_last/layout.csv``."""


@register_proxy("eznas", paper=PAPER, version=program_version(PUBLISHED_NB201), tolerance=TOLERANCE,
                layout=LAYOUT, work="fwd_bwd")
def eznas(net: torch.nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]], ctx: ProxyContext) -> float:
    """The authors' published NB201 program."""
    return _score(net, batches, ctx, PUBLISHED_NB201)


@functools.lru_cache(maxsize=256)
def _spec(text: str, where: str) -> ProxySpec:
    program = parse(text, where)
    return ProxySpec(
        name="eznas",
        fn=functools.partial(_score, text=program.text),
        paper=PAPER,
        version=f"{CODE_VERSION}-{program.digest()}",
        tolerance=TOLERANCE,
        layout=LAYOUT,
        work="fwd_bwd",
    )


register_parametric("eznas", _spec)
