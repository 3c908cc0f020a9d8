"""The 4-node cell DAG shared by the cell spaces (NAS-Bench-201 and TransNAS-Bench-101's micro cells).

A cell has nodes 0 (input) to 3 (output) and one operation on each of its 6 edges i->j (i < j), listed
in the official order of NAS-Bench-201's arch string (TransNAS-Bench-101 writes its micro cells in
the same order):

    (0->1); (0->2), (1->2); (0->3), (1->3), (2->3)

Both spaces give ``none`` the op code 0. What each space puts on the edges, and how it spells a cell,
stays in that space's module.
"""

from __future__ import annotations

from collections.abc import Sequence

EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
"""Edges (from, to) in the official string order (topologically ordered by destination)."""

NONE = 0
"""The op code of ``none`` (no connection) in every cell space."""


def cell_is_connected(ops: Sequence[int]) -> bool:
    """True when some path of non-``none`` edges (op code :data:`NONE`) leads from node 0 (input) to
    node 3 (output) of a cell whose 6 edges carry ``ops`` in :data:`EDGES` order."""
    reach = [True, False, False, False]
    for (src, dst), op in zip(EDGES, ops):  # EDGES is topologically ordered by dst
        if op != NONE and reach[src]:
            reach[dst] = True
    return reach[3]


__all__ = ["EDGES", "NONE", "cell_is_connected"]
