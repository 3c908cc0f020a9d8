"""Graph HyperNetwork (GHN): a graph neural network over a network's operation graph whose node
embeddings a shared hypernetwork turns into that network's weights.

Papers: Zhang, Ren & Urtasun, "Graph HyperNetworks for Neural Architecture Search", ICLR 2019
(GHN-1, the default configuration); Knyazev, Drozdzal, Taylor & Romero-Soriano, "Parameter
Prediction for Unseen Deep Architectures", NeurIPS 2021 (GHN-2: the options ``norm="ghn2"``,
``layernorm`` and ``virtual_edges`` of :class:`GHNConfig`, below).

What is implemented (GHN-1, paper Sec. 3):

* Graph: :func:`nasearch.space.graph.op_graph` of the BUILT network (one node per operation; see
  that module for folding ReLU/BN into convs, ``none`` absent, ``skip_connect`` as an edge).
* Node initialisation h_v^0: a learned embedding of the node type (an ``nn.Embedding`` is a linear
  map of the one-hot type vector, the paper's one-hot initialisation followed by a linear layer).
* Propagation (GatedGNN, Eq. 3-4): message m_v = sum_{u in N(v)} M(h_u), M a 2-layer MLP with hidden
  size 32; update h_v <- U(m_v, h_v), U a GRU cell with hidden size 32.
* Forward-backward scheme (Sec. 3.3): one propagation is a forward sweep over the nodes in
  topological order (each node reads its predecessors, already updated in this sweep) followed by a
  backward sweep in reverse order (each node reads its successors); T = 5 propagations. Nodes of
  equal depth do not depend on each other, so a sweep runs level by level (longest path from the
  sources, resp. to the sinks) and all nodes of a level, across all graphs of a minibatch, update in
  one batched call. Nodes with no predecessor (successor) are not updated in the forward (backward)
  sweep: they receive no message. Choice where the paper is silent: the backward sweep has its own
  M and U; the paper does not say whether they are shared.
* Hypernetwork H (Eq. 5): a 2-layer MLP with hidden size 64 from the final node embedding to the
  node's weights, shared by every node (one decoder for every kernel shape).

Shapes (choice; the paper generates a fixed-size kernel per node and is silent on mixed shapes):
H outputs one block of ``block_out x block_in x 3 x 3`` (default 32 x 32 x 3 x 3 = 9,216 numbers).
A conv weight ``C_out x C_in x k x k`` takes the block's first ``C_out``/``C_in`` channels when
they fit, and tiles the block along a channel axis (as GHN-2 does beyond its maximum) when a count is
larger (NB201's 64-channel stage: a 2 x 2 tiling); a 1x1 kernel is the centre of the 3x3 kernel, a
larger kernel is the 3x3 kernel zero-padded; a linear weight ``out x in`` is decoded as a 1x1 conv.
With ``norm="fan_in"`` (the default) every decoded weight is multiplied by ``1/sqrt(fan_in)``
(fan_in = the number of elements of one output slice, C_in/groups * k * k), a fixed
reparametrisation that gives every layer the same output scale at initialisation, whatever its
shape. The block size keeps H at 0.6 M parameters (a 64 x 64 block would need 2.4 M, 9 MB).

Parameters that are NOT generated under ``norm="fan_in"`` (deviation: the paper says every weight
is generated, but its networks do not say how BN was handled): BatchNorm affines are fixed at weight
1, bias 0, and biases (NB201's classifier bias) are fixed at 0. Under both norms BN always
normalises with the statistics of the current batch (no running statistics), in training and in
prediction.

GHN-2 options (Knyazev et al. 2021; written from the paper's description, not its code):

* ``norm="ghn2"``: the differentiable parameter normalisation of Sec. 4 ("Parameter
  normalization"). Every predicted weight with more than one dimension is multiplied by
  ``sqrt(beta / fan_in)`` (fan_in as above; beta = 2, He initialisation for layers followed by a
  ReLU, except beta = 1 for a depthwise kernel, one input channel per group); predicted
  normalisation-layer weights are ``2 * sigmoid(0.5 p)`` (in [0, 2]) and predicted biases
  ``tanh(0.2 p)`` (in [-1, 1]). So the GHN generates BN affines and biases too: every BatchNorm
  weight/bias of the network's graph (a BN folded into a conv node from that node's embedding, a
  standalone ``bn`` node from its own) and every conv/linear bias (from the node that owns the
  weight); whatever the network does not have is not generated (NB201's convs have no bias). They
  come from a second, small decoder ``hyper_1d``: a 2-layer MLP (hidden ``hyper_hidden``) from the
  node embedding to ``2 x block_out`` values, the first half for normalisation weights and the
  second for biases, sliced/tiled to the channel count as the weight blocks are (choice: a conv
  bias and the BN folded after it would share the bias half, harmless since BN removes a conv's
  bias). :func:`vector_params` lists them per node; :class:`Target` computes that list.
* ``layernorm=True``: layer normalisation of the node embeddings after the GNN, before decoding
  (:meth:`GHN.forward`; :meth:`GHN.embed_nodes` and :func:`graph_embeddings` return the GNN's
  output before it).
* ``virtual_edges=s_max > 0``: the virtual edges of Eq. 4. In each sweep a node also receives from
  every node at shortest-path distance ``1 < s <= s_max`` in the sweep's direction (forward: from its
  ancestors, backward: from its descendants; the DAG's directed shortest path,
  :func:`shortest_path_pairs`), through a separate message MLP, each message scaled by ``1/s``:
  m_v = sum_{u in N(v)} M(h_u) + sum_{u in N_sp(v)} M_sp(h_u) / s_vu. An ancestor is at a lower
  level than its descendant, so the virtual messages join the level's one ``index_add``. GHN-2 uses
  s_max = 50. Choice: like M and U, M_sp is separate per direction (``vmsg_fwd``, ``vmsg_bwd``).

Deviations from GHN-2 (besides training, :mod:`nasearch.predictors.ghn_train`): no ShapeEncoder
(GHN-2 adds an embedding of each node's tensor shape to h_v^0; here the node type alone, and the
kernel/stride are part of the type); our block decoder (one MLP to a 32 x 32 x 3 x 3 block, sliced or
tiled) instead of GHN-2's convolutional decoder with its own channel tiling; the backward sweep has
its own M and U (GHN-2 shares one MLP and one GRU between directions; not an option here); GHN-2's
node types and graphs are those of its DeepNets-1M operations, here :mod:`nasearch.space.graph`'s
(ReLU and BN folded into convs). The configuration keys are the same in both: GHN-2 also uses T = 1
(``T`` is a key).

Each option builds its modules only when enabled (after the GHN-1 modules, so a seed initialises
those the same in either configuration), and :meth:`GHNConfig.to_json` omits the options at their
defaults: a default configuration's json, digest and state dict are those of GHN-1 checkpoints
written before the options existed, which load and score bit for bit as before.

The generated network runs functionally: ``torch.func.functional_call(net, params, x)`` on a
network built once per architecture (:class:`Target`), no module copies per step.

The GNN is plain torch: PyG/DGL message passing updates every node simultaneously; the
forward-backward scheme needs sequential, depth-ordered updates where a node reads its neighbours'
states of the same sweep, so the sweep is written here as a loop over depth levels with
``index_add_`` for the message sums.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import OrderedDict, deque
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from nasearch.errors import NasearchError
from nasearch.space.graph import NODE_TYPES, OpGraph, op_graph
from nasearch.suggest import did_you_mean

NORMS: tuple[str, ...] = ("fan_in", "ghn2")
"""Accepted values of :attr:`GHNConfig.norm`."""


class GHNConfigError(NasearchError):
    """A :class:`GHNConfig` value outside what is accepted (the message names the ``ghn.*`` key)."""


@dataclass(frozen=True)
class GHNConfig:
    """Everything that defines a GHN's parameters and its function (stored in every checkpoint)."""

    hidden: int = 32
    """Node embedding / GRU hidden size (paper: 32)."""
    message_hidden: int = 32
    """Hidden size of the 2-layer message MLP M (paper: 32)."""
    hyper_hidden: int = 64
    """Hidden size of the 2-layer hypernetwork MLP H (paper: 64)."""
    T: int = 5
    """Forward-backward propagations (paper: 5)."""
    block_out: int = 32
    block_in: int = 32
    """Channel block H decodes (see the module docstring)."""
    vocab: str = ",".join(NODE_TYPES)
    """The node-type vocabulary the embedding rows follow."""
    norm: str = "fan_in"
    """Parameter normalisation: ``fan_in`` (weights times 1/sqrt(fan_in); BN affines and biases fixed)
    or ``ghn2`` (GHN-2's, Sec. 4: BN affines and biases generated too; see the module docstring)."""
    layernorm: bool = False
    """Layer normalisation of the node embeddings after the GNN, before decoding (GHN-2)."""
    virtual_edges: int = 0
    """s_max of GHN-2's virtual edges (Eq. 4; GHN-2: 50); 0: none."""

    ADDED_LATER = {"norm": "fan_in", "layernorm": False, "virtual_edges": 0}
    """Fields added after checkpoints were first written, with their defaults: :meth:`to_json` omits
    them at these values, so the json and :meth:`digest` of a GHN-1 configuration never change."""

    def __post_init__(self) -> None:
        if self.norm not in NORMS:
            raise GHNConfigError(
                f"ghn.norm must be one of {', '.join(NORMS)} (the GHN's parameter normalisation: fan_in is "
                f"GHN-1's, ghn2 is GHN-2's), got {self.norm!r}{did_you_mean(self.norm, NORMS)}")
        if not isinstance(self.layernorm, bool):
            raise GHNConfigError(f"ghn.layernorm must be true or false, got {self.layernorm!r}")
        v = self.virtual_edges
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise GHNConfigError(
                f"ghn.virtual_edges must be an integer >= 0 (the largest shortest-path distance of a virtual "
                f"edge, GHN-2: 50; 0: no virtual edges), got {v!r}")

    def to_json(self) -> str:
        d = asdict(self)
        for k, default in self.ADDED_LATER.items():
            if d[k] == default and type(d[k]) is type(default):
                del d[k]
        return json.dumps(d, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GHNConfig:
        return cls(**d)

    def digest(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:12]


def shortest_path_pairs(graph: OpGraph, s_max: int) -> np.ndarray:
    """Rows ``(u, v, s)`` (``int64``, read-only) for every pair of nodes of ``graph`` whose directed
    shortest path ``u -> v`` has ``1 < s <= s_max`` edges: GHN-2's virtual edges (Eq. 4), sorted by
    ``(v, u)``. Breadth-first search from every node, at most ``s_max`` edges deep; cached in
    ``graph.meta`` (a training run batches the same cached graphs again and again)."""
    key = ("shortest_path_pairs", int(s_max))
    if key in graph.meta:
        return graph.meta[key]
    succ: list[list[int]] = [[] for _ in graph.nodes]
    for a, b in graph.edges:
        succ[a].append(b)
    out = []
    for u in range(graph.num_nodes):
        dist = {u: 0}
        queue = deque([u])
        while queue:
            a = queue.popleft()
            if dist[a] >= s_max:
                continue
            for b in succ[a]:
                if b not in dist:
                    dist[b] = dist[a] + 1
                    queue.append(b)
        out.extend((u, v, s) for v, s in dist.items() if s > 1)
    arr = np.asarray(out, dtype=np.int64).reshape(-1, 3)
    arr = arr[np.lexsort((arr[:, 0], arr[:, 1]))]
    arr.setflags(write=False)
    graph.meta[key] = arr
    return arr


# ---------------------------------------------------------------------------------------- batching
VectorParams = tuple[tuple[tuple[str, str, int], ...], ...]
"""Per node of a graph, the 1-d parameters generated from its embedding under ``norm="ghn2"``:
``(parameter name, "weight" | "bias", size)`` (:func:`vector_params`)."""


@dataclass
class GraphBatch:
    """Several :class:`OpGraph` s concatenated into one node set, with precomputed sweep schedules.

    ``fwd`` / ``bwd``: per depth level ``(nodes, src, pos)``: the level's node indices, and for every
    edge into the level (forward: from a predecessor; backward: from a successor) the sending node
    and the position of the receiving node in ``nodes``. ``groups``: per decoded weight shape the
    node indices holding such a weight and their ``(graph, parameter name)``.

    With ``virtual_edges = s_max > 0`` (GHN-2's Eq. 4), ``vfwd`` / ``vbwd`` hold per level of ``fwd``
    / ``bwd`` ``(src, pos, scale)``: every virtual edge into the level (a node at shortest-path
    distance ``1 < s <= s_max``), its receiver's position and ``1/s``. With ``vectors`` (``norm="ghn2"``),
    ``vectors`` maps ``(size, "weight" | "bias")`` to the node indices owning such a 1-d parameter and
    their ``(graph, parameter name)``.
    """

    types: torch.Tensor
    fwd: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]
    bwd: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]
    groups: dict[tuple[int, ...], tuple[torch.Tensor, list[tuple[int, str]]]]
    num_graphs: int
    virtual_edges: int = 0
    vfwd: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] | None = None
    vbwd: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] | None = None
    vectors: dict[tuple[int, str], tuple[torch.Tensor, list[tuple[int, str]]]] | None = None

    @classmethod
    def of(cls, graphs: list[OpGraph], *, virtual_edges: int = 0,
           vectors: list[VectorParams] | None = None) -> GraphBatch:
        """The batch of ``graphs``; ``virtual_edges`` (s_max) adds GHN-2's virtual edges, ``vectors``
        (one :func:`vector_params` per graph) the 1-d parameters of ``norm="ghn2"``."""
        if vectors is not None and len(vectors) != len(graphs):
            raise ValueError(f"GraphBatch.of: {len(vectors)} vector-parameter lists for {len(graphs)} graphs")
        types: list[int] = []
        fdepth: list[int] = []
        bdepth: list[int] = []
        edges: list[tuple[int, int]] = []
        vpairs: list[np.ndarray] = []
        groups: dict[tuple[int, ...], tuple[list[int], list[tuple[int, str]]]] = {}
        vgroups: dict[tuple[int, str], tuple[list[int], list[tuple[int, str]]]] = {}
        off = 0
        for gi, g in enumerate(graphs):
            f, b = g.depths()
            types.extend(n.type for n in g.nodes)
            fdepth.extend(f)
            bdepth.extend(b)
            edges.extend((s + off, d + off) for s, d in g.edges)
            if virtual_edges:
                vpairs.append(shortest_path_pairs(g, virtual_edges) + np.array([off, off, 0]))
            for i, nd in enumerate(g.nodes):
                for name, shape in zip(nd.params, nd.shapes):
                    idx, names = groups.setdefault(tuple(shape), ([], []))
                    idx.append(i + off)
                    names.append((gi, name))
            if vectors is not None:
                if len(vectors[gi]) != g.num_nodes:
                    raise ValueError(f"GraphBatch.of: graph {gi} has {g.num_nodes} nodes but "
                                     f"{len(vectors[gi])} vector-parameter entries")
                for i, own in enumerate(vectors[gi]):
                    for name, kind, size in own:
                        idx, names = vgroups.setdefault((int(size), kind), ([], []))
                        idx.append(i + off)
                        names.append((gi, name))
            off += g.num_nodes

        def schedule(depth: list[int], pairs: list[tuple[int, int]], virtual: np.ndarray | None):
            # pairs: (sender, receiver); receivers grouped by their depth. virtual: rows (sender, receiver, s)
            levels: dict[int, list[int]] = {}
            for v, dv in enumerate(depth):
                if dv > 0:
                    levels.setdefault(dv, []).append(v)
            by_recv: dict[int, list[int]] = {}
            for s, r in pairs:
                by_recv.setdefault(r, []).append(s)
            out = []
            for lv in sorted(levels):
                nodes = levels[lv]
                pos = {v: k for k, v in enumerate(nodes)}
                src = [s for v in nodes for s in by_recv.get(v, [])]
                dst = [pos[v] for v in nodes for _ in by_recv.get(v, [])]
                out.append((torch.tensor(nodes), torch.tensor(src), torch.tensor(dst)))
            if virtual is None:
                return out, None
            # virtual edges, vectorised (tens of thousands per batch): every receiver has depth > 0
            d = np.asarray(depth)
            order = sorted(levels)
            level_no = np.full(len(depth), -1)
            where = np.zeros(len(depth), dtype=np.int64)
            for k, lv in enumerate(order):
                level_no[levels[lv]] = k
                where[levels[lv]] = np.arange(len(levels[lv]))
            snd, rcv, dist = virtual[:, 0], virtual[:, 1], virtual[:, 2]
            assert (d[rcv] > 0).all()
            lvl = level_no[rcv]
            srt = np.lexsort((snd, where[rcv], lvl))
            snd, rcv, dist, lvl = snd[srt], rcv[srt], dist[srt], lvl[srt]
            cut = np.searchsorted(lvl, np.arange(len(order) + 1))
            vout = [(torch.from_numpy(snd[a:b].copy()), torch.from_numpy(where[rcv[a:b]]),
                     torch.from_numpy((1.0 / dist[a:b]).astype(np.float32)))
                    for a, b in zip(cut[:-1], cut[1:])]
            return out, vout

        vp = np.concatenate([np.zeros((0, 3), dtype=np.int64), *vpairs]) if virtual_edges else None
        fwd, vfwd = schedule(fdepth, edges, vp)
        bwd, vbwd = schedule(bdepth, [(d, s) for s, d in edges], vp[:, [1, 0, 2]] if vp is not None else None)
        return cls(
            types=torch.tensor(types, dtype=torch.int64),
            fwd=fwd,
            bwd=bwd,
            groups={k: (torch.tensor(v[0]), v[1]) for k, v in groups.items()},
            num_graphs=len(graphs),
            virtual_edges=int(virtual_edges),
            vfwd=vfwd,
            vbwd=vbwd,
            vectors=None if vectors is None else {k: (torch.tensor(v[0]), v[1]) for k, v in vgroups.items()},
        )

    def to(self, device: torch.device | str) -> GraphBatch:
        def levels(lvs):
            return None if lvs is None else [tuple(t.to(device) for t in lv) for lv in lvs]

        return GraphBatch(self.types.to(device), levels(self.fwd), levels(self.bwd),  # type: ignore[arg-type]
                          {k: (v[0].to(device), v[1]) for k, v in self.groups.items()}, self.num_graphs,
                          self.virtual_edges, levels(self.vfwd), levels(self.vbwd),
                          None if self.vectors is None else {k: (v[0].to(device), v[1]) for k, v in self.vectors.items()})


# ---------------------------------------------------------------------------------------- the model
def _mlp(i: int, h: int, o: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(i, h), nn.ReLU(), nn.Linear(h, o))


class GHN(nn.Module):
    """GatedGNN with forward-backward propagation + a shared hypernetwork (see module docstring)."""

    def __init__(self, config: GHNConfig | None = None):
        super().__init__()
        self.config = c = config or GHNConfig()
        vocab = c.vocab.split(",")
        self.embed = nn.Embedding(len(vocab), c.hidden)
        self.msg_fwd = _mlp(c.hidden, c.message_hidden, c.hidden)
        self.msg_bwd = _mlp(c.hidden, c.message_hidden, c.hidden)
        self.gru_fwd = nn.GRUCell(c.hidden, c.hidden)
        self.gru_bwd = nn.GRUCell(c.hidden, c.hidden)
        self.hyper = _mlp(c.hidden, c.hyper_hidden, c.block_out * c.block_in * 9)
        # GHN-2 options: built only when enabled, after the modules above (a default GHN's state dict
        # and its seeded initialisation are GHN-1's)
        if c.virtual_edges:
            self.vmsg_fwd = _mlp(c.hidden, c.message_hidden, c.hidden)
            self.vmsg_bwd = _mlp(c.hidden, c.message_hidden, c.hidden)
        if c.layernorm:
            self.ln = nn.LayerNorm(c.hidden)
        if c.norm == "ghn2":
            self.hyper_1d = _mlp(c.hidden, c.hyper_hidden, 2 * c.block_out)

    def batch_of(self, targets: list[Target]) -> GraphBatch:
        """The :class:`GraphBatch` of ``targets`` with what this GHN reads: the virtual edges of its
        ``virtual_edges`` and, under ``norm="ghn2"``, the targets' 1-d parameters (for a default
        configuration: ``GraphBatch.of(graphs)``)."""
        c = self.config
        return GraphBatch.of([t.graph for t in targets], virtual_edges=c.virtual_edges,
                             vectors=[t.vectors for t in targets] if c.norm == "ghn2" else None)

    def _sweep(self, h: torch.Tensor, levels: list, msg: nn.Module, gru: nn.GRUCell,
               vlevels: list | None = None, vmsg: nn.Module | None = None) -> torch.Tensor:
        for i, (nodes, src, pos) in enumerate(levels):
            m = h.new_zeros(len(nodes), h.shape[1])
            if vlevels is None:
                if len(src):
                    m = m.index_add(0, pos, msg(h[src]))
            else:  # real and virtual messages (GHN-2's Eq. 4) in one index_add
                vsrc, vpos, scale = vlevels[i]
                where, what = [], []
                if len(src):
                    where.append(pos)
                    what.append(msg(h[src]))
                if len(vsrc):
                    where.append(vpos)
                    what.append(vmsg(h[vsrc]) * scale.to(h.dtype).unsqueeze(1))  # type: ignore[misc]
                if where:
                    m = m.index_add(0, torch.cat(where), torch.cat(what))
            h = h.index_copy(0, nodes, gru(m, h[nodes]))
        return h

    def embed_nodes(self, batch: GraphBatch) -> torch.Tensor:
        """Node embeddings after T forward-backward propagations (nodes of all graphs, concatenated;
        before the layer normalisation of ``layernorm``)."""
        c = self.config
        if batch.virtual_edges != c.virtual_edges:
            raise ValueError(
                f"the GraphBatch has virtual edges up to distance {batch.virtual_edges} but this GHN was "
                f"configured with virtual_edges={c.virtual_edges}; build it with GHN.batch_of(targets) or "
                f"GraphBatch.of(graphs, virtual_edges={c.virtual_edges})")
        h = self.embed(batch.types)
        for _ in range(c.T):
            if c.virtual_edges:
                h = self._sweep(h, batch.fwd, self.msg_fwd, self.gru_fwd, batch.vfwd, self.vmsg_fwd)
                h = self._sweep(h, batch.bwd, self.msg_bwd, self.gru_bwd, batch.vbwd, self.vmsg_bwd)
            else:
                h = self._sweep(h, batch.fwd, self.msg_fwd, self.gru_fwd)
                h = self._sweep(h, batch.bwd, self.msg_bwd, self.gru_bwd)
        return h

    def weight_scale(self, shape: tuple[int, ...]) -> float:
        """The factor a decoded weight of ``shape`` is multiplied by: ``1/sqrt(fan_in)`` (``fan_in``)
        or GHN-2's ``sqrt(beta/fan_in)``, beta = 1 for a depthwise kernel (one input channel per group)
        and 2 otherwise (``ghn2``); fan_in = the elements of one output slice."""
        fan_in = math.prod(shape[1:])
        if self.config.norm == "fan_in":
            return 1.0 / math.sqrt(fan_in)
        beta = 1.0 if len(shape) == 4 and shape[1] == 1 else 2.0
        return math.sqrt(beta / fan_in)

    def decode_raw(self, out: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        """H's blocks (k x block_numel) -> k weights of ``shape`` (conv OIHW or linear OI), sliced or
        tiled, before :meth:`weight_scale`."""
        c = self.config
        k = out.shape[0]
        w = out.view(k, c.block_out, c.block_in, 3, 3)
        if len(shape) == 2:
            cout, cin, kh, kw = shape[0], shape[1], 1, 1
        elif len(shape) == 4:
            cout, cin, kh, kw = shape
        else:
            raise ValueError(f"the GHN decodes conv (4-d) and linear (2-d) weights, not shape {shape}")
        if kh == 1 and kw == 1:
            w = w[..., 1:2, 1:2]
        elif kh > 3 or kw > 3:
            ph, pw = (kh - 3) // 2, (kw - 3) // 2
            w = nn.functional.pad(w, (pw, kw - 3 - pw, ph, kh - 3 - ph))
        elif (kh, kw) != (3, 3):
            w = w[..., :kh, :kw]
        ro, ri = math.ceil(cout / c.block_out), math.ceil(cin / c.block_in)
        if ro > 1 or ri > 1:
            w = w.repeat(1, ro, ri, 1, 1)
        return w[:, :cout, :cin].reshape(k, *shape)

    def decode(self, out: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        """H's blocks (k x block_numel) -> k weights of ``shape`` (conv OIHW or linear OI), scaled."""
        return self.decode_raw(out, shape) * self.weight_scale(shape)

    def decode_vector(self, out: torch.Tensor, size: int, kind: str) -> torch.Tensor:
        """``hyper_1d``'s outputs (k x 2*block_out) -> k 1-d parameters of ``size`` under GHN-2's
        normalisation: the first half tiled/sliced to ``size`` and ``2*sigmoid(0.5 p)`` for a
        normalisation weight (``kind="weight"``), the second half and ``tanh(0.2 p)`` for a bias."""
        bo = self.config.block_out
        p = out[:, :bo] if kind == "weight" else out[:, bo:]
        r = math.ceil(size / bo)
        if r > 1:
            p = p.repeat(1, r)
        p = p[:, :size]
        return 2.0 * torch.sigmoid(0.5 * p) if kind == "weight" else torch.tanh(0.2 * p)

    def forward(self, batch: GraphBatch) -> list[dict[str, torch.Tensor]]:
        """Generated parameters: one ``{parameter name: tensor}`` per graph of ``batch`` (build it with
        :meth:`batch_of`)."""
        c = self.config
        if c.norm == "ghn2" and batch.vectors is None:
            raise ValueError("a GHN with norm='ghn2' generates BN affines and biases too: build its GraphBatch "
                             "with GHN.batch_of(targets) or GraphBatch.of(graphs, vectors=...)")
        h = self.embed_nodes(batch)
        if c.layernorm:
            h = self.ln(h)
        params: list[dict[str, torch.Tensor]] = [{} for _ in range(batch.num_graphs)]
        for shape, (idx, names) in batch.groups.items():
            ws = self.decode(self.hyper(h[idx]), shape)
            for w, (gi, name) in zip(ws, names):
                params[gi][name] = w
        if c.norm == "ghn2":
            for (size, kind), (idx, names) in batch.vectors.items():  # type: ignore[union-attr]
                vs = self.decode_vector(self.hyper_1d(h[idx]), size, kind)
                for v, (gi, name) in zip(vs, names):
                    params[gi][name] = v
        return params


# ---------------------------------------------------------------------------------------- targets
def vector_params(net: nn.Module, graph: OpGraph) -> VectorParams:
    """Per node of ``graph`` (the operation graph of ``net``), the 1-d parameters GHN-2's
    normalisation generates from that node's embedding, ``(name in net.named_parameters(), kind,
    size)``: the affine weight (kind ``"weight"``) and bias (``"bias"``) of every BatchNorm among the
    node's modules (a BN folded into a conv, or a standalone ``bn`` node), and the bias of a conv or
    linear layer whose weight the node owns. A parameter the network does not have is not listed."""
    mods = dict(net.named_modules())
    out = []
    for nd in graph.nodes:
        own: list[tuple[str, str, int]] = []
        for name in nd.modules:
            m = mods.get(name)
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                if m.weight is not None:
                    own.append((f"{name}.weight", "weight", m.weight.numel()))
                if m.bias is not None:
                    own.append((f"{name}.bias", "bias", m.bias.numel()))
            elif f"{name}.weight" in nd.params and isinstance(getattr(m, "bias", None), torch.Tensor):
                own.append((f"{name}.bias", "bias", m.bias.numel()))  # type: ignore[union-attr]
        out.append(tuple(own))
    return tuple(out)


class Target:
    """A network built once, prepared for generated weights, with its operation graph.

    Preparation: every BatchNorm uses batch statistics (running statistics removed), parameters that
    the GHN does not generate under ``norm="fan_in"`` are fixed (BN weight 1, every other one 0) and
    frozen (under ``norm="ghn2"`` the generated BN affines and biases replace them in the call).
    ``vectors``: the 1-d parameters ``norm="ghn2"`` generates (:func:`vector_params`).
    """

    def __init__(self, net: nn.Module):
        self.net = net
        self.graph = op_graph(net)
        self.vectors = vector_params(net, self.graph)
        generated = {p for nd in self.graph.nodes for p in nd.params}
        with torch.no_grad():
            for mname, m in net.named_modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.track_running_stats = False
                    m.running_mean = None
                    m.running_var = None
                    m.num_batches_tracked = None
                for pname, p in m.named_parameters(recurse=False):
                    full = f"{mname}.{pname}" if mname else pname
                    if full not in generated:
                        p.fill_(1.0 if isinstance(m, nn.modules.batchnorm._BatchNorm) and pname == "weight" else 0.0)
                    p.requires_grad_(False)
        net.train()

    def __call__(self, params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        return functional_call(self.net, params, (x,))


class TargetCache:
    """LRU cache of :class:`Target` s by (architecture, dataset): each network is built once."""

    def __init__(self, build, size: int = 64):
        self.build = build
        self.size = size
        self._d: OrderedDict[Any, Target] = OrderedDict()

    def get(self, key: Any) -> Target:
        if key in self._d:
            self._d.move_to_end(key)
            return self._d[key]
        t = Target(self.build(key))
        self._d[key] = t
        if len(self._d) > self.size:
            self._d.popitem(last=False)
        return t


def space_target_builder(space, task: str = "cifar10"):
    """Builder of ``space``'s networks for ``task`` for :class:`TargetCache` (initial weights are
    irrelevant: every weight is generated or fixed, so a fixed generator keeps the global RNG
    untouched)."""
    from nasearch.space import get_space

    space = get_space(space)

    def build(arch):
        return space.build_network(arch, task, generator=torch.Generator().manual_seed(0))

    return build


def forward_counts(
    target: Target, params: dict[str, torch.Tensor], images: torch.Tensor, labels: torch.Tensor, sizes: list[int]
) -> tuple[int, float]:
    """(correct predictions, summed cross-entropy) of ``target`` with ``params`` on ``images``, run in
    consecutive minibatches of ``sizes`` (BN normalises with each minibatch's statistics). The one
    evaluation loop of :func:`evaluate`, the ``ghn`` proxy and the trainer's rho cells."""
    correct, loss, start = 0, 0.0, 0
    for n in sizes:
        logits = target(params, images[start : start + n])
        y = labels[start : start + n]
        loss += float(nn.functional.cross_entropy(logits, y, reduction="sum"))
        correct += int((logits.argmax(1) == y).sum())
        start += n
    return correct, loss


def proxy_score(accuracy: float, loss: float) -> float:
    """The ``ghn`` proxy's score of a generated network: accuracy (%) with ties broken by the mean
    loss, ``accuracy - 1e-4 * min(loss, 100)`` (the accuracy alone when the loss is not finite)."""
    return accuracy - 1e-4 * min(loss, 100.0) if math.isfinite(loss) else accuracy


def chunk_sizes(n: int, chunk: int) -> list[int]:
    """``n`` images in consecutive minibatches of ``chunk`` (the last one smaller)."""
    return [min(chunk, n - i) for i in range(0, n, chunk)]


@torch.no_grad()
def evaluate(
    ghn: GHN, targets: list[Target], images: torch.Tensor, labels: torch.Tensor, chunk: int = 256
) -> list[tuple[float, float]]:
    """(accuracy in %, mean cross-entropy) of each target's generated network on the images.

    BN normalises with the statistics of each chunk of ``chunk`` images (the network is in train
    mode; nothing is updated). One GNN pass for all targets.
    """
    ghn.eval()
    params = ghn(ghn.batch_of(targets).to(images.device))
    out = []
    for t, p in zip(targets, params):
        correct, loss = forward_counts(t, p, images, labels, chunk_sizes(len(labels), chunk))
        out.append((100.0 * correct / len(labels), loss / len(labels)))
    return out


def graph_embeddings(ghn: GHN, graphs: list[OpGraph]) -> np.ndarray:
    """The GHN's embedding of each graph: ``float64`` array ``(len(graphs), 2 * hidden)``, the mean
    (first ``hidden`` columns) and the maximum (last ``hidden``) over the graph's nodes of the node
    embeddings after the T forward-backward propagations (:meth:`GHN.embed_nodes`). A graph without
    nodes gets a row of NaN.

    Deterministic: computed under ``torch.no_grad()`` in eval mode with one torch thread, and each
    graph on its own (a batch of one), so a graph's embedding never depends on which other graphs
    it is computed with (batched matrix products change the last bits with the batch's size). Cost:
    about 0.03-0.05 s of CPU per graph (nasearch's four spaces, one thread).

    Pooling (our choice; the paper pools nothing, it decodes weights per node): mean and max. On NB201 CIFAR-10 with the shipped checkpoint, a random forest on mean+max
    ranked 400 held-out cells as well as or better than on the mean alone (Kendall tau 0.42 / 0.47 /
    0.63 against 0.38 / 0.48 / 0.61 with 50 / 100 / 200 training cells, three splits each)."""
    from nasearch.determinism import one_thread

    out = np.full((len(graphs), 2 * ghn.config.hidden), np.nan)
    was_training = ghn.training
    ghn.eval()
    try:
        with torch.no_grad(), one_thread():
            for i, g in enumerate(graphs):
                if g.num_nodes == 0:
                    continue
                h = ghn.embed_nodes(GraphBatch.of([g], virtual_edges=ghn.config.virtual_edges))
                out[i] = torch.cat([h.mean(0), h.amax(0)]).double().numpy()
    finally:
        ghn.train(was_training)
    return out


__all__ = ["GHN", "GHNConfig", "GHNConfigError", "GraphBatch", "NORMS", "Target", "TargetCache", "chunk_sizes",
           "evaluate", "forward_counts", "graph_embeddings", "proxy_score", "shortest_path_pairs",
           "space_target_builder", "vector_params"]
