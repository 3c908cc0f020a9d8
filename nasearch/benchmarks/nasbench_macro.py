"""The ``nasbench_macro`` backend: NAS-Bench-Macro's CIFAR-10 results, read from the published JSON.

Source: NAS-Bench-Macro (Su et al., "Prioritized Architecture Sampling with Monte-Carlo Tree Search",
CVPR 2021), ``data/nas-bench-macro_cifar10.json`` in xiusu/NAS-Bench-Macro (Apache-2.0), read as
shipped (no conversion step): ``{key: {test_acc: [3 floats], mean_acc, std, params, flops}}`` for all
6,561 keys of :mod:`nasearch.space.nasbench_macro`. Accuracies are CIFAR-10 test accuracy in percent
of three independent trainings (50 epochs each, the authors' ``train/train.py``).

How it maps onto nasearch's :class:`~nasearch.benchmarks.base.Result`:

* ``test_acc`` is the mean of the three test accuracies: the figure the benchmark's users report
  and the one incumbents are reported by.
* ``valid_acc`` (what a search selects by): the benchmark has no validation split. By default it is
  the same mean (``valid_seed=None``), as the benchmark's own users search (the authors' MCTS and the
  papers that compare on NAS-Bench-Macro select on the mean test accuracy); summaries must say that
  selection saw the reported figure. ``valid_seed=0/1/2`` selects by that one training's accuracy
  instead, a noisy stand-in for a validation score (it is still one of the three figures averaged
  into ``test_acc``).
* ``train_seconds`` is None: the benchmark records no training time, so ``has_train_time`` is False
  and a search spends a number of queries (:data:`DEFAULT_QUERY_BUDGET`).
* One fidelity, 50 epochs (the only schedule the authors trained). One dataset, ``cifar10``.

:data:`DEFAULT_QUERY_BUDGET` = 100 queries: about 1.5% of the space (2.5% of its 3,969 distinct
networks), the same number as nasearch's other query-budget benchmark (``analognas``), so that
cross-space tables compare strategies after equal numbers of evaluations; and small enough that
the strategies still differ (random search finds the top 1% of 6,561 keys within 100 draws with
probability 1 - 0.99**100 = 63%, so the search problem is not solved by brute force).

Metrics (:attr:`NASBenchMacroBenchmark.metrics`): ``valid_acc``, ``test_acc`` (as above, percent),
``params`` and ``flops`` in millions (the file's raw counts / 1e6), the units of every benchmark, so
``flops=50`` means 50 MFLOPs here as on NB201. No latency is recorded.

Columns (:meth:`NASBenchMacroBenchmark.column`, indexed by ``MacroArch.index``): the metrics,
``train_seconds`` (NaN), and the file's ``mean_acc``, ``std``, ``test_acc_0``, ``test_acc_1``,
``test_acc_2`` and the raw counts ``params_count``, ``flops_count`` (the file's ``params`` / ``flops``
fields as published; :meth:`~NASBenchMacroBenchmark.params` and :meth:`~NASBenchMacroBenchmark.flops`
return them for one arch).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from nasearch.benchmarks.base import (
    BenchmarkError,
    Metric,
    Result,
    check_dataset,
    register_benchmark,
    resolve_fidelity,
    unknown_metric,
)
from nasearch.space.base import ArchError
from nasearch.space.nasbench_macro import NUM_ARCHS, MacroArch, NASBenchMacroSpace, shared_instance

NAME = "nasbench_macro"
RELPATH = Path("nasbench_macro") / "nas-bench-macro_cifar10.json"
DEFAULT_QUERY_BUDGET = 100
EPOCHS = 50
NUM_SEEDS = 3
_FILE_COLUMNS = ("mean_acc", "std", "params", "flops")
_COUNTS = {"params_count": "params", "flops_count": "flops"}
"""Column names of the file's raw counts (``params`` / ``flops`` name the metrics, in millions)."""
METRICS: tuple[str, ...] = (
    "valid_acc",
    "test_acc",
    "params",
    "flops",
    "train_seconds",
    "mean_acc",
    "std",
    *_COUNTS,
    *(f"test_acc_{s}" for s in range(NUM_SEEDS)),
)
"""Every name :meth:`NASBenchMacroBenchmark.column` reads."""
_METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("params", False, "M", "parameters, millions (the JSON's params field / 1e6)", False),
        Metric("flops", False, "M", "MFLOPs of one forward pass at 32x32, multiply-accumulates as the authors "
               "count them (the JSON's flops field / 1e6)", False),
    )
}


def _where(where: str) -> str:
    return f" ({where})" if where else ""


def default_path(where: str = "") -> Path:
    """``$NASEARCH_DATA/nasbench_macro/nas-bench-macro_cifar10.json`` when it exists, else the copy
    embedded in the package (:func:`nasearch.embedded.resolve_data_file`)."""
    from nasearch.embedded import EmbeddedDataError, resolve_data_file

    try:
        return Path(str(resolve_data_file(RELPATH.as_posix(), what="the NAS-Bench-Macro JSON", where=where)))
    except EmbeddedDataError as exc:
        raise BenchmarkError(str(exc)) from exc


@register_benchmark(NAME, space="nasbench_macro")
class NASBenchMacroBenchmark:
    """NAS-Bench-Macro results from the published JSON (see the module docstring)."""

    name = NAME
    datasets: tuple[str, ...] = ("cifar10",)
    fidelities: tuple[int, ...] = (EPOCHS,)
    has_train_time = False
    has_validation_split = False  # no validation split (see the module docstring)
    default_query_budget = DEFAULT_QUERY_BUDGET

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        valid_seed: int | None = None,
        where: str = "",
    ):
        if valid_seed is not None and (
            isinstance(valid_seed, bool) or not isinstance(valid_seed, int) or not 0 <= valid_seed < NUM_SEEDS
        ):
            raise BenchmarkError(
                f"valid_seed={valid_seed!r}{_where(where)} is invalid: expected None (select by the mean "
                f"of the three test accuracies) or a training seed 0, 1 or 2"
            )
        self.space = shared_instance(NASBenchMacroSpace, NAME)
        self.valid_seed = valid_seed
        self.path = Path(path) if path else default_path(where)
        self._where = where
        if not self.path.is_file():
            raise BenchmarkError(
                f"NAS-Bench-Macro JSON not found at {str(self.path)!r}{_where(where)}: expected the "
                f"file as published (nas-bench-macro_cifar10.json); set NASEARCH_DATA to the folder "
                f"holding {RELPATH.as_posix()} or benchmark.path=FILE"
            )
        self._load()
        selected = "the mean of the three test accuracies" if valid_seed is None else f"training seed {valid_seed}'s test accuracy"
        self.metrics: dict[str, Metric] = {
            "valid_acc": Metric("valid_acc", True, "%", f"the selection figure: {selected} (no validation split; "
                                "the JSON's test_acc field)", True),
            "test_acc": Metric("test_acc", True, "%", "mean CIFAR-10 test accuracy of three 50-epoch trainings "
                               "(the JSON's test_acc field)", True),
            **_METRICS,
        }
        """What this benchmark records (see the module docstring)."""

    # ------------------------------------------------------------------ loading
    def _bad(self, what: str) -> BenchmarkError:
        return BenchmarkError(f"malformed NAS-Bench-Macro JSON {str(self.path)!r}{_where(self._where)}: {what}")

    def _load(self) -> None:
        try:
            with open(self.path, encoding="utf-8") as fh:
                data = json.load(fh)
        except json.JSONDecodeError as exc:
            raise self._bad(
                f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}; a truncated or "
                f"corrupt download?); expected {{key: {{test_acc, mean_acc, std, params, flops}}}}"
            ) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise BenchmarkError(f"cannot read NAS-Bench-Macro JSON {str(self.path)!r}{_where(self._where)}: {exc}") from exc
        if not isinstance(data, dict):
            raise self._bad(f"top level is a {type(data).__name__}, expected an object of keys")
        tests = np.full((NUM_ARCHS, NUM_SEEDS), np.nan)
        cols = {c: np.full(NUM_ARCHS, np.nan) for c in _FILE_COLUMNS}
        present = np.zeros(NUM_ARCHS, dtype=bool)
        for key, rec in data.items():
            try:
                arch = self.space.parse(key, where=f"a key of {self.path.name}")
            except ArchError as exc:
                raise self._bad(str(exc)) from None
            if not isinstance(rec, dict) or any(f not in rec for f in ("test_acc", *_FILE_COLUMNS)):
                raise self._bad(
                    f"entry {key!r} is {rec!r}: expected an object with test_acc (3 accuracies), "
                    "mean_acc, std, params, flops"
                )
            acc = rec["test_acc"]
            try:
                values = [float(v) for v in acc] if isinstance(acc, list) else []
                file_values = {c: float(rec[c]) for c in _FILE_COLUMNS}
            except (TypeError, ValueError):
                raise self._bad(f"entry {key!r} holds a non-number: {rec!r}") from None
            if len(values) != NUM_SEEDS or not all(0.0 <= v <= 100.0 for v in values):
                raise self._bad(
                    f"entry {key!r} test_acc={acc!r}: expected {NUM_SEEDS} accuracies in percent (0..100)"
                )
            if abs(np.mean(values) - file_values["mean_acc"]) > 1e-4:
                raise self._bad(
                    f"entry {key!r} mean_acc={rec['mean_acc']!r} is not the mean of test_acc={acc!r}"
                )
            tests[arch.index] = values
            for c, v in file_values.items():
                cols[c][arch.index] = v
            present[arch.index] = True
        missing = int((~present).sum())
        if missing:
            first = [str(self.space.from_index(int(i))) for i in np.flatnonzero(~present)[:5]]
            raise self._bad(
                f"{missing} of the {NUM_ARCHS} keys are missing (e.g. {', '.join(first)}); the "
                f"published file holds all of them"
            )
        self._tests = tests
        self._mean = tests.mean(axis=1)
        self._valid = self._mean if self.valid_seed is None else tests[:, self.valid_seed].copy()
        self._cols = cols

    # ------------------------------------------------------------------ Benchmark protocol
    def _arch(self, arch: MacroArch) -> MacroArch:
        if isinstance(arch, MacroArch):
            return arch
        return self.space.parse(arch, where=f"query of benchmark {NAME!r}")

    def query(self, arch: MacroArch, dataset: str = "cifar10", fidelity: int | None = None) -> Result:
        check_dataset(self, dataset)
        resolve_fidelity(self, fidelity)
        i = self._arch(arch).index
        return Result(valid_acc=float(self._valid[i]), test_acc=float(self._mean[i]), train_seconds=None)

    def column(self, dataset: str, metric: str, fidelity: int | None = None) -> np.ndarray:
        check_dataset(self, dataset)
        resolve_fidelity(self, fidelity)
        if metric == "valid_acc":
            return self._valid.copy()
        if metric == "test_acc":
            return self._mean.copy()
        if metric == "train_seconds":
            return np.full(NUM_ARCHS, np.nan)
        if metric in ("params", "flops"):
            return self._cols[metric] / 1e6
        if metric in _COUNTS:
            return self._cols[_COUNTS[metric]].copy()
        if metric in ("mean_acc", "std"):
            return self._cols[metric].copy()
        if metric.startswith("test_acc_") and metric[9:] in {str(s) for s in range(NUM_SEEDS)}:
            return self._tests[:, int(metric[9:])].copy()
        raise unknown_metric(self, metric, METRICS)

    # ------------------------------------------------------------------ extras
    def params(self, arch: MacroArch) -> int:
        """The file's raw parameter count of ``arch`` (the ``params`` metric is this / 1e6)."""
        return int(self._cols["params"][self._arch(arch).index])

    def flops(self, arch: MacroArch) -> int:
        """The file's raw FLOP count of ``arch`` (the ``flops`` metric is this / 1e6)."""
        return int(self._cols["flops"][self._arch(arch).index])

    def __repr__(self) -> str:
        sel = "mean" if self.valid_seed is None else f"seed {self.valid_seed}"
        return f"NASBenchMacroBenchmark({str(self.path)!r}, select by {sel})"


__all__ = ["DEFAULT_QUERY_BUDGET", "NAME", "NASBenchMacroBenchmark", "default_path"]
