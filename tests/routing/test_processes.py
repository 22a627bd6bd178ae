"""The routing processes through the real service over a Helsinki twin."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import Point, shape

from routing.graph import RoadGraph
from tests.service.conftest import settings_for, wait_for_job
from twin.build import build_twin
from twin.plugins import load_plugins
from twin.service import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

# The router's engine may only be dropped on the thread that made it; a graph the cycle
# collector frees on another thread is reported (and leaked), which is not a failure.
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
ROOT = Path(__file__).resolve().parents[2]
HELSINKI = ROOT / "data" / "helsinki.osm.pbf"
DEPART = "2024-03-01T08:00:00Z"
A, B = [24.9384, 60.1699], [24.9449, 60.1660]
STATION = "r167018"  # Erottajan paloasema, the extract's fire station


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("routing-svc")
    db = str(folder / "helsinki.gpkg")
    build_twin(HELSINKI, db, plugins=[p for p in load_plugins() if p.name in {"layers", "routing"}])
    app = create_app(db, settings=settings_for(folder))
    with TestClient(app, base_url="http://127.0.0.1:5000") as c:
        yield c


def _run(client: TestClient, pid: str, inputs: dict[str, Any]) -> Any:
    return client.post(f"/processes/{pid}/execution", json={"inputs": inputs})


def test_processes_are_listed_and_described(client: TestClient) -> None:
    ids = {p["id"] for p in client.get("/processes").json()["processes"]}
    assert {"greenwave-plan", "dispatch", "isochrone"} <= ids
    desc = client.get("/processes/isochrone").json()
    assert {"station", "point", "seconds", "preemption", "profile"} <= set(desc["inputs"])


def test_greenwave_plan(client: TestClient, helsinki_ev: RoadGraph) -> None:
    r = _run(client, "greenwave-plan", {"origin": A, "destination": B, "depart": DEPART})
    assert r.status_code == 200, r.text
    out = r.json()
    expected = helsinki_ev.route(tuple(A), tuple(B), depart=DEPART)
    assert out["summary"]["travel_time_s"] == pytest.approx(expected.travel_time_s, abs=1e-3)
    assert out["plan"]["route"]["node_ids"] == expected.node_ids
    signals = out["plan"]["signals"]
    assert out["summary"]["signal_count"] == len(signals) > 0
    assert out["summary"]["eta_preemption_s"] < out["summary"]["eta_no_preemption_s"]
    known = {j["junction_id"] for j in helsinki_ev.signals()}
    assert {s["junction_id"] for s in signals} <= known
    assert out["plan"]["depart"].startswith("2024-03-01T08:00:00")
    # the route turns against a restriction unless told to obey every one
    against = [s["restriction"] for s in out["plan"]["route"]["steps"] if s["restriction"]]
    assert against == ["only_straight_on"]
    inputs = {"origin": A, "destination": B, "depart": DEPART, "obey_turn_restrictions": True}
    strict = _run(client, "greenwave-plan", inputs).json()
    assert not any(s["restriction"] for s in strict["plan"]["route"]["steps"])
    assert strict["summary"]["travel_time_s"] > out["summary"]["travel_time_s"]


def test_dispatch_ranks_stations(client: TestClient, helsinki_ev: RoadGraph) -> None:
    r = _run(client, "dispatch", {"incident": B, "depart": DEPART})
    assert r.status_code == 200, r.text
    out = r.json()["stations"]
    assert [c["station"]["osm_id"] for c in out] == [STATION]
    # Given stations are ranked by their travel time to the incident.
    mine = [{"id": "far", "lon": A[0], "lat": A[1]}, {"id": "near", "lon": 24.9440, "lat": 60.1665}]
    r = _run(client, "dispatch", {"incident": B, "stations": mine, "profile": "emergency"})
    assert r.status_code == 200, r.text
    got = r.json()["stations"]
    times = {c["station"]["osm_id"]: c["travel_time_s"] for c in got}
    for s in mine:
        route = helsinki_ev.route((s["lon"], s["lat"]), tuple(B))
        assert times[str(s["id"])] == pytest.approx(route.travel_time_s, abs=0.01)
    assert [c["rank"] for c in got] == [1, 2]
    assert got[0]["travel_time_s"] <= got[1]["travel_time_s"]


def test_isochrone_with_and_without_preemption(client: TestClient) -> None:
    areas = {}
    for pre in (False, True):
        r = _run(client, "isochrone", {"station": STATION, "seconds": 120, "preemption": pre})
        assert r.status_code == 200, r.text
        (feat,) = r.json()["features"]
        poly = shape(feat["geometry"])
        assert poly.is_valid and poly.geom_type in {"Polygon", "MultiPolygon"}
        assert feat["properties"]["preemption"] is pre
        areas[pre] = poly
    assert areas[True].area > areas[False].area
    r = _run(client, "isochrone", {"point": A, "seconds": 60})
    assert r.status_code == 200, r.text
    (feat,) = r.json()["features"]
    assert shape(feat["geometry"]).distance(Point(A)) < 0.001


def test_isochrone_as_a_job(client: TestClient) -> None:
    r = client.post(
        "/processes/isochrone/execution",
        json={"inputs": {"station": STATION, "seconds": 90}},
        headers={"Prefer": "respond-async"},
    )
    assert r.status_code == 201, r.text
    job = r.headers["Location"]
    status = wait_for_job(client, job)
    assert status["status"] == "successful", status
    res = client.get(f"{job}/results", params={"f": "json"}).json()
    assert res["features"][0]["properties"]["station_id"] == STATION


@pytest.mark.parametrize(
    ("pid", "inputs", "message"),
    [
        ("greenwave-plan", {"origin": [24.0, 60.0], "destination": B}, "snap limit"),
        ("greenwave-plan", {"origin": [60.1699, 24.9384], "destination": B}, "longitude first"),
        ("greenwave-plan", {"origin": [200.0, 60.0], "destination": B}, "outside CRS84"),
        ("greenwave-plan", {"origin": A, "destination": B, "depart": "yesterday"}, "RFC 3339"),
        ("greenwave-plan", {"origin": A}, "input destination is required"),
        ("greenwave-plan", {"origin": "here", "destination": B}, "must be [lon, lat]"),
        ("greenwave-plan", {"origin": A, "destination": B, "profile": "bike"}, "'bike'"),
        ("greenwave-plan", {"origin": A, "destination": B, "speed": 3}, "not inputs of"),
        ("greenwave-plan", {"origin": A, "destination": B, "vehicle_id": " "}, "is blank"),
        ("greenwave-plan", {"origin": A, "destination": B, "vehicle_id": "x" * 600}, "too long"),
        ("greenwave-plan", {"origin": A, "destination": B, "vehicle_id": "🚑"}, "U+1F691"),
        ("greenwave-plan", {"origin": A, "destination": B, "vehicle_id": "ev\n1"}, "U+000A"),
        ("greenwave-plan", {"origin": A, "destination": B, "priority": 10**30}, "in 1..10"),
        ("greenwave-plan", {"origin": A, "destination": B, "priority": -1}, "priority=-1"),
        ("greenwave-plan", {"origin": A, "destination": B, "priority": 0}, "in 1..10"),
        ("greenwave-plan", {"origin": A, "destination": B, "priority": 2.5}, "an integer"),
        (
            "greenwave-plan",
            {"origin": A, "destination": B, "obey_turn_restrictions": "no"},
            "input obey_turn_restrictions='no' must be true or false",
        ),
        ("dispatch", {"incident": B, "stations": ["🚒"]}, "input stations[0]="),
        (
            "dispatch",
            {"incident": B, "stations": [{"id": "  ", "lon": A[0], "lat": A[1]}]},
            "input stations[0].id='  ' is blank",
        ),
        (
            "dispatch",
            {"incident": B, "stations": [{"id": "s1", "name": "🚒", "lon": A[0], "lat": A[1]}]},
            "input stations[0].name=",
        ),
        ("dispatch", {"incident": [24.0, 60.0]}, "snap limit"),
        ("dispatch", {"incident": B, "stations": ["x1"]}, "not a station of the twin"),
        ("dispatch", {"incident": B, "depart": 5}, "RFC 3339"),
        ("isochrone", {"station": STATION, "seconds": -5}, "input seconds=-5"),
        ("isochrone", {"station": "r1\u202e"}, "input station='r1\\u202e'"),
        ("isochrone", {"station": STATION, "preemption": "yes"}, "true or false"),
        ("isochrone", {"station": STATION, "point": A}, "not both"),
        ("isochrone", {"station": "bsb"}, "input station='bsb' is not a station of the twin; its"),
        ("isochrone", {"point": [24.0, 60.0]}, "snap limit"),
    ],
)
def test_bad_input_is_a_client_error_with_a_message(
    client: TestClient, pid: str, inputs: dict[str, Any], message: str
) -> None:
    r = _run(client, pid, inputs)
    # a well-formed point off the network cannot be routed (422, as POST /routes); the rest
    # is malformed input (400)
    assert r.status_code == (422 if message == "snap limit" else 400), r.text
    assert message in r.json()["description"]


def test_a_departure_at_the_end_of_the_calendar(client: TestClient) -> None:
    late = "9999-12-31T23:59:59Z"
    r = _run(client, "greenwave-plan", {"origin": A, "destination": B, "depart": late})
    assert r.status_code == 400, r.text
    text = r.json()["description"]
    assert "input depart='9999-12-31T23:59:59+00:00'" in text and "date range" in text
    # A ranking only routes at that time: it has no time to run past the end.
    for depart in (late, "0001-01-01T00:00:00Z"):
        r = _run(client, "dispatch", {"incident": B, "depart": depart})
        assert r.status_code == 200, r.text
        assert r.json()["depart"] == depart.replace("Z", "+00:00")


def test_a_vehicle_id_and_priority_within_the_rule_are_kept(client: TestClient) -> None:
    vehicle = "Pelastus Itä 3/ev_2:a.b"
    inputs = {"origin": A, "destination": B, "vehicle_id": vehicle, "priority": 10}
    r = _run(client, "greenwave-plan", inputs)
    assert r.status_code == 200, r.text
    plan = r.json()["plan"]
    assert (plan["vehicle_id"], plan["priority"]) == (vehicle, 10)
    desc = client.get("/processes/greenwave-plan").json()["inputs"]
    assert desc["priority"]["schema"]["minimum"] == 1
    assert desc["priority"]["schema"]["maximum"] == 10
    assert "letters, digits, space and - _ . : /" in desc["vehicle_id"]["description"]


def test_isochrone_in_a_twin_without_stations_asks_for_a_point(tmp_path: Path) -> None:
    """It said "pass stations explicitly", but isochrone has no input stations."""
    from tests.routing.osm_helpers import grid_node, write_osm

    road = {"highway": "residential"}
    osm = write_osm(tmp_path / "tiny.osm", [(1, [grid_node(0, 0), grid_node(5, 0)], road)])
    db = str(tmp_path / "tiny.gpkg")
    build_twin(osm, db, plugins=[p for p in load_plugins() if p.name in {"layers", "routing"}])
    app = create_app(db, settings=settings_for(tmp_path))
    with TestClient(app, base_url="http://127.0.0.1:5000") as c:
        r = _run(c, "isochrone", {"seconds": 60})
        assert r.status_code == 400, r.text
        assert "holds no emergency station" in r.json()["description"]
        assert "give input point" in r.json()["description"]
        r = _run(c, "isochrone", {"station": "n1"})
        assert r.status_code == 400, r.text
        assert "it holds none (emergency_stations is empty)" in r.json()["description"]


def test_road_closures_in_the_twin_count_for_the_processes(tmp_path: Path) -> None:
    """The depart input said closures active then count, but the processes never read the
    twin's road_closures: a dispatcher ranked stations over a closed street."""
    from shapely.geometry import LineString, shape

    from twin.store import Feature, open_store

    db = str(tmp_path / "twin.gpkg")
    build_twin(HELSINKI, db, plugins=[p for p in load_plugins() if p.name in {"layers", "routing"}])
    app = create_app(db, settings=settings_for(tmp_path))
    inputs = {"origin": A, "destination": B, "depart": DEPART}
    with TestClient(app, base_url="http://127.0.0.1:5000") as client:
        free = _run(client, "greenwave-plan", inputs).json()
        ranked = _run(client, "dispatch", {"incident": B, "depart": DEPART}).json()["stations"]
        line = LineString(free["plan"]["route"]["geometry"]["coordinates"])
        middle = line.interpolate(0.5, normalized=True).buffer(0.0004)
        window = {"starts_at": "2024-03-01T07:00:00Z", "ends_at": "2024-03-01T09:00:00Z"}
        with open_store(db) as store:
            store.create("road_closures", [Feature("works", middle, window)])
        closed = _run(client, "greenwave-plan", inputs).json()
        assert not shape(closed["plan"]["route"]["geometry"]).intersects(middle)
        assert closed["summary"]["travel_time_s"] > free["summary"]["travel_time_s"]
        later = _run(client, "greenwave-plan", {**inputs, "depart": "2024-03-01T10:00:00Z"})
        assert later.json()["summary"]["travel_time_s"] == pytest.approx(
            free["summary"]["travel_time_s"], abs=1e-3
        )
        again = _run(client, "dispatch", {"incident": B, "depart": DEPART}).json()["stations"]
        assert again[0]["travel_time_s"] >= ranked[0]["travel_time_s"]
