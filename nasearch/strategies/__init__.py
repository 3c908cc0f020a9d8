"""Search strategies (ask/tell) and the proxy pre-filter that wraps any of them."""

from nasearch.strategies.base import (
    STRATEGIES,
    Strategy,
    StrategyError,
    get_strategy,
    register_strategy,
    strategy_names,
)

__all__ = ["STRATEGIES", "Strategy", "StrategyError", "get_strategy", "register_strategy", "strategy_names"]
