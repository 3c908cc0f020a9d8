"""REINFORCE (Williams, Machine Learning 1992), as NAS-Bench-201's RL baseline (Dong & Yang, ICLR
2020; xautodl ``exps/NATS-algos/reinforce.py``).

Policy: one independent categorical distribution per position of the space's fixed-length encoding
(``space.positions``; NB201: 6 edges x 5 ops), ``pi_theta(a) = prod_p softmax(theta_p)[a_p]`` with
logits ``theta`` of shape (positions, max choices); a position with fewer choices than the widest
has its missing choices at ``-inf`` (probability 0, zero gradient). A proposal is a sample
``a ~ pi_theta`` turned into an arch by ``space.from_choices``. On a space where some vectors are
not archs (TransNAS-Bench-101 macro: absent modules only at the end, skeletons the benchmark holds),
such a sample is rejected and redrawn from the same policy, so proposals follow the policy
conditioned on validity (rejection sampling; the REINFORCE gradient is taken of the unconditioned
log-probability, the usual approximation). On NB201 every vector is a cell: nothing is redrawn.

Update, once per told result (reward ``R`` = the told validation accuracy in percent, [0, 100], as
NB201's ``simulate_train_eval`` returns it):

    b      <- EMA of the rewards so far, bias-corrected (momentum 0.9; updated with R *before* use)
    loss    = -(R - b) * log pi_theta(a)
    d loss / d theta_e = -(R - b) * (onehot(a_e) - softmax(theta_e))      (analytic, per edge)
    theta  <- Adam(theta, d loss / d theta; lr, betas=(0.9, 0.999), eps=1e-8)

The EMA is xautodl's ``ExponentialMovingAverage``: ``num <- m*num + (1-m)*R``, ``den <- m*den + (1-m)``,
``b = num/den`` (so the first advantage is exactly 0). Adam is torch's, written out in numpy.

Defaults and their source: ``lr=0.01`` and ``ema_momentum=0.9`` are NATS-Bench's released settings
(``--learning_rate 0.01 --EMA_momentum 0.9``); NAS-Bench-201's first release script used
``lr=0.001``, which barely moves the policy within a 12,000 s budget (~110 updates), so it is
almost random search. Reward scale: raw percent, as in the reference (Adam is invariant to a
constant reward scale anyway, up to its ``eps``).

What ``n > 1`` means: ``ask(n)`` returns ``n`` independent samples of the current policy; a
pre-filter picks among them. ``tell`` takes the gradient of the *told* cell's log-probability under
the current policy, whichever sample it was: screened (or late, or out-of-order) tells make the
update an off-policy approximation, which is the point of proxy-assisted search.

Asynchronous workers: nothing is stored per ask. ``tell(arch, ...)`` recomputes the one-hot of
``arch``'s own choices (``space.to_choices(arch)``), so the update always uses the log-probability of
the cell being told, never that of the latest ask; tells may come in any order, the same cell may be
asked twice while pending (each tell is one update), and a cell asked several asks ago is told like
any other. Its log-probability is taken under the policy *at tell time* (the policy may have moved
since the cell was sampled, by the updates of results that finished first): the usual stale-sample
approximation of asynchronous policy gradient. The baseline is updated in tell order. With one worker each tell follows its ask and
nothing changes.

Deviations from the reference: logits start at zeros (uniform policy) instead of ``1e-3 * randn``, so
construction consumes no randomness; sampling uses one uniform per edge against the cumulative
probabilities instead of ``torch.distributions.Categorical``; numpy float64 instead of torch float32.
"""

from __future__ import annotations

import numpy as np

from nasearch.benchmarks.base import Result
from nasearch.space.base import SearchSpace
from nasearch.strategies.base import Arch, Strategy, StrategyError, register_strategy

_MAX_REDRAWS = 1000


@register_strategy
class Reinforce(Strategy):
    name = "reinforce"
    paper = (
        "Williams, Simple statistical gradient-following algorithms for connectionist reinforcement "
        "learning, Machine Learning 1992"
    )

    def __init__(
        self,
        rng: np.random.Generator,
        *,
        space: SearchSpace | str,
        fidelities: tuple[int, ...] = (),
        lr: float = 0.01,
        ema_momentum: float = 0.9,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ):
        super().__init__(rng, space=space, fidelities=fidelities)
        if not (isinstance(lr, (int, float)) and np.isfinite(lr) and lr > 0):
            raise StrategyError(f"reinforce lr={lr!r} is invalid: expected a positive number")
        if not (isinstance(ema_momentum, (int, float)) and 0 <= ema_momentum < 1):
            raise StrategyError(
                f"reinforce ema_momentum={ema_momentum!r} is invalid: expected a number in [0, 1)"
            )
        b1, b2 = betas
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise StrategyError(f"reinforce betas={betas!r} are invalid: expected two numbers in [0, 1)")
        if not eps > 0:
            raise StrategyError(f"reinforce eps={eps!r} is invalid: expected a positive number")
        self.lr = float(lr)
        self.ema_momentum = float(ema_momentum)
        self.betas = (float(b1), float(b2))
        self.eps = float(eps)
        positions = self.space.positions
        self._rows = np.arange(len(positions))
        self.logits = np.zeros((len(positions), max(positions)))
        for p, k in enumerate(positions):
            self.logits[p, k:] = -np.inf  # choices a position does not have
        self._m = np.zeros_like(self.logits)  # Adam first moment
        self._v = np.zeros_like(self.logits)  # Adam second moment
        self._t = 0
        self._ema_num = 0.0
        self._ema_den = 0.0
        self._cdf: np.ndarray | None = None  # cached cumulative probabilities, reset on update

    # ------------------------------------------------------------------ policy
    def probs(self) -> np.ndarray:
        """Current policy, shape (positions, max choices): ``softmax(logits)`` per position."""
        z = self.logits - self.logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def log_prob(self, arch: Arch) -> float:
        z = self.logits - self.logits.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(logp[self._rows, self.space.to_choices(arch)].sum())

    @property
    def baseline(self) -> float | None:
        """The bias-corrected EMA of the rewards (None before the first tell)."""
        return self._ema_num / self._ema_den if self._ema_den > 0 else None

    # ------------------------------------------------------------------ ask / tell
    def ask(self, n: int = 1) -> list[Arch]:
        if self._cdf is None:
            cdf = np.cumsum(self.probs(), axis=1)
            for p, k in enumerate(self.space.positions):
                cdf[p, k - 1 :] = 1.0  # never past a position's last choice
            self._cdf = cdf
        from_choices = self.space.from_choices
        out = []
        for row in self._draw(n):
            arch = from_choices(row)
            redraws = 0
            while arch is None:  # not an arch of the space: redraw from the same policy
                redraws += 1
                if redraws > _MAX_REDRAWS:
                    raise StrategyError(
                        f"reinforce drew {_MAX_REDRAWS} choice vectors in a row that are not archs of "
                        f"space {self.space.name!r}: the policy has collapsed onto invalid vectors"
                    )
                arch = from_choices(self._draw(1)[0])
            out.append(arch)
        return out

    def _draw(self, n: int) -> list[tuple[int, ...]]:
        u = self.rng.random((n, len(self._rows)))
        # choice = number of cumulative probabilities <= u, per position (inverse-CDF sampling)
        ops = (u[:, :, None] >= self._cdf[None, :, :]).sum(axis=2)
        return [tuple(row) for row in ops.tolist()]

    def tell(self, arch: Arch, result: Result, fidelity: int) -> None:
        reward = float(result.valid_acc)
        if not np.isfinite(reward):
            return  # no gradient from a failed evaluation
        m = self.ema_momentum
        self._ema_num = m * self._ema_num + (1 - m) * reward
        self._ema_den = m * self._ema_den + (1 - m)
        advantage = reward - self._ema_num / self._ema_den
        grad = self.probs()
        grad[self._rows, self.space.to_choices(arch)] -= 1.0
        grad *= advantage  # = -(R - b) * (onehot - softmax)
        b1, b2 = self.betas
        self._t += 1
        self._m = b1 * self._m + (1 - b1) * grad
        self._v = b2 * self._v + (1 - b2) * grad * grad
        m_hat = self._m / (1 - b1**self._t)
        v_hat = self._v / (1 - b2**self._t)
        self.logits -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
        self._cdf = None
