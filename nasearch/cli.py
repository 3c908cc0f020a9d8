"""The ``nasearch`` command.

``nasearch [OVERRIDES]`` (and ``nasearch -m OVERRIDES`` for a sweep) is a Hydra app over ``conf/``:
``task=search`` (default), ``task=mpi`` (proxy rank correlations), ``task=score`` (a score table) or
``task=train_ghn`` (train a Graph HyperNetwork, resumable).
Plain subcommands that need no config: ``nasearch convert SRC OUT``, ``nasearch proxies``,
``nasearch strategies``, ``nasearch collect DIR``.

Every override (each value of every sweep) is composed and validated before any run starts; bad
input ends with one paragraph on stderr naming the value, what is accepted and where it came from
(with "did you mean" for a typo: a key, a group value, a name, a subcommand), and exit code 2, never
a traceback. ``nasearch --help`` lists the tasks, the subcommands and every config group's accepted
values (yaml files and registry entries, see ``config.register_configs``); ``--version``.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import sys
from importlib import resources
from pathlib import Path

log = logging.getLogger("nasearch")

CONFIG_MODULE = "nasearch.conf"
GROUPS = ("benchmark", "dataset", "strategy", "proxy", "executor", "experiment")


def _user_errors() -> tuple[type[BaseException], ...]:
    """What the CLI reports as one paragraph: the project's root error (every bad value, file or
    setting) and ``OSError`` (a file that cannot be read or written; its message names the path)."""
    from nasearch.errors import NasearchError

    return (NasearchError, OSError)


def fail(message: str, code: int = 2) -> None:
    print(f"nasearch: error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(code)


# ------------------------------------------------------------------------------------ config checks
def group_options(group: str) -> list[str]:
    """The accepted values of a config group: its yaml files in ``conf/<group>/`` and its ConfigStore
    entries (every registered proxy, strategy and benchmark, see ``config.register_configs``)."""
    from hydra.core.config_store import ConfigStore

    from nasearch.config import register_configs

    register_configs()
    names: set[str] = set()
    root = resources.files(CONFIG_MODULE).joinpath(group)
    if root.is_dir():
        names.update(p.name[: -len(".yaml")] for p in root.iterdir() if p.name.endswith(".yaml"))
    cs = ConfigStore.instance()
    if cs.get_type(group).name == "GROUP":
        names.update(n[: -len(".yaml")] for n in cs.list(group) if n.endswith(".yaml"))
    return sorted(names)


def _expand(overrides: list[str], multirun: bool) -> list[list[str]]:
    """Every combination of the sweep (one list of plain overrides per job)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(overrides)
    axes: list[list[str]] = []
    for ov in parsed:
        key = ov.get_key_element()
        if ov.is_sweep_override():
            if not multirun:
                fail(f"override {ov.input_line!r} sweeps several values; run a sweep with `nasearch -m ...`")
            axes.append([f"{key}={v}" for v in ov.sweep_string_iterator()])
        else:
            axes.append([ov.input_line])
    return [list(c) for c in itertools.product(*axes)] if axes else [[]]


def _with_preset_sweep(overrides: list[str], combos: list[list[str]]) -> list[list[str]]:
    """Add the axes of ``hydra.sweeper.params`` (set by an ``experiment=`` preset) that the command
    line does not override, so a preset's sweep is checked up front like a command-line one.

    Mirrors Hydra's basic sweeper: the params come from the primary config, composed from the
    command line's non-sweep overrides only, and a command-line override of the same key wins."""
    from hydra import compose
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    parsed = OverridesParser.create().parse_overrides(overrides)
    primary = [o.input_line for o in parsed if not o.is_sweep_override()]
    try:
        cfg = compose(config_name="config", overrides=primary, return_hydra_config=True)
        params = dict(cfg.hydra.sweeper.get("params") or {})
    except (HydraException, OmegaConfBaseException):
        return combos  # the per-job compose below reports the error with its context
    given = {o.get_key_element() for o in parsed}
    extra = [f"{k}={v}" for k, v in params.items() if k not in given]
    if not extra:
        return combos
    try:
        axes = _expand(extra, True)
    except HydraException as exc:
        fail(f"cannot parse the preset's sweep hydra.sweeper.params {params}: {str(exc).splitlines()[0]}")
    return [c + a for c in combos for a in axes]


def preset_is_multirun(overrides: list[str]) -> bool:
    """Whether the command line's ``experiment=`` preset sets ``hydra.mode: MULTIRUN`` (such a preset,
    e.g. ``experiment=headline``, sweeps without ``-m``; its sweep is then checked like one with -m)."""
    presets = [o for o in overrides if o.lstrip("+").startswith("experiment=") and "," not in o]
    if not presets:
        return False
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from nasearch.config import register_configs

    register_configs()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module=CONFIG_MODULE, version_base=None):
            cfg = compose(config_name="config", overrides=presets, return_hydra_config=True)
            return str(cfg.hydra.get("mode")).upper().endswith("MULTIRUN")
    except (HydraException, OmegaConfBaseException):
        return False  # the full check reports the error with its context
    finally:
        GlobalHydra.instance().clear()


def validate_overrides(overrides: list[str], multirun: bool = False) -> list:
    """Compose and validate the config of every job; fail with one paragraph on the first bad one."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from nasearch.config import register_configs, validate
    from nasearch.suggest import did_you_mean, unknown_override_message

    register_configs()
    try:
        combos = _expand(overrides, multirun)
    except HydraException as exc:
        fail(f"cannot parse the command-line overrides {' '.join(overrides)!r}: {str(exc).splitlines()[0]}")
    out = []
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module=CONFIG_MODULE, version_base=None):
        if multirun:
            combos = _with_preset_sweep(overrides, combos)
        for combo in combos:
            for ov in combo:
                key, _, value = ov.lstrip("+~").partition("=")
                if key in GROUPS and value not in ("null", "") and value not in group_options(key):
                    fail(
                        f"unknown {key} {value!r} (from the command line: {ov}); accepted: "
                        f"{', '.join(group_options(key))}" + (" or null" if key == "experiment" else "")
                        + did_you_mean(value, group_options(key))
                    )
            try:
                cfg = compose(config_name="config", overrides=combo)
                out.append(validate(cfg))
            except _user_errors() as exc:
                fail(f"{exc} (from the command line: {' '.join(combo) or 'defaults'})")
            except OmegaConfBaseException as exc:
                key = getattr(exc, "full_key", None) or "?"
                first = str(exc).splitlines()[0]
                fail(f"config key {key}: {first} (from the command line: {' '.join(combo) or 'defaults'})")
            except HydraException as exc:
                unknown = unknown_override_message(exc, combo)
                if unknown is not None:
                    fail(unknown)
                first = " ".join(str(exc).split())
                cause = exc.__cause__
                if isinstance(cause, OmegaConfBaseException):
                    key = getattr(cause, "full_key", None) or "?"
                    first += f": config key {key}: {str(cause).splitlines()[0]}"
                fail(f"{first} (from the command line: {' '.join(combo) or 'defaults'})")
    GlobalHydra.instance().clear()
    return out


# ------------------------------------------------------------------------------------------ hydra app
def _hydra_app() -> None:
    import hydra
    from omegaconf import DictConfig

    from nasearch.config import register_configs

    register_configs()

    @hydra.main(config_path="pkg://" + CONFIG_MODULE, config_name="config", version_base=None)
    def app(cfg: DictConfig) -> None:
        from hydra.core.hydra_config import HydraConfig

        from nasearch.config import validate

        out_dir = Path(HydraConfig.get().runtime.output_dir)
        try:
            conf = validate(cfg)
            from nasearch.api import run_task

            table = run_task(conf, out_dir, _PLANS.pop(_plan_key(conf), None))  # type: ignore[arg-type]
        except _user_errors() as exc:
            fail(str(exc))
        print(table, flush=True)
        print(f"results in {out_dir}", flush=True)

    app()


# --------------------------------------------------------------------------------------- subcommands
def _cmd_convert(argv: list[str]) -> None:
    """Convert an official NAS-Bench-201 .pth file or NATS-Bench folder into nasearch's table."""
    from nasearch.benchmarks.table import TABLE_RELPATH

    p = argparse.ArgumentParser(
        prog="nasearch convert",
        description="Convert an official NAS-Bench-201 .pth file or a NATS-Bench topology directory "
        f"into nasearch's table layout ({TABLE_RELPATH.name}).",
    )
    p.add_argument("source", help="NAS-Bench-201-v1_1-096897.pth, or a NATS-tss-v1_0-3ffb9-simple directory")
    p.add_argument("out", help=f"output table, e.g. {Path('data') / TABLE_RELPATH}")
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)
    from nasearch.benchmarks.official import convert_to_table

    try:
        n = convert_to_table(a.source, a.out, progress=not a.no_progress)
    except _user_errors() as exc:
        fail(str(exc))
    print(f"wrote {n} rows to {a.out}")


def _cmd_proxies(argv: list[str]) -> None:
    """List the registered proxies (name, direction, labels, data, BN, paper)."""
    argparse.ArgumentParser(prog="nasearch proxies", description="List the registered proxies.").parse_args(argv)
    from nasearch.proxies import all_proxies, get_proxy

    print(f"{'name':<17} {'better':<7} {'labels':<7} {'data':<10} {'BN':<4} paper")
    for s in all_proxies():
        s = get_proxy(s.name)  # an ensemble preset resolved: its members decide labels and data
        bn = f"members: {'+'.join(s.members)}; " if s.members else ""
        print(
            f"{s.name:<17} {'higher' if s.higher_is_better else 'lower':<7} {'yes' if s.needs_labels else 'no':<7} "
            f"{'data-free' if s.data_free else 'images':<10} {'-' if s.members else 'on' if s.bn else 'off':<4} "
            f"{bn}{s.paper}"
        )


def _cmd_strategies(argv: list[str]) -> None:
    """List the search strategies and their papers."""
    argparse.ArgumentParser(prog="nasearch strategies", description="List the search strategies.").parse_args(argv)
    from nasearch.strategies import get_strategy, strategy_names

    for n in strategy_names():
        print(f"{n:<10} {get_strategy(n).paper}")


def _cmd_collect(argv: list[str]) -> None:
    """Collect a multirun folder into one table (collected.csv/.md) with paired tests."""
    p = argparse.ArgumentParser(
        prog="nasearch collect", description="Collect a multirun directory into one table (collected.csv/.md)."
    )
    p.add_argument("directory")
    a = p.parse_args(argv)
    from nasearch.results import collect, markdown_table

    logging.basicConfig(level=logging.INFO, format="[%(levelname)s] %(message)s")
    try:
        summaries = collect(Path(a.directory))
    except FileNotFoundError as exc:
        fail(str(exc))
    print(markdown_table(summaries))


def _cmd_query(argv: list[str]) -> None:
    """Look up an arch in a benchmark: every dataset and fidelity."""
    from nasearch.benchmarks import ALIASES, BENCHMARKS
    from nasearch.benchmarks.table import TABLE_RELPATH

    auto = ALIASES["auto"]
    p = argparse.ArgumentParser(
        prog="nasearch query", description="Look up an arch in a benchmark (every dataset and fidelity)."
    )
    p.add_argument("arch", help="the benchmark's own arch string (NAS-Bench-201: |op~0|+|op~0|op~1|+|op~0|op~1|op~2|), "
                   "its index (NAS-Bench-201: the official NAS-Bench-201 / NATS-Bench index, 0..15624), or its choice "
                   "vector as comma-separated integers (NAS-Bench-201: 6 op ids)")
    p.add_argument("--benchmark", default="auto", help=f"{', '.join(BENCHMARKS)} or auto (default: {auto})")
    p.add_argument("--path", default=None, help=f"the benchmark's file (for {auto}: default "
                   f"$NASEARCH_DATA/{TABLE_RELPATH.as_posix()} if it exists, else the table embedded in the package)")
    a = p.parse_args(argv)
    from nasearch.benchmarks import benchmark_space, make_benchmark

    try:
        text = a.arch
        name = ALIASES.get(a.benchmark, a.benchmark)  # auto: the table embedded in the package
        where = "from nasearch query --benchmark/--path"
        space = benchmark_space(name, where=where)
        from nasearch.space import ArchError

        if "," in text and "|" not in text:
            arch = space.from_choices(tuple(int(x) for x in text.split(",")))
            if arch is None:
                raise ValueError(f"choice vector {text} is not an arch of space {space.name!r}")
        else:
            try:
                arch = space.parse(text, where="from nasearch query ARCH")
            except ArchError as exc:
                if not text.strip().isdigit():
                    raise
                try:
                    arch = space.parse(int(text), where="from nasearch query ARCH")
                except ArchError as exc2:
                    raise ArchError(f"{exc}; nor is it an index of the space: {exc2}") from exc2
        bench = make_benchmark(name, a.path, where=where)
        # "index" is the official index (NB201: NATS-Bench's), never nasearch's internal ordinal
        print(
            f"{space.to_string(arch)}  ({space.name} index {space.official_index(arch)}, "
            f"choices {','.join(map(str, space.to_choices(arch)))}, "
            f"{'trivial: output independent of input' if space.is_trivial(arch) else 'non-trivial'})"
        )
        for d in bench.datasets:
            for f in bench.fidelities:
                r = bench.query(arch, d, f)
                t = "" if r.train_seconds is None else f"  train {r.train_seconds:.1f} s"
                when = f"{f:>3} epochs" if f >= 0 else "final epoch"  # TransNAS-Bench-101: -1 = the task's final epoch
                print(f"  {bench.name} {d:<15} {when}: valid {r.valid_acc:.2f}  test {r.test_acc:.2f}{t}")
    except _user_errors() as exc:
        fail(str(exc))
    except ValueError as exc:
        fail(f"cannot read arch {a.arch!r}: {exc}")


def _cmd_scores(argv: list[str]) -> None:
    """List, export, import or merge stored proxy scores (the score store)."""
    p = argparse.ArgumentParser(
        prog="nasearch scores",
        description="List, export, import or merge stored proxy scores (the score store). "
        "`nasearch scores merge A B ... --into C` merges stores and/or exported tables idempotently "
        "(the same setting and cell twice is kept once; differing values are an error naming them).",
    )
    p.add_argument("action", choices=("list", "export", "import", "merge"))
    p.add_argument("file", nargs="*", help="score table to write (export) or read (import); .gz compresses; "
                   "merge: the source stores or tables")
    p.add_argument("--store", default=None, help="SQLite store (default $NASEARCH_CACHE/scores.sqlite or ~/.cache/nasearch)")
    p.add_argument("--proxy", default=None, help="export only this proxy's settings")
    p.add_argument("--into", default=None, help="merge: the store (or .csv/.csv.gz table) to merge into")
    a = p.parse_args(argv)
    from nasearch.scoring.store import ScoreStore, default_store_path
    from nasearch.scoring.tables import export_scores, import_scores

    if a.action == "merge":
        from nasearch.scoring.merge import merge_stores

        if not a.file or not a.into:
            fail("nasearch scores merge needs source stores or tables and --into TARGET, "
                 "e.g. nasearch scores merge shard_0.sqlite shard_1.sqlite --into scores.sqlite")
        try:
            rep = merge_stores(a.file, a.into)
        except _user_errors() as exc:
            fail(str(exc))
        print(f"merged {rep.sources} source(s) into {a.into}: {rep.rows_read} rows read, {rep.rows_added} new, "
              f"{rep.rows_kept_once} already there")
        return
    if a.action != "list" and len(a.file) != 1:
        fail(f"nasearch scores {a.action} needs one FILE argument, got {len(a.file)}")
    a.file = a.file[0] if a.file else None
    store_path = a.store or str(default_store_path())
    try:
        with ScoreStore(store_path) as store:
            if a.action == "list":
                for key in store.keys():
                    print(f"{store.count(key):>6} cells  {key.describe()}")
            elif a.action == "export":
                keys = [k for k in store.keys() if a.proxy is None or k.proxy == a.proxy]
                n = export_scores(store, a.file, keys)
                print(f"exported {n} scores of {len(keys)} setting(s) from {store_path} to {a.file}")
            else:
                n = import_scores(store, a.file)
                print(f"imported {n} new scores from {a.file} into {store_path}")
    except _user_errors() as exc:
        fail(str(exc))


def _cmd_cite(argv: list[str]) -> None:
    """Print the BibTeX of what a configuration or run folder uses (benchmark, strategy, proxies)."""
    p = argparse.ArgumentParser(
        prog="nasearch cite",
        description="Print the BibTeX of what a configuration uses: its benchmark, strategy and proxy "
        "(task=mpi: every proxy in mpi.proxies), the tools it builds on and nasearch itself. "
        "A sweep (strategy=rs,rea, or an experiment= preset's sweep) cites every job.",
    )
    p.add_argument("args", nargs="*", metavar="OVERRIDE|FOLDER",
                   help="KEY=VALUE overrides as for `nasearch`, or a finished run (or multirun) folder: "
                   "its .hydra/overrides.yaml is read")
    p.add_argument("--all", action="store_true", help="print every entry nasearch knows")
    p.add_argument("-m", "--multirun", action="store_true", help="accepted and ignored: a sweep is always expanded")
    a = p.parse_args(argv)
    from nasearch import cite

    try:
        text = cite.bibtex_all() if a.all else cite.bibtex_for(a.args)
    except _user_errors() as exc:
        fail(str(exc))
    print(text, end="")


SUBCOMMANDS = {
    "cite": _cmd_cite,
    "scores": _cmd_scores,
    "query": _cmd_query,
    "convert": _cmd_convert,
    "proxies": _cmd_proxies,
    "strategies": _cmd_strategies,
    "collect": _cmd_collect,
}


# ------------------------------------------------------------------------------ help, version, typos
TASK_HELP = {
    "search": "(default) seeded search runs of a strategy, optionally proxy-assisted, on a benchmark",
    "mpi": "rank correlations of proxies with trained accuracy (mpi.proxies, mpi.cells)",
    "score": "a proxy's score table over the space (or score.sample cells) into the score store",
    "evolve": "evolve an EZNAS proxy program (DEAP GP over cached network statistics)",
    "train_ghn": "train a Graph HyperNetwork on the benchmark's space (resumable)",
}


def _task_summary(name: str) -> str:
    """The first line of a task plugin's docstring (``nasearch.tasks``), for ``--help``."""
    from nasearch.tasks import get_task

    doc = (type(get_task(name)).__doc__ or "").strip()
    return doc.splitlines()[0] if doc else "(a task plugin)"


COMMON_COMMANDS = (
    ("nasearch experiment=headline", "REA vs REA + GradSign (N = 10), 500 paired runs (a sweep)"),
    ("nasearch strategy=rea proxy=gradsign proxy.n=10 runs=100", "one proxy-assisted search arm"),
)


def _subcommand_help(name: str) -> str:
    doc = (SUBCOMMANDS[name].__doc__ or "").strip()
    return doc.splitlines()[0] if doc else f"see nasearch {name} --help"


def help_text() -> str:
    """``nasearch --help``: usage, tasks, subcommands, config groups (with their accepted values,
    registry entries included), the common commands."""
    import textwrap

    from nasearch.config import TASKS

    width = max(len(k) for k in (*TASKS, *SUBCOMMANDS, *GROUPS)) + 2

    def rows(items: list[tuple[str, str]]) -> list[str]:
        return [textwrap.fill(v, 100, initial_indent=f"  {k:<{width}}", subsequent_indent=" " * (width + 2),
                              break_on_hyphens=False) for k, v in items]

    groups = [(g, ", ".join(group_options(g)) + (", null (default)" if g == "experiment" else "")) for g in GROUPS]
    cmd_width = max(len(c) for c, _ in COMMON_COMMANDS) + 2
    lines = [
        "usage: nasearch [-m] [KEY=VALUE ...]     run a task; -m sweeps comma-separated values (KEY=a,b)",
        "       nasearch SUBCOMMAND [ARGS ...]    a plain subcommand (nasearch SUBCOMMAND --help)",
        "       nasearch --help | --version",
        "",
        "tasks (task=NAME):",
        *rows([(t, TASK_HELP.get(t) or _task_summary(t)) for t in TASKS]),
        "",
        "subcommands:",
        *rows([(n, _subcommand_help(n)) for n in SUBCOMMANDS]),
        "",
        "config groups (GROUP=NAME):",
        *rows(groups),
        "",
        "common commands:",
        *[f"  {c:<{cmd_width}}{d}" for c, d in COMMON_COMMANDS],
        "",
        "every key: nasearch --cfg job (the composed config, overrides applied); Hydra's flags: nasearch --hydra-help",
    ]
    return "\n".join(lines)


def version_text() -> str:
    """``nasearch --version``: nasearch's version and torch's (read from the installed metadata)."""
    from importlib import metadata

    import nasearch

    try:
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:  # pragma: no cover - torch is a dependency
        torch_version = "not installed"
    return f"nasearch {nasearch.__version__} (torch {torch_version})"


def _check_subcommand(word: str) -> None:
    """A bare first word (no '=', no leading '-') is meant as a subcommand: name the nearest one."""
    import re

    from nasearch.suggest import did_you_mean

    if "=" in word or not re.fullmatch(r"[A-Za-z_][\w.-]*", word):
        return
    hint = did_you_mean(word, SUBCOMMANDS)
    if word in GROUPS or word == "task":
        hint += f" (for the config {'key' if word == 'task' else 'group'}: {word}=NAME)"
    fail(f"unknown subcommand {word!r}{hint or ';'} subcommands: {', '.join(SUBCOMMANDS)}; or give KEY=VALUE overrides "
         "(nasearch --help)")


def _check_output_dirs(overrides: list[str], multirun: bool = False) -> None:
    """The output folder must be creatable (Hydra itself would fail with a traceback): its nearest
    existing ancestor must be a writable folder. Checked for a hydra.run.dir / hydra.sweep.dir given
    on the command line (up to its first ``${...}``) and otherwise for Hydra's default, ``outputs/``
    (a run) or ``multirun/`` (a sweep) under the current folder."""
    import os

    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    given = {k: v for k, _, v in (ov.partition("=") for ov in overrides) if k in ("hydra.run.dir", "hydra.sweep.dir")}
    checks = [(k, v, v.split("${")[0] or ".", f"({k})") for k, v in given.items() if v]
    if key not in given:
        default = "multirun" if multirun else "outputs"
        checks.append((key, f"{default}/<task>/<time>", default, f"(Hydra's default {key}, under the current folder)"))
    for k, shown, value, origin in checks:
        path = Path(value).absolute()
        parent = next((p for p in (path, *path.parents) if p.exists()), None)
        if parent is None:
            continue
        fix = f"run from a writable folder or set {k}=PATH" if k not in given else f"set {k} to a writable folder"
        if not parent.is_dir():
            fail(f"cannot create the output folder {shown!r} {origin}: {str(parent)!r} is a file, not a folder; {fix}")
        if not os.access(parent, os.W_OK | os.X_OK):
            fail(f"cannot create the output folder {shown!r} {origin}: {str(parent)!r} is not writable; {fix}")


_PLANS: dict[str, object] = {}
"""Jobs checked by :func:`_check_run_folders`, by config, handed to the Hydra app in this process."""


def _plan_key(conf: object) -> str:
    import dataclasses
    import json

    return json.dumps(dataclasses.asdict(conf), sort_keys=True, default=str)  # type: ignore[call-overload]


def _output_folder(overrides: list[str], multirun: bool) -> Path:
    """The folder Hydra will write: ``hydra.run.dir``, or ``hydra.sweep.dir`` for a sweep."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(overrides)
    plain = [o.input_line for o in parsed if not o.is_sweep_override()]
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module=CONFIG_MODULE, version_base=None):
            cfg = compose(config_name="config", overrides=plain, return_hydra_config=True)
            return Path(str(cfg.hydra.sweep.dir if multirun else cfg.hydra.run.dir))
    finally:
        GlobalHydra.instance().clear()


def _check_run_folders(cfgs: list, overrides: list[str], multirun: bool) -> None:
    """Before Hydra creates or touches an output folder: every job's preconditions
    (:func:`nasearch.api.prepare`), then the folder's recorded settings
    (:mod:`nasearch.runfolder`): a folder holding results of other settings is refused (or moved
    aside with ``overwrite=true``) before a single file is written."""
    from nasearch.api import prepare
    from nasearch.runfolder import check_folder, check_sweep

    # the checks log as the job will (Hydra's job logging replaces this handler when the job starts)
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s] %(message)s", stream=sys.stderr)
    try:
        plans = [prepare(c) for c in cfgs]
        folder = _output_folder(overrides, multirun)
        if multirun:
            from nasearch.experiments.search import legacy_arms

            def legacy(job: Path) -> list[dict] | None:
                found = legacy_arms(job)
                return [{"arm": a} for a in found] if found else None

            check_sweep(folder, [p.fingerprint for p in plans], overwrite=any(c.overwrite for c in cfgs),
                        legacy=legacy)
        else:
            check_folder(folder, plans[0].fingerprint, overwrite=cfgs[0].overwrite, legacy=plans[0].legacy)
    except _user_errors() as exc:
        fail(str(exc))
    _PLANS.clear()
    _PLANS.update({_plan_key(c): p for c, p in zip(cfgs, plans)})


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        SUBCOMMANDS[argv[0]](argv[1:])
        return
    if argv[:1] == ["help"] or any(a in ("-h", "--help") for a in argv):
        print(help_text(), flush=True)
        return
    if any(a in ("-V", "--version") for a in argv):
        print(version_text(), flush=True)
        return
    if argv:
        _check_subcommand(argv[0])
    from nasearch.config import free_key_overrides

    argv = free_key_overrides(argv)
    hydra_flags = [a for a in argv if a.startswith("-")]
    if any(f in ("--hydra-help", "--info", "-c", "--cfg", "--resolve", "-p", "--package") for f in hydra_flags):
        sys.argv = [sys.argv[0], *argv]
        _hydra_app()
        return
    overrides = [a for a in argv if not a.startswith("-")]
    multirun = "-m" in argv or "--multirun" in argv or preset_is_multirun(overrides)
    cfgs = validate_overrides(overrides, multirun)
    _check_output_dirs(overrides, multirun)
    _check_run_folders(cfgs, overrides, multirun)
    sys.argv = [sys.argv[0], *argv]
    _hydra_app()


if __name__ == "__main__":  # pragma: no cover
    main()
