"""EZNAS evolution: genetic programming (DEAP) of programs that rank cells like trained accuracy.

Akhauri et al., "EZNAS: Evolving Zero-Cost Proxies For Neural Architecture Scoring" (NeurIPS 2022),
Sec. 3.3 and the authors' ``evol_config.yaml`` (population 50, offspring 50, 10 generations, VarOr
with crossover 0.4 / mutation 0.4, tournaments of 4, initial trees of depth 2-6).

Algorithm (a (mu + lambda) loop written around DEAP's own operators so that every generation can be
checkpointed): the initial population is ``genHalfAndHalf`` trees over the typed primitive set of
:mod:`nasearch.eznas.program`; each generation makes ``offspring`` children with
``deap.algorithms.varOr`` (one-point crossover ``cxOnePoint`` or uniform subtree mutation
``mutUniform`` with ``genFull`` subtrees of height 0-2, both limited to height 10 by
``gp.staticLimit``), evaluates the new ones and keeps ``population`` individuals by tournament
selection among parents and children. A hall of fame keeps the best distinct programs (by text).

Fitness: Kendall's tau-b (scipy) between the program's cell scores on the evolution task (cached,
subsampled statistics: :mod:`nasearch.eznas.cache`) and the cells' trained accuracy
(``evolve.metric`` of ``evolve.target``; the authors used NB201's validation accuracy). Cells the
program cannot score (NaN, inf, every instance failing) rank below every other cell; a program
that ranks no two cells apart gets -1 (as bad as a perfectly inverted ranking). Ranking unscorable
cells last rewards a program for failing on poor cells (the published generation-10 program of
``experiments/eznas`` cannot score 2,513 of NB201's 15,284 connected cells, 16%, and its full-space
rho falls from .784 to .693 on the cells it can score), so the fitness subtracts
``unscorable_penalty`` times the fraction of task cells the program cannot score (``evolve.unscorable_penalty``,
default 1: a program failing on 16% of the cells loses .16 of tau; 0 is the authors' fitness, which is
the same tau, their ``evaluateIndividual``, -1000 for a crash). Evaluation runs in
``workers`` processes (one torch thread each) with a progress bar; programs are deterministic, so
results do not depend on the number of workers, and each distinct text is evaluated once.

Randomness: DEAP draws from Python's ``random`` module. Evolution keeps its own ``random.Random``
state, installs it only around DEAP calls and puts the caller's state back, and writes it into every
checkpoint (JSON: version, 625 words, gauss). Checkpoint (``checkpoint.json``, written atomically
after the initial population and after every generation): the settings, the generation, the
population and hall of fame as program texts with fitness, the random state, the per-generation log
and the fitness memo. A killed run resumes from the last checkpoint and ends exactly where an
uninterrupted run with the same settings ends; ``generations`` may be raised on resume to continue.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import operator
import os
import random
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from deap import algorithms, base, gp, tools
from tqdm.auto import tqdm

from nasearch.errors import NasearchError
from nasearch.executors.pool import process_pool
from nasearch.eznas.program import (
    MAX_DEPTH,
    PRIMITIVES,
    Node,
    Tensor,
    cell_scores,
    parse,
)
from nasearch.eznas.statistics import STAT_NAMES, StatGroup

log = logging.getLogger(__name__)

FAIL_FITNESS = -1.0
CHECKPOINT_VERSION = 1


class EvolveError(NasearchError):
    """A checkpoint that does not match the run's settings, or is corrupt."""


# ------------------------------------------------------------------------------------ DEAP setup
def make_pset() -> gp.PrimitiveSetTyped:
    """DEAP's typed primitive set of the language. Every argument is a Tensor and a Scalar is a
    Tensor, so DEAP sees every primitive as returning Tensor: DEAP's subtree mutation regenerates a
    subtree of the replaced node's return type and would need Scalar-typed terminals, which the
    language has none of (the arity check is the same either way)."""
    pset = gp.PrimitiveSetTyped("EZNAS", [Tensor] * len(STAT_NAMES), Tensor)
    pset.renameArguments(**{f"ARG{i}": n for i, n in enumerate(STAT_NAMES)})
    for p in PRIMITIVES.values():
        pset.addPrimitive(p.fn, [Tensor] * p.arity, Tensor, name=p.name)
    return pset


class FitnessMax(base.Fitness):
    weights = (1.0,)


class Individual(gp.PrimitiveTree):
    """A program body as a DEAP tree, with a fitness (DEAP's ``creator`` would make this globally)."""

    def __init__(self, content):
        super().__init__(content)
        self.fitness = FitnessMax()


def to_individual(node: Node, pset: gp.PrimitiveSetTyped) -> Individual:
    out = []

    def walk(n: Node) -> None:
        out.append(pset.mapping[n.name])
        for a in n.args:
            walk(a)

    walk(node)
    return Individual(out)


def to_node(ind: gp.PrimitiveTree) -> Node:
    def build(i: int) -> tuple[Node, int]:
        item = ind[i]
        if item.arity == 0:
            return Node(str(item.value)), i + 1  # an argument terminal: value is its (renamed) name
        args = []
        j = i + 1
        for _ in range(item.arity):
            a, j = build(j)
            args.append(a)
        return Node(item.name, tuple(args)), j

    node, end = build(0)
    assert end == len(ind)
    return node


def make_toolbox(pset: gp.PrimitiveSetTyped, conf) -> base.Toolbox:
    tb = base.Toolbox()
    tb.register("expr", gp.genHalfAndHalf, pset=pset, min_=conf.init_min_depth, max_=conf.init_max_depth)
    tb.register("individual", tools.initIterate, Individual, tb.expr)
    tb.register("population", tools.initRepeat, list, tb.individual)
    tb.register("select", tools.selTournament, tournsize=conf.tournament)
    tb.register("mate", gp.cxOnePoint)
    tb.register("expr_mut", gp.genFull, min_=0, max_=2)
    tb.register("mutate", gp.mutUniform, expr=tb.expr_mut, pset=pset)
    limit = gp.staticLimit(key=operator.attrgetter("height"), max_value=MAX_DEPTH)
    tb.decorate("mate", limit)
    tb.decorate("mutate", limit)
    return tb


class RandomState:
    """Evolution's own Python ``random`` state, installed only around DEAP calls."""

    def __init__(self, seed: int | None = None, state: tuple | None = None):
        self.state = state if state is not None else random.Random(seed).getstate()

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        saved = random.getstate()
        random.setstate(self.state)
        try:
            yield
        finally:
            self.state = random.getstate()
            random.setstate(saved)

    def to_json(self) -> list:
        version, words, gauss = self.state
        return [version, list(words), gauss]

    @classmethod
    def from_json(cls, data: list) -> RandomState:
        version, words, gauss = data
        return cls(state=(int(version), tuple(int(w) for w in words), gauss))


# ------------------------------------------------------------------------------------ fitness
def rank_scores(scores: np.ndarray) -> np.ndarray:
    """NaN/inf scores moved below every finite one (never preferred)."""
    s = np.asarray(scores, dtype=np.float64).copy()
    bad = ~np.isfinite(s)
    if bad.all():
        return np.zeros_like(s)
    s[bad] = s[~bad].min() - 1.0
    return s


def correlation(scores: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """(Kendall tau-b, Spearman rho) of never-preferred-adjusted scores; (-1, -1) if undefined."""
    from scipy.stats import kendalltau, spearmanr

    s = rank_scores(scores)
    if np.all(s == s[0]):
        return FAIL_FITNESS, FAIL_FITNESS
    tau = float(kendalltau(s, target).statistic)
    rho = float(spearmanr(s, target).statistic)
    return (tau if math.isfinite(tau) else FAIL_FITNESS), (rho if math.isfinite(rho) else FAIL_FITNESS)


class Evaluator:
    """Program text -> (tau, rho) on cached statistics of cells with known accuracies."""

    def __init__(self, groups: Sequence[StatGroup], target: np.ndarray, unscorable_penalty: float = 0.0):
        self.groups = list(groups)
        self.target = np.asarray(target, dtype=np.float64)
        self.unscorable_penalty = float(unscorable_penalty)

    def scores(self, text: str) -> np.ndarray:
        return cell_scores(parse(text), self.groups, len(self.target))

    def __call__(self, text: str) -> tuple[float, float]:
        """(fitness tau, rho): Kendall tau minus ``unscorable_penalty`` times the fraction of cells the
        program cannot score (never below the failure value), and Spearman rho unpenalised."""
        scores = self.scores(text)
        tau, rho = correlation(scores, self.target)
        failed = float(np.mean(~np.isfinite(scores))) if len(scores) else 0.0
        if tau != FAIL_FITNESS and self.unscorable_penalty and failed:
            tau = max(FAIL_FITNESS, tau - self.unscorable_penalty * failed)
        return tau, rho


_W: dict = {}


def _init_worker(loader: Callable[[], Evaluator]) -> None:
    torch.set_num_threads(1)
    _W["ev"] = loader()


def _work(text: str) -> float:
    return _W["ev"](text)[0]


class Fitness:
    """Memoised, optionally parallel evaluation of program texts (tau on the evolution task)."""

    def __init__(self, loader: Callable[[], Evaluator], workers: int = 1, progress: bool = True,
                 memo: dict[str, float] | None = None):
        self.loader = loader
        self.workers = workers
        self.progress = progress
        self.memo: dict[str, float] = dict(memo or {})
        self._local: Evaluator | None = None
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Fitness:
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)

    def evaluate(self, texts: Sequence[str], desc: str,
                 on_result: Callable[[int], None] | None = None) -> list[float]:
        todo = list(dict.fromkeys(t for t in texts if t not in self.memo))
        bar = tqdm(total=len(todo), desc=desc, unit="prog", disable=not self.progress or not todo)
        try:
            if self._pool is None and self._local is None:
                self._pool = process_pool(self.workers, initializer=_init_worker, initargs=(self.loader,),
                                          what="EZNAS fitness")
            if self._pool is None:
                if self._local is None:
                    self._local = self.loader()
                results: Iterator[float] = (self._local(t)[0] for t in todo)
            else:
                results = self._pool.map(_work, todo)
            for k, (t, f) in enumerate(zip(todo, results)):
                self.memo[t] = float(f)
                bar.update(1)
                if on_result is not None:
                    on_result(k)
        finally:
            bar.close()
        return [self.memo[t] for t in texts]


# ------------------------------------------------------------------------------------ the loop
@dataclass
class EvolveResult:
    hall_of_fame: list[tuple[str, float]]
    """(program text, task fitness), best first."""
    log: list[dict]
    generations: int
    resumed_from: int | None


def _text(ind: gp.PrimitiveTree, aggregate: str) -> str:
    return f"{aggregate}({ind})"


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def evolve(
    conf,
    fitness: Fitness,
    checkpoint: str | os.PathLike[str],
    *,
    identity: dict | None = None,
    progress: bool = True,
    on_evaluated: Callable[[int, int], None] | None = None,
) -> EvolveResult:
    """Run (or resume) the evolution described by ``conf`` (an :class:`~nasearch.config.EvolveConf`).

    ``identity``: settings beyond ``conf`` that a resumed checkpoint must match (the task cells,
    the statistics cache). ``on_evaluated(generation, k)`` is called after each new evaluation (tests
    use it to interrupt a run mid-generation).
    """
    ckpt = Path(checkpoint)
    pset = make_pset()
    tb = make_toolbox(pset, conf)
    # what the evolution's course depends on (not: how long, where, how many workers, validation)
    ignored = ("generations", "checkpoint", "cache_dir", "workers", "validation_cells")
    settings = {k: v for k, v in asdict(conf).items() if k not in ignored}
    settings["identity"] = identity or {}

    def individual(text: str, fit: float) -> Individual:
        ind = to_individual(parse(text).body, pset)
        ind.fitness.values = (fit,)
        return ind

    hof = tools.HallOfFame(conf.hall_of_fame, similar=lambda a, b: str(a) == str(b))
    resumed_from = None
    if ckpt.exists():
        try:
            data = json.loads(ckpt.read_text())
            if data.get("version") != CHECKPOINT_VERSION:
                raise EvolveError(f"checkpoint version {data.get('version')!r}, expected {CHECKPOINT_VERSION}")
        except (OSError, json.JSONDecodeError) as exc:
            raise EvolveError(f"cannot read the evolution checkpoint {ckpt}: {exc}; delete it to start over") from exc
        if data["settings"] != settings:
            diff = sorted(k for k in set(settings) | set(data["settings"])
                          if settings.get(k) != data["settings"].get(k))
            raise EvolveError(
                f"the evolution checkpoint {ckpt} was written with other settings ({', '.join(diff)}); "
                "use another evolve.checkpoint / run directory, or delete it to start over"
            )
        gen = int(data["generation"])
        rng = RandomState.from_json(data["random_state"])
        population = [individual(t, f) for t, f in data["population"]]
        for t, f in reversed(data["hall_of_fame"]):
            hof.insert(individual(t, f))
        history = list(data["log"])
        fitness.memo.update(data.get("memo", {}))
        resumed_from = gen
        log.info("resuming the evolution from generation %d of %s", gen, ckpt)
    else:
        gen = 0
        rng = RandomState(conf.seed)
        history = []
        population = None

    def assign(inds: list[Individual], g: int) -> int:
        invalid = [ind for ind in inds if not ind.fitness.valid]
        texts = [_text(ind, conf.aggregate) for ind in invalid]
        cb = None if on_evaluated is None else (lambda k: on_evaluated(g, k))
        for ind, f in zip(invalid, fitness.evaluate(texts, f"gen {g}", cb)):
            ind.fitness.values = (f,)
        return len(invalid)

    def record(g: int, pop: list[Individual], nevals: int) -> None:
        fits = [ind.fitness.values[0] for ind in pop]
        history.append({"generation": g, "evaluations": nevals, "max": max(fits), "mean": float(np.mean(fits)),
                        "best": _text(hof[0], conf.aggregate) if len(hof) else ""})
        _write_json(ckpt, {
            "version": CHECKPOINT_VERSION,
            "settings": settings,
            "generation": g,
            "population": [[_text(i, conf.aggregate), i.fitness.values[0]] for i in pop],
            "hall_of_fame": [[_text(i, conf.aggregate), i.fitness.values[0]] for i in hof],
            "random_state": rng.to_json(),
            "log": history,
            "memo": fitness.memo,
        })
        log.info("generation %d: %d evaluations, best tau %.4f, mean %.4f", g, nevals, max(fits), float(np.mean(fits)))

    if population is None:
        with rng.active():
            population = tb.population(n=conf.population)
        nevals = assign(population, 0)
        hof.update(population)
        record(0, population, nevals)
    for g in range(gen + 1, conf.generations + 1):
        with rng.active():
            offspring = algorithms.varOr(population, tb, conf.offspring, conf.cxpb, conf.mutpb)
        nevals = assign(offspring, g)
        hof.update(offspring)
        with rng.active():
            population = tb.select(population + offspring, conf.population)
        record(g, population, nevals)
    return EvolveResult(
        hall_of_fame=[(_text(i, conf.aggregate), i.fitness.values[0]) for i in hof],
        log=history,
        generations=max(gen, conf.generations),
        resumed_from=resumed_from,
    )


def single_statistic_programs(aggregate: str = "net_mean") -> list[str]:
    """The baselines a program must beat: one statistic, reduced by mean, mean |x| or Frobenius norm."""
    return [f"{aggregate}({r}({s}))" for s in STAT_NAMES for r in ("mean", "l1_mean", "frob_norm")]


__all__ = [
    "FAIL_FITNESS",
    "EvolveError",
    "EvolveResult",
    "Evaluator",
    "Fitness",
    "RandomState",
    "correlation",
    "evolve",
    "make_pset",
    "make_toolbox",
    "single_statistic_programs",
    "to_individual",
    "to_node",
]
