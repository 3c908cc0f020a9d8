"""Every registered proxy's cross-machine tolerance is the measured one (issue 13).

``experiments/cross_machine/table.csv`` holds, per proxy, how far its scores moved on 50 cells between
the default kernels and ``ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41`` (and against the
machine that computed the committed study). Each proxy's ``ProxySpec.tolerance`` (what the
committed-score tests use) must cover every measured difference, and its module docstring must state it.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

from nasearch.proxies import get_proxy, network_proxies

TABLE = Path(__file__).resolve().parents[2] / "experiments" / "cross_machine" / "table.csv"


def _rows() -> dict[str, list[dict[str, str]]]:
    with open(TABLE, newline="") as fh:
        out: dict[str, list[dict[str, str]]] = {}
        for r in csv.DictReader(fh):
            out.setdefault(r["proxy"], []).append(r)
    return out


@pytest.mark.parametrize("proxy", [s.name for s in network_proxies()])
def test_tolerance_covers_the_measured_spread(proxy):
    rows = _rows().get(proxy, [])
    settings = {r["setting"] for r in rows}
    assert "aten_default+onednn_sse41" in settings, f"{proxy}: no cross-machine measurement in {TABLE}"
    spec = get_proxy(proxy)
    for r in rows:
        assert float(r["max_rel_diff"]) <= spec.tolerance, (proxy, r["setting"], r["max_rel_diff"], spec.tolerance)
    doc = sys.modules[spec.fn.__module__].__doc__ or ""
    assert "Cross-machine tolerance" in doc and "experiments/cross_machine" in doc, f"{proxy}: undocumented"
