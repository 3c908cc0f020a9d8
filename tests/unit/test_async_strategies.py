"""Strategies under asynchronous workers: several ``ask(1)`` before the tells, results told in the order
their training finishes (here: reversed, or by the NB201 table's training times), the same cell in
flight twice, a cell told several asks after it was asked. What each strategy's asynchronous version
does (its module docstring says which and why): REA's population holds told cells only, REINFORCE's
update uses the told cell, BOHB starts the next bracket rather than wait or ask a promoted cell again,
Optuna keeps one running trial per proposal, the predictor and RoBoT never propose a cell in flight,
and the pre-filter gives up exactly the candidates it screened out (``PendingProposals``). That the
sequential pattern (K = 1) proposes what it did before is checked by tests/reproduction (committed
runs of rs, rea, reinforce, bohb and a pre-filtered rea); the kit's
``StrategyContract.test_asynchronous_asks_and_tells`` runs every strategy through rounds of four
asks on a real benchmark."""

from __future__ import annotations

import heapq

import numpy as np
import pytest

from nasearch.benchmarks import Result
from nasearch.space.nb201.arch import Arch
from nasearch.strategies import Strategy, get_strategy
from nasearch.strategies.prefilter import PendingProposals, PreFilter
from nasearch.testing.featurizers import StandInFeaturizer


def _res(acc: float) -> Result:
    return Result(valid_acc=acc, test_acc=acc, train_seconds=1.0)


def _make(name: str, seed: int, fidelities=(12, 200), **settings) -> Strategy:
    return get_strategy(name)(np.random.default_rng(seed), space="nb201", fidelities=fidelities, **settings)


def _distance(a: Arch, b: Arch) -> int:
    return sum(x != y for x, y in zip(a.ops, b.ops))


def simulate(
    strategy: Strategy, bench, workers: int, evaluations: int, on_ask=None
) -> list[tuple[Arch, int]]:
    """K simulated workers on ``bench``'s cifar10 training times: ``ask(1)`` whenever one frees, results
    told in the order they finish. ``on_ask(arch, fidelity, in_flight)`` sees each proposal and the
    ``(arch, fidelity)`` pairs in flight at that moment. Returns the evaluations in tell order."""
    clock, order, in_flight, done = 0.0, 0, [], []
    started = 0
    while started < evaluations or in_flight:
        while len(in_flight) < workers and started < evaluations:
            for a in strategy.ask(1):
                f = strategy.fidelity_for(a) or bench.fidelities[0]
                if on_ask is not None:
                    on_ask(a, f, [(x, g) for _, _, x, g, _ in in_flight])
                r = bench.query(a, "cifar10", f)
                heapq.heappush(in_flight, (clock + r.train_seconds, order, a, f, r))
                order += 1
                started += 1
        clock, _, a, f, r = heapq.heappop(in_flight)
        strategy.tell(a, r, f)
        done.append((a, f))
    return done


# ---------------------------------------------------------------------- the pending bookkeeping
def test_pending_proposals_tell_the_oldest_forget_the_latest_settle_untaken_alternatives():
    p = PendingProposals()
    p.add([("a", 1)])
    p.add([("b", 2), ("a", 3), ("c", 4)])
    assert "a" in p and len(p) == 3
    assert p.tell("a") == (True, 1)  # the oldest pending "a" (the ask(1) two asks ago)
    assert p.tell("a") == (True, 3) and "a" not in p
    assert p.tell("a") == (False, None)
    # an ask of several alternatives, one told, none named: the others are given up at the next ask
    assert p.settle() == [2, 4] and len(p) == 0
    # named by forget (right after the ask): only those go; the rest stays pending after a tell
    p.add([("x", 5), ("y", 6), ("x", 7), ("z", 8)])
    assert p.forget(["x", "z"]) == [7, 8]  # the last "x" of that ask
    assert p.tell("y") == (True, 6)
    assert p.settle() == [] and "x" in p and p.tell("x") == (True, 5)
    # forget only matches the latest ask
    p.add([("m", 9)])
    p.add([("n", 10)])
    assert p.forget(["m"]) == [] and "m" in p
    # a proposal of ask(1) stays pending however many asks come in between
    for i in range(20):
        p.add([(f"k{i}", i)])
        p.settle()
    assert "m" in p and "n" in p
    # the cap gives the oldest asks up as a whole
    small = PendingProposals(cap=2)
    small.add([("a", 1), ("b", 2)])
    small.add([("c", 3)])
    small.add([("d", 4)])
    assert "a" not in small and small.settle() == [1, 2] and "c" in small and "d" in small


class _Recorder(Strategy):
    """Proposes cells 0..n-1 of NB201 (or one when ``single``); records forget calls and tells."""

    name = "recorder-for-tests"

    def __init__(self, single: bool = False):
        super().__init__(np.random.default_rng(0), space="nb201")
        self.single, self.forgotten, self.told = single, [], []

    def ask(self, n: int = 1) -> list[Arch]:
        return [Arch.from_index(i) for i in range(1 if self.single else n)]

    def forget(self, archs):
        self.forgotten.append(list(archs))

    def tell(self, arch, result, fidelity):
        self.told.append(arch)


def test_prefilter_gives_up_exactly_the_screened_out_candidates():
    score = lambda archs: np.array([a.index % 3 for a in archs], dtype=float)  # noqa: E731
    inner = _Recorder()
    pf = PreFilter(inner, score, n=6, k=2)
    first, second = pf.ask(1), pf.ask(1)  # two asks before any tell (two workers)
    assert first == second == [Arch.from_index(2), Arch.from_index(5)]
    screened = [Arch.from_index(i) for i in (1, 4, 0, 3)]
    assert inner.forgotten == [screened, screened] and pf.screened_out == 8 and pf.scored == 12
    pf.tell(second[1], _res(1.0), 12)
    pf.tell(first[0], _res(1.0), 12)  # told two asks after it was asked
    assert inner.told == [second[1], first[0]]
    # vanilla and a forced choice give nothing up
    for wrapped in (
        PreFilter(_Recorder(), score, n=1),
        PreFilter(_Recorder(), None, n=6),
        PreFilter(_Recorder(single=True), score, n=6),
    ):
        wrapped.ask(1)
        assert wrapped.inner.forgotten == [] and wrapped.screened_out == 0
    # a pre-filter behind a pre-filter: the outer one's screened-out cells are the inner strategy's
    inner = _Recorder()
    outer = PreFilter(PreFilter(inner, score, n=6, k=3), lambda archs: -score(archs), n=3, k=1)
    assert outer.ask(1) == [Arch.from_index(1)]  # the inner pre-filter passed on 2, 5, 1 of 0..5
    assert inner.forgotten == [[Arch.from_index(i) for i in (4, 0, 3)], [Arch.from_index(i) for i in (2, 5)]]


# ---------------------------------------------------------------------- REA
def test_rea_asks_on_the_told_population_and_ages_in_tell_order():
    rea = _make("rea", 0, population_size=4, sample_size=2)
    first = [rea.ask(1)[0] for _ in range(4)]
    assert len(rea.population) == 0  # in flight: not in the population
    for i, a in enumerate(reversed(first)):
        rea.tell(a, _res(float(10 + i)), 12)
    assert [a for a, _ in rea.population] == first[::-1]  # oldest = told first
    children = [rea.ask(1)[0] for _ in range(4)]  # four workers, each a mutant of a told member
    members = [a for a, _ in rea.population]
    assert all(any(_distance(c, m) == 1 for m in members) for c in children)
    rea.tell(children[0], _res(50.0), 12)  # asked four asks ago
    assert [a for a, _ in rea.population] == first[2::-1] + [children[0]]
    assert rea.population[0][0] == first[2]


# ---------------------------------------------------------------------- REINFORCE
def test_reinforce_updates_with_the_told_cell_not_the_last_asked():
    asked = _make("reinforce", 0)
    a, b, c = (asked.ask(1)[0] for _ in range(3))
    assert len({a, b, c}) == 3
    asked.tell(a, _res(90.0), 12)  # a was asked two asks before the last
    asked.tell(c, _res(40.0), 12)
    fresh = _make("reinforce", 0)  # the same tells with no asks in between
    fresh.tell(a, _res(90.0), 12)
    fresh.tell(c, _res(40.0), 12)
    np.testing.assert_array_equal(asked.logits, fresh.logits)
    assert asked.baseline == fresh.baseline
    # the direction is c's own: its reward is below the baseline (the first advantage is 0), so the
    # second update lowers c's log-probability
    before = _make("reinforce", 0)
    before.tell(a, _res(90.0), 12)
    assert asked.log_prob(c) < before.log_prob(c)


# ---------------------------------------------------------------------- BOHB
def test_bohb_starts_the_next_bracket_instead_of_asking_a_promoted_cell_again():
    bohb = _make("bohb", 0, eta=3)  # brackets: 3 cells at 12 -> best 1 at 200; 2 cells at 200
    cells = [bohb.ask(1)[0] for _ in range(3)]
    assert all(bohb.fidelity_for(c) == 12 for c in cells)
    (extra,) = bohb.ask(1)  # the rung's 3 slots are in flight: the next bracket opens (200 epochs)
    assert bohb.fidelity_for(extra) == 200 and bohb.open_brackets == 2
    for c, acc in zip(reversed(cells), (60.0, 70.0, 50.0)):  # told in reverse order
        bohb.tell(c, _res(acc), 12)
    assert bohb.promoting
    assert bohb.ask(1) == [cells[1]] and bohb.fidelity_for(cells[1]) == 200  # the best, promoted
    (other,) = bohb.ask(1)  # promoted cell in flight: never asked again, the open bracket samples
    assert other != cells[1] and bohb.fidelity_for(other) == 200
    (third,) = bohb.ask(1)  # both brackets wait: a third opens, new cells at 12
    assert bohb.fidelity_for(third) == 12 and bohb.open_brackets == 3
    bohb.tell(other, _res(80.0), 200)
    bohb.tell(extra, _res(81.0), 200)  # bracket 2 of 200-epoch cells is complete
    assert bohb.open_brackets == 2
    bohb.tell(cells[1], _res(85.0), 200)  # the promotion, told last: bracket 1 is done
    assert bohb.open_brackets == 1 and not bohb.promoting and bohb.rung_fidelity == 12
    bohb.tell(third, _res(55.0), 12)
    assert bohb.ask(1) and bohb.ask(1)  # never nothing


def test_bohb_with_screened_out_proposals_frees_their_slots():
    bohb = _make("bohb", 0, eta=3)
    pf = PreFilter(bohb, lambda archs: -np.array([a.index for a in archs], dtype=float), n=5)
    firsts = [pf.ask(1)[0] for _ in range(3)]  # one slot each: the 4 screened out are given up
    assert all(bohb.fidelity_for(c) == 12 for c in firsts) and bohb.open_brackets == 1
    assert bohb.fidelity_for(pf.ask(1)[0]) == 200 and bohb.open_brackets == 2


def test_bohb_with_workers_asks_each_promotion_once(nb201_table):
    """Eight workers on the NB201 table's training times: every promoted cell is asked once by its
    bracket (the state machine before asynchronous workers asked it again at every ask until told: on
    NB201 cifar10 at 12,000 s with the default eta and 8 workers, about 36 of a run's 45 200-epoch
    evaluations were repeats). Two brackets may still promote the same cell (the model proposes a cell
    again), each evaluating it, as hpbandster and the sequential BOHB do."""
    for seed in range(4):
        bohb = _make("bohb", seed, eta=3)
        promotions: list = []
        original = bohb._ask_promotion

        def spy(br, arch, original=original, promotions=promotions):
            promotions.append((br.number, br.rung, arch))
            return original(br, arch)

        bohb._ask_promotion = spy
        done = simulate(bohb, nb201_table, workers=8, evaluations=120)
        assert len(done) == 120 and {f for _, f in done} == {12, 200}
        assert promotions and len(set(promotions)) == len(promotions)
        assert bohb.open_brackets >= 1


# ---------------------------------------------------------------------- Optuna
optuna = pytest.importorskip("optuna")
TrialState = optuna.trial.TrialState


def test_optuna_keeps_one_running_trial_per_pending_proposal_told_in_any_order():
    st = _make("optuna", 0, sampler="random")
    archs = [st.ask(1)[0] for _ in range(4)]
    assert [t.state for t in st.study.trials] == [TrialState.RUNNING] * 4 and st.forgotten == 0
    for i in (3, 1, 0, 2):
        st.tell(archs[i], _res(60.0 + i), 12)
    st.ask(1)  # nothing is failed: every proposal was told
    trials = st.study.trials
    assert [t.state for t in trials[:4]] == [TrialState.COMPLETE] * 4 and st.forgotten == 0
    assert [t.value for t in trials[:4]] == [60.0, 61.0, 62.0, 63.0]  # each to its own trial
    assert trials[4].state == TrialState.RUNNING


def test_optuna_two_running_trials_of_one_arch_are_each_told():
    st = _make("optuna", 0, sampler="random")
    params = dict(zip(st.space.config_names(), st.space.to_choices(Arch.from_index(1234))))
    st.study.enqueue_trial(params)
    st.study.enqueue_trial(params)
    a, b = st.ask(1)[0], st.ask(1)[0]
    assert a == b == Arch.from_index(1234)
    st.tell(a, _res(70.0), 12)
    trials = st.study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.RUNNING]
    st.tell(b, _res(70.0), 12)
    assert [t.value for t in st.study.trials] == [70.0, 70.0] and st.forgotten == 0


def test_optuna_behind_a_prefilter_fails_only_the_screened_out_with_asks_in_flight():
    st = _make("optuna", 0, sampler="random")
    pf = PreFilter(st, lambda archs: -np.array([a.index for a in archs], dtype=float), n=4)
    (a,) = pf.ask(1)
    (b,) = pf.ask(1)  # before a is told: a's 3 screened-out trials are failed, a's stays running
    states = [t.state for t in st.study.trials]
    assert states[:4].count(TrialState.FAIL) == 3 and states[:4].count(TrialState.RUNNING) == 1
    assert states[4:] == [TrialState.RUNNING] * 4 and st.forgotten == 3
    pf.tell(b, _res(75.0), 12)
    pf.tell(a, _res(65.0), 12)  # told after b
    pf.ask(1)
    complete = {t.number: t.value for t in st.study.trials if t.state == TrialState.COMPLETE}
    assert sorted(complete.values()) == [65.0, 75.0] and st.forgotten == 6
    assert max(complete, key=complete.get) >= 4 and min(complete, key=complete.get) < 4


# ---------------------------------------------------------------------- predictor and RoBoT
@pytest.mark.parametrize("name", ["predictor", "robot"])
def test_learning_strategies_never_propose_a_cell_in_flight(nb201_table, name):
    settings = (
        {"model_params": {"n_estimators": 5}, "num_init": 6}
        if name == "predictor"
        else {
            "featurizer": StandInFeaturizer(("a", "b")),
            "features": ["a", "b"],
            "bo_steps": 6,
            "num_weights": 300,
            "n_restarts": 0,
        }
    )
    st = get_strategy(name)(
        np.random.default_rng(0), space=nb201_table.space, fidelities=nb201_table.fidelities, **settings
    )
    told = []
    for _ in range(8):  # init / BO stage, then model / greedy stage
        round_ = [st.ask(1)[0] for _ in range(4)]
        assert len(set(round_)) == 4 and not set(round_) & set(told)
        for a in reversed(round_):
            st.tell(a, nb201_table.query(a, "cifar10", 12), 12)
            told.append(a)
    if name == "predictor":
        assert list(st.told_fitness()) == told  # in tell order, whatever the ask order
    else:
        assert st.exploiting


def test_robot_observes_a_weight_vector_whose_top_cell_is_in_flight(nb201_table):
    """One metric: every weight vector ranks one of two cells first (w > 0: the top cell, w < 0: the
    bottom one). Four asks before any tell: at least two weight vectors share a top cell in flight; the
    later ones propose the next cells of their ranking instead, and each weight vector is observed
    once, with the result told first of its top cell and its own proposal."""
    feat = StandInFeaturizer(("a",), seconds=0.0)
    st = get_strategy("robot")(
        np.random.default_rng(1),
        space=nb201_table.space,
        fidelities=nb201_table.fidelities,
        featurizer=feat,
        features=["a"],
        bo_steps=10,
        num_weights=200,
    )
    x = feat(st.pool)[:, 0]
    extremes = {st.pool[int(np.argmax(x))], st.pool[int(np.argmin(x))]}
    weights: list = []  # the weight vector of each ask, in ask order
    new_token = st._new_token
    st._new_token = lambda w: weights.append(w) or new_token(w)
    asked = [st.ask(1)[0] for _ in range(4)]
    assert len(set(asked)) == 4 and set(asked) & extremes and len(weights) == 4
    tops = [st.pool[int(np.argmax(x * w[0]))] for w in weights]
    assert len(set(tops)) < 4 and set(tops) <= extremes  # some top was in flight when asked again
    results = {a: nb201_table.query(a, "cifar10", 12).valid_acc for a in asked}
    for a in reversed(asked):
        st.tell(a, _res(results[a]), 12)
    W, F = st.observations()
    assert len(F) == 4  # every weight vector observed once, in the order its result came
    told = asked[::-1]
    for w, top, own in zip(weights, tops, asked):
        (j,) = [j for j in range(4) if np.array_equal(W[j], w)]
        first = min((top, own), key=told.index)  # its top cell or its own proposal, the first told
        assert F[j] == results[first]
