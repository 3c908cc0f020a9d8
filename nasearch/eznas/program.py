"""The EZNAS program language: typed expression trees over the 22 statistics of an instance.

Akhauri et al., "EZNAS: Evolving Zero-Cost Proxies For Neural Architecture Scoring" (NeurIPS 2022),
Sec. 3.2; primitives follow the authors' ``gp_func_defs.py`` and the primitive set of
``evol_utilities.generate_pset`` (the code that produced the published figures).

A program is ``AGG(body)``: ``body`` is an expression over the statistic names of
:data:`nasearch.eznas.statistics.STAT_NAMES` (the terminals); it is evaluated on every ReLU-Conv-BN
instance, its value reduced to one number per instance by the mean over its elements (the authors'
``sum(out) / numel(out)``), and ``AGG`` aggregates over the instances of the network:

* ``net_mean``: the mean over instances (the authors' code, ``sum(x) / len(x)`` in ``verify_scores``);
* ``net_sum``: the sum over instances (the paper's text). The two rank NB201 cells differently because
  cells differ in their number of conv edges; the default follows the code.

Types. ``Tensor`` and its subtype ``Scalar`` (one number per instance). Every primitive takes
Tensors; reductions return a Scalar, which is accepted wherever a Tensor is (DEAP's typed GP with a
subclass). A program's text is typed by arity: each primitive has a fixed number of arguments.

Primitives (our name = authors' op in ``gp_func_defs.py``): binary ``add`` OP0, ``mul`` OP1,
``matmul`` OP2, ``lt`` OP3, ``gt`` OP4, ``eq`` OP5; unary ``log`` OP7 (x <= 0 -> 1 first), ``abslog``
OP8, ``abs`` OP9, ``square`` OP10 (Power), ``exp`` OP11, ``normalize`` OP12 (z-score, NaN -> 0),
``relu`` OP13, ``sign`` OP14, ``heaviside`` OP15, ``invert`` OP16 (1/x), ``det`` OP19 and ``logdet``
OP20 (over the last two dimensions, NaN -> 0 for logdet), ``softmax`` OP28 (PyTorch's legacy implicit
dimension), ``sigmoid`` OP29, ``ones_like`` OP30, ``zeros_like`` OP31, ``gt0`` OP32, ``lt0`` OP33;
reductions ``frob_norm`` OP18, ``sym_eig_ratio`` OP21, ``eig_ratio`` OP22, ``mean`` OP23 (normalised
sum), ``l1_mean`` OP24, ``numel`` OP34, ``hamming`` OP25, ``kldiv`` OP26, ``cosine`` OP27. The
authors' ``AddNoise`` (OP6), ``normal_init`` (OP17) and ``elwise_sub`` (OP35) are defined in their code
but not in the primitive set, so they are not here either (and programs stay deterministic).

Deviations: ``eig_ratio`` is the smallest over the largest eigenvalue of the Gram matrix ``A A^T``
of the instance reshaped to (first dim, rest) (the authors take the last over the first eigenvalue of
``torch.eig``'s unsorted output, which is not reproducible); ``cosine`` reshapes both arguments to
(first dim, rest) (the authors' ``B.flatten(bs, -1)`` raises for every 4-D tensor, so their op fails);
``matmul`` of per-instance 1-D tensors is their dot product, of per-instance scalars their product,
and a 1-D/scalar argument against a matrix fails.

Protected numerics: a primitive that raises (shape mismatch, a matrix op on a vector) makes that
instance *fail*: it is left out of the aggregation, as the authors' ``eval_layer`` does; a cell with
no instance left, or whose value is NaN or +-inf, gets NaN, which the scorer turns into the
never-preferred score. No warnings are emitted.

Text form: ``net_mean(frob_norm(sigmoid(logdet(sign(inpactgrad_D)))))``. :func:`parse` is a small
hand-written recursive-descent parser (no ``eval``); a bare body parses as ``net_mean(body)``.
The body's height (a terminal has height 0) is at most :data:`MAX_DEPTH`.

The authors' published NB201 program (:data:`PUBLISHED_NB201`) is the one ``verify_scores.py``
evaluates: ``eval_on_sets = ["darts"]`` selects ``get_individual("darts")``, the prefix list
``[operations[16], operations[27], operations[18], operations[13], ARG8]`` = OP18(OP29(OP20(OP14(ARG8))));
``ARG8`` is the 9th argument of ``populate``'s map list, ``fixed_ordering[7] = 1``, the second key
the data pass inserts, ``inpactgraddata``. (The paper's figure of the NB201 program is not this one;
we follow the code that produced the README's figures.)
"""

from __future__ import annotations

import hashlib
import math
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from nasearch.errors import NasearchError
from nasearch.eznas.statistics import STAT_NAMES, StatGroup

MAX_DEPTH = 10
AGGREGATES = ("net_mean", "net_sum")


class ProgramError(NasearchError):
    """A malformed program text (``get_proxy('eznas:<text>')`` raises it as it is)."""


class Tensor:
    """GP type: a per-instance tensor (any shape)."""


class Scalar(Tensor):
    """GP type: one number per instance (accepted wherever a Tensor is)."""


# ------------------------------------------------------------------------------------ primitives
# Every function takes stacked tensors: dimension 0 indexes instances, the rest is one instance.


def _p(t: torch.Tensor) -> int:
    return t.ndim - 1


def _align(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-align the per-instance shapes (numpy broadcasting per instance)."""
    k = max(_p(a), _p(b))
    a = a.reshape(a.shape[0], *([1] * (k - _p(a))), *a.shape[1:])
    b = b.reshape(b.shape[0], *([1] * (k - _p(b))), *b.shape[1:])
    return a, b


def _flat(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(t.shape[0], -1)


def _binary(op: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]):
    def fn(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        a, b = _align(a, b)
        return op(a, b)

    return fn


def _matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    if _p(a) == 0 and _p(b) == 0:
        return a * b
    if _p(a) == 1 and _p(b) == 1:
        return (a * b).sum(-1)
    if _p(a) < 2 or _p(b) < 2:
        raise ValueError("matmul needs per-instance matrices (or two vectors, or two scalars)")
    a, b = _align(a, b)
    return torch.matmul(a, b)


def _log(a: torch.Tensor) -> torch.Tensor:
    return torch.where(a > 0, a, torch.ones_like(a)).log()


def _abslog(a: torch.Tensor) -> torch.Tensor:
    return torch.where(a == 0, torch.ones_like(a), a).log().abs()


def _normalize(a: torch.Tensor) -> torch.Tensor:
    f = _flat(a)
    mean = f.mean(1)
    std = f.std(1) if f.shape[1] > 1 else torch.full_like(mean, math.nan)
    shape = (-1,) + (1,) * _p(a)
    z = (a - mean.reshape(shape)) / std.reshape(shape)
    return torch.nan_to_num(z, nan=0.0, posinf=math.inf, neginf=-math.inf)


def _softmax(a: torch.Tensor) -> torch.Tensor:
    p = _p(a)
    if p == 0:
        return torch.ones_like(a)
    return F.softmax(a, dim=(0 if p in (1, 3) else 1) + 1)


def _matrix(a: torch.Tensor) -> torch.Tensor:
    if _p(a) < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError("det/logdet need per-instance square matrices in the last two dimensions")
    return a


def _logdet(a: torch.Tensor) -> torch.Tensor:
    z = torch.logdet(_matrix(a))
    return torch.nan_to_num(z, nan=0.0, posinf=math.inf, neginf=-math.inf)


def _gram_eigs(a: torch.Tensor) -> torch.Tensor:
    m = a.reshape(a.shape[0], a.shape[1], -1).double()
    g = m @ m.transpose(1, 2)
    return torch.linalg.eigvalsh(g + g.transpose(1, 2))


def _sym_eig_ratio(a: torch.Tensor) -> torch.Tensor:
    if _p(a) == 0:
        return torch.zeros_like(a)
    e = _gram_eigs(a)
    return (e[:, -1] / e[:, 0]).to(a.dtype)


def _eig_ratio(a: torch.Tensor) -> torch.Tensor:
    if _p(a) == 0:
        return torch.zeros_like(a)
    e = _gram_eigs(a)
    return (e[:, 0] / e[:, -1]).to(a.dtype)


def _numel(a: torch.Tensor) -> torch.Tensor:
    return torch.full((a.shape[0],), float(_flat(a).shape[1]), dtype=a.dtype)


def _hamming(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    fa, fb = _flat(a), _flat(b)
    if fa.shape != fb.shape:
        raise ValueError("hamming needs arguments of equal size")
    return ((fa > 0) != (fb > 0)).sum(1).to(a.dtype)


def _kldiv(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    a2, b2 = _align(a, b)
    pointwise = torch.xlogy(b2, b2) - b2 * a2
    batch = pointwise.shape[1] if pointwise.ndim > 1 else 1
    return _flat(pointwise).sum(1) / batch


def _cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    if _p(a) == 0 or _p(b) == 0:
        return torch.zeros(a.shape[0], dtype=a.dtype)
    fa = a.reshape(a.shape[0], a.shape[1], -1)
    fb = b.reshape(b.shape[0], b.shape[1], -1)
    return F.cosine_similarity(fa, fb, dim=2, eps=1e-8).sum(1)


@dataclass(frozen=True)
class Primitive:
    name: str
    arity: int
    fn: Callable[..., torch.Tensor]
    scalar: bool = False
    authors: str = ""
    """The authors' op in gp_func_defs.py."""


def _fro(a: torch.Tensor) -> torch.Tensor:
    return _flat(a).pow(2).sum(1).sqrt()


PRIMITIVES: dict[str, Primitive] = {
    p.name: p
    for p in (
        Primitive("add", 2, _binary(torch.add), authors="OP0"),
        Primitive("mul", 2, _binary(torch.mul), authors="OP1"),
        Primitive("matmul", 2, _matmul, authors="OP2"),
        Primitive("lt", 2, _binary(lambda a, b: (a < b).to(a.dtype)), authors="OP3"),
        Primitive("gt", 2, _binary(lambda a, b: (a > b).to(a.dtype)), authors="OP4"),
        Primitive("eq", 2, _binary(lambda a, b: (a == b).to(a.dtype)), authors="OP5"),
        Primitive("log", 1, _log, authors="OP7"),
        Primitive("abslog", 1, _abslog, authors="OP8"),
        Primitive("abs", 1, torch.abs, authors="OP9"),
        Primitive("square", 1, torch.square, authors="OP10"),
        Primitive("exp", 1, torch.exp, authors="OP11"),
        Primitive("normalize", 1, _normalize, authors="OP12"),
        Primitive("relu", 1, torch.relu, authors="OP13"),
        Primitive("sign", 1, torch.sign, authors="OP14"),
        Primitive("heaviside", 1, lambda a: (a > 0).to(a.dtype), authors="OP15"),
        Primitive("invert", 1, torch.reciprocal, authors="OP16"),
        Primitive("frob_norm", 1, _fro, scalar=True, authors="OP18"),
        Primitive("det", 1, lambda a: torch.det(_matrix(a)), authors="OP19"),
        Primitive("logdet", 1, _logdet, authors="OP20"),
        Primitive("sym_eig_ratio", 1, _sym_eig_ratio, scalar=True, authors="OP21"),
        Primitive("eig_ratio", 1, _eig_ratio, scalar=True, authors="OP22"),
        Primitive("mean", 1, lambda a: _flat(a).mean(1), scalar=True, authors="OP23"),
        Primitive("l1_mean", 1, lambda a: _flat(a).abs().mean(1), scalar=True, authors="OP24"),
        Primitive("hamming", 2, _hamming, scalar=True, authors="OP25"),
        Primitive("kldiv", 2, _kldiv, scalar=True, authors="OP26"),
        Primitive("cosine", 2, _cosine, scalar=True, authors="OP27"),
        Primitive("softmax", 1, _softmax, authors="OP28"),
        Primitive("sigmoid", 1, torch.sigmoid, authors="OP29"),
        Primitive("ones_like", 1, torch.ones_like, authors="OP30"),
        Primitive("zeros_like", 1, torch.zeros_like, authors="OP31"),
        Primitive("gt0", 1, lambda a: (a > 0).to(a.dtype), authors="OP32"),
        Primitive("lt0", 1, lambda a: (a < 0).to(a.dtype), authors="OP33"),
        Primitive("numel", 1, _numel, scalar=True, authors="OP34"),
    )
}


# ------------------------------------------------------------------------------------ the AST
@dataclass(frozen=True)
class Node:
    name: str
    args: tuple[Node, ...] = ()

    def __str__(self) -> str:
        if not self.args:
            return self.name
        return f"{self.name}({', '.join(str(a) for a in self.args)})"

    @property
    def height(self) -> int:
        return 0 if not self.args else 1 + max(a.height for a in self.args)

    def terminals(self) -> set[str]:
        if not self.args:
            return {self.name}
        out: set[str] = set()
        for a in self.args:
            out |= a.terminals()
        return out

    def size(self) -> int:
        return 1 + sum(a.size() for a in self.args)


@dataclass(frozen=True)
class Program:
    body: Node
    aggregate: str = "net_mean"

    def __str__(self) -> str:
        return f"{self.aggregate}({self.body})"

    @property
    def text(self) -> str:
        return str(self)

    def digest(self) -> str:
        """Short hash of the normalised text (the score store's version of an ``eznas`` program)."""
        return hashlib.sha256(self.text.encode()).hexdigest()[:12]

    def statistics(self) -> tuple[str, ...]:
        used = self.body.terminals()
        return tuple(n for n in STAT_NAMES if n in used)


PUBLISHED_NB201 = "net_mean(frob_norm(sigmoid(logdet(sign(inpactgrad_D)))))"
"""The authors' program behind their NB201 figures (see the module docstring for the transcription)."""


# ------------------------------------------------------------------------------------ parsing
_TOKEN = re.compile(r"\s*(?:(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<punct>[(),]))")


def accepted() -> str:
    prims = ", ".join(f"{p.name}/{p.arity}" for p in PRIMITIVES.values())
    return (
        f"aggregates {', '.join(AGGREGATES)}; primitives (name/arguments) {prims}; "
        f"statistics {', '.join(STAT_NAMES)}"
    )


def _tokens(text: str, where: str) -> list[tuple[str, int]]:
    out = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None:
            bad = text[pos:].lstrip()[:1]
            at = pos + (len(text[pos:]) - len(text[pos:].lstrip()))
            raise ProgramError(
                f"malformed EZNAS program{where}: unexpected character {bad!r} at position {at} in {text!r}; "
                f"accepted: {accepted()}"
            )
        tok = m.group("name") or m.group("punct")
        out.append((tok, m.start(m.lastgroup)))
        pos = m.end()
    return out


def parse(text: str, where: str = "") -> Program:
    """Parse a program's text (see the module docstring); errors name the token and list what is
    accepted. ``where`` says where the text came from (e.g. " (proxy.program)")."""
    if not isinstance(text, str) or not text.strip():
        raise ProgramError(f"empty EZNAS program{where}; expected e.g. {PUBLISHED_NB201!r}; accepted: {accepted()}")
    toks = _tokens(text, where)
    i = 0

    def err(msg: str, tok: tuple[str, int] | None) -> ProgramError:
        at = f"token {tok[0]!r} at position {tok[1]}" if tok else "the end of the text"
        return ProgramError(f"malformed EZNAS program{where}: {msg} at {at} in {text!r}; accepted: {accepted()}")

    def peek() -> tuple[str, int] | None:
        return toks[i] if i < len(toks) else None

    def take(expected: str) -> None:
        nonlocal i
        t = peek()
        if t is None or t[0] != expected:
            raise err(f"expected {expected!r}", t)
        i += 1

    def expr() -> Node:
        nonlocal i
        t = peek()
        if t is None or t[0] in "(),":
            raise err("expected a primitive or a statistic", t)
        name = t[0]
        i += 1
        if name in STAT_NAMES:
            if peek() is not None and peek()[0] == "(":  # type: ignore[index]
                raise err(f"statistic {name!r} takes no arguments", peek())
            return Node(name)
        if name not in PRIMITIVES:
            raise err("unknown name", t)
        prim = PRIMITIVES[name]
        take("(")
        args = [expr()]
        while peek() is not None and peek()[0] == ",":  # type: ignore[index]
            i += 1
            args.append(expr())
        take(")")
        if len(args) != prim.arity:
            raise err(f"{name} takes {prim.arity} argument(s), got {len(args)}", t)
        return Node(name, tuple(args))

    first = peek()
    if first is not None and first[0] in AGGREGATES:
        i += 1
        take("(")
        body = expr()
        take(")")
        agg = first[0]
    else:
        body = expr()
        agg = "net_mean"
    if i != len(toks):
        raise err("unexpected text after the program", toks[i])
    if body.height > MAX_DEPTH:
        raise ProgramError(
            f"EZNAS program{where} is too deep: height {body.height} > {MAX_DEPTH} in {text!r}"
        )
    return Program(body, agg)


# ------------------------------------------------------------------------------------ evaluation
def _eval(node: Node, group: StatGroup, leaves: dict[str, torch.Tensor]) -> torch.Tensor:
    if not node.args:
        if node.name not in leaves:
            leaves[node.name] = group.stats[node.name].to(torch.float32)
        return leaves[node.name]
    args = [_eval(a, group, leaves) for a in node.args]
    out = PRIMITIVES[node.name].fn(*args)
    if out.ndim == 0 or out.shape[0] != args[0].shape[0]:
        raise ValueError(f"{node.name} lost the instance dimension")
    return out


def instance_values(program: Program, group: StatGroup) -> np.ndarray | None:
    """One value per instance of ``group`` (float64; NaN/inf possible), or None if the program
    fails on this group's shapes (those instances are left out)."""
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            out = _eval(program.body, group, {})
            vals = _flat(out).to(torch.float64).mean(1) if out.ndim > 1 else out.to(torch.float64)
        return vals.numpy()
    except (RuntimeError, ValueError, IndexError, TypeError, torch.linalg.LinAlgError):
        return None


def cell_scores(program: Program, groups: Sequence[StatGroup], num_cells: int) -> np.ndarray:
    """Raw score per cell (float64; NaN where no instance evaluated or the value is not finite)."""
    total = np.zeros(num_cells)
    count = np.zeros(num_cells, dtype=np.int64)
    for g in groups:
        v = instance_values(program, g)
        if v is None:
            continue
        owner = g.owner.numpy()
        with np.errstate(all="ignore"):
            np.add.at(total, owner, v)
        np.add.at(count, owner, 1)
    with np.errstate(all="ignore"):
        out = total / count if program.aggregate == "net_mean" else total.copy()
    out[count == 0] = math.nan
    out[~np.isfinite(out)] = math.nan
    return out


def random_program(rng: np.random.Generator, max_height: int = 4, aggregate: str = "net_mean") -> Program:
    """A random well-formed program (for tests and fuzzing; evolution draws with DEAP)."""
    prims = list(PRIMITIVES.values())

    def grow(h: int) -> Node:
        if h == 0 or rng.random() < 0.3:
            return Node(STAT_NAMES[int(rng.integers(len(STAT_NAMES)))])
        p = prims[int(rng.integers(len(prims)))]
        return Node(p.name, tuple(grow(h - 1) for _ in range(p.arity)))

    return Program(grow(max_height), aggregate)


__all__ = [
    "AGGREGATES",
    "MAX_DEPTH",
    "PRIMITIVES",
    "PUBLISHED_NB201",
    "Node",
    "Primitive",
    "Program",
    "ProgramError",
    "Scalar",
    "Tensor",
    "accepted",
    "cell_scores",
    "instance_values",
    "parse",
    "random_program",
]


def score_network(program: Program, net: torch.nn.Module, images: torch.Tensor, generator: torch.Generator) -> float:
    """The program's raw score of one network on full tensors (NaN if it fails everywhere or is not
    finite). Only the statistics the program names are collected (and only the passes they need)."""
    from nasearch.eznas.statistics import collect, group_instances

    stats = collect(net, images, generator, names=program.statistics() or ("wt",))
    return float(cell_scores(program, group_instances([stats]), 1)[0])
