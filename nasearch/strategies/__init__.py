"""Search strategies (ask/tell) and the proxy pre-filter that wraps any of them."""

from nasearch.strategies.base import Strategy, StrategyError, get_strategy, register_strategy, strategy_names

__all__ = ["Strategy", "StrategyError", "get_strategy", "register_strategy", "strategy_names"]
