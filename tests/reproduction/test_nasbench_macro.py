"""NAS-Bench-Macro: the space (keys, index, moves, encodings), its networks (params/FLOPs equal to the
benchmark's), and the reader of the published JSON (facts, bad input)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from nasearch.benchmarks.base import BenchmarkError, Result
from nasearch.benchmarks.nasbench_macro import NASBenchMacroBenchmark
from nasearch.space.base import ArchError
from nasearch.space.nasbench_macro import (
    BLOCKS,
    NUM_ARCHS,
    MacroArch,
    MacroNetwork,
    NASBenchMacroSpace,
    count_flops,
    count_parameters,
)

SPACE = NASBenchMacroSpace()
FACTS = {  # key: (mean test accuracy, params, FLOPs), as published in the JSON
    "00000000": (45.36, 387_882, 7_713_280),
    "22222222": (92.95, 2_932_586, 105_660_928),
    "22212220": (93.13, 1_985_514, None),
}
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def macro_json(data_root: Path) -> Path:
    path = data_root / "nasbench_macro" / "nas-bench-macro_cifar10.json"
    if not path.is_file():
        pytest.skip(f"no NAS-Bench-Macro JSON at {path}")
    return path


@pytest.fixture(scope="module")
def macro_data(macro_json: Path) -> dict:
    return json.loads(macro_json.read_text())


@pytest.fixture(scope="module")
def bench(macro_json: Path) -> NASBenchMacroBenchmark:
    return NASBenchMacroBenchmark(macro_json)


# ---------------------------------------------------------------------- the space


def test_index_is_base3_key_and_round_trips():
    assert SPACE.num_archs == NUM_ARCHS == 6561
    assert SPACE.parse("00000000").index == 0
    assert SPACE.parse("22222222").index == 6560
    assert SPACE.parse("00000012").index == 5
    assert SPACE.parse("10000000").index == 3**7
    archs = list(SPACE.all_archs())
    assert [a.index for a in archs] == list(range(NUM_ARCHS))
    assert len({str(a) for a in archs}) == NUM_ARCHS
    for a in archs[::97]:
        assert SPACE.parse(str(a)) == a == SPACE.from_index(a.index) == SPACE.parse(a.index)
        assert SPACE.parse(list(a.blocks)) == a == SPACE.parse(a)
        assert SPACE.to_string(a) == str(a)
    assert SPACE.parse("01220120").block_names() == tuple(BLOCKS[int(c)] for c in "01220120")


def test_moves_are_seeded_and_local():
    s1 = [SPACE.sample(np.random.default_rng(3)) for _ in range(1)]
    rng_a, rng_b = np.random.default_rng(7), np.random.default_rng(7)
    seq_a = [SPACE.sample(rng_a) for _ in range(50)]
    seq_b = [SPACE.sample(rng_b) for _ in range(50)]
    assert seq_a == seq_b and len(set(seq_a)) > 40 and s1
    rng = np.random.default_rng(0)
    for a in seq_a[:20]:
        nbrs = SPACE.neighbours(a)
        assert len(nbrs) == 16 == len(set(nbrs))
        assert all(sum(x != y for x, y in zip(a.blocks, n.blocks)) == 1 for n in nbrs)
        child = SPACE.mutate(a, rng)
        assert child != a and child in nbrs
    counts = np.bincount([SPACE.sample(rng).blocks[3] for _ in range(3000)], minlength=3)
    assert counts.min() > 900  # uniform over the three blocks


def test_choices_encoding_and_config_space():
    rng = np.random.default_rng(1)
    archs = [SPACE.sample(rng) for _ in range(30)]
    assert SPACE.positions == (3,) * 8
    for a in archs:
        assert SPACE.from_choices(SPACE.to_choices(a)) == a
    for bad in ((0, 1, 2, 3, 0, 0, 0, 0), (0, 1)):  # out of range, wrong length
        with pytest.raises(ArchError, match="nasbench_macro"):
            SPACE.from_choices(bad)
    x = SPACE.encode(archs)
    assert x.shape == (30, 24) and x.dtype == np.float32
    assert (x.sum(axis=1) == 8).all()
    assert (x.reshape(30, 8, 3).argmax(axis=2) == np.asarray([a.blocks for a in archs])).all()
    assert SPACE.encode([]).shape == (0, 24)
    cs = SPACE.config_space(seed=0)
    assert len(list(cs.values())) == 8
    for cfg in cs.sample_configuration(20):
        a = SPACE.from_config(cfg)
        assert isinstance(a, MacroArch)
        assert SPACE.from_config({f"layer{i}": BLOCKS[c] for i, c in enumerate(a.blocks)}) == a
        assert SPACE.from_config(SPACE.to_config(a, cs)) == a == SPACE.from_config(SPACE.to_config(a))
    with pytest.raises(ArchError, match="layer7"):
        SPACE.from_config({f"layer{i}": "identity" for i in range(7)})
    with pytest.raises(ArchError, match="MB6_K5"):
        SPACE.from_config({f"layer{i}": "conv" for i in range(8)})
    assert not any(SPACE.is_trivial(a) for a in archs)


def test_canonical_classes_match_the_benchmark_count():
    classes = {a.canonical() for a in SPACE.all_archs()}
    assert len(classes) == 3969  # the authors trained 3,969 distinct networks
    assert SPACE.parse("00100201").canonical() == SPACE.parse("00100210")
    assert SPACE.parse("01001020").canonical() == SPACE.parse("01010020")
    assert all(c.canonical() == c for c in classes)


@pytest.mark.parametrize(
    "value, match",
    [
        ("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|", "NAS-Bench-201"),
        ("64-41414-3_13_113", "TransNAS-Bench-101"),
        ("0122012", "8 block codes"),
        ("01220123", "8 block codes"),
        (6561, r"0\.\.6560"),
        (-1, r"0\.\.6560"),
        (True, "not an architecture"),
        ((0, 1, 2), "block tuple"),
        ((0, 1, 2, 3, 0, 0, 0, 0), "block tuple"),
        (1.5, "not an architecture"),
    ],
)
def test_bad_arch_values_raise_one_clear_error(value, match):
    with pytest.raises(ArchError, match=match) as info:
        SPACE.parse(value, where="from config key search.start")
    msg = str(info.value)
    assert "search.start" in msg
    assert "01220120" in msg or "0..6560" in msg  # what is accepted


def test_unknown_task_is_an_arch_error():
    with pytest.raises(ArchError, match="unknown task 'cifar100' for space 'nasbench_macro'"):
        SPACE.build_network(SPACE.from_index(0), "cifar100")
    with pytest.raises(ArchError, match="cifar10"):
        SPACE.num_classes("ImageNet16-120")
    assert SPACE.num_classes("cifar10") == 10 and SPACE.input_size("cifar10") == 32
    assert SPACE.network_tasks == SPACE.tasks == ("cifar10",)


# ---------------------------------------------------------------------- networks


def test_forward_shapes_bn_off_and_seeded_weights():
    arch = SPACE.parse("01220120")
    net = SPACE.build_network(arch, "cifar10", generator=torch.Generator().manual_seed(5))
    assert isinstance(net, MacroNetwork)
    again = SPACE.build_network(arch, "cifar10", generator=torch.Generator().manual_seed(5))
    other = SPACE.build_network(arch, "cifar10", generator=torch.Generator().manual_seed(6))
    sd, sd2, sd3 = net.state_dict(), again.state_dict(), other.state_dict()
    assert all(torch.equal(sd[k], sd2[k]) for k in sd)
    assert not all(torch.equal(sd[k], sd3[k]) for k in sd)
    g = torch.Generator().manual_seed(0)
    y = net(torch.randn(2, 3, 32, 32, generator=g))
    assert y.shape == (2, 10) and torch.isfinite(y).all()
    plain = SPACE.build_network(arch, "cifar10", bn=False, generator=torch.Generator().manual_seed(5))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in plain.modules())
    assert plain(torch.randn(2, 3, 32, 32, generator=g)).shape == (2, 10)


def test_known_networks_match_params_and_flops(macro_data):
    for key, (_, params, flops) in FACTS.items():
        net = SPACE.build_network(key, "cifar10")
        assert count_parameters(net) == params == macro_data[key]["params"]
        assert count_flops(net) == macro_data[key]["flops"]
        if flops is not None:
            assert count_flops(net) == flops


def test_params_of_500_seeded_keys_equal_the_benchmark(macro_data):
    """Seeded sample of 500 keys (CI); all 6,561 are checked by experiments/nasbench_macro_params."""
    rng = np.random.default_rng(2021)
    indices = rng.choice(NUM_ARCHS, size=500, replace=False)
    wrong = []
    for i in indices:
        arch = SPACE.from_index(int(i))
        with torch.device("meta"):  # shapes only: the count is the same, building is cheaper
            net = MacroNetwork(arch, 10)
        if count_parameters(net) != macro_data[str(arch)]["params"]:
            wrong.append(str(arch))
    assert wrong == []
    for i in indices[:8]:  # FLOPs need a forward pass: a few on CPU
        arch = SPACE.from_index(int(i))
        assert count_flops(SPACE.build_network(arch, "cifar10")) == macro_data[str(arch)]["flops"]


def test_committed_full_check_covers_all_keys():
    text = (REPO / "experiments" / "nasbench_macro_params" / "result.txt").read_text()
    assert "keys checked: 6561 of 6561" in text
    assert "params equal to the JSON's 'params': 6561 of 6561" in text
    assert "FLOPs equal to the JSON's 'flops': 6561 of 6561" in text


# ---------------------------------------------------------------------- the benchmark


def test_benchmark_facts(bench: NASBenchMacroBenchmark):
    assert bench.space.name == "nasbench_macro" and not bench.has_train_time
    assert bench.datasets == ("cifar10",) and bench.fidelities == (50,)
    for key, (mean, params, flops) in FACTS.items():
        r = bench.query(bench.space.parse(key), "cifar10")
        assert isinstance(r, Result) and r.train_seconds is None
        assert r.test_acc == pytest.approx(mean, abs=0.005) and r.valid_acc == r.test_acc
        assert bench.params(key) == params
        if flops is not None:
            assert bench.flops(key) == flops
    test = bench.column("cifar10", "test_acc")
    assert test.shape == (NUM_ARCHS,) and round(float(test.max()), 2) == 93.13
    assert test[SPACE.parse("22212220").index] == test.max()
    assert np.isnan(bench.column("cifar10", "train_seconds")).all()
    seeds = np.stack([bench.column("cifar10", f"test_acc_{s}") for s in range(3)], axis=1)
    assert np.allclose(seeds.mean(axis=1), test)
    assert np.allclose(bench.column("cifar10", "mean_acc"), test, atol=1e-6)


def test_equivalent_keys_share_one_result(bench: NASBenchMacroBenchmark):
    test = bench.column("cifar10", "test_acc")
    by_class: dict[MacroArch, set[float]] = {}
    for a in SPACE.all_archs():
        by_class.setdefault(a.canonical(), set()).add(float(test[a.index]))
    assert all(len(v) == 1 for v in by_class.values())


def test_valid_seed_selects_by_one_training(macro_json: Path, bench: NASBenchMacroBenchmark):
    b1 = NASBenchMacroBenchmark(macro_json, valid_seed=1)
    r = b1.query(SPACE.parse("22222222"), "cifar10")
    assert r.valid_acc == pytest.approx(92.92, abs=0.005) and r.test_acc == pytest.approx(92.9533, abs=1e-4)
    assert np.array_equal(b1.column("cifar10", "valid_acc"), bench.column("cifar10", "test_acc_1"))
    with pytest.raises(BenchmarkError, match="0, 1 or 2"):
        NASBenchMacroBenchmark(macro_json, valid_seed=3)


def test_benchmark_bad_queries(bench: NASBenchMacroBenchmark):
    with pytest.raises(BenchmarkError, match="cifar10"):
        bench.query(SPACE.from_index(0), "cifar100")
    with pytest.raises(BenchmarkError, match="50"):
        bench.query(SPACE.from_index(0), "cifar10", 200)
    with pytest.raises(BenchmarkError, match="accepted"):
        bench.column("cifar10", "latency")
    with pytest.raises(ArchError, match="NAS-Bench-201"):
        bench.query("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|", "cifar10")  # type: ignore[arg-type]


def test_truncated_corrupt_or_incomplete_json(tmp_path: Path, macro_json: Path):
    raw = macro_json.read_bytes()
    cut = tmp_path / "cut.json"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(BenchmarkError, match="not valid JSON") as info:
        NASBenchMacroBenchmark(cut)
    assert str(cut) in str(info.value)
    data = json.loads(raw)
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps(dict(list(data.items())[:100])))
    with pytest.raises(BenchmarkError, match="6461 of the 6561 keys are missing"):
        NASBenchMacroBenchmark(partial)
    foreign = tmp_path / "foreign.json"
    rec = data["00000000"]
    foreign.write_text(json.dumps({**data, "|skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|": rec}))
    with pytest.raises(BenchmarkError, match="NAS-Bench-201"):
        NASBenchMacroBenchmark(foreign)
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({**data, "00000000": {**rec, "test_acc": [45.3, 45.3]}}))
    with pytest.raises(BenchmarkError, match="00000000.*3 accuracies"):
        NASBenchMacroBenchmark(broken)
    with pytest.raises(BenchmarkError, match="not found"):
        NASBenchMacroBenchmark(tmp_path / "absent.json")


def test_default_path_is_the_users_file_else_the_embedded_copy(monkeypatch, macro_json: Path, tmp_path: Path):
    monkeypatch.delenv("NASEARCH_DATA", raising=False)
    embedded = NASBenchMacroBenchmark().path
    assert embedded.parts[-3:] == ("embedded", "nasbench_macro", "nas-bench-macro_cifar10.json")
    assert embedded.read_bytes() == macro_json.read_bytes()  # the published file, as shipped
    monkeypatch.setenv("NASEARCH_DATA", str(tmp_path / "not-a-folder"))
    with pytest.raises(BenchmarkError, match="NASEARCH_DATA"):
        NASBenchMacroBenchmark(where="from config key benchmark.path")
    monkeypatch.setenv("NASEARCH_DATA", str(macro_json.parents[1]))
    assert NASBenchMacroBenchmark().path == macro_json


# ---------------------------------------------------------------------- the committed study reproduces
MACRO_ARMS = sorted((REPO / "experiments" / "nasbench_macro").glob("sweep*/*/runs.csv"))


@pytest.mark.parametrize("runs_csv", MACRO_ARMS, ids=lambda p: f"{p.parent.parent.name}/{p.parent.name.split('_', 1)[0]}")
def test_committed_macro_study_runs_reproduce(bench: NASBenchMacroBenchmark, runs_csv: Path, tmp_path: Path) -> None:
    """The first runs of every committed arm of ``experiments/nasbench_macro`` (vanilla and
    proxy-assisted) come out again field for field (wall time and version aside): same seeds, the
    JSON, and for an assisted arm the full-space score table shipped with the package beneath an
    empty store (nothing is computed). A proxy table or strategy that changed would show here."""
    from committed_runs import assert_first_runs_reproduce, read_committed

    from nasearch.scoring import ScoringSettings
    from nasearch.scoring.scorer import make_arch_scorer

    first = read_committed(runs_csv)[0]
    scorer = None
    if first["proxy"] != "none":  # a proxy or an ensemble (each member's shipped table)
        scorer = make_arch_scorer(ScoringSettings(first["proxy"], bench.space, first["dataset"]),
                                  store_path=str(tmp_path / "empty.sqlite"))
        assert scorer.coverage() == bench.space.num_archs, f"the shipped {first['proxy']} tables do not cover the space"
    assert_first_runs_reproduce(bench, runs_csv, scorer, 5)
