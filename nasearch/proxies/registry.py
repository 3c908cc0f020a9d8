"""The proxy registry: the only way callers find zero-cost proxies.

A proxy is a function ``fn(net, batches, ctx) -> float`` registered by name with metadata:

* ``net``: a freshly initialised network of the architecture, built by its space's
  ``build_network`` (NAS-Bench-201's cell network for NB201, the NAS-Bench-Macro and
  TransNAS-Bench-101 networks for theirs) for the proxy (with BatchNorm when ``bn=True``,
  without when ``bn=False``), in train mode, float32, on the scorer's device (the CPU by default).
  The proxy may modify it freely (the scorer builds a new one for every call).
* ``batches``: a list of ``(images, labels)`` minibatches (``images`` float32 NCHW, normalised;
  ``labels`` int64), at least ``min_batches`` of them. Data-free proxies get the list too but must
  only use its shapes.
* ``ctx``: :class:`ProxyContext` with the number of classes and a ``torch.Generator`` for any
  randomness the proxy needs (Zen-score's Gaussian inputs, say), seeded from the run's seed.

Adding a proxy is one new module that calls :func:`register_proxy`: in this package, listed in
:data:`BUILTIN_MODULES`; in another package, named by an entry point of the group
``nasearch.proxies`` (:mod:`nasearch.registry`). A duplicate name is an error naming both modules.
Modules are imported on first lookup.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from nasearch.errors import NasearchError
from nasearch.registry import Registry


class ProxyError(NasearchError):
    """Unknown proxy or a setting a proxy cannot work with."""


@dataclass(frozen=True)
class ProxyContext:
    num_classes: int
    generator: torch.Generator
    input_size: int = 32


ProxyFn = Callable[[torch.nn.Module, "list[tuple[torch.Tensor, torch.Tensor]]", ProxyContext], float]


@dataclass(frozen=True)
class ProxySpec:
    name: str
    fn: ProxyFn
    paper: str
    higher_is_better: bool = True
    needs_labels: bool = False
    data_free: bool = False
    bn: bool = True
    """Build the network with BatchNorm (True) or with every BN replaced by the identity (False)."""
    min_batches: int = 1
    needs_network: bool = True
    """False for a proxy computed from the cell alone that needs no network at all. (params and flops
    count the network they are given, so they are registered data-free with a network.)"""
    needs_weights: bool = True
    """False for a proxy that reads only the network's structure and shapes (params, flops): the
    engine builds its network with zero-filling initialisers and hands it no batches
    (:func:`nasearch.scoring.blank_network`), a fraction of the cost of a real build on large
    networks such as TransNAS-Bench-101's."""
    version: str = "1"
    """Bump when the proxy's code changes its values: the score store keys scores by it."""
    tolerance: float = 1e-6
    """Relative difference a score may show on another machine (other CPU kernels: AVX-512, AVX2,
    SSE4.1) for the same cell, images and seed: the maximum measured in ``experiments/cross_machine``
    over 50 cells and five kernel settings, times a margin of 2 or more. Tests that compare a score
    with a committed value use it; on one machine a score is bit-identical (any threads, workers)."""
    layout: str = "contiguous"
    """The memory layout the engine hands the proxy its network and batches in: ``"contiguous"``
    (NCHW) or ``"channels_last"`` (NHWC memory; the same shapes). Chosen per proxy from a measurement
    (``experiments/channels_last``: the faster layout whose scores stay within half the proxy's
    cross-machine tolerance of the contiguous ones), never assumed; a proxy must give the same value
    in either layout up to float32 round-off."""
    work: str = "fwd_bwd"
    """The kind of work the proxy does, which sets the floor ``make bench`` reports it against:
    ``"structure"`` (no pass: params, flops), ``"forward"`` (forward passes only), ``"fwd_bwd"``
    (ordinary forward and backward passes), ``"per_sample"`` (per-sample gradients)."""
    nan_on: str = ""
    """The cells this proxy cannot rate, where there are such: the name of a network class attribute
    (e.g. ``"identity_block_is_degenerate"``) that, set True on a network, lets the proxy rate some of
    its cells NaN, by the paper's own rule (named in the module docstring). Empty: a NaN is a bug on
    every network; the proxy contract (:class:`nasearch.testing.ProxyContract`) checks both ways."""
    bind: Callable[[str], ProxySpec] | None = None
    """For a proxy parameterised by a file (a trained predictor): ``bind(checkpoint)`` returns the
    spec bound to that file, its ``version`` naming the file's content (see :func:`get_proxy`)."""
    members: tuple[str, ...] = ()
    """For a rank ensemble (:mod:`nasearch.proxies.ensembles`): its member proxies. The engine scores
    the members and combines their ranks (:mod:`nasearch.scoring.ensemble`); ``fn`` is never called."""
    combine: str = ""
    """An ensemble's rank combination (``logrank``, ``meanrank``, ``zscore``)."""
    ranking: str = ""
    """The population an ensemble ranks in (``run``: the cells of the call; ``space``: the whole space)."""
    resolve: Callable[[], ProxySpec] | None = None
    """For a registered name whose spec is built on lookup (an ensemble preset, whose members may be
    plugins loaded after it): :func:`get_proxy` returns ``resolve()``."""

    def sign(self) -> float:
        """+1 if higher scores mean better cells, -1 otherwise (multiply before ranking)."""
        return 1.0 if self.higher_is_better else -1.0


LAYOUTS = ("contiguous", "channels_last")
"""Memory layouts the engine can hand a proxy its network and batches in (``ProxySpec.layout``)."""
WORK_KINDS = ("structure", "forward", "fwd_bwd", "per_sample")
"""Kinds of work a proxy declares (``ProxySpec.work``)."""

BUILTIN_MODULES: tuple[str, ...] = tuple(
    f"nasearch.proxies.{m}"
    for m in ("aznas", "ensembles", "eznas", "fisher", "flops", "ghn", "grad_norm", "gradsign", "grasp", "jacob_cov", "lswag",
              "meco", "naswot", "params", "snip", "swap", "synflow", "tenas", "zen", "zico")
)
"""The modules of this package that define proxies (its other modules are the engine and the store)."""

PROXIES: Registry[ProxySpec] = Registry("proxy", error=ProxyError, builtins=BUILTIN_MODULES, listing="known proxies")
"""Every proxy: built-ins and the entry points of the group ``nasearch.proxies``."""

_REGISTRY = PROXIES._items  # the registry's own dict (tests add and remove throwaway proxies here)
_PARAMETRIC: dict[str, Callable[[str, str], ProxySpec]] = {}


def register_proxy(
    name: str,
    *,
    paper: str,
    higher_is_better: bool = True,
    needs_labels: bool = False,
    data_free: bool = False,
    bn: bool = True,
    min_batches: int = 1,
    needs_network: bool = True,
    needs_weights: bool = True,
    version: str = "1",
    tolerance: float = 1e-6,
    layout: str = "contiguous",
    work: str = "fwd_bwd",
    nan_on: str = "",
    bind: Callable[[str], ProxySpec] | None = None,
) -> Callable[[ProxyFn], ProxyFn]:
    """Decorator: register ``fn`` under ``name``. The function itself is returned unchanged."""

    if layout not in LAYOUTS:
        raise ProxyError(f"proxy {name!r}: layout={layout!r}; accepted: {', '.join(LAYOUTS)}")
    if work not in WORK_KINDS:
        raise ProxyError(f"proxy {name!r}: work={work!r}; accepted: {', '.join(WORK_KINDS)}")

    def deco(fn: ProxyFn) -> ProxyFn:
        if name in _REGISTRY and _REGISTRY[name].fn is fn:
            return fn
        PROXIES.register(name, ProxySpec(
            name=name,
            fn=fn,
            paper=paper,
            higher_is_better=higher_is_better,
            needs_labels=needs_labels,
            data_free=data_free,
            bn=bn,
            min_batches=min_batches,
            needs_network=needs_network,
            needs_weights=needs_weights,
            version=version,
            tolerance=tolerance,
            layout=layout,
            nan_on=nan_on,
            work=work,
            bind=bind,
        ), origin=getattr(fn, "__module__", None) or repr(fn))
        return fn

    return deco


def register_parametric(name: str, factory: Callable[[str, str], ProxySpec]) -> None:
    """Let ``get_proxy("NAME:ARGUMENT")`` build a spec: ``factory(argument, where)`` returns it (e.g.
    ``eznas:<program text>``; the spec's ``name`` stays ``NAME`` and its ``version`` encodes the
    argument, so the score store keys scores by it). ``NAME`` alone must be registered as usual."""
    if name in _PARAMETRIC:
        raise ProxyError(f"parametric proxy {name!r} is registered twice")
    _PARAMETRIC[name] = factory


def _load_all() -> None:
    PROXIES.load()


def proxy_names() -> tuple[str, ...]:
    return PROXIES.names()


def get_proxy(name: str, where: str = "", checkpoint: str | None = None) -> ProxySpec:
    """The spec registered as ``name``; with ``checkpoint`` (proxy.checkpoint), the spec bound to that
    file (only proxies registered with ``bind``, e.g. ``ghn``, take one)."""
    _load_all()
    base, sep, argument = name.partition(":")
    if sep and base in _PARAMETRIC:
        return _PARAMETRIC[base](argument, f" ({where})" if where else "")
    spec = PROXIES.get(name, where)
    if spec.resolve is not None:
        spec = spec.resolve()
    if checkpoint is None:
        return spec
    if spec.bind is None:
        takes = ", ".join(n for n, s in sorted(_REGISTRY.items()) if s.bind is not None)
        raise ProxyError(f"proxy {name!r} takes no checkpoint (proxy.checkpoint={checkpoint!r}); proxies that do: {takes}")
    return spec.bind(str(checkpoint))


def all_proxies() -> list[ProxySpec]:
    """Every registered spec: the network proxies and the ensemble presets (unresolved)."""
    return PROXIES.values()


def network_proxies() -> list[ProxySpec]:
    """The proxies that score one network (``fn``): every registered spec but the ensembles."""
    return [s for s in PROXIES.values() if not s.members]


def ensemble_names() -> tuple[str, ...]:
    """The registered ensemble presets (``az_nas``, ...)."""
    return tuple(s.name for s in PROXIES.values() if s.members)
