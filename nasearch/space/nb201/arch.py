"""The NAS-Bench-201 cell space (Dong & Yang, ICLR 2020).

A cell is a DAG on 4 nodes; each of its 6 edges i->j (i < j) carries one of 5 operations, so the
space holds 5**6 = 15,625 cells. :class:`Arch` is the arch value of NB201's space
(:class:`nasearch.space.nb201.NB201Space`): a frozen tuple of 6 op ids in the *official edge order* of
the NB201 arch string (:data:`nasearch.space.cells.EDGES`),

    |op~0|+|op~0|op~1|+|op~0|op~1|op~2|    edges (0->1); (0->2), (1->2); (0->3), (1->3), (2->3)

NB201 strings are parsed and printed here and nowhere else.

Two numberings of the 15,625 cells, never to be confused:

* ``Arch.index`` is nasearch's *internal ordinal*: the base-5 number whose digits are the op ids in
  edge order (edge 0 most significant). It seeds each cell's network (``SeedSequence(seed,
  spawn_key=(arch.index,))``), keys the score store's rows and positions the benchmark arrays, so it
  never changes. :meth:`Arch.from_index` is its inverse. Users never see it.
* ``Arch.official_index`` is NAS-Bench-201's / NATS-Bench's official index (0..15624, the order of
  the benchmark's meta file): what the CLI, exported score tables and study tables call ``index``.
  :meth:`Arch.from_official_index` is its inverse, and :meth:`Arch.parse` reads an integer as one.
  The mapping is built once per process from the ``index, arch`` columns of the NB201 table shipped
  in the package (``nasearch/embedded/nb201/nb201.csv.gz``), so it needs no user data.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from nasearch.space.base import ArchError, codes_of_index, index_of_codes
from nasearch.space.cells import EDGES, cell_is_connected

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
"""Operation names; an op id is a position in this tuple (``none`` = 0, as :mod:`nasearch.space.cells`
expects)."""

NUM_OPS = len(OPS)
NUM_EDGES = len(EDGES)
NUM_ARCHS = NUM_OPS**NUM_EDGES
NONE, SKIP, CONV1, CONV3, POOL = range(NUM_OPS)

_EXPECTED_FORM = "|op~0|+|op~0|op~1|+|op~0|op~1|op~2| with op in " + ", ".join(OPS)


@dataclass(frozen=True, slots=True, order=True)
class Arch:
    """One NB201 cell: op ids on the 6 edges in official order."""

    ops: tuple[int, ...]

    def __post_init__(self) -> None:
        ops = self.ops
        if (
            not isinstance(ops, tuple)
            or len(ops) != NUM_EDGES
            or not all(isinstance(o, (int, np.integer)) and 0 <= o < NUM_OPS for o in ops)
        ):
            raise ArchError(
                f"invalid NB201 op tuple {ops!r}: expected {NUM_EDGES} op ids in 0..{NUM_OPS - 1} "
                f"({', '.join(f'{i}={n}' for i, n in enumerate(OPS))}) in edge order "
                f"{', '.join(f'{a}->{b}' for a, b in EDGES)}"
            )
        object.__setattr__(self, "ops", tuple(int(o) for o in ops))

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_string(cls, text: str) -> Arch:
        """Parse an official NB201 arch string, e.g. ``|nor_conv_3x3~0|+|none~0|skip_connect~1|+...``."""
        if not isinstance(text, str):
            raise ArchError(f"NB201 arch string must be a str, got {type(text).__name__} {text!r}")
        s = text.strip()
        nodes = s.split("+")
        if len(nodes) != 3:
            raise ArchError(
                f"malformed NB201 arch string {text!r}: expected 3 nodes separated by '+', "
                f"found {len(nodes)}; the expected form is {_EXPECTED_FORM}"
            )
        ops: list[int] = []
        for node_id, node in enumerate(nodes, start=1):
            if not (node.startswith("|") and node.endswith("|")):
                raise ArchError(
                    f"malformed NB201 arch string {text!r}: node {node_id} {node!r} must start and end "
                    f"with '|'; the expected form is {_EXPECTED_FORM}"
                )
            items = node[1:-1].split("|")
            if len(items) != node_id:
                raise ArchError(
                    f"malformed NB201 arch string {text!r}: node {node_id} needs {node_id} inputs, "
                    f"found {len(items)} in {node!r}; the expected form is {_EXPECTED_FORM}"
                )
            for src, item in enumerate(items):
                name, sep, inp = item.partition("~")
                if not sep or inp != str(src):
                    raise ArchError(
                        f"malformed NB201 arch string {text!r}: {item!r} should read 'op~{src}' "
                        f"(input {src} of node {node_id}); the expected form is {_EXPECTED_FORM}"
                    )
                if name not in OPS:
                    raise ArchError(
                        f"unknown operation {name!r} in NB201 arch string {text!r}; "
                        f"accepted operations: {', '.join(OPS)}"
                    )
                ops.append(OPS.index(name))
        return cls(tuple(ops))

    @classmethod
    def from_index(cls, index: int) -> Arch:
        """Inverse of :attr:`index`: the cell of nasearch's *internal ordinal* ``index`` (base 5), not
        of an official NB201 index (that is :meth:`from_official_index`)."""
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < NUM_ARCHS:
            raise ArchError(
                f"nasearch ordinal {index!r} out of range: expected an integer in 0..{NUM_ARCHS - 1}"
            )
        return cls(codes_of_index(int(index), NUM_OPS, NUM_EDGES))

    @classmethod
    def from_official_index(cls, index: int) -> Arch:
        """The cell whose official NAS-Bench-201 / NATS-Bench index is ``index`` (0..15624)."""
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < NUM_ARCHS:
            raise ArchError(
                f"official NB201 index {index!r} out of range: expected an integer in 0..{NUM_ARCHS - 1}"
            )
        return cls.from_index(int(official_maps()[1][int(index)]))

    @classmethod
    def parse(cls, value: str | Sequence[int] | int | Arch) -> Arch:
        """Accept any of the three user spellings (string, op tuple, *official* NB201 index) or an Arch.

        An integer is the official index (:meth:`from_official_index`); code holding nasearch's
        internal ordinal calls :meth:`from_index` instead."""
        if isinstance(value, Arch):
            return value
        if isinstance(value, str):
            return cls.from_string(value)
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            return cls.from_official_index(int(value))
        return cls(tuple(value))

    # ------------------------------------------------------------------ views
    def to_string(self) -> str:
        """The official NB201 arch string."""
        names = [OPS[o] for o in self.ops]
        return (
            f"|{names[0]}~0|+|{names[1]}~0|{names[2]}~1|+|{names[3]}~0|{names[4]}~1|{names[5]}~2|"
        )

    def __str__(self) -> str:
        return self.to_string()

    @property
    def index(self) -> int:
        """nasearch's *internal ordinal*: base-5 digits = op ids in edge order (edge 0 most
        significant). Seeds networks, keys score-store rows, positions arrays; never shown to users
        as "index" (that is :attr:`official_index`)."""
        return index_of_codes(self.ops, NUM_OPS)

    @property
    def official_index(self) -> int:
        """The official NAS-Bench-201 / NATS-Bench index of this cell (0..15624): the user-facing
        "index" (CLI, score tables)."""
        return int(official_maps()[0][self.index])

    def op_names(self) -> tuple[str, ...]:
        return tuple(OPS[o] for o in self.ops)

    # ------------------------------------------------------------------ structure
    def is_connected(self) -> bool:
        """True when some path of non-``none`` edges leads from node 0 (input) to node 3 (output).

        A cell without such a path outputs zeros whatever its input: NB201 trains it to chance level.
        """
        return cell_is_connected(self.ops)

    def one_hot(self) -> np.ndarray:
        """Flat one-hot encoding, shape (30,): edge-major, ``[edge * 5 + op] = 1``."""
        out = np.zeros(NUM_EDGES * NUM_OPS, dtype=np.float32)
        out[np.arange(NUM_EDGES) * NUM_OPS + np.asarray(self.ops)] = 1.0
        return out

    def mutate_edge(self, edge: int, op: int) -> Arch:
        ops = list(self.ops)
        ops[edge] = op
        return Arch(tuple(ops))

    def neighbours(self) -> list[Arch]:
        """All 24 cells that differ from this one on exactly one edge (edge-major, op order)."""
        return [
            self.mutate_edge(e, o) for e in range(NUM_EDGES) for o in range(NUM_OPS) if o != self.ops[e]
        ]


OFFICIAL_TABLE = "nb201/nb201.csv.gz"
"""The embedded table (under ``nasearch/embedded/``) whose ``index, arch`` columns define the official
index of every cell."""


@functools.lru_cache(maxsize=1)
def official_maps() -> tuple[np.ndarray, np.ndarray]:
    """``(official, ordinal)``: ``official[arch.index]`` is the cell's official NB201 index and
    ``ordinal[official_index]`` its nasearch ordinal (int64 arrays of 15,625, read-only).

    Read once per process from the ``index, arch`` columns of the NB201 table shipped in the package
    (about 0.2 s); the table must list every cell once under one official index (checked)."""
    import csv

    from nasearch.csvio import open_text
    from nasearch.embedded import embedded_file

    entry = embedded_file(OFFICIAL_TABLE)
    official = np.full(NUM_ARCHS, -1, dtype=np.int64)
    seen: dict[str, int] = {}
    where = f"the embedded NB201 table {str(entry)!r}"
    try:
        with open_text(entry) as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if not header or header[:2] != ["index", "arch"]:
                raise ArchError(f"{where} does not start with columns index, arch: {header!r}")
            for line, row in enumerate(reader, start=2):
                text, i = row[1], int(row[0])
                if seen.setdefault(text, i) != i:
                    raise ArchError(f"{where} line {line}: {text} has official index {i} and {seen[text]}")
    except (OSError, EOFError, ValueError, IndexError) as exc:
        raise ArchError(
            f"cannot read the official NB201 indices from {where} ({type(exc).__name__}: {exc}); reinstall nasearch"
        ) from exc
    for text, i in seen.items():
        official[Arch.from_string(text).index] = i
    if len(seen) != NUM_ARCHS or sorted(official.tolist()) != list(range(NUM_ARCHS)):
        raise ArchError(f"{where} does not give each of the {NUM_ARCHS} cells one official index in 0..{NUM_ARCHS - 1}")
    ordinal = np.empty(NUM_ARCHS, dtype=np.int64)
    ordinal[official] = np.arange(NUM_ARCHS)
    official.flags.writeable = ordinal.flags.writeable = False
    return official, ordinal


def all_archs() -> Iterator[Arch]:
    """Every cell of the space, in nasearch-ordinal order (not official-index order)."""
    for i in range(NUM_ARCHS):
        yield Arch.from_index(i)


def sample(rng: np.random.Generator) -> Arch:
    """One cell drawn uniformly from all 15,625 (disconnected cells included, as in NB201's RS)."""
    return Arch(tuple(int(o) for o in rng.integers(0, NUM_OPS, size=NUM_EDGES)))


def mutate(arch: Arch, rng: np.random.Generator) -> Arch:
    """Single-edge mutation: one edge chosen uniformly, its op replaced by a different one uniformly.

    This is REA's mutation on NB201 (Real et al. 2019 as used in NAS-Bench-201): the child always
    differs from the parent.
    """
    edge = int(rng.integers(NUM_EDGES))
    op = int(rng.integers(NUM_OPS - 1))
    if op >= arch.ops[edge]:
        op += 1
    return arch.mutate_edge(edge, op)


def encode(archs: Sequence[Arch]) -> np.ndarray:
    """One-hot matrix, shape (len(archs), 30)."""
    if not archs:
        return np.zeros((0, NUM_EDGES * NUM_OPS), dtype=np.float32)
    return np.stack([a.one_hot() for a in archs])
