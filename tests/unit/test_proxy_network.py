"""``proxy.network``: the task whose networks a search's proxy scores (TransNAS decoder tasks)."""

from __future__ import annotations

import pytest

import nasearch.api as nas
from nasearch.errors import NasearchError


def _run(tmp_path, *extra):
    return nas.run("benchmark=transnas101_micro", "dataset.name=autoencoder", "strategy=rs", "proxy=params",
                   "proxy.n=4", "runs=2", "budget.queries=6", f"proxy.store={tmp_path / 's.sqlite'}", *extra,
                   out_dir=tmp_path / ("out" + "".join(e.split("=")[1] for e in extra)))


def test_a_decoder_task_is_screened_through_a_classification_network(tmp_path):
    with pytest.raises(NasearchError, match="autoencoder.*class_scene"):
        _run(tmp_path)  # the autoencoder's own networks: refused before any run, naming what scores
    res = _run(tmp_path, "proxy.network=class_scene")
    assert len(res.frames["runs"]) == 2
    recorded = next(iter(res.settings.values()))
    assert recorded["proxy.network"] == "class_scene"


def test_a_vanilla_arm_ignores_the_network(tmp_path):
    a = nas.run("benchmark=transnas101_micro", "dataset.name=autoencoder", "strategy=rs", "proxy=params",
                "proxy.n=1", "runs=1", "budget.queries=5", "proxy.network=class_scene", out_dir=tmp_path / "a")
    b = nas.run("benchmark=transnas101_micro", "dataset.name=autoencoder", "strategy=rs", "runs=1",
                "budget.queries=5", out_dir=tmp_path / "b")
    assert list(a.frames["runs"]["incumbent"]) == list(b.frames["runs"]["incumbent"])
