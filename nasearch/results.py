"""Results: the row schema, crash-safe writers, summaries with paired tests, multirun collection, plots.

One CSV row per search run (``runs.csv``): the factors of its arm, the seed and run index, the final
incumbent's test and validation accuracies on every dataset (task) its benchmark declares, in the
benchmark's order (:func:`row_fields`; files of an older layout are read and resumed as they are),
queries, simulated/overhead/wall seconds and the nasearch version. ``curves.csv`` holds each run's
incumbent test accuracy on a fixed grid of the budget, for the anytime plot. Rows are appended and
flushed one by one, so an interrupted job keeps every finished run; a partial last line is dropped
when the job resumes. Results are never pickled.

Summaries give mean +- std (sample std, ddof=1) per dataset, and for every assisted arm a Wilcoxon
signed-rank test against the vanilla arm of the same strategy (``proxy=none`` or ``n=1``) paired
on the run index (arms share the experiment seed, so run i of both arms starts from the same seed).
"""

from __future__ import annotations

import csv
import logging
import math
import os
import warnings
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nasearch.strategies.prefilter import is_vanilla as vanilla_arm

log = logging.getLogger(__name__)

FACTORS: tuple[str, ...] = (
    "benchmark",
    "dataset",
    "strategy",
    "proxy",
    "n",
    "k",
    "budget_seconds",
    "budget_queries",
    "fidelity",
    "charge_time",
    "seed",
)
"""Columns that define an arm (all runs of one job share them)."""
OPTIONAL_FACTORS: dict[str, str] = {"workers": "1", "constraints": "", "objectives": ""}
"""Arm columns a ``runs.csv`` carries only when its arm sets them (issue-39 search modes: simulated
asynchronous workers, constraints such as ``flops<=50``, a multi-objective search's metrics), each
with the value a file without the column reads as; so every older file keeps its header and arm."""
ALL_FACTORS: tuple[str, ...] = FACTORS + tuple(OPTIONAL_FACTORS)
MO_FIELDS: tuple[str, ...] = ("hypervolume", "hv_ratio", "front")
"""Run columns of a multi-objective search: the normalised hypervolume of the final front (evaluated
cells' objectives at the final fidelity, test accuracy for accuracy), its ratio to the true front's
(from the whole table), and the front's cells."""
RUN_FIELDS: tuple[str, ...] = (
    "run",
    "queries",
    "sim_seconds",
    "overhead_seconds",
    "wall_seconds",
    "incumbent",
)
LEGACY_DATASETS: tuple[str, ...] = ("cifar10", "cifar100", "ImageNet16-120")
"""The dataset columns every ``runs.csv`` carried before a file held only its benchmark's own (NAS-Bench-201's
three, before any other dataset); a file format of the past, read and resumed (:func:`legacy_row_fields`),
never written afresh."""


def row_fields(datasets: Sequence[str], optional: Sequence[str] = (), extra: Sequence[str] = ()) -> tuple[str, ...]:
    """``runs.csv`` columns of a benchmark with these datasets (``bench.datasets``, in its order): the
    arm's factors (and the ``optional`` ones of :data:`OPTIONAL_FACTORS` it sets), the run's fields,
    ``test_<d>`` for each dataset, ``valid_<d>`` for each, ``extra`` run fields (:data:`MO_FIELDS`),
    ``version``."""
    return (FACTORS + tuple(optional) + RUN_FIELDS + tuple(f"test_{d}" for d in datasets)
            + tuple(f"valid_{d}" for d in datasets) + tuple(extra) + ("version",))


def legacy_row_fields(datasets: Sequence[str]) -> tuple[str, ...]:
    """The ``runs.csv`` columns an older nasearch wrote for a benchmark with these datasets: the
    :data:`LEGACY_DATASETS` always, then the benchmark's others in its order (NAS-Bench-Macro files have
    empty cifar100 / ImageNet16-120 columns, TransNAS-Bench-101 files carry them beside the seven tasks).
    A search resuming such a file keeps its header (:class:`AppendWriter`'s ``legacy``)."""
    return row_fields(LEGACY_DATASETS + tuple(d for d in datasets if d not in LEGACY_DATASETS))


def read_header(path: Path) -> tuple[str, ...]:
    """The columns of a CSV file (empty for an empty file)."""
    with open(path, newline="", encoding="utf-8") as fh:
        return tuple(next(csv.reader([fh.readline()]), []))


def header_datasets(header: Sequence[str]) -> tuple[str, ...]:
    """The datasets of a ``runs.csv`` header (its ``test_<d>`` columns, in order)."""
    return tuple(c[len("test_"):] for c in header if c.startswith("test_"))


def read_run_rows(path: Path) -> list[dict[str, str]]:
    """Rows of a ``runs.csv`` of any benchmark, old layouts included (its header must be
    :func:`row_fields` of the datasets it holds, with the optional factors and run fields it has)."""
    path = Path(path)
    header = read_header(path)
    optional = tuple(f for f in OPTIONAL_FACTORS if f in header)
    extra = tuple(f for f in MO_FIELDS if f in header)
    return read_rows(path, row_fields(header_datasets(header), optional, extra))


CURVE_POINTS = 50
CURVE_FIELDS: tuple[str, ...] = ("run",) + tuple(f"t{i}" for i in range(CURVE_POINTS))
RUNS_FILE = "runs.csv"
CURVES_FILE = "curves.csv"


# ---------------------------------------------------------------------------------------------- I/O
class AppendWriter:
    """Appends CSV rows to ``path`` one at a time, flushed and fsynced, after repairing the file.

    On open, a file with a different header is an error (it belongs to another schema), unless the
    header is one of ``legacy`` (the layout an older nasearch wrote for the same rows, a superset of
    ``fields``): then the file keeps it, :attr:`fields` becomes it and the cells of columns a row does
    not have are written empty, so an old folder resumes. A partial last line (the job was killed
    mid-write) is cut off atomically (temp file + os.replace).
    """

    def __init__(self, path: Path, fields: Sequence[str], *, legacy: Iterable[Sequence[str]] = ()):
        self.path = Path(path)
        self.fields = tuple(fields)
        if self.path.exists():
            header = read_header(self.path)
            if header != self.fields and header in {tuple(h) for h in legacy}:
                assert set(self.fields) <= set(header), "a legacy layout holds every current column"
                log.info("%s has an older column layout; resuming it with that layout", self.path)
                self.fields = header
        existing = read_rows(self.path, self.fields) if self.path.exists() else []
        _rewrite(self.path, self.fields, existing)
        self.rows = existing
        self._fh = open(self.path, "a", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._fh, fieldnames=self.fields, lineterminator="\n")

    def write(self, row: dict[str, Any]) -> None:
        self._writer.writerow({k: _fmt(row.get(k)) for k in self.fields})
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> AppendWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return "nan" if math.isnan(v) else repr(v)
    return str(v)


def _rewrite(path: Path, fields: Sequence[str], rows: list[dict[str, str]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(fields), lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow(r)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_rows(path: Path, fields: Sequence[str] | None = None) -> list[dict[str, str]]:
    """Complete rows of a results CSV (a partial last line is skipped)."""
    path = Path(path)
    with open(path, newline="", encoding="utf-8") as fh:
        text = fh.read()
    lines = text.split("\n")
    if not lines or not lines[0]:
        return []
    header = next(csv.reader([lines[0]]))
    if fields is not None and tuple(header) != tuple(fields):
        raise ValueError(
            f"{path} has columns {header} but this nasearch writes {list(fields)}; "
            "move the old file away or choose another output directory"
        )
    complete = lines[1:-1] if not text.endswith("\n") else lines[1:]
    rows = []
    for rec in csv.reader([ln for ln in complete if ln]):
        if len(rec) == len(header):
            rows.append(dict(zip(header, rec)))
    return rows


def write_table(path: Path, rows: list[dict[str, Any]], fields: Sequence[str]) -> None:
    """Write a whole CSV atomically."""
    _rewrite(Path(path), fields, [{k: _fmt(r.get(k)) for k in fields} for r in rows])


def write_text(path: Path, text: str) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------------ summary
@dataclass
class ArmSummary:
    factors: dict[str, str]
    runs: int
    mean: dict[str, float]
    std: dict[str, float]
    queries: float
    sim_seconds: float
    overhead_seconds: float
    p_value: float | None = None
    """Wilcoxon signed-rank p-value of test accuracy on the search dataset vs the vanilla arm."""
    delta: float | None = None
    """Mean paired difference (this arm - vanilla) on the search dataset, in points."""
    vanilla: str = ""
    hv_ratio: float | None = None
    """Multi-objective arms: mean ratio of the final front's hypervolume to the true front's."""

    @property
    def label(self) -> str:
        f = self.factors
        mode = []  # the optional factors an arm sets (simulated workers, constraints, objectives)
        if str(f.get("workers") or "1") != "1":
            mode.append(f"K={f['workers']} workers")
        if f.get("constraints"):
            mode.append(str(f["constraints"]))
        if f.get("objectives"):
            mode.append("objectives " + str(f["objectives"]))
        if is_vanilla(f):
            # a `proxy=none proxy.n=10,100` sweep keeps one vanilla row per N: name them apart
            if str(f.get("n", "1")) != "1":
                mode.append(f"vanilla, N={f['n']} sweep")
            return f"{f['strategy']}" + (f" ({', '.join(mode)})" if mode else "")
        extra = [f"N={f['n']}"]
        if f.get("k", "1") != "1":
            extra.append(f"k={f['k']}")
        if str(f.get("charge_time", "False")).lower() == "true":
            extra.append("proxy time charged")
        return f"{f['strategy']}+{f['proxy']} ({', '.join(extra + mode)})"


def is_vanilla(factors: dict[str, str]) -> bool:
    """Whether a row's arm is vanilla (:func:`nasearch.strategies.prefilter.is_vanilla`)."""
    return vanilla_arm(factors.get("proxy", "none"), factors.get("n", "1"))


def _float(v: str) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


VANILLA_FACTORS = {"proxy": "none", "k": "1", "charge_time": "False"}
"""What a vanilla arm's proxy factors read as in a summary, whatever the job was configured with."""


def arm_key(row: dict[str, str]) -> tuple[str, ...]:
    """The arm a row belongs to. A vanilla job (``proxy=none`` or ``n=1``) reads as ``proxy=none``
    with its N kept: a sweep ``proxy=zico,synflow proxy.n=1,10`` runs the same vanilla search twice
    (``zico`` and ``synflow`` at N=1) and the collected table shows it once, while
    ``proxy=none,gradsign proxy.n=10,100`` keeps a vanilla row beside each N, as asked."""
    opt = tuple(row.get(f) or d for f, d in OPTIONAL_FACTORS.items())
    if is_vanilla(row):
        return tuple(VANILLA_FACTORS.get(f, row[f]) for f in FACTORS) + opt
    return tuple(row[f] for f in FACTORS) + opt


def group_arms(rows: Iterable[dict[str, str]]) -> dict[tuple[str, ...], list[dict[str, str]]]:
    """Rows by arm (:func:`arm_key`). A run index seen twice in one arm (the same vanilla search
    from two jobs of a sweep) is kept once; a warning is logged if the two disagree on the result."""
    arms: dict[tuple[str, ...], list[dict[str, str]]] = defaultdict(list)
    seen: dict[tuple[tuple[str, ...], str], dict[str, str]] = {}
    for r in rows:
        key = arm_key(r)
        first = seen.get((key, r["run"]))
        if first is not None:
            if any(first.get(c) != r.get(c) for c in r if c == "incumbent" or c.startswith(("test_", "valid_"))):
                log.warning(
                    "run %s of arm %s appears twice with different results (%s vs %s); keeping the first",
                    r["run"], "/".join(key), first["incumbent"], r["incumbent"],
                )
            continue
        seen[(key, r["run"])] = r
        arms[key].append(r)
    return arms


def summarize(rows: Iterable[dict[str, str]]) -> list[ArmSummary]:
    """One summary per arm, assisted arms tested against their vanilla arm (paired on run index)."""
    from scipy.stats import wilcoxon

    rows = list(rows)
    datasets = list(dict.fromkeys(d for r in rows for d in header_datasets(list(r))))
    arms = group_arms(rows)
    out: list[ArmSummary] = []
    for key, rs in arms.items():
        factors = dict(zip(ALL_FACTORS, key))
        mean, std = {}, {}
        for d in datasets:
            vals = np.array([_float(r.get(f"test_{d}")) for r in rs])
            vals = vals[~np.isnan(vals)]
            mean[d] = float(vals.mean()) if len(vals) else math.nan
            std[d] = float(vals.std(ddof=1)) if len(vals) > 1 else (0.0 if len(vals) else math.nan)
        out.append(
            ArmSummary(
                factors=factors,
                runs=len(rs),
                mean=mean,
                std=std,
                queries=float(np.mean([_float(r["queries"]) for r in rs])),
                sim_seconds=float(np.mean([_float(r["sim_seconds"]) for r in rs])),
                overhead_seconds=float(np.mean([_float(r["overhead_seconds"]) for r in rs])),
                hv_ratio=float(np.nanmean([_float(r.get("hv_ratio")) for r in rs])) if factors.get("objectives") else None,
            )
        )
    # pair every assisted arm with the vanilla arm of the same strategy and setting
    pair_keys = [f for f in ALL_FACTORS if f not in ("proxy", "n", "k", "charge_time")]
    vanillas: dict[tuple[str, ...], tuple[ArmSummary, list[dict[str, str]]]] = {}
    for s, (_key, rs) in zip(out, arms.items()):
        if is_vanilla(s.factors):
            vanillas.setdefault(tuple(s.factors[f] for f in pair_keys), (s, rs))
    for s, (_key, rs) in zip(out, arms.items()):
        if is_vanilla(s.factors):
            continue
        match = vanillas.get(tuple(s.factors[f] for f in pair_keys))
        if match is None:
            continue
        v, vrs = match
        # a multi-objective arm is compared by its front's hypervolume ratio, any other by test accuracy
        col = "hv_ratio" if s.factors.get("objectives") else f"test_{s.factors['dataset']}"
        a = {r["run"]: _float(r.get(col)) for r in rs}
        b = {r["run"]: _float(r.get(col)) for r in vrs}
        common = sorted(set(a) & set(b), key=int)
        x = np.array([a[i] for i in common])
        y = np.array([b[i] for i in common])
        ok = ~(np.isnan(x) | np.isnan(y))
        x, y = x[ok], y[ok]
        s.vanilla = v.label
        if len(x) == 0:
            continue
        s.delta = float(np.mean(x - y))
        if np.all(x == y):
            s.p_value = 1.0
        else:
            s.p_value = float(wilcoxon(x, y, zero_method="wilcox").pvalue)
    out.sort(key=lambda s: (s.factors["strategy"], not is_vanilla(s.factors), s.factors["proxy"], int(s.factors["n"] or 1)))
    return out


SUMMARY_HEAD: tuple[str, ...] = (
    "strategy", "proxy", "n", "k", "benchmark", "dataset", "budget_seconds", "budget_queries", "runs",
)
SUMMARY_TAIL: tuple[str, ...] = ("queries", "sim_seconds", "overhead_seconds", "delta_vs_vanilla", "p_wilcoxon")


def summary_fields(summaries: list[ArmSummary], datasets: Sequence[str] = ()) -> tuple[str, ...]:
    """Columns of a summary table (``collected.csv``, :func:`load`'s ``summary``): the arm, a mean/std
    pair per dataset the summaries hold (the datasets of their ``runs.csv``, in its order; ``datasets``
    first, the columns of a table with no arm), queries and times, the paired test."""
    ds = dict.fromkeys(datasets)
    for s in summaries:
        ds.update(dict.fromkeys(s.mean))
    opt = tuple(f for f, d in OPTIONAL_FACTORS.items() if any((s.factors.get(f) or d) != d for s in summaries))
    mo = ("hv_ratio",) if any(s.hv_ratio is not None for s in summaries) else ()
    return SUMMARY_HEAD + opt + tuple(f"{m}_{d}" for d in ds for m in ("mean", "std")) + mo + SUMMARY_TAIL


def summary_rows(summaries: list[ArmSummary]) -> list[dict[str, Any]]:
    rows = []
    for s in summaries:
        r: dict[str, Any] = {k: s.factors.get(k, "") for k in ("strategy", "proxy", "n", "k", "benchmark", "dataset", "budget_seconds", "budget_queries")}
        r["runs"] = s.runs
        for f, d in OPTIONAL_FACTORS.items():
            r[f] = s.factors.get(f) or d
        r["hv_ratio"] = "" if s.hv_ratio is None else round(s.hv_ratio, 6)
        for d in s.mean:
            r[f"mean_{d}"] = round(s.mean[d], 4) if not math.isnan(s.mean[d]) else ""
            r[f"std_{d}"] = round(s.std[d], 4) if not math.isnan(s.std[d]) else ""
        r["queries"] = round(s.queries, 2)
        r["sim_seconds"] = round(s.sim_seconds, 1)
        r["overhead_seconds"] = round(s.overhead_seconds, 3)
        r["delta_vs_vanilla"] = "" if s.delta is None else round(s.delta, 4)
        r["p_wilcoxon"] = "" if s.p_value is None else f"{s.p_value:.3g}"
        rows.append(r)
    return rows


def markdown_table(summaries: list[ArmSummary]) -> str:
    """GradSign Table 5 shaped: one row per arm, test accuracy mean +- std per dataset, p vs vanilla."""
    present = [d for d in (summaries[0].mean if summaries else ()) if any(not math.isnan(s.mean[d]) for s in summaries)]
    mo = any(s.hv_ratio is not None for s in summaries)
    head = ["method", "search on", "runs", *present, *(["HV ratio"] if mo else []), "queries",
            "vs vanilla (paired Wilcoxon)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in summaries:
        cells = [s.label, f"{s.factors['benchmark']}/{s.factors['dataset']}", str(s.runs)]
        for d in present:
            cells.append("-" if math.isnan(s.mean[d]) else f"{s.mean[d]:.2f} +- {s.std[d]:.2f}")
        if mo:
            cells.append("-" if s.hv_ratio is None else f"{s.hv_ratio:.4f}")
        cells.append(f"{s.queries:.1f}")
        if s.p_value is None:
            cells.append("")
        elif s.hv_ratio is not None:
            cells.append(f"{s.delta:+.4f} HV ratio, p={s.p_value:.3g}")
        else:
            cells.append(f"{s.delta:+.2f} pts, p={s.p_value:.3g}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------- curves
def curve_grid(limit: float) -> np.ndarray:
    return np.linspace(0.0, float(limit), CURVE_POINTS)


def curve_values(xs: Sequence[float], ys: Sequence[float], grid: np.ndarray) -> np.ndarray:
    """Step function: the incumbent's value at each grid point (NaN before the first evaluation)."""
    xs_a = np.asarray(xs, dtype=float)
    ys_a = np.asarray(ys, dtype=float)
    idx = np.searchsorted(xs_a, grid, side="right") - 1
    out = np.where(idx >= 0, ys_a[np.clip(idx, 0, None)] if len(ys_a) else np.nan, np.nan)
    return out


def plot_curves(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: Path, *, xlabel: str, title: str) -> None:
    """Mean incumbent test accuracy against the budget, one line per arm, with a band: the 95%
    confidence interval of the mean (1.96 standard errors), the band that shows whether two arms differ."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    for label, (grid, values) in curves.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(values, axis=0)
            count = np.sum(~np.isnan(values), axis=0)
            half = 1.96 * np.nanstd(values, axis=0, ddof=1) / np.sqrt(np.maximum(count, 1))
        ax.plot(grid, mean, label=f"{label} ({values.shape[0]} runs)")
        ax.fill_between(grid, mean - half, mean + half, alpha=0.25)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("incumbent test accuracy (%), mean and 95% CI")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        finite = [np.nanmean(v, axis=0) for _, v in curves.values()]
    lows = [np.nanmin(m[np.isfinite(m)]) for m in finite if np.isfinite(m).any()]
    highs = [np.nanmax(m[np.isfinite(m)]) for m in finite if np.isfinite(m).any()]
    if lows and highs:
        lo, hi = min(lows), max(highs)
        # start the axis where the curves become informative (after the first few evaluations)
        mids = [m[len(m) // 10] for m in finite if np.isfinite(m[len(m) // 10])]
        if mids:
            lo = max(lo, min(mids) - 1.0)
        ax.set_ylim(lo - 0.2, hi + 0.3)
    fig.tight_layout()
    tmp = Path(path).with_name(Path(path).stem + ".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)


def read_curves(job_dir: Path) -> tuple[np.ndarray, np.ndarray] | None:
    path = Path(job_dir) / CURVES_FILE
    limit_path = Path(job_dir) / "curves_limit.txt"
    if not path.exists() or not limit_path.exists():
        return None
    rows = read_rows(path, CURVE_FIELDS)
    if not rows:
        return None
    grid = curve_grid(float(limit_path.read_text().split()[0]))
    values = np.array([[_float(r[f"t{i}"]) for i in range(CURVE_POINTS)] for r in rows])
    return grid, values


# ---------------------------------------------------------------------------------------- collecting
def find_job_dirs(root: Path) -> list[Path]:
    return sorted({p.parent for p in Path(root).rglob(RUNS_FILE)})


def collect(root: Path, out_prefix: str = "collected") -> list[ArmSummary]:
    """Collect every ``runs.csv`` below ``root`` (a multirun directory) into one table and plot.

    Writes ``<root>/collected.csv``, ``collected.md``, per strategy ``collected_<strategy>.png``
    (anytime curves of that strategy's arms: a vanilla-vs-assisted comparison) and, when the sweep
    holds several strategies, ``collected_all.png``. Re-runnable on an old sweep directory.
    """
    root = Path(root)
    jobs = find_job_dirs(root)
    if not jobs:
        raise FileNotFoundError(f"no {RUNS_FILE} below {str(root)!r}: is it a nasearch multirun directory?")
    rows: list[dict[str, str]] = []
    curves_by_arm: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}
    datasets: dict[str, None] = {}
    for job in jobs:
        jr = read_run_rows(job / RUNS_FILE)
        datasets.update(dict.fromkeys(header_datasets(read_header(job / RUNS_FILE))))
        rows.extend(jr)
        c = read_curves(job)
        if jr and c is not None:
            curves_by_arm.setdefault(arm_key(jr[0]), c)
    summaries = summarize(rows)
    write_table(root / f"{out_prefix}.csv", summary_rows(summaries), summary_fields(summaries, list(datasets)))
    md = markdown_table(summaries)
    write_text(root / f"{out_prefix}.md", md)
    by_strategy: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = defaultdict(dict)
    for s in summaries:
        key = tuple(s.factors[f] for f in ALL_FACTORS)
        if key in curves_by_arm:
            by_strategy[s.factors["strategy"]][s.label] = curves_by_arm[key]
    if len(by_strategy) > 1:
        first = summaries[0]
        every = {label: c for curves in by_strategy.values() for label, c in curves.items()}
        plot_curves(
            every,
            root / f"{out_prefix}_all.png",
            xlabel="simulated seconds" if first.factors["budget_seconds"] else "queries",
            title=f"all arms on {first.factors['benchmark']}/{first.factors['dataset']}",
        )
    for strategy, curves in by_strategy.items():
        first = next(s for s in summaries if s.factors["strategy"] == strategy)
        xlabel = "simulated seconds" if first.factors["budget_seconds"] else "queries"
        plot_curves(
            curves,
            root / f"{out_prefix}_{strategy.replace(':', '-')}.png",
            xlabel=xlabel,
            title=f"{strategy} on {first.factors['benchmark']}/{first.factors['dataset']}",
        )
    log.info("collected %d runs of %d arms from %s into %s", len(rows), len(summaries), root, root / f"{out_prefix}.md")
    return summaries


try:  # Hydra is a core dependency; keep results importable without it for scripts.
    from hydra.experimental.callback import Callback

    class CollectCallback(Callback):
        """At the end of a multirun, collect its jobs into one table (``collected.md``)."""

        def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
            sweep_dir = Path(config.hydra.sweep.dir)
            if not find_job_dirs(sweep_dir):
                return
            summaries = collect(sweep_dir)
            print(markdown_table(summaries), flush=True)
            for png in sorted(sweep_dir.glob("collected_*.png")):
                print(f"anytime plot: {png}", flush=True)

except ImportError:  # pragma: no cover
    pass


# -------------------------------------------------------------------------------------- reading back
@dataclass
class RunResult:
    """What a finished job or sweep folder holds, as data (:func:`load`; returned by
    :func:`nasearch.api.run` and :func:`nasearch.api.compare`).

    ``frames`` has one pandas DataFrame per CSV the task wrote: ``runs`` (one row per search run,
    every job of a sweep, with a ``job`` column naming its folder), ``curves``, ``summary`` (one row
    per arm: mean and std per dataset, queries, the paired test against vanilla), ``mpi`` and
    ``scores`` (``task=mpi``), ``scores`` (``task=score``), ``hall_of_fame`` / ``baselines`` /
    ``evolution`` (``task=evolve``). ``arms`` are the search arms' :class:`ArmSummary` objects;
    ``table`` is the markdown the CLI prints; ``settings`` the recorded settings of each job
    (:mod:`nasearch.runfolder`), by job folder."""

    folder: Path
    task: str
    table: str
    frames: dict[str, Any]
    arms: list[ArmSummary]
    settings: dict[str, dict[str, Any]]

    @property
    def runs(self) -> Any:
        """The per-run DataFrame of a search job or sweep (``frames['runs']``)."""
        if "runs" not in self.frames:
            raise KeyError(f"{str(self.folder)!r} holds no search runs (task {self.task}); frames: {', '.join(self.frames)}")
        return self.frames["runs"]

    @property
    def summary(self) -> Any:
        """One row per arm (search) or the task's main table (``mpi`` for task=mpi)."""
        for name in ("summary", "mpi", "hall_of_fame", "scores"):
            if name in self.frames:
                return self.frames[name]
        raise KeyError(f"{str(self.folder)!r} holds no summary table; frames: {', '.join(self.frames)}")

    def __str__(self) -> str:
        return self.table


def _frame(path: Path) -> Any:
    import pandas as pd

    return pd.read_csv(path, keep_default_na=True)


def load(folder: str | os.PathLike[str]) -> RunResult:
    """Read a finished (or partly finished) job folder or sweep folder back as data.

    Works on folders of every task and on folders written before settings records existed; raises
    FileNotFoundError naming the folder when it holds no nasearch results."""
    import pandas as pd

    from nasearch.runfolder import FINGERPRINT_FILE, read_fingerprint

    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"no folder {str(root)!r} to load nasearch results from")
    settings = {str(p.parent.relative_to(root)): read_fingerprint(p.parent) or {}
                for p in sorted(root.rglob(FINGERPRINT_FILE))}
    frames: dict[str, Any] = {}
    arms: list[ArmSummary] = []
    jobs = find_job_dirs(root)
    task = next((s.get("task") for s in settings.values() if s.get("task")), None)
    if jobs:
        task = task or "search"
        parts, curve_parts, rows = [], [], []
        datasets: dict[str, None] = {}
        for job in jobs:
            jr = read_run_rows(job / RUNS_FILE)
            header = read_header(job / RUNS_FILE)
            datasets.update(dict.fromkeys(header_datasets(header)))
            rows.extend(jr)
            rel = str(job.relative_to(root))
            parts.append(pd.DataFrame(jr, columns=list(header)).assign(job=rel))
            if (job / CURVES_FILE).exists():
                curve_parts.append(pd.DataFrame(read_rows(job / CURVES_FILE, CURVE_FIELDS)).assign(job=rel))
        runs = pd.concat(parts, ignore_index=True)
        for c in runs.columns:
            if c not in ("job", "incumbent", "benchmark", "dataset", "strategy", "proxy", "version"):
                runs[c] = _numeric(runs[c])
        frames["runs"] = runs
        if curve_parts:
            frames["curves"] = pd.concat(curve_parts, ignore_index=True).apply(_numeric)
        arms = summarize(rows)
        frames["summary"] = pd.DataFrame(summary_rows(arms), columns=list(summary_fields(arms, list(datasets))))
        table = markdown_table(arms)
    else:
        named = {"mpi.csv": "mpi", "scores.csv": "scores", "hall_of_fame.csv": "hall_of_fame",
                 "baselines.csv": "baselines", "evolution.csv": "evolution"}
        for file, name in named.items():
            if (root / file).is_file():
                frames[name] = _frame(root / file)
        for p in sorted(root.glob("scores_*.csv")):  # task=score: each table by its name, the first also as 'scores'
            frames[p.stem] = _frame(p)
            frames.setdefault("scores", frames[p.stem])
        if not frames and not settings:
            raise FileNotFoundError(f"{str(root)!r} holds no nasearch results (no runs.csv, mpi.csv, scores_*.csv, "
                                    "hall_of_fame.csv or settings record)")
        if task is None:
            task = "mpi" if "mpi" in frames else "evolve" if "hall_of_fame" in frames else "score"
        table = ""
        for md in ("mpi.md", "summary.md"):
            if (root / md).is_file():
                table = (root / md).read_text(encoding="utf-8")
                break
    return RunResult(folder=root, task=task, table=table, frames=frames, arms=arms, settings=settings)


def _numeric(col: Any) -> Any:
    import pandas as pd

    try:
        return pd.to_numeric(col)
    except (ValueError, TypeError):
        return col
