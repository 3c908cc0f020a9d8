"""LIBRA: choosing the three members of a proxy ensemble for one benchmark.

Casarin, Escalera & Lanz, "L-SWAG: Layer-Sample Wise Activation with Gradients information for
Zero-Shot NAS on Vision Transformers", CVPR 2025 (arXiv 2505.07300), Sec. 3.2 and Algorithm 1 ("Low
Information gain and Bias Re-Alignment"). The information-theoretic quantities are those of
NAS-Bench-Suite-Zero (Krishnakumar et al., NeurIPS 2022 Datasets and Benchmarks, Sec. 4.2 and
Appendix C.2), which the L-SWAG paper cites for them ("following the entropy and information gain
definition provided [22]").

:func:`libra_select` is a pure function: proxy scores of N cells, the cells' accuracy and parameter
counts in, the three chosen proxy names and the figures behind each choice out
(:class:`LibraChoice`). It computes nothing about networks; the members' rank keys are combined
afterwards like any ensemble (:func:`nasearch.scoring.ensemble.combine`, log-rank sum by default).

Algorithm 1, step by step (y the accuracy, Z the proxies, m the margin, 0.1 in the paper):

1. rho_z = Spearman rho between proxy z and y over the N cells, for every z in Z (the paper's
   "correlation rho over benchmark B"; its Table 1 and Fig. 3 report Spearman rho).
   z1 = argmax_z rho_z, rho_best = rho_z1 (lines 4, 10).
2. The window (lines 7, 13): W = { z_h in Z \\ {z1} : rho_best - m < rho_h <= rho_best }.
3. For every z_h in W, the information gain, the paper's Eq. (9) (NAS-Bench-Suite-Zero's Eq. 1):

       IG(z_h) = H(y | z1) - H(y | z1, z_h)
       H(y | z_1..z_k) = H(y, z_1..z_k) - H(z_1..z_k)          (NAS-Bench-Suite-Zero, App. C.2, Eq. 3)
       H(X) = - sum_x p(x) log2 p(x)                            (plug-in: p the observed frequencies)

   over the discretised variables: each of y, z1, z_h is cut into k equal-width bins over its own
   range [min, max] of the N cells (NAS-Bench-Suite-Zero's "24-bin histograms" for 1,000
   architectures; its Appendix C.2 also tries bin dividers at percentiles of the data as a robustness
   check, ``binning="quantile"`` here), with

       k = round(1 + 3.322 * ln N)                               (NAS-Bench-Suite-Zero, App. C.2, Eq. 4)

   (k = 24 at N = 1,000). z2 = argmin_{z_h in W} IG(z_h) (line 11): the proxy that adds the least
   information about y once z1 is known. The paper minimises on purpose ("analogous to overfitting,
   as we are selecting metrics that capture the same aspects of the search space"; its Table 4a finds
   min-IG beats max-IG): LIBRA's second member is the most *redundant* good proxy, not the most
   complementary one.
4. The parameter-count bias (line 14): b_z = Pearson correlation between the ranks the proxy induces
   on the cells and the ranks the parameter count induces (= Spearman rho of z with #params); b_val
   the same for y. z3 = argmin over { z_h in W : z_h != z2 } of | b_val - b_z_h | (lines 12-16):
   "bias matching", the proxy whose preference for large networks is closest to the accuracy's.

LIBRA outputs (z1, z2, z3).

Defaults: ``margin=0.1`` (the paper's, "empirically selected"), ``bins=None`` (k from N as above),
``binning="width"``, entropies in bits (NAS-Bench-Suite-Zero's conditional entropies reach 3.57 for
24 bins, above ln 24 = 3.18, so its logs are base 2; the base changes no choice).

Deviations (every place the papers are silent or we depart):

* Bin count. NAS-Bench-Suite-Zero prints Eq. 4 as "Sturge's rule" with ``log``; Sturges' rule proper
  (1 + log2 N = 1 + 3.322 log10 N) gives 11 bins at N = 1,000, but the paper reports 24-bin histograms
  for its 1,000 architectures, which is what the natural log gives (1 + 3.322 ln 1000 = 23.95): we
  follow the figure they report, i.e. the natural log. ``bins=`` overrides. The same k serves y and
  every proxy, counted over all N cells.
* Cells a proxy cannot rate (NaN, or ``-inf`` as :func:`~nasearch.scoring.policy.rank_key` writes
  them): the papers' proxies rate every cell. Here they rank last, tied among themselves (average
  rank), for rho and for the bias, and in the histograms they form one state of their own (k + 1
  states), so an unrated cell never shares a bin with a rated one; the bin range is that of the rated
  finite values (``+inf`` counts as rated, ranks first, top bin).
* Duplicates (``distinct=True``): Z in Algorithm 1 is a set; a proxy whose scores rank the N cells
  exactly as an already chosen member does (same rank vector, ties included) is taken to be that
  member under another name and is not a candidate for z2 or z3. Without this rule a renamed copy of
  z1 always wins step 3 (its IG is exactly 0, the least possible) and the three-member ensemble holds
  two members. ``distinct=False`` is the literal algorithm. A near-copy (not the same ranking) is a
  candidate like any other, and min-IG favours it (see step 3).
* Ties: in each argmax/argmin the higher rho, then the name in sorted order, wins (the paper does not
  say; this makes the choice independent of the mapping's order).
* An empty window: Algorithm 1 takes argmin of an empty list when no other proxy lies within the
  margin (for z2), or none but z2 (for z3). Here the window is then lowered to admit the best
  remaining proxy (the highest rho among the candidates left, ties included) and the choice says so
  (``LibraChoice.widened``); ``strict=True`` raises :class:`ValueError` instead.
* The window for z3 is Algorithm 1's (relative to rho_best, z1 and z2 excluded); Fig. 1's caption
  ("select z3 with the closest bias to y") omits it; we follow the algorithm.
* rho and the biases are computed here from the N cells given (the paper takes "pre-computed" values
  of each benchmark; its LIBRA results are on 1,000 networks); rho is against whatever ``accuracy``
  is passed (the paper: validation accuracy).
* Ranks average ties (``scipy.stats.rankdata``); the parameter count ties often (NB201 has few
  distinct sizes).

Refusals (:class:`ValueError`, naming the value): fewer than three proxies, a score array not 1-d or
of another length than ``accuracy``, a proxy that rates no cell or ranks every cell the same (rho
undefined), non-finite or constant accuracy or parameter counts, fewer than three cells, a margin not
positive and finite, ``bins`` not a positive integer, an unknown binning, fewer than three distinct
proxies left for the three places.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from scipy.stats import rankdata

DEFAULT_MARGIN = 0.1
"""The paper's window below rho_best ("0.1 in our case, empirically selected")."""
BINNINGS = ("width", "quantile")
"""``width``: k equal-width bins over each variable's range (NAS-Bench-Suite-Zero's histograms);
``quantile``: k bins holding equal shares of the cells (its percentile robustness check)."""


@dataclass(frozen=True)
class LibraChoice:
    """What :func:`libra_select` chose and why.

    ``members``: (z1, z2, z3). ``rho``: every proxy's Spearman rho with the accuracy. ``information_gain``:
    IG(z_h) = H(y | z1) - H(y | z1, z_h) in bits for each candidate of z2. ``bias``: b_z (Spearman rho
    with the parameter count) for each candidate of z3; ``bias_accuracy``: b_val, the accuracy's.
    ``bins``: k; ``widened``: whether the window had to be lowered for (z2, z3); ``duplicates``: the
    proxies left out as renamed copies of a chosen member (``distinct=True``)."""

    members: tuple[str, str, str]
    rho: Mapping[str, float]
    information_gain: Mapping[str, float]
    bias: Mapping[str, float]
    bias_accuracy: float
    margin: float
    bins: int
    binning: str
    widened: tuple[bool, bool]
    duplicates: tuple[str, ...]

    def bias_distance(self, name: str) -> float:
        """| b_val - b_z | of a candidate of z3, the quantity step 4 minimises."""
        return abs(self.bias_accuracy - self.bias[name])


def sturges_bins(n: int) -> int:
    """k = round(1 + 3.322 ln n), NAS-Bench-Suite-Zero's bin count (24 for n = 1,000)."""
    if n < 1:
        raise ValueError(f"the bin count needs at least one cell, got n={n}")
    return max(1, int(math.floor(1.0 + 3.322 * math.log(n) + 0.5)))


def _unrated(v: np.ndarray) -> np.ndarray:
    return np.isnan(v) | (v == -np.inf)


def _ranks(v: np.ndarray) -> np.ndarray:
    """Average ranks, 1 = worst; unrated cells last (tied)."""
    return rankdata(np.where(_unrated(v), -np.inf, v), method="average")


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    den = math.sqrt(float(a @ a) * float(b @ b))
    return float(a @ b) / den if den > 0 else math.nan


def discretize(values: np.ndarray, bins: int, binning: str = "width") -> np.ndarray:
    """The bin (0..bins-1) of each cell; ``bins`` for a cell the proxy cannot rate (a state of its own).

    ``width``: equal-width bins over [min, max] of the rated finite values, right-open except the last
    (numpy's histogram convention); ``quantile``: bin floor((r - 1) * bins / m) of a rated cell's average
    rank r among the m rated cells, so tied values share a bin."""
    v = np.asarray(values, dtype=np.float64)
    codes = np.full(v.shape, bins, dtype=np.int64)
    rated = ~_unrated(v)
    if not rated.any():
        return codes
    x = v[rated]
    if binning == "width":
        finite = x[np.isfinite(x)]
        if finite.size == 0 or finite.min() == finite.max():
            lo = finite.min() if finite.size else 0.0
            idx = np.where(x > lo, bins - 1, 0)
        else:
            lo, hi = float(finite.min()), float(finite.max())
            with np.errstate(over="ignore", invalid="ignore"):  # +inf lands past the top edge
                # halved so that hi - lo cannot overflow (halving is exact in binary)
                t = (x * 0.5 - lo * 0.5) / (hi * 0.5 - lo * 0.5)
                idx = np.floor(np.where(np.isfinite(t), t, 1.0) * bins)
            idx = np.clip(idx, 0, bins - 1).astype(np.int64)
    elif binning == "quantile":
        r = rankdata(x, method="average")
        idx = np.clip(np.floor((r - 1.0) * bins / x.size), 0, bins - 1).astype(np.int64)
    else:
        raise ValueError(f"binning={binning!r}; accepted: {', '.join(BINNINGS)}")
    codes[rated] = idx
    return codes


def entropy(*codes: np.ndarray) -> float:
    """Plug-in joint entropy in bits of discrete variables observed together on the same cells."""
    if not codes:
        return 0.0
    joint = np.column_stack([np.asarray(c) for c in codes])
    _, counts = np.unique(joint, axis=0, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def conditional_entropy(y: np.ndarray, *given: np.ndarray) -> float:
    """H(y | given...) = H(y, given...) - H(given...) of discrete codes, in bits."""
    return entropy(y, *given) - entropy(*given)


def information_gain(accuracy: np.ndarray, first: np.ndarray, second: np.ndarray, *, bins: int | None = None,
                     binning: str = "width") -> float:
    """IG(second) = H(y | first) - H(y | first, second) in bits, the paper's Eq. (9), each of the three
    raw arrays discretised into ``bins`` bins (default: :func:`sturges_bins` of their length)."""
    y = np.asarray(accuracy, dtype=np.float64)
    k = sturges_bins(y.size) if bins is None else bins
    cy, c1, c2 = (discretize(np.asarray(a, dtype=np.float64), k, binning) for a in (y, first, second))
    return conditional_entropy(cy, c1) - conditional_entropy(cy, c1, c2)


def _check_inputs(scores: Mapping[str, np.ndarray], accuracy: np.ndarray, params: np.ndarray, margin: float,
                  bins: int | None, binning: str) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    if binning not in BINNINGS:
        raise ValueError(f"binning={binning!r}; accepted: {', '.join(BINNINGS)}")
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not math.isfinite(margin) or margin <= 0:
        raise ValueError(f"margin={margin!r}: must be a positive finite number (the paper's: 0.1)")
    if bins is not None and (isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1):
        raise ValueError(f"bins={bins!r}: must be a positive integer or None (Sturges' count)")
    y = np.asarray(accuracy, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(f"accuracy must be 1-d (one value per cell), got shape {y.shape}")
    n = y.size
    if n < 3:
        raise ValueError(f"LIBRA needs at least 3 cells, got {n}")
    if not np.isfinite(y).all():
        raise ValueError(f"accuracy has {int((~np.isfinite(y)).sum())} non-finite value(s) of {n}")
    if y.min() == y.max():
        raise ValueError(f"accuracy is constant ({y[0]!r}) over the {n} cells: no correlation is defined")
    p = np.asarray(params, dtype=np.float64)
    if p.shape != y.shape:
        raise ValueError(f"params has shape {p.shape}, accuracy {y.shape}: one value per cell each")
    if not np.isfinite(p).all():
        raise ValueError(f"params has {int((~np.isfinite(p)).sum())} non-finite value(s) of {n}")
    if p.min() == p.max():
        raise ValueError(f"params is constant ({p[0]!r}) over the {n} cells: the bias is undefined")
    if len(scores) < 3:
        raise ValueError(f"LIBRA picks three proxies and needs at least 3, got {len(scores)}: {sorted(scores)}")
    cols: dict[str, np.ndarray] = {}
    for name, s in scores.items():
        if not isinstance(name, str):
            raise ValueError(f"proxy names must be strings, got {name!r}")
        v = np.asarray(s, dtype=np.float64)
        if v.shape != y.shape:
            raise ValueError(f"proxy {name!r} has {v.size if v.ndim == 1 else v.shape} scores, accuracy has {n}")
        if _unrated(v).all():
            raise ValueError(f"proxy {name!r} rates none of the {n} cells (all NaN / -inf)")
        cols[name] = v
    return y, p, cols


def libra_select(scores: Mapping[str, np.ndarray], accuracy: np.ndarray, params: np.ndarray, *,
                 margin: float = DEFAULT_MARGIN, bins: int | None = None, binning: str = "width",
                 distinct: bool = True, strict: bool = False) -> LibraChoice:
    """LIBRA's three members (Algorithm 1; the steps and every choice are in the module docstring).

    ``scores``: proxy name -> sign-adjusted score of each of the N cells (higher = better; NaN or
    ``-inf``: the proxy cannot rate the cell, it ranks last). ``accuracy``, ``params``: the N cells'
    accuracy and parameter count. ``margin``: the window below the best rho; ``bins``: histogram bins
    (None: round(1 + 3.322 ln N)); ``binning``: ``width`` or ``quantile``; ``distinct``: skip renamed
    copies of a chosen member; ``strict``: raise rather than widen an empty window."""
    y, p, cols = _check_inputs(scores, accuracy, params, margin, bins, binning)
    n = y.size
    k = sturges_bins(n) if bins is None else int(bins)
    ry, rp = _ranks(y), _ranks(p)
    ranks = {name: _ranks(v) for name, v in cols.items()}
    rho: dict[str, float] = {}
    for name, r in ranks.items():
        rho[name] = _pearson(r, ry)
        if math.isnan(rho[name]):
            raise ValueError(f"proxy {name!r} ranks all {n} cells the same: its correlation is undefined")

    def best_first(names):
        return sorted(names, key=lambda z: (-rho[z], z))

    z1 = best_first(cols)[0]
    rho_best = rho[z1]
    duplicates: list[str] = []

    def candidates(chosen: list[str], place: str) -> tuple[list[str], bool]:
        left = []
        for z in best_first(cols):
            if z in chosen:
                continue
            if distinct and any(np.array_equal(ranks[z], ranks[c]) for c in chosen):
                if z not in duplicates:
                    duplicates.append(z)
                continue
            left.append(z)
        if not left:
            raise ValueError(f"LIBRA needs three distinct proxies; none is left for {place} after {chosen} "
                             f"(renamed copies left out: {duplicates})")
        window = [z for z in left if rho_best - margin < rho[z] <= rho_best]
        if window:
            return window, False
        if strict:
            raise ValueError(f"no proxy but {chosen} has rho within {margin} of rho_best={rho_best:.4f} "
                             f"({z1}) for {place}; best left: {left[0]} rho={rho[left[0]]:.4f}")
        top = rho[left[0]]
        return [z for z in left if rho[z] == top], True

    cy, c1 = discretize(y, k, binning), discretize(cols[z1], k, binning)
    h_y_z1 = conditional_entropy(cy, c1)
    cand2, widened2 = candidates([z1], "z2")
    ig = {z: h_y_z1 - conditional_entropy(cy, c1, discretize(cols[z], k, binning)) for z in cand2}
    z2 = min(cand2, key=lambda z: (ig[z], -rho[z], z))

    cand3, widened3 = candidates([z1, z2], "z3")
    b_val = _pearson(ry, rp)
    bias = {z: _pearson(ranks[z], rp) for z in cand3}
    z3 = min(cand3, key=lambda z: (abs(b_val - bias[z]), -rho[z], z))

    return LibraChoice(
        members=(z1, z2, z3),
        rho=MappingProxyType(rho),
        information_gain=MappingProxyType(ig),
        bias=MappingProxyType(bias),
        bias_accuracy=b_val,
        margin=float(margin),
        bins=k,
        binning=binning,
        widened=(widened2, widened3),
        duplicates=tuple(duplicates),
    )


__all__ = [
    "BINNINGS",
    "DEFAULT_MARGIN",
    "LibraChoice",
    "conditional_entropy",
    "discretize",
    "entropy",
    "information_gain",
    "libra_select",
    "sturges_bins",
]
