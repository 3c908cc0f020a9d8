"""How close does a forest get to the issue's learning-curve goal (Kendall >= .85 with 100 labelled
NB201 CIFAR-10 cells, >= .90 with 500)? A side study of ``learning_curves.py``'s protocol (a).

Pool, splits and target are protocol (a)'s: the 1,000 cells of ``experiments/mpi_cifar10/run/scores.csv``,
``learning_curves.split`` (the same 20 seeded splits per n as ``results.csv``), NB201's 200-epoch
CIFAR-10 test accuracy, Kendall tau-b on the cells not trained on. What changes is the model and how the
proxy columns are presented:

* ``raw``: a proxy column is its rank key passed through ``slog`` (as in ``learning_curves.py``);
* ``pool rank``: a proxy column is the rank of its key among the 1,000 cells of the pool, divided by
  1,000 (NaN and -inf lowest). It uses every pool cell's score, never a label: in a search the same
  column comes from ranking against a shipped full-space table. Extremely randomised trees draw each
  split threshold uniformly between a node's smallest and largest value, so for them (unlike a random
  forest's exhaustive split search) this monotone map changes the model.

Feature columns (all computed at one seeded initialisation; every cell of the pool is scored by each):

* ``old``: the 12 proxies of ``scores.csv``;
* ``frontier``: meco, meco_opt, swap, reg_swap, az_expressivity, az_progressivity, az_trainability,
  lswag (``experiments/frontier/mpi_1000/scores.csv``), and ``label-free #1`` (the log-rank sum of
  az_expressivity, az_trainability, meco, reg_swap and synflow over the pool, chosen in
  ``../frontier/ensembles_1000.md``);
* ``ghn+tenas``: the shipped GHN's score and loss (``experiments/ghn/ghn_scores.csv``) and TE-NAS's
  linear-region count (``experiments/frontier/tenas_lr_1000/scores.csv``), all label-free;
* ``eznas``: the generation-10 EZNAS program (shipped full table, batch 16). It is **not label-free**:
  evolution ranked programs by their tau on 120 other labelled cells (80 task + 40 validation,
  disjoint from this pool; ``experiments/eznas/``), so a row with it has used 120 more labels than
  its ``n``.

Run: ``NASEARCH_DATA=... .venv/bin/python experiments/predictors/ceiling_1000.py`` (about 5 CPU
minutes) writes ``ceiling_1000.md``. Deterministic: seeded splits and models, one thread.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau, rankdata

HERE = Path(__file__).resolve().parent
EXP = HERE.parent
sys.path.insert(0, str(HERE))

import learning_curves as lc  # noqa: E402

FRONTIER = ("meco", "meco_opt", "swap", "reg_swap", "az_expressivity", "az_progressivity", "az_trainability", "lswag")
LABEL_FREE_1 = ("az_expressivity", "az_trainability", "meco", "reg_swap", "synflow")
NS = (100, 500)
REPEATS = 20


def pool_rank(k: np.ndarray) -> np.ndarray:
    """A column's rank fraction among the pool's cells (ties averaged; what ``combine`` ranks by)."""
    k = np.where(np.isfinite(k), k, -np.inf)
    return rankdata(k, method="average") / len(k)


def main() -> None:
    from sklearn.ensemble import ExtraTreesRegressor, RandomForestRegressor

    from nasearch.benchmarks import make_benchmark
    from nasearch.scoring import rank_key
    from nasearch.scoring.ensemble import combine
    from nasearch.scoring.features import encoding_featurizer

    bench = make_benchmark("nb201")
    sp = bench.space
    p1 = EXP / "mpi_cifar10/run/scores.csv"
    with open(p1, newline="") as fh:
        first = list(csv.DictReader(fh))
    strings = [r["arch"] for r in first]
    old = [c for c in first[0] if c not in ("index", "arch")]
    archs = [sp.parse(s, where=str(p1)) for s in strings]
    idx = np.array([a.index for a in archs])
    y = bench.column("cifar10", "test_acc")[idx].astype(float)
    enc = encoding_featurizer(sp)(archs)
    raw = {**lc.read_wide(p1, strings, old), **lc.read_wide(EXP / "frontier/mpi_1000/scores.csv", strings, FRONTIER)}
    keys = {p: rank_key(p, v) for p, v in raw.items()}
    lf1 = combine(np.column_stack([keys[m] for m in LABEL_FREE_1]), "logrank")  # AZ-NAS's log-rank sum over the pool
    ghn = lc.read_wide(EXP / "ghn/ghn_scores.csv", strings, ["ghn", "ghn_loss"])
    tenas = lc.read_wide(EXP / "frontier/tenas_lr_1000/scores.csv", strings, ["tenas_lr"])
    ez = lc.read_table(EXP.parent / "nasearch/embedded/scores/eznas-2e63348278ce_cifar10_b16_seed0.csv.gz", strings)
    extra_keys = {"ghn": rank_key("ghn", ghn["ghn"]), "ghn_loss": -ghn["ghn_loss"],
                  "tenas_lr": rank_key("tenas_lr", tenas["tenas_lr"])}
    ez_key = rank_key("eznas", ez)

    names = old + list(FRONTIER)
    raw_cols = np.column_stack([lc.slog(keys[p]) for p in names])
    for j in range(raw_cols.shape[1]):  # a cell a proxy cannot rate: below every rated cell of that column
        col = raw_cols[:, j]
        col[~np.isfinite(col)] = col[np.isfinite(col)].min() - 1.0
    ranked = np.column_stack([pool_rank(keys[p]) for p in names] + [pool_rank(lf1)])
    ranked_x = np.column_stack([pool_rank(v) for v in extra_keys.values()])
    configs = {
        "rf 100, encoding + old (raw): the issue's baseline": ("rf", np.hstack([enc, raw_cols[:, : len(old)]])),
        "extra_trees 500, encoding + old + frontier (raw)": ("et", np.hstack([enc, raw_cols])),
        "extra_trees 500, old + frontier + label-free #1 (pool rank)": ("et", ranked),
        "extra_trees 500, encoding + old + frontier + label-free #1 (pool rank)": ("et", np.hstack([enc, ranked])),
        "extra_trees 500, old + frontier + label-free #1 + ghn + tenas_lr (pool rank)": ("et", np.hstack([ranked, ranked_x])),
        "extra_trees 500, the above + EZNAS gen-10 (pool rank; evolved on 120 other labelled cells)":
            ("et", np.hstack([ranked, ranked_x, pool_rank(ez_key)[:, None]])),
    }
    zero = kendalltau(lf1, y).statistic
    rows = []
    for label, (model, X) in configs.items():
        out = {}
        for n in NS:
            taus = []
            for r in range(REPEATS):
                tr, te, seed = lc.split(len(y), n, space="nb201", protocol="issue1000", repeat=r)
                if model == "rf":
                    m = RandomForestRegressor(n_estimators=100, random_state=seed, n_jobs=1)
                else:
                    m = ExtraTreesRegressor(n_estimators=500, max_features=0.5, random_state=seed, n_jobs=1)
                taus.append(kendalltau(m.fit(X[tr], y[tr]).predict(X[te]), y[te]).statistic)
            out[n] = np.array(taus)
        rows.append((label, X.shape[1], out))
        print(label, {n: round(float(v.mean()), 4) for n, v in out.items()}, flush=True)

    lines = ["# The learning-curve goal on the 1,000 cells: how close a forest gets (`ceiling_1000.py`)", "",
             "NB201 CIFAR-10, protocol (a) of `learning_curves.py` (the same 20 seeded splits per n), Kendall "
             "tau-b on the cells not trained on: mean +- std over the 20 splits (standard error of the mean: "
             "std / sqrt(20)). Goal: .85 at n = 100, .90 at n = 500. What each column set holds and why "
             "`pool rank` matters to extremely randomised trees: the script's docstring.", "",
             f"Zero-shot, no labels: label-free #1 (log-rank sum of {', '.join(LABEL_FREE_1)}) ranks these "
             f"1,000 cells at tau {zero:.3f}.", "",
             "| model and columns | columns | n = 100 | n = 500 |", "|---|---|---|---|"]
    for label, width, out in rows:
        lines.append(f"| {label} | {width} | " + " | ".join(
            f"{out[n].mean():.3f} +- {out[n].std():.3f}" for n in NS) + " |")
    (HERE / "ceiling_1000.md").write_text("\n".join(lines) + "\n")
    print((HERE / "ceiling_1000.md").read_text())


if __name__ == "__main__":
    main()
