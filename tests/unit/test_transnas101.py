"""TransNAS-Bench-101: the micro and macro spaces (strings, index, moves, encodings), their networks
(encoder + class_object / class_scene / jigsaw heads), and the reader of the final-validation table
(facts, bad input)."""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from nasearch.benchmarks.base import BenchmarkError, Result
from nasearch.benchmarks.transnas101 import (
    FINAL_EPOCH,
    METRIC_OF_TASK,
    TransNAS101Benchmark,
    TransNAS101MacroBenchmark,
    TransNAS101MicroBenchmark,
)
from nasearch.space.base import ArchError
from nasearch.space.transnas101 import (
    NETWORK_TASKS,
    TASKS,
    TNBMacroArch,
    TNBMicroArch,
    TNBNetwork,
    TransNAS101MacroSpace,
    TransNAS101MicroSpace,
    image_to_tiles,
)

MICRO = TransNAS101MicroSpace()
MACRO = TransNAS101MacroSpace()
NB201_STRING = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
CHEAP_MICRO = "64-41414-1_02_202"  # conv1x1 / skip only: quick to build
CHEAP_MACRO = "64-1314-basic"  # one channel doubling: 64 -> 128


@pytest.fixture(scope="module")
def tnb_table(data_root: Path) -> Path:
    path = data_root / "transnas101" / "tnb101_final_valid.csv.gz"
    if not path.is_file():
        pytest.skip(f"no TransNAS-Bench-101 table at {path}")
    return path


@pytest.fixture(scope="module")
def micro_bench(tnb_table: Path) -> TransNAS101MicroBenchmark:
    return TransNAS101MicroBenchmark(tnb_table)


@pytest.fixture(scope="module")
def macro_bench(tnb_table: Path) -> TransNAS101MacroBenchmark:
    return TransNAS101MacroBenchmark(tnb_table)


# ---------------------------------------------------------------------- micro space


def test_micro_index_strings_and_round_trips():
    assert MICRO.name == "transnas101_micro" and MICRO.num_archs == 4096 and MICRO.positions == (4,) * 6
    assert MICRO.parse("64-41414-0_00_000").index == 0
    assert MICRO.parse("64-41414-3_33_333").index == 4095
    a = MICRO.parse("64-41414-1_02_333")
    assert a.ops == (1, 0, 2, 3, 3, 3) and a.index == int("102333", 4)
    assert a.op_names()[:3] == ("skip_connect", "none", "nor_conv_1x1")
    archs = list(MICRO.all_archs())
    assert [x.index for x in archs] == list(range(4096))
    for x in archs[::37]:
        assert MICRO.parse(str(x)) == x == MICRO.from_index(x.index) == MICRO.parse(list(x.ops)) == MICRO.parse(x)
        assert MICRO.from_choices(MICRO.to_choices(x)) == x


def test_micro_trivial_cells():
    trivial = [a for a in MICRO.all_archs() if MICRO.is_trivial(a)]
    # brute force over all 6-edge assignments: node 3 unreachable from node 0 through non-none edges
    assert len(trivial) == 169
    assert MICRO.is_trivial(MICRO.parse("64-41414-0_00_000"))
    assert MICRO.is_trivial(MICRO.parse("64-41414-3_00_003"))  # 0->1 and 2->3 convs, no path 0 -> 3
    assert not MICRO.is_trivial(MICRO.parse("64-41414-0_00_100"))


def test_micro_moves_encoding_config():
    rng = np.random.default_rng(11)
    seq = [MICRO.sample(rng) for _ in range(40)]
    again = np.random.default_rng(11)
    assert seq == [MICRO.sample(again) for _ in range(40)] and len(set(seq)) > 35
    for a in seq[:10]:
        nbrs = MICRO.neighbours(a)
        assert len(nbrs) == 18 == len(set(nbrs))
        assert all(sum(x != y for x, y in zip(a.ops, n.ops)) == 1 for n in nbrs)
        child = MICRO.mutate(a, rng)
        assert child != a and child in nbrs
    x = MICRO.encode(seq)
    assert x.shape == (40, 24) and (x.sum(axis=1) == 6).all()
    assert (x.reshape(40, 6, 4).argmax(axis=2) == np.asarray([a.ops for a in seq])).all()
    for bad in ((0, 1, 2, 3, 4, 0), (0, 1)):  # out of range, wrong length
        with pytest.raises(ArchError, match="transnas101_micro"):
            MICRO.from_choices(bad)
    cs = MICRO.config_space(seed=1)
    for cfg in cs.sample_configuration(10):
        b = MICRO.from_config(cfg)
        assert isinstance(b, TNBMicroArch) and MICRO.from_config(MICRO.to_config(b, cs)) == b
    a = MICRO.parse("64-41414-3_13_113")
    assert MICRO.from_config(dict(zip(MICRO.edge_names(), a.op_names()))) == a


# ---------------------------------------------------------------------- macro space


def test_macro_skeletons_rule_order_and_round_trips():
    assert MACRO.name == "transnas101_macro" and MACRO.num_archs == 3256 and MACRO.positions == (5,) * 6
    archs = list(MACRO.all_archs())
    assert len(archs) == len(set(archs)) == 3256
    assert [a.index for a in archs] == list(range(3256))
    codes = ["".join(map(str, a.modules)) for a in archs]
    assert codes == sorted(codes)  # lexicographic order of the module codes
    vectors = [a.choices() for a in archs]
    assert vectors == sorted(vectors)  # = 6-position vectors read as base-5 numbers
    a = MACRO.parse("64-2243-basic")
    assert a.modules == (2, 2, 4, 3) and a.choices() == (2, 2, 4, 3, 0, 0) and str(a) == "64-2243-basic"
    for x in archs[::29]:
        assert MACRO.parse(str(x)) == x == MACRO.from_index(x.index) == MACRO.parse(x.index)
        assert MACRO.from_choices(MACRO.to_choices(x)) == x == MACRO.parse(list(x.modules))
    # the rule against brute force: 4..6 modules, 1..4 halvings (3, 4), 1..3 doublings (2, 4)
    brute = {
        m
        for n in (4, 5, 6)
        for m in itertools.product((1, 2, 3, 4), repeat=n)
        if 1 <= sum(c > 2 for c in m) <= 4 and 1 <= sum(c % 2 == 0 for c in m) <= 3
    }
    assert {x.modules for x in archs} == brute


def test_macro_from_choices_rejects_non_skeletons():
    assert MACRO.from_choices((1, 1, 1, 1, 0, 0)) is None  # no halving
    assert MACRO.from_choices((3, 3, 3, 3, 0, 0)) is None  # no doubling
    assert MACRO.from_choices((4, 4, 4, 4, 0, 0)) is None  # 4 doublings
    assert MACRO.from_choices((2, 0, 3, 3, 3, 0)) is None  # absent module in the middle
    assert MACRO.from_choices((2, 3, 0, 0, 0, 0)) is None  # fewer than 4 modules
    for bad in ((2, 2, 4, 3), (2, 2, 4, 3, 0, 5)):  # not 6 positions, code out of range
        with pytest.raises(ArchError, match="transnas101_macro"):
            MACRO.from_choices(bad)
    assert MACRO.from_choices((2, 2, 4, 3, 0, 0)) == MACRO.parse("64-2243-basic")


def test_macro_moves_encoding_config():
    rng = np.random.default_rng(5)
    seq = [MACRO.sample(rng) for _ in range(60)]
    assert len(set(seq)) > 50
    sizes = set()
    for a in MACRO.all_archs():
        nbrs = MACRO.neighbours(a)
        sizes.add(len(nbrs))
        assert all(sum(x != y for x, y in zip(a.choices(), n.choices())) == 1 for n in nbrs)
    assert min(sizes) == 9 and max(sizes) == 20
    for a in seq[:20]:
        child = MACRO.mutate(a, rng)
        assert child != a and child in MACRO.neighbours(a)
    x = MACRO.encode(seq)
    assert x.shape == (60, 30) and (x.sum(axis=1) == 6).all()
    assert (x.reshape(60, 6, 5).argmax(axis=2) == np.asarray([a.choices() for a in seq])).all()
    cs = MACRO.config_space(seed=3)
    got = [MACRO.from_config(c) for c in cs.sample_configuration(200)]
    valid = [g for g in got if g is not None]
    assert valid and all(isinstance(g, TNBMacroArch) for g in valid) and len(valid) < len(got)
    a = MACRO.parse("64-111114-basic")
    assert MACRO.from_config({f"module{p}": str(c) for p, c in enumerate(a.choices())}) == a
    b = MACRO.parse("64-2243-basic")
    conf = {"module0": "2", "module1": "2", "module2": "4", "module3": "3", "module4": "0", "module5": "0"}
    assert MACRO.from_config(conf) == b == MACRO.from_config(MACRO.to_config(b, cs))
    assert MACRO.from_config({**conf, "module4": "0", "module5": "1"}) is None  # a gap
    with pytest.raises(ArchError, match="module0"):
        MACRO.from_config({"module1": "2"})
    assert not any(MACRO.is_trivial(a) for a in seq)


# ---------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "space, value, match",
    [
        (MICRO, NB201_STRING, "NAS-Bench-201"),
        (MICRO, "01220120", "NAS-Bench-Macro"),
        (MICRO, "64-2243-basic", "macro"),
        (MICRO, "64-41414-4_00_000", "micro arch string"),
        (MICRO, "64-41414-0_000_00", "micro arch string"),
        (MICRO, "32-41414-0_00_000", "micro arch string"),
        (MICRO, 4096, r"0\.\.4095"),
        (MICRO, (0, 1, 2), "op tuple"),
        (MACRO, NB201_STRING, "NAS-Bench-201"),
        (MACRO, "64-41414-3_13_113", "micro"),
        (MACRO, "64-1111-basic", "3,256 skeletons"),
        (MACRO, "64-123-basic", "3,256 skeletons"),
        (MACRO, "64-1234123-basic", "3,256 skeletons"),
        (MACRO, "64-1250-basic", "macro arch string"),
        (MACRO, 3256, r"0\.\.3255"),
        (MACRO, (1, 1, 1, 1), "not a skeleton"),
        (MACRO, 2.5, "not an architecture"),
    ],
)
def test_bad_arch_values_raise_one_clear_error(space, value, match):
    with pytest.raises(ArchError, match=match) as info:
        space.parse(value, where="from config key search.start")
    assert "search.start" in str(info.value)


def test_tasks_and_heads():
    for space in (MICRO, MACRO):
        assert space.tasks == TASKS and len(TASKS) == 7
        assert space.num_classes("class_object") == 75 and space.num_classes("class_scene") == 47
        assert space.num_classes("jigsaw") == 1000
        assert space.input_size("class_object") == 256 and space.input_size("jigsaw") == 255
        assert space.input_size("normal") == 256
        assert space.network_tasks == NETWORK_TASKS == ("class_scene", "class_object", "jigsaw")
        for task in ("room_layout", "segmentsemantic", "normal", "autoencoder"):
            with pytest.raises(ArchError, match="tasks with networks: class_scene, class_object, jigsaw"):
                space.build_network(space.from_index(0), task)
            with pytest.raises(ArchError, match="no network"):
                space.num_classes(task)
        with pytest.raises(ArchError, match="unknown task 'cifar10'.*accepted: class_scene, class_object, room_layout"):
            space.build_network(space.from_index(0), "cifar10")


# ---------------------------------------------------------------------- networks


@pytest.mark.parametrize("space, arch", [(MICRO, CHEAP_MICRO), (MACRO, CHEAP_MACRO)])
def test_forward_shapes_of_every_head(space, arch):
    for task in NETWORK_TASKS:
        net = space.build_network(arch, task, generator=torch.Generator().manual_seed(0))
        assert isinstance(net, TNBNetwork)
        net.eval()
        g = torch.Generator().manual_seed(1)
        with torch.no_grad():
            if task == "jigsaw":
                y_tiles = net(torch.randn(2, 9, 3, 32, 32, generator=g))
                y_image = net(torch.randn(2, 3, 96, 96, generator=g))
                assert y_tiles.shape == y_image.shape == (2, 1000)
            else:
                assert net(torch.randn(2, 3, 64, 64, generator=g)).shape == (2, space.num_classes(task))


def test_encoder_geometry_and_widths():
    micro = MICRO.build_network(CHEAP_MICRO, "class_object")
    with torch.no_grad():
        f = micro.encoder(torch.zeros(1, 3, 64, 64))
    assert f.shape == (1, 512, 2, 2)  # stem /4, skeleton 41414: three more halvings, 64 -> 512
    plain = MACRO.build_network(CHEAP_MACRO, "class_object", bn=False)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in plain.modules())
    with torch.device("meta"):  # shapes only: a 20M-parameter encoder, nothing computed
        big = TNBNetwork(MACRO.parse("64-2243-basic"), "class_object")
        out = big.encoder(torch.zeros(1, 3, 256, 256))
    assert big.encoder.out_channels == 512  # 2, 2, 4 double the width: 64 -> 512
    assert out.shape == (1, 512, 16, 16)  # 256 / 4 (stem), then 4 and 3 halve twice more


def test_jigsaw_tiles_follow_the_benchmark_geometry():
    img = torch.arange(3 * 255 * 255, dtype=torch.float32).reshape(1, 3, 255, 255)
    tiles = image_to_tiles(img)
    assert tiles.shape == (1, 9, 3, 64, 64)
    # tile 5 = row 1, column 2 of the 85-pixel grid, centred crop offset (85 - 64) // 2 = 10
    assert torch.equal(tiles[0, 5], img[0, :, 85 + 10 : 85 + 74, 170 + 10 : 170 + 74])


def test_seeded_weights_and_trivial_cell_ignores_input():
    a = MICRO.build_network(CHEAP_MICRO, "class_scene", generator=torch.Generator().manual_seed(9))
    b = MICRO.build_network(CHEAP_MICRO, "class_scene", generator=torch.Generator().manual_seed(9))
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    dead = MICRO.build_network("64-41414-2_00_002", "class_scene", generator=torch.Generator().manual_seed(3)).eval()
    live = MICRO.build_network("64-41414-2_00_102", "class_scene", generator=torch.Generator().manual_seed(3)).eval()
    g = torch.Generator().manual_seed(4)
    x1, x2 = torch.randn(1, 3, 64, 64, generator=g), torch.randn(1, 3, 64, 64, generator=g)
    with torch.no_grad():
        assert torch.equal(dead(x1), dead(x2))
        assert not torch.equal(live(x1), live(x2))


# ---------------------------------------------------------------------- the benchmark


def test_benchmark_facts(micro_bench, macro_bench):
    assert micro_bench.space.name == "transnas101_micro" and macro_bench.space.name == "transnas101_macro"
    assert micro_bench.datasets == TASKS and micro_bench.fidelities == (FINAL_EPOCH,)
    assert not micro_bench.has_train_time and micro_bench.name == "transnas101_micro"
    facts = {
        ("64-41414-0_00_000", "class_object"): 26.55,
        ("64-41414-0_00_000", "class_scene"): 7.48,
        ("64-41414-3_33_333", "class_object"): 42.14,
        ("64-41414-3_33_333", "class_scene"): 53.67,
    }
    for (arch, task), value in facts.items():
        r = micro_bench.query(MICRO.parse(arch), task)
        assert isinstance(r, Result) and r.train_seconds is None
        assert r.valid_acc == r.test_acc and round(r.valid_acc, 2) == value
    for task, best in (("class_object", "64-41414-3_13_113"), ("class_scene", "64-41414-3_32_132")):
        col = micro_bench.column(task, "valid_acc")
        assert col.shape == (4096,) and str(MICRO.from_index(int(col.argmax()))) == best
    assert round(float(micro_bench.column("class_object", "valid_acc").max()), 2) == 45.59
    assert round(float(micro_bench.column("class_scene", "valid_acc").max()), 2) == 54.94
    jig = macro_bench.column("jigsaw", "valid_acc")
    assert jig.shape == (3256,) and str(MACRO.from_index(int(jig.argmax()))) == "64-2243-basic"
    assert round(float(jig.max()), 2) == 97.02
    assert (macro_bench.column("room_layout", "valid_neg_loss") < 0).all()
    assert ((micro_bench.column("normal", "test_acc") >= 0) & (micro_bench.column("normal", "test_acc") <= 1)).all()
    assert micro_bench.metric_name("segmentsemantic") == "valid_acc" == METRIC_OF_TASK["segmentsemantic"]
    assert np.isnan(macro_bench.column("jigsaw", "train_seconds")).all()


def test_trivial_cells_share_one_value_on_classification(micro_bench):
    trivial = np.array([MICRO.is_trivial(a) for a in MICRO.all_archs()])
    for task in ("class_object", "class_scene", "jigsaw", "segmentsemantic"):
        assert np.unique(micro_bench.column(task, "valid_acc")[trivial]).size == 1


def test_benchmark_bad_queries(micro_bench, macro_bench, tnb_table):
    with pytest.raises(BenchmarkError, match="accepted: class_scene"):
        micro_bench.query(MICRO.from_index(0), "cifar10")
    with pytest.raises(BenchmarkError, match="-1"):
        micro_bench.query(MICRO.from_index(0), "jigsaw", 200)
    # another task's metric is a declared metric of the benchmark: readable, NaN (jigsaw records none)
    assert np.isnan(micro_bench.column("jigsaw", "valid_ssim")).all()
    with pytest.raises(BenchmarkError, match="'valid_loss' on 'jigsaw'.*valid_top1"):
        micro_bench.column("jigsaw", "valid_loss")
    with pytest.raises(ArchError, match="NAS-Bench-201"):
        macro_bench.query(NB201_STRING, "jigsaw")
    with pytest.raises(ArchError, match="micro"):
        macro_bench.query("64-41414-3_13_113", "jigsaw")
    with pytest.raises(BenchmarkError, match="accepted: micro, macro"):
        TransNAS101Benchmark(tnb_table, space="nano")
    assert macro_bench.query("64-2243-basic", "jigsaw").valid_acc == pytest.approx(97.0193, abs=1e-4)


def _write_gz(path: Path, text: str) -> Path:
    with gzip.open(path, "wt", encoding="utf-8", newline="") as fh:
        fh.write(text)
    return path


def test_truncated_corrupt_or_incomplete_table(tmp_path: Path, tnb_table: Path):
    raw = tnb_table.read_bytes()
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(BenchmarkError, match="truncated") as info:
        TransNAS101MicroBenchmark(cut)
    assert str(cut) in str(info.value)
    lines = gzip.decompress(raw).decode().splitlines()
    short = _write_gz(tmp_path / "short.csv.gz", "\n".join(lines[:-10]) + "\n")
    with pytest.raises(BenchmarkError, match="incomplete.*missing"):
        TransNAS101MacroBenchmark(short)
    header = _write_gz(tmp_path / "header.csv.gz", "space,task,arch,value\n")
    with pytest.raises(BenchmarkError, match="header"):
        TransNAS101MicroBenchmark(header)
    row = "micro,class_object,{},valid_top1,40.0\n"
    foreign = _write_gz(tmp_path / "foreign.csv.gz", lines[0] + "\n" + row.format("01220120"))
    with pytest.raises(BenchmarkError, match="line 2.*NAS-Bench-Macro"):
        TransNAS101MicroBenchmark(foreign)
    task = _write_gz(tmp_path / "task.csv.gz", lines[0] + "\nmicro,depth,64-41414-0_00_000,valid_l1,1.0\n")
    with pytest.raises(BenchmarkError, match="task 'depth'"):
        TransNAS101MicroBenchmark(task)
    metric = _write_gz(tmp_path / "metric.csv.gz", lines[0] + "\nmicro,normal,64-41414-0_00_000,valid_top1,1.0\n")
    with pytest.raises(BenchmarkError, match="expected 'valid_ssim'"):
        TransNAS101MicroBenchmark(metric)
    with pytest.raises(BenchmarkError, match="not found"):
        TransNAS101MicroBenchmark(tmp_path / "absent.csv.gz")


def test_default_path_is_the_users_file_else_the_embedded_copy(monkeypatch, tnb_table: Path, tmp_path: Path):
    monkeypatch.delenv("NASEARCH_DATA", raising=False)
    embedded = TransNAS101MicroBenchmark().path
    assert embedded.parts[-3:] == ("embedded", "transnas101", "tnb101_final_valid.csv.gz")
    assert embedded.read_bytes() == tnb_table.read_bytes()
    monkeypatch.setenv("NASEARCH_DATA", str(tmp_path / "not-a-folder"))
    with pytest.raises(BenchmarkError, match="NASEARCH_DATA"):
        TransNAS101MicroBenchmark(where="from config key benchmark.path")
    monkeypatch.setenv("NASEARCH_DATA", str(tnb_table.parents[1]))
    assert TransNAS101MacroBenchmark().path == tnb_table
