"""The store contract, reads: the catalog, queries, what a query may hold, data frames.

Like the rest of the contract, run against the GeoPackage and the PostGIS backend.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.twin.store_helpers import SPEC, T0, T1, grid, ids
from twin.errors import (
    CollectionExists,
    CollectionNotFound,
    GeometryError,
    GeometryOutOfBounds,
    InvalidInput,
    SchemaError,
)
from twin.store import CollectionSpec, Field, Query, Store
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
from twin.temporal import Instant


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


def test_nearest_in_an_empty_collection_finds_nothing(store: Store) -> None:
    store.ensure_collection(SPEC)
    res = store.query("things", Query(nearest=(shapely.Point(24.9052, 60.1701), 3)))
    assert ids(res) == []


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


@pytest.mark.parametrize("ascending", [True, False])
def test_a_feature_without_the_sort_value_comes_last(store: Store, ascending: bool) -> None:
    store.ensure_collection(SPEC)
    feats = grid(4)
    for f in feats[1:3]:
        del f.properties["n"]  # f001 and f002 have no n
    store.create("things", feats)
    res = store.query("things", Query(sort=(("n", ascending),)))
    known = ["f000", "f003"] if ascending else ["f003", "f000"]
    assert ids(res) == [*known, "f001", "f002"]


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


# ---------------------------------------------------------------- checked queries
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
