"""Plugins from other packages: a toy distribution (a proxy, a strategy, a space with its benchmark, an
executor and a task) is written into a temporary folder the way an installed package looks to
``importlib.metadata`` (the package plus a ``*.dist-info`` folder with ``METADATA`` and
``entry_points.txt``). Every check runs in a subprocess with that folder on ``PYTHONPATH``, since
registries are process-global: the plugins are found through their entry points, pass the contract
kit (``nasearch.testing``, run by pytest on the toy package's own test file, as a plugin author
would), become Hydra choices (``nasearch.api.config`` and the command line) and run a search end to
end. A name an entry point repeats, and an entry point that cannot load, are errors naming both
origins / the entry point and its distribution.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

TOY_SPACE = '''
"""A toy search space: 4 positions, each an identity, a 3x3 or a 1x1 ReLU-Conv-BN (81 archs)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from nasearch.space.base import ArchError, ProductSpace, index_of_codes, register_space
from nasearch.space.networks import with_generator

NAME = "toy_space"
FORM = "a toy arch 'toy:dddd' (4 codes 0..2), an index in 0..80, or a tuple of 4 codes"


@dataclass(frozen=True, slots=True, order=True)
class ToyArch:
    codes: tuple[int, ...]

    def __post_init__(self):
        c = self.codes
        if not isinstance(c, tuple) or len(c) != 4 or not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 3 for v in c
        ):
            raise ArchError(f"code tuple {c!r} is not an architecture of space {NAME!r}: expected {FORM}")

    @property
    def index(self) -> int:
        return index_of_codes(self.codes, 3)

    def to_string(self) -> str:
        return "toy:" + "".join(map(str, self.codes))

    def __str__(self) -> str:
        return self.to_string()


def _bn(c, bn):
    return nn.BatchNorm2d(c) if bn else nn.Identity()


class ToyNet(nn.Module):
    def __init__(self, arch, num_classes=10, bn=True):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), _bn(8, bn))
        ops = []
        for code in arch.codes:
            if code == 0:
                ops.append(nn.Identity())
            else:
                k = 3 if code == 1 else 1
                ops.append(nn.Sequential(nn.ReLU(), nn.Conv2d(8, 8, k, padding=k // 2, bias=False), _bn(8, bn)))
        self.cells = nn.Sequential(*ops)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(8, num_classes)

    def forward(self, x):
        return self.classifier(self.global_pooling(torch.relu(self.cells(self.stem(x)))).flatten(1))


@register_space
class ToySpace(ProductSpace):
    name = NAME
    num_archs = 81
    tasks = ("cifar10",)
    positions = (3, 3, 3, 3)
    Arch = ToyArch
    expected_form = FORM

    def _parse_string(self, text, where=""):
        s = text.strip()
        if not s.startswith("toy:") or len(s) != 8 or any(ch not in "012" for ch in s[4:]):
            at = f" ({where})" if where else ""
            raise ArchError(f"{text!r}{at} is not an architecture of space {NAME!r}: expected {FORM}")
        return ToyArch(tuple(int(ch) for ch in s[4:]))

    def to_choices(self, arch):
        return arch.codes

    def is_trivial(self, arch):
        return False

    def num_classes(self, task):
        self.check_task(task)
        return 10

    def input_size(self, task):
        self.check_task(task)
        return 32

    def build_network(self, arch, task="cifar10", *, bn=True, generator=None):
        self.check_task(task)
        arch = self.parse(arch)
        return with_generator(generator, lambda: ToyNet(arch, 10, bn))
'''

TOY_BENCHMARK = '''
"""A toy benchmark of the toy space: accuracy a fixed function of the arch."""

from __future__ import annotations

import numpy as np

import toy_plugins.space  # noqa: F401 - the space this benchmark answers for
from nasearch.benchmarks.base import BenchmarkError, Result, check_dataset, register_benchmark, resolve_fidelity
from nasearch.space import get_space


@register_benchmark("toy_bench", space="toy_space")
class ToyBenchmark:
    name = "toy_bench"
    datasets = ("cifar10",)
    fidelities = (10, 20)
    has_train_time = True

    def __init__(self, path=None, *, where=""):
        self.space = get_space("toy_space")
        codes = np.array([a.codes for a in self.space.all_archs()], dtype=float)
        self._acc = {f: 40 + 10 * (codes == 1).sum(axis=1) + 2 * (codes == 2).sum(axis=1) - (20 - f) for f in self.fidelities}
        self._secs = {f: 1.0 + f * (1 + (codes > 0).sum(axis=1)) for f in self.fidelities}

    def query(self, arch, dataset, fidelity=None):
        check_dataset(self, dataset)
        f = resolve_fidelity(self, fidelity)
        i = self.space.parse(arch).index
        return Result(float(self._acc[f][i]), float(self._acc[f][i]) - 0.5, float(self._secs[f][i]))

    def column(self, dataset, metric, fidelity=None):
        check_dataset(self, dataset)
        f = resolve_fidelity(self, fidelity)
        if metric == "valid_acc":
            return self._acc[f].copy()
        if metric == "test_acc":
            return self._acc[f] - 0.5
        if metric == "train_seconds":
            return self._secs[f].copy()
        raise BenchmarkError(f"unknown metric {metric!r}; accepted: valid_acc, test_acc, train_seconds")
'''

TOY_PROXY = '''
"""A toy data-free proxy: log(1 + |output|) of the network on an all-ones image.

Paper: none (a test plugin). Deviations: none, there is no reference code.
"""

from __future__ import annotations

import math

import torch

from nasearch.proxies.registry import register_proxy


@register_proxy("toy_proxy", paper="none: a toy plugin of nasearch's tests", data_free=True, bn=False)
def toy_proxy(net, batches, ctx):
    x = torch.ones_like(batches[0][0][:1])
    with torch.no_grad():
        out = net(x)
    return math.log1p(float(out.abs().sum()))
'''

TOY_STRATEGY = '''
"""A toy strategy: uniform samples of the space, learning nothing (random search without a memory).

Paper: none (a test plugin).
"""

from __future__ import annotations

from nasearch.strategies.base import Strategy, register_strategy


@register_strategy
class ToyStrategy(Strategy):
    name = "toy_strategy"
    paper = "none: a toy plugin of nasearch's tests"

    def ask(self, n=1):
        return [self.space.sample(self.rng) for _ in range(n)]

    def tell(self, arch, result, fidelity):
        pass
'''

TOY_EXECUTOR = '''
"""A toy executor: runs every chunk in this process, through the worker side every executor shares."""

from __future__ import annotations

from nasearch.executors import Executor, register_executor
from nasearch.executors.base import run_chunk


class ToyExecutor(Executor):
    name = "toy_executor"
    remote = False

    @property
    def parallelism(self):
        return 1

    def threads_per_worker(self):
        return None

    def map_chunks(self, job, chunks):
        for chunk in chunks:
            yield run_chunk(job, list(chunk))


@register_executor("toy_executor")
def make_toy_executor(**options):
    return ToyExecutor()
'''

TOY_TASK = '''
"""A toy task with its own config section (``toy.repeat``): writes one table naming the benchmark's space."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nasearch.runfolder import fingerprint
from nasearch.tasks import TaskPlan, register_task


@dataclass
class ToyConf:
    repeat: int = 1

    def check(self, space):
        if self.repeat < 1:
            raise ValueError(f"toy.repeat must be >= 1 (space {space.name}), got {self.repeat}")


@register_task
class ToyTask:
    name = "toy_task"
    section = "toy"
    conf = ToyConf
    keys = ("task", "benchmark", "seed", "toy")

    def prepare(self, cfg):
        return TaskPlan(self.name, fingerprint(cfg, {"benchmark.name": cfg.space().name}))

    def run(self, cfg, out_dir, plan):
        table = f"| task | space | seed |\\n|---|---|---|\\n| toy_task | {cfg.space().name} | {cfg.seed} |\\n" * cfg.toy.repeat
        (Path(out_dir) / "summary.md").write_text(table)
        return table
'''

TOY_CONTRACTS = '''
"""What a plugin author's test suite looks like: the contract kit, one subclass per plugin."""

from nasearch.testing import (
    BenchmarkContract,
    ExecutorContract,
    ProxyContract,
    SpaceContract,
    StoreContract,
    StrategyContract,
)


class TestToySpace(SpaceContract):
    name = "toy_space"
    proxies = ("toy_proxy", "params", "flops", "synflow", "naswot", "grad_norm")


class TestToyBenchmark(BenchmarkContract):
    name = "toy_bench"


class TestToyStrategy(StrategyContract):
    name = "toy_strategy"
    space = "toy_space"
    spaces = ("toy_space", "nb201")


class TestToyProxy(ProxyContract):
    name = "toy_proxy"
    spaces = ("toy_space", "nb201")


class TestToyExecutor(ExecutorContract):
    name = "toy_executor"
    space = "toy_space"


class TestStoreOnToySpace(StoreContract):
    space = "toy_space"
'''

ENTRY_POINTS = """
[nasearch.proxies]
toy_proxy = toy_plugins.proxy

[nasearch.strategies]
toy_strategy = toy_plugins.strategy:ToyStrategy

[nasearch.spaces]
toy_space = toy_plugins.space

[nasearch.benchmarks]
toy_bench = toy_plugins.benchmark

[nasearch.executors]
toy_executor = toy_plugins.executor

[nasearch.tasks]
toy_task = toy_plugins.task
"""


def write_distribution(root: Path, dist: str, package: str, modules: dict[str, str], entry_points: str) -> Path:
    """``root/package/<module>.py`` and ``root/<dist>-0.1.dist-info/{METADATA,entry_points.txt}``:
    what an installed distribution looks like to ``importlib.metadata``."""
    pkg = root / package
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text(f'"""{dist}: nasearch plugins for tests."""\n')
    for name, text in modules.items():
        (pkg / f"{name}.py").write_text(textwrap.dedent(text).lstrip())
    info = root / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points).lstrip())
    return root


@pytest.fixture(scope="module")
def toy_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    write_distribution(
        root, "toy-plugins", "toy_plugins",
        {"space": TOY_SPACE, "benchmark": TOY_BENCHMARK, "proxy": TOY_PROXY, "strategy": TOY_STRATEGY,
         "executor": TOY_EXECUTOR, "task": TOY_TASK},
        ENTRY_POINTS,
    )
    (root / "test_toy_contracts.py").write_text(textwrap.dedent(TOY_CONTRACTS).lstrip())
    return root


def run_python(code: str, *paths: Path, cwd: Path | None = None, args: tuple[str, ...] = (),
               timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -c code *args`` with ``paths`` (installed toy distributions) on ``PYTHONPATH``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*map(str, paths), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                          env=env, cwd=cwd or REPO, timeout=timeout)


def test_plugins_are_found_through_their_entry_points(toy_site: Path):
    proc = run_python(
        """
        import json
        from nasearch.benchmarks import BENCHMARK_SPACES, BENCHMARKS, benchmark_space, make_benchmark
        from nasearch.config import TASKS, registry_names
        from nasearch.executors import EXECUTORS, make_executor
        from nasearch.proxies import PROXIES, get_proxy, proxy_names
        from nasearch.space import get_space, space_names
        from nasearch.strategies import get_strategy, strategy_names

        print(json.dumps({
            "proxies": proxy_names(), "strategies": strategy_names(), "spaces": space_names(),
            "benchmarks": BENCHMARKS, "bench_space": BENCHMARK_SPACES["toy_bench"],
            "space_of_bench": benchmark_space("toy_bench").name, "executors": EXECUTORS,
            "groups": registry_names(),
            "proxy_module": get_proxy("toy_proxy").fn.__module__,
            "strategy": get_strategy("toy_strategy").__qualname__,
            "space": type(get_space("toy_space")).__qualname__,
            "bench": type(make_benchmark("toy_bench")).__qualname__,
            "executor": type(make_executor("toy_executor")).__qualname__,
            "origin": PROXIES.origin("toy_proxy"),
            "tasks": TASKS,
        }))
        """,
        toy_site,
    )
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "toy_proxy" in got["proxies"] and "zico" in got["proxies"]
    assert "toy_strategy" in got["strategies"] and "rea" in got["strategies"]
    assert "toy_space" in got["spaces"] and "nb201" in got["spaces"]
    # built-ins first, in their order, then the plugin
    assert got["benchmarks"][:2] == ["nb201", "analognas"] and got["benchmarks"][-1] == "toy_bench"
    assert got["bench_space"] == got["space_of_bench"] == "toy_space"
    assert got["executors"] == ["local", "ray", "toy_executor"]
    for group, name in (("proxy", "toy_proxy"), ("strategy", "toy_strategy"), ("benchmark", "toy_bench"),
                        ("executor", "toy_executor")):
        assert name in got["groups"][group]
    assert got["proxy_module"] == "toy_plugins.proxy"
    assert (got["strategy"], got["space"], got["bench"], got["executor"]) == (
        "ToyStrategy", "ToySpace", "ToyBenchmark", "ToyExecutor")
    assert "toy_plugins.proxy" in got["origin"] and "entry point 'toy_proxy'" in got["origin"]
    assert "distribution toy-plugins 0.1" in got["origin"]
    assert got["tasks"][-1] == "toy_task"


def test_plugins_pass_the_contract_kit(toy_site: Path):
    """The toy package's own test file (subclasses of the kit's contracts, as a plugin author writes
    them), run by pytest with the toy distribution installed."""
    proc = run_python(
        """
        import sys
        import pytest
        sys.exit(pytest.main(["-q", "-x", "-p", "no:cacheprovider", "test_toy_contracts.py"]))
        """,
        toy_site, cwd=toy_site, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    summary = proc.stdout.strip().splitlines()[-1]
    assert "passed" in summary and "failed" not in summary and "error" not in summary, summary
    # every contract ran: the space, benchmark, strategy, proxy, executor and store classes
    for cls in ("TestToySpace", "TestToyBenchmark", "TestToyStrategy", "TestToyProxy", "TestToyExecutor",
                "TestStoreOnToySpace"):
        listing = run_python(
            f"""
            import sys
            import pytest
            sys.exit(pytest.main(["-q", "--collect-only", "-p", "no:cacheprovider", "test_toy_contracts.py::{cls}"]))
            """,
            toy_site, cwd=toy_site,
        )
        assert listing.returncode == 0 and f"{cls}::test_" in listing.stdout, (cls, listing.stdout[-2000:])


def test_plugins_are_hydra_choices_and_run(toy_site: Path, tmp_path: Path):
    proc = run_python(
        """
        import json
        import sys
        import nasearch.api as nas

        cfg = nas.config("proxy=toy_proxy", "proxy.n=10")
        st = nas.config("strategy=toy_strategy")
        bench = nas.config("benchmark=toy_bench", "strategy=toy_strategy", "executor=toy_executor")
        result = nas.run("benchmark=toy_bench", "strategy=toy_strategy", "proxy=toy_proxy", "proxy.n=3",
                         "proxy.source=live", "runs=3", "budget.seconds=200", "progress=false",
                         out_dir=sys.argv[1])
        from nasearch.config import TASKS
        from nasearch.errors import NasearchError

        task_cfg = nas.config("task=toy_task", "benchmark=toy_bench", "seed=3")
        table = nas.run_task(task_cfg, sys.argv[2])
        again = nas.run_task(task_cfg, sys.argv[2])  # the same settings: resumes
        try:
            nas.run_task(nas.config("task=toy_task", "benchmark=toy_bench", "seed=4"), sys.argv[2])
            refused = ""
        except NasearchError as exc:
            refused = str(exc)
        twice = nas.run_task(nas.config("task=toy_task", "benchmark=toy_bench", "seed=3", "toy.repeat=2"),
                             sys.argv[2] + "_twice")
        try:
            nas.config("task=toy_task", "benchmark=toy_bench", "toy.repeat=0")
            bad_section = ""
        except ValueError as exc:
            bad_section = str(exc)
        print(json.dumps({"proxy": [cfg.proxy.name, cfg.proxy.n], "strategy": st.strategy.name,
                          "space": bench.space().name, "executor": bench.executor.name,
                          "runs": len(result.runs), "tasks": TASKS, "table": table, "again": again,
                          "refused": refused, "twice": twice, "bad_section": bad_section}))
        """,
        toy_site, args=(str(tmp_path / "run"), str(tmp_path / "task")),
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["proxy"] == ["toy_proxy", 10] and got["strategy"] == "toy_strategy"
    assert got["space"] == "toy_space" and got["executor"] == "toy_executor"
    assert got["runs"] == 3
    # a task plugin: listed after the built-ins, run through nasearch.api, its folder fingerprinted
    assert got["tasks"] == ["search", "mpi", "score", "train_ghn", "evolve", "toy_task"]
    assert got["table"] == got["again"] == "| task | space | seed |\n|---|---|---|\n| toy_task | toy_space | 3 |\n"
    assert "seed" in got["refused"] and "3" in got["refused"] and "4" in got["refused"]
    # its own config section: in the schema, checked by its dataclass when the task runs
    assert got["twice"] == got["table"] * 2
    assert got["bad_section"] == "toy.repeat must be >= 1 (space toy_space), got 0"
    # the command line composes it too (Hydra's --cfg job prints the composed config, runs nothing)
    cli = run_python(
        """
        import sys
        from nasearch.cli import main
        sys.argv = ["nasearch"]
        main(["--cfg", "job", "proxy=toy_proxy", "proxy.n=10", "strategy=toy_strategy", "benchmark=toy_bench"])
        """,
        toy_site, cwd=tmp_path,
    )
    assert cli.returncode == 0, cli.stderr[-3000:]
    assert "name: toy_proxy" in cli.stdout and "name: toy_strategy" in cli.stdout and "name: toy_bench" in cli.stdout
    help_text = run_python("from nasearch.cli import main; main(['--help'])", toy_site, cwd=tmp_path)
    assert help_text.returncode == 0
    for name in ("toy_proxy", "toy_strategy", "toy_bench", "toy_executor", "toy_task"):
        assert name in help_text.stdout, name


def test_a_duplicate_name_from_an_entry_point_names_both(tmp_path: Path):
    """A plugin repeating a built-in's name (proxy 'synflow'), or another plugin's (strategy
    'toy_strategy' from two distributions): the error names both origins."""
    write_distribution(tmp_path / "a", "dup-plugins", "dup_plugins", {
        "proxy": TOY_PROXY.replace('register_proxy("toy_proxy"', 'register_proxy("synflow"'),
        "strategy": TOY_STRATEGY,
    }, "[nasearch.proxies]\nsynflow = dup_plugins.proxy\n\n[nasearch.strategies]\ntoy_strategy = dup_plugins.strategy\n")
    write_distribution(tmp_path / "b", "dup-plugins-two", "dup_plugins_two", {"strategy": TOY_STRATEGY},
                       "[nasearch.strategies]\ntoy_strategy = dup_plugins_two.strategy\n")
    proc = run_python(
        """
        from nasearch.proxies import ProxyError, proxy_names
        from nasearch.strategies import StrategyError, strategy_names
        for kind, names, error in (("proxy", proxy_names, ProxyError), ("strategy", strategy_names, StrategyError)):
            try:
                names()
            except error as exc:
                print(f"{kind}: {exc}")
            else:
                print(f"{kind}: no error")
        """,
        tmp_path / "a", tmp_path / "b",
    )
    assert proc.returncode == 0, proc.stderr
    proxy_line = next(line for line in proc.stdout.splitlines() if line.startswith("proxy: "))
    assert "proxy 'synflow' is registered twice" in proxy_line
    assert "nasearch.proxies.synflow" in proxy_line and "dup_plugins.proxy" in proxy_line
    assert "entry point 'synflow'" in proxy_line and "distribution dup-plugins 0.1" in proxy_line
    strategy_line = next(line for line in proc.stdout.splitlines() if line.startswith("strategy: "))
    assert "strategy 'toy_strategy' is registered twice" in strategy_line
    assert "dup_plugins.strategy" in strategy_line and "dup_plugins_two.strategy" in strategy_line
    assert "distribution dup-plugins 0.1" in strategy_line and "distribution dup-plugins-two 0.1" in strategy_line


def test_a_broken_entry_point_names_it_and_its_distribution(tmp_path: Path):
    write_distribution(tmp_path, "broken-plugins", "broken_plugins",
                       {"proxy": "raise RuntimeError('this plugin is broken')\n"},
                       "[nasearch.proxies]\nbroken = broken_plugins.proxy\n")
    proc = run_python(
        """
        from nasearch.proxies import ProxyError, get_proxy
        try:
            get_proxy("zico")
        except ProxyError as exc:
            print(exc)
        """,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "entry point 'broken' = 'broken_plugins.proxy'" in proc.stdout
    assert "group 'nasearch.proxies'" in proc.stdout and "distribution broken-plugins 0.1" in proc.stdout
    assert "RuntimeError: this plugin is broken" in proc.stdout


def test_registry_in_process(monkeypatch: pytest.MonkeyPatch):
    """The Registry type itself: decorator and call forms, the same object twice is a no-op, a
    duplicate names both origins, unknown names list the accepted ones with a suggestion, built-ins
    load lazily from the listed modules only."""
    from nasearch.errors import NasearchError
    from nasearch.registry import Registry, RegistryError

    class ThingError(NasearchError):
        pass

    reg: Registry[object] = Registry("thing", error=ThingError, builtins=("json",), group="nasearch.test-things")
    assert reg.group == "nasearch.test-things" and Registry("proxy").group == "nasearch.proxies"

    @reg.register("alpha")
    def alpha() -> None: ...

    def beta() -> None: ...

    assert reg.register("beta", beta) is beta and reg.register("beta", beta) is beta
    assert reg.names() == ("alpha", "beta") and reg.get("alpha") is alpha and "beta" in reg
    with pytest.raises(ThingError, match=r"thing 'beta' is registered twice: by .*test_plugins.*beta and by x\.y"):
        reg.register("beta", alpha, origin="x.y")
    with pytest.raises(ThingError, match=r"unknown thing 'alhpa' \(config key t\); accepted: alpha, beta; did you mean 'alpha'\?"):
        reg.get("alhpa", where="config key t")
    assert issubclass(RegistryError, NasearchError)
