"""Rank ensembles: combine the member proxies' ranks into one score (definitions and choices in
:mod:`nasearch.proxies.ensembles`).

:func:`combine` is the arithmetic (rank keys in, ensemble scores out); :func:`member_settings` the
settings a member is scored under (the ensemble's, with the member's name); :func:`space_reference`
the whole-space population of one member (``ranking=space``), read from the score store and the
shipped tables, refused before any work when incomplete. The engine (:func:`~nasearch.scoring.score_cells`)
and the pre-filter's scorer (:class:`~nasearch.scoring.scorer.EnsembleScorer`) call them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import rankdata

from nasearch.proxies.ensembles import split_member
from nasearch.proxies.registry import ProxyError, get_proxy
from nasearch.scoring import shipped as shipped_scores
from nasearch.scoring.policy import rank_key
from nasearch.scoring.settings import ScoringSettings
from nasearch.scoring.shipped import layered
from nasearch.scoring.store import ScoreStore
from nasearch.space.base import SearchSpace


def member_settings(settings: ScoringSettings, member: str) -> ScoringSettings:
    """The settings ``member`` is scored under: the ensemble's (images, batch size, seed, executor...),
    the member's own default number of batches unless the ensemble's run sets one, no checkpoint; a
    member ``NAME@bN`` is ``NAME`` at batch size ``N`` (:func:`nasearch.proxies.ensembles.split_member`)."""
    name, batch = split_member(member)
    return settings.replace(proxy=name, checkpoint=None,
                            **({} if batch is None else {"batch_size": batch}))


def _rank_fraction(keys: np.ndarray, reference: np.ndarray | None) -> np.ndarray:
    """Each key's rank in (0, 1]: 1/N for the worst, 1 for the best, ties averaged; among the keys
    themselves (``reference`` None) or within the sorted ``reference`` population."""
    if reference is None:
        return rankdata(keys, method="average") / len(keys)
    left = np.searchsorted(reference, keys, side="left")
    right = np.searchsorted(reference, keys, side="right")
    # 1-based average rank among equal reference keys; a key absent from the reference sits half a
    # place above the keys below it (never 0, so its log is finite)
    return np.maximum((left + right + 1) / 2.0, 0.5) / len(reference)


def _zscores(keys: np.ndarray, population: np.ndarray) -> np.ndarray:
    finite = population[np.isfinite(population)]
    if finite.size == 0:
        return np.zeros_like(keys)
    mu, sigma = finite.mean(), finite.std()
    lowest = finite.min()
    k = np.where(np.isfinite(keys), keys, lowest)  # an unrated cell counts as the lowest rated score
    return np.zeros_like(keys) if sigma == 0 else (k - mu) / sigma


def combine(keys: np.ndarray, how: str, references: Sequence[np.ndarray | None] | None = None) -> np.ndarray:
    """Ensemble scores (higher = better) of ``n`` cells from their members' rank keys.

    ``keys``: shape ``(n, M)``, member m's "higher = better" key of each cell
    (:func:`~nasearch.scoring.policy.rank_key`; ``-inf``: the member cannot rate the cell). ``how``:
    ``logrank``, ``meanrank`` or ``zscore``. ``references``: per member, the sorted keys of the
    population to rank in (``ranking=space``), or None to rank among the ``n`` cells themselves."""
    keys = np.asarray(keys, dtype=np.float64)
    if keys.ndim != 2:
        raise ValueError(f"keys must be (cells, members), got shape {keys.shape}")
    n, m = keys.shape
    if n == 0:
        return np.zeros(0)
    refs = list(references) if references is not None else [None] * m
    cols = []
    for j in range(m):
        if how == "zscore":
            cols.append(_zscores(keys[:, j], keys[:, j] if refs[j] is None else refs[j]))
        else:
            cols.append(_rank_fraction(keys[:, j], refs[j]))
    parts = np.column_stack(cols)
    if how == "logrank":
        return np.log(parts).sum(axis=1)
    if how in ("meanrank", "zscore"):
        return parts.mean(axis=1)
    raise ProxyError(f"unknown ensemble combine {how!r}; accepted: logrank, meanrank, zscore")


def combine_connected(keys: np.ndarray, connected: np.ndarray, how: str,
                      references: Sequence[np.ndarray | None] | None = None) -> np.ndarray:
    """:func:`combine` over the rows whose ``connected`` flag is set (the population ranked); the
    disconnected rows, left out of the ranks, score ``-inf``."""
    out = np.full(len(keys), -np.inf)
    if connected.any():
        out[connected] = combine(keys[connected], how, references)
    return out


def incomplete_table(where: str, member: str, have: int, total: int, what: str, key) -> ProxyError:  # noqa: ANN001
    """The one refusal of ``ranking=space`` when a member's whole-space table is incomplete (``key``: its
    score key, described in the message)."""
    return ProxyError(
        f"{where}: ranking=space ranks each member against its whole-space table, and {member!r} has {have} of "
        f"the {total} {what} in the score store or the shipped tables ({key.describe()}); build it first "
        f"(nasearch task=score proxy={member} benchmark=...) or use proxy.ranking=run"
    )


def space_reference(settings: ScoringSettings, member: str, space: SearchSpace, store: ScoreStore | None,
                    where: str) -> np.ndarray:
    """The sorted rank keys of ``member`` over every connected cell of ``space`` (``ranking=space``),
    from the score store and (unless ``settings.shipped`` is off) the shipped tables. Refuses, naming
    the member and the command that builds the table, when any cell is missing: ranking against part
    of a space would silently depend on which part."""
    ms = member_settings(settings, member)
    key = ms.key()
    cells = [a.index for a in space.all_archs() if not space.is_trivial(a)]
    if store is not None:
        got = layered(store, key, cells, shipped=ms.shipped)
    else:
        got = shipped_scores.get_many(key, cells) if ms.shipped else {}
    if len(got) < len(cells):
        raise incomplete_table(where, member, len(got), len(cells), f"connected cells of {space.name}", key)
    values = np.array([got[i] for i in cells], dtype=np.float64)
    return np.sort(rank_key(get_proxy(ms.proxy), values))


__all__ = ["combine", "combine_connected", "incomplete_table", "member_settings", "space_reference"]
