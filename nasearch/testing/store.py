"""The score-store contract: what a score store (``nasearch.scoring.store.ScoreStore`` or a
replacement with its interface) must do.

Subclass :class:`StoreContract`; override :meth:`StoreContract.make_store` to test another store
class (the default tests :class:`~nasearch.scoring.store.ScoreStore`)::

    from nasearch.testing import StoreContract

    class TestMyStore(StoreContract):
        def make_store(self, path):
            return MyStore(path)

Checks: rows round-trip (including +inf, -inf and NaN) with their seconds; rows already stored are
kept (the first write wins) and ``put_many`` counts only new rows; keys are separate; ``count``,
``keys`` and ``delete`` agree; a store reopened in another object, or pickled to another process,
holds the same rows, so a rerun resumes from what was stored.
"""

from __future__ import annotations

import math
import pickle
from pathlib import Path
from typing import Any, ClassVar

from nasearch.testing._common import ContractBase


class StoreContract(ContractBase):
    """Contract tests of a score store; override :meth:`make_store` for another store class."""

    space: ClassVar[str] = "nb201"
    """The space whose archs (and key) the rows use."""

    def make_store(self, path: Path) -> Any:
        from nasearch.scoring.store import ScoreStore

        return ScoreStore(path)

    def key(self, **changes: Any) -> Any:
        from nasearch.scoring.store import ScoreKey

        fields: dict[str, Any] = dict(proxy="p", dataset="cifar10", image_dataset="cifar10", batch_size=8,
                                      num_batches=1, seed=0, space=self.space)
        fields.update(changes)
        return ScoreKey(**fields)

    def archs(self, *indices: int) -> list:
        from nasearch.space import get_space

        space = get_space(self.space)
        return [space.from_index(i) for i in indices]

    def test_round_trip_inf_nan_and_keys(self, tmp_path: Path) -> None:
        key = self.key()
        store = self.make_store(tmp_path / "sub" / "s.sqlite")
        a, b, c, d, e = self.archs(5, 6, 7, 8, 9)
        assert store.put_many(key, [(a, math.inf, 0.5), (b, -math.inf, 0.25), (c, math.nan, 0.1), (d, 1.5, 2.0)]) == 4
        got = store.get_many(key, [a, b, c, d, e])
        assert got[5] == math.inf and got[6] == -math.inf and math.isnan(got[7]) and got[8] == 1.5
        assert 9 not in got
        assert store.get_many(key, [8], with_seconds=True) == {8: (1.5, 2.0)}
        # rows already stored are kept (INSERT OR IGNORE); other keys are separate
        assert store.put_many(key, [(d, 99.0, 0.0)]) == 0
        assert store.get_many(key, [d]) == {8: 1.5}
        other = self.key(batch_size=16)
        store.put_many(other, [(d, 3.0, 0.0)])
        assert store.count(key) == 4 and store.count(other) == 1
        assert store.keys() == sorted([key, other])
        # reopened in another object (and after pickling): same rows
        store.close()
        again = pickle.loads(pickle.dumps(self.make_store(tmp_path / "sub" / "s.sqlite")))
        assert again.get_many(other, [d]) == {8: 3.0}
        assert again.delete(other) == 1 and again.keys() == [key]
        again.close()

    def test_resume_stores_only_new_rows(self, tmp_path: Path) -> None:
        """A run killed after storing some rows: the rerun (a new store object on the same file) finds
        them, and storing the whole batch again adds exactly the missing rows."""
        key = self.key()
        path = tmp_path / "resume.sqlite"
        archs = self.archs(*range(10, 20))
        first = self.make_store(path)
        assert first.put_many(key, [(a, float(a.index), 0.1) for a in archs[:4]]) == 4
        del first  # no close: a killed writer keeps every transaction it committed
        rerun = self.make_store(path)
        stored = rerun.get_many(key, archs)
        assert stored == {a.index: float(a.index) for a in archs[:4]}
        missing = [a for a in archs if a.index not in stored]
        assert rerun.put_many(key, [(a, float(a.index), 0.1) for a in archs]) == len(missing) == 6
        assert rerun.count(key) == 10
        assert rerun.get_many(key, archs) == {a.index: float(a.index) for a in archs}
        rerun.close()


__all__ = ["StoreContract"]
