"""The scoring engine: score cells of any space with a registered proxy, reproducibly, in parallel,
cached. A layer above the proxy definitions (:mod:`nasearch.proxies`), which it finds through their
registry; below the strategies and tasks, which call it.

Modules (each one job):

* :mod:`~nasearch.scoring.settings`: :class:`ScoringSettings`, the one settings object of a run
  (what is scored: the score key; how the work runs), and :func:`score_key`;
* :mod:`~nasearch.scoring.engine`: :func:`score_cells`: the store layering (user store -> shipped
  tables -> executor) and the chunked computation;
* :mod:`~nasearch.scoring.worker`: what a worker runs for one cell (seeded network, one thread,
  deterministic kernels) and for a chunk;
* :mod:`~nasearch.scoring.batches`: the run's minibatches (images or data-free);
* :mod:`~nasearch.scoring.policy`: the never-preferred policy and rank keys;
* :mod:`~nasearch.scoring.writer`: the driver's crash-safe store writer;
* :mod:`~nasearch.scoring.store`: the SQLite score store and its keys;
  :mod:`~nasearch.scoring.shipped`: the read-only tables shipped in the package beneath it;
  :mod:`~nasearch.scoring.tables`: portable CSV import/export; :mod:`~nasearch.scoring.merge`:
  merging shard stores;
* :mod:`~nasearch.scoring.score_table`: whole-space score tables in shards;
* :mod:`~nasearch.scoring.scorer`: :class:`ArchScorer`, the pre-filter's scorer (stored scores and
  the rest computed live), and the check that a job's scores can be had.

Seeding and the one-thread pin are in :mod:`nasearch.determinism` (the EZNAS statistics share them).
"""

from nasearch.determinism import cell_generators, one_thread
from nasearch.scoring.batches import NO_IMAGES, data_free_batches, data_free_stream
from nasearch.scoring.engine import score_cells
from nasearch.scoring.policy import never_preferred, rank_key
from nasearch.scoring.score_table import build_score_table, shard_indices, table_cells
from nasearch.scoring.settings import ScoringSettings, score_key
from nasearch.scoring.store import ScoreKey, ScoreStore, StoreError, default_store_path
from nasearch.scoring.worker import CellScoring, blank_network, score_chunk, score_one

__all__ = [
    "NO_IMAGES",
    "CellScoring",
    "ScoreKey",
    "ScoreStore",
    "ScoringSettings",
    "StoreError",
    "blank_network",
    "build_score_table",
    "cell_generators",
    "data_free_batches",
    "data_free_stream",
    "default_store_path",
    "never_preferred",
    "one_thread",
    "rank_key",
    "score_cells",
    "score_chunk",
    "score_key",
    "score_one",
    "shard_indices",
    "table_cells",
]
