"""The command line explains itself: its own --help and --version, "did you mean" for typos (keys,
group values, name-valued keys, subcommands), every registered name selectable as a group choice,
and a clear refusal (no traceback, no files) where the output folder cannot be created."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nasearch import cli


def nasearch(*args: str, cwd: Path, timeout: int = 240) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "NASEARCH_DATA"}
    return subprocess.run([sys.executable, "-m", "nasearch.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def error_line(err: str) -> str:
    """The one paragraph of a clean failure (no traceback)."""
    assert "Traceback" not in err, err
    assert err.count("nasearch: error:") == 1, err
    msg = err[err.index("nasearch: error:"):].strip()
    assert "\n" not in msg, f"not one paragraph: {msg!r}"
    return msg


def fails(capsys, argv: list[str]) -> str:
    """Run ``nasearch ARGV`` in this process; it must exit 2 with one paragraph on stderr."""
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    return error_line(capsys.readouterr().err)


def test_help_lists_tasks_subcommands_groups_and_common_commands(tmp_path):
    for flag in ("--help", "-h", "help"):
        proc = nasearch(flag, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        out = proc.stdout
        assert out.startswith("usage: nasearch"), out[:200]
        assert "== Flags ==" not in out and "== Configuration groups ==" not in out  # not Hydra's generic help
        for task in ("search", "mpi", "score", "evolve", "train_ghn"):
            assert f"\n  {task} " in out, task
        for name in cli.SUBCOMMANDS:  # derived from the dict: a new subcommand shows up by itself
            assert f"\n  {name} " in out, name
        for group in cli.GROUPS:
            line = out[out.index(f"\n  {group} "):]
            for option in cli.group_options(group):  # registry entries without a yaml file included
                assert option in line, (group, option)
        assert "zico_f64" in out
        assert "nasearch experiment=headline" in out
        assert "nasearch strategy=rea proxy=gradsign proxy.n=10 runs=100" in out
        assert "--hydra-help" in out and "--cfg job" in out
    assert not list(tmp_path.iterdir())


def test_hydra_flags_still_reach_hydra(tmp_path):
    proc = nasearch("--cfg", "job", "proxy=zico_f64", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "name: zico_f64" in proc.stdout
    proc = nasearch("--hydra-help", cwd=tmp_path)
    assert proc.returncode == 0 and "Hydra" in proc.stdout


def test_version(tmp_path):
    import torch

    from nasearch import __version__

    for flag in ("--version", "-V"):
        proc = nasearch(flag, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith(f"nasearch {__version__}")
        assert torch.__version__.split("+")[0] in proc.stdout
        assert "Hydra" not in proc.stdout


def test_did_you_mean_helper():
    from nasearch.suggest import did_you_mean

    assert did_you_mean("gradsing", ["gradsign", "zico"]) == "; did you mean 'gradsign'?"
    assert did_you_mean("Cifar10", ["cifar10", "cifar100"]) == "; did you mean 'cifar10'?"
    assert did_you_mean("xyzzy", ["gradsign", "zico"]) == ""
    assert did_you_mean("zico", ["zico"]) == ""


def test_unknown_key_suggests_the_nearest(capsys):
    msg = fails(capsys, ["strategy.nam=rea"])
    assert msg == ("nasearch: error: unknown config key 'strategy.nam' (from the command line: strategy.nam=rea); "
                   "did you mean 'strategy.name'?")
    # the keys of the config the other overrides compose (rea's params), not only the defaults'
    msg = fails(capsys, ["strategy=rea", "strategy.params.population_sze=5"])
    assert "unknown config key 'strategy.params.population_sze'" in msg
    assert "did you mean 'strategy.params.population_size'?" in msg
    assert "+strategy" not in msg  # not Hydra's advice to append the typo


def test_unknown_key_in_the_api():
    import nasearch.api as nas
    from nasearch.config import ConfigError

    with pytest.raises(ConfigError, match=r"unknown config key 'proxy\.batchsize'.*did you mean 'proxy\.batch_size'\?"):
        nas.config("proxy.batchsize=8")
    with pytest.raises(ConfigError, match=r"unknown proxy 'gradsing'.*did you mean 'gradsign'\?"):
        nas.config("proxy=gradsing")


def test_unknown_group_value_suggests_the_nearest(capsys):
    msg = fails(capsys, ["proxy=gradsing"])
    assert "unknown proxy 'gradsing'" in msg and "accepted: " in msg and "zico_f64" in msg
    assert msg.endswith("did you mean 'gradsign'?")
    assert "did you mean 'headline'?" in fails(capsys, ["experiment=headlin"])


@pytest.mark.parametrize("override, expected", [
    ("strategy.name=reaa", "'rea'"),
    ("proxy.name=zicoo", "'zico'"),
    ("task=serch", "'search'"),
    ("executor.name=rey", "'ray'"),
    ("benchmark.name=nb210", "'nb201'"),
    ("dataset.name=cifar1O", "'cifar10'"),
])
def test_unknown_name_value_suggests_the_nearest(capsys, override, expected):
    msg = fails(capsys, [override])
    assert f"did you mean {expected}?" in msg


def test_unknown_mpi_proxy_suggests_the_nearest():
    from nasearch.config import ConfigError
    from nasearch.experiments.mpi import MPIConf

    with pytest.raises(ConfigError, match=r"did you mean 'gradsign'\?"):
        MPIConf(proxies=["gradsing"]).check()


@pytest.mark.parametrize("argv, expected", [
    (["qeury", "1"], "unknown subcommand 'qeury'; did you mean 'query'?"),
    (["proxy"], "unknown subcommand 'proxy'; did you mean 'proxies'?"),
    (["strategy"], "did you mean 'strategies'?"),
])
def test_unknown_subcommand_suggests_the_nearest(tmp_path, capsys, argv, expected):
    msg = fails(capsys, argv)
    assert expected in msg
    assert "subcommands: " + ", ".join(cli.SUBCOMMANDS) in msg and "KEY=VALUE" in msg
    assert not list(tmp_path.iterdir())


def test_every_registered_name_is_a_group_choice():
    """proxy=NAME for every registered proxy (zico_f64 has no yaml file), strategy=, benchmark= too."""
    import nasearch.api as nas
    from nasearch.config import registry_names

    assert nas.config("proxy=zico_f64", "proxy.n=10").proxy.name == "zico_f64"
    for group, names in registry_names().items():
        options = cli.group_options(group)
        for name in names:
            assert name in options, (group, name)
    jobs = cli.validate_overrides(["proxy=" + ",".join(registry_names()["proxy"]), "proxy.n=10"], multirun=True)
    assert [c.proxy.name for c in jobs] == list(registry_names()["proxy"])
    # a yaml file that carries more than the name still wins over the generated entry
    assert nas.config("proxy=eznas", "proxy.n=10").proxy.batch_size == 16
    assert nas.config("strategy=rea").strategy.params["population_size"] == 10


def test_unwritable_working_folder_is_refused_before_any_work(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    real_access = os.access

    def access(path, mode, *args, **kwargs):  # root ignores permissions: say the cwd is read-only
        if Path(path).absolute() == tmp_path.absolute():
            return False
        return real_access(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)
    msg = fails(capsys, ["runs=1", "progress=false"])
    assert msg.startswith("nasearch: error: cannot create the output folder 'outputs/")
    assert f"{str(tmp_path)!r} is not writable" in msg
    assert msg.endswith("run from a writable folder or set hydra.run.dir=PATH")
    msg = fails(capsys, ["-m", "runs=1,2", "progress=false"])
    assert "'multirun/" in msg and "hydra.sweep.dir=PATH" in msg
    assert not list(tmp_path.iterdir())


def test_default_output_folder_under_a_file_is_refused(tmp_path):
    (tmp_path / "outputs").write_bytes(b"keep me")
    proc = nasearch("runs=1", "progress=false", cwd=tmp_path)
    assert proc.returncode == 2
    msg = error_line(proc.stderr)
    assert "cannot create the output folder 'outputs/" in msg and "is a file, not a folder" in msg
    assert [p.name for p in tmp_path.iterdir()] == ["outputs"] and (tmp_path / "outputs").read_bytes() == b"keep me"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_working_folder_is_refused(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        proc = nasearch("runs=1", "progress=false", cwd=ro)
        assert proc.returncode == 2
        msg = error_line(proc.stderr)
        assert f"{str(ro)!r} is not writable" in msg and "hydra.run.dir=PATH" in msg
        assert not list(ro.iterdir())
    finally:
        ro.chmod(0o755)
