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

Asynchronous workers: the runner may ask again before the cells passed on are told, and tells them
in the order they finish. Nothing here waits for a tell: every ask screens its own ``N`` candidates
(the overhead and :attr:`scored` count per ask), and right after screening the pre-filter names the
``N - k`` cells it screened out to the inner strategy's ``forget(archs)`` when it has one (a wrapper
may give proposals up that way; see :class:`PendingProposals`), so a strategy that keeps track of its
proposals in flight (Optuna's running trials, the cells the predictor and RoBoT must not propose
twice, BOHB's rung slots) drops those at once and keeps the ``k`` passed on until they are told,
however many asks come in between. Without a screening step (vanilla, or a forced choice) nothing is
given up. :attr:`screened_out` counts the cells screened out.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

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


class PendingProposals:
    """Proposals asked for and not yet told, grouped by the ask that returned them: the bookkeeping a
    strategy needs under asynchronous workers, where the runner asks again before earlier proposals
    are told and tells them in the order their training finishes, not the order they were asked.

    A proposal stops being pending when

    * it is told (:meth:`tell`: the *oldest* pending proposal of that key, so the same arch asked
      twice while pending is told twice, each time retiring one ask);
    * the caller gives it up by name (:meth:`forget`, behind a strategy's ``forget(archs)``): the
      pre-filter names the candidates it screened out, right after the ask that returned them, so
      only the latest ask's proposals are matched;
    * it is an alternative the caller evidently did not take: an ask that returned several proposals
      (``ask(n)``, ``n > 1``), one of which has been told, and of which the caller named none with
      ``forget`` (a caller evaluating one alternative per ask, as the contract's ``n`` alternatives
      of the *next* proposal mean); its other proposals are given up at the next ask
      (:meth:`settle`).

    A proposal of ``ask(1)`` stays pending until told, however many asks come in between. At most
    ``cap`` asks are remembered; older ones are given up as a whole (a caller that never tells).
    Each proposal carries a payload (Optuna: its trial number; BOHB: the bracket it fills), handed
    back when it stops being pending. Keys are archs, or anything hashable (BOHB: arch and fidelity).
    """

    def __init__(self, cap: int = 4096):
        self.cap = int(cap)
        self._asks: OrderedDict[int, list[Any]] = OrderedDict()  # ask id -> [entries, size, told, named]
        self._where: dict[Any, deque[int]] = {}  # key -> ids of the asks it is pending in, oldest first
        self._next = 0
        self._dropped: list[Any] = []  # payloads of asks given up by the cap, handed out by settle()

    def __contains__(self, key: Any) -> bool:
        return key in self._where

    def __len__(self) -> int:
        """The number of distinct keys pending."""
        return len(self._where)

    def keys(self) -> Iterable[Any]:
        """The distinct keys pending (a live view)."""
        return self._where.keys()

    def add(self, entries: Sequence[tuple[Any, Any]]) -> None:
        """Record one ask's proposals, ``(key, payload)`` each, in the order returned."""
        i = self._next
        self._next += 1
        if not entries:
            return
        self._asks[i] = [list(entries), len(entries), False, False]
        for key, _ in entries:
            self._where.setdefault(key, deque()).append(i)
        while len(self._asks) > self.cap:
            old = next(iter(self._asks))
            self._dropped.extend(self._drop(old))

    def tell(self, key: Any) -> tuple[bool, Any]:
        """Retire the oldest pending proposal of ``key``: ``(True, its payload)``, or ``(False, None)``
        when none is pending (told before, given up, or never asked)."""
        ids = self._where.get(key)
        if not ids:
            return False, None
        i = ids[0]
        ask = self._asks[i]
        payload = self._take(i, key, first=True)
        ask[2] = True
        return True, payload

    def forget(self, keys: Iterable[Any]) -> list[Any]:
        """Give up proposals of the *latest* ask by key (one each; the last returned of a key that
        ask returned twice): their payloads. Marks that ask as screened by name, so :meth:`settle`
        leaves its other proposals pending."""
        if not self._asks:
            return []
        i = next(reversed(self._asks))
        if i != self._next - 1:
            return []  # the latest ask was retired in full already
        ask = self._asks[i]
        ask[3] = True
        out = []
        for key in keys:
            if any(k == key for k, _ in ask[0]):
                out.append(self._take(i, key, first=False))
        return out

    def settle(self) -> list[Any]:
        """Give up the untold alternatives of asks of several proposals one of which was told (and none
        named by :meth:`forget`), and asks beyond the cap: their payloads, in ask order."""
        out, self._dropped = self._dropped, []
        for i in [i for i, (_, size, told, named) in self._asks.items() if told and not named and size > 1]:
            out.extend(self._drop(i))
        return out

    # ------------------------------------------------------------------ helpers
    def _take(self, i: int, key: Any, *, first: bool) -> Any:
        entries = self._asks[i][0]
        js = [j for j, (k, _) in enumerate(entries) if k == key]
        _, payload = entries.pop(js[0] if first else js[-1])
        ids = self._where[key]
        ids.remove(i)  # one occurrence (an ask holding the key twice is listed twice)
        if not ids:
            del self._where[key]
        if not entries:
            del self._asks[i]
        return payload

    def _drop(self, i: int) -> list[Any]:
        entries = self._asks.pop(i)[0]
        for key, _ in entries:
            ids = self._where[key]
            ids.remove(i)
            if not ids:
                del self._where[key]
        return [payload for _, payload in entries]


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
        self.screened_out = 0
        """Cells screened out so far (asked of the inner strategy, never passed on: given up)."""

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
        order = np.argsort(-scores, kind="stable").tolist()  # NaN sorts last; ties keep proposal order
        screened = [proposals[i] for i in order[self.k :]]
        self.screened_out += len(screened)
        self._forget_inner(screened)
        return [proposals[i] for i in order[: self.k]]

    def _forget_inner(self, archs: list[Arch]) -> None:
        """Tell the inner strategy that ``archs``, proposals of its latest ask, will never be told
        (its ``forget(archs)``, when it has one: strategies without pending state need none)."""
        forget = getattr(self.inner, "forget", None)
        if callable(forget):
            forget(archs)

    def forget(self, archs: list[Arch]) -> None:
        """Proposals of the latest ask a wrapper of this pre-filter gives up: passed on to the inner
        strategy (they were its proposals too)."""
        self._forget_inner(list(archs))

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


class ParetoScorer:
    """The pre-filter's scorer in a multi-objective search: each candidate's proxy score stands in for
    the accuracy objective(s) and sits beside the objectives known before training (parameters,
    FLOPs, latency: ``costs``, by ``arch.index``, oriented so higher is better), and the candidates are
    ranked by non-dominated sorting of those columns (Deb et al., 2002): the score is minus the front
    number, so the pre-filter passes on a candidate of the first front (ties: the strategy's own
    proposal order). Screening by the proxy alone would trade every other objective for accuracy
    (synflow prefers large, slow networks). A cell the proxy cannot rate (non-finite score) is never
    preferred; a cost the table lacks (NaN) counts as the worst."""

    def __init__(self, scorer: Scorer, costs: np.ndarray):
        self.scorer = scorer
        self.costs = np.asarray(costs, dtype=np.float64)
        if self.costs.ndim != 2:
            raise StrategyError(f"ParetoScorer costs of shape {self.costs.shape}: expected (num_archs, m)")

    def __call__(self, archs: list[Arch]) -> np.ndarray:
        from nasearch.pareto import nondominated_sort

        s = np.asarray(self.scorer(archs), dtype=np.float64).reshape(-1)
        out = np.full(len(archs), -np.inf)
        ok = np.isfinite(s)
        if ok.any():
            c = np.nan_to_num(self.costs[[a.index for a in archs]], nan=-np.inf)
            pts = np.column_stack([s, c])[ok]
            out[ok] = -nondominated_sort(pts).astype(np.float64)
        return out

