"""The store contract, writes: what is refused and named, what lands, and that it lands whole.

Like the rest of the contract, run against the GeoPackage and the PostGIS backend.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
import shapely

from tests.twin.store_helpers import SPEC, T0, T1, T2, grid
from twin.errors import (
    ConflictError,
    FeatureNotFound,
    GeometryError,
    GeometryOutOfBounds,
    InvalidInput,
    InvalidInterval,
    PreconditionFailed,
    SchemaError,
)
from twin.store import CollectionSpec, Feature, Field, FieldType, Store
from twin.store._validate import MAX_STRING_LENGTH, MAX_VERTICES


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


def test_missing_value_markers_are_missing_values(things: Store) -> None:
    """NaN, pandas.NA and NaT (what a data frame row holds where a value is missing) are
    stored as no value, never as the text 'nan'."""
    import pandas as pd

    props = {"name": float("nan"), "n": pd.NA, "size": np.float64("nan"), "seen": pd.NaT}
    things.create("things", [Feature("x", shapely.Point(25, 60), {**props, "ok": True})])
    assert things.get("things", "x").properties == {"ok": True}
    things.patch("things", "f001", properties={"name": float("nan")})
    assert "name" not in things.get("things", "f001").properties
    # What pandas 3 does to a string column with a gap: the gap reads back as NaN.
    gap = pd.DataFrame({"name": [None, "b"]})["name"].iloc[0]
    things.replace("things", Feature("f002", shapely.Point(25, 60), {"name": gap}))
    assert things.get("things", "f002").properties == {}


@pytest.mark.parametrize("value", [float("inf"), float("-inf")])
def test_infinite_number_is_not_a_string(things: Store, value: float) -> None:
    before = things.changes()
    with pytest.raises(SchemaError, match="property 'name' of 'x' must be string, not"):
        things.create("things", [Feature("x", shapely.Point(25, 60), {"name": value})])
    assert things.changes() == before
    things.create("things", [Feature("y", shapely.Point(25, 60), {"name": 1.5})])
    assert things.get("things", "y").properties["name"] == "1.5"


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


def _edited(store: Store) -> list[Feature]:
    """things f000-f003 imported by 'importer'; then an operator edits f000, retires f001
    and creates f100. Returns the importer's features."""
    store.ensure_collection(SPEC)
    feats = grid(4)
    store.sync("things", feats, valid_from=T0, actor="importer")
    store.patch("things", "f000", properties={"name": "fixed"}, valid_from=T1, actor="anna")
    store.retire("things", "f001", valid_to=T1, actor="anna")
    store.create(
        "things",
        [Feature("f100", shapely.Point(24.95, 60.18), {"n": 100})],
        valid_from=T1,
        actor="anna",
    )
    return feats


def test_a_sync_keeping_edits_leaves_what_others_made(store: Store) -> None:
    feats = _edited(store)
    feats[2] = Feature("f002", feats[2].geometry, {**feats[2].properties, "name": "new name"})
    rep = store.sync("things", feats, valid_from=T2, actor="importer", keep_edits=True)
    assert (rep.created, rep.updated, rep.retired, rep.unchanged) == (0, 1, 0, 1)
    assert (rep.kept, rep.conflicts) == (3, ())
    assert store.get("things", "f000").properties["name"] == "fixed"  # the edit stays
    assert store.count("things") == 4  # f001 stays retired, f100 stays
    assert store.get("things", "f100").version == 1
    assert store.get("things", "f002").properties["name"] == "new name"


def test_a_source_that_changed_an_edited_feature_is_a_conflict(store: Store) -> None:
    feats = _edited(store)
    feats[0] = Feature("f000", feats[0].geometry, {**feats[0].properties, "n": 42})
    feats[1] = Feature("f001", feats[1].geometry, {**feats[1].properties, "n": 43})
    feats.append(Feature("f100", shapely.Point(24.95, 60.18), {"n": 100}))  # agrees with anna
    rep = store.sync("things", feats, valid_from=T2, actor="importer", keep_edits=True)
    assert rep.conflicts == ("f000", "f001")
    kept = store.get("things", "f000").properties
    assert (kept["name"], kept["n"]) == ("fixed", 0)  # the edit stays, the source's 42 waits


def test_a_sync_without_keep_edits_owns_everything(store: Store) -> None:
    feats = _edited(store)
    rep = store.sync("things", feats, valid_from=T2, actor="importer")
    assert (rep.created, rep.updated, rep.retired, rep.kept) == (1, 1, 1, 0)
    assert store.get("things", "f000").properties["name"] == "thing 0"
    assert sorted(f.id for f in store.query("things")) == ["f000", "f001", "f002", "f003"]


def test_writes_within_one_millisecond_get_increasing_times(
    things: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clock counts milliseconds: two quick PATCHes of one feature and a DELETE (through
    the service, which takes the time of the write) must neither start two versions at one
    instant nor be refused; each transaction comes a millisecond after the last."""
    frozen = things.changes()[-1].recorded_at
    monkeypatch.setattr("twin.store._writes.now", lambda: frozen)
    things.patch("things", "f001", properties={"n": 5})
    things.patch("things", "f001", properties={"n": 6})
    things.retire("things", "f001")
    ms = [frozen + timedelta(milliseconds=i) for i in (1, 2, 3)]
    assert [(v.version, v.valid_from, v.valid_to) for v in things.history("things", "f001")] == [
        (1, T0, ms[0]),
        (2, ms[0], ms[1]),
        (3, ms[1], ms[2]),
    ]
    assert [c.recorded_at for c in things.changes()[-3:]] == ms
    assert things.verify().ok


def test_retired_feature_can_come_back_as_new_version(things: Store) -> None:
    things.retire("things", "f001", valid_to=T1)
    things.create(
        "things", [Feature("f001", shapely.Point(24.901, 60.17), {"n": 1})], valid_from=T2
    )
    assert [v.version for v in things.history("things", "f001")] == [1, 2]


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


def test_a_number_below_its_fields_minimum_is_refused(store: Store) -> None:
    from layers.osm.specs import PARKING

    store.ensure_collection(PARKING)
    lot = Feature("w1", shapely.Point(24.95, 60.17), {"capacity": -5})
    with pytest.raises(SchemaError, match="property 'capacity' of 'w1' is -5, below its minimum 0"):
        store.create("parking", [lot])
    assert store.count("parking") == 0
    store.create("parking", [Feature("w1", lot.geometry, {"capacity": 0})])
    with pytest.raises(SchemaError, match="below its minimum 0"):
        store.patch("parking", "w1", properties={"capacity": -400})


def test_a_field_takes_the_description_and_minimum_of_the_code_of_today(store: Store) -> None:
    old = CollectionSpec("lots", "Lots", fields=(Field("capacity", FieldType.INTEGER, "spaces"),))
    store.ensure_collection(old)
    store.create("lots", [Feature("a", shapely.Point(24.95, 60.17), {"capacity": -1})])
    new = CollectionSpec(
        "lots", "Lots", fields=(Field("capacity", FieldType.INTEGER, "parking spaces", minimum=0),)
    )
    store.ensure_collection(new)
    field = store.collection("lots").field_map()["capacity"]
    assert (field.description, field.minimum) == ("parking spaces", 0)
    with pytest.raises(SchemaError, match="below its minimum 0"):
        store.create("lots", [Feature("b", shapely.Point(24.95, 60.17), {"capacity": -1})])
    assert store.get("lots", "a").properties["capacity"] == -1  # what is stored stays


@pytest.mark.parametrize("minimum", [float("nan"), "0", True])
def test_a_minimum_must_be_a_finite_number(minimum: object) -> None:
    with pytest.raises(InvalidInput, match=r"minimum=.* needs a number field and value"):
        Field("n", FieldType.INTEGER, minimum=minimum)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="needs a number field"):
        Field("s", FieldType.STRING, minimum=0)
