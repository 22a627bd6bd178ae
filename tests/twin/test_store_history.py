"""The store contract, history: versions in valid time, as-of reads, extents, tamper evidence.

Like the rest of the contract, run against the GeoPackage and the PostGIS backend.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import shapely

from tests.twin.store_helpers import T0, T1, T2, grid, ids
from twin.errors import FeatureNotFound, InvalidInterval
from twin.store import Feature, Query, Store
from twin.temporal import Instant, Interval


# ---------------------------------------------------------------- time
def test_versions_as_of_and_history(things: Store) -> None:
    things.patch("things", "f001", properties={"name": "renamed"}, valid_from=T1)
    things.replace("things", Feature("f001", shapely.Point(24.95, 60.2), {"n": 99}), valid_from=T2)
    things.retire("things", "f002", valid_to=T1)

    hist = things.history("things", "f001")
    assert [(v.version, v.valid_from, v.valid_to) for v in hist] == [
        (1, T0, T1),
        (2, T1, T2),
        (3, T2, None),
    ]
    assert hist[1].properties["name"] == "renamed" and hist[1].properties["n"] == 1
    assert hist[2].properties == {"n": 99}

    mid = Instant(T1 + timedelta(days=10))
    assert things.get("things", "f001", time=mid).properties["name"] == "renamed"
    assert things.get("things", "f001", time=Instant(T0)).version == 1
    assert things.get("things", "f001").version == 3
    with pytest.raises(FeatureNotFound):
        things.get("things", "f002")
    assert things.get("things", "f002", time=Instant(T0 + timedelta(days=1))).version == 1
    with pytest.raises(FeatureNotFound):
        things.get("things", "f001", time=Instant(T0 - timedelta(seconds=1)))
    # instant: the city at that instant; interval: versions overlapping it
    assert things.count("things") == 19
    assert things.count("things", time=Instant(T0)) == 20
    assert things.count("things", time=Instant(T1)) == 19
    assert things.count("things", time=Interval(T0, T2)) == 22
    assert things.count("things", time=Interval(T2, None)) == 19
    at_mid = things.query("things", Query(time=mid, bbox=(24.9005, 60.0, 24.9015, 61)))
    assert [(f.id, f.version) for f in at_mid] == [("f001", 2)]
    # nothing is deleted: 20 + 2 versions of f001
    assert things.count("things", time=Interval(None, T2 + timedelta(days=1))) == 22


def test_as_of_spatial_query_sees_old_geometry(things: Store) -> None:
    things.replace("things", Feature("f000", shapely.Point(25.5, 60.5), {}), valid_from=T1)
    box = (24.8995, 60.16, 24.9005, 60.18)
    assert ids(things.query("things", Query(bbox=box))) == []
    assert ids(things.query("things", Query(bbox=box, time=Instant(T0)))) == ["f000"]
    later = things.query("things", Query(bbox=(25.4, 60.4, 25.6, 60.6), time=Instant(T2)))
    assert [(f.id, f.version) for f in later] == [("f000", 2)]


def test_impossible_interval_and_backdated_writes(things: Store) -> None:
    with pytest.raises(InvalidInterval, match="precedes its start"):
        Interval(T2, T1)
    with pytest.raises(InvalidInterval, match="precedes the start"):
        things.patch("things", "f001", properties={"n": 5}, valid_from=T0 - timedelta(days=1))
    with pytest.raises(InvalidInterval, match="must come after"):
        things.retire("things", "f001", valid_to=T0)
    assert things.get("things", "f001").version == 1


def test_a_new_version_must_start_after_the_current_one(things: Store) -> None:
    """A replace, patch or sync at the instant the current version started would close that
    version at the instant it opened, so it would never be current: refused, as retiring at
    that instant is. A write that changes nothing is fine at that instant too."""
    before = things.changes()
    start = "valid_from '2020-01-01T00:00:00.000Z' of things/f001 is the start of its current"
    with pytest.raises(InvalidInterval, match=start):
        things.patch("things", "f001", properties={"n": 5}, valid_from=T0)
    moved = Feature("f001", shapely.Point(24.95, 60.2), {"n": 99})
    with pytest.raises(InvalidInterval, match=start):
        things.replace("things", moved, valid_from=T0)
    feats = grid()
    feats[1] = moved
    with pytest.raises(InvalidInterval, match=start):
        things.sync("things", feats, valid_from=T0)
    assert things.changes() == before
    assert [v.version for v in things.history("things", "f001")] == [1]
    same = things.get("things", "f001")
    assert (
        things.replace("things", Feature("f001", same.geometry, same.properties), valid_from=T0)
        == same
    )
    assert things.sync("things", grid(), valid_from=T0).unchanged == 20
    assert things.changes() == before
    assert things.replace("things", moved, valid_from=T1).valid_from == T1
    # a retired feature may come back at the instant it was retired, not before
    things.retire("things", "f002", valid_to=T1)
    with pytest.raises(
        InvalidInterval,
        match="things/f002 precedes the end '2021-01-01T00:00:00.000Z' of its last version "
        r"\(it was retired then\)",
    ):
        things.create("things", [grid()[2]], valid_from=T0)
    assert things.create("things", [grid()[2]], valid_from=T1)[0].version == 2
    assert things.verify().ok


def test_extent_is_true_extent(things: Store) -> None:
    ext = things.extent("things")
    assert ext.count == 20
    assert ext.bbox == pytest.approx((24.9, 60.17, 24.919, 60.17), abs=1e-5)
    assert ext.valid_from == T0 and ext.valid_to is None


# ---------------------------------------------------------------- tamper evidence
def test_verify_passes_then_names_an_edited_row(things: Store) -> None:
    things.patch("things", "f004", properties={"n": 40}, valid_from=T1)
    report = things.verify()
    assert report.ok and report.checked == 21
    # edit history behind the store's back
    things._run(
        "UPDATE things__versions SET name = 'forged' WHERE feature_id = 'f004' AND version = 1"
    )
    report = things.verify()
    assert not report.ok
    assert report.problem is not None and "things/f004 version 1" in report.problem
    assert report.seq == 5


def test_verify_names_a_removed_log_entry(things: Store) -> None:
    things._run("DELETE FROM twin_changelog WHERE seq = 7")
    report = things.verify()
    assert not report.ok and report.seq == 7
    assert "seq 7 is missing" in (report.problem or "")
