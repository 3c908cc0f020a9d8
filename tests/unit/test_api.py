"""The Python API composes, validates and runs the same jobs as the CLI."""

from __future__ import annotations

import pytest

import nasearch.api as nas
from nasearch.config import ConfigError


def test_config_is_the_cli_config():
    cfg = nas.config("strategy=rea", "proxy=gradsign", "proxy.n=10", "runs=7")
    assert (cfg.strategy.name, cfg.proxy.name, cfg.proxy.n, cfg.runs) == ("rea", "gradsign", 10, 7)
    assert cfg.benchmark.name in ("auto", "nb201")


@pytest.mark.parametrize(
    "overrides, needle",
    [(("runs=-1",), "runs"), (("strategy=nope",), "nope"), (("proxy.n=0",), "proxy.n")],
)
def test_bad_values_name_the_value(overrides, needle):
    with pytest.raises(ConfigError, match=needle):
        nas.config(*overrides)


def test_compare_runs_paired_arms_from_the_shipped_tables(tmp_path, monkeypatch):
    """Vanilla REA against REA + GradSign (N = 10) on the embedded NB201 table and shipped scores:
    the first 30 runs of the headline study, with a paired p-value for the assisted arm."""
    monkeypatch.delenv("NASEARCH_DATA", raising=False)
    res = nas.compare(
        ["experiment=gradsign_table5", "proxy.n=1"],
        ["experiment=gradsign_table5", "proxy.n=10"],
        common=["runs=30", "workers=1", "progress=false", f"proxy.store={tmp_path / 's.sqlite'}"],
        out_dir=tmp_path / "cmp",
    )
    arms = res.arms
    assert len(arms) == 2 and len(res.runs) == 60
    vanilla, assisted = sorted(arms, key=lambda a: a.factors["proxy"] != "none")
    assert vanilla.runs == assisted.runs == 30
    assert vanilla.p_value is None and assisted.p_value is not None and 0 <= assisted.p_value <= 1
    assert (tmp_path / "cmp" / "collected.md").is_file()
