"""Summaries of collected runs: vanilla arms configured with different proxies are one arm."""

from __future__ import annotations

import logging

import numpy as np

from nasearch.results import FACTORS, markdown_table, row_fields, summarize

ROW_FIELDS = row_fields(("cifar10", "cifar100", "ImageNet16-120"))
"""NB201's runs.csv columns (its datasets, in its order)."""


def _rows(proxy: str, n: int, acc: np.ndarray, incumbent: str = "|a|") -> list[dict[str, str]]:
    base = {f: "" for f in ROW_FIELDS}
    base.update(benchmark="nb201", dataset="cifar10", strategy="rea", k="1", budget_seconds="12000.0",
                fidelity="12", charge_time="False", seed="0", queries="100", sim_seconds="12000",
                overhead_seconds="0", wall_seconds="0.01", version="0.1.0")
    out = []
    for i, a in enumerate(acc):
        r = dict(base, proxy=proxy, n=str(n), run=str(i), incumbent=incumbent, test_cifar10=f"{a:.4f}")
        r["test_cifar100"] = r["test_ImageNet16-120"] = "50.0"
        out.append(r)
    return out


def test_vanilla_jobs_of_a_proxy_sweep_collapse_into_one_arm(caplog):
    rng = np.random.default_rng(0)
    vanilla = 93.5 + rng.normal(0, 0.3, 40)
    assisted = vanilla + 0.2 + rng.normal(0, 0.05, 40)
    rows = (
        _rows("zico", 1, vanilla) + _rows("synflow", 1, vanilla)
        + _rows("zico", 10, assisted) + _rows("synflow", 10, assisted - 0.1)
    )
    summaries = summarize(rows)
    labels = [s.label for s in summaries]
    assert labels == ["rea", "rea+synflow (N=10)", "rea+zico (N=10)"]
    assert summaries[0].runs == 40 and summaries[0].factors["proxy"] == "none"
    for s in summaries[1:]:
        assert s.vanilla == "rea" and s.p_value is not None and s.p_value < 1e-6
    assert markdown_table(summaries).count("\n") == 2 + 3
    # the same run index with a different result from two vanilla jobs is reported, first one kept
    bad = _rows("zico", 1, vanilla) + _rows("synflow", 1, vanilla + 1.0, incumbent="|b|")
    with caplog.at_level(logging.WARNING, logger="nasearch.results"):
        (only,) = summarize(bad)
    assert only.runs == 40 and abs(only.mean["cifar10"] - vanilla.mean()) < 1e-3
    assert "appears twice with different results" in caplog.text


def test_proxy_none_rows_keep_their_n():
    acc = np.linspace(93.0, 94.0, 10)
    rows = _rows("none", 10, acc) + _rows("none", 100, acc) + _rows("gradsign", 10, acc + 0.1)
    summaries = summarize(rows)
    assert sorted((s.factors["proxy"], s.factors["n"]) for s in summaries) == [
        ("gradsign", "10"), ("none", "10"), ("none", "100")
    ]
    assert set(FACTORS) <= set(summaries[0].factors)
    assert [s.label for s in summaries] == ["rea (vanilla, N=10 sweep)", "rea (vanilla, N=100 sweep)", "rea+gradsign (N=10)"]


def test_charged_arm_is_its_own_arm_and_label():
    acc = np.linspace(93.0, 94.0, 10)
    charged = [dict(r, charge_time="True") for r in _rows("gradsign", 10, acc - 0.1)]
    rows = _rows("gradsign", 1, acc) + _rows("gradsign", 10, acc + 0.1) + charged
    summaries = summarize(rows)
    assert [s.label for s in summaries] == ["rea", "rea+gradsign (N=10)", "rea+gradsign (N=10, proxy time charged)"]
    # both assisted arms are tested against the one vanilla arm
    assert [s.vanilla for s in summaries[1:]] == ["rea", "rea"]
    assert all(s.p_value is not None for s in summaries[1:])


def test_a_transnas_sweep_records_and_collects_its_task_values(tmp_path):
    """runs.csv of a benchmark whose datasets are not NB201's keeps their values (TransNAS-Bench-101's
    tasks were dropped before: empty columns and an empty collected table) and carries only its own
    tasks; NB201's header is unchanged; older layouts (NB201's datasets in every file) still read."""
    from nasearch.experiments.search import ArmSpec, run_arm
    from nasearch.results import collect, legacy_row_fields, read_run_rows
    from nasearch.search import Budget
    from nasearch.space.transnas101 import TASKS

    assert legacy_row_fields(("cifar10", "cifar100", "ImageNet16-120")) == ROW_FIELDS
    assert legacy_row_fields(("cifar10",)) == ROW_FIELDS  # NAS-Bench-Macro files written before
    assert row_fields(("cifar10",)) == tuple(f for f in ROW_FIELDS if "cifar100" not in f and "ImageNet" not in f)
    for strategy in ("rs", "rea"):
        spec = ArmSpec(benchmark="transnas101_micro", benchmark_path=None, dataset="jigsaw", strategy=strategy,
                       strategy_params={}, proxy="none", n=1, k=1, budget=Budget(queries=20), fidelity=None,
                       charge_time=False, seed=0, runs=4)
        rows = run_arm(spec, tmp_path / strategy, progress=False)
        assert len(rows) == 4
        assert all(float(r["test_jigsaw"]) > 80 and "test_cifar10" not in r for r in rows)
        assert read_run_rows(tmp_path / strategy / "runs.csv") == rows
    summaries = collect(tmp_path)
    assert {s.factors["strategy"] for s in summaries} == {"rs", "rea"}
    for s in summaries:
        assert list(s.mean) == list(TASKS) and 80 < s.mean["jigsaw"] <= 100
    header = (tmp_path / "collected.csv").read_text().splitlines()[0].split(",")
    assert "mean_jigsaw" in header and "mean_cifar10" not in header
    assert [c[len("mean_"):] for c in header if c.startswith("mean_")] == list(TASKS)
    assert "jigsaw" in markdown_table(summaries).splitlines()[0]
