"""Shared check of the committed studies: the first runs of a committed ``runs.csv`` come out again
field for field (wall time and version aside) through the code path the experiments use
(:func:`nasearch.experiments.search._one_run`). Used by test_nb201_reproduces and test_nasbench_macro."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from nasearch.results import _fmt, read_header
from nasearch.search import Budget

SKIP_FIELDS = {"wall_seconds", "version"}


def read_committed(path: Path) -> dict[int, dict[str, str]]:
    with open(path, newline="") as f:
        return {int(r["run"]): r for r in csv.DictReader(f)}


def assert_first_runs_reproduce(bench: Any, runs_csv: Path, scorer: Any, runs: int) -> None:
    """Rerun runs 0..runs-1 of the arm in ``runs_csv`` on ``bench`` (``scorer``: an ArchScorer for an
    assisted arm, else None) and compare every field with the committed row."""
    from nasearch.experiments.search import ArmSpec, _one_run

    committed = read_committed(runs_csv)
    first = committed[0]
    budget = Budget(
        seconds=float(first["budget_seconds"]) if first["budget_seconds"] else None,
        queries=int(first["budget_queries"]) if first["budget_queries"] else None,
    )
    spec = ArmSpec(
        benchmark=first["benchmark"], benchmark_path=None, dataset=first["dataset"], strategy=first["strategy"],
        strategy_params={}, proxy=first["proxy"], n=int(first["n"]), k=int(first["k"]), budget=budget,
        fidelity=None, charge_time=first["charge_time"] == "True", seed=int(first["seed"]), runs=len(committed),
        scorer=scorer,
    )
    # every field the committed file has (written before runs.csv carried only its benchmark's datasets:
    # NB201's three in every file, empty where the benchmark has no such dataset), and every field of
    # the rerun row is one of them
    header = read_header(runs_csv)
    for i in range(runs):
        row, _curve = _one_run(bench, spec, i)
        assert set(row) <= set(header), f"run {i} has fields {sorted(set(row) - set(header))} {runs_csv} lacks"
        got = {k: _fmt(row.get(k)) for k in header if k not in SKIP_FIELDS}
        want = {k: committed[i][k] for k in got}
        assert got == want, f"run {i} differs from {runs_csv}"
