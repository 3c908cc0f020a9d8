"""The committed runs of the ``predictor`` strategy (BANANAS-style, :mod:`nasearch.strategies.predictor`)
reproduce bit for bit: the first runs of every predictor arm of ``experiments/predictors/search_3000``
come out again, every field of ``runs.csv`` (wall time and version aside) and every point of the
anytime curve in ``curves.csv``, through the code path the CLI used (the job's own Hydra overrides
from its ``.hydra/overrides.yaml``, :func:`nasearch.api.prepare`, then
:func:`nasearch.experiments.search._one_run`).

Why exact equality is right: the simulated clock, the incumbent and every accuracy are lookups and
sums of table values; the features are the one-hot encoding and proxy scores read from the tables
shipped with nasearch; the model is a seeded scikit-learn random forest run on one thread. A change
that makes the strategy cheaper (feature caching, a leaner forest) must leave every proposal, and so
every one of these values, unchanged.

The rerun is checked to be the committed arm first: the job's settings fingerprint equals the
folder's ``nasearch_run.json`` (the table's content hash and the proxies' code versions included).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STUDY = ROOT / "experiments" / "predictors" / "search_3000"
RUNS = 5
"""Runs 0..RUNS-1 of each arm (the predictor refits a 200-tree forest at every query)."""

ARMS = {
    "predictor_proxies": "predictor_proxies/0_experiment=learning_search,"
    "strategy.params.features=[encoding,meco,meco_opt,reg_swap,synflow],strategy=predictor",
    "predictor_proxies_synflow10": "predictor_proxies_synflow10/0_experiment=learning_search,proxy.n=10,proxy=synflow,"
    "strategy.params.features=[encoding,meco,meco_opt,reg_swap,synflow],strategy=predictor",
    "predictor_proxies_synflow100": "predictor_proxies_synflow100/0_experiment=learning_search,proxy.n=100,"
    "proxy=synflow,strategy.params.features=[encoding,meco,meco_opt,reg_swap,synflow],strategy=predictor",
    "predictor_proxies_ghn": "predictor_proxies_ghn/0_experiment=learning_search,"
    "strategy.params.features=[encoding,meco,meco_opt,reg_swap,synflow,ghn],strategy=predictor",
    "predictor_synflow100": "predictor_synflow100/0_experiment=learning_search,proxy.n=100,proxy=synflow,"
    "strategy=predictor",
    "predictor_synflow100_init5": "predictor_synflow100_init5/0_experiment=learning_search,proxy.n=100,proxy=synflow,"
    "strategy.params.num_init=5,strategy=predictor",
}
"""Every committed job folder of the study whose arm is the predictor strategy."""

RUNS_OF = {"predictor_proxies_ghn": 1}
"""Arms checked on fewer runs: the GHN arm embeds every candidate the predictor ranks with the shipped
GHN (one run is 20 to 40 s of CPU here), so its first run stands for the rest."""

SKIP_FIELDS = {"wall_seconds", "version"}
WHERE_NOT_RESULTS = {"workers", "progress"}
"""Overrides of the committed jobs that say how they ran, not what they computed."""


def _rows(path: Path) -> dict[int, dict[str, str]]:
    with open(path, newline="") as f:
        return {int(r["run"]): r for r in csv.DictReader(f)}


def _job_overrides(folder: Path) -> list[str]:
    from omegaconf import OmegaConf

    overrides = [str(o) for o in OmegaConf.to_container(OmegaConf.load(folder / ".hydra" / "overrides.yaml"))]
    return [o for o in overrides if o.split("=", 1)[0] not in WHERE_NOT_RESULTS]


def test_every_predictor_arm_of_the_study_is_checked():
    """A predictor arm added to the study later is checked too (or this fails naming it)."""
    found = set()
    for runs_csv in STUDY.glob("*/*/runs.csv"):
        with open(runs_csv, newline="") as f:
            first = next(csv.DictReader(f))
        if first["strategy"].split(":")[0] == "predictor":
            found.add(str(runs_csv.parent.relative_to(STUDY)))
    assert found == set(ARMS.values()), (
        f"predictor arms of {STUDY} not in ARMS: {sorted(found - set(ARMS.values()))}"
    )


@pytest.mark.parametrize("arm", list(ARMS))
def test_committed_predictor_runs_reproduce_bit_for_bit(arm, data_root, tmp_path, monkeypatch):
    import nasearch.api as nas
    from nasearch.experiments.search import _one_run
    from nasearch.results import _fmt
    from nasearch.runfolder import differences, read_fingerprint

    monkeypatch.setenv("NASEARCH_DATA", str(data_root))
    folder = STUDY / ARMS[arm]
    # a store of the test's own (proxy.store is not a result setting): the features' scores come from
    # the tables shipped with nasearch beneath it, nothing is computed
    cfg = nas.config(*_job_overrides(folder), f"proxy.store={tmp_path / 'scores.sqlite'}")
    plan = nas.prepare(cfg).state
    assert differences(read_fingerprint(folder), plan.fingerprint) == [], (
        f"the rerun is not the arm of {folder}"
    )

    runs, curves = _rows(folder / "runs.csv"), _rows(folder / "curves.csv")
    for i in range(RUNS_OF.get(arm, RUNS)):
        row, curve = _one_run(plan.bench, plan.spec, i)
        got = {k: _fmt(row.get(k)) for k in runs[i] if k not in SKIP_FIELDS}
        want = {k: v for k, v in runs[i].items() if k not in SKIP_FIELDS}
        assert got == want, f"{arm} run {i} differs from {folder / 'runs.csv'}"
        assert set(curve) == set(curves[i])
        got_curve = {k: _fmt(v) for k, v in curve.items()}
        assert got_curve == curves[i], (
            f"{arm} run {i}: the anytime curve differs from {folder / 'curves.csv'}"
        )
