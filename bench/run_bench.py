"""`make bench`: what nasearch costs, as ratios against references measured in the same run.

1. Proxies: seconds per cell of every registered proxy on a fixed set of 20 connected cells
   (CIFAR-10 networks, batch 64 of real CIFAR-10 images when $NASEARCH_DATA has them, else seeded
   Gaussian images), with one torch thread and with all threads; reference: one plain batched
   forward+backward pass (cross-entropy) of the same networks on the same batch.
2. GradSign: the batched implementation against the one-sample-at-a-time loop (the reference
   code's algorithm) and against the plain forward+backward floor, on the same 20 cells and batch,
   with one thread and with all threads.
3. EZNAS: statistics extraction (22 tensors of every ReLU-Conv-BN instance for inputs D, N, P,
   subsampled as the evolution cache stores them) in seconds per cell at batch 16, as a ratio to one
   plain forward+backward of the same network and batch in its fastest layout (the faster of
   contiguous and channels_last, measured in the same run); and programs evaluated per second on the
   cached statistics of 80 cells (the evolution task's size).
4. Search: 500 runs of REA on nb201 cifar10 (12,000 simulated seconds) with table-lookup proxy
   scores (N = 10), and the cost per run of every strategy, vanilla; reference: random search.

Results are printed as markdown and written to bench/results.md (override with --out).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from nasearch.proxies import all_proxies
from nasearch.proxies.registry import ProxyContext
from nasearch.space import Arch, sample
from nasearch.space.networks import build_network

CELLS = 20
BATCH = 64


def fixed_cells(n: int = CELLS) -> list[Arch]:
    rng = np.random.default_rng(2022)
    out: list[Arch] = []
    while len(out) < n:
        a = sample(rng)
        if a.is_connected() and a not in out:
            out.append(a)
    return out


def batch(batch_size: int = BATCH, num_batches: int = 2) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], str]:
    root = os.environ.get("NASEARCH_DATA")
    if root and (Path(root) / "cifar-10-batches-py").is_dir():
        from nasearch.data import load_images, sample_batches

        images = load_images("cifar10", root, "train")
        return sample_batches(images, batch_size, num_batches, seed=0), "real CIFAR-10"
    g = torch.Generator().manual_seed(0)
    out = [(torch.randn(batch_size, 3, 32, 32, generator=g), torch.randint(0, 10, (batch_size,), generator=g)) for _ in range(num_batches)]
    return out, "Gaussian images (no $NASEARCH_DATA)"


def _net(arch: Arch, bn: bool = True) -> torch.nn.Module:
    return build_network(arch, "cifar10", bn=bn, generator=torch.Generator().manual_seed(arch.index))


def time_fwd_bwd(arch: Arch, x: torch.Tensor, y: torch.Tensor) -> float:
    net = _net(arch)
    t0 = time.perf_counter()
    loss = torch.nn.functional.cross_entropy(net(x), y)
    loss.backward()
    return time.perf_counter() - t0


def time_proxy(spec, arch: Arch, batches) -> float:
    net = _net(arch, spec.bn)
    ctx = ProxyContext(num_classes=10, generator=torch.Generator().manual_seed(1), input_size=32)
    bs = [(x.clone(), y.clone()) for x, y in batches[: max(1, spec.min_batches)]]
    t0 = time.perf_counter()
    spec.fn(net, bs, ctx)
    return time.perf_counter() - t0


def bench_proxies(cells, batches, threads_list) -> list[str]:
    lines = [
        f"### Proxies: seconds per cell ({len(cells)} cells, batch {BATCH}; ratio = proxy / plain fwd+bwd)",
        "",
        "| proxy | " + " | ".join(f"{t} thread{'s' if t > 1 else ''}: s/cell | ratio" for t in threads_list) + " |",
        "|---|" + "---|---|" * len(threads_list),
    ]
    x, y = batches[0]
    results: dict[str, list[str]] = {}
    floors = {}
    for t in threads_list:
        torch.set_num_threads(t)
        time_fwd_bwd(cells[0], x, y)  # warm-up
        floors[t] = statistics.median(time_fwd_bwd(a, x, y) for a in cells)
        results.setdefault("plain fwd+bwd (reference)", []).extend([f"{floors[t]:.3f}", "1.00"])
        for spec in all_proxies():
            time_proxy(spec, cells[0], batches)  # warm-up
            per = statistics.median(time_proxy(spec, a, batches) for a in cells)
            results.setdefault(spec.name, []).extend([f"{per:.3f}", f"{per / floors[t]:.2f}"])
            print(f"  {spec.name:<10} {t} thread(s): {per:.3f} s/cell", file=sys.stderr, flush=True)
    for name, vals in results.items():
        lines.append(f"| {name} | " + " | ".join(vals) + " |")
    return lines


def bench_gradsign(cells, batches, threads: int) -> list[str]:
    from nasearch.proxies.gradsign import gradsign_batched, gradsign_loop

    torch.set_num_threads(threads)
    x, y = batches[0]
    time_fwd_bwd(cells[0], x, y)  # warm-up
    fb, bt, lp = [], [], []
    for a in cells:
        fb.append(time_fwd_bwd(a, x, y))
        net = _net(a)
        t0 = time.perf_counter()
        gradsign_batched(net, x, y)
        bt.append(time.perf_counter() - t0)
        net = _net(a)
        t0 = time.perf_counter()
        gradsign_loop(net, x, y)
        lp.append(time.perf_counter() - t0)
    f, b, lo = (sum(v) for v in (fb, bt, lp))
    return [
        f"### GradSign, batched vs one-sample loop ({len(cells)} cells, batch {BATCH}, {threads} thread(s))",
        "",
        "| measurement | total s | s/cell | ratio to fwd+bwd |",
        "|---|---|---|---|",
        f"| plain batched forward+backward (floor) | {f:.2f} | {f / len(cells):.3f} | 1.00 |",
        f"| GradSign batched | {b:.2f} | {b / len(cells):.3f} | {b / f:.2f} |",
        f"| GradSign one-sample loop | {lo:.2f} | {lo / len(cells):.3f} | {lo / f:.2f} |",
        "",
        f"Batched is **{lo / b:.2f}x faster** than the loop and **{b / f:.2f}x** the floor.",
    ]


def bench_search(runs: int) -> list[str]:
    from nasearch.benchmarks import make_benchmark
    from nasearch.search import Budget, run_search
    from nasearch.strategies import get_strategy, strategy_names
    from nasearch.strategies.prefilter import PreFilter

    root = os.environ.get("NASEARCH_DATA")
    if not root:
        return ["### Search", "", "skipped: set NASEARCH_DATA to a folder with nb201/nb201.csv.gz"]
    bench = make_benchmark("nb201", str(Path(root) / "nb201" / "nb201.csv.gz"))
    budget = Budget(seconds=12000)
    # a full score table looked up by index: the flops proxy's values are the table's FLOPs column
    table = bench.column("cifar10", "flops_m")
    table[[not Arch.from_index(i).is_connected() for i in range(len(table))]] = -np.inf

    def scorer(archs):
        return table[[a.index for a in archs]]

    def timed(strategy_name: str, n_runs: int, n: int = 1) -> tuple[float, float, float]:
        accs = []
        t0 = time.perf_counter()
        for ss in np.random.SeedSequence(0).spawn(n_runs):
            rng = np.random.default_rng(ss)
            inner = get_strategy(strategy_name)(rng, fidelities=bench.fidelities)
            st = PreFilter(inner, scorer if n > 1 else None, n=n)
            accs.append(run_search(bench, st, "cifar10", budget).final["cifar10"])
        return time.perf_counter() - t0, float(np.mean(accs)), float(np.std(accs, ddof=1))

    lines = [
        "### Search on nb201 cifar10, 12,000 simulated seconds (ratio = per-run cost / random search's)",
        "",
        "| arm | runs | wall s | ms/run | ratio | test acc (cifar10) |",
        "|---|---|---|---|---|---|",
    ]
    per_run = {}
    for name in sorted(strategy_names(), key=lambda s: s != "rs"):
        n_runs = runs if name in ("rs", "rea") else max(50, runs // 5)
        wall, m, s = timed(name, n_runs)
        per_run[name] = wall / n_runs
        lines.append(f"| {name} | {n_runs} | {wall:.1f} | {1000 * wall / n_runs:.1f} | {per_run[name] / per_run['rs']:.2f} | {m:.2f} +- {s:.2f} |")
    wall, m, s = timed("rea", runs, n=10)
    lines.append(
        f"| rea + table-lookup proxy (N=10) | {runs} | {wall:.1f} | {1000 * wall / runs:.1f} | "
        f"{wall / runs / per_run['rs']:.2f} | {m:.2f} +- {s:.2f} |"
    )
    return lines


def bench_eznas(cells, n_programs: int = 20) -> list[str]:
    from nasearch.eznas.program import PUBLISHED_NB201, cell_scores, parse, random_program
    from nasearch.eznas.statistics import STAT_NAMES, Subsample, collect, group_instances, one_thread

    xb, _ = batch(16, 1)
    x = xb[0][0]
    cells = cells[:5]
    ref, ext, per_cell = [], [], []
    with one_thread():
        for a in cells:
            times = []
            for layout in (torch.contiguous_format, torch.channels_last):
                net = _net(a).to(memory_format=layout)
                xi = x.contiguous(memory_format=layout)
                t0 = time.perf_counter()
                net(xi).sum().backward()
                times.append(time.perf_counter() - t0)
            ref.append(min(times))
            t0 = time.perf_counter()
            stats = collect(_net(a), x, torch.Generator().manual_seed(1), STAT_NAMES, subsample=Subsample(),
                            dtype=torch.bfloat16)
            ext.append(time.perf_counter() - t0)
            per_cell.append(stats)
        tiled = [per_cell[i % len(per_cell)] for i in range(80)]
        groups = group_instances(tiled)
        rng = np.random.default_rng(0)
        programs = [parse(PUBLISHED_NB201)] + [random_program(rng, max_height=4) for _ in range(n_programs)]
        t0 = time.perf_counter()
        failed = 0
        for prog in programs:
            failed += int(np.isnan(cell_scores(prog, groups, 80)).all())
        prog_s = time.perf_counter() - t0
    nbytes = sum(t.numel() * t.element_size() for g in groups for t in g.stats.values())
    r = statistics.median(ext) / statistics.median(ref)
    return [
        "## EZNAS (one thread, batch 16)",
        "",
        "| measure | value |",
        "|---|---|",
        f"| plain fwd+bwd, fastest layout (reference) | {statistics.median(ref):.3f} s/cell |",
        f"| statistics extraction, 22 tensors x 3 inputs, subsampled | {statistics.median(ext):.3f} s/cell "
        f"(**{r:.1f}x** the reference) |",
        f"| programs evaluated on 80 cells' cached statistics | **{len(programs) / prog_s:.2f} programs/s** "
        f"({len(programs)} programs: the published one and {n_programs} random ones of height <= 4, "
        f"{failed} of which fail on every cell) |",
        f"| cached statistics of 80 cells in memory (bfloat16) | {nbytes / 2**20:.0f} MiB |",
        "",
        f"Medians over {len(cells)} cells; the 80 cells tile their statistics (same shapes and sizes as 80 "
        "distinct cells).",
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(Path(__file__).with_name("results.md")))
    p.add_argument("--runs", type=int, default=500)
    p.add_argument("--skip-proxies", action="store_true")
    p.add_argument("--only", choices=("search", "gradsign", "proxies", "eznas"), default=None, help="run one section")
    a = p.parse_args()
    threads_all = os.cpu_count() or 1
    cells = fixed_cells()
    batches, source = batch()
    out = [f"# nasearch benchmark ({time.strftime('%Y-%m-%d')}, {threads_all} cores, torch {torch.__version__})", ""]
    if a.only in (None, "search"):
        out += bench_search(a.runs) + [""]
    if a.only in (None, "eznas"):
        out += bench_eznas(cells) + [""]
    if not a.skip_proxies and a.only in (None, "gradsign", "proxies"):
        out += [f"Images: {source}.", ""]
    if not a.skip_proxies and a.only in (None, "gradsign"):
        for t in sorted({1, threads_all}):
            out += bench_gradsign(cells, batches, t) + [""]
    if not a.skip_proxies and a.only in (None, "proxies"):
        out += bench_proxies(cells, batches, sorted({1, threads_all})) + [""]
    text = "\n".join(out) + "\n"
    print(text)
    Path(a.out).write_text(text)


if __name__ == "__main__":
    main()
