"""The proxy pre-filter: a Strategy wrapping any other, asking it for N alternatives and passing on
the best k by a zero-cost score.

    proposals = inner.ask(N)
    order     = stable argsort of -scorer(proposals)     (higher score = better; ties: proposal order)
    return      [proposals[i] for i in order[:k]]        (best first)

With ``N = 1`` or no scorer it is *exactly* the vanilla strategy: it calls ``inner.ask(1)`` and
returns what it returns, so the random stream, the proposals and the whole trajectory are identical
to running ``inner`` alone. That gives one code path for both arms of every comparison. When the
inner strategy returns fewer than ``N`` cells it has no free choice at this step (BOHB promoting a
cell, say): they are passed on unscreened and unscored.

Scores: ``scorer(archs) -> array`` of one float per cell. ``+inf`` / ``-inf`` are allowed as
sentinels (best / worst); NaN ranks below ``-inf`` (a failed score never wins unless all failed).

Overhead: each scorer call is timed with ``time.perf_counter``; ``take_overhead_seconds`` returns the
time spent since its last call (plus the inner strategy's own), and the runner may charge it to the
simulated clock. When the scores are looked up in a store instead of computed, pass
``cost_fn(archs) -> seconds``: the overhead is then the recorded compute time of those scores, not
the lookup time.

``ask(n)``'s own ``n`` is ignored: the runner asks for one step at a time and the pre-filter's
``N`` and ``k`` decide what a step is (``k`` cells, evaluated in score order). ``tell`` and
``fidelity_for`` are delegated, so cells screened out are simply never told (the contract's
"forgotten").
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from nasearch.benchmarks.base import Result
from nasearch.strategies.base import Arch, Strategy, StrategyError

Scorer = Callable[[list[Arch]], "np.ndarray | Sequence[float]"]
CostFn = Callable[[list[Arch]], float]


def is_vanilla(proxy: str | None, n: object) -> bool:
    """Whether a search arm is vanilla: no proxy (``None`` or ``'none'``) or N = 1 (``n`` an int or
    the string a results row holds), so nothing is screened and the pre-filter is exactly its inner
    strategy. The one definition the runner, the pre-filter, the settings record, the results and
    the citations use."""
    return proxy is None or proxy == "none" or str(n) == "1"


class PreFilter(Strategy):
    name = "prefilter"  # not registered: it wraps a registered strategy
    paper = ""

    def __init__(
        self,
        inner: Strategy,
        scorer: Scorer | None,
        n: int,
        k: int = 1,
        *,
        cost_fn: CostFn | None = None,
    ):
        if not isinstance(inner, Strategy):
            raise StrategyError(f"PreFilter wraps a Strategy; got {type(inner).__name__} {inner!r}")
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise StrategyError(
                f"pre-filter n={n!r} is invalid: expected an integer >= 1 (the number of candidates "
                "asked of the strategy per step; 1 = vanilla)"
            )
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
            raise StrategyError(
                f"pre-filter k={k!r} is invalid with n={n}: expected an integer with 1 <= k <= n "
                "(the number of screened candidates passed on per step)"
            )
        if scorer is not None and not callable(scorer):
            raise StrategyError(
                f"pre-filter scorer {scorer!r} is not callable: expected archs -> scores or None"
            )
        super().__init__(inner.rng, space=inner.space, fidelities=inner.fidelities)
        self.inner = inner
        self.scorer = scorer
        self.n = int(n)
        self.k = int(k)
        self.cost_fn = cost_fn
        self._overhead = 0.0
        self.scored = 0
        """Cells scored so far."""

    @property
    def vanilla(self) -> bool:
        """True when this pre-filter is exactly its inner strategy (no scorer, or N = 1: :func:`is_vanilla`)."""
        return is_vanilla(None if self.scorer is None else "scorer", self.n)

    def ask(self, n: int = 1) -> list[Arch]:
        if self.vanilla:
            return self.inner.ask(1)
        proposals = self.inner.ask(self.n)
        if len(proposals) < self.n:
            return proposals  # no free choice at this step
        t0 = time.perf_counter()
        raw = self.scorer(proposals)  # type: ignore[misc]
        elapsed = time.perf_counter() - t0
        scores = np.asarray(raw, dtype=np.float64).reshape(-1)
        if scores.shape != (len(proposals),):
            raise StrategyError(
                f"pre-filter scorer returned {scores.size} scores for {len(proposals)} cells: "
                "expected one float per cell"
            )
        self._overhead += float(self.cost_fn(proposals)) if self.cost_fn is not None else elapsed
        self.scored += len(proposals)
        order = np.argsort(-scores, kind="stable")  # NaN sorts last; ties keep proposal order
        return [proposals[i] for i in order[: self.k].tolist()]

    def tell(self, arch: Arch, result: Result, fidelity: int) -> None:
        self.inner.tell(arch, result, fidelity)

    def fidelity_for(self, arch: Arch) -> int | None:
        return self.inner.fidelity_for(arch)

    def take_overhead_seconds(self) -> float:
        out = self._overhead + self.inner.take_overhead_seconds()
        self._overhead = 0.0
        return out

    def __repr__(self) -> str:
        return f"PreFilter({type(self.inner).__name__}, n={self.n}, k={self.k}, scorer={self.scorer!r})"
