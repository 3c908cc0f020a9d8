"""Random search (Bergstra & Bengio, JMLR 2012), as NAS-Bench-201's RS baseline.

Each proposal is an arch drawn uniformly from the space (``space.sample``; on NB201 from all 15,625
cells, disconnected ones too, as NB201 samples).
``ask(n)`` returns ``n`` independent uniform samples; a pre-filter keeps the best by proxy. Past
results are ignored: the runner keeps the incumbent.
"""

from __future__ import annotations

from nasearch.benchmarks.base import Result
from nasearch.strategies.base import Arch, Strategy, register_strategy


@register_strategy
class RandomSearch(Strategy):
    name = "rs"
    paper = "Bergstra & Bengio, Random search for hyper-parameter optimization, JMLR 2012"

    def ask(self, n: int = 1) -> list[Arch]:
        sample, rng = self.space.sample, self.rng
        return [sample(rng) for _ in range(n)]

    def tell(self, arch: Arch, result: Result, fidelity: int) -> None:
        pass
