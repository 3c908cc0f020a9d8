"""Any Optuna sampler as a search strategy: Optuna (Akiba, Sano, Yanase, Ohta & Koyama, Optuna: A
next-generation hyperparameter optimization framework, KDD 2019) drives the ask/tell loop through its
own ask-and-tell interface, one Optuna trial per proposal.

**Search space.** One Optuna distribution per position of the space's fixed-length encoding
(``space.positions``, named ``space.config_names()``, the names BOHB's ConfigSpace description uses;
NB201: the ops of the 6 edges ``1<-0`` ... ``3<-2``, 5 choices each): ``CategoricalDistribution(0..K_p-1)``
for every sampler except CMA-ES, which has no categorical variables (Optuna would hand categoricals to
its independent random sampler) and searches ``IntDistribution(0, K_p - 1)`` instead: the codes are
treated as ordered integers and CMA-ES rounds its continuous samples to them. A trial's parameters are
the choice vector; ``space.from_choices`` maps it to an arch.

**Samplers** (``sampler=``; each is Optuna's class, constructed with ``seed`` and ``sampler_params``):

* ``tpe`` (default): ``TPESampler``, the tree-structured Parzen estimator (Bergstra, Bardenet, Bengio
  & Kegl, Algorithms for hyper-parameter optimization, NeurIPS 2011; Optuna's defaults follow Watanabe,
  Tree-structured Parzen estimator: understanding its algorithm components, 2023). After
  ``n_startup_trials=10`` random trials it splits the completed trials into the best
  ``gamma(n) = min(ceil(0.1 n), 25)`` and the rest, fits a Parzen estimator to each, ``l(x)`` and
  ``g(x)`` (categorical kernels with a uniform prior), draws ``n_ei_candidates=24`` samples from
  ``l`` and proposes the one maximising ``l(x) / g(x)``. Optuna 5.1's defaults, kept here: the
  multivariate TPE (one joint kernel per trial) for a single objective, and the constant liar
  (running trials count as bad ones).
* ``gp``: ``GPSampler``, Gaussian-process Bayesian optimisation (Snoek, Larochelle & Adams, Practical
  Bayesian optimization of machine learning algorithms, NeurIPS 2012), Optuna's implementation: a
  Matern-5/2 ARD kernel whose categorical dimensions use the Hamming distance (two choice vectors are
  at distance ``sum_p [x_p != y_p]`` scaled per position), hyperparameters by MAP under Optuna's
  priors, log expected improvement (Ament et al., NeurIPS 2023) maximised over the categories by
  exhaustive/local search; ``n_startup_trials=10`` random trials first. The sampler's PyTorch work
  runs on one thread (Optuna's own advice; restored afterwards), which makes it about 15x faster on a
  busy 2-core machine and keeps its floating-point reductions from depending on the core count.
* ``cmaes``: ``CmaEsSampler`` (Hansen, The CMA evolution strategy: a tutorial, arXiv:1604.00772, 2016;
  Optuna's sampler over the ``cmaes`` package of Nomura & Shibata), on the integer codes above:
  ``popsize = 4 + floor(3 ln d)`` (d = number of positions), the first trial random
  (``n_startup_trials=1``), the mean initialised at the centre of the box. ``with_margin: true``
  (CMA-ES with margin, Hamano et al., GECCO 2022) keeps integer variables from collapsing onto one
  value; off by default as in Optuna. Needs the ``cmaes`` package.
* ``nsga2``: ``NSGAIISampler`` (Deb, Pratap, Agarwal & Meyarivan, A fast and elitist multiobjective
  genetic algorithm: NSGA-II, IEEE TEC 2002). With the single objective here its non-dominated
  sorting is plain ranking by validation accuracy, so it works as an elitist single-objective genetic
  algorithm: generations of ``population_size=50``, parents by binary tournament, uniform crossover
  (``crossover_prob=0.9``, ``swapping_prob=0.5``), each position mutated with probability ``1/d``.
  With several objectives (a multi-objective search, ``num_objectives > 1``) it is NSGA-II proper:
  parents and survivors by non-dominated rank, then crowding distance.
* ``random``: ``RandomSampler``, uniform over the choice vectors (random search, Bergstra & Bengio,
  JMLR 2012); on a space whose enumeration is not every vector (TransNAS-Bench-101 macro) that is
  uniform over the archs too, by rejection (see invalid vectors).
* ``qmc``: ``QMCSampler``, a scrambled Sobol' sequence (Sobol', 1967; scipy's ``qmc.Sobol``) over the
  choice vectors, each categorical position taking one coordinate in ``[0, K_p)`` floored: a
  low-discrepancy design instead of independent uniform draws.
* ``bruteforce``: ``BruteForceSampler``, exhaustive enumeration in a random order: random search
  without replacement (told, failed and screened-out vectors are never proposed again while unseen
  ones remain; after that it draws uniformly).

Every value in ``sampler_params`` goes to the sampler's constructor as is (e.g.
``{n_startup_trials: 10, multivariate: true}`` for TPE, ``{population_size: 20}`` for NSGA-II); a
key that is not one of the constructor's parameters is refused, naming the key, the sampler and the
accepted keys. ``seed`` is not a sampler param: it is one draw from the strategy's generator at
construction (so the run seed fixes the whole trajectory, in another process too; every sampler's own
random streams, its independent sampler's included, come from that seed).

**Multi-objective search.** ``num_objectives=m > 1`` (the search task passes the number of
``search.objectives``) makes the study maximise the ``m`` values the runner tells with each result
(``Result.objectives``, each oriented so higher is better): NSGA-II, TPE (Optuna's multi-objective
TPE, Ozaki et al., GECCO 2020 / JAIR 2022), GP (log expected hypervolume improvement), random, QMC and
brute force take it; CMA-ES is refused (single objective only). A non-arch vector is told the worst
value of each objective so far.

**Ask/tell.** The study maximises the validation accuracy the runner tells (at whatever fidelity it
was evaluated; the strategy is single-fidelity, ``fidelity_for`` leaves it to the runner) and lives
in an in-memory storage. ``ask(n)`` asks Optuna for ``n`` trials in a row (``study.ask`` with the
distributions above) and returns their archs. A choice vector that is not an arch of the space
(``from_choices`` is None; TransNAS-Bench-101 macro, where 3,256 of 15,625 vectors are archs) is told
to Optuna as a completed trial with the *worst* value told so far (as FAIL while nothing has been
told) and another trial is asked, at most ``MAX_INVALID = 200`` times in a row per proposal, then a
:class:`StrategyError`. Telling it FAIL instead teaches the sampler nothing: TPE, whose good-set
density piles up where the best archs are, and GP, whose acquisition optimum does not move, then
propose the same non-arch vectors until the bound (both did in the contract on TransNAS-Bench-101
macro); with the worst value TPE needs ~1 retry per proposal there instead of ~14 (random: ~4).
``tell(arch, result, fidelity)`` tells the trial that proposed ``arch`` (the oldest such trial still
running) its value; a NaN result is told as FAIL. A result for an arch with no
running trial (told after it was failed as forgotten, or never asked) is added to the study as a
completed trial (``study.add_trial``), so the model still learns it.

Asynchronous workers and forgetting: each proposal is its own trial, RUNNING from its ask until its
result is told, in any order (Optuna's ask-and-tell interface, which its samplers are built for:
TPE's constant liar counts running trials as bad ones, so proposals asked while others are in flight
move away from them; GP's q-batch EI conditions on them; brute force never proposes a running
vector). Several asks before the tells leave several trials running; a tell goes to the *oldest*
running trial that proposed that arch, so two running trials that proposed the same arch are each
told when the arch is told twice (the runner evaluates each proposal: the second result is the
same table entry), and a result for an arch with no running trial is added as a completed trial (see
below). A proposal that will never be told (a pre-filter screened it out) must not stay running,
or the samplers would treat it as in flight forever; such proposals are told as FAIL at the start of
the next ask (Optuna's samplers ignore failed trials; brute force counts their vectors as visited).
They are the ones given up by name, ``forget(archs)``, which the pre-filter calls with the
candidates it screened out, and the untold alternatives of an ``ask(n > 1)`` one of which has been
told when the caller named none (the bookkeeping of
:class:`nasearch.strategies.prefilter.PendingProposals`). A proposal of ``ask(1)`` is never failed
while it waits. With the sequential runner (ask, then tell every evaluated cell) exactly the
screened-out proposals are failed, before the next ask, as before asynchronous workers existed.

What ``n > 1`` means: ``n`` trials asked in a row before any tell, i.e. the next proposal and
``n - 1`` alternatives, each a trial Optuna sees as running while the next is sampled: TPE's constant
liar pushes the later ones away from the earlier, GP proposes a greedy q-batch (qLogEI), CMA-ES and
NSGA-II return the next ``n`` members of their generation, random/QMC/brute force the next ``n``
points. A pre-filter chooses among them and the rest are failed as above.

On NB201 cifar10 at the 12,000 s budget (incumbent's 200-epoch test accuracy, mean +- sd over seeds
0..19; NB201's Table 5: REA 93.92, RS 93.70, REINFORCE 93.85, BOHB 93.61): ``tpe`` 94.19 +- 0.26,
``cmaes`` 94.14 +- 0.21, ``gp`` 94.37 +- 0.00 (seeds 0..9: every run ends on the best cell's 94.37),
``qmc`` 93.83 +- 0.18, ``nsga2`` 93.77 +- 0.30 (about two generations of 50 fit in the budget: mostly
its random first generation), ``random`` 93.69 +- 0.35; nasearch's ``rea`` 93.92 +- 0.42 and ``rs``
93.77 +- 0.30 on the same seeds. A run takes about 0.4 s (tpe, cmaes; rea: 5 ms) and 25 s (gp) on a
busy 2-core machine.

Defaults and their source: ``sampler="tpe"`` (Optuna's default sampler) and every sampler's own
defaults (Optuna 5.1), except ``qmc``'s ``scramble=True`` (see the deviations).

Deviations: QMC's ``scramble`` defaults to True (Optuna: False, which ignores the seed, so every run
seed would give the same sequence); CMA-ES searches integer codes, an ordering the categorical ops do
not have; a proposal screened out by a pre-filter is a FAIL trial (Optuna's samplers could otherwise
only see it as running forever); a choice vector that is not an arch is told the worst value so far
(a penalty, not one of Optuna's constraint models, which only some samplers have); results told for
a forgotten proposal are added as new trials. The wall time of the sampler (GP: about 0.1-0.3 s a
trial on NB201 at one thread) is not charged to the simulated clock, as for every strategy here. Optuna's log messages below WARNING and its ExperimentalWarnings (QMC,
brute force) are silenced around the strategy's calls only.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from nasearch.benchmarks.base import Result
from nasearch.space.base import SearchSpace
from nasearch.strategies.base import Arch, Strategy, StrategyError, register_strategy
from nasearch.strategies.prefilter import PendingProposals
from nasearch.suggest import did_you_mean

MAX_INVALID = 200
"""Choice vectors that are not archs asked in a row for one proposal before giving up."""

SAMPLERS: dict[str, tuple[str, bool, dict[str, Any]]] = {
    # name: (Optuna class, searched as categoricals (else integer codes), defaults that differ from Optuna's)
    "tpe": ("TPESampler", True, {}),
    "gp": ("GPSampler", True, {}),
    "cmaes": ("CmaEsSampler", False, {}),
    "nsga2": ("NSGAIISampler", True, {}),
    "random": ("RandomSampler", True, {}),
    "qmc": ("QMCSampler", True, {"scramble": True}),
    "bruteforce": ("BruteForceSampler", True, {}),
}
"""The accepted ``sampler`` values."""
SINGLE_OBJECTIVE: tuple[str, ...] = ("cmaes",)
"""Samplers Optuna runs on a single objective only (CMA-ES); the others take ``num_objectives > 1``."""

_NEEDS = {"cmaes": "cmaes", "gp": "torch"}  # samplers whose Optuna class imports another package


def _plain(value: Any) -> Any:
    """A config value (an OmegaConf node, say) as plain dicts and lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) or type(value).__name__ == "ListConfig":
        return [_plain(v) for v in value]
    return value


def _import_optuna() -> Any:
    try:
        import optuna
    except ImportError as exc:  # pragma: no cover - optuna is a dependency
        raise StrategyError(
            f"strategy optuna needs the package optuna (pip install 'optuna>=3.6'): {exc}"
        ) from None
    return optuna


@register_strategy
class OptunaStrategy(Strategy):
    name = "optuna"
    paper = (
        "Akiba, Sano, Yanase, Ohta & Koyama, Optuna: A next-generation hyperparameter optimization "
        "framework, KDD 2019"
    )

    @classmethod
    def arm_label(cls, params: dict[str, Any]) -> str:
        """``optuna:<sampler>``: each sampler is a method of its own in a results table."""
        return f"{cls.name}:{params.get('sampler', 'tpe')}"

    def __init__(
        self,
        rng: np.random.Generator,
        *,
        space: SearchSpace | str,
        fidelities: tuple[int, ...] = (),
        sampler: str = "tpe",
        sampler_params: Mapping[str, Any] | None = None,
        num_objectives: int = 1,
    ):
        super().__init__(rng, space=space, fidelities=fidelities)
        if isinstance(num_objectives, bool) or not isinstance(num_objectives, int) or num_objectives < 1:
            raise StrategyError(f"optuna num_objectives={num_objectives!r} is invalid: expected an integer >= 1")
        if num_objectives > 1 and sampler in SINGLE_OBJECTIVE:
            raise StrategyError(
                f"optuna sampler={sampler!r} optimises a single objective and this search has {num_objectives} "
                f"(search.objectives); multi-objective samplers: "
                + ", ".join(k for k in SAMPLERS if k not in SINGLE_OBJECTIVE)
            )
        self.num_objectives = num_objectives
        if not isinstance(sampler, str) or sampler not in SAMPLERS:
            raise StrategyError(
                f"optuna sampler={sampler!r} is invalid: accepted: {', '.join(SAMPLERS)}"
                f"{did_you_mean(sampler, SAMPLERS)}"
            )
        if sampler_params is None:
            sampler_params = {}
        if not isinstance(sampler_params, Mapping):
            raise StrategyError(
                f"optuna sampler_params={sampler_params!r} is invalid: expected a mapping of the "
                f"keyword arguments of sampler {sampler!r} (e.g. {{n_startup_trials: 10}})"
            )
        optuna = _import_optuna()
        cls_name, categorical, defaults = SAMPLERS[sampler]
        cls = getattr(optuna.samplers, cls_name)
        accepted = [
            p.name
            for p in inspect.signature(cls.__init__).parameters.values()
            if p.name not in ("self", "seed") and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        params = _plain(sampler_params)
        for key in params:
            if key == "seed":
                raise StrategyError(
                    f"optuna sampler_params has the key 'seed' (sampler {sampler!r}): the sampler's seed is "
                    "drawn from the run's seed; remove it"
                )
            if key not in accepted:
                raise StrategyError(
                    f"optuna sampler_params key {key!r} is not a parameter of sampler {sampler!r} "
                    f"(optuna.samplers.{cls_name}); accepted: {', '.join(accepted) or 'none'}"
                    f"{did_you_mean(key, accepted)}"
                )
        if sampler in _NEEDS:
            try:
                __import__(_NEEDS[sampler])
            except ImportError:
                raise StrategyError(
                    f"optuna sampler={sampler!r} needs the package {_NEEDS[sampler]!r} "
                    f"(pip install {_NEEDS[sampler]})"
                ) from None
        self.sampler = sampler
        self.sampler_params = {**defaults, **params}
        self.seed = int(rng.integers(0, 2**31 - 1))
        """The sampler's seed: one draw from the strategy's generator."""
        self._optuna = optuna
        with self._quiet():
            try:
                self._sampler = cls(seed=self.seed, **self.sampler_params)
            except (TypeError, ValueError) as exc:
                raise StrategyError(
                    f"optuna sampler_params={params!r} do not fit sampler {sampler!r} "
                    f"(optuna.samplers.{cls_name}): {exc}"
                ) from None
            self.study = optuna.create_study(
                storage=optuna.storages.InMemoryStorage(), sampler=self._sampler,
                directions=["maximize"] * num_objectives,
            )
        dist = optuna.distributions
        self._names = tuple(self.space.config_names())
        self._distributions = {
            name: dist.CategoricalDistribution(tuple(range(k))) if categorical else dist.IntDistribution(0, k - 1)
            for name, k in zip(self._names, self.space.positions)
        }
        self._running: dict[int, Any] = {}  # trial number -> Trial asked and not yet told or failed
        self._pending = PendingProposals()  # (arch, trial number) of the proposals awaiting a tell
        self._given_up: list[int] = []  # trial numbers given up by forget(), failed at the next ask
        self._worst = [math.inf] * num_objectives  # per objective, the lowest finite value told so far
        # (what a non-arch vector is told)
        self.invalid = 0
        """Choice vectors proposed that are not archs of the space (told the worst value so far)."""
        self.forgotten = 0
        """Proposals given up (screened out, or alternatives not taken) and told as FAIL before a later ask."""

    # ------------------------------------------------------------------ helpers
    @contextlib.contextmanager
    def _quiet(self) -> Iterator[None]:
        """Optuna's logging at WARNING and its ExperimentalWarnings ignored, for this call only (GP:
        PyTorch on one thread too)."""
        optuna = self._optuna
        level = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        torch = None
        if self.sampler == "gp":
            import torch
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                yield
        finally:
            optuna.logging.set_verbosity(level)
            if torch is not None:
                torch.set_num_threads(threads)

    def _tell(self, trial: Any, value: float | list[float] | None) -> None:
        """Finish ``trial`` with ``value`` (one per objective; None or NaN: FAIL)."""
        fail = value is None or not all(math.isfinite(v) for v in (value if isinstance(value, list) else [value]))
        try:
            if fail:
                self.study.tell(trial, state=self._optuna.trial.TrialState.FAIL)
            else:
                self.study.tell(trial, value)
        except RuntimeError as exc:
            # brute force calls study.stop() once every vector was seen, which only works inside
            # study.optimize; the trial is finished all the same (Optuna stores it in a finally)
            if "Study.stop" not in str(exc):
                raise

    def _fail_given_up(self) -> None:
        """Fail the running trials that will never be told (in trial order)."""
        gone = set(self._given_up)
        gone.update(self._pending.settle())
        self._given_up = []
        if not gone:
            return
        for number in [m for m in self._running if m in gone]:
            self._tell(self._running.pop(number), None)
            self.forgotten += 1

    def _propose(self) -> tuple[Arch, int]:
        names, from_choices = self._names, self.space.from_choices
        for _ in range(MAX_INVALID):
            trial = self.study.ask(self._distributions)
            arch = from_choices(tuple(int(trial.params[name]) for name in names))
            if arch is None:
                self.invalid += 1
                worst = self._worst if all(math.isfinite(w) for w in self._worst) else None
                self._tell(trial, None if worst is None else worst[0] if len(worst) == 1 else worst)
                continue
            self._running[trial.number] = trial
            return arch, trial.number
        raise StrategyError(
            f"optuna sampler={self.sampler!r} proposed {MAX_INVALID} choice vectors in a row that are not "
            f"archs of space {self.space.name!r} ({self.space.num_archs} of "
            f"{math.prod(self.space.positions)} vectors are); try another sampler or sampler_params"
        )

    # ------------------------------------------------------------------ ask / tell
    def ask(self, n: int = 1) -> list[Arch]:
        with self._quiet():
            self._fail_given_up()
            proposals = [self._propose() for _ in range(max(1, int(n)))]
        self._pending.add(proposals)
        return [arch for arch, _ in proposals]

    def forget(self, archs: list[Arch]) -> None:
        """Give up proposals of the latest ask that will never be told (a pre-filter's screened-out
        candidates): their trials are told FAIL at the start of the next ask."""
        self._given_up.extend(self._pending.forget(archs))

    def tell(self, arch: Arch, result: Result, fidelity: int) -> None:
        value: Any = float(result.valid_acc)
        if self.num_objectives > 1:
            if result.objectives is None or len(result.objectives) != self.num_objectives:
                raise StrategyError(
                    f"optuna strategy built for {self.num_objectives} objectives was told a result with "
                    f"objectives={result.objectives!r}: a multi-objective search (search.objectives) tells them"
                )
            value = [float(v) for v in result.objectives]
        values = value if isinstance(value, list) else [value]
        if all(math.isfinite(v) for v in values):
            self._worst = [min(w, v) for w, v in zip(self._worst, values)]
        found, number = self._pending.tell(arch)
        with self._quiet():
            if found:
                self._tell(self._running.pop(number), value)
            elif all(math.isfinite(v) for v in values):
                params = dict(zip(self._names, self.space.to_choices(arch)))
                self.study.add_trial(
                    self._optuna.trial.create_trial(params=params, distributions=self._distributions,
                                                    **({"values": value} if isinstance(value, list) else {"value": value}))
                )
