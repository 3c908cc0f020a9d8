"""nasearch: neural architecture search with pluggable, proxy-assisted search strategies."""

__version__ = "0.1.0"
