"""The Optuna adapter (nasearch.strategies.optuna_sampler): every accepted sampler searches NB201
reproducibly (TPE, GP and CMA-ES in another process too), TPE beats random search on NB201 cifar10,
proposals a pre-filter screens out are told FAIL, choice vectors that are not archs are failed and
re-asked, bad settings are refused naming the value, and a synflow pre-filter from the shipped tables
drives it. The contract (any interleaving of ask and tell, every space) runs in tests/contract."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from nasearch.benchmarks import Result, make_benchmark
from nasearch.search import Budget, run_search
from nasearch.strategies import StrategyError, get_strategy
from nasearch.strategies.prefilter import PreFilter
from nasearch.testing import StrategyContract

optuna = pytest.importorskip("optuna")
from nasearch.strategies.optuna_sampler import SAMPLERS  # noqa: E402

TrialState = optuna.trial.TrialState


def _make(seed: int, space="nb201", **settings):
    bench_fids = (12, 200) if space == "nb201" else ()
    return get_strategy("optuna")(np.random.default_rng(seed), space=space, fidelities=bench_fids, **settings)


def _res(acc: float) -> Result:
    return Result(valid_acc=acc, test_acc=acc, train_seconds=1.0)


def _needs(sampler: str) -> None:
    if sampler == "cmaes":
        pytest.importorskip("cmaes")


@pytest.fixture(scope="module")
def bench():
    return make_benchmark("nb201")


FAST = {"gp": {"n_startup_trials": 4}}
"""Sampler params of the short searches here (GP: model proposals after 4 random ones, not 10)."""


def trajectory(sampler: str, seed: int, queries: int = 30) -> list[int]:
    """The cells a short NB201 search visits (used in this process and in a subprocess)."""
    bench = make_benchmark("nb201")
    st = get_strategy("optuna")(np.random.default_rng(seed), space=bench.space, fidelities=bench.fidelities,
                                sampler=sampler, sampler_params=FAST.get(sampler, {}))
    return [a.index for a in run_search(bench, st, "cifar10", Budget(queries=queries)).archs]


# ---------------------------------------------------------------------- every sampler, reproducible
@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_each_sampler_searches_nb201_reproducibly(bench, sampler):
    _needs(sampler)
    queries = 16 if sampler == "gp" else 40
    a, b = trajectory(sampler, 3, queries), trajectory(sampler, 3, queries)
    assert a == b and len(a) == queries
    assert trajectory(sampler, 4, queries) != a
    assert len(set(a)) >= queries - 5  # a search, not one cell over and over


def _have(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def test_tpe_gp_cmaes_give_the_same_trajectory_in_another_process():
    samplers = ("tpe", "gp", "cmaes") if _have("cmaes") else ("tpe", "gp")
    here = {s: trajectory(s, 11, 14) for s in samplers}
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import test_optuna_strategy as t; "
        f"print(json.dumps({{s: t.trajectory(s, 11, 14) for s in {samplers!r}}}))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "random"}
    out = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent)], capture_output=True,
                         text=True, check=True, env=env, timeout=120)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == here


def test_the_sampler_seed_is_one_draw_of_the_run_generator():
    a, b, c = _make(5), _make(5), _make(6)
    assert a.seed == b.seed != c.seed
    rng = np.random.default_rng(5)
    assert a.seed == int(rng.integers(0, 2**31 - 1))
    assert a.rng.random() == rng.random()  # exactly one draw taken


# ---------------------------------------------------------------------- search quality
def test_tpe_beats_random_search_on_nb201_cifar10(bench):
    """Paired over 20 seeds at NB201's 12,000 s budget, test accuracy of the incumbent at 200 epochs
    (NB201's Table 5: REA 93.92, RS 93.70)."""
    tpe, rs = [], []
    for seed in range(20):
        st = _make(seed, sampler="tpe")
        tpe.append(run_search(bench, st, "cifar10", Budget(seconds=12000)).final["cifar10"])
        rnd = get_strategy("rs")(np.random.default_rng(seed), space=bench.space, fidelities=bench.fidelities)
        rs.append(run_search(bench, rnd, "cifar10", Budget(seconds=12000)).final["cifar10"])
    diff = np.asarray(tpe) - np.asarray(rs)
    assert diff.mean() > 0, (np.mean(tpe), np.mean(rs))  # seeds 0..19: 94.19 against 93.77
    assert diff.mean() / (diff.std(ddof=1) / np.sqrt(len(diff))) > 2.0  # paired t statistic
    assert np.mean(tpe) > 93.7, np.mean(tpe)


# ---------------------------------------------------------------------- ask / tell bookkeeping
def test_proposals_never_told_are_failed_before_the_next_ask():
    st = _make(0, sampler="random")
    first = st.ask(5)
    st.tell(first[2], _res(70.0), 12)
    states = [t.state for t in st.study.trials]
    assert states.count(TrialState.RUNNING) == 4 and states.count(TrialState.COMPLETE) == 1
    second = st.ask(3)
    trials = st.study.trials
    assert [t.state for t in trials[:5]] == [TrialState.FAIL] * 2 + [TrialState.COMPLETE] + [TrialState.FAIL] * 2
    assert trials[2].value == 70.0 and st.forgotten == 4
    assert [t.state for t in trials[5:]] == [TrialState.RUNNING] * 3
    # the trial of a told proposal gets its value; a NaN result is a FAIL
    st.tell(second[0], _res(80.0), 12)
    st.tell(second[1], _res(float("nan")), 12)
    assert st.study.trials[5].value == 80.0 and st.study.trials[6].state == TrialState.FAIL
    # a result for a forgotten proposal (or one never asked) is added as a completed trial
    st.tell(first[0], _res(60.0), 12)
    added = st.study.trials[-1]
    assert added.number == 8 and added.value == 60.0 and added.state == TrialState.COMPLETE
    assert st.space.from_choices(tuple(added.params[n] for n in st.space.config_names())) == first[0]


def test_screened_out_proposals_behind_a_prefilter_are_failed(bench):
    st = _make(1)
    pf = PreFilter(st, lambda archs: -np.array([a.index for a in archs], dtype=float), n=6)
    traj = run_search(bench, pf, "cifar10", Budget(queries=20))
    states = [t.state for t in st.study.trials]
    assert states.count(TrialState.COMPLETE) == 20
    assert states.count(TrialState.FAIL) == st.forgotten == 19 * 5  # the last step's 5 still run
    assert states.count(TrialState.RUNNING) == 5
    told = [t for t in st.study.trials if t.state == TrialState.COMPLETE]
    assert [t.value for t in told] == traj.valid_accs


def test_choice_vectors_that_are_not_archs_are_told_the_worst_value_and_asked_again(monkeypatch):
    space_name = "transnas101_macro"
    st = _make(0, space=space_name, sampler="random")
    names = st.space.config_names()

    def is_arch(trial) -> bool:
        return st.space.from_choices(tuple(trial.params[n] for n in names)) is not None

    archs = [st.ask(1)[0] for _ in range(10)]  # nothing told yet: non-archs are FAIL trials
    assert all(st.space.from_index(a.index) == a for a in archs)
    assert st.invalid > 0
    fails = [t for t in st.study.trials if t.state == TrialState.FAIL]
    assert all(not is_arch(t) for t in fails) and len(fails) == st.invalid
    # the ten proposals are pending (ten asynchronous workers), not forgotten: their trials still run
    running = [t for t in st.study.trials if t.state == TrialState.RUNNING]
    assert len(running) == 10 and all(is_arch(t) for t in running) and st.forgotten == 0
    for acc in (60.0, 40.0, 70.0):
        (a,) = st.ask(1)
        st.tell(a, _res(acc), None)
    before = len(st.study.trials)
    invalid = st.invalid
    for _ in range(10):
        (a,) = st.ask(1)
        st.tell(a, _res(50.0), None)
    new = [t for t in st.study.trials[before:] if not is_arch(t)]
    assert len(new) == st.invalid - invalid > 0
    assert all(t.state == TrialState.COMPLETE and t.value == 40.0 for t in new)  # the worst told so far
    # a sampler that never proposes an arch ends in a StrategyError after the retry bound
    import nasearch.strategies.optuna_sampler as mod

    monkeypatch.setattr(mod, "MAX_INVALID", 7)
    monkeypatch.setattr(st.space, "from_choices", lambda choices: None)
    with pytest.raises(StrategyError, match=r"proposed 7 choice vectors in a row that are not archs of space "
                                            r"'transnas101_macro' \(3256 of 15625"):
        st.ask(1)


def test_search_distributions_categorical_except_cmaes():
    dist = optuna.distributions
    for sampler in SAMPLERS:
        if sampler == "cmaes" and not _have("cmaes"):
            continue
        st = _make(0, sampler=sampler)
        kinds = {type(d) for d in st._distributions.values()}  # noqa: SLF001
        want = dist.IntDistribution if sampler == "cmaes" else dist.CategoricalDistribution
        assert kinds == {want}, sampler
        assert tuple(st._distributions) == st.space.config_names()  # noqa: SLF001


def test_optuna_logging_and_warning_filters_are_left_as_they_were():
    filters = list(warnings.filters)
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.INFO)
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            for sampler in ("qmc", "bruteforce"):  # both experimental in Optuna
                st = _make(0, sampler=sampler)
                for _ in range(12):
                    (a,) = st.ask(2)[:1]
                    st.tell(a, _res(float(a.index % 97)), 12)
        assert not [w for w in seen if issubclass(w.category, optuna.exceptions.ExperimentalWarning)]
        assert optuna.logging.get_verbosity() == optuna.logging.INFO
    finally:
        optuna.logging.set_verbosity(level)
    assert warnings.filters == filters


# ---------------------------------------------------------------------- bad settings
def test_bad_sampler_and_sampler_params_are_refused_naming_them():
    with pytest.raises(StrategyError, match=r"optuna sampler='tpee' is invalid: accepted: tpe, gp, cmaes, nsga2, "
                                            r"random, qmc, bruteforce; did you mean 'tpe'\?"):
        _make(0, sampler="tpee")
    with pytest.raises(StrategyError, match=r"sampler_params key 'n_startup_trial' is not a parameter of sampler "
                                            r"'tpe' \(optuna.samplers.TPESampler\); accepted: .*n_startup_trials.*"
                                            r"did you mean 'n_startup_trials'\?"):
        _make(0, sampler_params={"n_startup_trial": 5})
    with pytest.raises(StrategyError, match=r"key 'popsize' is not a parameter of sampler 'nsga2'"):
        _make(0, sampler="nsga2", sampler_params={"popsize": 5})
    with pytest.raises(StrategyError, match="has the key 'seed'.*drawn from the run's seed"):
        _make(0, sampler_params={"seed": 1})
    with pytest.raises(StrategyError, match=r"sampler_params=\[1\] is invalid: expected a mapping"):
        _make(0, sampler_params=[1])
    with pytest.raises(StrategyError, match=r"sampler_params=\{'qmc_type': 'nope'\} do not fit sampler 'qmc'"):
        _make(0, sampler="qmc", sampler_params={"qmc_type": "nope"})


def test_sampler_params_reach_the_sampler():
    st = _make(0, sampler="nsga2", sampler_params={"population_size": 8})
    assert st._sampler._population_size == 8  # noqa: SLF001
    st = _make(0, sampler="tpe", sampler_params={"n_startup_trials": 3, "multivariate": False})
    assert st._sampler._n_startup_trials == 3 and st._sampler._multivariate is False  # noqa: SLF001
    assert _make(0, sampler="qmc").sampler_params == {"scramble": True}


def test_the_config_group_and_an_override_of_sampler_params():
    import nasearch.api as nas

    cfg = nas.config("strategy=optuna")
    assert cfg.strategy.name == "optuna" and cfg.strategy.params == {"sampler": "tpe", "sampler_params": {}}
    cfg = nas.config("strategy=optuna", "strategy.params.sampler=nsga2",
                     "+strategy.params.sampler_params.population_size=12")
    st = get_strategy("optuna")(np.random.default_rng(0), space="nb201", **cfg.strategy.params)
    assert st._sampler._population_size == 12  # noqa: SLF001


# ---------------------------------------------------------------------- behind a synflow pre-filter
def test_behind_a_synflow_prefilter_from_the_shipped_tables(bench, tmp_path):
    from nasearch.scoring import ScoringSettings
    from nasearch.scoring.scorer import make_arch_scorer

    scorer = make_arch_scorer(ScoringSettings(proxy="synflow", space="nb201"), store_path=str(tmp_path / "s.sqlite"))

    def run(seed: int):
        st = _make(seed)
        pf = PreFilter(st, scorer, n=10, cost_fn=scorer.cost)
        return st, run_search(bench, pf, "cifar10", Budget(seconds=6000), charge_overhead=True)

    st, traj = run(0)
    assert traj.queries > 20 and traj.overhead_seconds > 0
    assert st.forgotten == 9 * (traj.queries - 1)
    keys = scorer(traj.archs)
    assert np.all(np.isfinite(keys))  # synflow picks no disconnected cell
    assert [a.index for a in run(0)[1].archs] == [a.index for a in traj.archs]
    assert math.isfinite(traj.final["cifar10"]) and traj.final["cifar10"] > 90.0


# ---------------------------------------------------------------------- the contract where vectors can be invalid
class TestOptunaContractOnTransnasMacro(StrategyContract):
    """The kit's contract (any interleaving of ask and tell, alone and behind a pre-filter; same seed
    same trajectory) on TransNAS-Bench-101 macro, where most choice vectors are not archs (NB201 and
    the search of every space: tests/contract)."""

    name = "optuna"
    space = "transnas101_macro"
    spaces = ("transnas101_macro",)
