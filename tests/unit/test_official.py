"""Converting the official NAS-Bench-201 / NATS-Bench files into the table layout."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import numpy as np
import pytest

from nasearch.benchmarks import BenchmarkError, official
from nasearch.benchmarks.official import convert_to_table, nb201_param_count
from nasearch.benchmarks.table import COLUMNS, TableBenchmark
from nasearch.space.nb201.arch import Arch

NATS_SAMPLE = Path("nats-tss-sample") / "NATS-tss-v1_0-3ffb9-simple"
SAMPLE_CELLS = ("0", "11", "284")


def _read_rows(path: Path) -> dict[tuple[str, str], list[str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        assert tuple(next(reader)) == COLUMNS
        return {(r[0], r[2]): r for r in reader}


@pytest.fixture(scope="module")
def nats_dir(data_root: Path) -> Path:
    path = data_root / NATS_SAMPLE
    if not path.is_dir():
        pytest.skip(f"no NATS-Bench sample at {path}")
    return path


@pytest.fixture(scope="module")
def shared_rows(data_root: Path) -> dict[tuple[str, str], list[str]]:
    path = data_root / "nb201" / "nb201.csv.gz"
    if not path.is_file():
        pytest.skip(f"no NB201 table at {path}")
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        return {(r[0], r[2]): r for r in csv.reader(fh) if r[0] in SAMPLE_CELLS}


# ---------------------------------------------------------------------------------------------- NATS-Bench
def test_nats_dir_reproduces_shared_rows(nats_dir: Path, shared_rows, tmp_path: Path) -> None:
    out = tmp_path / "nats.csv.gz"
    assert convert_to_table(nats_dir, out, progress=False) == 9
    mine = _read_rows(out)
    assert set(mine) == set(shared_rows) and len(mine) == 9
    for key, ref in shared_rows.items():
        # string-equal: same figures, same rounding, every column
        assert mine[key] == ref, key
        np.testing.assert_allclose([float(v) for v in mine[key][3:]], [float(v) for v in ref[3:]], rtol=1e-9)


def test_nats_single_file(nats_dir: Path, shared_rows, tmp_path: Path) -> None:
    """The non-simple layout: one NATS-tss-*.pickle.pbz2 dict read with fast_mode=False."""
    from nats_bench.api_utils import pickle_load, pickle_save

    meta = pickle_load(str(nats_dir / "meta.pickle.pbz2"))
    arch2infos = {int(i): pickle_load(str(nats_dir / f"{int(i):06d}.pickle.pbz2")) for i in SAMPLE_CELLS}
    bundle = {
        "meta_archs": meta["meta_archs"],
        "arch2infos": arch2infos,
        "evaluated_indexes": set(arch2infos),
    }
    pickle_save(bundle, str(tmp_path / "NATS-tss-mini"))  # appends .pbz2
    out = tmp_path / "single.csv"
    assert convert_to_table(tmp_path / "NATS-tss-mini.pbz2", out, progress=False) == 9
    assert _read_rows(out) == shared_rows


def test_converted_table_loads(nats_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "nats.csv.gz"
    convert_to_table(nats_dir, out, progress=False)
    table = TableBenchmark(out)
    arch = Arch.from_string(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|none~0|nor_conv_3x3~1|avg_pool_3x3~2|"
    )
    assert table.official_index(arch) == 11
    r12 = table.query(arch, "cifar10", 12)
    assert (r12.valid_acc, r12.train_seconds) == (63.278, 149.545)
    assert table.query(arch, "cifar10").test_acc == 91.5833
    assert table.column("cifar10", "flops_m")[arch.index] == 113.95137


def test_output_is_deterministic(nats_dir: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv.gz", tmp_path / "b.csv.gz"
    convert_to_table(nats_dir, a, progress=False)
    convert_to_table(nats_dir, b, progress=False)
    assert a.read_bytes() == b.read_bytes()


# ---------------------------------------------------------------------------------------------- params
def test_param_count_matches_the_network() -> None:
    from nasearch.space.nb201.networks import build_network
    from nasearch.space.networks import count_parameters

    for text in (
        "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|none~0|nor_conv_3x3~1|avg_pool_3x3~2|",
    ):
        arch = Arch.from_string(text)
        for dataset, classes in (("cifar10", 10), ("ImageNet16-120", 120)):
            assert nb201_param_count(arch, classes) == count_parameters(build_network(arch, dataset))


def test_param_count_matches_shared_table(nb201_table: TableBenchmark) -> None:
    for dataset, classes in official.NUM_CLASSES.items():
        col = nb201_table.column(dataset, "params_m")
        counted = np.array([nb201_param_count(Arch.from_index(i), classes) for i in range(len(col))]) / 1e6
        np.testing.assert_allclose(col, counted, rtol=0, atol=5e-7)


# ---------------------------------------------------------------------------------------------- NAS-Bench-201 .pth
_MINI_CELLS = {
    # official index -> (arch string, figure offset); figures are built from the offset below
    0: (
        "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
        0.0,
    ),
    11: ("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|none~0|nor_conv_3x3~1|avg_pool_3x3~2|", 10.0),
    284: ("|skip_connect~0|+|skip_connect~0|skip_connect~1|+|none~0|nor_conv_1x1~1|none~2|", 20.0),
}
_EVAL_SETS = {
    "cifar10-valid": ("x-valid", "ori-test"),
    "cifar10": ("ori-test",),
    "cifar100": ("x-valid", "x-test", "ori-test"),
    "ImageNet16-120": ("x-valid", "x-test", "ori-test"),
}
_CLASSES = {"cifar10-valid": 10, "cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}
_SEEDS = {"cifar10-valid": (777, 888), "cifar10": (777,), "cifar100": (777,), "ImageNet16-120": (777,)}
_EPOCH_SECONDS = {"cifar10-valid": 10.0, "cifar10": 20.0, "cifar100": 20.0, "ImageNet16-120": 60.0}


def _final_acc(offset: float, dataset: str, setname: str, epochs: int, seed: int) -> float:
    """A distinct, known figure per (cell, dataset, set, schedule, seed)."""
    base = {"cifar10-valid": 50.0, "cifar10": 52.0, "cifar100": 30.0, "ImageNet16-120": 15.0}[dataset]
    bump = {"x-valid": 0.25, "x-test": 0.5, "ori-test": 0.75}[setname]
    return base + offset + bump + (5.0 if epochs == 200 else 0.0) + (1.0 if seed == 888 else 0.0)


def _results(index: int, arch_str: str, offset: float, epochs: int):
    """An nas_201_api ArchResults holding every dataset's trials for one schedule."""
    from nas_201_api import ArchResults, ResultsCount

    arch = Arch.from_string(arch_str)
    archres = ArchResults(index, arch_str)
    for dataset, sets in _EVAL_SETS.items():
        for seed in _SEEDS[dataset]:
            params = nb201_param_count(arch, _CLASSES[dataset]) / 1e6
            result = ResultsCount(
                dataset,
                None,
                {e: 10.0 + e for e in range(epochs)},
                {e: 2.0 for e in range(epochs)},
                params,
                100.0 + offset,  # MFLOPs
                {"channel": 16, "num_cells": 5, "arch_str": arch_str, "class_num": _CLASSES[dataset]},
                seed,
                epochs,
                [0.01 + offset / 1000],  # latency, seconds
            )
            result.update_train_info(
                {e: 10.0 + e for e in range(epochs)},
                {e: 20.0 + e for e in range(epochs)},
                {e: 2.0 for e in range(epochs)},
                {e: _EPOCH_SECONDS[dataset] for e in range(epochs)},
            )
            accs, losses, times = {}, {}, {}
            for s in sets:
                for e in range(epochs):
                    final = e == epochs - 1
                    accs[f"{s}@{e}"] = _final_acc(offset, dataset, s, epochs, seed) if final else 1.0
                    losses[f"{s}@{e}"] = 1.0
                    times[f"{s}@{e}"] = 0.5
            result.update_eval(accs, losses, times)
            archres.update(dataset, seed, result)
    return archres


def _write_mini_pth(path: Path, cells: dict[int, tuple[str, float]]) -> None:
    """The layout NASBench201API reads: meta_archs, arch2infos {index: {'less', 'full'}}, evaluated_indexes."""
    import torch

    meta = [Arch.from_index(i).to_string() for i in range(300)]
    taken = {text for text, _ in cells.values()}
    meta = [t for t in meta if t not in taken]
    for idx, (text, _) in sorted(cells.items()):
        meta.insert(idx, text)
    arch2infos = {
        idx: {
            "less": _results(idx, text, off, 12).state_dict(),
            "full": _results(idx, text, off, 200).state_dict(),
        }
        for idx, (text, off) in cells.items()
    }
    torch.save({"meta_archs": meta, "arch2infos": arch2infos, "evaluated_indexes": sorted(cells)}, path)


@pytest.fixture(scope="module")
def mini_pth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("nb201") / "NAS-Bench-201-mini.pth"
    _write_mini_pth(path, _MINI_CELLS)
    return path


def test_mini_pth_is_what_the_official_api_reads(mini_pth: Path) -> None:
    from nas_201_api import NASBench201API

    api = NASBench201API(str(mini_pth), verbose=False)
    assert sorted(api.arch2infos_dict) == [0, 11, 284]
    info = api.get_more_info(11, "cifar10-valid", hp="200", is_random=False)
    assert info["valid-accuracy"] == pytest.approx(np.mean([50 + 10 + 0.25 + 5, 50 + 10 + 0.25 + 5 + 1]))


def test_mini_pth_round_trip(mini_pth: Path, tmp_path: Path) -> None:
    out = tmp_path / "mini.csv.gz"
    assert convert_to_table(mini_pth, out, progress=False) == 9
    rows = _read_rows(out)
    for idx, (text, off) in _MINI_CELLS.items():
        arch = Arch.from_string(text)
        for dataset in ("cifar10", "cifar100", "ImageNet16-120"):
            row = dict(zip(COLUMNS, rows[(str(idx), dataset)]))
            assert row["arch"] == text
            valid_ds = "cifar10-valid" if dataset == "cifar10" else dataset
            test_set = "ori-test" if dataset == "cifar10" else "x-test"
            for hp in (12, 200):
                valid = np.mean([_final_acc(off, valid_ds, "x-valid", hp, s) for s in _SEEDS[valid_ds]])
                test = np.mean([_final_acc(off, dataset, test_set, hp, s) for s in _SEEDS[dataset]])
                assert float(row[f"valid_acc_{hp}"]) == pytest.approx(valid, abs=1e-9)
                assert float(row[f"test_acc_{hp}"]) == pytest.approx(test, abs=1e-9)
                # train time: the valid protocol's schedule (cifar10-valid for cifar10), all epochs
                assert float(row[f"train_time_{hp}"]) == pytest.approx(hp * _EPOCH_SECONDS[valid_ds])
            assert float(row["params_m"]) == pytest.approx(
                nb201_param_count(arch, _CLASSES[dataset]) / 1e6, abs=1e-9
            )
            assert float(row["flops_m"]) == pytest.approx(100.0 + off)
            assert float(row["latency_s"]) == pytest.approx(0.01 + off / 1000)
    # cifar10's valid figure averages both cifar10-valid seeds: (65.25 + 66.25) / 2 for cell 11
    assert rows[("11", "cifar10")][COLUMNS.index("valid_acc_200")] == "65.75"
    table = TableBenchmark(out)
    assert table.official_index(Arch.from_string(_MINI_CELLS[284][0])) == 284


def test_mini_pth_missing_schedule_is_blank(tmp_path: Path) -> None:
    """NB201 v1_0 recorded 12-epoch runs for cifar10-valid only: other 12-epoch figures are empty."""
    import torch
    from nas_201_api import ArchResults

    path = tmp_path / "v1_0-like.pth"
    _write_mini_pth(path, {11: _MINI_CELLS[11]})
    data = torch.load(path, weights_only=True)
    less = ArchResults.create_from_state_dict(data["arch2infos"][11]["less"])
    keep = {k: v for k, v in less.all_results.items() if k[0] == "cifar10-valid"}
    less.all_results, less.dataset_seed = keep, {"cifar10-valid": less.dataset_seed["cifar10-valid"]}
    data["arch2infos"][11]["less"] = less.state_dict()
    torch.save(data, path)
    out = tmp_path / "out.csv"
    assert convert_to_table(path, out, progress=False) == 3
    rows = _read_rows(out)
    c10 = dict(zip(COLUMNS, rows[("11", "cifar10")]))
    c100 = dict(zip(COLUMNS, rows[("11", "cifar100")]))
    assert c10["valid_acc_12"] != "" and c10["test_acc_12"] == ""
    assert c100["valid_acc_12"] == c100["test_acc_12"] == c100["train_time_12"] == ""
    assert c100["test_acc_200"] != ""
    table = TableBenchmark(out)
    assert np.isnan(table.query(Arch.from_string(_MINI_CELLS[11][0]), "cifar100", 12).test_acc)


# ---------------------------------------------------------------------------------------------- errors
def test_missing_source(tmp_path: Path) -> None:
    missing = tmp_path / "NAS-Bench-201-v1_1-096897.pth"
    with pytest.raises(BenchmarkError) as err:
        convert_to_table(missing, tmp_path / "out.csv.gz", progress=False)
    msg = str(err.value)
    assert str(missing) in msg and "no such file" in msg
    assert "meta.pickle.pbz2" in msg and ".pth" in msg  # says what belongs there
    assert not (tmp_path / "out.csv.gz").exists()


def test_directory_without_meta(tmp_path: Path) -> None:
    with pytest.raises(BenchmarkError, match="has no meta.pickle.pbz2"):
        convert_to_table(tmp_path, tmp_path / "out.csv", progress=False)


def test_meta_only_directory(nats_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "NATS-tss-empty"
    folder.mkdir()
    (folder / "meta.pickle.pbz2").write_bytes((nats_dir / "meta.pickle.pbz2").read_bytes())
    with pytest.raises(BenchmarkError, match="no cell records"):
        convert_to_table(folder, tmp_path / "out.csv", progress=False)


def test_unrecognised_and_malformed_files(tmp_path: Path) -> None:
    import torch

    text = tmp_path / "table.csv"
    text.write_text("index,arch\n")
    with pytest.raises(BenchmarkError, match="unrecognised file"):
        convert_to_table(text, tmp_path / "out.csv", progress=False)
    bad_pth = tmp_path / "bad.pth"
    torch.save({"meta_archs": []}, bad_pth)
    with pytest.raises(BenchmarkError, match=r"cannot read NAS-Bench-201 file .*bad\.pth.*arch2infos"):
        convert_to_table(bad_pth, tmp_path / "out.csv", progress=False)
    bad_bz2 = tmp_path / "bad.pickle.pbz2"
    bad_bz2.write_bytes(b"BZh9 not really")
    with pytest.raises(BenchmarkError, match="cannot read NATS-Bench topology file"):
        convert_to_table(bad_bz2, tmp_path / "out.csv", progress=False)


def test_atomic_write(mini_pth: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "table.csv.gz"
    out.write_bytes(b"previous table")
    real = official.cell_rows
    calls = {"n": 0}

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # the first cell's rows are already in the temporary file
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(official, "cell_rows", failing)
    with pytest.raises(KeyboardInterrupt):
        convert_to_table(mini_pth, out, progress=False)
    assert out.read_bytes() == b"previous table"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.csv.gz"]  # no temporary left behind
    monkeypatch.setattr(official, "cell_rows", real)
    assert convert_to_table(mini_pth, out, progress=False) == 9
    assert len(_read_rows(out)) == 9


def test_recorded_params_disagreeing_with_the_network_are_logged(
    mini_pth: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import torch

    data = torch.load(mini_pth, weights_only=True)
    for state in data["arch2infos"][11]["full"]["all_results"].values():
        state["params"] = 9.99  # as NATS-Bench records for some seeds of 204 cells
    path = tmp_path / "odd-params.pth"
    torch.save(data, path)
    out = tmp_path / "out.csv"
    with caplog.at_level("WARNING", logger="nasearch.benchmarks.official"):
        convert_to_table(path, out, progress=False)
    assert "3 (cell, dataset) pairs" in caplog.text and "11/cifar10" in caplog.text
    arch = Arch.from_string(_MINI_CELLS[11][0])
    assert _read_rows(out)[("11", "cifar10")][COLUMNS.index("params_m")] == repr(
        round(nb201_param_count(arch, 10) / 1e6, 6)
    )
