"""Search spaces: the :class:`SearchSpace` interface and registry (``base.py``), one module per space.

NAS-Bench-201's cell space is one of the registered spaces; its names below (``Arch``, ``OPS``,
``sample``, ...) stay importable from here for backward compatibility.
"""

from nasearch.space.arch import (
    EDGES,
    NUM_ARCHS,
    NUM_EDGES,
    NUM_OPS,
    OPS,
    Arch,
    all_archs,
    encode,
    mutate,
    sample,
)
from nasearch.space.base import (
    SPACES,
    ArchError,
    SearchSpace,
    SpaceError,
    get_space,
    register_space,
    space_names,
)

__all__ = [
    "EDGES", "NUM_ARCHS", "SPACES", "NUM_EDGES", "NUM_OPS", "OPS", "Arch", "ArchError",
    "SearchSpace", "SpaceError", "all_archs", "encode", "get_space", "mutate", "register_space", "sample",
    "space_names",
]
