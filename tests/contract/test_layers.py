"""The layers of docs/architecture.md hold: import-linter's contracts pass, every module sits in a layer,
and NB201 is named only by its own modules.

``lint-imports`` checks the contracts of ``[tool.importlinter]`` in pyproject.toml (a lower layer never
imports a higher one, lazy imports included; no import circle between sibling modules). The nb201
check greps the package for the string ``nb201`` (NB201's registry name, lower case: prose about
the benchmark says "NB201" or "NAS-Bench-201") outside the modules that own NB201.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "nasearch"

NB201_FILES = {
    # NB201-space benchmarks: the table, its official-file reader, AnalogNAS-Bench
    "nasearch/benchmarks/table.py",
    "nasearch/benchmarks/official.py",
    "nasearch/benchmarks/analognas.py",
    # the benchmark -> space map and the `auto` alias
    "nasearch/benchmarks/__init__.py",
    # BibTeX keys
    "nasearch/cite.py",
}
NB201_FOLDERS = (
    "nasearch/space/nb201/",  # NB201's own space package: the space, its arch value, its networks
    "nasearch/embedded/",  # data paths
    "nasearch/testing/",  # plugin contract-test fixtures pick a concrete space, as tests/ do
)
NB201_LINES = {
    # legacy rules: what was written before spaces existed is NB201's
    ("nasearch/scoring/store.py", 'LEGACY_SPACE = "nb201"'),
    ("nasearch/eznas/cache.py", 'LEGACY_SPACE = "nb201"'),
    ("nasearch/predictors/ghn_train.py", 'STORED_DEFAULTS = {"space": "nb201"}'),
    # a data path: the file name of the GHN checkpoint shipped in nasearch/predictors/
    ("nasearch/proxies/ghn.py", 'DEFAULT_CHECKPOINT = "ghn_nb201_cifar10.pt"'),
    ("nasearch/proxies/ghn.py", 'GHN2_CHECKPOINT = "ghn2_nb201_cifar10.pt"'),
    # module names: the space registry's list of built-in space modules
    ("nasearch/space/base.py", 'BUILTIN_MODULES: tuple[str, ...] = tuple(f"nasearch.space.{m}" for m in ("nb201",'),
}


def _lint_imports() -> str | None:
    local = Path(sys.executable).parent / "lint-imports"
    return str(local) if local.exists() else shutil.which("lint-imports")


def test_import_contracts_are_kept() -> None:
    exe = _lint_imports()
    if exe is None:
        pytest.skip("lint-imports is not installed (pip install -e '.[dev]' installs import-linter)")
    proc = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"lint-imports failed:\n{proc.stdout}\n{proc.stderr}"


def _layer_modules() -> list[str]:
    tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python >= 3.11's tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = [c["layers"] for c in config["contracts"] if c["type"] == "layers"]
    return [m.strip().strip("()") for line in layers for m in re.split(r"[|:]", line)]


def test_every_module_is_in_a_layer() -> None:
    declared = _layer_modules()
    containers = {"nasearch", "nasearch.space"}  # packages declared module by module
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        module = ".".join(parts)
        if module in containers:
            continue
        if not any(module == d or module.startswith(d + ".") for d in declared):
            missing.append(module)
    assert not missing, (
        "modules in no layer of [tool.importlinter] in pyproject.toml (add each to its layer; a new proxy "
        f"module joins the proxy-definitions line): {', '.join(missing)}"
    )


def test_nb201_is_named_only_by_its_own_modules() -> None:
    hits = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel in NB201_FILES or rel.startswith(NB201_FOLDERS):
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if "nb201" in line and not any(rel == f and s in line for f, s in NB201_LINES):
                hits.append(f"{rel}:{n}: {line.strip()}")
    assert not hits, (
        "NB201 named outside its own modules (take the space from the caller, or let the benchmark or "
        "space declare what the code needs):\n" + "\n".join(hits)
    )
