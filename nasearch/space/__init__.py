"""NAS-Bench-201 cell space: Arch values, enumeration, sampling, mutation, encoding, networks."""

from nasearch.space.arch import (
    EDGES,
    NUM_ARCHS,
    NUM_EDGES,
    NUM_OPS,
    OPS,
    Arch,
    ArchError,
    all_archs,
    encode,
    mutate,
    sample,
)

__all__ = [
    "EDGES", "NUM_ARCHS", "NUM_EDGES", "NUM_OPS", "OPS", "Arch", "ArchError",
    "all_archs", "encode", "mutate", "sample",
]
