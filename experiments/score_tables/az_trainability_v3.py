"""Regenerate the shipped NB201 ``az_trainability`` table as version 3 (issue 37) from version 2.

Version 3 of ``az_trainability`` (``nasearch/proxies/aznas.py``, deviation (2)) adopts the AZ-NAS
authors' rule: a network with an exact identity primary block scores NaN, on networks that declare
it degenerate (NB201's). Every other network scores exactly as in version 2, so the version-3 table
is the version-2 table with ``version`` set to 3 and ``value`` emptied (NaN) for the cells the rule
hits; nothing is recomputed (one forward/backward pass per cell is about 0.5 s, too slow for 15,284
cells on the shared 2-core machine).

"Hit" is decided by the structural form of the code's identity test,
:func:`nasearch.space.nb201.networks.is_identity_cell` (edge 0 -> 3 is ``skip_connect`` and no
other path of non-``none`` edges leads from node 0 to node 3), which ``tests/unit/test_aznas.py``
checks against the code's own test (input gradient equal to the random vector bit for bit) on a
seeded sample of hits and near-misses. The ``seconds`` column keeps version 2's compute times (the
version-3 computation of a hit stops at its first identity block; the others cost the same).

    .venv/bin/python experiments/score_tables/az_trainability_v3.py          # rewrites the table in place
    .venv/bin/python experiments/score_tables/az_trainability_v3.py --check  # verifies a version-3 table

Prints how many cells it masked (341: every identity cell is connected, so all are in the table).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import math
import os
import sys
from pathlib import Path

from nasearch.space import get_space
from nasearch.space.nb201.networks import is_identity_cell

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "nasearch" / "embedded" / "scores" / "az_trainability_cifar10_b64_seed0.csv.gz"
FROM_VERSION, TO_VERSION = "2", "3"


def convert(rows: list[list[str]], header: list[str]) -> tuple[list[list[str]], int]:
    """The version-3 rows of version-2 ``rows`` (same order) and the number of cells masked."""
    col = {name: i for i, name in enumerate(header)}
    space = get_space("nb201")
    out, masked = [], 0
    for line, row in enumerate(rows, start=2):
        if row[col["proxy"]] != "az_trainability" or row[col["version"]] != FROM_VERSION:
            raise SystemExit(
                f"{TABLE}: line {line} is proxy {row[col['proxy']]!r} version {row[col['version']]!r}; "
                f"this script converts az_trainability version {FROM_VERSION} rows only (run --check on a "
                f"version-{TO_VERSION} table)"
            )
        row = list(row)
        row[col["version"]] = TO_VERSION
        if is_identity_cell(space.parse(row[col["arch"]], where=f"{TABLE.name} line {line}")):
            row[col["value"]] = ""
            masked += 1
        out.append(row)
    return out, masked


def check(rows: list[list[str]], header: list[str]) -> int:
    """Verify a version-3 table: empty exactly where the rule hits (other values may be NaN only where
    version 2 had them too, which this cannot see); returns the number of hits."""
    col = {name: i for i, name in enumerate(header)}
    space = get_space("nb201")
    hits = 0
    for line, row in enumerate(rows, start=2):
        hit = is_identity_cell(space.parse(row[col["arch"]]))
        hits += hit
        if row[col["version"]] != TO_VERSION or (hit and row[col["value"]] != ""):
            raise SystemExit(f"{TABLE}: line {line} is not a version-{TO_VERSION} row of the rule: {row}")
        if not hit and not math.isfinite(float(row[col["value"]] or "nan")):
            print(
                f"note: line {line} is NaN without being an identity cell: {row[col['arch']]}",
                file=sys.stderr,
            )
    return hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify a version-3 table, write nothing")
    args = parser.parse_args()
    raw = gzip.decompress(TABLE.read_bytes()).decode()
    newline = "\r\n" if raw.split("\n", 1)[0].endswith("\r") else "\n"  # keep the file's line ends
    header, *rows = list(csv.reader(io.StringIO(raw)))
    if args.check:
        print(
            f"{TABLE.name}: version {TO_VERSION}, {len(rows)} cells, {check(rows, header)} masked (identity cells)"
        )
        return
    out, masked = convert(rows, header)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=newline)
    w.writerow(header)
    w.writerows(out)
    tmp = TABLE.with_name(TABLE.name + ".tmp")
    tmp.write_bytes(gzip.compress(buf.getvalue().encode(), mtime=0))
    os.replace(tmp, TABLE)
    print(
        f"{TABLE.name}: {len(out)} cells, version {FROM_VERSION} -> {TO_VERSION}, {masked} masked (identity cells)"
    )


if __name__ == "__main__":
    main()
