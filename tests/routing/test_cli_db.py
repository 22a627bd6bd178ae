"""``twin routing`` on the city a twin holds (``--db``, ``TWIN_DB``), like every other command."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from shapely.geometry import Point, shape
from starlette.testclient import TestClient

from routing.cli import routing_group
from tests.routing.osm_helpers import grid_node, write_osm
from tests.service.conftest import settings_for
from twin.build import build_twin
from twin.plugins import load_plugins
from twin.service.app import create_app
from twin.store import Feature, open_store

# The router's engine may only be dropped on the thread that made it; a graph the cycle
# collector frees on another thread is reported (and leaked), which is not a failure.
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

ROOT = Path(__file__).resolve().parents[2]
HELSINKI = ROOT / "data" / "helsinki.osm.pbf"
# Central Helsinki: the left turn from Kaivokatu onto Mannerheimintie and on to the south.
A, B = "24.9384,60.1699", "24.9455,60.1650"
DEPART = "2026-12-01T08:00:00Z"
#: What the commands say on stderr when nothing names the city.
EMBEDDED_NOTE = "routing on the embedded Helsinki extract; pass --db or --osm for another city"

# A tiny city in Porto: a 5 x 3 grid of streets, a fire station, one address and a signal.
PORTO_LON, PORTO_LAT = -8.6110, 41.1466
STATION, ADDRESS, SIGNAL = grid_node(0, 0), grid_node(2, 1), grid_node(2, 2)


def _porto_pos(i: int, j: int) -> tuple[float, float]:
    return (PORTO_LON + i * 0.001, PORTO_LAT + j * 0.0005)


P_FROM = "{},{}".format(*_porto_pos(0, 0))
P_TO = "{},{}".format(*_porto_pos(4, 2))
COMMANDS: dict[str, list[str]] = {
    "route": ["--from", P_FROM, "--to", P_TO],
    "greenwave": ["--from", P_FROM, "--to", P_TO],
    "dispatch": ["--incident", P_TO],
    "isochrone": ["--limit", "120"],
}


@pytest.fixture(scope="module")
def porto_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A twin of the tiny Porto grid, built by `twin build`'s map-layer and road-graph steps."""
    folder = tmp_path_factory.mktemp("porto")
    ways = [
        (100 + j, [grid_node(i, j) for i in range(5)], {"highway": "residential"}) for j in range(3)
    ] + [
        (200 + i, [grid_node(i, j) for j in range(3)], {"highway": "residential"}) for i in range(5)
    ]
    osm = write_osm(
        folder / "porto.osm",
        ways,
        nodes={grid_node(i, j): _porto_pos(i, j) for i in range(5) for j in range(3)},
        node_tags={
            STATION: {"amenity": "fire_station", "name": "Bombeiros"},
            ADDRESS: {"addr:housenumber": "7", "addr:street": "Rua do Teste"},
            SIGNAL: {"highway": "traffic_signals"},
        },
    )
    db = str(folder / "porto.gpkg")
    build_twin(osm, db, plugins=[p for p in load_plugins() if p.name in ("layers", "routing")])
    return db


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No TWIN_DB: not in the environment, and no .env in the working folder."""
    monkeypatch.delenv("TWIN_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(*args: str, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(routing_group, list(args), env=env)


def _json(res: Result) -> Any:
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def _on_the_grid(route: dict[str, Any]) -> None:
    """The route runs on the Porto grid: both ends lie on its streets, along 6 blocks."""
    assert route["origin"]["distance_m"] < 1 and route["destination"]["distance_m"] < 1
    assert route["length_m"] == pytest.approx(4 * 84 + 2 * 56, rel=0.05)


def _refused(res: Result, *words: str) -> str:
    """The error output of a refused command: exit 2, every word named, no traceback."""
    assert res.exit_code == 2, res.output
    assert res.stdout == "", res.stdout
    assert res.output.count("Error: ") == 1 and "Traceback" not in res.output, res.output
    for w in words:
        assert w in res.output, res.output
    return res.output


# -- the twin's graph is the extract's -------------------------------------------------
@pytest.mark.parametrize("profile", ["emergency", "car"])
def test_route_on_a_twin_equals_the_route_on_its_extract(
    helsinki_db: Path, no_env: Path, profile: str
) -> None:
    base = ["route", "--from", A, "--to", B, "--depart", DEPART, "--profile", profile]
    res = _run(*base, "--db", str(helsinki_db))
    assert res.stderr == "", res.stderr
    stored = _json(res)
    built = _json(_run(*base, "--osm", str(HELSINKI)))
    assert stored["node_ids"] == built["node_ids"] and len(stored["node_ids"]) > 5
    assert stored["travel_time_s"] == pytest.approx(built["travel_time_s"], abs=0.05)
    assert stored["length_m"] == pytest.approx(built["length_m"], abs=0.5)
    assert [s["instruction"] for s in stored["steps"]] == [s["instruction"] for s in built["steps"]]


def test_greenwave_on_a_twin_equals_the_plan_on_its_extract(
    helsinki_db: Path, no_env: Path
) -> None:
    base = ["greenwave", "--from", A, "--to", B, "--depart", DEPART]
    stored = _json(_run(*base, "--db", str(helsinki_db)))
    built = _json(_run(*base, "--osm", str(HELSINKI)))
    assert stored["signals"] and stored["route"]["node_ids"] == built["route"]["node_ids"]
    assert [s["window"] for s in stored["signals"]] == [s["window"] for s in built["signals"]]


# -- every command reads the twin it is given ------------------------------------------
@pytest.mark.parametrize("cmd", list(COMMANDS))
def test_each_command_routes_on_the_twin_db_names(porto_db: str, no_env: Path, cmd: str) -> None:
    doc = _json(_run(cmd, "--db", porto_db, *COMMANDS[cmd]))
    if cmd in ("route", "greenwave"):
        _on_the_grid(doc if cmd == "route" else doc["route"])
    elif cmd == "dispatch":
        (best,) = doc["candidates"]  # the twin's one station, not Helsinki's
        assert best["station"]["name"] == "Bombeiros" and best["travel_time_s"] > 0
    else:
        names = [f["properties"]["station_name"] for f in doc["features"]]
        assert names == ["Bombeiros", "Bombeiros"]
        # the coverage counts the twin's address points: the one address of the grid
        assert doc["coverage"]["without_preemption"]["points"] == 1
        assert doc["coverage"]["with_preemption"]["covered"] == 1


def test_twin_db_names_the_twin_when_no_option_does(
    porto_db: str, no_env: Path, helsinki_db: Path
) -> None:
    res = _run("route", "--from", P_FROM, "--to", P_TO, env={"TWIN_DB": porto_db})
    assert res.stderr == "", res.stderr
    _on_the_grid(_json(res))
    # as the other commands do, TWIN_DB may also come from the .env file
    (no_env / ".env").write_text(f"TWIN_DB={porto_db}\n")
    _on_the_grid(_json(_run("route", "--from", P_FROM, "--to", P_TO)))
    # an explicit --db or --osm wins over TWIN_DB
    helsinki = ["route", "--from", A, "--to", B, "--depart", DEPART]
    on_db = _json(_run(*helsinki, "--db", str(helsinki_db), env={"TWIN_DB": porto_db}))
    on_osm = _json(_run(*helsinki, "--osm", str(HELSINKI), env={"TWIN_DB": porto_db}))
    assert on_db["node_ids"] == on_osm["node_ids"]


# -- what is refused -------------------------------------------------------------------
@pytest.mark.parametrize("cmd", list(COMMANDS))
def test_db_and_osm_together_are_refused(porto_db: str, no_env: Path, cmd: str) -> None:
    res = _run(cmd, "--db", porto_db, "--osm", str(HELSINKI), *COMMANDS[cmd])
    _refused(res, f"--osm={str(HELSINKI)!r} and --db={porto_db!r}", "give one")


def test_cache_is_refused_with_a_twin(porto_db: str, no_env: Path) -> None:
    cache = no_env / "graph.cache"
    base = ["route", "--cache", str(cache), "--from", P_FROM, "--to", P_TO]
    _refused(_run(*base, "--db", porto_db), "--cache", f"--db={porto_db!r}", "--osm FILE")
    res = _run(*base, env={"TWIN_DB": porto_db})
    _refused(res, "--cache", f"TWIN_DB={porto_db!r}", "--osm FILE")
    assert not cache.exists()


@pytest.mark.parametrize("cmd", list(COMMANDS))
def test_a_twin_without_a_road_graph_is_refused(tmp_path: Path, no_env: Path, cmd: str) -> None:
    empty = tmp_path / "empty.gpkg"
    open_store(str(empty)).close()  # a twin with no collection yet
    res = _run(cmd, "--db", str(empty), *COMMANDS[cmd])
    out = _refused(res, f"the twin at {str(empty)!r} holds no road graph", "run `twin build`")
    assert out.startswith("Error: ")
    missing = tmp_path / "missing.gpkg"
    res = _run(cmd, *COMMANDS[cmd], env={"TWIN_DB": str(missing)})
    _refused(res, f"db={str(missing)!r} does not exist", "twin build")
    assert not missing.exists()


# -- the embedded extract is said --------------------------------------------------------
def test_the_embedded_extract_is_said_on_stderr(no_env: Path, porto_db: str) -> None:
    res = _run("route", "--from", A, "--to", B)
    assert res.exit_code == 0, res.output
    assert res.stderr == EMBEDDED_NOTE + "\n"
    assert json.loads(res.stdout)["travel_time_s"] > 0
    # not when the city is named
    for named in (["--osm", str(HELSINKI)], ["--db", porto_db]):
        ends = ["--from", A, "--to", B] if "--osm" in named else ["--from", P_FROM, "--to", P_TO]
        res = _run("route", *named, *ends)
        assert res.exit_code == 0 and res.stderr == "", res.output


def test_help_names_db_and_its_default(no_env: Path) -> None:
    for cmd in COMMANDS:
        text = " ".join(_run(cmd, "--help").output.split())
        assert "--db URL" in text and "Default: TWIN_DB when set" in text, text
        assert "the embedded Helsinki extract" in text and "Not with --db" in text, text


# -- closures --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def closed_db(helsinki_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("closed")
    db = folder / "twin.gpkg"
    shutil.copy(helsinki_db, db)  # a closure is written: a copy of our own
    return db


@pytest.fixture(scope="module")
def client(closed_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    app = create_app(str(closed_db), settings=settings_for(tmp_path_factory.mktemp("svc")))
    with TestClient(app, base_url="http://127.0.0.1:5000") as c:
        yield c


def _api_route(client: TestClient, depart: str) -> dict[str, Any]:
    points = [[float(v) for v in p.split(",")] for p in (A, B)]
    body = {
        "inputs": {
            "waypoints": {"value": {"type": "MultiPoint", "coordinates": points}},
            "mode": "emergency",
            "when": {"timestamp": depart, "type": "departure"},
        }
    }
    r = client.post("/routes", json=body)
    assert r.status_code == 200, r.text
    (overview,) = [f for f in r.json()["features"] if f["properties"]["featureType"] == "overview"]
    return dict(overview["properties"])


@pytest.mark.slow
def test_a_closure_in_the_twin_changes_the_cli_route_as_the_api_route(
    closed_db: Path, client: TestClient, no_env: Path
) -> None:
    base = ["route", "--db", str(closed_db), "--from", A, "--to", B]
    plain = _json(_run(*base, "--depart", DEPART))
    assert plain["closures"] == [] and _api_route(client, DEPART)["nodeIds"] == plain["node_ids"]
    middle = shape(plain["geometry"]).interpolate(0.5, normalized=True)
    area = Point(middle).buffer(0.0004)
    window = {"starts_at": "2026-12-01T07:00:00Z", "ends_at": "2026-12-01T09:00:00Z"}
    with open_store(str(closed_db), create=False) as store:
        store.create("road_closures", [Feature("works", area, {"reason": "works", **window})])
    closed = _json(_run(*base, "--depart", DEPART))
    assert closed["closures"] == ["store:works"]
    assert not shape(closed["geometry"]).intersects(area)
    assert closed["node_ids"] != plain["node_ids"]
    assert closed["travel_time_s"] > plain["travel_time_s"]
    api = _api_route(client, DEPART)
    assert api["closures"] == ["store:works"] and api["nodeIds"] == closed["node_ids"]
    assert api["duration_s"] == pytest.approx(closed["travel_time_s"], abs=0.05)
    # after the window the closure no longer counts, for either
    later = "2026-12-01T10:00:00Z"
    after = _json(_run(*base, "--depart", later))
    assert after["closures"] == [] and after["node_ids"] == plain["node_ids"]
    assert _api_route(client, later)["nodeIds"] == plain["node_ids"]
    # the extract knows nothing of the twin's closures
    extract = ["route", "--osm", str(HELSINKI), "--from", A, "--to", B, "--depart", DEPART]
    assert _json(_run(*extract))["node_ids"] == plain["node_ids"]
    # the green wave plans along the route the closure leaves, as greenwave-plan does
    wave = ["greenwave", "--db", str(closed_db), "--from", A, "--to", B, "--depart", DEPART]
    plan = _json(_run(*wave))
    assert plan["route"]["node_ids"] == closed["node_ids"]


def test_a_past_departure_routes_on_the_roads_of_that_time(
    helsinki_db: Path, no_env: Path, tmp_path: Path
) -> None:
    """With a twin, --depart picks the roads valid then, as POST /routes does."""
    from datetime import UTC, datetime

    db = tmp_path / "twin.gpkg"
    shutil.copy(helsinki_db, db)
    base = ["route", "--from", A, "--to", B, "--profile", "car", "--db", str(db)]
    first = _json(_run(*base, "--depart", "2024-01-01T08:00:00Z"))
    mid = first["node_ids"][len(first["node_ids"]) // 2 - 1 : len(first["node_ids"]) // 2 + 1]
    fid = f"{mid[0]}-{mid[1]}"
    with open_store(str(db)) as store:
        old = store.get("road_edges", fid).properties["car_time_s"]
        changed = datetime(2024, 6, 1, tzinfo=UTC)
        store.patch("road_edges", fid, properties={"car_time_s": old + 600}, valid_from=changed)
    then = _json(_run(*base, "--depart", "2024-01-01T08:00:00Z"))
    now = _json(_run(*base, "--depart", DEPART))
    assert then["node_ids"] == first["node_ids"]
    assert then["travel_time_s"] == pytest.approx(first["travel_time_s"], abs=0.05)
    assert now["travel_time_s"] > first["travel_time_s"] + 1
