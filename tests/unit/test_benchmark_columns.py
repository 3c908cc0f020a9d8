"""Outputs carry the benchmark's own datasets (tasks), in its order: ``runs.csv``, the summaries and
:func:`nasearch.api.load`. NB201's files are unchanged; folders written before (NB201's three datasets
in every ``runs.csv``) are still read, collected and resumed in their own layout."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

import nasearch.api as nas
from nasearch.benchmarks import make_benchmark
from nasearch.results import CURVE_FIELDS, _fmt, read_header, read_rows, row_fields
from nasearch.space.transnas101 import TASKS

REPO = Path(__file__).resolve().parents[2]
NB201_HEADER = (
    "benchmark,dataset,strategy,proxy,n,k,budget_seconds,budget_queries,fidelity,charge_time,seed,run,queries,"
    "sim_seconds,overhead_seconds,wall_seconds,incumbent,test_cifar10,test_cifar100,test_ImageNet16-120,"
    "valid_cifar10,valid_cifar100,valid_ImageNet16-120,version"
)
"""NB201's runs.csv header as every nasearch has written it (the committed NB201 studies have it)."""
RUN_COLUMNS = NB201_HEADER.split(",")[:17] + ["version"]
"""The columns of every runs.csv that are not accuracies."""
MACRO_SWEEP = REPO / "experiments" / "nasbench_macro" / "sweep"
MACRO_RS = MACRO_SWEEP / "0_benchmark=nasbench_macro,runs=500,strategy=rs"


def _accuracy_columns(header: list[str] | tuple[str, ...]) -> list[str]:
    return [c for c in header if c.startswith(("test_", "valid_"))]


def _summary_datasets(columns: list[str]) -> list[str]:
    return [c[len("mean_"):] for c in columns if c.startswith("mean_")]


def test_an_nb201_runs_csv_header_is_unchanged(tmp_path: Path) -> None:
    res = nas.run("strategy=rs", "runs=2", "progress=false", out_dir=tmp_path / "nb201")
    assert (tmp_path / "nb201" / "runs.csv").read_text().splitlines()[0] == NB201_HEADER
    assert list(res.runs.columns) == NB201_HEADER.split(",") + ["job"]
    assert _summary_datasets(list(res.summary.columns)) == ["cifar10", "cifar100", "ImageNet16-120"]
    # the committed NB201 studies carry the same header
    for runs in (REPO / "experiments" / "nb201_baselines" / "sweep").glob("*/runs.csv"):
        assert runs.read_text().splitlines()[0] == NB201_HEADER, runs


def test_a_nasbench_macro_search_records_only_cifar10(tmp_path: Path) -> None:
    out = tmp_path / "macro"
    res = nas.run("benchmark=nasbench_macro", "strategy=rea", "runs=3", "progress=false", out_dir=out)
    header = read_header(out / "runs.csv")
    assert _accuracy_columns(header) == ["test_cifar10", "valid_cifar10"]
    assert header == row_fields(("cifar10",)) == (*RUN_COLUMNS[:-1], "test_cifar10", "valid_cifar10", "version")
    rows = read_rows(out / "runs.csv", header)
    assert len(rows) == 3 and all(80 < float(r["test_cifar10"]) <= 100 for r in rows)
    assert read_header(out / "curves.csv") == CURVE_FIELDS
    assert _accuracy_columns(list(res.runs.columns)) == ["test_cifar10", "valid_cifar10"]
    assert res.runs["test_cifar10"].dtype.kind == "f"
    assert _summary_datasets(list(res.summary.columns)) == ["cifar10"]
    assert list(res.arms[0].mean) == ["cifar10"]
    assert res.table.splitlines()[0].count("cifar") == 1


def test_a_transnas_micro_search_records_its_seven_tasks(tmp_path: Path) -> None:
    out = tmp_path / "micro"
    res = nas.run("benchmark=transnas101_micro", "dataset.name=jigsaw", "strategy=rs", "runs=3", "progress=false",
                  out_dir=out)
    bench = make_benchmark("transnas101_micro")
    assert tuple(bench.datasets) == TASKS
    header = read_header(out / "runs.csv")
    assert header == row_fields(TASKS)
    assert _accuracy_columns(header) == [f"test_{t}" for t in TASKS] + [f"valid_{t}" for t in TASKS]
    assert not any(d in c for c in header for d in ("cifar", "ImageNet"))
    assert all(80 < float(r["test_jigsaw"]) <= 100 for r in read_rows(out / "runs.csv", header))
    assert _summary_datasets(list(res.summary.columns)) == list(TASKS)
    assert not any("cifar" in c or "ImageNet" in c for c in res.runs.columns)


def test_a_committed_macro_folder_resumes_in_its_own_layout(tmp_path: Path) -> None:
    """A NAS-Bench-Macro job folder written before (NB201's three datasets in its runs.csv) resumes: the
    rerun adds the missing runs with the file's header, empty cells where the benchmark has no such
    dataset, and the rows it had are kept byte for byte."""
    job = tmp_path / "job"
    shutil.copytree(MACRO_RS, job)
    before = (job / "runs.csv").read_text()
    curves_before = (job / "curves.csv").read_text()
    with open(job / "runs.csv", newline="") as fh:
        first = next(csv.DictReader(fh))
    # the committed arm, from its runs.csv columns and the study README's command
    assert (first["benchmark"], first["strategy"], first["proxy"], first["budget_queries"]) == (
        "nasbench_macro", "rs", "none", "100")
    args = ("benchmark=nasbench_macro", f"dataset.name={first['dataset']}", f"strategy={first['strategy']}",
            f"seed={first['seed']}", "workers=1", "progress=false")
    same = nas.run(*args, "runs=500", out_dir=job)  # nothing to compute
    assert (job / "runs.csv").read_text() == before
    assert len(same.runs) == 500
    more = nas.run(*args, "runs=503", out_dir=job)
    text = (job / "runs.csv").read_text()
    assert text.startswith(before) and text.count("\n") == 504
    assert (job / "curves.csv").read_text().startswith(curves_before)
    header = before.splitlines()[0]
    assert text.splitlines()[0] == header == NB201_HEADER
    rows = read_rows(job / "runs.csv", header.split(","))
    new = [r for r in rows if int(r["run"]) >= 500]
    assert [r["run"] for r in new] == ["500", "501", "502"]
    assert all(r[c] == "" for r in new for c in header.split(",") if "cifar100" in c or "ImageNet" in c)
    # the new rows are what a search in today's layout writes for those runs
    from nasearch.experiments.search import ArmSpec, _one_run
    from nasearch.search import Budget

    bench = make_benchmark("nasbench_macro")
    spec = ArmSpec(benchmark="nasbench_macro", benchmark_path=None, dataset="cifar10", strategy="rs",
                   strategy_params={}, proxy="none", n=1, k=1, budget=Budget(queries=100), fidelity=None,
                   charge_time=False, seed=0, runs=503)
    for r in new:
        row, _ = _one_run(bench, spec, int(r["run"]))
        assert set(row) <= set(r)
        assert {k: _fmt(v) for k, v in row.items() if k != "wall_seconds"} == {
            k: r[k] for k in row if k != "wall_seconds"}
    assert len(more.runs) == 503 and list(more.runs.columns) == NB201_HEADER.split(",") + ["job"]
    assert more.arms[0].runs == 503


def test_load_of_a_committed_macro_sweep_keeps_its_columns() -> None:
    res = nas.load(MACRO_SWEEP)
    assert list(res.runs.columns) == NB201_HEADER.split(",") + ["job"]
    assert len(res.runs) == 2000 and set(res.runs["benchmark"]) == {"nasbench_macro"}
    assert res.runs["test_cifar10"].dtype.kind == "f"
    with open(MACRO_SWEEP / "collected.csv", newline="") as fh:
        committed = list(csv.DictReader(fh))
    assert list(res.summary.columns) == list(committed[0])
    assert _summary_datasets(list(res.summary.columns)) == ["cifar10", "cifar100", "ImageNet16-120"]
    for got, want in zip(res.summary.to_dict("records"), committed, strict=True):
        assert (got["strategy"], got["runs"]) == (want["strategy"], int(want["runs"]))
        assert got["mean_cifar10"] == pytest.approx(float(want["mean_cifar10"]), abs=1e-4)
    assert res.table == (MACRO_SWEEP / "collected.md").read_text()


def test_collect_rewrites_a_committed_macro_sweep_identically(tmp_path: Path) -> None:
    from nasearch.results import collect

    sweep = tmp_path / "sweep"
    shutil.copytree(MACRO_SWEEP, sweep)
    collect(sweep)
    for name in ("collected.csv", "collected.md"):
        assert (sweep / name).read_text() == (MACRO_SWEEP / name).read_text(), name


def test_dataset_and_evolve_target_are_checked_against_the_benchmarks_tasks() -> None:
    from nasearch.config import ConfigError

    cfg = nas.config("benchmark=transnas101_micro", "dataset.name=jigsaw", "task=evolve", "evolve.target=class_scene")
    assert (cfg.dataset.name, cfg.evolve.target) == ("jigsaw", "class_scene")
    with pytest.raises(ConfigError, match=r"dataset.name='cifar100'.*one of cifar10 \(benchmark space 'nasbench_macro'\)"):
        nas.config("benchmark=nasbench_macro", "dataset.name=cifar100")
    with pytest.raises(ConfigError, match=r"evolve.target='cifar10'.*class_scene.*'transnas101_micro'"):
        nas.config("benchmark=transnas101_micro", "dataset.name=jigsaw", "task=evolve")
    with pytest.raises(ConfigError, match=r"evolve.target='ImageNet16-120'.*one of cifar10 \(benchmark space"):
        nas.config("benchmark=nasbench_macro", "task=evolve", "evolve.target=ImageNet16-120")
    assert nas.config("task=evolve", "evolve.target=ImageNet16-120").evolve.target == "ImageNet16-120"


def test_a_committed_transnas_folder_resumes_in_its_own_layout(tmp_path: Path) -> None:
    """TransNAS-Bench-101 files written before carry NB201's datasets first, then the seven tasks: a
    resumed job keeps that header; its new rows fill the tasks and leave NB201's columns empty."""
    from nasearch.experiments.search import ArmSpec, run_arm
    from nasearch.results import legacy_row_fields, read_run_rows
    from nasearch.search import Budget

    committed = REPO / "experiments" / "transnas101" / "sweep" / (
        "0_benchmark=transnas101_micro,dataset.name=class_scene,runs=500,strategy=rs")
    job = tmp_path / "job"
    shutil.copytree(committed, job)
    before = (job / "runs.csv").read_text()
    header = read_header(job / "runs.csv")
    assert header == legacy_row_fields(TASKS) != row_fields(TASKS)
    first = read_run_rows(job / "runs.csv")[0]
    assert (first["dataset"], first["strategy"], first["budget_queries"], first["seed"]) == ("class_scene", "rs", "100", "0")
    spec = ArmSpec(benchmark="transnas101_micro", benchmark_path=None, dataset="class_scene", strategy="rs",
                   strategy_params={}, proxy="none", n=1, k=1, budget=Budget(queries=100), fidelity=None,
                   charge_time=False, seed=0, runs=502)
    rows = run_arm(spec, job, progress=False)
    text = (job / "runs.csv").read_text()
    assert text.startswith(before) and text.count("\n") == 503 and read_header(job / "runs.csv") == header
    assert len(rows) == 502 and list(rows[-1]) == list(header)
    new = rows[500:]
    assert all(r[c] == "" for r in new for c in header if "cifar" in c or "ImageNet" in c)
    assert all(r[f"test_{t}"] != "" and r[f"valid_{t}"] != "" for r in new for t in TASKS)
