"""Graph HyperNetwork: operation graphs, batching, generated weights, training, checkpoints, the proxy."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from nasearch.predictors.ghn import GHN, GHNConfig, GraphBatch, Target
from nasearch.predictors.ghn_train import (
    GHNCheckpointError,
    TrainSettings,
    export_model,
    load_checkpoint,
    load_model,
    train_ghn,
)
from nasearch.space.graph import NODE_TYPES, op_graph
from nasearch.space.nb201.arch import Arch
from nasearch.space.nb201.networks import build_network

ALL_CONV3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
ONLY_SKIP = "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
MIXED = "|avg_pool_3x3~0|+|nor_conv_1x1~0|none~1|+|none~0|skip_connect~1|nor_conv_3x3~2|"
DEAD_CONVS = "|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|none~1|none~2|"
TINY = GHNConfig(hidden=8, message_hidden=8, hyper_hidden=8, T=1, block_out=8, block_in=8)


def graph(arch: str):
    return op_graph(build_network(arch, generator=torch.Generator().manual_seed(0)))


# ---------------------------------------------------------------------------------------------- graphs
def test_graph_of_all_conv_cell():
    g = graph(ALL_CONV3)
    counts = g.type_counts()
    # stem + 15 cells x 6 convs + 2 reduction 3x3 (stride 1 half) = 93 3x3 convs, 2 stride-2 convs
    assert counts["conv3x3"] == 1 + 15 * 6 + 2
    assert counts["conv3x3_stride2"] == 2 and counts["conv1x1"] == 2  # reduction shortcuts
    # per cell: node 2 sums 2 inputs, node 3 sums 3 (one add node each); 2 reduction adds
    assert counts["add"] == 15 * 2 + 2
    assert counts["input"] == counts["output"] == counts["linear"] == counts["global_avgpool"] == 1
    assert "relu" in counts and counts["relu"] == 1 and counts["bn"] == 1  # the final BN-ReLU only
    assert g.num_nodes == sum(counts.values())
    assert all(s < d for s, d in g.edges)
    assert list(g.edges) == sorted(g.edges, key=lambda e: (e[1], e[0]))
    assert g.one_hot().shape == (g.num_nodes, len(NODE_TYPES))


def test_none_edges_are_absent_and_skips_are_edges():
    g = graph(ONLY_SKIP)  # every cell is the identity: stem, 2 reductions, head
    assert g.type_counts() == {
        "input": 1, "conv3x3": 3, "conv3x3_stride2": 2, "conv1x1": 2, "avgpool2x2_stride2": 2, "add": 2,
        "bn": 1, "relu": 1, "global_avgpool": 1, "linear": 1, "output": 1,
    }
    assert not any(".edges." in n.name for n in g.nodes)
    m = graph(MIXED)
    names = [n.name for n in m.nodes]
    for c in range(17):
        assert f"cells.{c}.edges.2" not in names and f"cells.{c}.edges.3" not in names  # none
        assert f"cells.{c}.edges.4" not in names  # skip: an edge
    # convs whose output only reaches `none` edges are dropped (they never reach the output)
    d = graph(DEAD_CONVS)
    assert not any(n.name.endswith(("edges.0.1", "edges.1.1")) for n in d.nodes)
    assert d.type_counts().get("conv1x1") == 2


def test_graph_params_match_the_module():
    net = build_network(MIXED, generator=torch.Generator().manual_seed(0))
    g = op_graph(net)
    params = dict(net.named_parameters())
    for n in g.nodes:
        for name, shape in zip(n.params, n.shapes):
            assert tuple(params[name].shape) == shape
    assert {p for n in g.nodes for p in n.params} >= {"stem.0.weight", "classifier.weight"}


def test_batch_propagation_equals_single_graphs():
    torch.manual_seed(0)
    ghn = GHN(replace(TINY, T=2))
    gs = [graph(ALL_CONV3), graph(MIXED), graph(ONLY_SKIP)]
    batch = GraphBatch.of(gs)
    h = ghn.embed_nodes(batch)
    off = 0
    for g in gs:
        alone = ghn.embed_nodes(GraphBatch.of([g]))
        torch.testing.assert_close(h[off : off + g.num_nodes], alone, rtol=1e-5, atol=1e-6)
        off += g.num_nodes
    # levels: every node's predecessors are in earlier levels
    level = {}
    for lv, (nodes, _, _) in enumerate(batch.fwd, start=1):
        for v in nodes.tolist():
            level[v] = lv
    offs = np.cumsum([0] + [g.num_nodes for g in gs])
    for gi, g in enumerate(gs):
        for s, d in g.edges:
            assert level.get(s + offs[gi], 0) < level[d + offs[gi]]


def test_generated_weights_fit_and_functional_call_runs():
    torch.manual_seed(0)
    ghn = GHN(TINY)
    targets = [Target(build_network(a, generator=torch.Generator().manual_seed(0))) for a in (ALL_CONV3, MIXED)]
    params = ghn(GraphBatch.of([t.graph for t in targets]))
    x = torch.randn(4, 3, 32, 32)
    total = 0
    for t, p in zip(targets, params):
        own = dict(t.net.named_parameters())
        assert set(p) == {n for nd in t.graph.nodes for n in nd.params}
        for name, w in p.items():
            assert w.shape == own[name].shape, name
        before = {k: v.clone() for k, v in t.net.state_dict().items()}
        out = t(p, x)
        assert out.shape == (4, 10) and torch.isfinite(out).all()
        for k, v in t.net.state_dict().items():  # the module itself is untouched
            assert torch.equal(v, before[k])
        total = total + out.sum()
    total.backward()
    assert all(q.grad is not None for q in ghn.hyper.parameters())


def test_a_few_steps_reduce_the_loss_on_a_fixed_batch():
    torch.manual_seed(0)
    ghn = GHN(TINY)
    t = Target(build_network(MIXED, generator=torch.Generator().manual_seed(0)))
    g = torch.Generator().manual_seed(1)
    # a learnable task: class 1 images are brighter (16x16 images: the network pools globally)
    y = torch.arange(16) % 2
    x = torch.randn(16, 3, 16, 16, generator=g) + 1.5 * y.view(-1, 1, 1, 1)
    opt = torch.optim.Adam(ghn.parameters(), lr=1e-2)
    batch = GraphBatch.of([t.graph])
    losses = []
    for _ in range(10):
        loss = torch.nn.functional.cross_entropy(t(ghn(batch)[0], x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0] - 0.3, losses


# ---------------------------------------------------------------------------------------------- training
def synthetic_data(n: int = 48):
    g = torch.Generator().manual_seed(3)
    x, y = torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g)
    return x[:32], y[:32], x[32:], y[32:]


def tiny_settings(**kw) -> TrainSettings:
    base = dict(steps=4, batch=4, cells_per_step=2, lr=1e-2, seed=5, every=2, eval_cells=1, eval_images=4, model=TINY,
                space="nb201")
    base.update(kw)
    return TrainSettings(**base)


def ghn2_rho_settings(**kw) -> TrainSettings:
    """GHN-2-style training (meta-batch, GHN-2's normalisation, layer norm, virtual edges, weight
    decay) with rho on 4 held-out cells every 2 steps, checkpoints every 3 (rho steps are checkpoints)."""
    base = dict(model=replace(TINY, norm="ghn2", layernorm=True, virtual_edges=50), weight_decay=1e-5,
                rho_cells=4, rho_every=2, rho_images=8, every=3)
    base.update(kw)
    return tiny_settings(**base)


@pytest.mark.parametrize("ghn2", [False, True], ids=["ghn1", "ghn2_rho"])
def test_killed_training_resumes_bitwise(tmp_path: Path, ghn2: bool, request):
    if ghn2:  # real images (the rho cells are ranked against the benchmark's accuracy)
        from nasearch.predictors.ghn_train import best_path, split_images

        request.getfixturevalue("cifar10_root")
        tr_x, tr_y, va_x, va_y = split_images("cifar10", 2000, 0)
        data, settings = (tr_x[:32], tr_y[:32], va_x[:16], va_y[:16]), ghn2_rho_settings
    else:
        data, settings = synthetic_data(), tiny_settings
    full = train_ghn(settings(), tmp_path / "full.pt", progress=False, data=data)
    part = tmp_path / "part.pt"
    train_ghn(settings(), part, progress=False, data=data, stop_after=3)  # killed after step 3
    assert load_checkpoint(part)["step"] == (3 if ghn2 else 2)  # the last checkpoint before the kill
    train_ghn(settings(), part, progress=False, data=data)  # resumed
    a, b = load_checkpoint(full), load_checkpoint(part)
    assert a["step"] == b["step"] == 4
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    assert a["rng"] == b["rng"]
    sa, sb = a["optim"]["state"], b["optim"]["state"]
    assert all(torch.equal(sa[i]["exp_avg"], sb[i]["exp_avg"]) for i in sa)
    assert torch.equal(a["history"][:, :4], b["history"][:, :4])  # all but wall seconds
    assert (tmp_path / "full.pt.csv").read_text().splitlines()[0].startswith("step,train_loss")
    if ghn2:
        assert a["history"][:, 0].tolist() == [2, 3, 4]  # every 3, rho every 2, the end
        assert a["rho_history"][:, 0].tolist() == [2, 4] and torch.isfinite(a["rho_history"][:, 1:4]).all()
        assert torch.equal(a["rho_history"][:, :4], b["rho_history"][:, :4])  # all but the evaluation's seconds
        assert (tmp_path / "part.pt.rho.csv").read_text().splitlines()[0] == "step,rho,tau,mean_acc,seconds"
        ba, bb = load_checkpoint(best_path(full)), load_checkpoint(best_path(part))
        assert ba["step"] == bb["step"] and ba["rho"] == bb["rho"] == a["rho_history"][:, 1].max().item()
        assert ba["tau"] == bb["tau"] and torch.equal(ba["rho_history"][:, :4], bb["rho_history"][:, :4])
        assert ba["step"] == int(a["rho_history"][a["rho_history"][:, 1].argmax(), 0])
        for k in ba["model"]:
            assert torch.equal(ba["model"][k], bb["model"][k]), k
        assert a["config"] == ba["config"] and a["train"]["weight_decay"] == 1e-5 and a["train"]["rho_cells"] == 4
        with pytest.raises(GHNCheckpointError, match=r"rho_cells: checkpoint 4, this run 5"):
            train_ghn(settings(steps=6, rho_cells=5), part, progress=False, data=data)
        with pytest.raises(GHNCheckpointError, match=r"weight_decay: checkpoint 1e-05, this run 0.0"):
            train_ghn(settings(steps=6, weight_decay=0.0), part, progress=False, data=data)
    # a longer run continues from the checkpoint (rho_every / rho_images are logging-only)
    train_ghn(settings(steps=6, **({"rho_every": 3} if ghn2 else {})), part, progress=False, data=data)
    assert load_checkpoint(part)["step"] == 6
    if ghn2:
        assert load_checkpoint(part)["rho_history"][:, 0].tolist() == [2, 4, 6]


def test_bad_checkpoints_fail_clearly(tmp_path: Path):
    data = synthetic_data()
    ck = train_ghn(tiny_settings(steps=2), tmp_path / "g.pt", progress=False, data=data)
    with pytest.raises(GHNCheckpointError, match=r"another GHN configuration.*T: checkpoint 1, this run 2"):
        train_ghn(tiny_settings(steps=3, model=replace(TINY, T=2)), ck, progress=False, data=data)
    with pytest.raises(GHNCheckpointError, match=r"other training settings.*lr: checkpoint 0.01, this run 0.001"):
        train_ghn(tiny_settings(steps=3, lr=1e-3), ck, progress=False, data=data)
    with pytest.raises(GHNCheckpointError, match="another GHN configuration"):
        load_model(ck, expect=GHNConfig())
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(GHNCheckpointError, match=f"{bad}.*cannot be read"):
        load_checkpoint(bad)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(ck.read_bytes()[:2000])
    with pytest.raises(GHNCheckpointError, match=f"{cut}.*corrupted"):
        load_checkpoint(cut)
    other = tmp_path / "other.pt"
    torch.save({"format": "something-else", "model": {}}, other)
    with pytest.raises(GHNCheckpointError, match="not a nasearch GHN checkpoint"):
        load_checkpoint(other)
    with pytest.raises(GHNCheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")
    exported = export_model(ck, tmp_path / "model.pt")
    with pytest.raises(GHNCheckpointError, match="model-only"):
        train_ghn(tiny_settings(steps=3), exported, progress=False, data=data)


def test_ghn_trains_on_another_space_from_the_space_interface(tmp_path: Path):
    """NAS-Bench-Macro: architectures, networks and graphs from the space; kill + resume is bitwise."""
    from nasearch.predictors.ghn_train import eval_archs
    from nasearch.space import get_space

    macro = get_space("nasbench_macro")
    archs = eval_archs(3, macro)
    assert all(isinstance(a, macro.Arch) and not macro.is_trivial(a) for a in archs)
    assert eval_archs(3, macro) == archs  # fixed
    data = synthetic_data()
    kw = dict(space="nasbench_macro", cells_per_step=1, steps=3, every=1)
    full = train_ghn(tiny_settings(**kw), tmp_path / "full.pt", progress=False, data=data)
    part = tmp_path / "part.pt"
    train_ghn(tiny_settings(**kw), part, progress=False, data=data, stop_after=2)
    train_ghn(tiny_settings(**kw), part, progress=False, data=data)
    a, b = load_checkpoint(full), load_checkpoint(part)
    assert a["train"]["space"] == "nasbench_macro" and a["step"] == b["step"] == 3
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    # an NB201 checkpoint is not resumed as a NAS-Bench-Macro run, and the reverse
    with pytest.raises(GHNCheckpointError, match=r"space: checkpoint 'nasbench_macro', this run 'nb201'"):
        train_ghn(tiny_settings(cells_per_step=1, steps=4, every=1), full, progress=False, data=data)


def test_checkpoints_written_before_the_space_key_resume_as_nb201(tmp_path: Path):
    import json

    from nasearch.predictors.ghn_train import sample_arch
    from nasearch.space import get_space
    from nasearch.space.nb201.arch import NUM_ARCHS

    # NB201's draws through the space interface are the draws of the NB201-only code they replaced
    old, new = np.random.default_rng(7), np.random.default_rng(7)
    for _ in range(50):
        while not (a := Arch.from_index(int(old.integers(NUM_ARCHS)))).is_connected():
            pass
        assert sample_arch(get_space("nb201"), new) == a

    data = synthetic_data()
    ck = train_ghn(tiny_settings(steps=2), tmp_path / "g.pt", progress=False, data=data)
    obj = torch.load(ck, weights_only=True)
    train = json.loads(obj["train"])
    assert train.pop("space") == "nb201"
    obj["train"] = json.dumps(train, sort_keys=True)  # as written before the search-space interface
    torch.save(obj, ck)
    train_ghn(tiny_settings(steps=4), ck, progress=False, data=data)
    assert load_checkpoint(ck)["step"] == 4
    with pytest.raises(GHNCheckpointError, match=r"space: checkpoint 'nb201', this run 'nasbench_macro'"):
        train_ghn(tiny_settings(steps=6, space="nasbench_macro"), ck, progress=False, data=data)


def test_training_on_a_space_without_cifar10_networks_is_refused():
    with pytest.raises(GHNCheckpointError, match=r"space 'transnas101_micro' has no cifar10 networks.*class_scene"):
        tiny_settings(space="transnas101_micro").check()
    with pytest.raises(GHNCheckpointError, match=r"nb301"):
        tiny_settings(space="nb301").check()


def test_train_ghn_task_takes_the_space_of_the_benchmark():
    import nasearch.api as nas
    from nasearch.experiments.train_ghn import settings_from_conf

    cfg = nas.config("task=train_ghn", "benchmark=nasbench_macro")
    assert settings_from_conf(cfg.ghn, space=cfg.space().name).space == "nasbench_macro"
    cfg = nas.config("task=train_ghn")
    assert settings_from_conf(cfg.ghn, space=cfg.space().name).space == "nb201"


def test_shipped_checkpoint_loads():
    from nasearch.proxies.ghn import default_checkpoint

    path = default_checkpoint()
    ghn, ck = load_model(path)
    assert ck["config"] == GHNConfig()  # the paper's sizes
    assert path.stat().st_size < 5_000_000
    assert "optim" not in ck and ck["step"] >= 1


# ---------------------------------------------------------------------------------------------- the proxy
def test_proxy_through_score_cells_and_the_store(tmp_path: Path, cifar10_root: Path):
    from nasearch.proxies import get_proxy
    from nasearch.proxies.registry import ProxyError
    from nasearch.scoring import score_cells, score_key
    from nasearch.scoring.store import ScoreStore

    x = torch.zeros(8, 3, 32, 32)
    y = torch.zeros(8, dtype=torch.int64)
    settings = tiny_settings(steps=1, holdout=100)
    ck = train_ghn(settings, tmp_path / "g.pt", progress=False, data=(x, y, x[:4], y[:4]))
    model = export_model(ck, tmp_path / "m.pt")
    cells = [Arch.parse(MIXED), Arch.parse(ALL_CONV3), Arch.parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")]
    kw = dict(batch_size=4, num_batches=4, seed=0, progress=False, space="nb201")
    with ScoreStore(tmp_path / "s.sqlite") as store:
        s1 = score_cells(cells, "ghn", "cifar10", store=store, checkpoint=str(model), **kw)
        key = score_key("ghn", "cifar10", batch_size=4, num_batches=4, seed=0, checkpoint=str(model), space="nb201")
        assert key.version.startswith("1+") and key.version != get_proxy("ghn").version
        assert store.count(key) == 2  # the disconnected cell is not stored
        s2 = score_cells(cells, "ghn", "cifar10", store=store, checkpoint=str(model), **kw)  # from the store
        loss = score_cells(cells, "ghn_loss", "cifar10", store=store, checkpoint=str(model), **kw)
    assert np.array_equal(s1, s2)
    assert 0 <= s1[0] <= 100 and math.isfinite(s1[1]) and s1[2] == -math.inf
    assert loss[2] == math.inf and loss[0] > 0
    with pytest.raises(ProxyError, match="takes no checkpoint"):
        get_proxy("params", checkpoint=str(model))
    with pytest.raises(ProxyError, match="does not exist"):
        get_proxy("ghn", checkpoint=str(tmp_path / "nope.pt"))
    with pytest.raises(ProxyError, match="holds out 100"):
        score_cells(cells[:1], "ghn", "cifar10", checkpoint=str(model), batch_size=32, num_batches=4,
                    progress=False, space="nb201")


def test_cli_rejects_a_bad_checkpoint(tmp_path: Path, capsys):
    from nasearch.cli import validate_overrides

    bad = tmp_path / "x.pt"
    bad.write_bytes(b"garbage")
    with pytest.raises(SystemExit) as exc:
        validate_overrides(["proxy=ghn", f"proxy.checkpoint={bad}"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "cannot be read" in err and "Traceback" not in err
    with pytest.raises(SystemExit):
        validate_overrides(["task=train_ghn", "ghn.T=0"])
    assert "ghn.T" in capsys.readouterr().err


def test_task_config_defaults_are_the_training_library_defaults():
    """``ghn.*`` (the task's Hydra face) and the library's TrainSettings / GHNConfig are one definition:
    the same defaults, and the library's checks reject what the task refuses."""
    from nasearch.experiments.train_ghn import GHNTrainConf, settings_from_conf

    conf = GHNTrainConf()
    got = settings_from_conf(conf, space="nb201")
    want = TrainSettings(space="nb201")
    assert got == want
    # the GHN-2 keys too (GHNConfig and TrainSettings compare field by field above; named here)
    assert (conf.norm, conf.layernorm, conf.virtual_edges) == (want.model.norm, want.model.layernorm,
                                                               want.model.virtual_edges) == ("fan_in", False, 0)
    assert (conf.weight_decay, conf.rho_cells, conf.rho_every, conf.rho_images) == (
        want.weight_decay, want.rho_cells, want.rho_every, want.rho_images)
    for key, value in (("T", 0), ("hidden", 0), ("lr", 0.0), ("seed", -1), ("cells", 0), ("weight_decay", -1.0),
                       ("rho_cells", 1), ("rho_every", 0), ("rho_images", 0)):
        bad = GHNTrainConf(**{key: value})
        with pytest.raises(GHNCheckpointError, match=f"ghn.{key} must"):
            settings_from_conf(bad, space="nb201").check()
