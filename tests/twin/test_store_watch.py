"""ChangeWatch: the last change to some collections, read incrementally from the change log."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import shapely

from twin.store import CollectionSpec, Feature, Field, Store, open_store
from twin.store.watch import ChangeWatch

T0 = datetime(2020, 1, 1, tzinfo=UTC)


def _spec(name: str) -> CollectionSpec:
    return CollectionSpec(name=name, title=name, geometry_type="Point", fields=(Field("n"),))


def _points(prefix: str, n: int) -> list[Feature]:
    return [
        Feature(f"{prefix}{i}", shapely.Point(24.9 + i * 1e-3, 60.17), {"n": str(i)})
        for i in range(n)
    ]


def test_only_the_watched_collections_count(store: Store) -> None:
    store.ensure_collection(_spec("roads"))
    store.ensure_collection(_spec("pois"))
    watch, paged = ChangeWatch(["roads"]), ChangeWatch(["roads"], page=2)
    assert watch.revision(store) == (0, "")
    store.create("roads", _points("r", 3), valid_from=T0)
    first = watch.last_change(store)
    log = store.changes()
    assert first == max(c.seq for c in log if c.collection == "roads")
    store.create("pois", _points("p", 5), valid_from=T0)
    assert watch.last_change(store) == first  # another collection changed
    store.patch("roads", "r1", properties={"n": "9"})
    later = watch.revision(store)
    assert later[0] > first
    assert later == (store.changes()[-1].seq, store.changes()[-1].hash)
    # reading two entries at a time gives the same answer, from the start
    assert paged.revision(store) == later
    # nothing new: the same answer
    assert watch.revision(store) == later


def test_a_new_database_at_the_same_url_is_noticed(tmp_path: Path) -> None:
    url = str(tmp_path / "twin.gpkg")
    watch = ChangeWatch(["roads"])
    with open_store(url) as store:
        store.ensure_collection(_spec("roads"))
        store.create("roads", _points("r", 3), valid_from=T0)
        old = watch.revision(store)
    Path(url).unlink()
    with open_store(url) as store:
        store.ensure_collection(_spec("roads"))
        store.create("roads", _points("x", 3), valid_from=datetime(2021, 1, 1, tzinfo=UTC))
        new = watch.revision(store)
    # the same sequence numbers in a new log: told apart by the hash
    assert new[0] == old[0]
    assert new != old


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one collection"):
        ChangeWatch([])
    with pytest.raises(ValueError, match="page=1 must be at least 2"):
        ChangeWatch(["roads"], page=1)
