"""Output folders that cannot lie: every task records the settings that determine its results.

Before a task writes anything into its output folder it compares its *settings fingerprint* (the
config keys that change its results, plus the content hash of the benchmark table and the code
versions of the proxies it uses; see :func:`fingerprint`) with the one recorded in the folder
(:data:`FINGERPRINT_FILE`):

* no record and no results: a fresh folder; the fingerprint is written first, then the results;
* the same fingerprint: the task resumes (a search computes only its missing runs);
* another fingerprint: :class:`FolderError` before any work, naming every key that differs with the
  two values, and how to proceed: another folder, or ``overwrite=true``, which moves the old folder
  aside to ``<folder>.replaced-<time>`` (never deletes it) and starts afresh.

``runs`` is the one key that may grow: run ``i`` of a search is seeded by ``SeedSequence(seed,
spawn_key=(i,))`` whatever the number of runs, so ``runs=100`` into a folder of ``runs=30`` keeps the
30 and adds 70 (the record is updated); fewer runs than the folder holds is refused, since the
summary would count runs that were not asked for.

Folders written before fingerprints existed are read as they are: a search folder's ``runs.csv``
records its arm in every row (benchmark, dataset, strategy, proxy, N, k, budget, fidelity, seed),
and those columns are compared instead (:func:`check_folder`'s ``legacy``). Other tasks' old folders
have no such record; they are adopted with a warning.

A sweep folder (``hydra.sweep.dir``) is checked as a whole before the sweep starts
(:func:`check_sweep`): every job folder already in it must be one of the jobs the sweep plans, so a
collected table never mixes jobs of two settings.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from nasearch.config import ConfigError

log = logging.getLogger(__name__)

FINGERPRINT_FILE = "nasearch_run.json"
FORMAT = 1
RESULT_FILES = ("runs.csv", "mpi.csv", "checkpoint.json", "summary.md")
"""Files whose presence marks a folder as holding results (besides a fingerprint)."""

NOT_RESULTS = frozenset({
    # where and how fast the work runs: results are the same (the reproducibility contract)
    "workers", "progress", "device", "overwrite", "executor",
    # where scores live: a score is keyed by its setting wherever it is stored
    "proxy.store", "proxy.source", "proxy.shipped",
    # files named by path: replaced by their content below (a table's hash, a checkpoint's hash)
    "benchmark.path", "proxy.checkpoint",
    # resolved below (the budget the run is charged)
    "dataset.time_budget", "budget.seconds", "budget.queries",
})
"""Shared config keys that never decide a result; a task adds its own (``Task.not_results``: e.g.
``ghn.device``, ``evolve.cache_dir``)."""


def _task(task: str) -> Any:
    from nasearch.tasks import get_task

    return get_task(task, "config key task")


def task_keys(task: str) -> tuple[str, ...]:
    """The config sections (or dotted keys) that decide ``task``'s results: the task's ``keys``
    (:mod:`nasearch.tasks`), or every section of the config when it declares none (any change then
    counts as other settings)."""
    from nasearch.config import schema

    keys = getattr(_task(task), "keys", None)
    return tuple(keys) if keys is not None else tuple(f.name for f in dataclasses.fields(schema()))


def not_results(task: str) -> frozenset[str]:
    """The keys of ``task``'s sections that never decide its results: :data:`NOT_RESULTS` and the
    task's ``not_results``."""
    return NOT_RESULTS | frozenset(getattr(_task(task), "not_results", ()))


class FolderError(ConfigError):
    """An output folder that holds results of other settings (or cannot be claimed)."""


# ------------------------------------------------------------------------------------ fingerprints
def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in obj.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "."))  # an empty mapping adds no key
        else:
            out[key] = v
    return out


def _under(key: str, prefixes: Iterable[str]) -> bool:
    """Whether the dotted ``key`` is one of ``prefixes`` or inside one of them."""
    return any(key == p or key.startswith(p + ".") for p in prefixes)


def fingerprint(cfg: Any, derived: Mapping[str, Any] | None = None, ignore: Iterable[str] = ()) -> dict[str, Any]:
    """The settings that determine the results of ``cfg``'s task: its sections of the validated
    config (:func:`task_keys`) less :func:`not_results` and the keys this job ``ignore``-s (settings
    that cannot change its results, e.g. a vanilla search's proxy settings), plus ``derived`` values the task resolves
    (the benchmark it loads, the table's content hash, the budget it charges, proxy code versions).
    Values are JSON-normalised, so a fingerprint compares equal to one read back from disk."""
    flat = _flatten(dataclasses.asdict(cfg))
    sections, excluded = task_keys(cfg.task), not_results(cfg.task) | frozenset(ignore)
    fp = {k: v for k, v in flat.items() if _under(k, sections) and not _under(k, excluded)}
    fp.update(derived or {})
    return json.loads(json.dumps(fp, sort_keys=True, default=str))


_HASHES: dict[tuple, str] = {}


def file_hash(path: Any) -> str:
    """sha256 (first 16 hex digits) of a file's bytes: a path or an importlib Traversable; cached by
    (path, size, mtime) in this process."""
    try:
        st = os.stat(path)
        ident: tuple | None = (str(path), st.st_size, st.st_mtime_ns)
    except (TypeError, OSError):
        ident = None
    if ident is not None and ident in _HASHES:
        return _HASHES[ident]
    h = hashlib.sha256()
    with (open(path, "rb") if ident is not None else path.open("rb")) as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    digest = h.hexdigest()[:16]
    if ident is not None:
        _HASHES[ident] = digest
    return digest


# ------------------------------------------------------------------------------------------ folders
def read_fingerprint(folder: Path) -> dict[str, Any] | None:
    """The recorded settings of ``folder`` (None if it has no record); a damaged record is an error."""
    path = Path(folder) / FINGERPRINT_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        settings = data["settings"]
        if not isinstance(settings, dict):
            raise TypeError("'settings' is not a mapping")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FolderError(
            f"cannot read the settings record {str(path)!r} of the output folder ({exc}): it is damaged; "
            "move the folder aside or delete that file to have the folder treated as written before records existed"
        ) from None
    return settings


def write_fingerprint(folder: Path, fp: Mapping[str, Any]) -> None:
    from nasearch import __version__

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FINGERPRINT_FILE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"format": FORMAT, "nasearch": __version__, "settings": dict(fp)}, indent=1,
                              sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def holds_results(folder: Path) -> bool:
    folder = Path(folder)
    return (folder / FINGERPRINT_FILE).exists() or any((folder / f).exists() for f in RESULT_FILES) or any(
        folder.glob("scores_*.csv"))


#: Settings added after folders were first recorded, with the value that reproduces what a folder
#: recorded before the key existed: a record without the key matches a run with this value.
ADDED_LATER: dict[str, Any] = {"proxy.network": None, "search.simulated_workers": 1, "search.objectives": None,
                               # task=train_ghn's GHN-2-style training keys (their defaults: GHN-1 training)
                               "ghn.norm": "fan_in", "ghn.layernorm": False, "ghn.virtual_edges": 0,
                               "ghn.weight_decay": 0.0, "ghn.rho_cells": 0, "ghn.rho_every": 500,
                               "ghn.rho_images": 512}


def _setting(settings: Mapping[str, Any], key: str) -> Any:
    return settings.get(key, ADDED_LATER.get(key, "(not recorded)"))


def differences(recorded: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[str]:
    """Human-readable differences between a folder's record and this run's settings (``runs`` may grow;
    a key of :data:`ADDED_LATER` missing from a record reads as its old value)."""
    out = []
    for k in sorted(set(recorded) | set(wanted)):
        a, b = _setting(recorded, k), _setting(wanted, k)
        if a == b:
            continue
        if k == "runs" and isinstance(a, int) and isinstance(b, int) and b >= a:
            continue
        out.append(f"{k}: {a!r} in the folder, {b!r} in this run" + (
            " (fewer runs than the folder holds)" if k == "runs" else ""))
    if len(out) > 1:  # 'arm' (the runs.csv columns) repeats other keys: name it only when alone
        out = [d for d in out if not d.startswith("arm: ")]
    return out


def _aside(folder: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = folder.with_name(f"{folder.name}.replaced-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = folder.with_name(f"{folder.name}.replaced-{stamp}-{n}")
    os.replace(folder, target)
    return target


def _refusal(folder: Path, diffs: list[str], what: str = "results") -> FolderError:
    return FolderError(
        f"the output folder {str(folder)!r} holds {what} of other settings: " + "; ".join(diffs)
        + ". Nothing was changed. Rerun with the folder's settings to resume it, choose another folder "
        "(hydra.run.dir=... on the command line, out_dir=... in Python), or add overwrite=true to move "
        f"the old folder aside to {folder.name}.replaced-<time> and start afresh"
    )


def check_folder(
    folder: Path,
    fp: Mapping[str, Any],
    *,
    overwrite: bool = False,
    legacy: Callable[[Path], list[str] | None] | None = None,
) -> str:
    """Claim ``folder`` for a task with settings ``fp``; nothing is written when refused.

    ``legacy(folder)``: differences found in a folder's results when it has no record (None if it has
    no results of the kind this task writes). Returns ``"fresh"``, ``"resume"``, ``"adopted"`` (old
    results without a record that agree) or ``"moved <path>"``; raises :class:`FolderError`."""
    folder = Path(folder)
    if not folder.exists() or not holds_results(folder):
        return "fresh"
    recorded = read_fingerprint(folder)
    if recorded is not None:
        diffs = differences(recorded, fp)
    elif legacy is not None:
        diffs = legacy(folder) or []
    else:
        log.warning("%s holds results written before settings records existed; its settings cannot be "
                    "checked, so it is adopted as it is", folder)
        return "adopted"
    if not diffs:
        return "resume" if recorded is not None else "adopted"
    if overwrite:
        moved = _aside(folder)
        log.warning("overwrite=true: moved the old results of %s to %s", folder, moved)
        return f"moved {moved}"
    raise _refusal(folder, diffs)


def claim_folder(folder: Path, fp: Mapping[str, Any], *, overwrite: bool = False,
                 legacy: Callable[[Path], list[str] | None] | None = None) -> str:
    """:func:`check_folder`, then create the folder and record ``fp`` (before any result is written)."""
    state = check_folder(folder, fp, overwrite=overwrite, legacy=legacy)
    write_fingerprint(folder, fp)
    return state


def check_sweep(
    sweep_dir: Path,
    planned: list[Mapping[str, Any]],
    *,
    overwrite: bool = False,
    legacy: Callable[[Path], list[Mapping[str, Any]] | None] | None = None,
) -> str:
    """Every job folder already below ``sweep_dir`` must hold one of the ``planned`` jobs' settings
    (or a prefix of one's runs). ``legacy(job_dir)``: settings a job folder without a record is found
    to hold, as (partial) fingerprints to match against the plan's. Returns "fresh", "resume" or
    "moved <path>"; raises :class:`FolderError` naming the first foreign job and its closest planned job."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        return "fresh"
    jobs = sorted({p.parent for name in (FINGERPRINT_FILE, *RESULT_FILES) for p in sweep_dir.rglob(name)})
    if not jobs:
        return "fresh"
    for job in jobs:
        rec = read_fingerprint(job)
        found: list[Mapping[str, Any]]
        if rec is not None:
            found = [rec]
        else:
            found = list((legacy(job) if legacy is not None else None) or [])
            if not found:
                continue
        best: list[str] | None = None
        for have in found:
            for want in planned:
                keys = set(have) if rec is None else set(have) | set(want)
                d = differences({k: _setting(have, k) for k in keys}, {k: _setting(want, k) for k in keys})
                if not d:
                    best = []
                    break
                if best is None or len(d) < len(best):
                    best = d
            if best == []:
                break
        if best:
            if overwrite:
                moved = _aside(sweep_dir)
                log.warning("overwrite=true: moved the old sweep %s to %s", sweep_dir, moved)
                return f"moved {moved}"
            how = "" if rec is not None else " (read from its runs.csv: it was written before settings records)"
            raise _refusal(sweep_dir, [f"job folder {job.name!r}{how} differs from every job of this sweep; "
                                       "from the closest one: " + "; ".join(best)], what="jobs")
    return "resume"


__all__ = ["FINGERPRINT_FILE", "FolderError", "check_folder", "check_sweep", "claim_folder", "differences",
           "file_hash", "fingerprint", "read_fingerprint", "write_fingerprint"]
