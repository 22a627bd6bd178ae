"""The store contract: one suite, run against the GeoPackage and the PostGIS backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twin.errors import (
    CollectionExists,
    CollectionNotFound,
    ConflictError,
    FeatureNotFound,
    GeometryError,
    GeometryOutOfBounds,
    InvalidInput,
    InvalidInterval,
    PreconditionFailed,
    SchemaError,
)
from twin.store import CollectionSpec, Feature, Field, Query, Store
from twin.store._validate import MAX_STRING_LENGTH, MAX_VERTICES
from twin.store.filters import (
    And,
    Compare,
    CompareOp,
    In,
    IsNull,
    Like,
    Not,
    Or,
    Spatial,
    SpatialOp,
)
from twin.temporal import Instant, Interval

T0 = datetime(2020, 1, 1, tzinfo=UTC)
T1 = datetime(2021, 1, 1, tzinfo=UTC)
T2 = datetime(2022, 1, 1, tzinfo=UTC)

SPEC = CollectionSpec(
    name="things",
    title="Things",
    geometry_type="Point",
    fields=(
        Field("name"),
        Field("n", "integer"),
        Field("size", "number"),
        Field("ok", "boolean"),
        Field("seen", "datetime"),
        Field("tags", "json"),
    ),
)


def grid(n: int = 20) -> list[Feature]:
    """n points 0.001 deg apart along a line in Helsinki."""
    return [
        Feature(
            f"f{i:03d}",
            shapely.Point(24.9 + i * 0.001, 60.17),
            {
                "name": f"thing {i}",
                "n": i,
                "size": i / 2,
                "ok": i % 2 == 0,
                "seen": f"2020-01-{i % 28 + 1:02d}T00:00:00Z",
                "tags": {"i": i},
            },
        )
        for i in range(n)
    ]


@pytest.fixture
def things(store: Store) -> Store:
    store.ensure_collection(SPEC)
    store.create("things", grid(), valid_from=T0)
    return store


def ids(result) -> list[str]:
    return [f.id for f in result]


# ---------------------------------------------------------------- catalog
def test_catalog_lists_created_collection(store: Store) -> None:
    store.ensure_collection(SPEC)
    assert [c.name for c in store.collections()] == ["things"]
    assert store.collection("things") == SPEC


def test_unknown_collection_is_named(store: Store) -> None:
    with pytest.raises(CollectionNotFound, match="collection 'nope' does not exist"):
        store.query("nope")
    with pytest.raises(LookupError):
        store.count("nope")


def test_ensure_collection_adds_fields_and_rejects_type_change(things: Store) -> None:
    more = CollectionSpec(
        "things", "Things", geometry_type="Point", fields=(*SPEC.fields, Field("colour"))
    )
    things.ensure_collection(more)
    things.patch("things", "f001", properties={"colour": "red"})
    assert things.get("things", "f001").properties["colour"] == "red"
    bad = CollectionSpec("things", "Things", geometry_type="Point", fields=(Field("n", "string"),))
    with pytest.raises(CollectionExists, match="field 'n' of 'things' is integer"):
        things.ensure_collection(bad)
    with pytest.raises(CollectionExists, match="holds Point"):
        things.ensure_collection(CollectionSpec("things", "T", geometry_type="Polygon"))


# ---------------------------------------------------------------- reads
def test_properties_round_trip_with_types(things: Store) -> None:
    f = things.get("things", "f003")
    assert f.properties == {
        "name": "thing 3",
        "n": 3,
        "size": 1.5,
        "ok": False,
        "seen": "2020-01-04T00:00:00.000Z",
        "tags": {"i": 3},
    }
    assert f.geometry.equals(shapely.Point(24.903, 60.17))
    assert f.version == 1 and f.valid_from == T0 and f.valid_to is None


def test_bbox_limit_offset_and_count(things: Store) -> None:
    q = Query(bbox=(24.9045, 60.0, 24.9105, 60.2), limit=3, offset=1)
    res = things.query("things", q, count=True)
    assert ids(res) == ["f006", "f007", "f008"]
    assert res.number_matched == 6


def test_intersects_any_geometry(things: Store) -> None:
    tri = shapely.Polygon([(24.899, 60.16), (24.9035, 60.16), (24.9035, 60.18)])
    expected = [f.id for f in grid() if tri.intersects(f.geometry)]
    assert ids(things.query("things", Query(intersects=tri))) == expected


def test_nearest_k_in_metric_order(things: Store) -> None:
    res = things.query("things", Query(nearest=(shapely.Point(24.9052, 60.1701), 3)))
    assert ids(res) == ["f005", "f006", "f004"]


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (Compare("n", CompareOp.EQ, 4), ["f004"]),
        (Compare("n", CompareOp.GE, 17), ["f017", "f018", "f019"]),
        (And((Compare("size", CompareOp.GT, 2.0), Compare("size", CompareOp.LT, 3.0))), ["f005"]),
        (In("name", ("thing 1", "thing 2")), ["f001", "f002"]),
        (Like("name", "thing 1_"), [f"f01{i}" for i in range(10)]),
        (Like("name", "THING 9", case_insensitive=True), ["f009"]),
        (Like("name", "THING 9"), []),
        (
            And((Compare("ok", CompareOp.EQ, True), Compare("n", CompareOp.LT, 5))),
            ["f000", "f002", "f004"],
        ),
        (
            Or((Compare("n", CompareOp.EQ, 1), Compare("id", CompareOp.EQ, "f019"))),
            ["f001", "f019"],
        ),
        (Not(Compare("n", CompareOp.GE, 2)), ["f000", "f001"]),
        (Compare("seen", CompareOp.LT, "2020-01-03T00:00:00Z"), ["f000", "f001"]),
        (IsNull("tags"), []),
        (Spatial(SpatialOp.WITHIN, shapely.box(24.9005, 60.0, 24.9025, 61)), ["f001", "f002"]),
    ],
)
def test_attribute_and_spatial_filters(things: Store, expr, expected) -> None:
    assert ids(things.query("things", Query(where=expr))) == expected


def test_sort_and_projection(things: Store) -> None:
    res = things.query(
        "things",
        Query(sort=(("ok", True), ("n", False)), limit=3, properties=("n",), skip_geometry=True),
    )
    assert ids(res) == ["f019", "f017", "f015"]
    assert res.features[0].properties == {"n": 19}
    assert res.features[0].geometry is None


def test_unknown_property_in_filter_sort_or_projection_is_named(things: Store) -> None:
    with pytest.raises(SchemaError, match="names the property 'colour'"):
        things.query("things", Query(where=Compare("colour", CompareOp.EQ, "red")))
    with pytest.raises(SchemaError, match="sort names the property 'height'"):
        things.query("things", Query(sort=(("height", True),)))
    with pytest.raises(InvalidInput, match=r"properties=.*'nope'"):
        things.query("things", Query(properties=("nope",)))
    with pytest.raises(SchemaError, match=r"compares property 'n' .* with 'many'"):
        things.query("things", Query(where=Compare("n", CompareOp.EQ, "many")))


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


def test_extent_is_true_extent(things: Store) -> None:
    ext = things.extent("things")
    assert ext.count == 20
    assert ext.bbox == pytest.approx((24.9, 60.17, 24.919, 60.17), abs=1e-5)
    assert ext.valid_from == T0 and ext.valid_to is None


# ---------------------------------------------------------------- writes and errors
def test_create_existing_id_conflicts(things: Store) -> None:
    with pytest.raises(ConflictError, match=r"features \['f001'\] exist"):
        things.create("things", [Feature("f001", shapely.Point(25, 60), {})])


def test_stale_expected_version_changes_nothing(things: Store) -> None:
    things.patch("things", "f001", properties={"n": 5})
    with pytest.raises(PreconditionFailed, match="is at version 2, not the expected version 1"):
        things.patch("things", "f001", properties={"n": 6}, expected_version=1)
    assert things.get("things", "f001").properties["n"] == 5


@pytest.mark.parametrize(
    ("geometry", "error", "text"),
    [
        ({"type": "Pointy", "coordinates": [1, 2]}, GeometryError, "not a valid GeoJSON"),
        ("{not json", GeometryError, "not JSON"),
        ({"coordinates": [1, 2]}, GeometryError, "with a 'type'"),
        (
            {"type": "Point", "coordinates": [200, 10]},
            GeometryOutOfBounds,
            r"\(200, 10\) outside CRS84",
        ),
        ({"type": "Point", "coordinates": [60.2, 95.0]}, GeometryOutOfBounds, "outside CRS84"),
        ({"type": "LineString", "coordinates": [[0, 0], [1, 1]]}, GeometryError, "is a LineString"),
    ],
)
def test_bad_geometry_is_named(things: Store, geometry, error, text) -> None:
    with pytest.raises(error, match=text):
        things.create("things", [Feature("new", geometry, {})])
    assert things.count("things") == 20


def test_invalid_polygon_is_rejected_with_reason(store: Store) -> None:
    store.ensure_collection(CollectionSpec("areas", "Areas", geometry_type="Polygon"))
    bowtie = shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
    with pytest.raises(GeometryError, match="not valid: Self-intersection"):
        store.create("areas", [Feature("a", bowtie, {})])


@pytest.mark.parametrize(
    ("props", "text"),
    [
        ({"n": "five"}, "property 'n' of 'x' must be integer, not 'five'"),
        ({"ok": 1}, "property 'ok' of 'x' must be boolean"),
        ({"colour": "red"}, "property 'colour' of 'x' is not in the schema"),
        ({"seen": "yesterday"}, "property 'seen' of 'x' must be datetime"),
        ({"n": 2**63}, "property 'n' of 'x' is 9223372036854775808, outside the 64-bit"),
        ({"n": -1e20}, "property 'n' of 'x' is -1e\\+20, outside the 64-bit integer range"),
        ({"size": 10**400}, "property 'size' of 'x' must be number"),
    ],
)
def test_properties_checked_against_schema(things: Store, props, text) -> None:
    with pytest.raises(SchemaError, match=text):
        things.create("things", [Feature("x", shapely.Point(25, 60), props)])


@pytest.mark.parametrize(
    ("query", "text"),
    [
        (Query(where=Compare("n", CompareOp.GT, 2**63)), "outside the 64-bit integer range"),
        (Query(where=In("n", (1, -(2**63) - 1))), "outside the 64-bit integer range"),
        (Query(where=Compare("n", CompareOp.LT, 1e20)), "outside the 64-bit integer range"),
        (Query(offset=2**63), "offset=9223372036854775808 is outside 0..9223372036854775807"),
        (Query(limit=2**64), "limit=18446744073709551616 is outside 0.."),
        (Query(offset=-1), "offset=-1 is outside 0.."),
    ],
)
def test_out_of_range_integers_in_a_query_are_invalid_input(
    things: Store, query: Query, text: str
) -> None:
    with pytest.raises(InvalidInput, match=text):
        things.query("things", query)
    with pytest.raises(InvalidInput, match=text):
        things.read_frame("things", query)


@pytest.mark.parametrize(
    ("query", "error", "text"),
    [
        # a time that is not an Instant or Interval used to read the current state
        (Query(time="2000-01-01"), InvalidInput, "query time='2000-01-01' must be None, an Inst"),
        (Query(time=T0), InvalidInput, "query time=datetime.datetime"),
        (Query(time=123), InvalidInput, "query time=123"),
        (Query(bbox=(500, 60, 600, 95)), GeometryOutOfBounds, "bbox=.*outside CRS84"),
        (Query(bbox=(24, 60, float("inf"), 61)), InvalidInput, "bbox=.*four finite numbers"),
        (Query(bbox="24,60,25,61"), InvalidInput, "bbox='24,60,25,61' must be four numbers"),
        (Query(intersects=shapely.Point(500, 95)), GeometryOutOfBounds, "intersects has the coord"),
        (Query(intersects=shapely.Point(float("nan"), 60)), GeometryOutOfBounds, "non-finite"),
        (
            Query(intersects=shapely.Polygon([(24, 60), (25, 61), (25, 60), (24, 61)])),
            GeometryError,
            "query intersects is not valid: Self-intersection",
        ),
        (Query(intersects="POINT (24.9 60.17)"), GeometryError, "is not a shapely geometry"),
        (Query(intersects={"type": "Point"}), GeometryError, "is not a shapely geometry"),
        (Query(limit="5"), InvalidInput, "query limit='5' is not an integer"),
        (Query(limit=float("nan")), InvalidInput, "query limit=nan is not an integer"),
        (Query(limit=10**30), InvalidInput, "limit=10+ is outside 0.."),
        (Query(nearest=(shapely.Point(24.9, 60.17), 2.5)), InvalidInput, "nearest k=2.5 is not"),
        (Query(nearest=(shapely.Point(24.9, 60.17), 0)), InvalidInput, "k=0 must be positive"),
        (Query(nearest=(shapely.Point(), 3)), GeometryError, "nearest point is empty"),
        (Query(nearest=(shapely.Point(float("nan"), 60), 3)), GeometryError, "nearest point has"),
        (Query(nearest=shapely.Point(24.9, 60.17)), InvalidInput, "must be a pair"),
        (Query(sort=("name",)), InvalidInput, "sort item 'name' is not a \\(name, ascending\\)"),
        (Query(sort=(("name", "asc"),)), InvalidInput, "sort item \\('name', 'asc'\\)"),
        (Query(properties="name"), InvalidInput, "properties='name' must be a sequence"),
        (Query(properties=(1,)), InvalidInput, "which are not property names"),
        (Query(where="name = 'x'"), InvalidInput, "is not a filter expression"),
        (Query(where=Compare("name", CompareOp.GT, 5)), SchemaError, "with 5, which is not a str"),
        (Query(skip_geometry="yes"), InvalidInput, "skip_geometry='yes' must be True or False"),
    ],
)
def test_query_fields_are_checked(things: Store, query: Query, error: type, text: str) -> None:
    with pytest.raises(error, match=text):
        things.query("things", query)
    with pytest.raises(error, match=text):
        things.read_frame("things", query)


def test_query_takes_lists_and_a_nearest_search_near_the_poles(things: Store) -> None:
    q = Query(bbox=[24.0, 60.0, 26.0, 61.0], sort=[["n", False]], properties=["n"], limit=2)
    assert [f.properties for f in things.query("things", q)] == [{"n": 19}, {"n": 18}]
    # the search box grows until it holds k features; it stays inside CRS84
    near = things.query("things", Query(nearest=(shapely.Point(179.9, 89.9), 2)))
    assert len(near) == 2


def test_count_and_get_reject_a_time_that_is_not_an_instant_or_interval(things: Store) -> None:
    with pytest.raises(InvalidInput, match="time='2000-01-01' must be None, an Instant"):
        things.count("things", time="2000-01-01")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="time=123"):
        things.get("things", "f001", time=123)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=r"query=.* is not a twin\.store\.Query"):
        things.query("things", {"limit": 1})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("make", "text"),
    [
        (lambda: Compare("name", "LIKE", 1), "comparison operator 'LIKE' is not one of '='"),
        (lambda: Spatial("near", shapely.Point(1, 1)), "spatial operator 'near' is not one of"),
    ],
)
def test_filter_operators_are_checked(make, text: str) -> None:
    with pytest.raises(InvalidInput, match=text):
        make()


@pytest.mark.parametrize(
    ("kw", "text"),
    [
        ({"valid_from": "garbage"}, "valid_from='garbage' must be a datetime or None"),
        ({"valid_from": 5}, "valid_from=5 must be a datetime"),
    ],
)
def test_write_times_must_be_datetimes(things: Store, kw, text: str) -> None:
    before = things.changes()
    with pytest.raises(InvalidInterval, match=text):
        things.create("things", [Feature("new", shapely.Point(25, 60), {})], **kw)
    with pytest.raises(InvalidInterval, match="valid_to='x' must be a datetime"):
        things.retire("things", "f001", valid_to="x")
    with (
        pytest.raises(InvalidInterval, match="recorded_at='x' must be a datetime"),
        things.transaction(recorded_at="x"),  # type: ignore[arg-type]
    ):
        pass
    assert things.changes() == before
    assert things.count("things") == 20


def test_batch_lands_whole_or_not_at_all(store: Store) -> None:
    store.ensure_collection(SPEC)
    feats = [Feature(f"b{i}", shapely.Point(24 + i * 1e-4, 60), {"n": i}) for i in range(1000)]
    feats[499] = Feature("b499", {"type": "Point", "coordinates": [24.0, 91.0]}, {"n": 499})
    with pytest.raises(GeometryOutOfBounds, match="'b499'"):
        store.create("things", feats)
    assert store.count("things") == 0
    assert store.changes() == []
    # and a failure in the middle of a multi-operation transaction rolls everything back
    store.create("things", grid(3), valid_from=T0)
    with pytest.raises(FeatureNotFound), store.transaction() as tx:
        tx.patch("things", "f000", properties={"n": 100})
        tx.retire("things", "f001")
        tx.patch("things", "missing", properties={"n": 1})
    assert [f.properties["n"] for f in store.query("things")] == [0, 1, 2]
    assert len(store.changes()) == 3


def test_sync_turns_differences_into_versions(things: Store) -> None:
    feats = grid()
    feats[3] = Feature("f003", feats[3].geometry, {**feats[3].properties, "name": "moved"})
    del feats[5]
    feats.append(Feature("f100", shapely.Point(24.95, 60.18), {"n": 100}))
    report = things.sync("things", feats, valid_from=T1)
    assert (report.created, report.updated, report.retired, report.unchanged) == (1, 1, 1, 18)
    assert things.get("things", "f003").version == 2
    assert things.get("things", "f004").version == 1  # unchanged features are left alone
    assert (
        things.get("things", "f004").recorded_at == things.history("things", "f004")[0].recorded_at
    )
    assert things.history("things", "f005")[-1].valid_to == T1
    again = things.sync("things", feats, valid_from=T2)
    assert (again.created, again.updated, again.retired, again.unchanged) == (0, 0, 0, 20)


def test_retired_feature_can_come_back_as_new_version(things: Store) -> None:
    things.retire("things", "f001", valid_to=T1)
    things.create(
        "things", [Feature("f001", shapely.Point(24.901, 60.17), {"n": 1})], valid_from=T2
    )
    assert [v.version for v in things.history("things", "f001")] == [1, 2]


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


# ---------------------------------------------------------------- invariants
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    x0=st.floats(24.89, 24.93),
    y0=st.floats(60.16, 60.18),
    w=st.floats(0, 0.02),
    h=st.floats(0, 0.02),
)
def test_bbox_equals_brute_force(things: Store, x0: float, y0: float, w: float, h: float) -> None:
    box = shapely.box(x0, y0, x0 + w, y0 + h)
    expected = [f.id for f in grid() if box.intersects(f.geometry)]
    assert ids(things.query("things", Query(bbox=(x0, y0, x0 + w, y0 + h)))) == expected


def test_read_frame_matches_query(things: Store) -> None:
    things.patch("things", "f002", properties={"name": "two"}, valid_from=T1)
    q = Query(bbox=(24.9005, 60.0, 24.9045, 61), time=Instant(T0 + timedelta(days=1)))
    df = things.read_frame("things", q)
    feats = things.query("things", q).features
    assert list(df["id"]) == [f.id for f in feats] == ["f001", "f002", "f003", "f004"]
    assert list(df["name"]) == [f.properties["name"] for f in feats]
    assert df.crs.to_string() == "OGC:CRS84"
    assert all(g.equals(f.geometry) for g, f in zip(df.geometry, feats, strict=True))
    assert list(
        things.read_frame("things", Query(where=Compare("id", CompareOp.EQ, "f002")))["name"]
    ) == ["two"]


def test_duplicate_ids_in_a_batch_are_named(store: Store) -> None:
    store.ensure_collection(SPEC)
    feats = [*grid(3), Feature("f001", shapely.Point(25, 60), {})]
    with pytest.raises(SchemaError, match=r"holds the ids \['f001'\] more than once"):
        store.create("things", feats)
    with pytest.raises(SchemaError, match="more than once"):
        store.sync("things", feats)
    assert store.count("things") == 0


# ---------------------------------------------------------------- text, ids, size limits
@pytest.mark.parametrize(
    ("props", "text"),
    [
        ({"name": "a\ud800b"}, r"property 'name' of 'new' holds U\+D800 .*surrogate"),
        ({"name": "nul\x00"}, r"property 'name' of 'new' holds U\+0000 at position 3"),
        ({"name": "esc\x1b[31m"}, r"property 'name' of 'new' holds U\+001B"),
        ({"name": "abc\u202eevil"}, r"property 'name' of 'new' holds U\+202E"),
        ({"seen": "\udc002020-01-01T00:00:00Z"}, r"property 'seen' .* U\+DC00"),
        ({"tags": {"k": ["ok", "\x07"]}}, r"property 'tags' of 'new' holds U\+0007"),
        ({"tags": {"\ud83d": 1}}, r"property 'tags' .* U\+D83D"),
        ({"name": "x" * (MAX_STRING_LENGTH + 1)}, r"property 'name' of 'new' is 65537 char"),
    ],
)
def test_property_strings_must_be_text(things: Store, props, text) -> None:
    with pytest.raises(SchemaError, match=text):
        things.create("things", [Feature("new", shapely.Point(25, 60), props)])
    with pytest.raises(SchemaError, match=text.replace("'new'", "'f001'")):
        things.patch("things", "f001", properties=props)
    assert things.count("things") == 20
    assert [v.version for v in things.history("things", "f001")] == [1]


def test_property_text_keeps_tabs_newlines_and_any_script(things: Store) -> None:
    name = "line 1\r\nline 2\tдом 😀 \u200f\u05e9\u05dc\u05d5\u05dd"
    things.create("things", [Feature("new", shapely.Point(25, 60), {"name": name})])
    assert things.get("things", "new").properties["name"] == name
    long = "x" * MAX_STRING_LENGTH
    things.patch("things", "new", properties={"name": long})
    assert things.get("things", "new").properties["name"] == long


@pytest.mark.parametrize(
    ("fid", "text"),
    [
        ("a\x01b", r"holds U\+0001"),
        ("a\u202eb", r"holds U\+202E"),
        ("a\ud800", r"holds U\+D800"),
        ("..", "cannot be used in a URL path"),
        (".", "cannot be used in a URL path"),
        ("a/b", "may not contain '/'"),
        ("a\x00", r"holds U\+0000"),
    ],
)
def test_junk_ids_are_refused(things: Store, fid: str, text: str) -> None:
    with pytest.raises(SchemaError, match=text):
        things.create("things", [Feature(fid, shapely.Point(25, 60), {})])
    assert things.count("things") == 20


def test_ids_in_any_script_are_kept(things: Store) -> None:
    things.create("things", [Feature(f, shapely.Point(25, 60), {}) for f in ("дом-1", "id-😀")])
    assert things.get("things", "id-😀").id == "id-😀"


def test_geometry_vertex_limit(store: Store) -> None:
    store.ensure_collection(CollectionSpec("lines", "Lines", geometry_type="LineString"))
    n = MAX_VERTICES + 1
    xs = [24.0 + i * 1e-6 for i in range(n)]
    too_many = shapely.LineString(list(zip(xs, [60.0] * n, strict=True)))
    with pytest.raises(GeometryError, match=rf"has {n} coordinates; at most {MAX_VERTICES}"):
        store.create("lines", [Feature("l", too_many, {})])
    assert store.count("lines") == 0
    store.create("lines", [Feature("l", shapely.LineString(too_many.coords[:MAX_VERTICES]), {})])
    assert store.count("lines") == 1


def test_a_write_that_changes_nothing_adds_no_version(things: Store) -> None:
    before = things.get("things", "f001")
    seqs = [c.seq for c in things.changes()]
    assert things.patch("things", "f001", properties={}) == before
    assert things.patch("things", "f001", properties={"n": 1}, expected_version=1) == before
    same = Feature("f001", before.geometry, dict(before.properties))
    assert things.replace("things", same, expected_version=1) == before
    assert [v.version for v in things.history("things", "f001")] == [1]
    assert [c.seq for c in things.changes()] == seqs
    with pytest.raises(PreconditionFailed):
        things.patch("things", "f001", properties={}, expected_version=7)
    assert things.patch("things", "f001", properties={"n": 2}).version == 2
    assert things.verify().ok
