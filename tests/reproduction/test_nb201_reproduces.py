"""NB201 results are unchanged by the search-space interface: the first runs of the committed NB201
studies reproduce bit for bit (same seeds, same table), through the same code path the experiments
use (:func:`nasearch.experiments.search._one_run`).

Arms: the four vanilla baselines of ``experiments/nb201_baselines`` and REA + GradSign N = 10 of
``experiments/gradsign_table5`` (scores from the committed table
``experiments/score_tables/gradsign_cifar10_b64_seed0.csv.gz``, imported into a temporary store, so
no proxy is computed). Everything a run reports is compared exactly, except its wall time and the
package version; the simulated clock, the incumbent and every final accuracy are lookups and sums
of table values, so exact equality is right here (no float kernel is involved).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from committed_runs import assert_first_runs_reproduce, read_committed

ROOT = Path(__file__).resolve().parents[2]
EXP = ROOT / "experiments"
RUNS = 20

ARMS = {
    "rs": EXP / "nb201_baselines/sweep/0_runs=500,strategy=rs/runs.csv",
    "rea": EXP / "nb201_baselines/sweep/1_runs=500,strategy=rea/runs.csv",
    "reinforce": EXP / "nb201_baselines/sweep/2_runs=500,strategy=reinforce/runs.csv",
    "bohb": EXP / "nb201_baselines/sweep/3_runs=500,strategy=bohb/runs.csv",
    "rea+gradsign10": EXP / "gradsign_table5/sweep/1_experiment=gradsign_table5,proxy.n=10/runs.csv",
}
GRADSIGN_TABLE = EXP / "score_tables/gradsign_cifar10_b64_seed0.csv.gz"


@pytest.fixture(scope="module")
def gradsign_store(tmp_path_factory):
    from nasearch.scoring.store import ScoreStore
    from nasearch.scoring.tables import import_scores

    path = tmp_path_factory.mktemp("scores") / "scores.sqlite"
    with ScoreStore(path) as store:
        assert import_scores(store, GRADSIGN_TABLE) == 15284
    return path


@pytest.mark.parametrize("arm", list(ARMS))
def test_committed_nb201_runs_reproduce_bit_for_bit(nb201_table, gradsign_store, arm):
    from nasearch.scoring import ScoringSettings
    from nasearch.scoring.scorer import ArchScorer

    first = read_committed(ARMS[arm])[0]
    scorer = None
    if first["proxy"] != "none":
        scorer = ArchScorer(ScoringSettings(first["proxy"], nb201_table.space, first["dataset"]),
                            store_path=str(gradsign_store))
    assert_first_runs_reproduce(nb201_table, ARMS[arm], scorer, RUNS)
