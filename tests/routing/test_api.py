"""OGC API - Routes on the served Helsinki twin: what a dispatcher's client sees."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import LineString, Point, box, shape
from starlette.testclient import TestClient

from routing.api import CONFORMANCE
from routing.closures import sync_store_closures
from routing.graph import RoadGraph
from tests.service.conftest import EDITOR, READER, settings_for
from twin.service.app import create_app
from twin.store import Feature, open_store

# The router's engine may only be dropped on the thread that made it; a graph the cycle
# collector frees on another thread is reported (and leaked), which is not a failure.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

# Two points in central Helsinki, on either side of the city centre, and one between.
A = [24.9384, 60.1699]
B = [24.9449, 60.1660]
VIA = [24.9425, 60.1690]
# North of A, in Kruununhaka: every way from A to it stays north of latitude 60.168.
NORTH = [24.9458, 60.1760]
DEPART = "2026-12-01T08:00:00Z"


@pytest.fixture(scope="module")
def client(helsinki_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("routes-api")
    db = folder / "twin.gpkg"
    shutil.copy(helsinki_db, db)  # closures are written: a copy of our own
    app = create_app(str(db), settings=settings_for(folder))
    with TestClient(app, base_url="http://127.0.0.1:5000") as c:
        yield c


def _define(points: list[list[float]], **inputs: Any) -> dict[str, Any]:
    return {
        "inputs": {
            "waypoints": {"value": {"type": "MultiPoint", "coordinates": points}},
            "when": {"timestamp": DEPART, "type": "departure"},
            **inputs,
        }
    }


def _post(client: TestClient, body: Any) -> Any:
    return client.post("/routes", json=body)


def _parts(doc: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for f in doc["features"]:
        out.setdefault(f["properties"]["featureType"], []).append(f)
    return out


def test_conformance_landing_and_openapi_announce_routes(client: TestClient) -> None:
    conf = client.get("/conformance").json()["conformsTo"]
    assert set(CONFORMANCE) <= set(conf)
    links = client.get("/", params={"f": "json"}).json()["links"]
    assert any(link["href"].endswith("/routes") for link in links)
    paths = client.get("/openapi", params={"f": "json"}).json()["paths"]
    assert "post" in paths["/routes"] and "delete" in paths["/routes/{routeId}"]


def test_route_exchange_model_equals_the_router(client: TestClient, helsinki_ev: RoadGraph) -> None:
    r = _post(client, _define([A, B], name="engine 3"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/geo+json")
    doc = r.json()
    assert doc["type"] == "FeatureCollection" and doc["name"] == "engine 3"
    parts = _parts(doc)
    assert [len(parts[k]) for k in ("overview", "start", "end")] == [1, 1, 1]
    overview = parts["overview"][0]["properties"]
    expected = helsinki_ev.route(tuple(A), tuple(B), depart=DEPART)
    # The graph loaded from the twin's layers routes exactly like the one from OSM.
    assert overview["duration_s"] == pytest.approx(expected.travel_time_s, abs=0.05)
    assert overview["length_m"] == pytest.approx(expected.length_m, abs=0.5)
    assert overview["nodeIds"] == expected.node_ids
    segs = parts["segment"]
    assert len(segs) == len(expected.steps) >= 2
    assert sum(s["properties"]["duration_s"] for s in segs) == pytest.approx(
        overview["duration_s"], abs=0.1 * len(segs)
    )
    for s in segs:
        p = s["properties"]
        assert {"length_m", "duration_s", "roadName", "instructions", "restriction"} <= set(p)
    # The left turn from Kaivokatu onto Mannerheimintie departs from an only_straight_on
    # restriction: the emergency vehicle takes it (with care) and the segment says so.
    against = [s["properties"]["restriction"] for s in segs]
    assert against == [s.restriction for s in expected.steps]
    assert "only_straight_on" in against
    assert any(s["properties"]["roadName"] for s in segs)
    line = shape(parts["overview"][0]["geometry"])
    assert isinstance(line, LineString)
    assert Point(parts["start"][0]["geometry"]["coordinates"]).distance(Point(A)) < 0.001
    # The emergency mode carries its signal plan.
    plan = doc["signalPlan"]
    assert plan["eta_preemption_s"] <= plan["eta_no_preemption_s"]
    assert len(plan["signals"]) >= 1
    first = plan["signals"][0]
    assert {"node_ids", "position", "approach", "eta", "eta_band_s", "window"} <= set(first)
    assert first["window"]["start"] < first["eta"] < first["window"]["end"]


def test_a_route_that_obeys_every_turn_restriction(client: TestClient) -> None:
    free = _post(client, _define([A, B])).json()
    r = _post(client, _define([A, B], obeyTurnRestrictions=True))
    assert r.status_code == 200, r.text
    strict = r.json()
    segs = _parts(strict)["segment"]
    assert not any(s["properties"]["restriction"] for s in segs)
    assert any(s["properties"]["restriction"] for s in _parts(free)["segment"])
    dur = [_parts(d)["overview"][0]["properties"]["duration_s"] for d in (free, strict)]
    assert dur[0] < dur[1]
    r = _post(client, _define([A, B], obeyTurnRestrictions="yes"))
    assert r.status_code == 400
    assert r.json()["description"] == "inputs.obeyTurnRestrictions must be true or false"


def test_a_kept_route_can_be_read_and_deleted(client: TestClient) -> None:
    name = "Yksikkö 3 → kohde #4711 (Itä)"
    r = _post(client, _define([A, B], mode="car", name=name))
    assert r.status_code == 200
    assert "signalPlan" not in r.json() and r.json()["name"] == name
    href = r.headers["location"]
    rid = href.rsplit("/", 1)[1]
    got = client.get(f"/routes/{rid}")
    assert got.status_code == 200 and got.json()["features"] == r.json()["features"]
    assert any(link["href"] == href for link in client.get("/routes").json()["links"])
    assert client.delete(f"/routes/{rid}", headers=EDITOR).status_code == 204
    assert client.get(f"/routes/{rid}").status_code == 404


def test_dropping_a_route_needs_an_editor_key(client: TestClient) -> None:
    r = _post(client, _define([A, B], mode="car"))
    assert r.status_code == 200, r.text
    rid = r.json()["id"]
    anonymous = client.delete(f"/routes/{rid}")
    assert anonymous.status_code == 401, anonymous.text
    assert "editor" in anonymous.json()["description"]
    reader = client.delete(f"/routes/{rid}", headers=READER)
    assert reader.status_code == 403, reader.text
    assert "editor" in reader.json()["description"]
    assert client.get(f"/routes/{rid}").status_code == 200  # still kept
    # An unknown route is no different to a caller without a key.
    assert client.delete("/routes/0000000000000000").status_code == 401
    assert client.delete(f"/routes/{rid}", headers=EDITOR).status_code == 204
    assert client.get(f"/routes/{rid}").status_code == 404
    assert client.delete(f"/routes/{rid}", headers=EDITOR).status_code == 404
    from pygeoapi.openapi import validate_openapi_document

    doc = client.get("/openapi", params={"f": "json"}).json()
    delete = doc["paths"]["/routes/{routeId}"]["delete"]
    assert delete["security"] == [{"ApiKey": []}]
    assert {"401", "403"} <= set(delete["responses"])
    assert validate_openapi_document(doc)


def test_intermediate_waypoint_is_visited(client: TestClient) -> None:
    direct = _parts(_post(client, _define([A, B])).json())["overview"][0]["properties"]
    r = _post(client, _define([A, VIA, B]))
    assert r.status_code == 200, r.text
    parts = _parts(r.json())
    via = parts["overview"][0]["properties"]
    assert via["duration_s"] >= direct["duration_s"]
    assert {s["properties"]["leg"] for s in parts["segment"]} == {0, 1}
    line = shape(parts["overview"][0]["geometry"])
    assert line.distance(Point(VIA)) < 0.002  # within ~100 m of the stop


def _box_around(doc: dict[str, Any]) -> dict[str, Any]:
    seg = max(_parts(doc)["segment"], key=lambda s: s["properties"]["length_m"])
    mid = shape(seg["geometry"]).interpolate(0.5, normalized=True)
    return mid.buffer(0.0004).__geo_interface__


def test_an_obstacle_is_avoided(client: TestClient) -> None:
    plain = _post(client, _define([A, B])).json()
    box = _box_around(plain)
    r = _post(client, _define([A, B], obstacles={"value": box}))
    assert r.status_code == 200, r.text
    around = _parts(r.json())["overview"][0]
    assert not shape(around["geometry"]).intersects(shape(box))
    assert (
        around["properties"]["duration_s"]
        >= _parts(plain)["overview"][0]["properties"]["duration_s"]
    )


def test_arrival_time_sets_the_departure(client: TestClient) -> None:
    arrive = "2026-12-01T09:00:00+00:00"
    r = _post(client, _define([A, B], when={"timestamp": arrive, "type": "arrival"}))
    assert r.status_code == 200, r.text
    p = _parts(r.json())["overview"][0]["properties"]
    dep = datetime.fromisoformat(p["departure"])
    arrival = dep + timedelta(seconds=p["duration_s"])
    assert abs((arrival - datetime.fromisoformat(arrive)).total_seconds()) < 0.1
    assert datetime.fromisoformat(p["arrival"]) == datetime.fromisoformat(arrive)


def test_a_posted_closure_counts_in_its_window_only(client: TestClient) -> None:
    plain = _post(client, _define([A, B])).json()
    box = _box_around(plain)
    start = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
    body = {
        "type": "Feature",
        "geometry": box,
        "properties": {
            "reason": "incident",
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=2)).isoformat(),
        },
    }
    w = client.post(
        "/collections/road_closures/items",
        json=body,
        headers={**EDITOR, "Content-Type": "application/geo+json"},
    )
    assert w.status_code == 201, w.text
    try:
        inside = _parts(_post(client, _define([A, B])).json())["overview"][0]
        assert not shape(inside["geometry"]).intersects(shape(box))
        assert inside["properties"]["closures"]
        later = {"timestamp": "2026-12-01T10:00:00Z", "type": "departure"}
        after = _parts(_post(client, _define([A, B], when=later)).json())["overview"][0]
        assert after["properties"]["closures"] == []
        assert (
            after["properties"]["nodeIds"] == _parts(plain)["overview"][0]["properties"]["nodeIds"]
        )
    finally:
        client.delete(w.headers["location"].split("5000")[1], headers=EDITOR)
    lifted = _parts(_post(client, _define([A, B])).json())["overview"][0]
    assert lifted["properties"]["closures"] == []


def test_an_invalid_closure_is_refused(client: TestClient) -> None:
    bowtie = {
        "type": "Polygon",
        "coordinates": [
            [[24.93, 60.16], [24.95, 60.18], [24.95, 60.16], [24.93, 60.18], [24.93, 60.16]]
        ],
    }
    r = client.post(
        "/collections/road_closures/items",
        json={"type": "Feature", "geometry": bowtie, "properties": {"reason": "x"}},
        headers={**EDITOR, "Content-Type": "application/geo+json"},
    )
    assert r.status_code == 400 and "not valid" in r.json()["description"]
    box = Point(A).buffer(0.001).__geo_interface__
    r = client.post(
        "/collections/road_closures/items",
        json={
            "type": "Feature",
            "geometry": box,
            "properties": {"starts_at": "2026-12-01T10:00:00Z", "ends_at": "2026-12-01T09:00:00Z"},
        },
        headers={**EDITOR, "Content-Type": "application/geo+json"},
    )
    assert r.status_code == 400 and "ends_at" in r.json()["description"]


def test_a_malformed_stored_closure_is_skipped(
    helsinki_db: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Closures written through the Python store API are not checked; routing survives them."""
    db = tmp_path / "twin.gpkg"
    shutil.copy(helsinki_db, db)
    box = Point(VIA).buffer(0.0008)
    window = {"starts_at": "2026-12-01T07:00:00Z", "ends_at": "2026-12-01T09:00:00Z"}
    with open_store(str(db)) as store:
        store.create(
            "road_closures",
            [
                Feature(
                    "backwards",
                    box,
                    {"starts_at": "2026-12-01T10:00:00Z", "ends_at": "2026-12-01T09:00:00Z"},
                ),
                Feature("garbage", box, {"starts_at": "garbage"}),
                Feature("a-line", LineString([A, B]), window),
                Feature("good", box, window),
            ],
        )
    app = create_app(str(db), settings=settings_for(tmp_path))
    with TestClient(app, base_url="http://127.0.0.1:5000") as client:
        r = _post(client, _define([A, B]))
        assert r.status_code == 200, r.text
        overview = _parts(r.json())["overview"][0]
        assert overview["properties"]["closures"] == ["store:good"]
        assert not shape(overview["geometry"]).intersects(box)
        assert _post(client, _define([A, B])).status_code == 200
    warned = [m for m in caplog.messages if "malformed and left out" in m]
    assert sorted(m.split()[2] for m in warned) == ["a-line", "backwards", "garbage"]
    # Each worker thread routes on a graph of its own; the warning is still given once.
    caplog.clear()
    warned: set[tuple[str, str]] = set()
    with open_store(str(db)) as store:
        for _ in range(2):
            graph = RoadGraph.from_store(store, profile="emergency")
            sync_store_closures(graph, store, warned=warned)
    warned = [m for m in caplog.messages if "malformed and left out" in m]
    assert sorted(m.split()[2] for m in warned) == ["a-line", "backwards", "garbage"]


# Polygons far larger than the city: the whole world, a good part of it, everything south
# of the city centre (its long sides cross the city's metric zone), and one far away.
WORLD = box(-180, -90, 180, 90)
EURASIA = box(-10, 40, 60, 80)
SOUTH = box(-10, 40, 60, 60.168)
GULF_OF_GUINEA = box(0, 0, 1, 1)


def _close(client: TestClient, polygon: Any) -> str:
    """Post a closure of ``polygon`` around DEPART; its item path."""
    w = client.post(
        "/collections/road_closures/items",
        json={
            "type": "Feature",
            "geometry": polygon.__geo_interface__,
            "properties": {
                "reason": "test",
                "starts_at": "2026-12-01T07:00:00Z",
                "ends_at": "2026-12-01T09:00:00Z",
            },
        },
        headers={**EDITOR, "Content-Type": "application/geo+json"},
    )
    assert w.status_code == 201, w.text
    return str(w.headers["location"].split("5000")[1])


def _closure_id(path: str) -> str:
    return "store:" + path.rsplit("/", 1)[1]


@pytest.mark.parametrize("polygon", [WORLD, EURASIA], ids=["world", "eurasia"])
def test_a_closure_over_the_whole_city_closes_every_road(client: TestClient, polygon: Any) -> None:
    item = _close(client, polygon)
    try:
        r = _post(client, _define([A, B]))
        assert r.status_code == 422, r.text
        text = r.json()["description"]
        assert "no route" in text and _closure_id(item) in text
        r = _post(client, _define([VIA, NORTH], mode="car"))
        assert r.status_code == 422 and "no route" in r.json()["description"]
    finally:
        client.delete(item, headers=EDITOR)
    assert _post(client, _define([A, B])).status_code == 200


def test_a_huge_closure_closes_the_roads_it_covers_and_no_others(client: TestClient) -> None:
    plain = _parts(_post(client, _define([A, NORTH])).json())["overview"][0]
    assert not shape(plain["geometry"]).intersects(SOUTH)
    item = _close(client, SOUTH)
    try:
        r = _post(client, _define([A, NORTH]))
        assert r.status_code == 200, r.text
        overview = _parts(r.json())["overview"][0]["properties"]
        assert overview["closures"] == [_closure_id(item)]
        assert overview["nodeIds"] == plain["properties"]["nodeIds"]
        # B lies south of the closure's northern side: its roads are closed.
        r = _post(client, _define([A, B]))
        assert r.status_code == 422 and _closure_id(item) in r.json()["description"]
    finally:
        client.delete(item, headers=EDITOR)


def test_a_closure_far_from_the_city_closes_nothing(client: TestClient) -> None:
    plain = _parts(_post(client, _define([A, B])).json())["overview"][0]["properties"]
    item = _close(client, GULF_OF_GUINEA)
    try:
        r = _post(client, _define([A, B]))
        assert r.status_code == 200, r.text
        overview = _parts(r.json())["overview"][0]["properties"]
        assert overview["closures"] == [_closure_id(item)]
        assert overview["nodeIds"] == plain["nodeIds"]
    finally:
        client.delete(item, headers=EDITOR)


def test_huge_and_far_obstacles(client: TestClient) -> None:
    for polygon in (WORLD, EURASIA):
        r = _post(client, _define([A, B], obstacles={"value": polygon.__geo_interface__}))
        assert r.status_code == 422, r.text
        assert "no route" in r.json()["description"]
    plain = _parts(_post(client, _define([A, NORTH])).json())["overview"][0]["properties"]
    r = _post(client, _define([A, NORTH], obstacles={"value": SOUTH.__geo_interface__}))
    assert r.status_code == 200, r.text
    overview = _parts(r.json())["overview"][0]
    assert not shape(overview["geometry"]).intersects(SOUTH)
    assert overview["properties"]["nodeIds"] == plain["nodeIds"]
    r = _post(client, _define([A, B], obstacles={"value": SOUTH.__geo_interface__}))
    assert r.status_code == 422 and "no route" in r.json()["description"]
    far = {"value": GULF_OF_GUINEA.__geo_interface__}
    r = _post(client, _define([A, NORTH], obstacles=far))
    assert r.status_code == 200, r.text
    assert _parts(r.json())["overview"][0]["properties"]["nodeIds"] == plain["nodeIds"]


def test_the_readme_route_example_is_answered(client: TestClient) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    found = re.search(r"curl -s -X POST localhost:5000/routes .*?-d '(\{.*?\})'\n", readme, re.S)
    assert found, "the README has no POST /routes example"
    r = _post(client, json.loads(found.group(1)))
    assert r.status_code == 200, r.text
    assert _parts(r.json())["overview"][0]["properties"]["length_m"] > 0


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (_define([A, [24.5, 60.5]]), 422, "destination"),  # far out at sea / in the woods
        (_define([A, [24.5, 60.5], B]), 422, "waypoint 2=(24.5, 60.5)"),  # not "destination"
        (_define([[60.1699, 24.9384], B]), 422, "origin"),  # lat, lon swapped
        (_define([[24.93, 95.0], B]), 400, "outside CRS84"),
        (_define([A, B], when={"timestamp": "next monday", "type": "departure"}), 400, "when"),
        (_define([A, B], when={"timestamp": DEPART, "type": "soon"}), 400, "when.type"),
        (_define([A]), 400, "at least two"),
        (_define([A, ["x", 60.1]]), 400, "position 1"),
        (
            _define(
                [A, B],
                obstacles={
                    "value": {
                        "type": "Polygon",
                        "coordinates": [
                            [
                                [24.93, 60.16],
                                [24.95, 60.18],
                                [24.95, 60.16],
                                [24.93, 60.18],
                                [24.93, 60.16],
                            ]
                        ],
                    }
                },
            ),
            400,
            "obstacles",
        ),
        (_define([A, B], when={"timestamp": None}), 400, "inputs.when.timestamp=None"),
        (_define([A, B], when=None), 400, "inputs.when must be"),
        (_define([A, B], when={"timestamp": DEPART, "extra": 1}), 400, "inputs.when has ['extra']"),
        (_define([A, B], name=""), 400, "inputs.name='' is blank"),
        (_define([A, B], name=" "), 400, "inputs.name=' ' is blank"),
        (_define([A, B], name="🚑"), 400, "inputs.name='🚑' holds the character"),
        (_define([A, B], name="engine\n3"), 400, "U+000A"),
        (_define([A, B], name="x" * 201), 400, "too long"),
        (_define([A, B], name=None), 400, "inputs.name=None"),
        (_define([A, B], mode="bicycle"), 400, "mode"),
        (_define([A, B], colour="red"), 400, "not understood"),
        ({"waypoints": [A, B]}, 400, "inputs"),
        (
            {**_define([A, B]), "obeyTurnRestrictions": True},
            400,
            "members ['obeyTurnRestrictions'] are not understood; route options go inside inputs",
        ),
        ({**_define([A, B]), "outputs": {}}, 400, "members ['outputs'] are not understood"),
    ],
)
def test_bad_route_definitions(client: TestClient, body: Any, status: int, words: str) -> None:
    r = _post(client, body)
    assert r.status_code == status, r.text
    assert words in r.json()["description"]


def test_a_body_that_is_not_json(client: TestClient) -> None:
    r = client.post(
        "/routes", content=b"\x00\xffjunk", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400 and "JSON" in r.json()["description"]


@pytest.mark.parametrize(
    ("when", "edge"),
    [
        ({"timestamp": "9999-12-31T23:59:59Z"}, "end after 9999-12-31"),
        ({"timestamp": "9999-12-31T23:59:59Z", "type": "arrival"}, "end after 9999-12-31"),
        ({"timestamp": "0001-01-01T00:00:00Z", "type": "arrival"}, "start before 0001-01-01"),
    ],
)
def test_a_route_past_the_end_of_the_calendar_is_refused(
    client: TestClient, when: dict[str, str], edge: str
) -> None:
    before = client.get("/routes").json()["links"]
    r = _post(client, _define([A, B], mode="emergency", when=when))
    assert r.status_code == 400, r.text
    text = r.json()["description"]
    assert "inputs.when.timestamp" in text and "date range" in text and edge in text
    assert client.get("/routes").json()["links"] == before  # nothing kept


def test_a_route_near_the_end_of_the_calendar_is_computed(client: TestClient) -> None:
    late = {"timestamp": "9999-12-31T22:00:00Z"}
    r = _post(client, _define([A, B], mode="emergency", when=late))
    assert r.status_code == 200, r.text
    p = _parts(r.json())["overview"][0]["properties"]
    assert p["departure"].startswith("9999-12-31T22:00:00")
    early = {"timestamp": "0001-01-01T02:00:00Z", "type": "arrival"}
    r = _post(client, _define([A, B], mode="emergency", when=early))
    assert r.status_code == 200, r.text
    p = _parts(r.json())["overview"][0]["properties"]
    assert p["arrival"].startswith("0001-01-01T02:00:00")
    assert p["departure"] < p["arrival"]
