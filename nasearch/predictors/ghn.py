"""Graph HyperNetwork (GHN): a graph neural network over a network's operation graph whose node
embeddings a shared hypernetwork turns into that network's weights.

Paper: Zhang, Ren & Urtasun, "Graph HyperNetworks for Neural Architecture Search", ICLR 2019.

What is implemented (paper Sec. 3):

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
  M and U (GHN-2's choice too); the paper does not say whether they are shared.
* Hypernetwork H (Eq. 5): a 2-layer MLP with hidden size 64 from the final node embedding to the
  node's weights, shared by every node (one decoder for every kernel shape).

Shapes (choice; the paper generates a fixed-size kernel per node and is silent on mixed shapes):
H outputs one block of ``block_out x block_in x 3 x 3`` (default 32 x 32 x 3 x 3 = 9,216 numbers).
A conv weight ``C_out x C_in x k x k`` takes the block's first ``C_out``/``C_in`` channels when
they fit, and tiles the block along a channel axis (as GHN-2 does beyond its maximum) when a count is
larger (NB201's 64-channel stage: a 2 x 2 tiling); a 1x1 kernel is the centre of the 3x3 kernel, a
larger kernel is the 3x3 kernel zero-padded; a linear weight ``out x in`` is decoded as a 1x1 conv.
Every decoded weight is multiplied by ``1/sqrt(fan_in)`` (fan_in = C_in * k * k), a fixed
reparametrisation that gives every layer the same output scale at initialisation, whatever its
shape. The block size keeps H at 0.6 M parameters (a 64 x 64 block would need 2.4 M, 9 MB).

Parameters that are NOT generated (deviation: the paper says every weight is generated, but its
networks do not say how BN was handled): BatchNorm affines are fixed at weight 1, bias 0, and BN
always normalises with the statistics of the current batch (no running statistics), in training
and in prediction; biases (NB201's classifier bias) are fixed at 0.

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
from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from nasearch.space.graph import NODE_TYPES, OpGraph, op_graph


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

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GHNConfig:
        return cls(**d)

    def digest(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:12]


# ---------------------------------------------------------------------------------------- batching
@dataclass
class GraphBatch:
    """Several :class:`OpGraph` s concatenated into one node set, with precomputed sweep schedules.

    ``fwd`` / ``bwd``: per depth level ``(nodes, src, pos)``: the level's node indices, and for every
    edge into the level (forward: from a predecessor; backward: from a successor) the sending node
    and the position of the receiving node in ``nodes``. ``groups``: per decoded weight shape the
    node indices holding such a weight and their ``(graph, parameter name)``.
    """

    types: torch.Tensor
    fwd: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]
    bwd: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]
    groups: dict[tuple[int, ...], tuple[torch.Tensor, list[tuple[int, str]]]]
    num_graphs: int

    @classmethod
    def of(cls, graphs: list[OpGraph]) -> GraphBatch:
        types: list[int] = []
        fdepth: list[int] = []
        bdepth: list[int] = []
        edges: list[tuple[int, int]] = []
        groups: dict[tuple[int, ...], tuple[list[int], list[tuple[int, str]]]] = {}
        off = 0
        for gi, g in enumerate(graphs):
            f, b = g.depths()
            types.extend(n.type for n in g.nodes)
            fdepth.extend(f)
            bdepth.extend(b)
            edges.extend((s + off, d + off) for s, d in g.edges)
            for i, nd in enumerate(g.nodes):
                for name, shape in zip(nd.params, nd.shapes):
                    idx, names = groups.setdefault(tuple(shape), ([], []))
                    idx.append(i + off)
                    names.append((gi, name))
            off += g.num_nodes

        def schedule(depth: list[int], pairs: list[tuple[int, int]]) -> list:
            # pairs: (sender, receiver); receivers grouped by their depth
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
            return out

        return cls(
            types=torch.tensor(types, dtype=torch.int64),
            fwd=schedule(fdepth, edges),
            bwd=schedule(bdepth, [(d, s) for s, d in edges]),
            groups={k: (torch.tensor(v[0]), v[1]) for k, v in groups.items()},
            num_graphs=len(graphs),
        )

    def to(self, device: torch.device | str) -> GraphBatch:
        mv = [tuple(t.to(device) for t in lv) for lv in self.fwd]
        mb = [tuple(t.to(device) for t in lv) for lv in self.bwd]
        return GraphBatch(self.types.to(device), mv, mb,  # type: ignore[arg-type]
                          {k: (v[0].to(device), v[1]) for k, v in self.groups.items()}, self.num_graphs)


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

    def _sweep(self, h: torch.Tensor, levels: list, msg: nn.Module, gru: nn.GRUCell) -> torch.Tensor:
        for nodes, src, pos in levels:
            m = h.new_zeros(len(nodes), h.shape[1])
            if len(src):
                m = m.index_add(0, pos, msg(h[src]))
            h = h.index_copy(0, nodes, gru(m, h[nodes]))
        return h

    def embed_nodes(self, batch: GraphBatch) -> torch.Tensor:
        """Node embeddings after T forward-backward propagations (nodes of all graphs, concatenated)."""
        h = self.embed(batch.types)
        for _ in range(self.config.T):
            h = self._sweep(h, batch.fwd, self.msg_fwd, self.gru_fwd)
            h = self._sweep(h, batch.bwd, self.msg_bwd, self.gru_bwd)
        return h

    def decode(self, out: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        """H's blocks (k x block_numel) -> k weights of ``shape`` (conv OIHW or linear OI)."""
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
        w = w[:, :cout, :cin] * (1.0 / math.sqrt(cin * kh * kw))
        return w.reshape(k, *shape)

    def forward(self, batch: GraphBatch) -> list[dict[str, torch.Tensor]]:
        """Generated weights: one ``{parameter name: tensor}`` per graph of ``batch``."""
        h = self.embed_nodes(batch)
        params: list[dict[str, torch.Tensor]] = [{} for _ in range(batch.num_graphs)]
        for shape, (idx, names) in batch.groups.items():
            ws = self.decode(self.hyper(h[idx]), shape)
            for w, (gi, name) in zip(ws, names):
                params[gi][name] = w
        return params


# ---------------------------------------------------------------------------------------- targets
class Target:
    """A network built once, prepared for generated weights, with its operation graph.

    Preparation: every BatchNorm uses batch statistics (running statistics removed), parameters that
    the GHN does not generate are fixed (BN weight 1, every other one 0) and frozen.
    """

    def __init__(self, net: nn.Module):
        self.net = net
        self.graph = op_graph(net)
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


@torch.no_grad()
def evaluate(
    ghn: GHN, targets: list[Target], images: torch.Tensor, labels: torch.Tensor, chunk: int = 256
) -> list[tuple[float, float]]:
    """(accuracy in %, mean cross-entropy) of each target's generated network on the images.

    BN normalises with the statistics of each chunk of ``chunk`` images (the network is in train
    mode; nothing is updated). One GNN pass for all targets.
    """
    ghn.eval()
    params = ghn(GraphBatch.of([t.graph for t in targets]).to(images.device))
    out = []
    for t, p in zip(targets, params):
        correct = 0
        loss = 0.0
        for i in range(0, len(labels), chunk):
            logits = t(p, images[i : i + chunk])
            y = labels[i : i + chunk]
            loss += float(nn.functional.cross_entropy(logits, y, reduction="sum"))
            correct += int((logits.argmax(1) == y).sum())
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
                h = ghn.embed_nodes(GraphBatch.of([g]))
                out[i] = torch.cat([h.mean(0), h.amax(0)]).double().numpy()
    finally:
        ghn.train(was_training)
    return out


__all__ = ["GHN", "GHNConfig", "GraphBatch", "Target", "TargetCache", "evaluate", "graph_embeddings",
           "space_target_builder"]
