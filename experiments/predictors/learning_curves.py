"""Learning curves of learned predictors over proxy features (issue 38, item 4, first bullet).

How well a predictor trained on ``n`` labelled cells ranks the cells it was not trained on: Kendall
tau-b and Spearman rho between its predictions and the benchmark's accuracy over the held-out cells,
for ``n`` in 10, 25, 50, 100, 200, 500 and 20 seeded repeats per ``n``, for several feature sets
(``nasearch.scoring.features``), next to the best single proxy's zero-shot figure on the same
held-out cells.

    cd /work/main && OMP_NUM_THREADS=1 NASEARCH_DATA=/path nice .venv/bin/python \\
        experiments/predictors/learning_curves.py            # resumable: skips rows already written
    ... learning_curves.py --report                          # summary.md and plots from results.csv only

Designs (a *design* is a space, a protocol, its pool of cells, its feature blocks and its targets):

* ``nb201 / issue1000`` (protocol (a), the issue's): the 1,000 cells of ``experiments/mpi_cifar10``
  (the ``arch`` column of its ``scores.csv``); train on ``n`` of them, test on the other ``1000 - n``.
  The 12 old proxies are that file's columns (the proxy's rank key: sign applied, NaN -> -inf, what a
  :class:`~nasearch.scoring.features.Featurizer` column holds; the 10 of them with a shipped
  1,000-cell table are checked equal to the Featurizer's column); the frontier proxies and the GHN
  embedding come through the Featurizer.
* ``nb201 / full`` (protocol (b)): train on ``n`` of all 15,284 connected cells, test on all the
  others. Every feature through the Featurizer with a store in a temporary directory, each proxy
  feature's coverage checked equal to the space size first; a proxy without a full table is refused
  (listed in ``summary.md``), never computed.
* ``nasbench_macro / issue1000`` and ``transnas101_micro / issue1000``: protocol (a) on the 1,000 seeded
  networks of the cross-space study (``nasearch.experiments.mpi.sample_cells(1000, 0)``), proxies from
  the committed study CSVs and tables (``experiments/cross_space/build.py: SOURCES``).

Features are those of the CIFAR-10 network (NB201, NAS-Bench-Macro) or of the class_scene network
(TransNAS micro, data-free scores) whatever the target: the CIFAR-100 and ImageNet16-120 columns
predict those datasets' accuracies from the same features, as the correlation studies rank the same
scores against them.

Seeds: the split of repeat ``r`` at ``n`` cells is drawn from ``SeedSequence(38, spawn_key=(space,
protocol, n, r))`` (space 0 nb201, 1 nasbench_macro, 2 transnas101_micro; protocol 0 issue1000, 1
full): its first child seeds the permutation of the pool (the training cells are its first ``n``),
its second gives the predictor's seed. Every feature set, model and dataset of a (design, n, r) sees
the same split, so differences between feature sets are paired.

Predictors: ``rf`` with ``n_estimators=100`` (scikit-learn's own default, so exactly "a plain
scikit-learn random forest"; nasearch's ``rf`` default is 200, halved here for the compute budget),
other settings its defaults (``max_features=1.0``, ``min_samples_leaf=1``). Side table,
NB201 CIFAR-10, protocol (a): ``extra_trees`` (100 trees) at n = 100 and 500, every feature set; ``gp`` at
n = 100 over ``encoding``, ``encoding+old``, ``encoding+all`` only (2 to 6 CPU s per fit at n = 100; one
fit at n = 500 took about a minute: not run).

Proxy columns enter the predictors as :func:`slog` of the Featurizer's rank key (monotone; see there).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import json
import logging
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
EXPERIMENTS = HERE.parent
CACHE = HERE / "cache"
RESULTS = HERE / "results.csv"
META = HERE / "designs.json"
SUMMARY = HERE / "summary.md"

ROOT_SEED = 38
NS = (10, 25, 50, 100, 200, 500)
REPEATS = 20
SPACE_KEY = {"nb201": 0, "nasbench_macro": 1, "transnas101_micro": 2}
PROTOCOL_KEY = {"issue1000": 0, "full": 1}
COLUMNS = ("space", "dataset", "protocol", "features", "model", "n", "repeat", "tau", "rho", "n_test")

MODELS: dict[str, dict] = {"rf": {"n_estimators": 100}, "extra_trees": {"n_estimators": 100}, "gp": {}}
"""Predictor name -> params (the ``model`` column is the name)."""

GEN10 = "eznas:net_mean(square(det(sigmoid(mul(l1_mean(log(exp(inpact_N))), preact_D)))))"
"""The generation-10 EZNAS program of ``experiments/eznas`` (its shipped NB201 table is at batch 16)."""
OLD12 = ("synflow", "zico", "gradsign", "naswot", "jacob_cov", "snip", "grad_norm", "fisher", "grasp", "zen",
         "flops", "params")
FRONTIER = ("meco", "meco_opt", "swap", "reg_swap", GEN10)
SHORT = {GEN10: "eznas_gen10@b16"}

FEATURE_SETS = ("encoding", "encoding+old", "encoding+all", "encoding+all+ghn", "proxies", "encoding+all+ghn2")
"""Feature-set labels; what each holds per design is listed in ``summary.md`` (``Design.sets``)."""

log = logging.getLogger("learning_curves")


# ----------------------------------------------------------------------------------------------- splits
def split(pool: int, n: int, *, space: str, protocol: str, repeat: int) -> tuple[np.ndarray, np.ndarray, int]:
    """``(train, test, model_seed)``: sorted positions into a pool of ``pool`` cells (``n`` for training,
    the rest for testing) and the predictor's seed, all from ``SeedSequence(ROOT_SEED, spawn_key=(space,
    protocol, n, repeat))``."""
    if not 2 <= n < pool:
        raise ValueError(f"split: n={n} must be in [2, {pool - 1}] for a pool of {pool} cells")
    ss = np.random.SeedSequence(ROOT_SEED, spawn_key=(SPACE_KEY[space], PROTOCOL_KEY[protocol], int(n), int(repeat)))
    perm_seq, model_seq = ss.spawn(2)
    perm = np.random.default_rng(perm_seq).permutation(pool)
    return np.sort(perm[:n]), np.sort(perm[n:]), int(model_seq.generate_state(1)[0])


def correlations(pred: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(Kendall tau-b, Spearman rho) of ``pred`` against ``y``; NaN when ``pred`` is constant."""
    from scipy.stats import kendalltau, spearmanr

    pred = np.asarray(pred, dtype=np.float64)
    if np.all(pred == pred[0]):
        return math.nan, math.nan
    return float(kendalltau(pred, y).statistic), float(spearmanr(pred, y).statistic)


# ----------------------------------------------------------------------------------------------- results file
def row_key(r: dict) -> tuple:
    return (r["space"], r["dataset"], r["protocol"], r["features"], r["model"], int(r["n"]), int(r["repeat"]))


def read_results(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def append_rows(path: Path, rows: list[dict]) -> None:
    new = not path.is_file() or path.stat().st_size == 0
    with open(path, "a", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        if new:
            w.writeheader()
        for r in rows:
            w.writerow({k: (f"{r[k]:.6f}" if isinstance(r[k], float) else r[k]) for k in COLUMNS})
        fh.flush()
        os.fsync(fh.fileno())


# ----------------------------------------------------------------------------------------------- designs
@dataclass
class Design:
    space: str
    protocol: str
    archs: list
    """The pool, in a fixed order (rows of every block)."""
    targets: dict[str, np.ndarray]
    blocks: dict[str, np.ndarray] = field(default_factory=dict)
    """Feature block name -> (pool, k) float64: ``encoding``, ``ghn`` and one column per proxy."""
    sets: dict[str, list[str]] = field(default_factory=dict)
    """Feature-set label -> block names."""
    proxies: list[str] = field(default_factory=list)
    """Single-proxy blocks that compete for the zero-shot line."""
    notes: list[str] = field(default_factory=list)
    lazy: dict[str, Callable[[], np.ndarray]] = field(default_factory=dict)
    """Blocks computed on first use (the GHN embedding: the jobs that need it run last)."""

    def block(self, b: str) -> np.ndarray:
        if b not in self.blocks:
            self.blocks[b] = self.lazy.pop(b)()
            assert self.blocks[b].shape[0] == len(self.archs) and np.isfinite(self.blocks[b]).all(), b
        return self.blocks[b]

    def X(self, label: str) -> np.ndarray:
        """The feature matrix of a set: proxy columns through :func:`slog`, the encoding and the GHN embedding
        as they are."""
        return np.hstack([self.block(b) if b in EMBEDDINGS else slog(self.block(b)) for b in self.sets[label]])

    def finish(self, old: Sequence[str], frontier: Sequence[str], ghn: bool) -> Design:
        allp = [*old, *frontier]
        self.sets = {"encoding": ["encoding"], "encoding+old": ["encoding", *old], "encoding+all": ["encoding", *allp]}
        if ghn:
            self.sets["encoding+all+ghn"] = ["encoding", *allp, "ghn"]
        self.sets["proxies"] = list(allp)
        if "ghn2" in self.lazy:
            self.sets["encoding+all+ghn2"] = ["encoding", *allp, "ghn2"]
        self.proxies = list(allp)
        for b, a in self.blocks.items():
            assert a.shape[0] == len(self.archs), (b, a.shape)
            if np.isnan(a).any():
                raise SystemExit(f"{self.space}/{self.protocol}: feature block {b} has NaN values")
        return self


EMBEDDINGS = ("encoding", "ghn", "ghn2")
"""Blocks used as they are (no :func:`slog`)."""


def ghn2_checkpoint() -> str:
    """The GHN-2-style checkpoint shipped with the ``ghn2`` proxy (NB201 only)."""
    from nasearch.proxies.ghn import GHN2_CHECKPOINT, packaged_checkpoint

    return str(packaged_checkpoint(GHN2_CHECKPOINT))


def slog(k: np.ndarray) -> np.ndarray:
    """``sign(k) * log1p(|k|)``: monotone (a tree's partitions and a rank correlation are unchanged), ``-inf``
    kept. Needed because scikit-learn's trees cast features to float32 and synflow's keys reach 2e49 on
    NB201 (``rf`` fails with "Input X contains infinity or a value too large for dtype('float32')")."""
    with np.errstate(invalid="ignore"):
        return np.sign(k) * np.log1p(np.abs(k))


def rank_keys(proxy: str, raw: np.ndarray) -> np.ndarray:
    """A proxy's raw scores as the Featurizer's column: ``rank_key`` (sign applied, NaN -> -inf)."""
    from nasearch.scoring import rank_key

    return rank_key(proxy, raw).reshape(-1, 1)


def read_wide(path: Path, archs: list[str], columns: Sequence[str]) -> dict[str, np.ndarray]:
    """Raw per-arch values of ``columns`` from a study's wide ``scores.csv`` (every arch must be there)."""
    with open(path, newline="") as fh:
        rows = {r["arch"]: r for r in csv.DictReader(fh)}
    missing = [a for a in archs if a not in rows]
    if missing:
        raise SystemExit(f"{path}: {len(missing)} cells of the pool are missing (first {missing[0]})")
    return {c: np.array([float(rows[a][c]) if rows[a][c] != "" else math.nan for a in archs]) for c in columns}


def read_table(path: Path, archs: list[str]) -> np.ndarray:
    """Raw per-arch values from an exported score table (every arch must be there)."""
    with gzip.open(path, "rt", newline="") as fh:
        vals = {r["arch"]: float(r["value"]) if r["value"] != "" else math.nan for r in csv.DictReader(fh)}
    missing = [a for a in archs if a not in vals]
    if missing:
        raise SystemExit(f"{path}: {len(missing)} cells of the pool are missing (first {missing[0]})")
    return np.array([vals[a] for a in archs])


def stored_only(featurizer, archs: list, where: str) -> np.ndarray:
    """The featurizer's matrix of ``archs``, refusing (never computing) when a proxy score is missing."""
    from nasearch.scoring.scorer import EnsembleScorer

    idx = np.array([a.index for a in archs])
    for name, s in featurizer.scorers.items():
        for m in s.members if isinstance(s, EnsembleScorer) else [s]:
            lacking = int(np.isnan(m.keys[idx]).sum())
            if lacking:
                raise SystemExit(f"{where}: feature {SHORT.get(name, name)} has no stored or shipped score for "
                                 f"{lacking} of {len(archs)} cells; refusing to compute proxy scores here")
    return featurizer(archs)


def ghn_embeddings(space, archs: list, checkpoint: str | None = None, chunk: int = 250) -> np.ndarray:
    """The Featurizer's ``ghn`` block of ``archs``, cached per cell in ``cache/`` (computed in chunks,
    saved after each: resumable; an embedding does not depend on the cells embedded with it)."""
    import torch

    from nasearch.proxies.ghn import default_checkpoint
    from nasearch.scoring.features import Featurizer

    torch.set_num_threads(1)
    ck = Path(checkpoint) if checkpoint else Path(default_checkpoint())
    digest = hashlib.sha256(ck.read_bytes()).hexdigest()[:12]
    path = CACHE / f"ghn_{space.name}_{digest}.npz"
    cache: dict[int, np.ndarray] = {}
    if path.is_file():
        with np.load(path) as z:
            cache = dict(zip(z["index"].tolist(), z["emb"]))
    missing = [a for a in archs if a.index not in cache]
    if missing:
        f = Featurizer(space, ["ghn"], ghn_checkpoint=checkpoint)
        CACHE.mkdir(exist_ok=True)
        t0 = time.process_time()
        for i in range(0, len(missing), chunk):
            part = missing[i:i + chunk]
            for a, row in zip(part, f(part)):
                cache[a.index] = row
            f._ghn_cache.clear()  # the npz is the cache; keep memory flat
            keys = sorted(cache)
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, index=np.array(keys), emb=np.stack([cache[k] for k in keys]))
            os.replace(tmp, path)
            log.info("ghn %s: %d of %d embedded (%.0f CPU s)", space.name, min(i + chunk, len(missing)), len(missing),
                     time.process_time() - t0)
    return np.stack([cache[a.index] for a in archs])


def _nb201_featurizers(space, store: str):
    from nasearch.scoring import ScoringSettings
    from nasearch.scoring.features import Featurizer

    base = ScoringSettings(proxy="synflow", space=space, dataset="cifar10", progress=False)
    return base, (lambda names, **kw: Featurizer(space, list(names), settings=base.replace(**kw), store_path=store))


def _frontier_blocks(design: Design, make, where: str) -> None:
    """meco, meco_opt, swap, reg_swap at batch 64 and the gen-10 EZNAS program at batch 16 (its shipped
    table's batch; the Featurizer takes one batch size, so a second one on batch_size=16, hstacked)."""
    f64 = make([p for p in FRONTIER if p != GEN10])
    f16 = make([GEN10], batch_size=16)
    for f in (f64, f16):
        for name, s in f.scorers.items():
            if s.coverage() != design_space_size(design):
                raise SystemExit(f"{where}: {SHORT.get(name, name)} covers {s.coverage()} cells, not the space")
        X = stored_only(f, design.archs, where)
        for j, name in enumerate(f.names):
            design.blocks[name] = X[:, j:j + 1]


def design_space_size(design: Design) -> int:
    from nasearch.space import get_space

    return get_space(design.space).num_archs


def nb201_issue() -> Design:
    from nasearch.benchmarks import make_benchmark
    from nasearch.scoring.features import encoding_featurizer

    bench = make_benchmark("nb201")
    sp = bench.space
    path = EXPERIMENTS / "mpi_cifar10/run/scores.csv"
    with open(path, newline="") as fh:
        strings = [r["arch"] for r in csv.DictReader(fh)]
    archs = [sp.parse(s, where=str(path)) for s in strings]
    idx = np.array([a.index for a in archs])
    d = Design("nb201", "issue1000", archs, {ds: bench.column(ds, "test_acc")[idx].astype(float) for ds in bench.datasets})
    d.blocks["encoding"] = encoding_featurizer(sp)(archs)
    raw = read_wide(path, strings, OLD12)
    for p in OLD12:
        d.blocks[p] = rank_keys(p, raw[p])
    with tempfile.TemporaryDirectory() as tmp:
        _, make = _nb201_featurizers(sp, str(Path(tmp) / "store.sqlite"))
        _frontier_blocks(d, make, "nb201/issue1000")
        # the old proxies with a shipped 1,000-cell table: the Featurizer must give scores.csv's keys
        shipped = [p for p in OLD12 if p not in ("params", "flops")]
        X = stored_only(make(shipped), archs, "nb201/issue1000 check")
        same = [p for j, p in enumerate(shipped) if np.allclose(X[:, j], d.blocks[p][:, 0], rtol=1e-9, atol=0)]
        d.notes.append(f"Old proxies: the columns of `experiments/mpi_cifar10/run/scores.csv`; the Featurizer's "
                       f"column (shipped 1,000-cell tables) is equal for {len(same)} of {len(shipped)} "
                       f"({'none differs' if len(same) == len(shipped) else 'differing: ' + ', '.join(sorted(set(shipped) - set(same)))}"
                       "); params and flops have "
                       "no shipped NB201 table and come from scores.csv only.")
    d.lazy["ghn"] = lambda: ghn_embeddings(sp, archs)
    d.lazy["ghn2"] = lambda: ghn_embeddings(sp, archs, checkpoint=ghn2_checkpoint())
    return d.finish(OLD12, FRONTIER, ghn=True)


def nb201_full() -> Design:
    from nasearch.benchmarks import make_benchmark
    from nasearch.scoring.features import encoding_featurizer

    bench = make_benchmark("nb201")
    sp = bench.space
    archs = [a for a in sp.all_archs() if not sp.is_trivial(a)]
    idx = np.array([a.index for a in archs])
    d = Design("nb201", "full", archs, {ds: bench.column(ds, "test_acc")[idx].astype(float) for ds in bench.datasets})
    d.blocks["encoding"] = encoding_featurizer(sp)(archs)
    with tempfile.TemporaryDirectory() as tmp:
        _, make = _nb201_featurizers(sp, str(Path(tmp) / "store.sqlite"))
        old, refused = [], []
        for p in OLD12:
            cov = make([p]).coverage()
            (old if cov == sp.num_archs else refused).append((p, cov))
        if refused:
            d.notes.append("Refused in protocol (b), no full table (cells covered of 15,625, the 341 disconnected "
                           "included): " + ", ".join(f"{p} ({c:,})" for p, c in refused)
                           + ". `encoding+old` here is the encoding plus " + ", ".join(p for p, _ in old) + ".")
        f_old = make([p for p, _ in old])
        assert f_old.coverage() == sp.num_archs
        X = stored_only(f_old, archs, "nb201/full")
        for j, name in enumerate(f_old.names):
            d.blocks[name] = X[:, j:j + 1]
        _frontier_blocks(d, make, "nb201/full")
    d.lazy["ghn"] = lambda: ghn_embeddings(sp, archs)
    d.lazy["ghn2"] = lambda: ghn_embeddings(sp, archs, checkpoint=ghn2_checkpoint())
    return d.finish([p for p, _ in old], FRONTIER, ghn=True)


def nasbench_macro_issue() -> Design:
    from nasearch.benchmarks import make_benchmark
    from nasearch.experiments.mpi import sample_cells
    from nasearch.scoring.features import encoding_featurizer

    bench = make_benchmark("nasbench_macro")
    sp = bench.space
    archs = sample_cells(1000, 0, space=sp)
    strings = [sp.to_string(a) for a in archs]
    idx = np.array([a.index for a in archs])
    d = Design("nasbench_macro", "issue1000", archs, {ds: bench.column(ds, "test_acc")[idx].astype(float)
                                                       for ds in bench.datasets})
    d.blocks["encoding"] = encoding_featurizer(sp)(archs)
    root = EXPERIMENTS / "nasbench_macro"
    raw = read_wide(root / "mpi/scores.csv", strings, OLD12)
    raw |= read_wide(root / "mpi_frontier/scores.csv", strings, ("meco", "meco_opt", "swap", "reg_swap"))
    raw["eznas"] = read_wide(root / "mpi_eznas/scores.csv", strings, ("eznas",))["eznas"]
    frontier = ("meco", "meco_opt", "swap", "reg_swap", "eznas")
    for p in (*OLD12, *frontier):
        d.blocks[p] = rank_keys(p, raw[p])
    ck = root / "ghn/ghn_nasbench_macro_cifar10.pt"
    d.lazy["ghn"] = lambda: ghn_embeddings(sp, archs, checkpoint=str(ck))
    d.notes.append("Proxies from the committed 1,000-network studies `experiments/nasbench_macro/mpi`, `mpi_frontier`, "
                   "`mpi_eznas`; `eznas` there is EZNAS's published program (batch 16), not the gen-10 program "
                   "(no NAS-Bench-Macro scores of it). GHN embedding: the GHN trained on this space, "
                   f"`{ck.relative_to(EXPERIMENTS.parent)}`.")
    return d.finish(OLD12, frontier, ghn=True)


def transnas_micro_issue() -> Design:
    from nasearch.benchmarks import make_benchmark
    from nasearch.experiments.mpi import sample_cells
    from nasearch.scoring.features import encoding_featurizer

    bench = make_benchmark("transnas101_micro")
    sp = bench.space
    archs = sample_cells(1000, 0, space=sp)
    strings = [sp.to_string(a) for a in archs]
    idx = np.array([a.index for a in archs])
    tasks = ("class_scene", "class_object", "autoencoder")
    d = Design("transnas101_micro", "issue1000", archs, {t: bench.column(t, "test_acc")[idx].astype(float) for t in tasks})
    d.blocks["encoding"] = encoding_featurizer(sp)(archs)
    root = EXPERIMENTS / "transnas101"
    old = ("params", "flops", "synflow", "zen", "naswot")
    for p in old:
        d.blocks[p] = rank_keys(p, read_table(root / f"scores/{p}_transnas101_micro_class_scene_seed0.csv.gz", strings))
    raw = read_wide(root / "mpi_frontier_micro/scores.csv", strings, ("meco", "meco_opt"))
    for p in ("meco", "meco_opt"):
        d.blocks[p] = rank_keys(p, raw[p])
    d.notes.append("Proxies: params, flops, synflow, zen, naswot (`experiments/transnas101/scores/`, class_scene "
                   "network, data-free) and meco, meco_opt (`experiments/transnas101/mpi_frontier_micro`); no other "
                   "proxy had committed TransNAS micro scores when this design was built (the 1,000-network "
                   "studies of `experiments/transnas101/mpi_cross/micro/`, committed since, are not features "
                   "here). No GHN checkpoint was trained on this space: the `+ghn` set is left out.")
    return d.finish(old, ("meco", "meco_opt"), ghn=False)


DESIGNS: dict[str, Callable[[], Design]] = {
    "nb201/issue1000": nb201_issue,
    "nb201/full": nb201_full,
    "nasbench_macro/issue1000": nasbench_macro_issue,
    "transnas101_micro/issue1000": transnas_micro_issue,
}
SIDE = {"nb201/issue1000": {"cifar10": {"extra_trees": ((100, 500), None),
                                        "gp": ((100,), ("encoding", "encoding+old", "encoding+all"))}}}
"""Side-table runs: design -> dataset -> model -> (the n it runs at, its feature sets or None for all). gp
stopped after three sets: 37-122 CPU s per set of 20 fits at n = 100 (the ARD kernel fits one length scale
per column; 111 columns with the GHN embedding)."""


# ----------------------------------------------------------------------------------------------- the study
def best_proxy(d: Design, dataset: str) -> tuple[str, dict[str, float]]:
    """The proxy with the highest Kendall tau over the whole pool (an a-posteriori, oracle choice: it
    flatters zero-shot) and every proxy's pool tau."""
    from scipy.stats import kendalltau

    y = d.targets[dataset]
    taus = {}
    for p in d.proxies:
        k = d.blocks[p][:, 0]
        taus[p] = math.nan if np.all(k == k[0]) else float(kendalltau(k, y).statistic)
    best = max((p for p in taus if not math.isnan(taus[p])), key=lambda p: taus[p])
    return best, taus


def run_design(name: str, d: Design, done: set, jobs: list[tuple[str, str, str, int]]) -> float:
    """Run ``jobs`` (dataset, feature set, model, n) of design ``d``: 20 repeats each, skipping rows already
    in ``done``; returns the CPU seconds spent."""
    from nasearch.predictors.base import make_predictor

    cpu0 = time.process_time()
    best = {ds: best_proxy(d, ds)[0] for ds in d.targets}
    for dataset, label, model, n in jobs:
        keys = [(d.space, dataset, d.protocol, label, model, n, r) for r in range(REPEATS)]
        zkeys = [(d.space, dataset, d.protocol, SHORT.get(best[dataset], best[dataset]), "zero_shot", n, r)
                 for r in range(REPEATS)]
        if all(k in done for k in keys) and all(k in done for k in zkeys):
            continue
        t0 = time.process_time()
        y = d.targets[dataset]
        X = d.X(label)
        rows = []
        for r in range(REPEATS):
            train, test, seed = split(len(d.archs), n, space=d.space, protocol=d.protocol, repeat=r)
            if keys[r] not in done:
                pred = make_predictor(model, seed=seed, **MODELS[model]).fit(X[train], y[train]).predict(X[test])
                tau, rho = correlations(pred, y[test])
                rows.append(dict(zip(COLUMNS, (*keys[r], tau, rho, len(test)))))
            if zkeys[r] not in done:
                tau, rho = correlations(d.blocks[best[dataset]][test, 0], y[test])
                rows.append(dict(zip(COLUMNS, (*zkeys[r], tau, rho, len(test)))))
        append_rows(RESULTS, rows)
        done.update(row_key(r) for r in rows)
        taus = [r["tau"] for r in rows if r["model"] == model]
        log.info("%s %s %-17s %-11s n=%-3d tau %.3f (%d rows, %.1f CPU s)", name, dataset, label, model, n,
                 float(np.nanmean(taus)) if taus else math.nan, len(rows), time.process_time() - t0)
    return time.process_time() - cpu0


def jobs_of(name: str, d: Design) -> list[tuple[str, str, str, int]]:
    """The design's jobs: rf over every dataset, set and n, then the side table; the jobs of sets with a lazy
    block (the GHN embedding) last."""
    out = [(ds, label, "rf", n) for ds in d.targets for label in d.sets for n in NS]
    for ds, models in SIDE.get(name, {}).items():
        out += [(ds, label, m, n) for m, (ns, sets) in models.items() for label in (sets or d.sets) for n in ns]
    return sorted(out, key=lambda j: any(b in d.lazy for b in d.sets[j[1]]))  # stable: the order above otherwise


# ----------------------------------------------------------------------------------------------- report
def describe(d: Design) -> dict:
    """What ``designs.json`` keeps of a design for the report (which needs no features)."""
    pool = {ds: best_proxy(d, ds) for ds in d.targets}
    return {"space": d.space, "protocol": d.protocol, "cells": len(d.archs), "datasets": list(d.targets),
            "sets": {label: [SHORT.get(b, b) for b in blocks] for label, blocks in d.sets.items()},
            "notes": d.notes, "best": {ds: SHORT.get(b, b) for ds, (b, _) in pool.items()},
            "pool_tau": {ds: {SHORT.get(p, p): round(t, 4) for p, t in taus.items()} for ds, (_, taus) in pool.items()}}


TITLES = {"nb201/issue1000": "NB201, protocol (a): the 1,000 cells of experiments/mpi_cifar10, train on n, test on 1000 - n",
          "nb201/full": "NB201, protocol (b): all 15,284 connected cells, train on n, test on the other 15,284 - n",
          "nasbench_macro/issue1000": "NAS-Bench-Macro, protocol (a)-style: 1,000 seeded networks",
          "transnas101_micro/issue1000": "TransNAS-Bench-101 micro, protocol (a)-style: 1,000 seeded cells"}
ISSUE = {("encoding+old", 25): 0.712, ("encoding+old", 100): 0.805, ("encoding+old", 500): 0.850, ("encoding", 100): 0.48}
"""The issue's baseline (NB201 CIFAR-10, protocol (a), a plain scikit-learn random forest)."""
GOAL = {100: 0.85, 500: 0.90}


def aggregate(rows: list[dict]) -> dict[tuple, dict[str, np.ndarray]]:
    """(design, dataset, features, model, n) -> {"tau", "rho"}: arrays over repeats (repeat order)."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((f"{r['space']}/{r['protocol']}", r["dataset"], r["features"], r["model"], int(r["n"])),
                          []).append(r)
    out = {}
    for k, rs in groups.items():
        rs = sorted(rs, key=lambda r: int(r["repeat"]))
        out[k] = {m: np.array([float(r[m]) for r in rs]) for m in ("tau", "rho")} | {
            "repeat": np.array([int(r["repeat"]) for r in rs]), "n_test": int(rs[0]["n_test"])}
    return out


def fmt(v: np.ndarray | None) -> str:
    if v is None or len(v) == 0:
        return ""
    ok = v[~np.isnan(v)]
    if not len(ok):
        return "NaN"
    s = f"{ok.mean():.3f} ± {ok.std(ddof=1) if len(ok) > 1 else 0:.3f}"
    if len(ok) < len(v):
        s += f" ({len(v) - len(ok)} NaN)"
    if len(v) < REPEATS:
        s += f" [{len(v)} rep.]"
    return s


def mean_of(agg: dict, key: tuple, metric: str = "tau") -> float:
    v = agg.get(key, {}).get(metric)
    return math.nan if v is None or not len(v) or np.isnan(v).all() else float(np.nanmean(v))


def contribution(agg: dict, m: dict, name: str, gset: str, what: str) -> list[str]:
    """The paired difference in tau, ``gset`` minus ``encoding+all``, of design ``name`` (report lines)."""
    if gset not in m["sets"]:
        return []
    title = f"### {name}: {what}'s contribution (rf)"
    if not any(k[0] == name and k[2] == gset for k in agg):
        return [title, "", f"Not run (the `{gset}` set has no rows in `results.csv`).", ""]
    L = [title, "", f"Paired difference in Kendall tau, `{gset}` minus `encoding+all` on the same splits: "
         "mean ± std over the repeats, then the repeats where it helped.", "",
         "| dataset | " + " | ".join(f"n={n}" for n in NS) + " |", "|---" * (len(NS) + 1) + "|"]
    for ds in m["datasets"]:
        cells = []
        for n in NS:
            a, b = agg.get((name, ds, gset, "rf", n)), agg.get((name, ds, "encoding+all", "rf", n))
            if a is None or b is None or not np.array_equal(a["repeat"], b["repeat"]):
                cells.append("")
                continue
            diff = a["tau"] - b["tau"]
            cells.append(f"{np.nanmean(diff):+.3f} ± {np.nanstd(diff, ddof=1):.3f} ({int((diff > 0).sum())}/{len(diff)})")
        L.append(f"| {ds} | " + " | ".join(cells) + " |")
    return [*L, ""]


def write_plots(agg: dict, meta: dict) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    for name, m in meta.items():
        datasets = [ds for ds in m["datasets"] if any(k[0] == name and k[1] == ds for k in agg)]
        if not datasets:
            continue
        fig, axes = plt.subplots(1, len(datasets), figsize=(4.6 * len(datasets), 4.0), dpi=110, squeeze=False)
        for ax, ds in zip(axes[0], datasets):
            for label in m["sets"]:
                i = FEATURE_SETS.index(label)  # one colour per set in every plot
                ns = [n for n in NS if (name, ds, label, "rf", n) in agg]
                if not ns:
                    continue
                mu = np.array([mean_of(agg, (name, ds, label, "rf", n)) for n in ns])
                sd = np.array([np.nanstd(agg[(name, ds, label, "rf", n)]["tau"], ddof=1) for n in ns])
                ax.plot(ns, mu, marker="o", ms=3, color=f"C{i}", label=label)
                ax.fill_between(ns, mu - sd, mu + sd, color=f"C{i}", alpha=0.12, lw=0)
            best = m["best"][ds]
            ns = [n for n in NS if (name, ds, best, "zero_shot", n) in agg]
            if ns:
                zs = [mean_of(agg, (name, ds, best, "zero_shot", n)) for n in ns]
                ax.plot(ns, zs, ls="--", color="k", label="zero-shot, best proxy")
                ax.annotate(best, (ns[0], zs[0]), xytext=(2, 3), textcoords="offset points", fontsize=7)
            if m["space"] == "nb201" and ds == "cifar10":
                ax.plot(list(GOAL), list(GOAL.values()), ls="none", marker="*", ms=10, color="crimson", label="goal")
            ax.set_xscale("log")
            ax.set_xticks(NS, [str(n) for n in NS])
            ax.minorticks_off()
            ax.set_xlabel("labelled (training) cells n")
            ax.set_ylabel("Kendall tau-b on held-out cells")
            ax.set_title(ds, fontsize=10)
            ax.grid(alpha=0.3)
        axes[0][0].legend(fontsize=7, loc="lower right")
        fig.suptitle(f"{name}: rf (100 trees), mean ± std over {REPEATS} splits", fontsize=10)
        fig.tight_layout()
        path = HERE / f"curve_{m['space']}_{m['protocol']}.png"
        fig.savefig(path)
        plt.close(fig)
        files.append(path.name)
    return files


def write_report() -> None:
    rows = read_results(RESULTS)
    meta = json.loads(META.read_text()) if META.is_file() else {}
    agg = aggregate(rows)
    L = ["# Learning curves: summary", "",
         f"Generated by `learning_curves.py` from `results.csv` ({len(rows)} rows). Cells: Kendall tau-b (then "
         f"Spearman rho) on the held-out cells, mean ± std over {REPEATS} seeded splits; `rf` = nasearch's random "
         "forest with 100 trees (scikit-learn's default count), other settings its defaults. `zero-shot P`: the proxy "
         "P alone on the same held-out cells, P the proxy with the best tau over the whole pool (an oracle choice).", ""]
    for name, m in meta.items():
        if not any(k[0] == name for k in agg):
            continue
        L += [f"## {TITLES.get(name, name)}", ""]
        L += [f"Design `{name}`: {m['cells']:,} cells. Feature sets:", ""]
        for label, blocks in m["sets"].items():
            ran = any(k[0] == name and k[2] == label for k in agg)
            L.append(f"* `{label}`: " + ", ".join(blocks) + ("" if ran else " (not run)"))
        L.append("")
        L += [f"* {n}" for n in m["notes"]]
        for ds in m["datasets"]:
            pool = sorted(((t, p) for p, t in m["pool_tau"][ds].items() if t == t), reverse=True)
            L += ["", f"### {name} / {ds}", "",
                  "Zero-shot Kendall tau over the whole pool: " + ", ".join(f"{p} {t:.3f}" for t, p in pool), ""]
            for metric in ("tau", "rho"):
                L += [f"{'Kendall tau-b' if metric == 'tau' else 'Spearman rho'} (rf):", "",
                      "| features | " + " | ".join(f"n={n}" for n in NS) + " |", "|---" * (len(NS) + 1) + "|"]
                for label in [*m["sets"], None]:
                    if label is None:
                        label_txt, key = f"zero-shot {m['best'][ds]}", (m["best"][ds], "zero_shot")
                    else:
                        label_txt, key = label, (label, "rf")
                    cells = [fmt(agg.get((name, ds, *key, n), {}).get(metric)) for n in NS]
                    if any(cells):
                        L.append(f"| {label_txt} | " + " | ".join(cells) + " |")
                L.append("")
        # side table
        side = sorted({(k[1], k[3]) for k in agg if k[0] == name and k[3] not in ("rf", "zero_shot")})
        for ds in sorted({d for d, _ in side}):
            models = ["rf", *sorted({mo for d, mo in side if d == ds})]
            ns = sorted({k[4] for k in agg if k[0] == name and k[1] == ds and k[3] in models[1:]})
            L += [f"### {name} / {ds}: other predictors (Kendall tau-b)", "",
                  "| features | " + " | ".join(f"{mo} n={n}" for n in ns for mo in models) + " |",
                  "|---" * (len(ns) * len(models) + 1) + "|"]
            for label in m["sets"]:
                L.append(f"| {label} | " + " | ".join(fmt(agg.get((name, ds, label, mo, n), {}).get("tau")) or "not run"
                                                      for n in ns for mo in models) + " |")
            L.append("")
        # GHN contribution (paired: the same splits)
        for gset, what in (("encoding+all+ghn", "the GHN embedding"), ("encoding+all+ghn2", "the GHN-2-style embedding")):
            L += contribution(agg, m, name, gset, what)
    # the issue's baseline and goal
    if any(k[0] == "nb201/issue1000" for k in agg):
        L += ["## The issue's baseline (NB201 CIFAR-10, protocol (a), rf)", "",
              "| features | n | issue | measured tau (mean ± std) |", "|---|---|---|---|"]
        for (label, n), v in ISSUE.items():
            L.append(f"| {label} | {n} | {v:.3f} | {fmt(agg.get(('nb201/issue1000', 'cifar10', label, 'rf', n), {}).get('tau'))} |")
        L += ["", "## The goal (NB201 CIFAR-10: Kendall >= .85 with 100 labelled cells, >= .90 with 500)", "",
              "| protocol | n | goal | best feature set | its tau | met |", "|---|---|---|---|---|---|"]
        for name in ("nb201/issue1000", "nb201/full"):
            for n, goal in GOAL.items():
                cand = [(mean_of(agg, (name, "cifar10", label, "rf", n)), label) for label in FEATURE_SETS
                        if (name, "cifar10", label, "rf", n) in agg]
                if cand:
                    t, label = max(cand)
                    L.append(f"| {name} | {n} | {goal:.2f} | {label} | {t:.3f} | {'yes' if t >= goal else 'no'} |")
        L.append("")
    plots = write_plots(agg, meta)
    L += ["Plots: " + ", ".join(f"`{p}`" for p in plots), ""]
    SUMMARY.write_text("\n".join(L))


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--designs", default=",".join(DESIGNS), help="comma-separated, of: " + ", ".join(DESIGNS))
    ap.add_argument("--sets", default=",".join(FEATURE_SETS), help="comma-separated feature sets to run (default all)")
    ap.add_argument("--datasets", default="", help="comma-separated datasets to run (default every one of a design)")
    ap.add_argument("--report", action="store_true", help="write summary.md and the plots from results.csv only")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    for noisy in ("nasearch", "nasearch.scoring", "nasearch.proxies"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    names = [n for n in args.designs.split(",") if n]
    unknown = [n for n in names if n not in DESIGNS]
    if unknown:
        raise SystemExit(f"--designs: unknown {unknown}; accepted: {', '.join(DESIGNS)}")
    if not args.report:
        done = {row_key(r) for r in read_results(RESULTS)}
        meta = json.loads(META.read_text()) if META.is_file() else {}
        for name in names:
            t0 = time.process_time()
            d = DESIGNS[name]()
            log.info("%s: %d cells, features built in %.0f CPU s", name, len(d.archs), time.process_time() - t0)
            meta[name] = describe(d)
            META.write_text(json.dumps({k: meta[k] for k in DESIGNS if k in meta}, indent=1) + "\n")
            sets, datasets = args.sets.split(","), [x for x in args.datasets.split(",") if x]
            jobs = [j for j in jobs_of(name, d) if j[1] in sets and (not datasets or j[0] in datasets)]
            cpu = run_design(name, d, done, jobs)
            log.info("%s: done, %.0f CPU s of fitting", name, cpu)
    write_report()


if __name__ == "__main__":
    main()
