"""`make bench` section "store" (``--only store``): the score store at internet scale, simulated.

Builds a synthetic store of 13 proxies x 3 datasets x 4 seeds x 15,625 cells = 2,437,500 scores
(values and seconds from a seeded ``np.random.default_rng``; 1% NaN) in a temporary folder, as two
halves (seeds 0-1 and 2-3, as two shard jobs would write them), and reports

* import rows/s: ``ScoreStore.put_many``, one call (one transaction) per setting of 15,625 rows;
* ``get_many`` latency for 100 random cells of a random setting (median and 95th percentile of 200
  lookups) in the full store;
* merge rows/s: ``merge_stores([half A, half B], C)`` into an empty store, then the same merge again
  (every row already there: the conflict check joins all 2.4 M rows; nothing is written).

Everything is deleted afterwards. Run alone: ``python bench/store_bench.py`` (``--proxies 2`` for a
quick dry run).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from nasearch.scoring.merge import merge_stores
from nasearch.scoring.store import ScoreKey, ScoreStore
from nasearch.space.nb201.arch import NUM_ARCHS, Arch

PROXIES = ("fisher", "flops", "grad_norm", "gradsign", "grasp", "jacob_cov", "naswot", "params", "snip",
           "synflow", "zen", "zico", "eznas")
DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
SEEDS = (0, 1, 2, 3)


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def bench_store(n_proxies: int = len(PROXIES), tmp_root: str | None = None) -> list[str]:
    rng = np.random.default_rng(2026)
    archs = [Arch.from_index(i) for i in range(NUM_ARCHS)]
    tmp = Path(tempfile.mkdtemp(prefix="nasearch-store-bench-", dir=tmp_root))
    try:
        halves = [tmp / "shard_a.sqlite", tmp / "shard_b.sqlite"]
        rows = 0
        t_import = c_import = 0.0
        keys: list[ScoreKey] = []
        for h, seeds in zip(halves, (SEEDS[:2], SEEDS[2:])):
            with ScoreStore(h) as store:
                for proxy in PROXIES[:n_proxies]:
                    for dataset in DATASETS:
                        for seed in seeds:
                            key = ScoreKey(proxy=proxy, dataset=dataset, image_dataset=dataset, batch_size=64,
                                           num_batches=1, seed=seed, space="nb201")
                            keys.append(key)
                            values = rng.standard_normal(NUM_ARCHS)
                            values[rng.random(NUM_ARCHS) < 0.01] = np.nan
                            secs = rng.random(NUM_ARCHS)
                            items = list(zip(archs, values.tolist(), secs.tolist()))
                            t0, c0 = time.perf_counter(), time.process_time()
                            rows += store.put_many(key, items)
                            t_import += time.perf_counter() - t0
                            c_import += time.process_time() - c0
        merged = tmp / "merged.sqlite"
        t0, c0 = time.perf_counter(), time.process_time()
        rep = merge_stores(halves, merged)
        t_merge, c_merge = time.perf_counter() - t0, time.process_time() - c0
        assert rep.rows_added == rows, (rep.rows_added, rows)
        t0, c0 = time.perf_counter(), time.process_time()
        rep2 = merge_stores(halves, merged)
        t_remerge, c_remerge = time.perf_counter() - t0, time.process_time() - c0
        assert rep2.rows_added == 0
        lat = []
        with ScoreStore(merged) as store:
            for _ in range(200):
                key = keys[int(rng.integers(len(keys)))]
                cells = rng.choice(NUM_ARCHS, size=100, replace=False).tolist()
                t0 = time.perf_counter()
                got = store.get_many(key, cells)
                lat.append(time.perf_counter() - t0)
                assert len(got) == 100
        lat_ms = np.array(lat) * 1e3
        size_mb = _size(merged) / 1e6
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return [
        f"### Score store at scale, simulated ({rows:,} synthetic scores: {n_proxies} proxies x "
        f"{len(DATASETS)} datasets x {len(SEEDS)} seeds x {NUM_ARCHS:,} cells)",
        "",
        "| measurement | rows | wall s | rows/s (wall) | CPU s | rows per CPU s |",
        "|---|---|---|---|---|---|",
        f"| import (`put_many`, one transaction per setting of {NUM_ARCHS:,} rows) | {rows:,} | {t_import:.1f} | "
        f"{rows / t_import:,.0f} | {c_import:.1f} | {rows / c_import:,.0f} |",
        f"| merge 2 shard stores into an empty store (`nasearch scores merge`) | {rep.rows_read:,} | {t_merge:.1f} | "
        f"{rep.rows_read / t_merge:,.0f} | {c_merge:.1f} | {rep.rows_read / c_merge:,.0f} |",
        f"| merge the same shards again (all rows present: checked, none written) | {rep2.rows_read:,} | "
        f"{t_remerge:.1f} | {rep2.rows_read / t_remerge:,.0f} | {c_remerge:.1f} | {rep2.rows_read / c_remerge:,.0f} |",
        "",
        f"`get_many` of 100 random cells of one setting in the merged store (200 lookups): median "
        f"{np.median(lat_ms):.2f} ms, 95th percentile {np.percentile(lat_ms, 95):.2f} ms (the primary key "
        "(setting, cell) is the lookup index).",
        "",
        f"Merged store on disk: {size_mb:,.0f} MB ({size_mb * 1e6 / rows:.0f} bytes/score). Load average "
        f"during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (wall rates are shared-machine "
        "figures; CPU rates are this process's own).",
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--proxies", type=int, default=len(PROXIES), help="proxies to simulate (13: 2.4 M rows)")
    p.add_argument("--tmp", default=None, help="folder for the temporary stores (default: the system's)")
    a = p.parse_args()
    print("\n".join(bench_store(a.proxies, a.tmp)))


if __name__ == "__main__":
    main()
