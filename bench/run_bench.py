"""`make bench`: what nasearch costs, as ratios against references measured in the same run.

1. Proxies: seconds per cell of every registered proxy on a fixed set of 20 connected cells
   (CIFAR-10 networks, batch 64 of real CIFAR-10 images when $NASEARCH_DATA has them, else seeded
   Gaussian images), with one torch thread and with all threads; reference: one plain batched
   forward+backward pass (cross-entropy) of the same networks on the same batch.
2. GradSign: the batched implementation against the one-sample-at-a-time loop (the reference
   code's algorithm) and against the plain forward+backward floor, on the same 20 cells and batch,
   with one thread and with all threads.
3. GHN (Graph HyperNetwork, nasearch.predictors.ghn): seconds per training step (one cell, batch 64:
   GNN pass, generated network fwd+bwd, Adam step), per prediction (GNN pass + generated network
   forward on the batch) and per graph build (torch.fx trace of a built network), on 5 of the cells;
   reference: the fastest plain fwd+bwd of the same network on the same batch (default or
   channels_last layout, the faster of the two, measured in the same run).
3b. EZNAS: statistics extraction (22 tensors of every ReLU-Conv-BN instance for inputs D, N, P,
   subsampled as the evolution cache stores them) in seconds per cell at batch 16, as a ratio to one
   plain forward+backward of the same network and batch in its fastest layout (the faster of
   contiguous and channels_last, measured in the same run); and programs evaluated per second on the
   cached statistics of 80 cells (the evolution task's size); and the ``eznas`` proxy's cost per cell
   (full tensors, only the passes a program needs) for the published and two evolved programs.
4. Search: 500 runs of REA on nb201 cifar10 (12,000 simulated seconds) with table-lookup proxy
   scores (N = 10), and the cost per run of every strategy, vanilla; reference: random search.
5. Reproducibility (issue 13): ZiCo with and without the engine's one-thread pinning and the float64
   variant ``zico_f64``; reference: plain fwd+bwd in ``channels_last`` (the fastest plain layout).
6. Store (``--only store``): a synthetic score store of 2.4 M scores (bench/store_bench.py): import
   rows/s, ``get_many`` latency for 100 cells, merge rows/s. ``--only store`` replaces only its own
   section of the results file.
4b. Strategy step and search task (``--only step``, bench/step_compare.py): the searches of 4 (plus
   BOHB behind an N = 100 pre-filter), and the whole ``task=search`` job through ``nasearch.api.run``
   with default settings, in this tree and in the reference commit f3da7e7 (``git archive``),
   alternating subprocesses; ratio this / that per arm (issues 34 and 35: at most 1.05), and whether
   the accuracies agree bit for bit.
7. GPU (``--only gpu``, on a CUDA machine): bench/gpu_bench.py writes bench/results_gpu.md.

Results are printed as markdown and merged into bench/results.md (override with --out): each section
replaces the section with the same heading and is stamped with the date and the machine's load, and
the file's other sections are kept (so ``--only X`` updates X alone).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from nasearch.eznas.program import PUBLISHED_NB201
from nasearch.proxies import network_proxies
from nasearch.proxies.registry import ProxyContext
from nasearch.space.nb201.arch import Arch, sample
from nasearch.space.nb201.networks import build_network

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
    """One call of the proxy as the engine makes it: a fresh network (built outside the timing), the
    network and the batches put in the proxy's registered layout (``ProxySpec.layout``, inside the
    timing: the engine pays for it), at the caller's thread count."""
    from nasearch.scoring.worker import in_layout

    net = _net(arch, spec.bn)
    ctx = ProxyContext(num_classes=10, generator=torch.Generator().manual_seed(1), input_size=32)
    bs = batches[: max(1, spec.min_batches)] if spec.needs_weights else []
    t0 = time.perf_counter()
    net, own = in_layout(net, bs, spec.layout)
    spec.fn(net, own, ctx)
    return time.perf_counter() - t0


def time_forward_cl(arch: Arch, x: torch.Tensor) -> float:
    """The fastest plain forward: network and images in ``channels_last``, no autograd."""
    net = _net(arch).to(memory_format=torch.channels_last)
    xc = x.contiguous(memory_format=torch.channels_last)
    t0 = time.perf_counter()
    with torch.no_grad():
        net(xc)
    return time.perf_counter() - t0


FLOORS = {"forward": "cl_fwd", "fwd_bwd": "cl_fb", "per_sample": "cl_fb", "structure": "cl_fwd"}
"""The floor each kind of work (``ProxySpec.work``) is measured against (issue 36)."""


def bench_proxies(cells, batches, threads_list) -> list[str]:
    """Every proxy as the engine runs it (its registered layout) against floors measured in the same
    run at the same thread count: the channels_last fwd+bwd (for proxies with backward passes), the
    channels_last forward (forward-only proxies), and, beside them, the contiguous (NCHW) fwd+bwd the
    bench reported before issue 36. The engine runs every proxy call on one thread (the 1-thread
    columns are what a score costs per worker); the other column calls the proxy at all threads."""
    head = " | ".join(f"{t} thr: s/cell | / floor | / NCHW fwd+bwd" for t in threads_list)
    lines = [
        f"### Proxies: seconds per cell ({len(cells)} cells, batch {BATCH}; floor = channels_last fwd+bwd, "
        "or channels_last forward for forward-only proxies, measured in the same run at the same thread count)",
        "",
        f"| proxy | work | layout | {head} |",
        "|---|---|---|" + "---|---|---|" * len(threads_list),
    ]
    x, y = batches[0]
    results: dict[str, list[str]] = {}
    meta: dict[str, tuple[str, str]] = {}
    for t in threads_list:
        torch.set_num_threads(t)
        time_fwd_bwd(cells[0], x, y)  # warm-up
        time_fwd_bwd_cl(cells[0], x, y)
        time_forward_cl(cells[0], x)
        floors = {"nchw_fb": statistics.median(time_fwd_bwd(a, x, y) for a in cells),
                  "cl_fb": statistics.median(time_fwd_bwd_cl(a, x, y) for a in cells),
                  "cl_fwd": statistics.median(time_forward_cl(a, x) for a in cells)}
        for key, label in (("cl_fb", "plain fwd+bwd, channels_last (floor)"), ("cl_fwd", "plain forward, channels_last (floor)"),
                           ("nchw_fb", "plain fwd+bwd, NCHW")):
            meta[label] = ("", "")
            results.setdefault(label, []).extend([f"{floors[key]:.3f}", f"{floors[key] / floors[FLOORS['fwd_bwd'] if key != 'cl_fwd' else 'cl_fwd']:.2f}",
                                                  f"{floors[key] / floors['nchw_fb']:.2f}"])
        for spec in network_proxies():
            time_proxy(spec, cells[0], batches)  # warm-up
            per = statistics.median(time_proxy(spec, a, batches) for a in cells)
            floor = floors[FLOORS[spec.work]]
            meta[spec.name] = (spec.work, spec.layout)
            results.setdefault(spec.name, []).extend([f"{per:.3f}", f"{per / floor:.2f}", f"{per / floors['nchw_fb']:.2f}"])
            print(f"  {spec.name:<10} {t} thread(s): {per:.3f} s/cell ({per / floor:.2f}x its floor)", file=sys.stderr, flush=True)
    for name, vals in results.items():
        work, layout = meta[name]
        lines.append(f"| {name} | {work} | {layout} | " + " | ".join(vals) + " |")
    return lines


def bench_gradsign(cells, batches, threads: int) -> list[str]:
    """GradSign's batched pass in both layouts (contiguous: the grouped-convolution path; channels_last:
    NHWC batched products and the folded instance norm) and the one-sample loop, against the plain
    fwd+bwd in channels_last (the floor) and in NCHW, all measured here at ``threads`` threads."""
    from nasearch.proxies.gradsign import gradsign_batched, gradsign_loop
    from nasearch.scoring.worker import in_layout

    torch.set_num_threads(threads)
    x, y = batches[0]
    time_fwd_bwd(cells[0], x, y)  # warm-up
    time_fwd_bwd_cl(cells[0], x, y)
    fb, fbc, bt, btc, lp = [], [], [], [], []
    for a in cells:
        fb.append(time_fwd_bwd(a, x, y))
        fbc.append(time_fwd_bwd_cl(a, x, y))
        for layout, out in (("contiguous", bt), ("channels_last", btc)):
            net = _net(a)
            t0 = time.perf_counter()
            net, [(xx, yy)] = in_layout(net, [(x, y)], layout)
            gradsign_batched(net, xx, yy)
            out.append(time.perf_counter() - t0)
        net = _net(a)
        t0 = time.perf_counter()
        gradsign_loop(net, x, y)
        lp.append(time.perf_counter() - t0)
    f, fc, b, bc, lo = (sum(v) for v in (fb, fbc, bt, btc, lp))
    n = len(cells)
    return [
        f"### GradSign, batched vs one-sample loop ({n} cells, batch {BATCH}, {threads} thread(s))",
        "",
        "| measurement | total s | s/cell | / channels_last fwd+bwd (floor) | / NCHW fwd+bwd |",
        "|---|---|---|---|---|",
        f"| plain fwd+bwd, channels_last (floor) | {fc:.2f} | {fc / n:.3f} | 1.00 | {fc / f:.2f} |",
        f"| plain fwd+bwd, NCHW | {f:.2f} | {f / n:.3f} | {f / fc:.2f} | 1.00 |",
        f"| GradSign batched, channels_last | {bc:.2f} | {bc / n:.3f} | {bc / fc:.2f} | {bc / f:.2f} |",
        f"| GradSign batched, NCHW | {b:.2f} | {b / n:.3f} | {b / fc:.2f} | {b / f:.2f} |",
        f"| GradSign one-sample loop, NCHW | {lo:.2f} | {lo / n:.3f} | {lo / fc:.2f} | {lo / f:.2f} |",
        "",
        f"Batched in channels_last is **{lo / bc:.2f}x faster** than the loop and **{bc / fc:.2f}x** the "
        f"channels_last floor (NCHW batched: {b / fc:.2f}x).",
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
    table[[bench.space.is_trivial(a) for a in bench.space.all_archs()]] = -np.inf

    def scorer(archs):
        return table[[a.index for a in archs]]

    import inspect
    import tempfile

    def strategy_defaults(cls) -> dict:
        return {k: p.default for k, p in inspect.signature(cls).parameters.items()
                if p.default is not inspect.Parameter.empty}

    featurizers: dict = {}

    def featurizer(features) -> object:
        """A strategy's features from the score tables shipped in the package (no compute)."""
        from nasearch.scoring import ScoringSettings
        from nasearch.scoring.features import Featurizer

        key = tuple(features)
        if key not in featurizers:
            store = Path(tempfile.mkdtemp()) / "scores.sqlite"
            featurizers[key] = Featurizer(bench.space, list(features),
                                          settings=ScoringSettings(proxy="synflow", space="nb201"), store_path=store)
        return featurizers[key]

    def timed(strategy_name: str, n_runs: int, n: int = 1, *, workers: int = 1, params: dict | None = None,
              objectives: tuple[str, ...] | None = None, mask=None) -> tuple[float, float, float]:
        from nasearch.strategies.constrained import Constrained

        cls = get_strategy(strategy_name)
        if objectives is None and getattr(cls, "multi_objective", False):
            objectives = ("valid_acc", "latency")
        kw = dict(params or {})
        if getattr(cls, "uses_features", False):
            kw["featurizer"] = featurizer(kw.setdefault("features", strategy_defaults(cls)["features"]))
        if objectives and strategy_name == "optuna":
            kw["num_objectives"] = len(objectives)
        accs = []
        t0 = time.perf_counter()
        for ss in np.random.SeedSequence(0).spawn(n_runs):
            rng = np.random.default_rng(ss)
            inner = cls(rng, space=bench.space, fidelities=bench.fidelities, **kw)
            if mask is not None:
                inner = Constrained(inner, mask)
            st = PreFilter(inner, scorer if n > 1 else None, n=n)
            traj = run_search(bench, st, "cifar10", budget, workers=workers, objectives=objectives)
            accs.append(traj.final["cifar10"])
        return time.perf_counter() - t0, float(np.mean(accs)), float(np.std(accs, ddof=1))

    lines = [
        "### Search on nb201 cifar10, 12,000 simulated seconds (ratio = per-run cost / random search's)",
        "",
        "Multi-objective strategies (mo_rea, random_scalarization) search valid_acc and latency here.",
        "",
        "| arm | runs | wall s | ms/run | ratio | test acc (cifar10) |",
        "|---|---|---|---|---|---|",
    ]
    per_run = {}
    for name in sorted(strategy_names(), key=lambda s: s != "rs"):
        if name in ("predictor", "robot"):
            n_runs = max(10, runs // 50)  # they refit a model per query: seconds per run
        else:
            n_runs = runs if name in ("rs", "rea") else max(50, runs // 5)
        wall, m, s = timed(name, n_runs)
        per_run[name] = wall / n_runs
        lines.append(f"| {name} | {n_runs} | {wall:.1f} | {1000 * wall / n_runs:.1f} | {per_run[name] / per_run['rs']:.2f} | {m:.2f} +- {s:.2f} |")
    wall, m, s = timed("rea", runs, n=10)
    lines.append(
        f"| rea + table-lookup proxy (N=10) | {runs} | {wall:.1f} | {1000 * wall / runs:.1f} | "
        f"{wall / runs / per_run['rs']:.2f} | {m:.2f} +- {s:.2f} |"
    )
    # issue 39: the search modes, as ratios to REA's per-run cost (K = 1) measured above
    from nasearch.search import feasible_mask

    flops = bench.column("cifar10", "flops")
    mask = feasible_mask(bench, "cifar10", {"flops": float(np.nanpercentile(flops, 50))})
    lines += [
        "",
        "### Search modes on nb201 cifar10, 12,000 simulated seconds (ratio = per-run cost / REA's, one worker)",
        "",
        "K = simulated asynchronous workers (`search.simulated_workers`): K = 8 evaluates about 8x the cells in the "
        "same simulated time, so its per-run cost is per run, not per evaluation.",
        "",
        "| arm | runs | wall s | ms/run | ratio to REA | test acc (cifar10) |",
        "|---|---|---|---|---|---|",
    ]
    modes = [
        ("rea, K = 8", "rea", runs, {"workers": 8}),
        ("rea, flops <= median (50th percentile)", "rea", runs, {"mask": mask}),
        ("rea, objectives valid_acc + latency", "rea", runs, {"objectives": ("valid_acc", "latency")}),
        ("optuna:tpe, K = 1", "optuna", max(20, runs // 25), {"params": {"sampler": "tpe"}}),
        ("optuna:tpe, K = 8", "optuna", max(10, runs // 50), {"params": {"sampler": "tpe"}, "workers": 8}),
        ("optuna:nsga2, objectives valid_acc + latency", "optuna", max(20, runs // 25),
         {"params": {"sampler": "nsga2"}, "objectives": ("valid_acc", "latency")}),
    ]
    for label, name, n_runs, kw in modes:
        wall, m, s = timed(name, n_runs, **kw)
        lines.append(f"| {label} | {n_runs} | {wall:.1f} | {1000 * wall / n_runs:.1f} | "
                     f"{wall / n_runs / per_run['rea']:.2f} | {m:.2f} +- {s:.2f} |")
    return lines


def time_fwd_bwd_cl(arch: Arch, x: torch.Tensor, y: torch.Tensor) -> float:
    """The fastest plain fwd+bwd: network and images in ``channels_last`` memory layout."""
    net = _net(arch).to(memory_format=torch.channels_last)
    xc = x.contiguous(memory_format=torch.channels_last)
    t0 = time.perf_counter()
    loss = torch.nn.functional.cross_entropy(net(xc), y)
    loss.backward()
    return time.perf_counter() - t0


def bench_repro(cells, batches, threads_all: int) -> list[str]:
    """Issue 13: the cost of the engine's one-thread pinning and of the float64 ZiCo variant, as ratios
    to the plain fwd+bwd (channels_last, the fastest plain layout) measured here, per thread count."""
    from nasearch.proxies import get_proxy
    from nasearch.scoring import one_thread

    cells = cells[:8]
    x, y = batches[0]
    zico, zico64 = get_proxy("zico"), get_proxy("zico_f64")
    torch.set_num_threads(1)
    time_fwd_bwd_cl(cells[0], x, y)
    ref1 = statistics.median(time_fwd_bwd_cl(a, x, y) for a in cells)
    torch.set_num_threads(threads_all)
    time_fwd_bwd_cl(cells[0], x, y)
    ref_all = statistics.median(time_fwd_bwd_cl(a, x, y) for a in cells)

    def per_cell(spec, threads: int, pinned: bool) -> float:
        torch.set_num_threads(threads)
        out = []
        for a in cells:
            if pinned:
                with one_thread():
                    out.append(time_proxy(spec, a, batches))
            else:
                out.append(time_proxy(spec, a, batches))
        return statistics.median(out)

    rows = [
        ("plain fwd+bwd, channels_last, 1 thread (reference)", ref1),
        (f"plain fwd+bwd, channels_last, {threads_all} threads", ref_all),
        ("zico, 1 thread", per_cell(zico, 1, False)),
        (f"zico, {threads_all} threads, unpinned (before: thread-dependent values)", per_cell(zico, threads_all, False)),
        (f"zico, caller at {threads_all} threads, pinned to 1 (now: what score_one does)", per_cell(zico, threads_all, True)),
        ("zico_f64 (opt-in float64 variant), 1 thread", per_cell(zico64, 1, False)),
    ]
    torch.set_num_threads(threads_all)
    n = 2000
    t0 = time.perf_counter()
    for _ in range(n):
        with one_thread():
            pass
    pin_us = (time.perf_counter() - t0) / n * 1e6
    torch.set_num_threads(1)
    lines = [
        f"### Reproducibility costs (issue 13; {len(cells)} cells, batch {BATCH}; ratio to the 1-thread channels_last fwd+bwd)",
        "",
        "| measurement | s/cell | ratio |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {v:.3f} | {v / ref1:.2f} |" for name, v in rows]
    lines += ["", f"Entering and leaving `one_thread()` from {threads_all} threads: {pin_us:.1f} us per proxy call."]
    return lines


def replace_section(path: Path, heading: str, lines: list[str], echo: bool = True) -> None:
    """Put ``lines`` (starting with a ``### heading...`` line) into ``path`` in place of the section that
    starts with ``heading`` (up to the next ``### ``), or append it; the rest of the file is kept."""
    old = path.read_text().splitlines() if path.is_file() else []
    start = next((i for i, line in enumerate(old) if line.startswith(heading)), None)
    if start is None:
        new = old + ([""] if old and old[-1] else []) + lines
    else:
        end = next((i for i in range(start + 1, len(old)) if old[i].startswith("### ")), len(old))
        new = old[:start] + lines + [""] + old[end:]
    text = "\n".join(new).rstrip("\n") + "\n"
    if echo:
        print("\n".join(lines))
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _best_fwd_bwd(arch: Arch, x: torch.Tensor, y: torch.Tensor, reps: int = 3) -> tuple[float, str]:
    """The fastest plain fwd+bwd of ``arch``'s network over both memory layouts."""
    best = (math.inf, "")
    for layout in ("default", "channels_last"):
        net = _net(arch)
        xx = x
        if layout == "channels_last":
            net = net.to(memory_format=torch.channels_last)
            xx = x.contiguous(memory_format=torch.channels_last)
        for _ in range(reps):
            t0 = time.perf_counter()
            torch.nn.functional.cross_entropy(net(xx), y).backward()
            best = min(best, (time.perf_counter() - t0, layout))
    return best


def bench_ghn(cells, batches, n_cells: int = 5) -> list[str]:
    from nasearch.predictors.ghn import GHN, GraphBatch, Target
    from nasearch.space.graph import op_graph

    torch.set_num_threads(1)
    x, y = batches[0]
    ghn = GHN()
    opt = torch.optim.Adam(ghn.parameters(), lr=1e-3)
    rows = []
    for a in cells[:n_cells]:
        ref, layout = _best_fwd_bwd(a, x, y)
        t0 = time.perf_counter()
        op_graph(_net(a))
        t_graph = time.perf_counter() - t0
        target = Target(_net(a))
        gb = GraphBatch.of([target.graph])
        steps, preds = [], []
        for xx in (x, x.contiguous(memory_format=torch.channels_last)):
            for _ in range(2):
                t0 = time.perf_counter()
                loss = torch.nn.functional.cross_entropy(target(ghn(gb)[0], xx), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                steps.append(time.perf_counter() - t0)
                with torch.no_grad():
                    t0 = time.perf_counter()
                    target(ghn(gb)[0], xx)
                    preds.append(time.perf_counter() - t0)
        rows.append((ref, layout, t_graph, min(steps), min(preds)))
        print(f"  ghn cell {a.index}: ref {ref:.3f} ({layout}) step {min(steps):.3f} predict {min(preds):.3f}",
              file=sys.stderr, flush=True)
    med = [statistics.median(r[i] for r in rows) for i in (0, 2, 3, 4)]
    layouts = sorted({r[1] for r in rows})
    return [
        f"### GHN ({n_cells} cells, batch {BATCH}, 1 thread; ratio = time / fastest plain fwd+bwd, "
        f"layout {', '.join(layouts)})",
        "",
        "| what | s (median over cells) | ratio |",
        "|---|---|---|",
        f"| plain fwd+bwd (reference) | {med[0]:.3f} | 1.00 |",
        f"| GHN training step (GNN + generated fwd+bwd + Adam) | {med[2]:.3f} | {med[2] / med[0]:.2f} |",
        f"| GHN prediction (GNN + generated forward) | {med[3]:.3f} | {med[3] / med[0]:.2f} |",
        f"| operation graph (torch.fx trace) | {med[1]:.3f} | {med[1] / med[0]:.2f} |",
        f"| GHN training steps per second | {1 / med[2]:.2f} | |",
    ]


EZNAS_PROGRAMS = {
    PUBLISHED_NB201: "published program (D pass, fwd+bwd)",
    "net_mean(square(det(sigmoid(mul(preact_D, preact_D)))))": "evolved gen-4 program (D pass, forward only)",
    "net_mean(square(det(sigmoid(mul(l1_mean(log(exp(inpact_N))), preact_D)))))":
        "evolved gen-10 program (D and N passes, forward only)",
}
"""Programs whose proxy cost ``make bench --only eznas`` reports (the published one and the two of
experiments/eznas/search)."""


def bench_eznas(cells, n_programs: int = 20) -> list[str]:
    from nasearch.eznas.program import cell_scores, parse, random_program, score_network
    from nasearch.eznas.statistics import STAT_NAMES, Subsample, collect, group_instances, one_thread

    xb, _ = batch(16, 1)
    x = xb[0][0]
    cells = cells[:5]
    ref, ext, per_cell = [], [], []
    proxy_s: dict[str, list[float]] = {}
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
            for text in EZNAS_PROGRAMS:  # the proxy: full tensors, only the passes the program needs
                t0 = time.perf_counter()
                score_network(parse(text), _net(a), x, torch.Generator().manual_seed(1))
                proxy_s.setdefault(text, []).append(time.perf_counter() - t0)
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
        "### EZNAS (one thread, batch 16)",
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
        *(f"| proxy score, {label} | {statistics.median(proxy_s[text]):.3f} s/cell "
          f"(**{statistics.median(proxy_s[text]) / statistics.median(ref):.2f}x** the reference) |"
          for text, label in EZNAS_PROGRAMS.items()),
        "",
        f"Medians over {len(cells)} cells; the 80 cells tile their statistics (same shapes and sizes as 80 "
        "distinct cells).",
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(Path(__file__).with_name("results.md")))
    p.add_argument("--runs", type=int, default=500)
    p.add_argument("--skip-proxies", action="store_true")
    p.add_argument("--only", choices=("search", "step", "gradsign", "proxies", "repro", "store", "gpu", "ghn", "eznas"),
                   default=None, help="run one section")
    a = p.parse_args()
    if a.only == "store":
        sys.path.insert(0, str(Path(__file__).parent))
        from store_bench import bench_store

        replace_section(Path(a.out), "### Score store at scale", bench_store())
        return
    if a.only == "gpu":
        sys.path.insert(0, str(Path(__file__).parent))
        from gpu_bench import main as gpu_main

        gpu_main([])
        return
    threads_all = os.cpu_count() or 1
    cells = fixed_cells()
    batches, source = batch()
    out = [f"# nasearch benchmark ({time.strftime('%Y-%m-%d')}, {threads_all} cores, torch {torch.__version__})", ""]
    if a.only in (None, "search"):
        out += bench_search(a.runs) + [""]
    if a.only in (None, "step"):
        sys.path.insert(0, str(Path(__file__).parent))
        from step_compare import compare

        out += compare(runs=min(a.runs, 200), rounds=5) + [""]
    if a.only in (None, "eznas"):
        out += bench_eznas(cells) + [""]
    if not a.skip_proxies and a.only in (None, "gradsign"):
        for t in sorted({1, threads_all}):
            out += bench_gradsign(cells, batches, t) + [""]
    if not a.skip_proxies and a.only in (None, "proxies"):
        out += bench_proxies(cells, batches, sorted({1, threads_all})) + [""]
    if not a.skip_proxies and a.only in (None, "repro"):
        out += bench_repro(cells, batches, threads_all) + [""]
    if a.only in (None, "ghn"):
        out += bench_ghn(cells, batches) + [""]
    print("\n".join(out))
    stamp = (f"_Measured {time.strftime('%Y-%m-%d %H:%M')}, {threads_all} cores, torch {torch.__version__}, "
             f"load average {os.getloadavg()[0]:.1f} at the end, images: {source} (`make bench"
             + (f" BENCH_ARGS='--only {a.only}'" if a.only else "") + "`)._")
    merge_sections(Path(a.out), out[2:], stamp)


def merge_sections(path: Path, lines: list[str], stamp: str) -> None:
    """Write each ``### `` section of ``lines`` into ``path`` in place of the section with the same
    heading line (or appended), with ``stamp`` under its heading; every other section of the file is
    kept, so ``--only X`` updates X's figures without erasing the others. Atomic (temp file + rename)."""
    sections: list[list[str]] = []
    for line in lines:
        if line.startswith("### "):
            sections.append([line, "", stamp])
        elif sections:
            sections[-1].append(line)
    for sec in sections:
        while sec and not sec[-1].strip():
            sec.pop()
        replace_section(path, sec[0], sec, echo=False)


if __name__ == "__main__":
    main()
