"""Rank ensembles of registered proxies, and the published ones as presets.

An ensemble is not a function of one network: it ranks every cell under each member proxy and
combines the ranks, so its score depends on the population the ranks are taken in. The scoring engine
scores the members (each through the score store and the shipped tables, like any proxy) and combines
them (:mod:`nasearch.scoring.ensemble`); this module only names ensembles:

* ``ensemble:M1+M2+...[/COMBINE[/RANKING]]`` (:func:`get_proxy` parses it), e.g.
  ``ensemble:synflow+zico+naswot`` or ``ensemble:synflow+zico/meanrank/space``; in a config,
  ``proxy.name=ensemble proxy.members=[synflow,zico] proxy.combine=meanrank proxy.ranking=space``.
* presets, registered names: ``az_nas`` (AZ-NAS's four proxies and its aggregation); ``te_nas`` (TE-NAS's
  two indicators, ``tenas_ntk`` and ``tenas_lr``, ranked and summed: ``meanrank``, which orders cells as
  the rank sum does); ``libra``
  (the three proxies LIBRA's selection, :mod:`nasearch.scoring.libra`, picks on NB201 CIFAR-10 from the
  labelled selection half of the 1,000-cell study: ``meco_opt + meco + swap``; LIBRA picks with the
  target's labels, so this preset is not label-free, and on another space run ``libra_select`` on that
  space's labelled sample instead). L-SWAG's paper does not say how LIBRA's three proxies are
  aggregated in the text we could read: the preset uses the log-rank sum (our choice).

``COMBINE`` (how member ranks become one score; higher is better in every case):

* ``logrank`` (default; AZ-NAS, Lee & Ham, CVPR 2024, Eq. 10): ``sum_m log(r_m / N)`` with ``r_m`` the
  cell's rank under member m among ``N`` cells, 1 for the worst and ``N`` for the best. A cell ranked
  low by any member is pulled down hard (the log), so the cells on top are those every member ranks
  high ("consistently highly-ranked", the paper's argument);
* ``meanrank``: ``mean_m r_m / N``;
* ``zscore``: ``mean_m (k_m - mu_m) / sigma_m`` over the population's mean and standard deviation of
  each member's sign-adjusted score ``k_m``.

A member may name its own batch size, ``NAME@bN`` (``ensemble:eznas:<program>@b16+meco+synflow``):
its scores are those of ``NAME`` at batch size ``N`` (an evolved EZNAS program's table is built at
16, the others at 64); without it a member is scored at the ensemble's batch size. Everything else
(images, batches, seed) is the ensemble's.

``RANKING`` (the population ranks are taken in):

* ``run`` (default): the cells scored in the same call (a pre-filter's N candidates, a study's sample,
  a whole-space table), as AZ-NAS ranks the candidates of its search;
* ``space``: every connected cell of the space, from each member's full-space table (score store or
  shipped tables; a run refuses before any work when a member's table is incomplete): a cell's score
  then does not depend on what else is scored with it.

Ties get their average rank (``scipy.stats.rankdata`` ``"average"``); a cell a member cannot rate (its
score NaN, never preferred) ranks at the bottom of that member with the other unrated cells (tied),
and under ``zscore`` counts as the population's lowest rated score; disconnected cells are left out of
the population and score ``-inf``. As in AZ-NAS's code (``scipy.stats.rankdata``, average ties), so
the score does not depend on the order the cells arrive in. Deviation from AZ-NAS's population: its
NB201 figures rank all 15,625 cells, the disconnected ones (last in every member) included.
"""

from __future__ import annotations

from nasearch.proxies.registry import (
    PROXIES,
    ProxyContext,
    ProxyError,
    ProxySpec,
    get_proxy,
    register_parametric,
)

COMBINES = ("logrank", "meanrank", "zscore")
"""How an ensemble combines its members' ranks."""
RANKINGS = ("run", "space")
"""The population an ensemble ranks a cell in."""
VERSION = "1"
"""The combination code's version (an ensemble's identity also holds its members' versions)."""


def split_member(member: str, where: str = "") -> tuple[str, int | None]:
    """``NAME@bN`` -> ``(NAME, N)``; ``NAME`` -> ``(NAME, None)`` (scored at the ensemble's batch size)."""
    name, sep, batch = member.rpartition("@b")
    if not sep:
        return member, None
    if not batch.isdigit() or int(batch) < 1 or not name:
        raise ProxyError(f"malformed ensemble member {member!r}{where}: expected NAME or NAME@bN with N a "
                         "batch size >= 1, e.g. eznas:<program>@b16")
    return name, int(batch)


def _not_a_network_proxy(net, batches, ctx: ProxyContext) -> float:  # noqa: ANN001
    raise ProxyError("an ensemble ranks a population of cells: score it with nasearch.scoring.score_cells, "
                     "not on one network")


def ensemble_ref(members: tuple[str, ...] | list[str], combine: str = "logrank", ranking: str = "run") -> str:
    """The canonical name of an ensemble (what :func:`get_proxy` parses)."""
    return "ensemble:" + "+".join(members) + f"/{combine}/{ranking}"


def ensemble_spec(name: str, members: tuple[str, ...], combine: str, ranking: str, where: str, paper: str) -> ProxySpec:
    """The spec of an ensemble (``members`` checked: registered, not ensembles, no repeats)."""
    if combine not in COMBINES:
        raise ProxyError(f"ensemble combine {combine!r}{where}; accepted: {', '.join(COMBINES)}")
    if ranking not in RANKINGS:
        raise ProxyError(f"ensemble ranking {ranking!r}{where}; accepted: {', '.join(RANKINGS)}")
    if len(members) < 2:
        raise ProxyError(f"an ensemble needs at least two member proxies, got {list(members)}{where}")
    if len(set(members)) != len(members):
        raise ProxyError(f"ensemble members {list(members)} repeat a proxy{where}")
    specs = []
    batches: list[str] = []
    for m in members:
        name, batch = split_member(m, where)
        batches.append("" if batch is None else f"@b{batch}")
        spec = get_proxy(name, where=f"ensemble member{where}")
        if spec.members:
            raise ProxyError(f"ensemble member {m!r} is itself an ensemble{where}; list its members instead")
        if spec.bind is not None:
            raise ProxyError(f"ensemble member {m!r} takes a checkpoint{where}; ensembles take proxies without one")
        specs.append(spec)
    return ProxySpec(
        name=name,
        fn=_not_a_network_proxy,
        paper=paper,
        higher_is_better=True,
        needs_labels=any(s.needs_labels for s in specs),
        data_free=all(s.data_free or not s.needs_network for s in specs),
        min_batches=1,
        version=VERSION + ":" + "+".join(f"{s.name}={s.version}{b}" for s, b in zip(specs, batches))
        + f"/{combine}/{ranking}",
        tolerance=max(s.tolerance for s in specs),
        work="structure",
        members=tuple(members),
        combine=combine,
        ranking=ranking,
    )


def parse_ensemble(argument: str, where: str = "") -> ProxySpec:
    """``get_proxy("ensemble:<argument>")``: ``M1+M2[/COMBINE[/RANKING]]``."""
    parts = argument.split("/")
    if not 1 <= len(parts) <= 3 or not parts[0]:
        raise ProxyError(f"malformed ensemble 'ensemble:{argument}'{where}: expected "
                         f"ensemble:M1+M2+...[/COMBINE[/RANKING]], e.g. ensemble:synflow+zico/logrank/run")
    members = tuple(m.strip() for m in parts[0].split("+"))
    if any(not m for m in members):
        raise ProxyError(f"malformed ensemble 'ensemble:{argument}'{where}: an empty member name")
    combine = parts[1] if len(parts) > 1 else "logrank"
    ranking = parts[2] if len(parts) > 2 else "run"
    return ensemble_spec(ensemble_ref(members, combine, ranking), members, combine, ranking, where,
                         paper="rank ensemble (log-rank sum: Lee & Ham, AZ-NAS, CVPR 2024)")


PRESETS: dict[str, tuple[tuple[str, ...], str, str, str]] = {
    "az_nas": (
        ("az_expressivity", "az_progressivity", "az_trainability", "flops"), "logrank", "run",
        "Lee & Ham, AZ-NAS: Assembling Zero-Cost Proxies for Network Architecture Search, CVPR 2024 (Eq. 10)",
    ),
    "te_nas": (
        ("tenas_ntk", "tenas_lr"), "meanrank", "run",
        "Chen, Gong & Wang, Neural Architecture Search on ImageNet in Four GPU Hours: A Theoretically Inspired "
        "Perspective (TE-NAS), ICLR 2021: the sum of the NTK condition number's and the linear-region count's ranks",
    ),
    "libra": (
        ("meco_opt", "meco", "swap"), "logrank", "run",
        "Casarin, Escalera & Lanz, L-SWAG (LIBRA-NAS, Algorithm 1), CVPR 2025: the members LIBRA's selection "
        "(nasearch.scoring.libra.libra_select) picks on NB201 CIFAR-10 from the selection half of the "
        "1,000-cell study (experiments/frontier/ensembles_1000.py), combined by AZ-NAS's log-rank sum",
    ),
}
"""Published ensembles: name -> (members, combine, ranking, paper)."""


def preset_spec(name: str) -> ProxySpec:
    """The checked spec of a preset (members resolved)."""
    members, combine, ranking, paper = PRESETS[name]
    return ensemble_spec(name, members, combine, ranking, f" (preset {name!r})", paper)


for _name, (_members, _combine, _ranking, _paper) in PRESETS.items():
    # the members are checked when the preset is looked up (they may be plugins loaded after this module)
    PROXIES.register(_name, ProxySpec(
        name=_name, fn=_not_a_network_proxy, paper=_paper, version=VERSION, work="structure",
        members=_members, combine=_combine, ranking=_ranking, resolve=lambda n=_name: preset_spec(n),
    ), origin=__name__)

register_parametric("ensemble", parse_ensemble)
