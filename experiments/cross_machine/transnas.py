"""How far a proxy's TransNAS-Bench-101 scores move between CPU kernel sets, with the settings of its
committed per-proxy study (``experiments/transnas101/mpi_cross/<micro|macro>/<proxy>/``: the class_scene
network, the study's image set and batch size, seed 0, one torch thread).

The NB201 measurement (``run.py``) sets each proxy's tolerance from 32-pixel CIFAR networks; a
TransNAS study scores 256-pixel networks, where a sign- or count-based score (GradSign) can move more.
Cells: every 50th network of the study's 1,000 (20 networks), each scored once per kernel setting of
:data:`SETTINGS` in its own subprocess, and compared with the committed ``scores.csv`` (this machine's
default kernels when the study ran).

    NASEARCH_DATA=/path .venv/bin/python experiments/cross_machine/transnas.py micro/gradsign [...]

Writes ``transnas/<space>_<proxy>/<setting>.csv`` (index, arch, score), ``transnas.md`` and ``transnas.csv``
(study, setting, max relative difference to ``default`` and to the committed study), from which
``tests/reproduction/test_transnas101_cross.py`` takes a study's tolerance where this spread exceeds
the proxy's NB201-measured one.
"""

from __future__ import annotations

import argparse
import csv
import math
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "transnas"
STUDIES = HERE.parent / "transnas101" / "mpi_cross"
sys.path.insert(0, str(HERE))
from run import SETTINGS, _write_atomic, kernel_env  # noqa: E402

USED = ("default", "aten_avx2+onednn_avx2", "aten_default+onednn_sse41")
EVERY = 50


def study(name: str) -> tuple[Path, dict[str, str], dict[str, float]]:
    from omegaconf import OmegaConf

    folder = STUDIES / name
    if not (folder / "scores.csv").is_file():
        raise SystemExit(f"{name}: no committed study at {folder} (accepted: <micro|macro>/<proxy> with a scores.csv)")
    o = dict(str(x).split("=", 1) for x in OmegaConf.to_container(OmegaConf.load(folder / ".hydra" / "overrides.yaml")))
    with open(folder / "scores.csv", newline="") as fh:
        rows = {r["arch"]: float(r[folder.name]) if r[folder.name] != "" else math.nan for r in csv.DictReader(fh)}
    return folder, o, rows


def worker(name: str, setting: str) -> None:
    import torch

    torch.set_num_threads(1)
    from nasearch.experiments.mpi import sample_cells
    from nasearch.scoring import score_cells
    from nasearch.space import get_space

    folder, o, _ = study(name)
    space = get_space(o["benchmark"])
    archs = sample_cells(1000, 0, space=space)[::EVERY]
    scores = score_cells(archs, folder.name, "class_scene", image_dataset=o["proxy.image_dataset"],
                         batch_size=int(o["proxy.batch_size"]), seed=0, progress=False, space=space)
    rows = [[a.index, space.to_string(a), repr(float(s))] for a, s in zip(archs, scores)]
    _write_atomic(OUT / name.replace("/", "_") / f"{setting}.csv", rows, ["index", "arch", "score"])


def read(path: Path) -> dict[str, float]:
    with open(path, newline="") as fh:
        return {r["arch"]: float(r["score"]) for r in csv.DictReader(fh)}


def rel(a: dict[str, float], b: dict[str, float]) -> tuple[float, str]:
    worst, cell = 0.0, ""
    for k in a:
        d = abs(a[k] - b[k]) / abs(b[k]) if b[k] else abs(a[k] - b[k])
        if d > worst:
            worst, cell = d, k
    return worst, cell


def summary(names: list[str]) -> None:
    from nasearch.proxies import get_proxy

    lines = ["# TransNAS-Bench-101 cross-kernel spread (`transnas.py`)", "",
             f"Every {EVERY}th network of each committed study's 1,000 ({1000 // EVERY}), the study's settings; "
             "max relative difference `|s - s_ref| / |s_ref|` and the worst network.", "",
             "| study | setting | vs default | vs the committed study | registered tolerance |", "|---|---|---|---|---|"]
    table = []
    for name in names:
        _, _, committed = study(name)
        d = OUT / name.replace("/", "_")
        base = read(d / "default.csv")
        tol = get_proxy(name.split("/")[1]).tolerance
        for s in USED:
            if not (d / f"{s}.csv").is_file():
                continue
            cur = read(d / f"{s}.csv")
            a, ca = rel(cur, base)
            b, cb = rel(cur, {k: committed[k] for k in cur})
            lines.append(f"| {name} | {s} | {a:.2e} ({ca}) | {b:.2e} ({cb}) | {tol:g} |")
            table.append([name, s, f"{a:.3e}", f"{b:.3e}"])
    (HERE / "transnas.md").write_text("\n".join(lines) + "\n")
    _write_atomic(HERE / "transnas.csv", table, ["study", "setting", "max_rel_vs_default", "max_rel_vs_committed"])
    print("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("studies", nargs="*", help="<micro|macro>/<proxy>")
    ap.add_argument("--worker", nargs=2, metavar=("STUDY", "SETTING"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    for name in args.studies:
        study(name)
        for s in USED:
            if (OUT / name.replace("/", "_") / f"{s}.csv").is_file():
                continue
            assert s in SETTINGS
            subprocess.run([sys.executable, __file__, "--worker", name, s], env=kernel_env(s), check=True)
    summary(args.studies)


if __name__ == "__main__":
    main()
