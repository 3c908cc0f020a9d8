"""The operation graph of a built network, for any search space (used by the Graph HyperNetwork).

:func:`op_graph` derives an :class:`OpGraph` from a BUILT torch module by tracing it with
``torch.fx.symbolic_trace`` (a well-kept library: it records every ``call_module`` /
``call_function`` / ``call_method`` of one forward pass, unrolling Python loops such as NB201's
loop over a cell's six edges). Nothing here knows NB201: a new space only has to build a torch
module whose forward is traceable.

Reading the traced graph (choices, following Zhang, Ren & Urtasun, "Graph HyperNetworks for Neural
Architecture Search", ICLR 2019, Sec. 3.1, where a node is an operation and an edge is the flow of
a tensor):

* one node per operation, its type an index into :data:`NODE_TYPES` (a fixed vocabulary, so a
  type is one-hot-able and the GHN's embedding table never changes size);
* ``ReLU -> Conv -> BatchNorm`` chains (NB201's ``ReLUConvBN``, DARTS-style ops) are ONE conv node:
  a ReLU whose only consumer is a conv and a BatchNorm whose only producer is a conv with no other
  consumer are folded into that conv (their module names are kept in ``OpNode.modules``). This is
  the granularity of the paper's graphs (a node per "conv 3x3", not per ReLU/BN) and it keeps the
  graph shallow, which matters because the GatedGNN propagates level by level. A BatchNorm or ReLU
  that does not sit in such a chain (NB201's final BN-ReLU) stays a node of its own;
* ``none`` ops (a module named ``Zero``, output identically zero) are absent: the Zero node is
  dropped, and so is every node all of whose inputs are dropped (bias-free convs, pooling and BN
  with batch statistics and zero shift map zeros to zeros), and every node whose output never
  reaches the network output;
* ``skip_connect`` (``nn.Identity``), ``flatten``/``view``/``reshape``/``Dropout`` are NOT nodes:
  they are plain edges from their input to their consumers (the paper draws identity connections
  as edges). So two cells that differ only in where their skips are differ in the edge set;
* additions: a chain ``(a + b) + c`` (the running sum of an NB201 cell node) is one ``add`` node
  with three inputs; an ``add`` left with a single input (its other inputs were ``none``) is an
  edge;
* the network input is one ``input`` node, the module's output one ``output`` node;
* edges ``src -> dst`` are listed with ``src < dst`` (nodes are numbered in a topological order,
  the order of the trace), sorted by ``(dst, src)``.

Per node the graph keeps the parameter names (in ``module.named_parameters()``) of the tensors a
hypernetwork generates (conv and linear weights) and their shapes.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field

import torch
from torch import fx, nn

from nasearch.errors import NasearchError

NODE_TYPES: tuple[str, ...] = (
    "input",
    "output",
    "conv1x1",
    "conv3x3",
    "conv5x5",
    "conv7x7",
    "conv1x1_stride2",
    "conv3x3_stride2",
    "conv5x5_stride2",
    "conv7x7_stride2",
    "dwconv3x3",
    "dwconv5x5",
    "dwconv3x3_stride2",
    "dwconv5x5_stride2",
    "bn",
    "relu",
    "avgpool3x3",
    "avgpool2x2_stride2",
    "avgpool3x3_stride2",
    "maxpool3x3",
    "maxpool3x3_stride2",
    "global_avgpool",
    "add",
    "mul",
    "concat",
    "linear",
    "other",
)
"""The fixed node-type vocabulary (append only: a trained GHN's embedding rows follow this order)."""

TYPE_INDEX = {t: i for i, t in enumerate(NODE_TYPES)}

_EDGE_MODULES = (nn.Identity, nn.Dropout, nn.Flatten)
_EDGE_METHODS = {"flatten", "view", "reshape", "contiguous", "squeeze", "unsqueeze"}
_EDGE_FUNCTIONS = {torch.flatten, torch.reshape}
_ADD_FUNCTIONS = {operator.add, torch.add, operator.iadd}


class GraphError(NasearchError):
    """A module whose forward cannot be traced or holds an operation outside the vocabulary."""


@dataclass(frozen=True)
class OpNode:
    type: int
    """Index into :data:`NODE_TYPES`."""
    name: str
    """The traced node's target (module path or function name), for people reading the graph."""
    params: tuple[str, ...] = ()
    """Names of the generated parameters (conv / linear weights) in ``module.named_parameters()``."""
    shapes: tuple[tuple[int, ...], ...] = ()
    """Shape of each parameter in ``params``."""
    modules: tuple[str, ...] = ()
    """Every module folded into this node (e.g. the ReLU and BN around a conv)."""

    @property
    def type_name(self) -> str:
        return NODE_TYPES[self.type]


@dataclass(frozen=True)
class OpGraph:
    """Operation graph of one network: nodes in topological order, edges ``src -> dst`` (src < dst)."""

    nodes: tuple[OpNode, ...]
    edges: tuple[tuple[int, int], ...]
    meta: dict = field(default_factory=dict, compare=False)

    @property
    def num_nodes(self) -> int:
        return len(self.nodes)

    def types(self) -> torch.Tensor:
        return torch.tensor([n.type for n in self.nodes], dtype=torch.int64)

    def one_hot(self) -> torch.Tensor:
        return nn.functional.one_hot(self.types(), len(NODE_TYPES)).to(torch.float32)

    def type_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for n in self.nodes:
            out[n.type_name] = out.get(n.type_name, 0) + 1
        return out

    def predecessors(self) -> list[list[int]]:
        pred: list[list[int]] = [[] for _ in self.nodes]
        for s, d in self.edges:
            pred[d].append(s)
        return pred

    def depths(self) -> tuple[list[int], list[int]]:
        """(longest path from a source, longest path to a sink) of every node."""
        n = self.num_nodes
        fwd = [0] * n
        bwd = [0] * n
        for s, d in self.edges:  # sorted by dst: every src is final before it is read
            fwd[d] = max(fwd[d], fwd[s] + 1)
        for s, d in sorted(self.edges, key=lambda e: -e[0]):
            bwd[s] = max(bwd[s], bwd[d] + 1)
        return fwd, bwd

    def param_nodes(self) -> list[int]:
        return [i for i, nd in enumerate(self.nodes) if nd.params]

    def check(self) -> None:
        for s, d in self.edges:
            if not 0 <= s < d < self.num_nodes:
                raise GraphError(f"edge {s}->{d} is not in topological order ({self.num_nodes} nodes)")


# ------------------------------------------------------------------------------------ the builder
class _Tracer(fx.Tracer):
    """Keeps every torch.nn module (and any module named ``Zero``) as one leaf call."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        if type(m).__name__ == "Zero":
            return True
        return super().is_leaf_module(m, qualname)


def _conv_type(m: nn.Conv2d) -> str:
    k = m.kernel_size[0]
    s = m.stride[0]
    depthwise = m.groups > 1 and m.groups == m.in_channels
    name = f"{'dw' if depthwise else ''}conv{k}x{k}" + ("_stride2" if s > 1 else "")
    return name if name in TYPE_INDEX else "other"


def _pool_type(m: nn.Module) -> str:
    if isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        return "global_avgpool"
    k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]  # type: ignore[union-attr]
    s = m.stride if isinstance(m.stride, int) else m.stride[0]  # type: ignore[union-attr]
    kind = "avgpool" if isinstance(m, nn.AvgPool2d) else "maxpool"
    name = f"{kind}{k}x{k}" + ("_stride2" if s and s > 1 else "")
    return name if name in TYPE_INDEX else "other"


@dataclass
class _Raw:
    kind: str  # type name, or "edge" (pass-through), "zero", "input", "output"
    name: str
    inputs: list[int]
    params: list[str] = field(default_factory=list)
    shapes: list[tuple[int, ...]] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)


def op_graph(module: nn.Module, *, strict: bool = False) -> OpGraph:
    """The :class:`OpGraph` of a built ``module`` (see the module docstring for the rules).

    ``strict=True`` raises :class:`GraphError` for a module or function outside the vocabulary
    instead of giving it the type ``other``.
    """
    try:
        traced = _Tracer().trace(module)
    except Exception as exc:  # noqa: BLE001 - fx raises many kinds
        raise GraphError(f"cannot trace {type(module).__name__} with torch.fx: {type(exc).__name__}: {exc}") from exc
    mods = dict(module.named_modules())
    raws: list[_Raw] = []
    where: dict[fx.Node, int] = {}

    def ins(n: fx.Node) -> list[int]:
        out: list[int] = []
        for a in n.all_input_nodes:
            if a in where:
                out.append(where[a])
        return out

    def other(what: str) -> str:
        if strict:
            raise GraphError(f"operation {what} has no node type; known types: {', '.join(NODE_TYPES)}")
        return "other"

    for n in traced.nodes:
        if n.op == "placeholder":
            raws.append(_Raw("input", "input", []))
        elif n.op == "get_attr":
            continue
        elif n.op == "output":
            raws.append(_Raw("output", "output", ins(n)))
        elif n.op == "call_module":
            m = mods[str(n.target)]
            name = str(n.target)
            if type(m).__name__ == "Zero":
                kind = "zero"
            elif isinstance(m, _EDGE_MODULES):
                kind = "edge"
            elif isinstance(m, nn.Conv2d):
                kind = _conv_type(m)
            elif isinstance(m, nn.Linear):
                kind = "linear"
            elif isinstance(m, nn.BatchNorm2d):
                kind = "bn"
            elif isinstance(m, nn.ReLU):
                kind = "relu"
            elif isinstance(m, (nn.AvgPool2d, nn.MaxPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
                kind = _pool_type(m)
            else:
                kind = other(f"module {name} ({type(m).__name__})")
            raw = _Raw(kind, name, ins(n), modules=[name])
            if kind not in ("zero", "edge", "bn"):
                for pname, p in m.named_parameters(recurse=False):
                    if pname == "weight":
                        raw.params.append(f"{name}.weight")
                        raw.shapes.append(tuple(p.shape))
            raws.append(raw)
        elif n.op in ("call_function", "call_method"):
            t = n.target
            if n.op == "call_method" and t in _EDGE_METHODS or t in _EDGE_FUNCTIONS:
                kind = "edge"
            elif t in _ADD_FUNCTIONS or t == "add":
                kind = "add"
            elif t in (operator.mul, torch.mul, "mul"):
                kind = "zero" if _mul_by_zero(n) else "mul"
            elif t in (torch.cat, torch.concat):
                kind = "concat"
            elif t in (torch.relu, nn.functional.relu, "relu"):
                kind = "relu"
            else:
                kind = other(f"{n.op} {getattr(t, '__name__', t)}")
            raws.append(_Raw(kind, getattr(t, "__name__", str(t)), ins(n)))
        else:  # pragma: no cover - fx has no other opcodes
            raise GraphError(f"unexpected fx node {n.op} {n.target}")
        where[n] = len(raws) - 1
    return _simplify(raws, type(module).__name__)


def _mul_by_zero(n: fx.Node) -> bool:
    return any(isinstance(a, (int, float)) and a == 0 for a in n.args)


def _simplify(raws: list[_Raw], what: str) -> OpGraph:
    n = len(raws)
    # 1. dead nodes: zero ops, and nodes whose every input is dead (zeros in, zeros out)
    dead = [False] * n
    for i, r in enumerate(raws):
        if r.kind == "zero":
            dead[i] = True
        elif r.kind not in ("input", "output") and r.inputs and all(dead[j] for j in r.inputs):
            dead[i] = True
    for r in raws:
        r.inputs = [j for j in r.inputs if not dead[j]]
    # 2. pass-through nodes become edges; single-input adds too
    alias = list(range(n))

    def root(j: int) -> int:
        while alias[j] != j:
            j = alias[j]
        return j

    for i, r in enumerate(raws):
        if dead[i]:
            continue
        r.inputs = sorted({root(j) for j in r.inputs})
        if r.kind == "edge" or (r.kind == "add" and len(r.inputs) == 1):
            if len(r.inputs) != 1:
                raise GraphError(f"{what}: pass-through {r.name} has {len(r.inputs)} inputs")
            alias[i] = r.inputs[0]
    alive = [i for i in range(n) if not dead[i] and alias[i] == i]
    consumers: dict[int, list[int]] = {i: [] for i in alive}
    for i in alive:
        for j in raws[i].inputs:
            consumers[j].append(i)
    # 3. fold add chains, ReLU -> conv and conv -> BN
    merged_into = {i: i for i in alive}
    for i in alive:
        r = raws[i]
        if r.kind == "add":
            for j in list(r.inputs):
                rj = raws[j]
                if rj.kind == "add" and consumers[j] == [i] and merged_into[j] == j:
                    r.inputs = sorted((set(r.inputs) - {j}) | set(rj.inputs))
                    merged_into[j] = i
        if r.kind.startswith(("conv", "dwconv")) and len(r.inputs) == 1:
            j = r.inputs[0]
            rj = raws[j]
            if rj.kind == "relu" and consumers[j] == [i] and len(rj.inputs) == 1 and merged_into[j] == j:
                r.inputs = list(rj.inputs)
                r.modules = rj.modules + r.modules
                merged_into[j] = i
        if r.kind == "bn" and len(r.inputs) == 1:
            j = r.inputs[0]
            rj = raws[j]
            if rj.kind.startswith(("conv", "dwconv")) and consumers[j] == [i] and merged_into[j] == j:
                rj.modules = rj.modules + r.modules
                merged_into[i] = j
    # a node folded into another hands its consumers to it
    def target(j: int) -> int:
        while merged_into[j] != j:
            j = merged_into[j]
        return j

    keep = [i for i in alive if merged_into[i] == i]
    for i in keep:
        raws[i].inputs = sorted({target(j) for j in raws[i].inputs} - {i})
    # 4. drop nodes that never reach the output
    out_idx = [i for i in keep if raws[i].kind == "output"]
    if not out_idx:
        raise GraphError(f"{what}: the traced graph has no output")
    reach = set()
    stack = list(out_idx)
    while stack:
        i = stack.pop()
        if i in reach:
            continue
        reach.add(i)
        stack.extend(raws[i].inputs)
    order = [i for i in keep if i in reach]
    new = {old: k for k, old in enumerate(order)}
    nodes = []
    edges = []
    for old in order:
        r = raws[old]
        nodes.append(OpNode(TYPE_INDEX[r.kind], r.name, tuple(r.params), tuple(r.shapes), tuple(r.modules)))
        for j in r.inputs:
            edges.append((new[j], new[old]))
    edges.sort(key=lambda e: (e[1], e[0]))
    g = OpGraph(tuple(nodes), tuple(edges))
    g.check()
    return g


def describe(g: OpGraph) -> str:
    lines = [f"{len(g.nodes)} nodes, {len(g.edges)} edges"]
    pred = g.predecessors()
    for i, nd in enumerate(g.nodes):
        lines.append(f"{i:4d} {nd.type_name:<18} {nd.name:<28} <- {pred[i]}")
    return "\n".join(lines)


__all__ = ["NODE_TYPES", "GraphError", "OpGraph", "OpNode", "describe", "op_graph"]
