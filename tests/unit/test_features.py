"""Features of cells for learned predictors (nasearch.scoring.features): the encoding, proxy columns
from the pre-filter's scorers, the GHN graph embedding, names, costs and errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nasearch.predictors.ghn import graph_embeddings
from nasearch.predictors.ghn_train import load_model
from nasearch.proxies.ghn import default_checkpoint
from nasearch.scoring.features import FeatureError, Featurizer, accepted_features, encoding_featurizer
from nasearch.scoring.scorer import ArchScorer
from nasearch.scoring.settings import ScoringSettings
from nasearch.space import get_space
from nasearch.testing import non_trivial

SPACES = ("nb201", "nasbench_macro", "transnas101_micro", "transnas101_macro")


def settings(space, proxy: str = "params") -> ScoringSettings:
    space = get_space(space)
    return ScoringSettings(proxy=proxy, space=space, dataset=space.networks_for()[0], progress=False)


def some_cells(space, k: int = 3, seed: int = 1) -> list:
    """``k`` non-trivial cells and one trivial one (when the space has any), in a fixed order."""
    space = get_space(space)
    cells = non_trivial(space, k, seed=seed)
    trivial = next((a for a in space.all_archs() if space.is_trivial(a)), None) if space.num_archs < 20_000 else None
    return cells + ([trivial] if trivial is not None else [])


# ---------------------------------------------------------------------------------------- encoding
@pytest.mark.parametrize("space_name", SPACES)
def test_encoding_columns_are_the_space_encoding(space_name):
    space = get_space(space_name)
    f = encoding_featurizer(space)
    archs = some_cells(space, 5)
    X = f(archs)
    assert X.dtype == np.float64 and X.shape == (len(archs), int(sum(space.positions)))
    assert np.array_equal(X, space.encode(archs).astype(np.float64))
    assert f.names == tuple(f"enc{i}" for i in range(X.shape[1])) and f.features == ("encoding",)
    assert f(archs[:0]).shape == (0, X.shape[1])
    assert f.cost(archs) == 0.0 and f.coverage() == space.num_archs
    f.require_inputs("test")  # nothing to check


# ---------------------------------------------------------------------------------------- proxies
def test_a_proxy_column_is_the_scorers_rank_key(tmp_path):
    """synflow over NB201: the shipped table beneath the store, nothing computed; the trivial cell is -inf."""
    store = str(tmp_path / "s.sqlite")
    st = settings("nb201", proxy="zico")  # the base settings' proxy is replaced per feature
    f = Featurizer("nb201", ["synflow", "encoding"], settings=st, store_path=store)
    assert f.names[0] == "synflow" and f.names[1:4] == ("enc0", "enc1", "enc2")
    archs = some_cells("nb201", 6)
    X = f(archs)
    ref = ArchScorer(st.replace(proxy="synflow"), store_path=store)
    assert np.array_equal(X[:, 0], ref(archs))
    assert np.isfinite(X[:-1, 0]).all() and X[-1, 0] == -np.inf  # the last cell is trivial
    assert np.array_equal(X[:, 1:], get_space("nb201").encode(archs))
    assert f.coverage() == ref.coverage() == get_space("nb201").num_archs  # the shipped table is complete


@pytest.mark.parametrize("space_name", SPACES)
def test_encoding_and_params_on_every_space(space_name, tmp_path):
    space = get_space(space_name)
    store = str(tmp_path / "s.sqlite")
    f = Featurizer(space, ["encoding", "params"], settings=settings(space), store_path=store)
    archs = non_trivial(space, 2, seed=3)
    X = f(archs)
    d = int(sum(space.positions))
    assert X.shape == (2, d + 1) and f.names[-1] == "params" and len(f.names) == d + 1
    assert np.array_equal(X[:, :d], space.encode(archs))
    assert np.isfinite(X[:, -1]).all() and X[0, -1] != X[1, -1]
    # the column is the scorer's key for the same settings (now read back from the store)
    assert np.array_equal(X[:, -1], ArchScorer(settings(space), store_path=store)(archs))


def test_cost_is_the_sum_of_the_scorers_costs(tmp_path):
    space = get_space("nasbench_macro")
    store = str(tmp_path / "s.sqlite")
    f = Featurizer(space, ["params", "encoding", "flops"], settings=settings(space), store_path=store)
    archs = non_trivial(space, 3, seed=5)
    f(archs)  # computed live, seconds recorded in the store
    fresh = [ArchScorer(settings(space, p), store_path=store) for p in ("params", "flops")]
    total = sum(s.cost(archs) for s in fresh)
    assert total > 0
    assert f.cost(archs) == pytest.approx(total, rel=0, abs=1e-12)
    assert f.cost(archs) == sum(s.cost(archs) for s in f.scorers.values())
    assert f.cost(archs[:1]) < f.cost(archs)
    # coverage: cells both proxy features hold (3 computed + the trivial ones, which need nothing)
    trivial = sum(space.is_trivial(a) for a in space.all_archs())
    assert f.coverage() == 3 + trivial


# ---------------------------------------------------------------------------------------- errors
def test_unknown_duplicate_and_empty_names_are_refused(monkeypatch):
    import nasearch.scoring.features as features

    def no_work(*a, **k):
        raise AssertionError("a scorer was built before the names were checked")

    monkeypatch.setattr(features, "make_arch_scorer", no_work)
    st = settings("nb201")
    with pytest.raises(FeatureError, match=r"unknown feature 'encodng'.*accepted: encoding, ghn, .*params.*did you mean 'encoding'"):
        Featurizer("nb201", ["params", "encodng"], settings=st)
    with pytest.raises(FeatureError, match=r"did you mean 'synflow'"):
        Featurizer("nb201", ["synflw"], settings=st)
    with pytest.raises(FeatureError, match=r"feature 'params' is given twice"):
        Featurizer("nb201", ["params", "encoding", "params"], settings=st)
    with pytest.raises(FeatureError, match=r"no features given; accepted: encoding, ghn"):
        Featurizer("nb201", [], settings=st)
    with pytest.raises(FeatureError, match=r"a list of names, got the string 'params'"):
        Featurizer("nb201", "params", settings=st)  # type: ignore[arg-type]
    with pytest.raises(FeatureError, match=r"ensemble:synflow\+nope.*not a usable proxy"):
        Featurizer("nb201", ["ensemble:synflow+nope"], settings=st)
    with pytest.raises(FeatureError, match=r"proxy feature\(s\) synflow need the base scoring settings"):
        Featurizer("nb201", ["encoding", "synflow"])
    with pytest.raises(FeatureError, match=r"settings.space is 'nasbench_macro'"):
        Featurizer("nb201", ["params"], settings=settings("nasbench_macro"))
    names = accepted_features()
    assert names[:2] == ("encoding", "ghn") and "params" in names and "flops" in names and "az_nas" in names
    assert names.count("ghn") == 1


# ---------------------------------------------------------------------------------------- GHN
def test_ghn_embedding_shape_determinism_and_difference():
    space = get_space("nb201")
    archs = non_trivial(space, 4, seed=7)
    state = torch.random.get_rng_state()
    f = Featurizer(space, ["ghn", "encoding"])
    X = f(archs)
    assert torch.equal(state, torch.random.get_rng_state()), "building the graphs drew from the global RNG"
    hidden = load_model(default_checkpoint())[0].config.hidden
    assert X.shape == (4, 2 * hidden + sum(space.positions))
    assert f.names[: 2 * hidden] == tuple(f"ghn{i}" for i in range(2 * hidden)) and f.names[2 * hidden] == "enc0"
    E = X[:, : 2 * hidden]
    assert np.isfinite(E).all()
    # mean then max over nodes: the max is at least the mean, column by column
    assert (E[:, hidden:] >= E[:, :hidden] - 1e-6 * (1 + np.abs(E[:, :hidden]))).all()
    # deterministic: another featurizer, other call order and batching, the same bits
    g = Featurizer(space, ["ghn"])
    late = g([archs[3], archs[2]])
    early = g([archs[1], archs[0]])
    assert np.array_equal(np.vstack([early[::-1], late[::-1]]), E)
    assert np.array_equal(g(archs), E)  # from the cache
    # two different cells, two different embeddings
    assert not np.array_equal(E[0], E[1])
    assert f.cost(archs) == 0.0


def test_graph_embeddings_do_not_depend_on_their_companions():
    space = get_space("nb201")
    ghn, _ = load_model(default_checkpoint())
    graphs = [space.op_graph(a, "cifar10") for a in non_trivial(space, 3, seed=9)]
    together = graph_embeddings(ghn, graphs)
    alone = np.vstack([graph_embeddings(ghn, [g]) for g in graphs])
    assert together.dtype == np.float64 and together.shape == (3, 2 * ghn.config.hidden)
    assert np.array_equal(together, alone)


def test_ghn_needs_a_checkpoint_on_another_space(tmp_path):
    with pytest.raises(FeatureError, match=r"ghn feature on space 'nasbench_macro' needs a GHN checkpoint.*trained on 'nb201'"):
        Featurizer("nasbench_macro", ["ghn"])
    with pytest.raises(FeatureError, match=r"does not exist"):
        Featurizer("nasbench_macro", ["ghn"], ghn_checkpoint=str(tmp_path / "missing.pt"))
    # a given checkpoint is used (a transfer: trained on another space)
    f = Featurizer("nasbench_macro", ["ghn"], ghn_checkpoint=str(default_checkpoint()))
    X = f(non_trivial(get_space("nasbench_macro"), 2, seed=1))
    assert X.shape == (2, len(f.names)) and np.isfinite(X).all() and not np.array_equal(X[0], X[1])


# ---------------------------------------------------------------------------------------- config adapter
def test_make_featurizer_from_a_config(tmp_path):
    import nasearch.api as nas
    from nasearch.experiments.scorer import make_featurizer
    from nasearch.experiments.search import resolve_benchmark

    cfg = nas.config("proxy=params", "proxy.n=2", f"proxy.store={tmp_path / 's.sqlite'}")
    bench, _, _ = resolve_benchmark(cfg)
    f = make_featurizer(cfg, bench, "cifar100", ["flops", "encoding"])
    assert f.space is bench.space and f.task == "cifar100" and f.store_path == str(tmp_path / "s.sqlite")
    assert f.scorers["flops"].settings.dataset == "cifar100"
    archs = non_trivial(bench.space, 2, seed=4)
    assert np.array_equal(f(archs)[:, 0], ArchScorer(settings(bench.space, "flops").replace(dataset="cifar100"),
                                                     store_path=str(tmp_path / "s.sqlite"))(archs))
