"""Full check: the network nasearch builds for every NAS-Bench-Macro key has the benchmark's params
and FLOPs.

    NASEARCH_DATA=/path/to/data nice -n 10 python experiments/nasbench_macro_params/check.py

Builds all 6,561 networks (CPU, one thread), counts parameters and FLOPs (the authors' convention,
:func:`nasearch.space.nasbench_macro.count_flops`) and compares them with the JSON's ``params`` and
``flops``. Progress goes to ``progress.tsv`` next to this file (key, params, flops), so a killed run
resumes where it stopped; the summary is written atomically to ``result.txt``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import torch

from nasearch.space.nasbench_macro import NASBenchMacroSpace, count_flops, count_parameters

HERE = Path(__file__).resolve().parent


def main() -> int:
    torch.set_num_threads(1)
    root = os.environ.get("NASEARCH_DATA")
    if not root:
        print("set NASEARCH_DATA to the folder holding nasbench_macro/nas-bench-macro_cifar10.json", file=sys.stderr)
        return 2
    path = Path(root) / "nasbench_macro" / "nas-bench-macro_cifar10.json"
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    space = NASBenchMacroSpace()
    progress = HERE / "progress.tsv"
    done: dict[str, tuple[int, int]] = {}
    if progress.exists():
        for line in progress.read_text().splitlines():
            parts = line.split("\t")
            if len(parts) == 3:
                done[parts[0]] = (int(parts[1]), int(parts[2]))
    t0 = time.time()
    with open(progress, "a", encoding="utf-8") as out:
        for n, arch in enumerate(space.all_archs()):
            key = str(arch)
            if key in done:
                continue
            net = space.build_network(arch, "cifar10")
            done[key] = (count_parameters(net), count_flops(net, 32))
            out.write(f"{key}\t{done[key][0]}\t{done[key][1]}\n")
            out.flush()
            if n % 250 == 0:
                print(f"{n + 1}/{space.num_archs} keys, {time.time() - t0:.0f} s", flush=True)
    keys = [str(a) for a in space.all_archs()]
    bad_params = [k for k in keys if done[k][0] != data[k]["params"]]
    bad_flops = [k for k in keys if done[k][1] != data[k]["flops"]]
    lines = [
        f"keys checked: {len(keys)} of {space.num_archs} (all keys of {path.name})",
        f"params equal to the JSON's 'params': {len(keys) - len(bad_params)} of {len(keys)}"
        + (f"; first mismatches: {bad_params[:5]}" if bad_params else ""),
        f"FLOPs equal to the JSON's 'flops': {len(keys) - len(bad_flops)} of {len(keys)}"
        + (f"; first mismatches: {bad_flops[:5]}" if bad_flops else ""),
        f"params range: {min(v[0] for v in done.values()):,} .. {max(v[0] for v in done.values()):,}; "
        f"FLOPs range: {min(v[1] for v in done.values()):,} .. {max(v[1] for v in done.values()):,}",
        f"torch {torch.__version__}",
    ]
    tmp = HERE / "result.txt.tmp"
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, HERE / "result.txt")
    print("\n".join(lines))
    return 0 if not bad_params and not bad_flops else 1


if __name__ == "__main__":
    sys.exit(main())
