"""The search-space interface and the space registry.

A search space owns its architecture value (a frozen, hashable, ordered dataclass with ``.index`` in
``0..num_archs-1`` and ``str(arch)`` = the benchmark's own string), parsing and printing of that
string (the one place), enumeration, uniform sampling, mutation, neighbours, a fixed-length
categorical encoding (``positions``: the number of choices at each position), its ConfigSpace
description for BOHB, the torch network of an arch for each task, and (later) its operation graph.
Every other module (strategies, the pre-filter, the scorer, the score store, experiments, the CLI)
speaks "an arch of space S" through this interface and never imports a space's internals.

Spaces register themselves with :func:`register_space` when their module is imported; callers find
them with :func:`get_space` (one shared instance per name) and list them with :func:`space_names`.
The modules of :data:`BUILTIN_MODULES` and every entry point of the group ``nasearch.spaces``
(:mod:`nasearch.registry`) are imported on first lookup, so adding a space is one new module that
decorates its class (listed there, or named by an entry point of the package that ships it).

Defaults: the base class implements ``all_archs``, ``sample``, ``neighbours``, ``mutate``,
``encode``, ``config_space`` and ``from_config`` from the abstract ``from_index`` / ``to_choices`` /
``from_choices`` / ``positions``, so a new space needs only those plus parsing and networks; a space
overrides any of them where it has its own definition (NB201 keeps its own random streams so that
every committed NB201 result reproduces bit for bit).

Parsing: the default :meth:`SearchSpace.parse` dispatches on the value's type (an arch of the space, a
string, an integer index, a choice tuple); a space supplies ``Arch``, ``expected_form`` and
:meth:`~SearchSpace._parse_string` / :meth:`~SearchSpace._parse_index` (NB201 keeps its own
``parse``). :class:`ProductSpace` adds what spaces whose archs are *every* vector of codes share
(NAS-Bench-Macro, TransNAS-Bench-101 micro): index decoding, ``from_choices`` and NB201-style
``sample`` / ``mutate`` draws.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from nasearch.errors import NasearchError
from nasearch.registry import Registry


class ArchError(NasearchError):
    """A malformed architecture (string, tuple, index or value of another space)."""


class SpaceError(ArchError):
    """An unknown search space or task name."""


def _where(where: str) -> str:
    return f" ({where})" if where else ""


def index_of_codes(codes: Sequence[int], k: int) -> int:
    """``codes`` read as a base-``k`` number, the first code most significant (the ``index`` of NB201,
    NAS-Bench-Macro and TransNAS-Bench-101 micro archs)."""
    i = 0
    for c in codes:
        i = i * k + c
    return i


def codes_of_index(i: int, k: int, n: int) -> tuple[int, ...]:
    """Inverse of :func:`index_of_codes`: the ``n`` base-``k`` digits of ``i``, most significant first."""
    codes = []
    for _ in range(n):
        codes.append(i % k)
        i //= k
    return tuple(reversed(codes))


class SearchSpace(ABC):
    """One search space. Subclasses set the class attributes and implement the abstract methods."""

    name: ClassVar[str] = ""
    """Registry key (``space_names()``: NAS-Bench-201's cells, NAS-Bench-Macro, TransNAS-Bench-101 micro and macro)."""
    num_archs: int = 0
    """Size of the enumeration; ``arch.index`` runs over ``0..num_archs-1``."""
    tasks: tuple[str, ...] = ()
    """Network variants (datasets or tasks); each has its own head width and input size."""
    network_tasks: tuple[str, ...] = ()
    """Tasks ``build_network`` builds a network for (empty: every task). TransNAS-Bench-101 searches
    all 7 of its tasks but builds networks for the classification tasks and jigsaw only; for the
    others ``build_network`` / ``num_classes`` raise :class:`ArchError` saying so."""

    resize_images: ClassVar[bool] = False
    """True when a network must see images at ``input_size(task)``: image sets of another size are then
    resized to it before scoring (bilinear, :func:`nasearch.data.images.resize_batches`). NB201 and
    NAS-Bench-Macro networks end in global pooling and were trained at their image sets' own sizes, so
    they keep the images as read (their scores stay what they were); TransNAS-Bench-101's encoders are
    built for 256 x 256 Taskonomy images, which nasearch does not have, so any image set the user
    names is resized to that size."""

    def networks_for(self) -> tuple[str, ...]:
        """The tasks with a network: ``network_tasks`` or, when empty, ``tasks``."""
        return self.network_tasks or self.tasks
    positions: tuple[int, ...] = ()
    """Fixed-length categorical encoding: the number of choices at each position."""

    Arch: ClassVar[type]
    """The arch value class; :meth:`parse` returns its instances as they are."""
    expected_form: ClassVar[str] = ""
    """The accepted spellings of an arch, named in :meth:`parse`'s errors."""
    choices_noun: ClassVar[str] = "choice tuple"
    """What :meth:`parse`'s error calls a rejected tuple ("op tuple", "block tuple", ...)."""
    config_error_shows_value: ClassVar[bool] = False
    """True: :meth:`from_config`'s error ends with the rejected value, ``(got 'x')``."""

    # ------------------------------------------------------------------ arch values
    def parse(self, value: Any, where: str = "") -> Any:
        """An arch from the benchmark's string, an index, a choices tuple, or an arch of this space.

        Raises :class:`ArchError` naming the space, the value, the accepted forms and ``where``.
        The default returns an ``Arch`` as is and hands a string to :meth:`_parse_string`, an integer
        (not a bool) to :meth:`_parse_index`, a tuple, list or array to :meth:`_parse_choices`."""
        if isinstance(value, self.Arch):
            return value
        if isinstance(value, str):
            return self._parse_string(value, where)
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            return self._parse_index(value, where)
        if isinstance(value, (tuple, list, np.ndarray)):
            return self._parse_choices(value, where)
        raise ArchError(
            f"{value!r} ({type(value).__name__}){_where(where)} is not an architecture of space "
            f"{self.name!r}: expected {self.expected_form}"
        )

    def _parse_string(self, text: str, where: str = "") -> Any:
        """The arch of the benchmark's string ``text`` (for the default :meth:`parse`)."""
        raise NotImplementedError(f"{type(self).__name__} defines neither parse nor _parse_string")

    def _parse_index(self, i: Any, where: str = "") -> Any:
        """The arch of index ``i`` (for the default :meth:`parse`)."""
        raise NotImplementedError(f"{type(self).__name__} defines neither parse nor _parse_index")

    def _parse_choices(self, value: Any, where: str = "") -> Any:
        """The arch of a code tuple (for the default :meth:`parse`): ``Arch(tuple(value))``."""
        try:
            return self.Arch(tuple(value))
        except ArchError:
            raise ArchError(
                f"{self.choices_noun} {value!r}{_where(where)} is not an architecture of space {self.name!r}: "
                f"expected {self.expected_form}"
            ) from None

    def to_string(self, arch: Any) -> str:
        """The benchmark's own string of ``arch`` (default: ``arch.to_string()``)."""
        return arch.to_string()

    @abstractmethod
    def from_index(self, i: int) -> Any:
        """The arch with ``arch.index == i`` (nasearch's internal ordinal: seeds, store rows, arrays)."""

    def official_index(self, arch: Any) -> int:
        """The index users see (``nasearch query``, the ``index`` column of every table written): the
        benchmark's own published index where it has one (NB201: NATS-Bench's, see
        ``NB201Space``), else the space's enumeration, ``arch.index``."""
        return int(arch.index)

    def from_official_index(self, i: int) -> Any:
        """Inverse of :meth:`official_index` (default: :meth:`from_index`)."""
        return self.from_index(i)

    @abstractmethod
    def to_choices(self, arch: Any) -> tuple[int, ...]:
        """``arch`` as one choice per position (``len == len(positions)``)."""

    @abstractmethod
    def from_choices(self, choices: Sequence[int]) -> Any | None:
        """The arch of a choice vector, or None when the vector (in range) is not an arch of the
        space. Wrong length or out-of-range choices raise :class:`ArchError`."""

    @abstractmethod
    def is_trivial(self, arch: Any) -> bool:
        """True when the network's output does not depend on its input (never scored, never preferred)."""

    @abstractmethod
    def num_classes(self, task: str) -> int:
        """Output width of the network's head for ``task``."""

    @abstractmethod
    def input_size(self, task: str) -> int:
        """Image side the network of ``task`` expects."""

    @abstractmethod
    def build_network(self, arch: Any, task: str, *, bn: bool = True, generator: Any = None) -> Any:
        """The torch network of ``arch`` for ``task``: ``forward(N x 3 x S x S) -> N x num_classes``.

        Weights are drawn from ``generator`` (the global RNG forked), so the same generator state
        gives the same network in any process; ``bn=False`` replaces every BatchNorm by Identity."""

    def op_graph(self, arch: Any, task: str) -> Any:
        """The operation graph of ``arch``'s network for ``task`` (for GHN and EZNAS): derived from the
        built torch module by :func:`nasearch.space.graph.op_graph` (torch.fx), so every space that
        builds networks has one; a space overrides this only to add knowledge the module lacks."""
        from nasearch.space.graph import op_graph

        return op_graph(self.build_network(arch, task))

    # ------------------------------------------------------------------ defaults from the above
    def all_archs(self) -> Iterator[Any]:
        """Every arch, in index order."""
        for i in range(self.num_archs):
            yield self.from_index(i)

    def sample(self, rng: np.random.Generator) -> Any:
        """One arch drawn uniformly from the enumeration."""
        return self.from_index(int(rng.integers(self.num_archs)))

    def neighbours(self, arch: Any) -> list[Any]:
        """Every arch whose choice vector differs from ``arch``'s at exactly one position, in
        (position, choice) order (vectors that are not archs of the space are skipped)."""
        c = list(self.to_choices(arch))
        out = []
        for p, k in enumerate(self.positions):
            for v in range(k):
                if v != c[p]:
                    other = self.from_choices((*c[:p], v, *c[p + 1 :]))
                    if other is not None:
                        out.append(other)
        return out

    def mutate(self, arch: Any, rng: np.random.Generator) -> Any:
        """One neighbour drawn uniformly (always differs from ``arch``)."""
        nbrs = self.neighbours(arch)
        if not nbrs:
            raise ArchError(f"{self.name} arch {arch} has no neighbour to mutate to")
        return nbrs[int(rng.integers(len(nbrs)))]

    def encode(self, archs: Sequence[Any]) -> np.ndarray:
        """One-hot matrix of shape ``(len(archs), sum(positions))``, float32, position-major."""
        offsets = np.concatenate([[0], np.cumsum(self.positions)[:-1]]).astype(np.int64)
        out = np.zeros((len(archs), int(sum(self.positions))), dtype=np.float32)
        if len(archs):
            choices = np.asarray([self.to_choices(a) for a in archs], dtype=np.int64)
            out[np.arange(len(archs))[:, None], offsets[None, :] + choices] = 1.0
        return out

    def config_names(self) -> tuple[str, ...]:
        """Hyperparameter names of :meth:`config_space`, one per position."""
        return tuple(f"p{i}" for i in range(len(self.positions)))

    def config_values(self, position: int) -> tuple[str, ...]:
        """Category names of one position in :meth:`config_space` (default: "0", "1", ...)."""
        return tuple(str(v) for v in range(self.positions[position]))

    def config_space(self, seed: int | None = None) -> Any:
        """The space as a ConfigSpace ``ConfigurationSpace``: one categorical hyperparameter per
        position. Choice vectors that are not archs (see :meth:`from_choices`) map to None in
        :meth:`from_config`."""
        import ConfigSpace as CS

        cs = CS.ConfigurationSpace(seed=seed)
        cs.add([
            CS.CategoricalHyperparameter(name, list(self.config_values(p)))
            for p, name in enumerate(self.config_names())
        ])
        return cs

    def to_config(self, arch: Any, config_space: Any = None) -> Any:
        """``arch`` as a ``Configuration`` of ``config_space`` (a plain dict without one)."""
        values = {
            name: self.config_values(p)[v]
            for p, (name, v) in enumerate(zip(self.config_names(), self.to_choices(arch)))
        }
        if config_space is None:
            return values
        import ConfigSpace as CS

        return CS.Configuration(config_space, values=values)

    def from_config(self, config: Mapping[str, Any]) -> Any | None:
        """Inverse of :meth:`to_config` (a ``Configuration`` or a mapping); None: not an arch."""
        choices = []
        for p, name in enumerate(self.config_names()):
            values = self.config_values(p)
            try:
                value = config[name]
            except KeyError:
                value = None
            if str(value) not in values:
                got = f" (got {value!r})" if self.config_error_shows_value else ""
                raise ArchError(
                    f"configuration {dict(config)!r} is not one of space {self.name!r}: {name} must be one of "
                    f"{', '.join(values)}{got}"
                )
            choices.append(values.index(str(value)))
        return self.from_choices(tuple(choices))

    # ------------------------------------------------------------------ helpers for subclasses
    def check_task(self, task: str, where: str = "") -> str:
        if task not in self.tasks:
            raise SpaceError(
                f"unknown task {task!r} for space {self.name!r}{_where(where)}; accepted: {', '.join(self.tasks)}"
            )
        return task

    def foreign_hint(self, value: Any) -> str:
        """" (it is an arch string of space X)" when another registered space parses ``value``."""
        if not isinstance(value, str):
            return ""
        for other in space_names():
            if other == self.name:
                continue
            try:
                get_space(other).parse(value)
            except Exception:  # noqa: BLE001 - any failure means "not that space's string either"
                continue
            return f" (it is an arch string of space {other!r})"
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.num_archs} archs)"

    def __reduce__(self) -> tuple:
        # one shared instance per name, also across pickling (worker processes)
        return (get_space, (self.name,))


class ProductSpace(SearchSpace):
    """A space whose archs are all vectors of ``len(positions)`` codes with the same number of
    choices ``positions[0]`` at every position (NAS-Bench-Macro: 8 layers x 3 blocks; TransNAS-Bench-101
    micro: 6 edges x 4 ops). ``Arch`` takes the code tuple; ``arch.index`` is the codes read as a
    base-``positions[0]`` number, position 0 most significant. ``sample`` and ``mutate`` draw as NB201's
    do (all codes in one call; a position, then a different code), ``neighbours`` (the base class's)
    lists position-major, then code."""

    index_note: ClassVar[str] = ""
    """Text after the space's name in the out-of-range index error (e.g. " (NAS-Bench-Macro)")."""

    def _parse_index(self, i: Any, where: str = "") -> Any:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < self.num_archs:
            raise ArchError(
                f"index {i!r}{_where(where)} is out of range for space {self.name!r}{self.index_note}: expected "
                f"an integer in 0..{self.num_archs - 1}"
            )
        return self.Arch(codes_of_index(int(i), self.positions[0], len(self.positions)))

    def from_index(self, i: int) -> Any:
        return self._parse_index(i)

    def from_choices(self, choices: Sequence[int]) -> Any:
        """Every in-range vector is an arch (None is never returned); a vector of another length or
        with codes out of range is an ArchError."""
        try:
            return self.Arch(tuple(int(c) for c in choices))
        except (TypeError, ValueError) as exc:
            raise ArchError(
                f"choice vector {choices!r} is not one of space {self.name!r}: expected {self.expected_form}"
            ) from exc

    def sample(self, rng: np.random.Generator) -> Any:
        """Uniform over all archs: one code drawn uniformly per position, in one call."""
        return self.Arch(tuple(int(c) for c in rng.integers(0, self.positions[0], size=len(self.positions))))

    def mutate(self, arch: Any, rng: np.random.Generator) -> Any:
        """One position drawn uniformly, its code replaced by a different one drawn uniformly."""
        p = int(rng.integers(len(self.positions)))
        codes = list(self.to_choices(arch))
        code = int(rng.integers(self.positions[0] - 1))
        if code >= codes[p]:
            code += 1
        codes[p] = code
        return self.Arch(tuple(codes))


# ---------------------------------------------------------------------------------------- registry
BUILTIN_MODULES: tuple[str, ...] = tuple(f"nasearch.space.{m}" for m in ("nb201", "nasbench_macro", "transnas101"))
"""The modules of this package that define spaces (``arch``, ``networks``, ``graph`` are their helpers)."""

SPACES: Registry[type[SearchSpace]] = Registry("space", error=SpaceError, builtins=BUILTIN_MODULES,
                                               noun="search space")
"""Every space class: built-ins and the entry points of the group ``nasearch.spaces``."""

_REGISTRY = SPACES._items
_INSTANCES: dict[str, SearchSpace] = {}


def register_space(cls: type[SearchSpace]) -> type[SearchSpace]:
    """Class decorator: register a :class:`SearchSpace` subclass under ``cls.name`` (in this package,
    list its module in :data:`BUILTIN_MODULES`; from another package, name it in an entry point of
    the group ``nasearch.spaces``)."""
    if not cls.name:
        raise TypeError(f"{cls.__name__} has no name")
    return SPACES.register(cls.name, cls)


def space_names() -> tuple[str, ...]:
    """Names of every registered space, sorted."""
    return SPACES.names()


def get_space(name: str | SearchSpace, where: str = "") -> SearchSpace:
    """The shared instance of the space called ``name`` (a space instance is returned as is)."""
    if isinstance(name, SearchSpace):
        return name
    cls = SPACES.get(name, where)
    if name not in _INSTANCES:
        _INSTANCES[name] = cls()
    return _INSTANCES[name]


__all__ = ["ArchError", "ProductSpace", "codes_of_index", "index_of_codes", "SearchSpace", "SpaceError", "get_space", "register_space", "space_names"]
