"""Where ZiCo's cross-machine spread comes from: the initial weights or the arithmetic (issue 13).

``torch.randn`` (and so ``nn.init.normal_`` / ``kaiming_normal_``) has a vectorised AVX2 path in ATen;
under ``ATEN_CPU_CAPABILITY=default`` (a CPU without AVX2, or another architecture's kernels) it draws
the same normals through scalar code, which rounds differently in the last bits. So the same seed
gives networks whose initial weights differ by about one float32 ulp. oneDNN's instruction set
(``ONEDNN_MAX_CPU_ISA``) does not touch the initial weights, only the float32 convolutions.

For the first 10 of the 50 cells of ``run.py`` this script records, per kernel setting, a hash of each
cell's initial network (the scorer's seeding) and its ``zico`` and ``zico_f64`` scores, and compares
them with the ``default`` setting. Each setting runs in its own process (torch picks its kernels at
start-up); results go to ``init_split/<setting>.csv`` (atomic, a finished setting is skipped on rerun)
and the comparison to ``init_split.md``.

    NASEARCH_DATA=/path/to/data python experiments/cross_machine/init_split.py
"""

from __future__ import annotations

import csv
import hashlib
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "init_split"
N_CELLS = 10
SPLIT = ("default", "aten_default", "onednn_sse41")


def _run_setting(setting: str) -> None:
    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, str(HERE))
    from run import _write_atomic, cells

    from nasearch.scoring import cell_generators, score_cells
    from nasearch.space import get_space

    space = get_space("nb201")
    rows = []
    for a in cells()[:N_CELLS]:
        g, _ = cell_generators(0, a)  # the scorer's own network seeding
        net = space.build_network(a, "cifar10", generator=g)
        h = hashlib.sha256(b"".join(v.numpy().tobytes() for v in net.state_dict().values())).hexdigest()[:16]
        row: list[object] = [a.index, h]
        for proxy in ("zico", "zico_f64"):
            (s,) = score_cells([a], proxy, "cifar10", batch_size=64, seed=0, progress=False, space="nb201")
            row.append(repr(float(s)))
        rows.append(row)
    _write_atomic(OUT / f"{setting}.csv", rows, ["index", "init_hash", "zico", "zico_f64"])


def _read(setting: str) -> list[dict[str, str]]:
    with open(OUT / f"{setting}.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--setting":
        _run_setting(sys.argv[2])
        return
    sys.path.insert(0, str(HERE))
    from run import kernel_env

    procs = []
    for setting in SPLIT:
        if (OUT / f"{setting}.csv").is_file():
            continue
        cmd = [sys.executable, __file__, "--setting", setting]
        procs.append((setting, time.time(), subprocess.Popen(cmd, env=kernel_env(setting))))
    for setting, t0, p in procs:
        if p.wait() != 0:
            raise SystemExit(f"{setting} failed with exit code {p.returncode}")
        print(f"{setting}: {time.time() - t0:.0f} s", flush=True)
    base = _read("default")
    lines = [
        f"First {N_CELLS} cells of `run.py`'s 50; batch 64, seed 0, CIFAR-10 images, one thread. "
        "Relative differences to the `default` setting.",
        "",
        "| setting | cells with other initial weights | zico max rel. diff | zico median | "
        "zico_f64 max rel. diff | zico_f64 median |",
        "|---|---|---|---|---|---|",
    ]
    for setting in SPLIT[1:]:
        other = _read(setting)
        diff_init = sum(a["init_hash"] != b["init_hash"] for a, b in zip(base, other))
        cols = []
        for proxy in ("zico", "zico_f64"):
            rel = sorted(abs(float(b[proxy]) - float(a[proxy])) / abs(float(a[proxy])) for a, b in zip(base, other))
            cols += [f"{rel[-1]:.3g}", f"{rel[len(rel) // 2]:.3g}"]
        lines.append(f"| {setting} | {diff_init} of {len(base)} | " + " | ".join(cols) + " |")
    (HERE / "init_split.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
