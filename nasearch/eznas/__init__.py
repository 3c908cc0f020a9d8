"""EZNAS (Akhauri et al., NeurIPS 2022): evolved zero-cost proxies.

``statistics`` (per ReLU-Conv-BN tensors for inputs D, N, P), ``program`` (the typed expression
language: parse, print, evaluate; no eval), ``cache`` (subsampled statistics of many cells on disk),
``evolve`` (DEAP genetic programming with JSON checkpoints). The proxy is ``proxy=eznas``
(``nasearch/proxies/eznas.py``); the task is ``nasearch task=evolve``.
"""
