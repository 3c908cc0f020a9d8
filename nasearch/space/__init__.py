"""Search spaces: the :class:`SearchSpace` interface and registry (``base.py``), one module or package
per space (NAS-Bench-201's is a package: the registered space, its arch value ``arch.py``, its networks
``networks.py``; NAS-Bench-Macro and TransNAS-Bench-101 are one module each); what several spaces
share: ``cells.py`` (the 4-node cell DAG), ``networks.py`` (network building blocks, parameter and
FLOP counts), ``graph.py`` (the operation graph of any built network).

A caller finds a space by name (:func:`get_space`) and speaks to it through the interface only; a
space's own arch type is imported from its module by that space's benchmarks and tests, nothing else.
"""

from nasearch.space.base import (
    SPACES,
    ArchError,
    SearchSpace,
    SpaceError,
    get_space,
    register_space,
    space_names,
)

__all__ = ["SPACES", "ArchError", "SearchSpace", "SpaceError", "get_space", "register_space", "space_names"]
