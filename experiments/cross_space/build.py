"""The cross-space table: every proxy and ensemble, 1,000 seeded networks per space, every task.

Rows: proxies, then ensembles. Columns: NB201 (CIFAR-10, CIFAR-100, ImageNet16-120), NAS-Bench-Macro
(CIFAR-10), TransNAS-Bench-101 micro and macro (7 tasks each). Each space's networks are
``sample_cells(1000, seed=0)`` of ``nasearch.experiments.mpi`` (the seeded sample of ``task=mpi
mpi.cells=1000``; all of them where a space has fewer). A cell is Spearman rho between the score and
the benchmark's target over the networks of that sample the proxy has scored (the count is given when
it is not all 1,000). Nothing is scored here: the per-network scores are read from the committed
studies (``SOURCES``), the targets from the benchmark tables.

    NASEARCH_DATA=/path python experiments/cross_space/build.py   # writes table.md and table.csv

Targets: NB201, 200-epoch test accuracy (NB201's mean over seeds); NAS-Bench-Macro, the mean of its
three test accuracies; TransNAS-Bench-101, each task's final-epoch validation metric (the only one of
the export nasearch reads). Scores were computed once per network: on NB201 with CIFAR-10 images (the
CIFAR-100 and ImageNet16-120 columns rank the same scores against those datasets' accuracies; the
other datasets' images are not here), on NAS-Bench-Macro with CIFAR-10 images, on TransNAS-Bench-101
on the class_scene network, ranked against all seven tasks. There are no Taskonomy images here: the
data-free scores (synflow feeds ones; Zen, NASWOT, MeCo, AZ-NAS's three and TE-NAS's linear regions
standard-normal inputs) use none, and the proxies that read images and labels (``../transnas101/
mpi_cross/``: GradSign, ZiCo, jacob_cov, SWAP, reg-SWAP, L-SWAG, snip, grad_norm, fisher, GraSP) saw
CIFAR-10 training images resized to 256 px (bilinear) with their CIFAR-10 labels, batch 8 (SWAP and
reg-SWAP 16, their sample count).

Ensembles (AZ-NAS's log-rank sum over the networks of the column, ``nasearch.scoring.ensemble.combine``)
appear where every member was scored on that space:

* fixed ensembles, the same members everywhere: the AZ-NAS preset, the issue's six-proxy baseline and
  the two label-free ensembles chosen on half of the NB201 sample (``../frontier/ensembles_1000.md``);
* ``selected on the half (held-out half)``: per column, the log-rank combination of 1 to 3 of the
  proxies scored there with the best rho on the same seeded half of the networks LIBRA selects on
  (every combination tried), reported on the other half; a labelled choice, like LIBRA's. Its picks
  are in ``selected.csv``.
* ``LIBRA (held-out)``: per column, LIBRA's selection (:mod:`nasearch.scoring.libra`, which uses the
  target) run on a seeded half of the column's networks over the proxies scored there, its rho
  reported on the other half: a labelled method, so never in-sample. The members it picked are in
  ``table.csv``.

Each row's mean is over the columns where it has a figure (the count beside it); ``rank`` columns rank
rows within a column (1 = best). The last rows name each column's best.
"""

from __future__ import annotations

import csv
import gzip
import itertools
import math
from pathlib import Path

import numpy as np
from scipy.stats import rankdata, spearmanr

from nasearch.benchmarks import make_benchmark
from nasearch.experiments.mpi import sample_cells
from nasearch.proxies import get_proxy
from nasearch.scoring import rank_key
from nasearch.scoring.ensemble import combine

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).parent
CELLS = 1000
SPLIT_SEED = 37

SPACES = {
    "nb201": ("NB201", "nb201"),
    "nasbench_macro": ("NAS-Bench-Macro", "nasbench_macro"),
    "transnas101_micro": ("TNB micro", "transnas101_micro"),
    "transnas101_macro": ("TNB macro", "transnas101_macro"),
}
"""space -> (column prefix, benchmark name)."""

SOURCES: dict[str, list[tuple[Path, dict[str, str] | None]]] = {
    "nb201": [
        (ROOT / "mpi_cifar10/run/scores.csv", None),
        (ROOT / "frontier/mpi_1000/scores.csv", None),
        (ROOT / "frontier/tenas_lr_1000/scores.csv", None),
        (ROOT / "ghn/ghn_scores.csv", {"ghn": "ghn", "ghn_loss": "ghn_loss"}),
        *((path, None) for path in sorted((ROOT / "score_tables").glob("ghn2-*_cifar10_b64_seed0.csv.gz"))),
        (ROOT / "eznas/published_mpi1000_partial/scores.csv", {"score": "eznas"}),
    ],
    "nasbench_macro": [
        (ROOT / "nasbench_macro/mpi/scores.csv", None),
        (ROOT / "nasbench_macro/mpi_frontier/scores.csv", None),
        (ROOT / "nasbench_macro/mpi_eznas/scores.csv", None),
        (ROOT / "nasbench_macro/mpi_ghn/scores.csv", None),
    ],
    "transnas101_micro": [
        *((ROOT / f"transnas101/scores/{p}_transnas101_micro_class_scene_seed0.csv.gz", None)
          for p in ("params", "flops", "synflow", "zen", "naswot")),
        (ROOT / "transnas101/mpi_frontier_micro/scores.csv", None),
        *((path, None) for path in sorted((ROOT / "transnas101/mpi_cross/micro").glob("*/scores.csv"))),
    ],
    "transnas101_macro": [
        *((ROOT / f"transnas101/scores/{p}_transnas101_macro_class_scene_seed0.csv.gz", None)
          for p in ("params", "flops")),
        (ROOT / "transnas101/mpi_frontier_macro/scores.csv", None),
        *((path, None) for path in sorted((ROOT / "transnas101/mpi_cross/macro").glob("*/scores.csv"))),
    ],
}
"""Per space, the committed per-network scores: a study's wide ``scores.csv`` (column -> proxy, None for
every column named like a proxy) or a score table exported by ``nasearch scores export``."""

FIXED = {
    "AZ-NAS preset (az_nas)": ("az_expressivity", "az_progressivity", "az_trainability", "flops"),
    "LIBRA's NB201 pick (libra)": ("meco_opt", "meco", "swap"),
    "six-proxy baseline": ("synflow", "zico", "gradsign", "naswot", "jacob_cov", "flops"),
    "label-free, chosen on NB201": ("az_expressivity", "az_trainability", "meco", "reg_swap", "synflow"),
    "label-free cheap, chosen on NB201": ("gradsign", "meco", "meco_opt", "swap"),
}
"""Fixed ensembles (log-rank sum), members as named in ``../frontier/ensembles_1000.md``."""


def read_scores(space: str, archs: list[str]) -> dict[str, np.ndarray]:
    """proxy -> raw score per arch of ``archs`` (NaN where that source has not scored the arch)."""
    pos = {a: i for i, a in enumerate(archs)}
    out: dict[str, np.ndarray] = {}
    for path, columns in SOURCES[space]:
        if not path.is_file():
            continue
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", newline="") as fh:
            rows = list(csv.DictReader(fh))
        if rows and "value" in rows[0] and "proxy" in rows[0]:  # an exported score table
            for r in rows:
                if r["arch"] in pos:
                    col = out.setdefault(r["proxy"], np.full(len(archs), np.nan))
                    col[pos[r["arch"]]] = float(r["value"])
            continue
        names = columns or {c: c for c in rows[0] if c not in ("index", "arch") and ":" not in c}
        for column, proxy in names.items():
            if proxy in out:  # the first source of a proxy wins
                continue
            col = np.full(len(archs), np.nan)
            for r in rows:
                if r["arch"] in pos and r.get(column, "") != "":
                    col[pos[r["arch"]]] = float(r[column])
            out[proxy] = col
    # an ensemble's own column (a study's az_nas) is not a proxy: ensembles are combined here from members
    return {p: v for p, v in out.items() if p in ("ghn_loss",) or not get_proxy("ghn" if p == "ghn_loss" else p).members}


LEARNED = ("ghn", "ghn_loss", "ghn2", "ghn2_loss")
"""Trained GHNs: rows of the table, never candidates of the per-column selections (LIBRA's, the labelled one)."""
SELECTED = "selected on the half (held-out half)"
MAX_MEMBERS = 3


def select_on_half(usable: dict[str, np.ndarray], y: np.ndarray, half: np.ndarray) -> tuple[tuple[str, ...], float]:
    """The log-rank combination of 1 to ``MAX_MEMBERS`` of ``usable`` with the highest Spearman rho on
    the selection half (every combination tried; ties to the first in sorted order): a labelled choice,
    reported on the other half only."""
    names = sorted(usable)
    best: tuple[float, tuple[str, ...]] = (-math.inf, ())
    for size in range(1, MAX_MEMBERS + 1):
        for combo in itertools.combinations(names, size):
            s = combine(np.column_stack([usable[m] for m in combo]), "logrank") if size > 1 else usable[combo[0]]
            v = rho(s, y, half)[0]
            if v > best[0]:
                best = (v, combo)
    return best[1], best[0]


def keys_of(proxy: str, raw: np.ndarray) -> np.ndarray:
    """Sign-adjusted keys (higher is better); an unscored network stays NaN, one scored NaN ranks last."""
    scored = ~np.isnan(raw)
    k = np.full(len(raw), np.nan)
    spec = get_proxy("ghn" if proxy == "ghn_loss" else proxy)
    k[scored] = rank_key(spec, raw[scored]) if proxy != "ghn_loss" else -raw[scored]
    return k


def rho(k: np.ndarray, y: np.ndarray, mask: np.ndarray | None = None) -> tuple[float, int]:
    ok = ~np.isnan(k) & ~np.isnan(y) if mask is None else (~np.isnan(k) & ~np.isnan(y) & mask)
    if ok.sum() < 10:
        return math.nan, int(ok.sum())
    kk = np.where(np.isneginf(k[ok]), -np.inf, k[ok])
    return float(spearmanr(kk, y[ok]).statistic), int(ok.sum())


def main() -> None:
    try:
        from nasearch.scoring.libra import libra_select
    except ImportError:  # pragma: no cover - a checkout without LIBRA
        libra_select = None
    columns: list[str] = []
    figures: dict[str, dict[str, tuple[float, int]]] = {}
    libra_rows: list[dict] = []
    selected_rows: list[dict] = []
    for space, (prefix, bench_name) in SPACES.items():
        bench = make_benchmark(bench_name)
        sp = bench.space
        cells = sample_cells(min(CELLS, sum(1 for a in sp.all_archs() if not sp.is_trivial(a))), 0, space=sp)
        archs = [sp.to_string(a) for a in cells]
        idx = np.array([a.index for a in cells])
        raw = read_scores(space, archs)
        keys = {p: keys_of(p, v) for p, v in raw.items()}
        half = np.zeros(len(archs), dtype=bool)
        half[np.random.default_rng(SPLIT_SEED).permutation(len(archs))[: len(archs) // 2]] = True
        for task in bench.datasets:
            col = f"{prefix} / {task}"
            columns.append(col)
            y = bench.column(task, "test_acc")[idx].astype(float)
            for p, k in keys.items():
                figures.setdefault(p, {})[col] = rho(k, y)
            complete = {p: k for p, k in keys.items() if not np.isnan(k).any()}
            for label, members in FIXED.items():
                if all(m in complete for m in members):
                    s = combine(np.column_stack([complete[m] for m in members]), "logrank")
                    figures.setdefault(label, {})[col] = rho(s, y)
            # LIBRA's candidates: every label-free score that tells the networks apart (a constant one, such as
            # SWAP saturated at 2^16 patterns, has no correlation to rank by)
            usable = {p: k for p, k in complete.items() if p not in LEARNED and np.unique(k).size > 1}
            if libra_select is not None and len(usable) >= 3:
                params = complete.get("params")
                choice = libra_select({p: k[half] for p, k in usable.items()}, y[half],
                                      params[half] if params is not None else None)
                s = combine(np.column_stack([usable[m] for m in choice.members]), "logrank")
                figures.setdefault("LIBRA (held-out half)", {})[col] = rho(s, y, ~half)
                libra_rows.append({"column": col, "members": " + ".join(choice.members),
                                   "held_out_rho": round(rho(s, y, ~half)[0], 4)})
            if len(usable) >= 2:
                members, on_half = select_on_half(usable, y, half)
                s = combine(np.column_stack([usable[m] for m in members]), "logrank")
                figures.setdefault(SELECTED, {})[col] = rho(s, y, ~half)
                selected_rows.append({"column": col, "members": " + ".join(members),
                                      "selection_rho": round(on_half, 4), "held_out_rho": round(rho(s, y, ~half)[0], 4)})
    rows = list(figures)
    ranks: dict[str, dict[str, int]] = {r: {} for r in rows}
    for col in columns:
        have = [(figures[r][col][0], r) for r in rows if col in figures[r] and not math.isnan(figures[r][col][0])]
        order = rankdata([-v for v, _ in have], method="min")
        for (_, r), k in zip(have, order):
            ranks[r][col] = int(k)
    nominal = {}
    for col in columns:
        nominal[col] = max((figures[r][col][1] for r in rows if col in figures[r]), default=0)

    def cell(r: str, col: str) -> str:
        if col not in figures[r] or math.isnan(figures[r][col][0]):
            return ""
        v, n = figures[r][col]
        note = f" ({n})" if n != nominal[col] and "held-out" not in r else ""
        bold = "**" if ranks[r].get(col) == 1 else ""
        return f"{bold}{v:.3f}{bold}{note} #{ranks[r][col]}"

    def mean(r: str) -> tuple[float, int]:
        vals = [figures[r][c][0] for c in columns if c in figures[r] and not math.isnan(figures[r][c][0])]
        return (float(np.mean(vals)) if vals else math.nan), len(vals)

    lines = ["| score | mean rho (columns) | " + " | ".join(columns) + " |", "|---" * (len(columns) + 2) + "|"]
    for r in rows:
        m, n = mean(r)
        lines.append(f"| {r} | {m:.3f} ({n}) | " + " | ".join(cell(r, c) for c in columns) + " |")
    best = []
    for col in columns:
        top = [r for r in rows if ranks[r].get(col) == 1]
        best.append(" / ".join(top))
    lines.append("| **best** | | " + " | ".join(best) + " |")
    full = [r for r in rows if mean(r)[1] == len(columns)]
    note = ("\nCells: Spearman rho, then the row's rank in the column (#1 in bold); a count in brackets is the "
            "number of networks scored when fewer than the column's. Mean: over the columns the row has. ")
    if full:
        top = max(full, key=lambda r: mean(r)[0])
        note += f"Best mean over all {len(columns)} columns: {top} ({mean(top)[0]:.3f}).\n"
    else:
        top = max(rows, key=lambda r: (mean(r)[1], mean(r)[0]))
        note += (f"No row has all {len(columns)} columns; the best mean among the rows with the most columns "
                 f"({mean(top)[1]}): {top} ({mean(top)[0]:.3f}).\n")
    (HERE / "table.md").write_text("\n".join(lines) + "\n" + note)
    with open(HERE / "table.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["score", "column", "spearman", "networks", "rank"])
        for r in rows:
            for c in columns:
                if c in figures[r]:
                    w.writerow([r, c, round(figures[r][c][0], 4), figures[r][c][1], ranks[r].get(c, "")])
    for name, table in (("libra.csv", libra_rows), ("selected.csv", selected_rows)):
        if table:
            with open(HERE / name, "w", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=list(table[0]))
                w.writeheader()
                w.writerows(table)
    print("\n".join(lines) + note)


if __name__ == "__main__":
    main()
