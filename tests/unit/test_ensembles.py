"""Rank ensembles (issue 37): the combination arithmetic, the names, the engine, the pre-filter's scorer
and the config, on the shipped tables of real proxies."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import rankdata, spearmanr

import nasearch.api as nas
from nasearch.config import ConfigError
from nasearch.proxies import ProxyError, ensemble_names, get_proxy, network_proxies
from nasearch.scoring import ScoreStore, ScoringSettings, score_cells
from nasearch.scoring.ensemble import combine
from nasearch.scoring.scorer import EnsembleScorer, make_arch_scorer

ROOT = Path(__file__).resolve().parents[2]
STUDY = ROOT / "experiments" / "mpi_cifar10" / "run" / "scores.csv"
SIGN = {"synflow": 1, "zico": 1, "gradsign": 1, "naswot": 1, "jacob_cov": 1}


# ------------------------------------------------------------------------------------- arithmetic
def test_logrank_is_the_sum_of_log_rank_fractions_by_hand():
    keys = np.array([[3.0, 10.0], [1.0, 30.0], [2.0, 20.0]])
    # member 0 ranks (worst = 1): 3, 1, 2; member 1: 1, 3, 2; N = 3
    want = [math.log(3 / 3) + math.log(1 / 3), math.log(1 / 3) + math.log(3 / 3), math.log(2 / 3) + math.log(2 / 3)]
    assert np.allclose(combine(keys, "logrank"), want)
    assert np.allclose(combine(keys, "meanrank"), [(3 + 1) / 6, (1 + 3) / 6, (2 + 2) / 6])
    z0 = (keys[:, 0] - 2.0) / np.std(keys[:, 0])
    z1 = (keys[:, 1] - 20.0) / np.std(keys[:, 1])
    assert np.allclose(combine(keys, "zscore"), (z0 + z1) / 2)


def test_consistently_high_beats_one_extreme_under_logrank_not_meanrank():
    # AZ-NAS's argument for the log: cell B, ranked 3rd of 5 by both members, beats cell A, ranked 1st
    # by one and last by the other; their mean ranks are equal
    keys = np.array([[4.0, 0.0], [2.0, 2.0], [3.0, 1.0], [1.0, 3.0], [0.0, 4.0]])  # rows A, B, C, D, E
    lr = combine(keys, "logrank")
    assert lr[1] > lr[0] and lr[1] > lr[4]
    mr = combine(keys, "meanrank")
    assert mr[0] == mr[1] == mr[4]


def test_ties_and_unrated_cells_average_and_order_does_not_matter():
    rng = np.random.default_rng(0)
    keys = rng.integers(0, 5, size=(40, 3)).astype(float)
    keys[[3, 7, 11], 1] = -math.inf  # member 1 cannot rate three cells: tied at its bottom
    out = combine(keys, "logrank")
    assert np.all(np.isfinite(out))
    perm = rng.permutation(40)
    assert np.allclose(combine(keys[perm], "logrank"), out[perm])
    assert np.allclose(rankdata(keys[:, 1])[[3, 7, 11]], 2.0)  # what the combination must use
    for how in ("meanrank", "zscore"):
        assert np.allclose(combine(keys[perm], how), combine(keys, how)[perm])


def test_ranking_against_the_population_itself_equals_ranking_within_the_run():
    rng = np.random.default_rng(1)
    keys = rng.normal(size=(50, 3))
    refs = [np.sort(keys[:, j]) for j in range(3)]
    for how in ("logrank", "meanrank", "zscore"):
        assert np.allclose(combine(keys, how, refs), combine(keys, how))
    # a subset ranked against the whole population keeps its whole-population scores
    assert np.allclose(combine(keys[:7], "logrank", refs), combine(keys, "logrank")[:7])


# ------------------------------------------------------------------------------------- names
def test_names_parse_and_bad_ones_are_refused_with_what_is_accepted():
    spec = get_proxy("ensemble:synflow+zico+naswot")
    assert spec.members == ("synflow", "zico", "naswot") and (spec.combine, spec.ranking) == ("logrank", "run")
    assert "zico=1" in spec.version and spec.higher_is_better
    assert get_proxy("ensemble:synflow+zico/zscore/space").ranking == "space"
    for bad, words in [("ensemble:synflow", "at least two"), ("ensemble:synflow+nope", "unknown proxy 'nope'"),
                       ("ensemble:synflow+zico/max", "accepted: logrank, meanrank, zscore"),
                       ("ensemble:synflow+zico/logrank/all", "accepted: run, space"),
                       ("ensemble:synflow+synflow", "repeat"), ("ensemble:synflow+az_nas", "itself an ensemble"),
                       ("ensemble:synflow+ghn", "checkpoint"), ("ensemble:a/b/c/d", "malformed")]:
        with pytest.raises(ProxyError, match=words):
            get_proxy(bad)
    assert "az_nas" in ensemble_names()
    assert all(not s.members for s in network_proxies())
    az = get_proxy("az_nas")
    assert az.members == ("az_expressivity", "az_progressivity", "az_trainability", "flops") and az.combine == "logrank"


def test_an_ensemble_is_not_scored_on_one_network():
    with pytest.raises(ProxyError, match="ranks a population"):
        get_proxy("ensemble:synflow+zico").fn(None, [], None)


# ------------------------------------------------------------------------------------- engine
def _study() -> tuple[list[str], dict[str, np.ndarray]]:
    with open(STUDY, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [r["arch"] for r in rows], {p: np.array([float(r[p]) for r in rows]) for p in SIGN}


def test_engine_reproduces_the_log_rank_sum_of_the_committed_study(tmp_path):
    """The 1,000 cells of experiments/mpi_cifar10 from the shipped tables through score_cells, against
    the same sum computed independently from the committed study's CSV."""
    archs, scores = _study()
    members = list(SIGN)
    with ScoreStore(tmp_path / "s.sqlite") as store:
        got = score_cells(archs, "ensemble:" + "+".join(members), "cifar10", space="nb201", store=store, progress=False)
    want = sum(np.log(rankdata(SIGN[p] * np.nan_to_num(scores[p], nan=-np.inf)) / len(archs)) for p in members)
    assert np.allclose(got, want, rtol=0, atol=1e-9)
    from nasearch.benchmarks import make_benchmark

    bench = make_benchmark("nb201")
    space = bench.space
    acc = bench.column("cifar10", "test_acc")[[space.parse(a).index for a in archs]]
    rho = spearmanr(got, acc).statistic
    assert 0.85 < rho < 0.93, rho  # above every member alone (synflow .779, the best of them)


def test_space_ranking_uses_the_whole_table_and_refuses_a_partial_one(tmp_path):
    archs, _ = _study()
    with ScoreStore(tmp_path / "s.sqlite") as store:
        sub = archs[:30]
        in_run = score_cells(sub, "ensemble:synflow+zico+gradsign", "cifar10", space="nb201", store=store, progress=False)
        whole = score_cells(sub, "ensemble:synflow+zico+gradsign/logrank/space", "cifar10", space="nb201",
                            store=store, progress=False)
        assert not np.allclose(in_run, whole)  # 30 cells ranked among themselves vs among 15,284
        assert np.all(whole < 0) and whole.max() <= 0
        # a cell's space-ranked score does not depend on what it is scored with
        again = score_cells(sub[:5], "ensemble:synflow+zico+gradsign/logrank/space", "cifar10", space="nb201",
                            store=store, progress=False)
        assert np.allclose(again, whole[:5])
        with pytest.raises(ProxyError, match="'naswot' has 1000 of the 15284 connected cells"):
            score_cells(sub, "ensemble:synflow+naswot/logrank/space", "cifar10", space="nb201", store=store,
                        progress=False)


def test_disconnected_cells_score_minus_inf_and_stay_out_of_the_ranks(tmp_path):
    dead = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    archs, _ = _study()
    with ScoreStore(tmp_path / "s.sqlite") as store:
        a = score_cells([dead, *archs[:20]], "ensemble:synflow+gradsign", "cifar10", space="nb201", store=store,
                        progress=False)
        b = score_cells(archs[:20], "ensemble:synflow+gradsign", "cifar10", space="nb201", store=store, progress=False)
    assert a[0] == -math.inf and np.allclose(a[1:], b)


# ------------------------------------------------------------------------------------- pre-filter and config
def test_the_prefilter_scorer_combines_its_candidates_ranks(tmp_path):
    archs, _ = _study()
    settings = ScoringSettings(proxy="ensemble:synflow+gradsign+zico", space="nb201")
    scorer = make_arch_scorer(settings, store_path=str(tmp_path / "s.sqlite"))
    assert isinstance(scorer, EnsembleScorer) and scorer.coverage() == 15625
    space = scorer.space
    cands = [space.parse(a) for a in archs[:10]]
    got = scorer(cands)
    keys = np.column_stack([m(cands) for m in scorer.members])
    assert np.allclose(got, combine(keys, "logrank"))
    assert scorer.version == get_proxy("ensemble:synflow+gradsign+zico").version
    assert scorer.cost(cands) == pytest.approx(sum(m.cost(cands) for m in scorer.members))
    # ranking=space refuses an incomplete member table with the engine's message
    with pytest.raises(ProxyError, match=r"'naswot' has \d+ of the 15625 cells of nb201 .*proxy.ranking=run"):
        make_arch_scorer(ScoringSettings(proxy="ensemble:synflow+naswot/logrank/space", space="nb201"),
                         store_path=str(tmp_path / "s.sqlite"))


def test_config_builds_the_ensemble_and_refuses_what_does_not_fit():
    cfg = nas.config("proxy=ensemble", "proxy.members=[synflow,gradsign]", "proxy.combine=meanrank", "proxy.n=10")
    assert cfg.proxy.ref == "ensemble:synflow+gradsign/meanrank/run"
    with pytest.raises(ConfigError, match="proxy.members=None.*at least two"):
        nas.config("proxy=ensemble", "proxy.n=10")
    with pytest.raises(ConfigError, match="only with proxy=ensemble"):
        nas.config("proxy=synflow", "proxy.members=[synflow,zico]", "proxy.n=10")
    with pytest.raises(ProxyError, match="accepted: run, space"):
        nas.config("proxy=ensemble", "proxy.members=[synflow,zico]", "proxy.ranking=all", "proxy.n=10")


def test_a_search_with_an_ensemble_prefilter_runs_and_records_its_identity(tmp_path):
    res = nas.run("strategy=rea", "proxy=ensemble", "proxy.members=[synflow,gradsign]", "proxy.n=10", "runs=2",
                  f"proxy.store={tmp_path / 's.sqlite'}", out_dir=tmp_path / "out")
    assert len(res.frames["runs"]) == 2
    recorded = next(iter(res.settings.values()))
    assert recorded["proxy.version"] == get_proxy("ensemble:synflow+gradsign").version
    assert recorded["proxy.members"] == ["synflow", "gradsign"]


def test_score_task_refuses_an_ensemble_naming_its_members():
    with pytest.raises(ConfigError, match="build each member's table instead"):
        nas.run("task=score", "proxy=ensemble", "proxy.members=[synflow,gradsign]")


def test_the_readme_ensemble_snippet_runs_as_a_script(tmp_path):
    import re
    import subprocess
    import sys

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## The proxy frontier and rank ensembles"):]
    snippet = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    (tmp_path / "s.py").write_text(snippet, encoding="utf-8")
    env = {k: v for k, v in __import__("os").environ.items() if k != "NASEARCH_DATA"}  # data-free: no images
    proc = subprocess.run([sys.executable, str(tmp_path / "s.py")], cwd=tmp_path, capture_output=True, text=True,
                          timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("[")


# ------------------------------------------------------------------------------------- member batch sizes
GEN10 = "eznas:net_mean(square(det(sigmoid(mul(l1_mean(log(exp(inpact_N))), preact_D)))))"


def test_a_member_names_its_own_batch_size_and_reproduces_the_full_space_figure(tmp_path):
    """``NAME@bN``: the evolved EZNAS program's shipped table is at batch 16, the others at 64. The
    selected ensemble 'any #2' (experiments/frontier/full_space.md) over the whole space from the
    shipped tables through score_cells: 0.945 / 0.797 on CIFAR-10."""
    from scipy.stats import kendalltau

    from nasearch.benchmarks import make_benchmark

    bench = make_benchmark("nb201")
    space = bench.space
    cells = [a for a in space.all_archs() if not space.is_trivial(a)]
    ref = f"ensemble:{GEN10}@b16+meco+reg_swap+synflow"
    spec = get_proxy(ref)
    assert spec.members[0].endswith("@b16") and "@b16" in spec.version
    # every member's score is in a shipped table (so nothing is computed below)
    scorer = make_arch_scorer(ScoringSettings(proxy=ref, space="nb201", dataset="cifar10"),
                              store_path=str(tmp_path / "s.sqlite"))
    assert scorer.coverage() == space.num_archs
    with ScoreStore(tmp_path / "s.sqlite") as store:
        got = score_cells(cells, ref, "cifar10", space="nb201", store=store, progress=False)
    acc = bench.column("cifar10", "test_acc")[[a.index for a in cells]]
    assert round(float(spearmanr(got, acc).statistic), 3) == 0.945
    assert round(float(kendalltau(got, acc).statistic), 3) == 0.797
    # without the member's batch size, the program would be scored at 64: no shipped table, images needed
    assert get_proxy(f"ensemble:{GEN10}+meco").version != get_proxy(f"ensemble:{GEN10}@b16+meco").version
    for bad in ("meco@b", "meco@b0", "meco@bx", "@b16"):
        with pytest.raises(ProxyError, match="NAME@bN"):
            get_proxy(f"ensemble:{bad}+synflow")
