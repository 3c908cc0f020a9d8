"""REINFORCE (Williams, Machine Learning 1992), as NAS-Bench-201's RL baseline (Dong & Yang, ICLR
2020; xautodl ``exps/NATS-algos/reinforce.py``).

Policy: one independent categorical distribution per edge, ``pi_theta(a) = prod_e softmax(theta_e)[a_e]``
with logits ``theta`` of shape (6 edges, 5 ops). A proposal is a sample ``a ~ pi_theta``.

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

Deviations from the reference: logits start at zeros (uniform policy) instead of ``1e-3 * randn``, so
construction consumes no randomness; sampling uses one uniform per edge against the cumulative
probabilities instead of ``torch.distributions.Categorical``; numpy float64 instead of torch float32.
"""

from __future__ import annotations

import numpy as np

from nasearch.benchmarks.base import Result
from nasearch.space.arch import NUM_EDGES, NUM_OPS, Arch
from nasearch.strategies.base import Strategy, StrategyError, register_strategy

_EDGE_ROWS = np.arange(NUM_EDGES)


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
        fidelities: tuple[int, ...] = (),
        lr: float = 0.01,
        ema_momentum: float = 0.9,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ):
        super().__init__(rng, fidelities=fidelities)
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
        self.logits = np.zeros((NUM_EDGES, NUM_OPS))
        self._m = np.zeros_like(self.logits)  # Adam first moment
        self._v = np.zeros_like(self.logits)  # Adam second moment
        self._t = 0
        self._ema_num = 0.0
        self._ema_den = 0.0
        self._cdf: np.ndarray | None = None  # cached cumulative probabilities, reset on update

    # ------------------------------------------------------------------ policy
    def probs(self) -> np.ndarray:
        """Current policy, shape (6, 5): ``softmax(logits)`` per edge."""
        z = self.logits - self.logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def log_prob(self, arch: Arch) -> float:
        z = self.logits - self.logits.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(logp[_EDGE_ROWS, arch.ops].sum())

    @property
    def baseline(self) -> float | None:
        """The bias-corrected EMA of the rewards (None before the first tell)."""
        return self._ema_num / self._ema_den if self._ema_den > 0 else None

    # ------------------------------------------------------------------ ask / tell
    def ask(self, n: int = 1) -> list[Arch]:
        if self._cdf is None:
            cdf = np.cumsum(self.probs(), axis=1)
            cdf[:, -1] = 1.0
            self._cdf = cdf
        u = self.rng.random((n, NUM_EDGES))
        # op = number of cumulative probabilities <= u, per edge (inverse-CDF sampling)
        ops = (u[:, :, None] >= self._cdf[None, :, :]).sum(axis=2)
        return [Arch(tuple(row)) for row in ops.tolist()]

    def tell(self, arch: Arch, result: Result, fidelity: int) -> None:
        reward = float(result.valid_acc)
        if not np.isfinite(reward):
            return  # no gradient from a failed evaluation
        m = self.ema_momentum
        self._ema_num = m * self._ema_num + (1 - m) * reward
        self._ema_den = m * self._ema_den + (1 - m)
        advantage = reward - self._ema_num / self._ema_den
        grad = self.probs()
        grad[_EDGE_ROWS, arch.ops] -= 1.0
        grad *= advantage  # = -(R - b) * (onehot - softmax)
        b1, b2 = self.betas
        self._t += 1
        self._m = b1 * self._m + (1 - b1) * grad
        self._v = b2 * self._v + (1 - b2) * grad * grad
        m_hat = self._m / (1 - b1**self._t)
        v_hat = self._v / (1 - b2**self._t)
        self.logits -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
        self._cdf = None
