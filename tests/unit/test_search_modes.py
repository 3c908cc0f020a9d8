"""Issue 39's search modes through the runner and the search task: simulated asynchronous workers,
budgeted (constrained) search, and the checks made before any run."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from nasearch.benchmarks import make_benchmark
from nasearch.benchmarks.base import Result
from nasearch.search import Budget, BudgetError, feasible_mask, run_search
from nasearch.strategies import get_strategy
from nasearch.strategies.base import Strategy
from nasearch.strategies.constrained import Constrained, ConstraintError
from nasearch.strategies.prefilter import PreFilter


@pytest.fixture(scope="module")
def nb201():
    return make_benchmark("nb201")


class Listed(Strategy):
    """Proposes the given cells in order; records the order of the tells."""

    name = "listed"

    def __init__(self, space, archs):
        super().__init__(np.random.default_rng(0), space=space)
        self.archs = list(archs)
        self.told: list = []

    def ask(self, n=1):
        return [self.archs.pop(0)]

    def tell(self, arch, result, fidelity):
        self.told.append(arch)


class Timed:
    """A benchmark over NB201's space whose training time per cell is given."""

    def __init__(self, bench, seconds):
        self.b, self.seconds = bench, seconds
        self.space, self.name, self.datasets = bench.space, "timed", bench.datasets
        self.fidelities, self.has_train_time = bench.fidelities, True

    def query(self, arch, dataset, fidelity=None):
        r = self.b.query(arch, dataset, fidelity)
        return Result(r.valid_acc, r.test_acc, self.seconds[arch])

    def column(self, dataset, metric, fidelity=None):
        return self.b.column(dataset, metric, fidelity)


def test_workers_finish_in_order_of_their_training_time(nb201):
    """Two workers, cells of 10, 1, 1, 1, 5 s: the first cell runs while the second worker finishes
    three short ones; tells come in finishing order and the clock jumps to each finish."""
    archs = [nb201.space.from_index(i) for i in (100, 200, 300, 400, 500, 600)]
    secs = dict(zip(archs, (10.0, 1.0, 1.0, 1.0, 5.0, 1.0)))
    strat = Listed(nb201.space, archs)
    traj = run_search(Timed(nb201, secs), strat, "cifar10", Budget(queries=5), workers=2)
    a = archs
    # worker 1: a0 (0-10); worker 2: a1 (0-1), a2 (1-2), a3 (2-3), a4 (3-8)
    assert strat.told == [a[1], a[2], a[3], a[4], a[0]]
    assert traj.sim_seconds == [1.0, 2.0, 3.0, 8.0, 10.0]
    assert traj.workers == 2 and traj.queries == 5


def test_time_budget_starts_nothing_after_it_and_finishes_what_runs(nb201):
    archs = [nb201.space.from_index(i) for i in (100, 200, 300, 400, 500)]
    secs = dict(zip(archs, (10.0, 4.0, 4.0, 4.0, 4.0)))
    strat = Listed(nb201.space, archs)
    traj = run_search(Timed(nb201, secs), strat, "cifar10", Budget(seconds=7.0), workers=2)
    # a1 0-4, a2 4-8 (started before 7), a0 0-10; at 8 the budget is spent: a3 never starts
    assert traj.sim_seconds == [4.0, 8.0, 10.0] and len(strat.told) == 3


@pytest.mark.parametrize("strategy", ["rs", "rea", "reinforce", "bohb"])
def test_one_worker_is_the_sequential_loop(nb201, strategy):
    """workers=1 against the default call: the same archs, clock and incumbents (the committed runs'
    bit-for-bit check is tests/reproduction)."""
    runs = []
    for kw in ({}, {"workers": 1}):
        s = get_strategy(strategy)(np.random.default_rng(3), space=nb201.space, fidelities=nb201.fidelities)
        runs.append(run_search(nb201, s, "cifar10", Budget(seconds=6000.0), **kw))
    assert runs[0].archs == runs[1].archs and runs[0].sim_seconds == runs[1].sim_seconds
    assert runs[0].final == runs[1].final


def test_more_workers_evaluate_more_cells_in_the_same_simulated_time(nb201):
    counts = []
    for k in (1, 4, 8):
        s = get_strategy("rea")(np.random.default_rng(1), space=nb201.space)
        counts.append(run_search(nb201, s, "cifar10", Budget(seconds=12000.0), workers=k).queries)
    assert counts[0] < counts[1] < counts[2]
    assert 3.0 < counts[1] / counts[0] < 5.0 and 6.0 < counts[2] / counts[0] < 10.0


def test_bad_worker_count_is_refused(nb201):
    s = get_strategy("rs")(np.random.default_rng(1), space=nb201.space)
    with pytest.raises(BudgetError, match="workers=0"):
        run_search(nb201, s, "cifar10", Budget(queries=3), workers=0)


def test_k8_runs_reproduce_in_another_process(tmp_path):
    """Same seed, K = 8: the same runs.csv (but wall time) from two separate processes."""
    outs = []
    for name in ("a", "b"):
        out = tmp_path / name
        subprocess.run([sys.executable, "-m", "nasearch.cli", "strategy=rea", "runs=4", "workers=2", "progress=false",
                        "search.simulated_workers=8", "budget.seconds=4000", f"hydra.run.dir={out}"], check=True,
                       capture_output=True)
        rows = (out / "runs.csv").read_text().splitlines()
        col = rows[0].split(",").index("wall_seconds")
        outs.append(sorted(",".join(c for j, c in enumerate(r.split(",")) if j != col) for r in rows[1:]))
    assert outs[0] == outs[1] and len(outs[0]) == 4
    assert "workers" in rows[0].split(",") and all(",8," in r for r in outs[0])


# ----------------------------------------------------------------------------------------- budgets
def test_constrained_search_evaluates_only_feasible_cells(nb201):
    flops = nb201.column("cifar10", "flops")
    bound = float(np.nanpercentile(flops, 25))
    mask = feasible_mask(nb201, "cifar10", {"flops": bound})
    assert mask.sum() == np.count_nonzero(flops <= bound)
    seen = []

    def spy(archs):
        seen.extend(archs)
        return np.array([float(a.index % 97) for a in archs])

    inner = get_strategy("rea")(np.random.default_rng(2), space=nb201.space)
    strat = PreFilter(Constrained(inner, mask), spy, n=10, k=1)
    traj = run_search(nb201, strat, "cifar10", Budget(queries=60))
    assert all(mask[a.index] for a in traj.archs)
    assert seen and all(mask[a.index] for a in seen), "the pre-filter screened an infeasible candidate"
    assert len(seen) >= 10 * 40  # n feasible candidates per screened proposal
    best_feasible = np.nanmax(np.where(mask, nb201.column("cifar10", "test_acc"), np.nan))
    assert traj.final["cifar10"] <= best_feasible


def test_constraint_errors_name_the_value(nb201):
    with pytest.raises(ConstraintError, match=r"flops=1 is infeasible.*smallest flops in the space is 7.78"):
        feasible_mask(nb201, "cifar10", {"flops": 1})
    with pytest.raises(ConstraintError, match="known only after training"):
        feasible_mask(nb201, "cifar10", {"valid_acc": 90})
    with pytest.raises(ConstraintError, match="did you mean 'latency'"):
        feasible_mask(nb201, "cifar10", {"latenc": 0.01})
    with pytest.raises(ConstraintError, match="a finite number"):
        feasible_mask(nb201, "cifar10", {"params": float("nan")})
    with pytest.raises(ConstraintError, match=r"flops=1 is infeasible: no cell .* has flops <= 1 \(the smallest"):
        feasible_mask(nb201, "cifar10", {"params": 100, "flops": 1})  # infeasible alone: not "together"


def test_search_task_refuses_bad_modes_before_any_run(tmp_path, capsys):
    from nasearch.cli import main

    cases = [
        (["search.constraints.flops=1"], "is infeasible"),
        (["search.constraints.test_acc=90"], "known only after training"),
        (["search.objectives=[valid_acc]"], "at least two metrics"),
        (["search.objectives=[valid_acc,test_acc]"], "not one it may select by"),
        (["search.objectives=[valid_acc,latncy]"], "did you mean 'latency'"),
        (["search.simulated_workers=0"], "search.simulated_workers=0"),
        (["strategy=mo_rea"], "is a multi-objective strategy and search.objectives is not set"),
        (["strategy=optuna", "strategy.params.sampler=cmaes", "search.objectives=[valid_acc,flops]"],
         "optimises a single objective"),
    ]
    for extra, needle in cases:
        out = tmp_path / "x"
        strategy = [] if any(e.startswith("strategy=") for e in extra) else ["strategy=rea"]
        with pytest.raises(SystemExit) as exc:
            main([*strategy, "runs=2", "workers=1", "progress=false", f"hydra.run.dir={out}", *extra])
        err = capsys.readouterr().err
        assert exc.value.code == 2 and needle in err and "Traceback" not in err, (extra, err)
        assert not out.exists(), "a refused run wrote its folder"


def test_the_readme_search_modes_snippet_runs_as_a_script(tmp_path):
    """README's "Parallel workers, budgets and several objectives" Python snippet, as a script without
    data (the embedded NB201 table), then what it returned checked: 20 runs, fronts of NB201 cells,
    hypervolume ratios in (0, 1]."""
    import os
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Parallel workers, budgets and several objectives"):]
    snippet = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    snippet += ("\nr = res.runs\nprint(len(r), float(r.hv_ratio.min()), float(r.hv_ratio.max()), "
                "min(len(str(f).split()) for f in r.front))\n")
    (tmp_path / "s.py").write_text(snippet, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "NASEARCH_DATA"}
    env["NASEARCH_CACHE"] = str(tmp_path / "cache")
    proc = subprocess.run([sys.executable, str(tmp_path / "s.py")], cwd=tmp_path, capture_output=True, text=True,
                          timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    n, lo, hi, size = proc.stdout.strip().splitlines()[-1].split()
    assert int(n) == 20 and 0.5 < float(lo) <= float(hi) <= 1.0 and int(size) >= 2


def test_constraints_column_keeps_the_bound_exactly(tmp_path):
    """The runs.csv arm column names the bound as given (NB201's FLOPs have many ties at a percentile:
    a rounded bound would name another feasible set), and every incumbent is within it."""
    import nasearch.api as nas

    bound = 19.57953
    res = nas.run("strategy=rea", "runs=3", "workers=1", "progress=false", f"search.constraints.flops={bound}",
                  out_dir=tmp_path / "c")
    assert set(res.runs["constraints"]) == {f"flops<={bound}"}
    bench = make_benchmark("nb201")
    flops = bench.column("cifar10", "flops")
    for inc in res.runs["incumbent"]:
        assert flops[bench.space.parse(inc).index] <= bound


def test_pareto_scorer_screens_by_proxy_and_cost_together(nb201):
    """A multi-objective pre-filter ranks candidates by non-dominated sorting of (proxy, -latency):
    the proxy's favourite is kept only where nothing is both faster and better by the proxy."""
    from nasearch.strategies.prefilter import ParetoScorer

    latency = nb201.column("cifar10", "latency")
    archs = [nb201.space.from_index(i) for i in (100, 2000, 4000, 8000, 12000)]

    def proxy(cells):
        return np.array([5.0, 4.0, 3.0, -np.inf, 1.0])[: len(cells)]

    lat = latency[[a.index for a in archs]]
    scores = ParetoScorer(proxy, -latency[:, None])(archs)
    assert scores[3] == -np.inf  # a cell the proxy cannot rate is never preferred
    for i in (0, 1, 2, 4):
        dominated = any(j != i and j != 3 and proxy(archs)[j] >= proxy(archs)[i] and lat[j] <= lat[i]
                        and (proxy(archs)[j] > proxy(archs)[i] or lat[j] < lat[i]) for j in range(5))
        assert (scores[i] == 0.0) == (not dominated), (i, scores, lat)
