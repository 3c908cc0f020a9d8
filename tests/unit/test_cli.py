"""The command line: bad input ends with one clear paragraph, no traceback, exit code != 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BAD_ARCH = "|nor_conv_3x3~0|+|none~0|bad~1|+|none~0|none~1|none~2|"


def nasearch(*args: str, cwd: Path, data: str | None = None, timeout: int = 240) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "NASEARCH_DATA"}
    if data is not None:
        env["NASEARCH_DATA"] = data
    return subprocess.run(
        [sys.executable, "-m", "nasearch.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_clean_failure(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    assert proc.returncode != 0, proc.stdout + proc.stderr
    err = proc.stderr
    assert "Traceback" not in err, err
    assert "nasearch: error:" in err, err
    msg = err[err.index("nasearch: error:") :].strip()
    assert "\n" not in msg, f"not one paragraph: {msg!r}"
    for f in fragments:
        assert f in msg, (f, msg)


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["benchmark=nope"], ["'nope'", "benchmark", "analognas", "nb201"]),
        (["budget.seconds=-5"], ["budget.seconds", "-5", "positive"]),
        (["strategy=nope"], ["strategy", "'nope'", "rea"]),
        (["proxy.n=0"], ["proxy.n", "0", ">= 1"]),
        (["proxy=gradsign", "proxy.n=2", "proxy.k=3"], ["proxy.k", "k <= N"]),
        (["proxy.n=abc"], ["proxy.n", "abc"]),
        (["benchmark=nb201", "benchmark.path=/nonexistent/nb201.csv.gz"], ["/nonexistent/nb201.csv.gz", "NASEARCH_DATA"]),
        (["query", BAD_ARCH], [repr(BAD_ARCH), "bad", "nor_conv_3x3"]),
        # an arch string of another space (a NAS-Bench-Macro key): value, nb201's forms, where from
        (["query", "01201220"], ["'01201220'", "nb201", "|op~0|+|op~0|op~1|", "nasearch query ARCH", "0..15624"]),
        (["query", "64-41414-3_33_333"], ["'64-41414-3_33_333'", "nb201", "|op~0|+|op~0|op~1|", "nasearch query ARCH"]),
        (["-m", "strategy=rs,nope", "runs=2"], ["'nope'", "strategy"]),
        (["-m", "proxy=params", "proxy.n=1,0", "runs=2"], ["proxy.n", ">= 1"]),
        # a preset with hydra.mode=MULTIRUN sweeps without -m, and its sweep is checked the same way
        (["experiment=headline", "proxy.n=1,0", "runs=2"], ["proxy.n", ">= 1"]),
    ],
)
def test_bad_input_fails_clearly(tmp_path, args, fragments):
    proc = nasearch(*args, cwd=tmp_path)
    assert_clean_failure(proc, *fragments)
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").rglob("runs.csv"))
    assert not (tmp_path / "multirun").exists() or not any((tmp_path / "multirun").rglob("runs.csv"))


def test_missing_data_folder_for_nb201(tmp_path):
    proc = nasearch("benchmark=nb201", "runs=2", cwd=tmp_path, data=str(tmp_path / "nowhere"))
    assert_clean_failure(proc, str(tmp_path / "nowhere"), "nb201.csv.gz")


def test_time_budget_on_analognas_is_refused(tmp_path):
    proc = nasearch("benchmark=analognas", "budget.seconds=12000", "budget.queries=null", "runs=2", cwd=tmp_path)
    assert_clean_failure(proc, "analognas", "query")


def test_query_prints_all_datasets(tmp_path, data_root):
    proc = nasearch(
        "query",
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
        cwd=tmp_path,
        data=str(data_root),
    )
    assert proc.returncode == 0, proc.stderr
    assert "ImageNet16-120" in proc.stdout and "200 epochs" in proc.stdout


def test_listings(tmp_path):
    proc = nasearch("proxies", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for name in ("gradsign", "zico", "synflow", "naswot", "jacob_cov", "flops"):
        assert name in proc.stdout
    proc = nasearch("strategies", cwd=tmp_path)
    assert proc.returncode == 0
    for name in ("rs", "rea", "reinforce", "bohb"):
        assert name in proc.stdout


@pytest.mark.parametrize(
    "args, expected",
    [
        (["experiment=gradsign_table5"], {("gradsign", 1), ("gradsign", 10), ("gradsign", 100)}),
        (["experiment=zico_synflow_table5"], {(p, n) for p in ("zico", "synflow") for n in (1, 10, 100)}),
        (["experiment=zico_synflow_table5", "proxy=synflow"], {("synflow", 1), ("synflow", 10), ("synflow", 100)}),
        (["experiment=gradsign_table5", "proxy.n=10,20"], {("gradsign", 10), ("gradsign", 20)}),
        (["experiment=headline"], {("gradsign", 1), ("gradsign", 10)}),
        (["experiment=eznas_table5"], {("eznas", 1), ("eznas", 10), ("eznas", 100)}),
        # a swept preset contributes no sweep params (Hydra reads them from the primary config)
        (["experiment=gradsign_table5,zico_synflow_table5"], {("gradsign", 1), ("zico", 1)}),
    ],
)
def test_preset_sweeps_are_checked_up_front(monkeypatch, data_root, args, expected):
    """A preset's hydra.sweeper.params is expanded before any job starts (a command line wins)."""
    from nasearch.cli import validate_overrides

    monkeypatch.setenv("NASEARCH_DATA", str(data_root))
    jobs = validate_overrides(args, multirun=True)
    assert {(c.proxy.name, c.proxy.n) for c in jobs} == expected
    assert all(c.strategy.name == "rea" and c.runs == 500 for c in jobs)


# ------------------------------------------------------------------------ bad input, everywhere
# One table: every case builds its input under tmp_path, runs `nasearch ...` in a subprocess and must
# end with one paragraph naming the value (exit != 0, no traceback), leaving files already there as
# they were. All fail before any heavy work.
def _gz(path: Path, text: str) -> Path:
    import gzip

    with gzip.open(path, "wt") as fh:
        fh.write(text)
    return path


def _store_with_rows(path: Path) -> Path:
    from nasearch.scoring import score_cells
    from nasearch.scoring.store import ScoreStore
    from nasearch.space import get_space

    space = get_space("nb201")
    with ScoreStore(path) as store:
        score_cells([space.from_index(i) for i in (3001, 6002, 9003)], "params", data_free=True, progress=False,
                    store=store, space="nb201")
    import sqlite3

    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def _damaged_store(path: Path) -> Path:
    _store_with_rows(path)
    size = path.stat().st_size
    with open(path, "r+b") as fh:  # keep the 4 KiB header page, garble the rest
        fh.seek(4096)
        fh.write(b"\xa5" * max(4096, size - 4096))
    return path


def _data_with_cifar(tmp: Path, data_root: Path, batch: bytes) -> Path:
    root = tmp / "data"
    (root / "cifar-10-batches-py").mkdir(parents=True)
    (root / "nb201").symlink_to(data_root / "nb201")
    (root / "cifar-10-batches-py" / "data_batch_1").write_bytes(batch)
    (root / "cifar-10-batches-py" / "test_batch").write_bytes(batch)
    return root


def _case(tmp: Path, data_root: Path, name: str):
    """(args, fragments, NASEARCH_DATA or None, files that must be left unchanged)."""
    real_gz = data_root / "nb201" / "nb201.csv.gz"
    cases = {
        "unknown benchmark": lambda: (["benchmark=nope"], ["benchmark", "'nope'", "nb201"]),
        "unknown dataset": lambda: (["dataset=nope"], ["dataset", "'nope'", "cifar10"]),
        "unknown strategy": lambda: (["strategy=nope"], ["strategy", "'nope'", "rea"]),
        "unknown proxy": lambda: (["proxy=nope"], ["proxy", "'nope'", "zico"]),
        "unknown experiment": lambda: (["experiment=nope"], ["experiment", "'nope'", "gradsign_table5"]),
        "unknown task": lambda: (["task=nope"], ["task", "nope", "search"]),
        "runs=abc": lambda: (["runs=abc"], ["runs", "abc"]),
        "runs=-1": lambda: (["runs=-1"], ["runs", "-1", ">= 1"]),
        "seed=1.5": lambda: (["seed=1.5"], ["seed", "1.5"]),
        "workers=-1": lambda: (["workers=-1"], ["workers", "-1", ">= 0"]),
        "truncated nb201 table": lambda: (
            ["benchmark=nb201", f"benchmark.path={_trunc(tmp / 't.csv.gz', real_gz)}", "runs=1"],
            [str(tmp / "t.csv.gz")]),
        "column-less nb201 table": lambda: (
            ["benchmark=nb201", f"benchmark.path={_gz(tmp / 'c.csv.gz', 'a,b' + chr(10) + '1,2' + chr(10))}",
             "runs=1"], [str(tmp / "c.csv.gz"), "column"]),
        "truncated CIFAR batch": lambda: (
            ["task=mpi", "mpi.cells=3", "mpi.proxies=[jacob_cov]", "workers=1",
             f"proxy.store={tmp / 's.sqlite'}", f"hydra.run.dir={tmp / 'mpi'}",
             f"+_data={_data_with_cifar(tmp, data_root, (data_root / 'cifar-10-batches-py' / 'data_batch_1').read_bytes()[:5000])}"],
            ["data_batch_1", "cifar10"]),
        "scores import: not gzip": lambda: (
            ["scores", "import", _write(tmp / "t.csv.gz", b"proxy,version\n"), "--store", str(tmp / "s.sqlite")],
            [str(tmp / "t.csv.gz"), "gzip"]),
        "scores import: garbage": lambda: (
            ["scores", "import", _write(tmp / "t.csv", bytes(range(256)) * 8), "--store", str(tmp / "s.sqlite")],
            [str(tmp / "t.csv")]),
        "scores import: wrong columns": lambda: (
            ["scores", "import", _write(tmp / "t.csv", b"index,arch,zico\n1,x,2\n"), "--store", str(tmp / "s.sqlite")],
            [str(tmp / "t.csv"), "columns", "proxy, version"]),
        "store is not SQLite": lambda: (
            ["scores", "list", "--store", _write(tmp / "s.sqlite", b"just text, not a database\n" * 100)],
            [str(tmp / "s.sqlite"), "SQLite"]),
        "damaged store": lambda: (
            ["scores", "list", "--store", str(_damaged_store(tmp / "s.sqlite"))], [str(tmp / "s.sqlite")]),
        "damaged store in a scoring run": lambda: (
            ["task=score", "proxy=params", "score.sample=5", f"proxy.store={_damaged_store(tmp / 's.sqlite')}",
             f"hydra.run.dir={tmp / 'run'}"], [str(tmp / "s.sqlite")]),
        "collect: missing folder": lambda: (["collect", str(tmp / "nowhere")], [str(tmp / "nowhere")]),
        "collect: empty folder": lambda: (["collect", str(_mkdir(tmp / "empty"))], [str(tmp / "empty"), "runs.csv"]),
        "convert: garbage .pth": lambda: (
            ["convert", _write(tmp / "x.pth", b"\x80\x02garbage" * 50), str(tmp / "out.csv.gz"), "--no-progress"],
            [str(tmp / "x.pth")]),
        "output under a file": lambda: (
            ["scores", "export", str(_write(tmp / "f.txt", b"keep me")) + "/out.csv", "--store",
             str(_store_with_rows(tmp / "s.sqlite"))], [str(tmp / "f.txt")]),
        "run folder under a file": lambda: (
            ["runs=1", f"hydra.run.dir={_write(tmp / 'f.txt', b'keep me')}/run"], [str(tmp / "f.txt")]),
        "read-only output folder": lambda: (
            ["scores", "export", str(_readonly(tmp / "ro")) + "/out.csv", "--store",
             str(_store_with_rows(tmp / "s.sqlite"))], [str(tmp / "ro")]),
    }
    args, fragments = cases[name]()
    data = None
    for a in list(args):
        if a.startswith("+_data="):
            args.remove(a)
            data = a[len("+_data="):]
    if any(a.startswith("benchmark=nb201") for a in args):
        data = str(data_root)
    return args, fragments, data


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def _trunc(path: Path, src: Path) -> Path:
    path.write_bytes(src.read_bytes()[:20000])
    return path


def _readonly(path: Path) -> Path:
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    path.mkdir()
    path.chmod(0o555)
    return path


BAD_INPUT_CASES = [
    "unknown benchmark", "unknown dataset", "unknown strategy", "unknown proxy", "unknown experiment",
    "unknown task", "runs=abc", "runs=-1", "seed=1.5", "workers=-1", "truncated nb201 table",
    "column-less nb201 table", "truncated CIFAR batch", "scores import: not gzip", "scores import: garbage",
    "scores import: wrong columns", "store is not SQLite", "damaged store", "damaged store in a scoring run",
    "collect: missing folder", "collect: empty folder", "convert: garbage .pth", "output under a file",
    "run folder under a file", "read-only output folder",
]


@pytest.mark.parametrize("case", BAD_INPUT_CASES)
def test_bad_input_everywhere(tmp_path, data_root, case):
    args, fragments, data = _case(tmp_path, data_root, case)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*")
              if p.is_file() and not p.is_symlink() and not p.name.endswith(("-wal", "-shm"))}
    proc = nasearch(*args, cwd=tmp_path, data=data)
    assert_clean_failure(proc, *fragments)
    for p, content in before.items():
        if p.suffix == ".sqlite" and "damaged" not in case and "SQLite" not in case:
            continue  # a healthy store may gain rows; checked by content below
        assert p.is_file() and p.read_bytes() == content, f"{p} changed or went missing"


def test_malicious_cifar_pickle_runs_nothing(tmp_path, data_root, cifar10_root):
    """issue 13: a data_batch_1 whose unpickling would `touch` a file, in a copied data folder, used by
    task=mpi: the file is not created, the run fails with one paragraph naming the file and the refused
    global."""
    import shutil

    from test_data import write_malicious_batch

    root = tmp_path / "data"
    shutil.copytree(cifar10_root, root / "cifar-10-batches-py")
    (root / "nb201").symlink_to(data_root / "nb201")
    marker = tmp_path / "pwned"
    write_malicious_batch(root / "cifar-10-batches-py" / "data_batch_1", marker)
    proc = nasearch("task=mpi", "mpi.cells=3", "mpi.proxies=[jacob_cov]", "workers=1", "progress=false",
                    f"proxy.store={tmp_path / 's.sqlite'}", f"hydra.run.dir={tmp_path / 'mpi'}",
                    cwd=tmp_path, data=str(root))
    assert not marker.exists(), "the pickle ran os.system"
    assert_clean_failure(proc, str(root / "cifar-10-batches-py" / "data_batch_1"), "system", "refused")
