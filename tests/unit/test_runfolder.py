"""Output folders that cannot lie (nasearch.runfolder): for every task that resumes, a rerun with one
changed setting into the same folder is refused before any file changes (both values named), the same
settings resume, and ``overwrite=true`` keeps the old results aside. Sweeps and folders written before
settings records existed too."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from nasearch.cli import main
from nasearch.runfolder import FINGERPRINT_FILE

REPO = Path(__file__).resolve().parents[2]


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _fresh_logging() -> None:
    """Each call stands for a separate `nasearch` process: drop the handlers (log file, stderr) an
    earlier in-process Hydra job attached."""
    import logging

    for logger in (logging.getLogger(), *(logging.getLogger(n) for n in list(logging.root.manager.loggerDict))):
        for h in list(getattr(logger, "handlers", [])):
            if isinstance(h, logging.FileHandler):
                h.close()
            logger.removeHandler(h)


def cli(capsys, *args: str) -> tuple[int, str, str]:
    _fresh_logging()
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    _fresh_logging()
    return code, out, err


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NASEARCH_CACHE", str(tmp_path / "cache"))


def assert_refused(capsys, folder: Path, args: list[str], *needles: str) -> None:
    before = snapshot(folder)
    code, _out, err = cli(capsys, *args)
    assert code == 2, err
    assert "nasearch: error: " in err and "Traceback" not in err
    for n in needles:
        assert n in err, (n, err)
    assert snapshot(folder) == before, "a refused rerun changed files"


def aside(folder: Path) -> list[Path]:
    return sorted(folder.parent.glob(folder.name + ".replaced-*"))


# --------------------------------------------------------------------------------------------- search
SEARCH = ["runs=6", "workers=1", "progress=false"]


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ("strategy=rs", "strategy.name: 'rea' in the folder, 'rs' in this run"),
        ("seed=1", "seed: 0 in the folder, 1 in this run"),
        ("benchmark=nasbench_macro", "benchmark.name: 'nb201' in the folder, 'nasbench_macro' in this run"),
    ],
)
def test_search_rerun_with_other_settings_is_refused(tmp_path, capsys, change, needle):
    """The issue's reproduction: REA into w1, then RS / seed=1 / NAS-Bench-Macro into w1."""
    w1 = tmp_path / "w1"
    assert cli(capsys, "strategy=rea", *SEARCH, f"hydra.run.dir={w1}")[0] == 0
    args = ["strategy=rea", *SEARCH, f"hydra.run.dir={w1}", change]
    if change.startswith("benchmark"):
        args += ["budget.seconds=null", "budget.queries=20"]
    assert_refused(capsys, w1, args, needle, "overwrite=true")


def test_search_same_settings_resume_and_runs_may_grow(tmp_path, capsys):
    w1 = tmp_path / "w1"
    assert cli(capsys, "strategy=rea", *SEARCH, f"hydra.run.dir={w1}")[0] == 0
    rows = (w1 / "runs.csv").read_text().splitlines()
    assert len(rows) == 7
    code, out, _ = cli(capsys, "strategy=rea", *SEARCH, f"hydra.run.dir={w1}")
    assert code == 0 and (w1 / "runs.csv").read_text().splitlines() == rows  # nothing recomputed
    code, out, _ = cli(capsys, "strategy=rea", "runs=9", "workers=1", "progress=false", f"hydra.run.dir={w1}")
    grown = (w1 / "runs.csv").read_text().splitlines()
    assert code == 0 and len(grown) == 10 and grown[:7] == rows and "| 9 |" in out
    # fewer runs than the folder holds would summarise runs nobody asked for
    assert_refused(capsys, w1, ["strategy=rea", "runs=3", "workers=1", f"hydra.run.dir={w1}"],
                   "runs: 9 in the folder, 3 in this run")


def test_search_overwrite_moves_the_old_results_aside(tmp_path, capsys):
    w1 = tmp_path / "w1"
    assert cli(capsys, "strategy=rea", *SEARCH, f"hydra.run.dir={w1}")[0] == 0
    old = snapshot(w1)
    code, _, err = cli(capsys, "strategy=rs", *SEARCH, f"hydra.run.dir={w1}", "overwrite=true")
    assert code == 0, err
    (moved,) = aside(w1)
    assert snapshot(moved) == old  # kept whole, not deleted
    assert {r.split(",")[2] for r in (w1 / "runs.csv").read_text().splitlines()[1:]} == {"rs"}


def test_python_api_checks_the_folder_too(tmp_path):
    import nasearch.api as nas
    from nasearch.runfolder import FolderError

    out = tmp_path / "api"
    res = nas.run("strategy=rea", *SEARCH, out_dir=out)
    before = snapshot(out)
    with pytest.raises(FolderError, match="seed: 0 in the folder, 2 in this run"):
        nas.run("strategy=rea", *SEARCH, "seed=2", out_dir=out)
    assert snapshot(out) == before
    again = nas.run("strategy=rea", *SEARCH, out_dir=out)
    assert again.runs.equals(res.runs)


# ---------------------------------------------------------------------------------------------- sweeps
def test_sweep_rerun_with_other_settings_is_refused_before_any_job(tmp_path, capsys):
    sweep = tmp_path / "sw"
    base = ["-m", "strategy=rs,rea", "runs=4", "workers=1", "progress=false", f"hydra.sweep.dir={sweep}"]
    assert cli(capsys, *base)[0] == 0
    assert len(list(sweep.rglob("runs.csv"))) == 2
    assert_refused(capsys, sweep, [*base, "seed=3"], "seed: 0 in the folder, 3 in this run")
    before = snapshot(sweep)
    assert cli(capsys, *base)[0] == 0  # the same sweep resumes: every job already done
    after = snapshot(sweep)
    assert {k: v for k, v in after.items() if k.endswith("runs.csv")} == {
        k: v for k, v in before.items() if k.endswith("runs.csv")}
    # a sweep that adds an arm extends the folder
    assert cli(capsys, "-m", "strategy=rs,rea,reinforce", *base[2:])[0] == 0
    assert len(list(sweep.rglob("runs.csv"))) == 3


def test_legacy_sweep_folder_is_read_as_it_is(tmp_path, capsys):
    """A committed study folder (no settings records): the same arm adopts it; another is refused
    naming the runs.csv columns that differ."""
    src = REPO / "experiments" / "headline" / "sweep"
    sweep = tmp_path / "headline"
    shutil.copytree(src, sweep)
    assert not list(sweep.rglob(FINGERPRINT_FILE))
    assert_refused(capsys, sweep, ["experiment=headline", "seed=5", "runs=3", f"hydra.sweep.dir={sweep}"],
                   "runs.csv", "'seed': '0'")
    runs = {k: v for k, v in snapshot(sweep).items() if k.endswith("runs.csv")}
    code, out, err = cli(capsys, "experiment=headline", f"hydra.sweep.dir={sweep}")  # the same two arms
    assert code == 0, err
    assert {k: v for k, v in snapshot(sweep).items() if k.endswith("runs.csv")} == runs  # adopted, nothing rerun
    assert "94.16 +- 0.41" in out


# --------------------------------------------------------------------------------- the other tasks
def _mpi(tmp_path: Path, *extra: str) -> list[str]:
    return ["task=mpi", "mpi.cells=5", "mpi.proxies=[params,flops]", "workers=1", "progress=false",
            f"hydra.run.dir={tmp_path / 'mpi'}", *extra]


def test_mpi_rerun_refused_resumed_overwritten(tmp_path, capsys):
    folder = tmp_path / "mpi"
    assert cli(capsys, *_mpi(tmp_path))[0] == 0
    table = (folder / "mpi.csv").read_text()
    assert_refused(capsys, folder, _mpi(tmp_path, "mpi.cells=6"), "mpi.cells: 5 in the folder, 6 in this run")
    assert_refused(capsys, folder, _mpi(tmp_path, "seed=1"), "seed: 0 in the folder, 1 in this run")
    assert cli(capsys, *_mpi(tmp_path))[0] == 0 and (folder / "mpi.csv").read_text() == table
    assert cli(capsys, *_mpi(tmp_path, "mpi.cells=6", "overwrite=true"))[0] == 0
    assert (aside(folder)[0] / "mpi.csv").read_text() == table


def _score(tmp_path: Path, *extra: str) -> list[str]:
    return ["task=score", "proxy=params", "score.sample=4", "workers=1", "progress=false",
            f"hydra.run.dir={tmp_path / 'score'}", *extra]


def test_score_rerun_refused_resumed_overwritten(tmp_path, capsys):
    folder = tmp_path / "score"
    assert cli(capsys, *_score(tmp_path))[0] == 0
    table = (folder / "scores_params.csv").read_text()
    assert_refused(capsys, folder, _score(tmp_path, "proxy=flops"), "proxy.name: 'params' in the folder, 'flops'")
    assert_refused(capsys, folder, _score(tmp_path, "score.sample=5"), "score.sample: 4 in the folder, 5 in this run")
    assert cli(capsys, *_score(tmp_path))[0] == 0 and (folder / "scores_params.csv").read_text() == table
    assert cli(capsys, *_score(tmp_path, "proxy=flops", "overwrite=true"))[0] == 0
    assert (aside(folder)[0] / "scores_params.csv").read_text() == table


def test_train_ghn_rerun_refused_resumed_overwritten(tmp_path, capsys, data_root):
    folder = tmp_path / "ghn"

    def args(*extra: str) -> list[str]:
        return ["task=train_ghn", "ghn.steps=2", "ghn.batch=4", "ghn.every=1", "ghn.holdout=16", "ghn.eval_cells=1",
                "ghn.eval_images=8", "ghn.hidden=8", "ghn.message_hidden=8", "ghn.hyper_hidden=8", "progress=false",
                f"ghn.checkpoint={tmp_path / 'ghn.pt'}", f"hydra.run.dir={folder}", *extra]

    code, _, err = cli(capsys, *args())
    assert code == 0, err
    assert_refused(capsys, folder, args("ghn.lr=0.01"), "ghn.lr: 0.001 in the folder, 0.01 in this run")
    code, out, _ = cli(capsys, *args())
    assert code == 0 and "GHN at step 2 of 2" in out
    assert cli(capsys, *args("ghn.seed=1", f"ghn.checkpoint={tmp_path / 'ghn1.pt'}", "overwrite=true"))[0] == 0
    assert (aside(folder)[0] / "summary.md").read_text().startswith("GHN at step 2")


def test_evolve_rerun_refused_resumed_overwritten(tmp_path, capsys, data_root):
    folder = tmp_path / "ev"

    def args(*extra: str) -> list[str]:
        return ["task=evolve", "evolve.cells=4", "evolve.validation_cells=3", "evolve.population=4",
                "evolve.offspring=4", "evolve.generations=1", "evolve.init_max_depth=2", "evolve.batch_size=2",
                "evolve.workers=1", f"evolve.cache_dir={tmp_path / 'cache_ev'}", f"hydra.run.dir={folder}",
                "progress=false", *extra]

    code, _, err = cli(capsys, *args())
    assert code == 0, err
    hof = (folder / "hall_of_fame.csv").read_text()
    assert_refused(capsys, folder, args("evolve.seed=1"), "evolve.seed: 0 in the folder, 1 in this run")
    assert cli(capsys, *args())[0] == 0 and (folder / "hall_of_fame.csv").read_text() == hof
    assert cli(capsys, *args("evolve.seed=1", "overwrite=true"))[0] == 0
    assert (aside(folder)[0] / "hall_of_fame.csv").read_text() == hof


def test_damaged_record_is_named(tmp_path, capsys):
    w1 = tmp_path / "w1"
    assert cli(capsys, "strategy=rea", *SEARCH, f"hydra.run.dir={w1}")[0] == 0
    (w1 / FINGERPRINT_FILE).write_text("{not json")
    assert_refused(capsys, w1, ["strategy=rea", *SEARCH, f"hydra.run.dir={w1}"], FINGERPRINT_FILE, "damaged")


def test_setting_added_later_matches_a_record_without_it(tmp_path):
    """A folder recorded before ``proxy.network`` existed resumes when this run leaves it at its default
    (the behaviour the folder was written under) and is refused when this run sets it."""
    from nasearch.runfolder import ADDED_LATER, FolderError, check_folder, write_fingerprint

    assert ADDED_LATER["proxy.network"] is None
    old = {"task": "score", "proxy.name": "synflow"}
    write_fingerprint(tmp_path / "f", old)
    assert check_folder(tmp_path / "f", {**old, "proxy.network": None}) == "resume"
    with pytest.raises(FolderError, match="proxy.network: None in the folder, 'class_scene' in this run"):
        check_folder(tmp_path / "f", {**old, "proxy.network": "class_scene"})
    with pytest.raises(FolderError, match=r"other: '\(not recorded\)' in the folder"):
        check_folder(tmp_path / "f", {**old, "other": 1})
