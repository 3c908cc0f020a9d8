"""GHN-2-style options of the Graph HyperNetwork and its training (Knyazev et al., NeurIPS 2021):
parameter normalisation, layer norm, virtual edges, weight decay, rho on held-out cells, and that
every default (json, digest, state dict, shipped checkpoint) is unchanged."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from nasearch.predictors.ghn import (
    GHN,
    GHNConfig,
    GHNConfigError,
    GraphBatch,
    Target,
    shortest_path_pairs,
)
from nasearch.predictors.ghn_train import (
    GHNCheckpointError,
    TrainSettings,
    benchmark_accuracy,
    best_path,
    load_checkpoint,
    rho_archs,
    sample_arch,
    split_images,
    train_ghn,
)
from nasearch.space import get_space
from nasearch.space.graph import NODE_TYPES, TYPE_INDEX, OpGraph, OpNode
from nasearch.space.nb201.networks import build_network

ALL_CONV3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
MIXED = "|avg_pool_3x3~0|+|nor_conv_1x1~0|none~1|+|none~0|skip_connect~1|nor_conv_3x3~2|"
TINY2 = GHNConfig(
    hidden=8,
    message_hidden=8,
    hyper_hidden=8,
    T=1,
    block_out=8,
    block_in=8,
    norm="ghn2",
    layernorm=True,
    virtual_edges=50,
)
GHN1_KEYS = [
    "embed.weight",
    *(f"msg_{d}.{i}.{w}" for d in ("fwd", "bwd") for i in (0, 2) for w in ("weight", "bias")),
    *(f"gru_{d}.{w}" for d in ("fwd", "bwd") for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")),
    *(f"hyper.{i}.{w}" for i in (0, 2) for w in ("weight", "bias")),
]
"""The state-dict keys of every GHN before the GHN-2 options (the shipped checkpoint's)."""


def nb201_target(arch: str) -> Target:
    return Target(build_network(arch, generator=torch.Generator().manual_seed(0)))


def macro_target() -> Target:
    """A NAS-Bench-Macro network: inverted bottlenecks with depthwise convs (beta = 1)."""
    space = get_space("nasbench_macro")
    arch = space.parse("20021220")
    return Target(space.build_network(arch, "cifar10", generator=torch.Generator().manual_seed(0)))


# ---------------------------------------------------------------------------------------------- defaults
def test_default_config_json_digest_and_state_dict_are_unchanged():
    old_json = json.dumps(
        {
            "T": 5,
            "block_in": 32,
            "block_out": 32,
            "hidden": 32,
            "hyper_hidden": 64,
            "message_hidden": 32,
            "vocab": ",".join(NODE_TYPES),
        },
        sort_keys=True,
    )
    assert GHNConfig().to_json() == old_json
    assert GHNConfig().digest() == "9342a9b292d6"  # the digest before the GHN-2 options
    assert GHNConfig.from_dict(json.loads(old_json)) == GHNConfig()  # old checkpoints load to equal configs
    assert list(GHN().state_dict()) == GHN1_KEYS
    from nasearch.proxies.ghn import default_checkpoint

    shipped = torch.load(default_checkpoint(), map_location="cpu", weights_only=True)
    assert shipped["config"] == old_json and list(shipped["model"]) == GHN1_KEYS

    # an option away from its default is written, and read back
    one = GHNConfig(layernorm=True)
    assert json.loads(one.to_json())["layernorm"] is True
    assert not {"norm", "virtual_edges"} & set(json.loads(one.to_json()))
    assert GHNConfig.from_dict(json.loads(TINY2.to_json())) == TINY2
    assert TINY2.digest() != GHNConfig(**{**TINY2.__dict__, "norm": "fan_in"}).digest()


def test_ghn2_modules_are_extra_and_ghn1_modules_initialise_as_before():
    torch.manual_seed(0)
    ghn1 = GHN(GHNConfig(T=1))
    torch.manual_seed(0)
    ghn2 = GHN(GHNConfig(T=1, norm="ghn2", layernorm=True, virtual_edges=50))
    sd1, sd2 = ghn1.state_dict(), ghn2.state_dict()
    assert list(sd2)[: len(GHN1_KEYS)] == GHN1_KEYS
    assert {k.split(".")[0] for k in list(sd2)[len(GHN1_KEYS) :]} == {
        "vmsg_fwd",
        "vmsg_bwd",
        "ln",
        "hyper_1d",
    }
    for k in GHN1_KEYS:
        assert torch.equal(sd1[k], sd2[k]), k
    assert sd2["hyper_1d.2.weight"].shape == (2 * 32, 64)  # 2 x block_out values per node


def test_bad_config_values_are_refused_naming_the_value():
    with pytest.raises(
        GHNConfigError, match=r"ghn.norm must be one of fan_in, ghn2.*got 'ghn3'; did you mean 'ghn2'"
    ):
        GHNConfig(norm="ghn3")
    with pytest.raises(GHNConfigError, match=r"ghn.virtual_edges must be an integer >= 0.*got -1"):
        GHNConfig(virtual_edges=-1)
    with pytest.raises(GHNConfigError, match=r"ghn.virtual_edges .*got True"):
        GHNConfig(virtual_edges=True)
    with pytest.raises(GHNConfigError, match=r"ghn.layernorm must be true or false, got 'yes'"):
        GHNConfig(layernorm="yes")  # type: ignore[arg-type]
    # a checkpoint whose config holds a bad value is refused as a checkpoint error naming it
    assert issubclass(GHNConfigError, ValueError)

    def settings(**kw) -> TrainSettings:
        return TrainSettings(**{"space": "nb201", "holdout": 100, "rho_images": 64, **kw})

    for kw, pattern in (
        ({"weight_decay": -1e-5}, r"ghn.weight_decay must be a number >= 0.*got -1e-05"),
        ({"weight_decay": math.nan}, r"ghn.weight_decay must be a number >= 0"),
        ({"rho_cells": 1}, r"ghn.rho_cells must be 0 .* or an integer >= 2.*got 1"),
        ({"rho_cells": -3}, r"ghn.rho_cells must be 0 .*got -3"),
        ({"rho_every": 0}, r"ghn.rho_every must be an integer >= 1, got 0"),
        ({"rho_images": 0}, r"ghn.rho_images must be an integer >= 1, got 0"),
        ({"rho_cells": 4, "rho_images": 101}, r"ghn.rho_images=101 is more than the 100 held-out images"),
        ({"rho_cells": 8000}, r"ghn.rho_cells=8000 is more than half of space 'nb201'.*15625.*at most 7812"),
    ):
        with pytest.raises(GHNCheckpointError, match=pattern):
            settings(**kw).check()
    settings(rho_cells=4, rho_images=100, weight_decay=1e-5).check()  # the limits themselves pass


def test_task_config_refuses_bad_values_and_passes_good_ones():
    import nasearch.api as nas
    from nasearch.config import ConfigError
    from nasearch.experiments.train_ghn import GHNTrainConf, settings_from_conf

    for override, pattern in (
        ("ghn.norm=GHN2", r"ghn.norm must be one of fan_in, ghn2.*got 'GHN2'; did you mean 'ghn2'"),
        ("ghn.virtual_edges=-1", r"ghn.virtual_edges must be an integer >= 0"),
        ("ghn.weight_decay=-0.1", r"ghn.weight_decay must be a number >= 0"),
        ("ghn.rho_cells=1", r"ghn.rho_cells must be 0"),
        ("ghn.rho_every=0", r"ghn.rho_every must be an integer >= 1"),
        ("ghn.rho_images=0", r"ghn.rho_images must be an integer >= 1"),
    ):
        with pytest.raises(ConfigError, match=pattern):
            nas.config("task=train_ghn", override)
    cfg = nas.config(
        "task=train_ghn",
        "ghn.cells=8",
        "ghn.T=1",
        "ghn.norm=ghn2",
        "ghn.layernorm=true",
        "ghn.virtual_edges=50",
        "ghn.weight_decay=1e-5",
        "ghn.rho_cells=200",
        "ghn.rho_every=100",
        "ghn.rho_images=256",
    )
    got = settings_from_conf(cfg.ghn, space=cfg.space().name)
    assert got.model == GHNConfig(T=1, norm="ghn2", layernorm=True, virtual_edges=50)
    assert (got.cells_per_step, got.weight_decay, got.rho_cells, got.rho_every, got.rho_images) == (
        8,
        1e-5,
        200,
        100,
        256,
    )
    # every library setting has its task key (cells is cells_per_step; block sizes and vocab are fixed)
    task_keys = set(GHNTrainConf.__dataclass_fields__)
    lib = set(TrainSettings.__dataclass_fields__) - {"model", "space", "cells_per_step", "dataset"}
    lib |= set(GHNConfig.__dataclass_fields__) - {"block_out", "block_in", "vocab"}
    assert lib <= task_keys, lib - task_keys


def test_run_folders_recorded_before_the_new_keys_still_resume():
    import nasearch.api as nas
    from nasearch.runfolder import ADDED_LATER, differences, fingerprint

    new = ("norm", "layernorm", "virtual_edges", "weight_decay", "rho_cells", "rho_every", "rho_images")
    cfg = nas.config("task=train_ghn")
    fp = fingerprint(cfg)
    for k in new:
        assert fp[f"ghn.{k}"] == ADDED_LATER[f"ghn.{k}"], k  # the recorded default is the library's
    old = {k: v for k, v in fp.items() if not k.startswith(tuple(f"ghn.{k}" for k in new))}
    assert len(old) == len(fp) - len(new)
    assert differences(old, fp) == []
    fp2 = fingerprint(nas.config("task=train_ghn", "ghn.norm=ghn2"))
    assert differences(old, fp2) == ["ghn.norm: 'fan_in' in the folder, 'ghn2' in this run"]


# ---------------------------------------------------------------------------------------------- normalisation
def test_ghn2_weights_are_scaled_by_sqrt_beta_over_fan_in():
    torch.manual_seed(0)
    ghn = GHN(TINY2)
    targets = [nb201_target(ALL_CONV3), macro_target()]
    batch = ghn.batch_of(targets)
    with torch.no_grad():
        params = ghn(batch)
        h = ghn.ln(ghn.embed_nodes(batch))
    off, betas, tiled = 0, set(), 0
    for t, p in zip(targets, params):
        mods = dict(t.net.named_modules())
        for i, nd in enumerate(t.graph.nodes):
            for name, shape in zip(nd.params, nd.shapes):
                m = mods[name.rsplit(".", 1)[0]]
                if isinstance(m, nn.Conv2d):
                    fan_in = m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
                    beta = 1.0 if m.groups > 1 and m.groups == m.in_channels else 2.0
                else:
                    fan_in, beta = m.in_features, 2.0
                betas.add(beta)
                with torch.no_grad():
                    raw = ghn.decode_raw(ghn.hyper(h[off + i : off + i + 1]), shape)[0]
                torch.testing.assert_close(p[name], raw * math.sqrt(beta / fan_in), rtol=1e-5, atol=1e-7)
                if shape[0] >= 16:  # more output channels than the block: tiled
                    torch.testing.assert_close(raw[8:16], raw[:8], rtol=0, atol=0)
                    tiled += 1
        off += t.graph.num_nodes
    assert betas == {1.0, 2.0} and tiled > 0
    # GHN-1's normalisation: 1/sqrt(fan_in), nothing else generated
    torch.manual_seed(0)
    ghn1 = GHN(GHNConfig(hidden=8, message_hidden=8, hyper_hidden=8, T=1, block_out=8, block_in=8))
    t = targets[0]
    b1 = ghn1.batch_of([t])
    assert b1.vectors is None and b1.virtual_edges == 0
    with torch.no_grad():
        p1 = ghn1(b1)[0]
        h1 = ghn1.embed_nodes(b1)
    stem = t.graph.nodes[1]
    assert stem.params == ("stem.0.weight",)
    raw = ghn1.decode_raw(ghn1.hyper(h1[1:2]), stem.shapes[0])[0]
    torch.testing.assert_close(p1["stem.0.weight"], raw / math.sqrt(3 * 9), rtol=1e-5, atol=1e-7)
    assert set(p1) == {n for nd in t.graph.nodes for n in nd.params}


def test_ghn2_generates_every_bn_affine_and_bias_in_range():
    torch.manual_seed(0)
    ghn = GHN(TINY2)
    targets = [nb201_target(ALL_CONV3), nb201_target(MIXED), macro_target()]
    batch = ghn.batch_of(targets)
    params = ghn(batch)
    with torch.no_grad():
        h = ghn.ln(ghn.embed_nodes(batch))
    off = 0
    for gi, (t, p) in enumerate(zip(targets, params)):
        mods = dict(t.net.named_modules())
        named = dict(t.net.named_parameters())
        bn = {n for n in named if isinstance(mods[n.rsplit(".", 1)[0]], nn.BatchNorm2d)}
        alive = {m for nd in t.graph.nodes for m in nd.modules}
        # every BN affine of a module in the graph, and only parameters the network has
        assert {n for n in bn if n.rsplit(".", 1)[0] in alive} <= set(p) <= set(named)
        for name, w in p.items():
            assert w.shape == named[name].shape, name
        if gi != 1:  # the all-conv NB201 cell and the macro network have no dead operation
            assert set(p) == set(named)
        assert "classifier.bias" in p or "classifier.bias" not in named
        if gi < 2:  # NB201's final BN is a standalone bn node: generated from its own embedding
            (i,) = [i for i, nd in enumerate(t.graph.nodes) if nd.type_name == "bn"]
            assert [e[:2] for e in t.vectors[i]] == [
                ("lastact.0.weight", "weight"),
                ("lastact.0.bias", "bias"),
            ]
        for i, own in enumerate(t.vectors):
            out = ghn.hyper_1d(h[off + i : off + i + 1])[0].detach()
            for name, kind, size in own:
                half = out[:8] if kind == "weight" else out[8:]
                raw = half.repeat(math.ceil(size / 8))[:size]
                want = 2 * torch.sigmoid(0.5 * raw) if kind == "weight" else torch.tanh(0.2 * raw)
                torch.testing.assert_close(p[name].detach(), want, rtol=1e-5, atol=1e-7)
                if kind == "weight":
                    assert name in bn and bool(((p[name] > 0) & (p[name] < 2)).all()), name
                else:
                    assert bool(((p[name] > -1) & (p[name] < 1)).all()), name
        off += t.graph.num_nodes
    # the generated affines are used (not the fixed 1 / 0) and they train
    x, y = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(1)), torch.tensor([0, 1, 2, 3])
    t, p = targets[0], params[0]
    weights_only = {n: v for n, v in p.items() if n in {w for nd in t.graph.nodes for w in nd.params}}
    assert not torch.allclose(t(p, x), t(weights_only, x))
    nn.functional.cross_entropy(t(p, x), y).backward()
    assert all(q.grad is not None and q.grad.abs().sum() > 0 for q in ghn.hyper_1d.parameters())
    assert ghn.ln.weight.grad is not None and ghn.vmsg_fwd[0].weight.grad is not None
    with pytest.raises(ValueError, match="norm='ghn2' generates BN affines"):
        ghn(GraphBatch.of([t.graph], virtual_edges=50))
    with pytest.raises(ValueError, match="virtual edges up to distance 0 but this GHN .* virtual_edges=50"):
        ghn(GraphBatch.of([t.graph], vectors=[t.vectors]))


# ---------------------------------------------------------------------------------------------- virtual edges
def small_graph() -> OpGraph:
    """0 -> 1 -> 2 -> 3 -> 4 plus the shortcut 0 -> 3: shortest paths 0->2: 2, 0->3: 1 (the edge),
    0->4: 2, 1->3: 2, 1->4: 3, 2->4: 2."""
    types = ["input", "conv3x3", "conv3x3", "add", "output"]
    nodes = tuple(OpNode(TYPE_INDEX[k], f"n{i}") for i, k in enumerate(types))
    return OpGraph(nodes, ((0, 1), (1, 2), (0, 3), (2, 3), (3, 4)))


def test_virtual_edges_of_a_hand_checked_graph():
    g = small_graph()
    assert shortest_path_pairs(g, 1).tolist() == []
    assert shortest_path_pairs(g, 2).tolist() == [[0, 2, 2], [1, 3, 2], [0, 4, 2], [2, 4, 2]]
    assert shortest_path_pairs(g, 50).tolist() == [[0, 2, 2], [1, 3, 2], [0, 4, 2], [1, 4, 3], [2, 4, 2]]
    b = GraphBatch.of([g], virtual_edges=3)

    def table(levels, vlevels):
        out = {}
        for (nodes, _, _), (src, pos, scale) in zip(levels, vlevels):
            for s, q, c in zip(src.tolist(), pos.tolist(), scale.tolist()):
                out.setdefault(nodes[q].item(), []).append((s, round(1 / c)))
        return out

    # forward: a node hears its ancestors at distance 2..3, scaled 1/s
    assert [lv[0].tolist() for lv in b.fwd] == [[1], [2], [3], [4]]
    assert table(b.fwd, b.vfwd) == {2: [(0, 2)], 3: [(1, 2)], 4: [(0, 2), (1, 3), (2, 2)]}
    # backward: its descendants
    assert [lv[0].tolist() for lv in b.bwd] == [[3], [2], [1], [0]]
    assert table(b.bwd, b.vbwd) == {2: [(4, 2)], 1: [(3, 2), (4, 3)], 0: [(2, 2), (4, 2)]}
    # s_max = 2 drops the distance-3 pair 1 -> 4
    b2 = GraphBatch.of([g], virtual_edges=2)
    assert table(b2.fwd, b2.vfwd)[4] == [(0, 2), (2, 2)]
    assert b2.vfwd[2][2].tolist() == [0.5]


def reference_embedding(ghn: GHN, g: OpGraph) -> torch.Tensor:
    """Eq. 4 written node by node: m_v = sum_pred M(h_u) + sum_virtual M_sp(h_u) / s, in topological
    order (forward) and reverse (backward), T times."""
    s_max = ghn.config.virtual_edges
    pred = g.predecessors()
    succ: list[list[int]] = [[] for _ in g.nodes]
    for a, b in g.edges:
        succ[a].append(b)
    pairs = shortest_path_pairs(g, s_max).tolist()
    h = [row for row in ghn.embed(g.types())]
    for _ in range(ghn.config.T):
        for direction, order, nbrs, msg, vmsg, gru in (
            ("fwd", range(g.num_nodes), pred, ghn.msg_fwd, ghn.vmsg_fwd, ghn.gru_fwd),
            ("bwd", reversed(range(g.num_nodes)), succ, ghn.msg_bwd, ghn.vmsg_bwd, ghn.gru_bwd),
        ):
            for v in order:
                if not nbrs[v]:
                    continue
                m = sum(msg(h[u]) for u in nbrs[v])
                far = (
                    [(u, s) for u, w, s in pairs if w == v]
                    if direction == "fwd"
                    else [(w, s) for u, w, s in pairs if u == v]
                )
                for u, s in far:
                    m = m + vmsg(h[u]) / s
                h[v] = gru(m.unsqueeze(0), h[v].unsqueeze(0))[0]
    return torch.stack(h)


def test_virtual_edge_sweep_equals_the_node_by_node_equation():
    torch.manual_seed(0)
    ghn = GHN(
        GHNConfig(hidden=8, message_hidden=8, hyper_hidden=8, T=2, block_out=8, block_in=8, virtual_edges=3)
    )
    g = small_graph()
    with torch.no_grad():
        torch.testing.assert_close(
            ghn.embed_nodes(GraphBatch.of([g], virtual_edges=3)),
            reference_embedding(ghn, g),
            rtol=1e-5,
            atol=1e-6,
        )
        # a real network, and batching: each graph of a batch embeds as alone
        real = nb201_target(MIXED).graph
        torch.testing.assert_close(
            ghn.embed_nodes(GraphBatch.of([real], virtual_edges=3)),
            reference_embedding(ghn, real),
            rtol=1e-5,
            atol=1e-6,
        )
        both = ghn.embed_nodes(GraphBatch.of([g, real], virtual_edges=3))
        torch.testing.assert_close(
            both[g.num_nodes :], ghn.embed_nodes(GraphBatch.of([real], virtual_edges=3))
        )
        # virtual edges change the embedding (the virtual MLP is read)
        plain = GHN(GHNConfig(hidden=8, message_hidden=8, hyper_hidden=8, T=2, block_out=8, block_in=8))
        plain.load_state_dict({k: v for k, v in ghn.state_dict().items() if not k.startswith("vmsg")})
        assert not torch.allclose(plain.embed_nodes(GraphBatch.of([real])), both[g.num_nodes :])


# ---------------------------------------------------------------------------------------------- training
def test_rho_cells_are_fixed_distinct_and_never_drawn_for_training(monkeypatch: pytest.MonkeyPatch):
    import nasearch.predictors.ghn_train as gt

    space = get_space("nb201")
    held = rho_archs(7000, space)  # nearly half the space: an unexcluded draw would hit it half the time
    assert len(set(held)) == 7000 and not any(space.is_trivial(a) for a in held)
    assert rho_archs(5, space) == held[:5]  # fixed, and a prefix of a larger draw
    rng = np.random.default_rng(0)
    draws = [sample_arch(space, rng, frozenset(held)) for _ in range(100)]
    assert not set(draws) & set(held)
    # nothing excluded: the draws of the sampler before exclusion existed
    plain, empty = np.random.default_rng(1), np.random.default_rng(1)
    assert [sample_arch(space, plain) for _ in range(20)] == [
        sample_arch(space, empty, frozenset()) for _ in range(20)
    ]

    # the trainer's draws (every architecture it builds a training network for) avoid them too
    drawn = []

    class Recording(gt.TargetCache):
        def get(self, key):
            drawn.append(key)
            return super().get(key)

    monkeypatch.setattr(gt, "TargetCache", Recording)
    x = torch.zeros(16, 3, 32, 32)
    y = torch.zeros(16, dtype=torch.int64)
    settings = TrainSettings(
        steps=5,
        batch=2,
        cells_per_step=8,
        every=5,
        eval_cells=1,
        eval_images=2,
        rho_cells=7000,
        rho_images=4,
        model=GHNConfig(
            hidden=4, message_hidden=4, hyper_hidden=4, T=1, block_out=4, block_in=4, norm="ghn2"
        ),
        space="nb201",
    )
    train_ghn(
        settings,
        Path("/nonexistent/never-written.pt"),
        progress=False,
        data=(x, y, x[:8], y[:8]),
        stop_after=3,
    )
    assert len(drawn) == 24 and not set(drawn) & set(held)


def real_data(n_train: int = 64, holdout: int = 64):
    """Real CIFAR-10: the shared split with ``holdout`` held-out images (the ones the proxy reads), a
    few of its training images."""
    tr_x, tr_y, va_x, va_y = split_images("cifar10", holdout, 0)
    return tr_x[:n_train], tr_y[:n_train], va_x, va_y


def ghn2_settings(**kw) -> TrainSettings:
    base = dict(
        steps=4,
        batch=4,
        cells_per_step=2,
        lr=1e-2,
        seed=5,
        every=3,
        eval_cells=1,
        eval_images=8,
        holdout=64,
        weight_decay=1e-5,
        rho_cells=4,
        rho_every=2,
        rho_images=16,
        model=TINY2,
        space="nb201",
    )
    base.update(kw)
    return TrainSettings(**base)


def test_rho_rows_match_the_ghn_proxy_and_the_benchmark(tmp_path: Path, cifar10_root: Path):
    """The rho the trainer records is the Spearman rho of the ``ghn`` proxy's scores (loaded from the
    best export: a GHN-2 checkpoint) against the benchmark's test accuracy."""
    from scipy.stats import kendalltau, spearmanr

    from nasearch.benchmarks import make_benchmark
    from nasearch.scoring import score_cells

    data = real_data()
    ck = train_ghn(ghn2_settings(steps=2, every=2), tmp_path / "g.pt", progress=False, data=data)
    obj = load_checkpoint(ck)
    rho_rows = obj["rho_history"]
    assert rho_rows.shape == (1, 5) and rho_rows[0, 0] == 2
    best = load_checkpoint(best_path(ck))
    assert (
        best_path(ck) == tmp_path / "g.best.pt" and best["step"] == 2 and best["rho"] == rho_rows[0, 1].item()
    )
    assert "optim" not in best and best["config"] == TINY2
    lines = (tmp_path / "g.pt.rho.csv").read_text().splitlines()
    assert lines[0] == "step,rho,tau,mean_acc,seconds" and lines[1].startswith("2,")

    space = get_space("nb201")
    cells = rho_archs(4, space)
    scores = score_cells(cells, "ghn", "cifar10", checkpoint=str(best_path(ck)), batch_size=16, num_batches=1,
                         seed=0, progress=False, space="nb201")  # fmt: skip
    acc = make_benchmark("nb201").column("cifar10", "test_acc")[[a.index for a in cells]]
    assert benchmark_accuracy(space, "cifar10", cells)[1].tolist() == acc.tolist()
    assert np.all(np.isfinite(scores)) and len(set(scores.tolist())) == 4
    assert rho_rows[0, 1].item() == pytest.approx(spearmanr(scores, acc).statistic, abs=1e-12)
    assert rho_rows[0, 2].item() == pytest.approx(kendalltau(scores, acc).statistic, abs=1e-12)
    assert rho_rows[0, 3].item() == pytest.approx(
        np.mean(np.floor(scores * 16 / 100 + 0.5) * 100 / 16), abs=1e-9
    )


def test_rho_needs_a_benchmark_of_the_space():
    with pytest.raises(GHNCheckpointError, match=r"benchmark 'nasbench_macro' .* has no cifar100 accuracies"):
        benchmark_accuracy("nasbench_macro", "cifar100", rho_archs(2, "nasbench_macro"))
