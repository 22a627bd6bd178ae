"""OGC API Features Part 3: CQL2 text and JSON into the store's filters."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import shapely
from shapely.geometry import box
from starlette.testclient import TestClient

from tests.service.conftest import BUILDINGS
from twin.errors import InvalidInput
from twin.service.cql import parse_filter
from twin.store import open_store
from twin.store.filters import (
    And,
    Compare,
    CompareOp,
    In,
    Like,
    Not,
    Spatial,
    SpatialOp,
    Temporal,
    TemporalOp,
)


def _ids(client: TestClient, **params: str) -> set[str]:
    r = client.get("/collections/buildings/items", params={"limit": "1000", **params})
    assert r.status_code == 200, r.text
    return {f["id"] for f in r.json()["features"]}


def _store_ids(city_url: str, pred) -> set[str]:
    with open_store(city_url) as store:
        return {fv.id for fv in store.query("buildings") if pred(fv)}


@pytest.mark.parametrize(
    ("text", "pred"),
    [
        ("height > 20", lambda f: f.properties["height"] > 20),
        (
            "floors = 3 AND heritage = false",
            lambda f: f.properties["floors"] == 3 and not f.properties["heritage"],
        ),
        (
            "floors IN (1, 2) OR height >= 30",
            lambda f: f.properties["floors"] in (1, 2) or f.properties["height"] >= 30,
        ),
        ("NOT (floors <> 4)", lambda f: f.properties["floors"] == 4),
        ("name LIKE 'Building 1%'", lambda f: f.properties["name"].startswith("Building 1")),
        ("CASEI(name) = CASEI('BUILDING 7')", lambda f: f.properties["name"] == "Building 7"),
        ("height BETWEEN 10 AND 12", lambda f: 10 <= f.properties["height"] <= 12),
        # an integer property against a decimal compares numbers
        ("floors > 2.5", lambda f: f.properties["floors"] > 2.5),
        ("floors BETWEEN 0.5 AND 3.5", lambda f: 0.5 <= f.properties["floors"] <= 3.5),
        ("floors = 3 OR floors = 2.5", lambda f: f.properties["floors"] == 3),
        (
            "S_INTERSECTS(geometry, BBOX(24.929, 60.1599, 24.9335, 60.1612))",
            lambda f: f.geometry.intersects(box(24.929, 60.1599, 24.9335, 60.1612)),
        ),
        (
            "T_BEFORE(built, TIMESTAMP('1930-01-01T00:00:00Z'))",
            lambda f: f.properties["built"] < "1930",
        ),
        (
            "T_DURING(built, INTERVAL('1950-01-01T00:00:00Z', '1960-01-01T00:00:00Z'))",
            lambda f: "1950-01-01" <= f.properties["built"][:10] <= "1960-01-01",
        ),
    ],
)
def test_cql2_text_matches_the_store(client: TestClient, city_url: str, text: str, pred) -> None:
    def norm(fv):
        built = fv.properties["built"]
        fv.properties["built"] = built if isinstance(built, str) else built.isoformat()
        return pred(fv)

    expected = _store_ids(city_url, norm)
    assert expected, "the case must select something"
    assert _ids(client, filter=text) == expected


def test_cql2_json_equals_text(client: TestClient) -> None:
    js = {
        "op": "and",
        "args": [
            {"op": ">", "args": [{"property": "height"}, 15]},
            {
                "op": "s_intersects",
                "args": [
                    {"property": "geometry"},
                    {
                        "type": "Polygon",
                        "coordinates": [
                            [
                                [24.92, 60.15],
                                [24.95, 60.15],
                                [24.95, 60.17],
                                [24.92, 60.17],
                                [24.92, 60.15],
                            ]
                        ],
                    },
                ],
            },
        ],
    }
    got = _ids(client, filter=json.dumps(js), **{"filter-lang": "cql2-json"})
    text = "height > 15 AND S_INTERSECTS(geometry, POLYGON((24.92 60.15, 24.95 60.15, 24.95 60.17, 24.92 60.17, 24.92 60.15)))"
    assert got == _ids(client, filter=text)
    assert got


def test_filter_crs(client: TestClient) -> None:
    # the same box in EPSG:4326 (lat, lon)
    a = _ids(client, filter="S_INTERSECTS(geometry, BBOX(24.929, 60.1599, 24.9335, 60.1612))")
    b = _ids(
        client,
        filter="S_INTERSECTS(geometry, BBOX(60.1599, 24.929, 60.1612, 24.9335))",
        **{"filter-crs": "http://www.opengis.net/def/crs/EPSG/0/4326"},
    )
    assert a == b


def test_filter_combines_with_datetime_and_paging(client: TestClient) -> None:
    doc = client.get(
        "/collections/buildings/items",
        params={"filter": "height >= 6", "datetime": "2021-01-01T00:00:00Z", "limit": "4"},
    ).json()
    assert doc["numberMatched"] == 30
    nxt = next(link["href"] for link in doc["links"] if link["rel"] == "next")
    assert "filter=height" in nxt


def test_valid_time_queryable(client: TestClient) -> None:
    edited = _ids(client, filter="T_AFTER(valid_from, TIMESTAMP('2021-01-01T00:00:00Z'))")
    assert edited == {"b00", "b01", "b02"}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            "colour = 'red'",
            "filter names the property 'colour', which collection 'buildings' does not have",
        ),
        ("height > 'tall'", "filter compares property 'height' (number) with 'tall'"),
        ("height >", "is not valid cql2-text"),
        (
            "T_AFTER(name, TIMESTAMP('2020-01-01T00:00:00Z'))",
            "needs a datetime property; 'name' is string",
        ),
        ("floors > 99999999999999999999999", "with 1e+23, outside the 64-bit integer range"),
        ("floors > 1e20", "'floors' (integer) with 1e+20, outside the 64-bit integer range"),
        ("floors IN (1, -1e19)", "with -1e+19, outside the 64-bit integer range"),
        (
            '{"op": ">", "args": [{"property": "floors"}, 1e+20]}',
            "with 1e+20, outside the 64-bit integer range",
        ),
    ],
)
def test_bad_filters_are_400(client: TestClient, text: str, fragment: str) -> None:
    r = client.get("/collections/buildings/items", params={"filter": text})
    assert r.status_code == 400
    assert fragment in r.json()["description"]


def test_unknown_filter_lang_is_400(client: TestClient) -> None:
    r = client.get(
        "/collections/buildings/items", params={"filter": "height > 1", "filter-lang": "ecql"}
    )
    assert r.status_code == 400
    assert "filter-lang='ecql' is not supported" in r.json()["description"]


# -- the translation itself ---------------------------------------------------------------
def test_translation_nodes() -> None:
    e = parse_filter("height > 3 AND name LIKE 'a%' AND floors IN (1,2)", BUILDINGS)
    assert e == And(
        (Compare("height", CompareOp.GT, 3.0), Like("name", "a%"), In("floors", (1, 2)))
    )


def test_literal_first_comparison_is_flipped() -> None:
    assert parse_filter("3 < height", BUILDINGS) == Compare("height", CompareOp.GT, 3.0)


def test_spatial_and_temporal_nodes() -> None:
    e = parse_filter("S_WITHIN(geometry, BBOX(0,0,1,1))", BUILDINGS)
    assert isinstance(e, Spatial) and e.op is SpatialOp.WITHIN
    t = parse_filter("T_DISJOINT(built, INTERVAL('2000-01-01', '..'))", BUILDINGS)
    assert isinstance(t, Not) and isinstance(t.arg, Temporal)
    assert t.arg.op is TemporalOp.INTERSECTS and t.arg.end is None


def test_unsupported_operator_names_itself() -> None:
    with pytest.raises(InvalidInput, match="'a_contains' is not supported"):
        parse_filter('{"op": "a_contains", "args": [{"property": "name"}, ["x"]]}', BUILDINGS)


# -- limits before the native parser ------------------------------------------------------
_CRASHERS = {
    "parentheses": "'(' * 3000 + 'floors > 2' + ')' * 3000",
    "not_chain": "'NOT ' * 2000 + 'floors > 2'",
    "minus_chain": "'floors > ' + '-' * 20000 + '1'",
    "plus_chain": "'floors > 1' + '+1' * 20000",
    "backtracking": "'(' * 11 + '(floors = 1 OR (floors = 2) AND ' * 2000 + 'floors ='",
    "json": """'{"op":"not","args":[' * 3000 + '{"op":">","args":[{"property":"floors"},2]}' + ']}' * 3000""",
    "or_chain": "'floors = 1 OR ' * 1500 + 'floors = 2'",
}


@pytest.mark.parametrize("name", sorted(_CRASHERS))
def test_hostile_filters_end_cleanly_in_a_child_process(name: str) -> None:
    # a stack overflow in the native parser kills the process, so the parse runs in one
    code = (
        "import sys\n"
        "from tests.service.conftest import BUILDINGS\n"
        "from twin.errors import InvalidInput\n"
        "from twin.service.cql import parse_filter\n"
        f"text = {_CRASHERS[name]}\n"
        "try:\n"
        "    parse_filter(text, BUILDINGS)\n"
        "    print('parsed')\n"
        "except InvalidInput as exc:\n"
        "    print('invalid:', exc)\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env, cwd=root
    )
    assert done.returncode == 0, done.stderr[-2000:]
    if name == "or_chain":
        assert done.stdout.strip() == "parsed"
    else:
        assert done.stdout.startswith("invalid: filter"), done.stdout


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("(" * 13 + "floors > 2" + ")" * 13, "filter nests brackets 13 deep; cql2-text filters"),
        (
            "(" * 8 + "floors = 1 OR " * 400 + "floors = 2" + ")" * 8,
            "brackets nested 8 deep; at that depth cql2-text filters may be at most 4096",
        ),
        ("NOT " * 257 + "floors > 2", "filter has 257 NOT and arithmetic operators; at most 256"),
        ("NOT " * 40 + "floors > 2", "filter nests operators more than 32 deep"),
        ("floors = 1 OR " * 6000 + "floors = 2", "bytes long; at most 65536 (64 KiB)"),
        (
            '{"op":"not","args":[' * 40
            + '{"op":"isNull","args":[{"property":"name"}]}'
            + "]}" * 40,
            "filter nests JSON 83 deep; cql2-json filters may nest at most 64 deep",
        ),
    ],
)
def test_filter_limits_are_named(text: str, fragment: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(fragment)):
        parse_filter(text, BUILDINGS)


def test_filters_within_the_limits_parse() -> None:
    deep = "(" * 12 + "floors > 2" + ")" * 12
    assert parse_filter(deep, BUILDINGS) == Compare("floors", CompareOp.GT, 2)
    assert isinstance(parse_filter("NOT " * 31 + "floors > 2", BUILDINGS), Not)
    # negative coordinates in a geometry literal are not operators: 600 signs here
    ring = shapely.Point(-70.0, -30.0).buffer(1.0, quad_segs=75)
    assert len(ring.exterior.coords) == 301
    text = f"S_INTERSECTS(geometry, {ring.wkt}) AND floors > 1" + " AND floors > 1" * 200
    assert isinstance(parse_filter(text, BUILDINGS), And)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("😀", "is not valid cql2-text: at line 1, column 1, found '😀': expected Expr"),
        ("floors IN ()", "at line 1, column 12, found ')': expected Expr"),
        ("height >", "at line 1, column 9, found the end of the filter: expected GEOMETRY,"),
        ("S_INTERSECTS(geometry, POINT EMPTY)", "empty geometries such as POINT EMPTY are not"),
        (
            "S_INTERSECTS(geometry, GEOMETRYCOLLECTION EMPTY)",
            "filter S_INTERSECTS needs a non-empty geometry",
        ),
        (
            "S_INTERSECTS(geometry, POINT(200 100))",
            "filter S_INTERSECTS geometry coordinate (200.0, 100.0) is outside the area of use"
            " of OGC:CRS84 (Lon -180..180, Lat -90..90)",
        ),
        (
            "S_WITHIN(geometry, BBOX(-1e300, 60, 25, 61))",
            "coordinate (-1e+300, 61.0) is outside the area of use of OGC:CRS84",
        ),
    ],
)
def test_filter_errors_say_what_is_wrong(client: TestClient, text: str, fragment: str) -> None:
    r = client.get("/collections/buildings/items", params={"filter": text})
    assert r.status_code == 400, r.text
    assert fragment in r.json()["description"]


def test_filter_geometry_is_checked_in_the_filter_crs(client: TestClient) -> None:
    params = {
        "filter": "S_INTERSECTS(geometry, POINT(100 200))",
        "filter-crs": "http://www.opengis.net/def/crs/EPSG/0/4326",
    }
    r = client.get("/collections/buildings/items", params=params)
    assert r.status_code == 400
    assert "outside the area of use of EPSG:4326 (Lat -90..90, Lon -180..180)" in r.text
    params["filter"] = "S_INTERSECTS(geometry, POINT(30000000 0))"
    params["filter-crs"] = "http://www.opengis.net/def/crs/EPSG/0/3857"
    r = client.get("/collections/buildings/items", params=params)
    assert r.status_code == 400
    assert "outside the area of use of EPSG:3857" in r.text
