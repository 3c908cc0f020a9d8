"""EZNAS: statistics, the program language, evolution (checkpoint/resume) and the proxy."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from nasearch.config import ConfigError
from nasearch.experiments.evolve import EvolveConf
from nasearch.eznas.evolve import Evaluator, Fitness, evolve, make_pset, to_individual, to_node
from nasearch.eznas.program import (
    MAX_DEPTH,
    PRIMITIVES,
    PUBLISHED_NB201,
    ProgramError,
    cell_scores,
    parse,
    random_program,
)
from nasearch.eznas.statistics import (
    STAT_NAMES,
    StatGroup,
    Subsample,
    collect,
    find_instances,
    group_instances,
    kinds_needed,
    needs_backward,
)
from nasearch.space import get_space
from nasearch.space.networks import ReLUConvBN

DATA = os.environ.get("NASEARCH_DATA")


class TinyNet(nn.Module):
    """Not NB201: two ReLU-Conv-BN blocks (one strided), a shortcut, a classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1)
        self.a = ReLUConvBN(4, 4, 3, 1, 1)
        self.b = ReLUConvBN(4, 6, 3, 2, 1)
        self.head = nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = self.a(x) + x
        return self.head(self.b(x).mean((2, 3)))


def _tiny(seed: int = 0) -> TinyNet:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return TinyNet()


def _images(seed: int = 1, b: int = 4, size: int = 8) -> torch.Tensor:
    return torch.randn(b, 3, size, size, generator=torch.Generator().manual_seed(seed))


def _nb201_network() -> torch.nn.Module:
    """The network of one NB201 cell with every op kind (seeded)."""
    space = get_space("nb201")
    arch = space.parse("|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|")
    return space.build_network(arch, "cifar10", generator=torch.Generator().manual_seed(0))


# ------------------------------------------------------------------------------------ statistics
def test_instances_found_by_structure() -> None:
    net = _nb201_network()
    assert len(find_instances(net)) == 15 * 3 + 4  # 3 conv edges per cell, 2 per reduction block
    assert len(find_instances(_tiny())) == 2


def test_instances_of_every_space_and_in_place_relus() -> None:
    """NAS-Bench-Macro: two instances per MobileNetV2 block (depthwise and projection conv), none in
    identity blocks; its in-place ReLUs must not overwrite what the hooks record."""
    space = get_space("nasbench_macro")
    arch = space.parse("10200001")  # 3 inverted-residual blocks
    net = space.build_network(arch, "cifar10", generator=torch.Generator().manual_seed(0))
    inst = find_instances(net)
    assert len(inst) == 2 * 3 and all(r.inplace for r, _, _ in inst)
    assert [c.groups > 1 for _, c, _ in inst] == [True, False] * 3
    stats = collect(net, _images(b=2, size=32), torch.Generator().manual_seed(5), names=["inpact_D", "preact_D", "act_D"])
    assert all(r.inplace for r, _, _ in inst)  # restored
    for s in stats:
        assert torch.equal(s["preact_D"], s["inpact_D"].relu())
        assert (s["inpact_D"] < 0).any() and (s["act_D"] < 0).any()  # recorded before the ReLUs ran
    for name in ("transnas101_micro", "transnas101_macro"):
        space = get_space(name)
        net = space.build_network(space.sample(np.random.default_rng(0)), space.networks_for()[0],
                                  generator=torch.Generator().manual_seed(0))
        assert find_instances(net), name


def test_statistics_shapes_and_determinism() -> None:
    x = _images()
    stats = collect(_tiny(), x, torch.Generator().manual_seed(5))
    assert [sorted(s) for s in stats] == [sorted(STAT_NAMES)] * 2
    a, b = stats
    assert a["inpact_D"].shape == (4, 4, 8, 8) and a["act_D"].shape == (4, 4, 8, 8)
    assert b["inpact_D"].shape == (4, 4, 8, 8) and b["act_D"].shape == (4, 6, 4, 4)
    assert b["wt"].shape == b["wtgrad_N"].shape == (6, 4, 3, 3)
    # the ReLU-path gradient: the ReLU's backward of the conv-input gradient
    assert torch.equal(a["inpactgrad_D"], a["preactgrad_D"] * (a["inpact_D"] > 0))
    assert torch.equal(a["preact_D"], a["inpact_D"].relu())
    assert a["actgrad_D"].abs().sum() > 0 and a["wtgrad_D"].abs().sum() > 0
    # same seed, other thread count of the caller: identical values
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        again = collect(_tiny(), x, torch.Generator().manual_seed(5))
    finally:
        torch.set_num_threads(before)
    assert torch.get_num_threads() == before
    for s, t in zip(stats, again):
        for n in STAT_NAMES:
            assert torch.equal(s[n], t[n]), n
    # P statistics are differences to D; a subset of names gives the same values
    sub = collect(_tiny(), x, torch.Generator().manual_seed(5), names=["act_P", "wt"])
    assert torch.equal(sub[1]["act_P"], b["act_P"]) and torch.equal(sub[1]["wt"], b["wt"])
    assert kinds_needed(["act_P"]) == ("D", "P") and kinds_needed(["wt"]) == ()
    # forward-only passes (no gradient statistic named) record bitwise the same activations
    assert not needs_backward(["act_P", "wt", "preact_D", "inpact_N"])
    assert needs_backward(["act_D", "wtgrad_N"]) and needs_backward(["inpactgrad_P"])
    net = _nb201_network()
    x32 = _images(b=2, size=32)
    full = collect(net, x32, torch.Generator().manual_seed(5), names=["preact_D", "act_P", "inpact_N", "wtgrad_D"])
    fwd = collect(net, x32, torch.Generator().manual_seed(5), names=["preact_D", "act_P", "inpact_N"])
    assert len(full) == len(fwd) == 49
    for s, t in zip(full, fwd):
        assert sorted(t) == ["act_P", "inpact_N", "preact_D"]
        for n in t:
            assert torch.equal(s[n], t[n]), n


def test_subsample_and_groups() -> None:
    stats = collect(_tiny(), _images(), torch.Generator().manual_seed(5), subsample=Subsample(2, 3),
                    dtype=torch.bfloat16)
    assert stats[1]["act_D"].shape == (2, 3, 4, 4) and stats[1]["wt"].shape == (3, 3, 3, 3)
    assert stats[1]["act_D"].dtype == torch.bfloat16
    full = collect(_tiny(), _images(), torch.Generator().manual_seed(5))
    cut = collect(_tiny(), _images(), torch.Generator().manual_seed(5), subsample=Subsample(2, 3))
    for f, c in zip(full, cut):  # cutting early gives bitwise the values of cutting the full tensors
        for n in STAT_NAMES:
            assert torch.equal(Subsample(2, 3).apply(n, f[n]), c[n]), n
    groups = group_instances([stats, stats, stats])
    assert sorted(len(g) for g in groups) == [3, 3]
    assert sorted(groups[0].owner.tolist()) == [0, 1, 2]


# ------------------------------------------------------------------------------------ language
def test_print_parse_roundtrip_random_programs() -> None:
    rng = np.random.default_rng(0)
    for _ in range(300):
        p = random_program(rng, max_height=6, aggregate=("net_mean", "net_sum")[int(rng.integers(2))])
        q = parse(p.text)
        assert q == p and q.text == p.text
        assert parse(" " + p.text.replace(", ", " ,  ") + " ") == p  # whitespace is not part of a program


def test_deap_tree_conversion_roundtrip() -> None:
    pset = make_pset()
    rng = np.random.default_rng(1)
    for _ in range(100):
        p = random_program(rng, max_height=5)
        ind = to_individual(p.body, pset)
        assert str(ind) == str(p.body)
        assert to_node(ind) == p.body


def test_deap_variation_keeps_programs_well_formed() -> None:
    from nasearch.eznas.evolve import Individual, RandomState, make_toolbox

    pset = make_pset()
    tb = make_toolbox(pset, EvolveConf(init_min_depth=1, init_max_depth=4))
    rng = RandomState(7)
    with rng.active():
        pop = tb.population(n=30)
        for _ in range(20):
            for i in range(0, len(pop) - 1, 2):
                a, b = tb.mate(tb.clone(pop[i]), tb.clone(pop[i + 1]))
                (m,) = tb.mutate(tb.clone(pop[i]))
                for ind in (a, b, m):
                    assert isinstance(ind, Individual) and ind.height <= MAX_DEPTH
                    assert parse(f"net_mean({ind})").body == to_node(ind)
                pop[i], pop[i + 1] = a, m


def test_published_program_transcription() -> None:
    p = parse(PUBLISHED_NB201)
    assert p.aggregate == "net_mean" and p.statistics() == ("inpactgrad_D",)
    assert parse("frob_norm(sigmoid(logdet(sign(inpactgrad_D))))") == p  # bare body: net_mean
    assert PRIMITIVES["logdet"].authors == "OP20" and len(PRIMITIVES) == 33


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("net_mean(frob_norm(bogus(wt)))", "'bogus'"),
        ("net_mean(add(wt))", "add takes 2"),
        ("net_mean(frob_norm(wt)", "the end of the text"),
        ("net_mean(wt(act_D))", "takes no arguments"),
        ("net_mean(mean(wt)) extra", "'extra'"),
        ("net_mean(mean(wt$))", "'$'"),
        ("", "empty"),
    ],
)
def test_malformed_programs_name_the_token(text: str, token: str) -> None:
    with pytest.raises(ProgramError) as e:
        parse(text, " (proxy.program)")
    msg = str(e.value)
    assert token in msg and "(proxy.program)" in msg
    if text:
        assert "logdet/1" in msg and "inpactgrad_D" in msg  # lists the accepted primitives


def test_depth_limit() -> None:
    body = "wt"
    for _ in range(MAX_DEPTH):
        body = f"abs({body})"
    assert parse(body).body.height == MAX_DEPTH
    with pytest.raises(ProgramError, match="too deep"):
        parse(f"abs({body})")


def _synthetic_groups(cells: int = 12, per_cell: int = 3, seed: int = 0) -> list[StatGroup]:
    g = torch.Generator().manual_seed(seed)
    n = cells * per_cell
    stats = {}
    for name in STAT_NAMES:
        shape = (n, 2, 2, 3, 3) if name.startswith("wt") else (n, 2, 2, 4, 4)
        stats[name] = torch.randn(shape, generator=g)
    # make cells differ systematically so programs can rank them
    owner = torch.arange(cells).repeat_interleave(per_cell)
    scale = (1 + owner.float() / cells).reshape(-1, 1, 1, 1, 1)
    stats = {k: v * scale for k, v in stats.items()}
    return [StatGroup(stats=stats, owner=owner)]


def test_protected_numerics_without_warnings() -> None:
    groups = _synthetic_groups(4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        inf = cell_scores(parse("net_mean(invert(zeros_like(wt)))"), groups, 4)
        fails = cell_scores(parse("net_mean(matmul(wt, mean(wt)))"), groups, 4)  # matrix @ scalar: fails
        shape = cell_scores(parse("net_mean(add(wt, act_D))"), groups, 4)  # 3x3 vs 4x4: fails
        ok = cell_scores(parse("net_mean(frob_norm(sigmoid(logdet(sign(act_D)))))"), groups, 4)
    assert np.isnan(inf).all() and np.isnan(fails).all() and np.isnan(shape).all()
    assert np.isfinite(ok).all()
    total = cell_scores(parse("net_sum(numel(wt))"), groups, 4)
    assert np.array_equal(total, np.full(4, 3 * 2 * 2 * 3 * 3.0))


# ------------------------------------------------------------------------------------ evolution
def _conf(**kw) -> EvolveConf:
    base = dict(population=6, offspring=6, generations=3, init_min_depth=1, init_max_depth=3, hall_of_fame=4,
                seed=3, tournament=3)
    base.update(kw)
    return EvolveConf(**base)


def _loader() -> Evaluator:
    groups = _synthetic_groups(12)
    target = np.linspace(50, 90, 12) + np.random.default_rng(0).normal(0, 5, 12)
    return Evaluator(groups, target)


class _Killed(Exception):
    pass


def test_evolve_kill_and_resume_equals_uninterrupted(tmp_path: Path) -> None:
    state = random.getstate()
    straight = evolve(_conf(), Fitness(_loader, progress=False), tmp_path / "a.json", progress=False)
    assert random.getstate() == state  # the caller's random state is untouched
    assert len(straight.log) == 4 and straight.hall_of_fame[0][1] >= straight.log[0]["max"]

    def kill(gen: int, k: int) -> None:
        if gen == 2 and k == 1:
            raise _Killed

    with pytest.raises(_Killed):
        evolve(_conf(), Fitness(_loader, progress=False), tmp_path / "b.json", progress=False, on_evaluated=kill)
    assert json.loads((tmp_path / "b.json").read_text())["generation"] == 1
    resumed = evolve(_conf(), Fitness(_loader, progress=False), tmp_path / "b.json", progress=False)
    assert resumed.resumed_from == 1
    assert resumed.hall_of_fame == straight.hall_of_fame
    assert resumed.log == straight.log
    a = json.loads((tmp_path / "a.json").read_text())
    b = json.loads((tmp_path / "b.json").read_text())
    assert a["population"] == b["population"] and a["random_state"] == b["random_state"]
    # every hall-of-fame entry is a program that parses and scores as recorded
    for text, fit in straight.hall_of_fame:
        assert _loader()(text)[0] == fit


def test_evolve_refuses_a_checkpoint_of_other_settings(tmp_path: Path) -> None:
    from nasearch.eznas.evolve import EvolveError

    evolve(_conf(generations=0), Fitness(_loader, progress=False), tmp_path / "c.json", progress=False)
    with pytest.raises(EvolveError, match="seed"):
        evolve(_conf(generations=0, seed=4), Fitness(_loader, progress=False), tmp_path / "c.json", progress=False)


# ------------------------------------------------------------------------------------ the proxy
def test_proxy_scores_through_store_keyed_by_program(tmp_path: Path) -> None:
    from nasearch.proxies import get_proxy
    from nasearch.scoring import score_cells, score_key
    from nasearch.scoring.store import ScoreStore

    cells = ["|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|",
             "|nor_conv_1x1~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_1x1~2|"]
    other = "net_mean(l1_mean(actgrad_D))"
    with ScoreStore(tmp_path / "s.sqlite") as store:
        pub = score_cells(cells, "eznas", batch_size=2, data_free=True, store=store, progress=False, space="nb201")
        oth = score_cells(cells, f"eznas:{other}", batch_size=2, data_free=True, store=store, progress=False, space="nb201")
        assert np.isfinite(pub).all() and np.isfinite(oth).all() and not np.array_equal(pub, oth)
        k_pub = score_key("eznas", batch_size=2, data_free=True, space="nb201")
        k_same = score_key(f"eznas:  {PUBLISHED_NB201.replace(', ', ',')} ", batch_size=2, data_free=True, space="nb201")
        k_oth = score_key(f"eznas:{other}", batch_size=2, data_free=True, space="nb201")
        assert k_pub == k_same and k_pub.proxy == k_oth.proxy == "eznas" and k_pub.version != k_oth.version
        assert k_oth.version == "1-" + parse(other).digest()
        assert store.count(k_pub) == 2 and store.count(k_oth) == 2
        again = score_cells(cells, f"eznas:{PUBLISHED_NB201}", batch_size=2, data_free=True, store=store,
                            progress=False, space="nb201")
        assert np.array_equal(again, pub)
    assert get_proxy(f"eznas:{other}").name == "eznas"
    with pytest.raises(ProgramError, match="'bogus'"):
        get_proxy("eznas:net_mean(bogus(wt))")


def test_malformed_program_fails_at_the_cli_before_any_work(capsys: pytest.CaptureFixture[str]) -> None:
    from nasearch.cli import validate_overrides

    with pytest.raises(SystemExit) as e:
        validate_overrides(["task=mpi", "proxy=eznas", 'proxy.program="net_mean(frob_norm(foo(wt)))"'])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "'foo'" in err and "proxy.program" in err and "sigmoid/1" in err
    conf = validate_overrides(["proxy=eznas", "proxy.n=10", 'proxy.program="net_mean(mean(wt))"'])[0]
    assert conf.proxy.ref == "eznas:net_mean(mean(wt))" and conf.proxy.batch_size == 16


@pytest.mark.skipif(not DATA, reason="needs NASEARCH_DATA (NB201 table and CIFAR-10 images)")
def test_task_evolve_end_to_end(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "nasearch.cli", "task=evolve", "evolve.cells=4", "evolve.validation_cells=3",
           "evolve.population=4", "evolve.offspring=4", "evolve.generations=1", "evolve.init_max_depth=2",
           "evolve.batch_size=2", "evolve.workers=1", f"evolve.cache_dir={tmp_path / 'cache'}",
           f"hydra.run.dir={tmp_path / 'run'}", "progress=false"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    import csv

    hof = (tmp_path / "run" / "hall_of_fame.csv").read_text().splitlines()
    rows = list(csv.DictReader(hof))
    assert rows and all(r["program"].startswith("net_mean(") for r in rows)
    assert all(-1 <= float(r["validation_tau"]) <= 1 for r in rows)
    assert json.loads((tmp_path / "run" / "checkpoint.json").read_text())["generation"] == 1
    # rerun: resumes from the checkpoint (nothing left to do) and prints the same hall of fame
    r2 = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert r2.returncode == 0, r2.stderr[-2000:]
    assert (tmp_path / "run" / "hall_of_fame.csv").read_text().splitlines() == hof


@pytest.mark.skipif(not DATA, reason="needs NASEARCH_DATA (NB201 table and CIFAR-10 images)")
def test_task_evolve_killed_mid_generation_resumes_to_the_uninterrupted_result(tmp_path: Path) -> None:
    """A real SIGKILL of ``task=evolve`` in the middle of generation 2 (no cleanup), injected from the
    test side: a driver runs the CLI with ``evolve_task``'s ``on_evaluated`` callback killing the process
    right after evaluation 1 of generation 2. The rerun (the plain CLI) resumes from generation 1's
    checkpoint and ends with the uninterrupted run's hall of fame, log and final population."""
    args = ["task=evolve", "evolve.cells=4", "evolve.validation_cells=2", "evolve.population=4", "evolve.offspring=4",
            "evolve.generations=3", "evolve.init_max_depth=2", "evolve.batch_size=2", "evolve.workers=1",
            f"evolve.cache_dir={tmp_path / 'cache'}", "progress=false"]

    def cmd(run: str) -> list[str]:
        return [sys.executable, "-m", "nasearch.cli", *args, f"hydra.run.dir={tmp_path / run}"]

    driver = tmp_path / "kill_at.py"
    driver.write_text(
        "import functools, os, signal, sys\n"
        "import nasearch.experiments.evolve as task\n"
        "from nasearch.cli import main\n"
        "GEN, K = int(sys.argv[1]), int(sys.argv[2])\n"
        "def kill(generation, k):\n"
        "    if (generation, k) == (GEN, K):\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "task.evolve_task = functools.partial(task.evolve_task, on_evaluated=kill)\n"
        "main(sys.argv[3:])\n"
    )
    straight = subprocess.run(cmd("a"), capture_output=True, text=True, timeout=900)
    assert straight.returncode == 0, straight.stderr[-2000:]
    killed = subprocess.run([sys.executable, str(driver), "2", "1", *args, f"hydra.run.dir={tmp_path / 'b'}"],
                            capture_output=True, text=True, timeout=900)
    assert killed.returncode == -9, (killed.returncode, killed.stderr[-2000:])
    assert json.loads((tmp_path / "b" / "checkpoint.json").read_text())["generation"] == 1
    assert not (tmp_path / "b" / "hall_of_fame.csv").exists()
    resumed = subprocess.run(cmd("b"), capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    for name in ("hall_of_fame.csv", "evolution.csv"):
        assert (tmp_path / "b" / name).read_text() == (tmp_path / "a" / name).read_text(), name
    a = json.loads((tmp_path / "a" / "checkpoint.json").read_text())
    b = json.loads((tmp_path / "b" / "checkpoint.json").read_text())
    assert a["generation"] == b["generation"] == 3
    assert a["population"] == b["population"] and a["random_state"] == b["random_state"]


def test_fitness_penalises_programs_that_cannot_score_cells() -> None:
    """Ranking unscorable cells last rewards failing on poor cells; the penalty takes that away
    (issue 37: the published generation-10 program fails on 16% of NB201)."""

    class Fixed(Evaluator):
        def __init__(self, scores, target, penalty):
            super().__init__([], target, penalty)
            self._s = np.asarray(scores, dtype=float)

        def scores(self, text: str) -> np.ndarray:
            return self._s

    target = np.arange(10.0)
    # fails exactly on the two worst cells, ranks the rest perfectly: near-perfect when failures rank last
    failing = [np.nan, np.nan, *range(2, 10)]
    raw, raw_rho = Fixed(failing, target, 0.0)("p")
    assert raw > 0.98  # the two failures tie at the bottom (tau-b .989)
    tau, rho = Fixed(failing, target, 1.0)("p")
    assert tau == pytest.approx(raw - 0.2) and rho == raw_rho  # 2 of 10 cells unscorable; rho unpenalised
    assert Fixed(list(range(10)), target, 1.0)("p")[0] == pytest.approx(1.0)  # nothing failed: no penalty
    assert Fixed([np.nan] * 10, target, 1.0)("p")[0] == -1.0  # ranks nothing apart: the failure value
    with pytest.raises(ConfigError, match="evolve.unscorable_penalty"):
        _conf(unscorable_penalty=-1.0).check(get_space("nb201"))
