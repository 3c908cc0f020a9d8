"""NAS-Bench-201 as a :class:`~nasearch.space.base.SearchSpace` (registry name ``nb201``).

NB201's package: this module registers the space; the arch value is :class:`nasearch.space.nb201.arch.Arch`
(6 op ids in the official edge order), whose strings are parsed and printed in
:mod:`nasearch.space.nb201.arch`; networks are built by :mod:`nasearch.space.nb201.networks` (imported
on first use, so reading archs needs no torch). This class adapts both to the interface without
changing a single random draw: ``sample`` and ``mutate`` are NB201's own (``arch.sample``: 6 uniform
op ids in one call; ``arch.mutate``: one edge, then a different op), so every NB201 study reproduces
bit for bit.

Encoding: ``positions = (5,) * 6``, the op id of each edge in official order; every vector is a
cell, so ``from_choices`` never returns None. ConfigSpace: 6 categorical hyperparameters named
``'j<-i'`` (xautodl's names for BOHB) over the op names. Trivial cells: no path of non-``none``
edges from input to output (341 cells; their network outputs zeros).

Indices: ``arch.index`` / :meth:`NB201Space.from_index` are nasearch's internal ordinal (base 5; seeds,
store rows, array positions), :meth:`NB201Space.official_index` / :meth:`NB201Space.from_official_index`
the official NAS-Bench-201 / NATS-Bench index users see; :meth:`NB201Space.parse` reads an integer as
the official index (see :mod:`nasearch.space.nb201.arch`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from nasearch.space.base import ArchError, SearchSpace, _where, register_space
from nasearch.space.nb201 import arch as _arch
from nasearch.space.nb201.arch import EDGES, NUM_ARCHS, NUM_EDGES, NUM_OPS, OPS, Arch

_FORMS = (
    "an NB201 arch string |op~0|+|op~0|op~1|+|op~0|op~1|op~2| (op in " + ", ".join(OPS) + "), "
    f"an official NB201 index in 0..{NUM_ARCHS - 1}, or {NUM_EDGES} op ids in 0..{NUM_OPS - 1}"
)


@register_space
class NB201Space(SearchSpace):
    name = "nb201"
    num_archs = NUM_ARCHS
    tasks = ("cifar10", "cifar100", "ImageNet16-120")
    positions = (NUM_OPS,) * NUM_EDGES

    # ------------------------------------------------------------------ arch values
    def parse(self, value: Any, where: str = "") -> Arch:
        """An arch from its NB201 string, its 6 op ids, or its *official* NB201 index (an integer);
        an internal ordinal goes through :meth:`from_index` instead."""
        if isinstance(value, Arch):
            return value
        if isinstance(value, (bool, float)) or not isinstance(value, (str, int, np.integer, Sequence)):
            raise ArchError(
                f"{type(value).__name__} {value!r} is not an arch of space 'nb201'{_where(where)}; accepted: {_FORMS}"
            )
        try:
            return Arch.parse(value)
        except ArchError as exc:
            hint = self.foreign_hint(value)
            raise ArchError(f"space 'nb201'{_where(where)}: {exc}{hint}") from exc
        except (TypeError, ValueError) as exc:
            raise ArchError(
                f"{value!r} is not an arch of space 'nb201'{_where(where)}: {exc}; accepted: {_FORMS}"
            ) from exc

    def _own(self, arch: Any) -> Arch:
        if not isinstance(arch, Arch):
            raise ArchError(
                f"{type(arch).__name__} {arch!r} is not an arch of space 'nb201'; accepted: {_FORMS}"
            )
        return arch

    def to_string(self, arch: Any) -> str:
        return self._own(arch).to_string()

    def from_index(self, i: int) -> Arch:
        """The cell of nasearch's internal ordinal ``i`` (not an official NB201 index)."""
        return Arch.from_index(i)

    def official_index(self, arch: Any) -> int:
        """The official NAS-Bench-201 / NATS-Bench index of ``arch`` (0..15624)."""
        return self._own(arch).official_index

    def from_official_index(self, i: int) -> Arch:
        """The cell whose official NAS-Bench-201 / NATS-Bench index is ``i``."""
        return Arch.from_official_index(i)

    def all_archs(self) -> Iterator[Arch]:
        return _arch.all_archs()

    # NB201's own draws, bound directly (no wrapper on the strategies' hot path)
    sample = staticmethod(_arch.sample)  # type: ignore[assignment]
    mutate = staticmethod(_arch.mutate)  # type: ignore[assignment]

    def neighbours(self, arch: Any) -> list[Arch]:
        return self._own(arch).neighbours()

    def to_choices(self, arch: Any) -> tuple[int, ...]:
        return self._own(arch).ops

    def from_choices(self, choices: Sequence[int]) -> Arch:
        return Arch(tuple(choices))

    def encode(self, archs: Sequence[Any]) -> np.ndarray:
        return _arch.encode(list(archs))

    # ------------------------------------------------------------------ ConfigSpace
    def config_names(self) -> tuple[str, ...]:
        return tuple(f"{dst}<-{src}" for src, dst in EDGES)

    def config_values(self, position: int) -> tuple[str, ...]:
        return OPS

    def from_config(self, config: Mapping[str, Any]) -> Arch:
        return super().from_config(config)  # type: ignore[return-value]

    # ------------------------------------------------------------------ networks
    def is_trivial(self, arch: Any) -> bool:
        return not self._own(arch).is_connected()

    def num_classes(self, task: str) -> int:
        from nasearch.space.nb201.networks import NUM_CLASSES

        return NUM_CLASSES[self.check_task(task)]

    def input_size(self, task: str) -> int:
        from nasearch.space.nb201.networks import INPUT_SIZE

        return INPUT_SIZE[self.check_task(task)]

    def build_network(self, arch: Any, task: str, *, bn: bool = True, generator: Any = None) -> Any:
        from nasearch.space.nb201.networks import build_network

        return build_network(self._own(arch), self.check_task(task), bn=bn, generator=generator)


__all__ = ["NB201Space"]
