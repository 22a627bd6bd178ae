"""Each process's example request works on the twin being served, whatever its city."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from addressing.processes import (
    AddressGeocodeProcessor,
    AddressParseProcessor,
    AddressQrProcessor,
    AddressReverseProcessor,
)
from routing.processes import DispatchProcessor, GreenWavePlanProcessor, IsochroneProcessor
from tests.routing.osm_helpers import grid_node, write_osm
from tests.service.conftest import settings_for
from twin.build import build_twin
from twin.service import examples
from twin.service.app import create_app
from twin.service.processes import FeaturesInPolygonProcessor, TwinProcessor

# The router's engine may only be dropped on the thread that made it; a graph the cycle
# collector frees on another thread is reported (and leaked), which is not a failure.
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

#: The processes whose example runs on the twin's own data, and their written examples.
WRITTEN: dict[str, type[TwinProcessor]] = {
    "features-in-polygon": FeaturesInPolygonProcessor,
    "greenwave-plan": GreenWavePlanProcessor,
    "dispatch": DispatchProcessor,
    "isochrone": IsochroneProcessor,
    "address-parse": AddressParseProcessor,
    "address-geocode": AddressGeocodeProcessor,
    "address-reverse": AddressReverseProcessor,
    "address-qr": AddressQrProcessor,
}
PORTO_LON, PORTO_LAT = -8.6110, 41.1466
PORTO_BOX = (-8.62, 41.14, -8.59, 41.16)
COLS, ROWS = 12, 8


def _pos(i: int, j: int) -> tuple[float, float]:
    return (PORTO_LON + i * 0.0015, PORTO_LAT + j * 0.001)


def _porto_twin(folder: Path, *, station: bool) -> str:
    """A twin of a grid of Porto streets with one doorplate (and a fire station)."""
    ways = [
        (100 + j, [grid_node(i, j) for i in range(COLS)], {"highway": "residential"})
        for j in range(ROWS)
    ] + [
        (200 + i, [grid_node(i, j) for j in range(ROWS)], {"highway": "residential"})
        for i in range(COLS)
    ]
    tags: dict[int, dict[str, str]] = {
        grid_node(5, 3): {"addr:housenumber": "7", "addr:street": "Rua do Teste"},
        grid_node(6, 4): {"highway": "traffic_signals"},
    }
    if station:
        tags[grid_node(0, 0)] = {"amenity": "fire_station", "name": "Bombeiros"}
    osm = write_osm(
        folder / "porto.osm",
        ways,
        nodes={grid_node(i, j): _pos(i, j) for i in range(COLS) for j in range(ROWS)},
        node_tags=tags,
    )
    db = str(folder / "porto.gpkg")
    build_twin(osm, db)
    return db


def _served(db: str, folder: Path) -> Iterator[TestClient]:
    app = create_app(db, settings=settings_for(folder))
    with TestClient(app, base_url="http://127.0.0.1:5000") as c:
        yield c


@pytest.fixture(scope="module")
def porto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("porto-examples")
    yield from _served(_porto_twin(folder, station=False), folder)


@pytest.fixture(scope="module")
def helsinki(helsinki_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    yield from _served(str(helsinki_db), tmp_path_factory.mktemp("helsinki-examples"))


def _example(client: TestClient, pid: str) -> dict[str, Any]:
    r = client.get(f"/processes/{pid}")
    assert r.status_code == 200, r.text
    return dict(r.json()["example"]["inputs"])


def _execute(client: TestClient, pid: str, inputs: dict[str, Any]) -> Any:
    r = client.post(f"/processes/{pid}/execution", json={"inputs": inputs})
    assert r.status_code == 200, (pid, inputs, r.text)
    return r.json() if r.headers["content-type"].startswith("application/json") else r.content


@pytest.mark.parametrize("pid", sorted(WRITTEN))
def test_an_example_of_another_city_is_of_that_city_and_runs(porto: TestClient, pid: str) -> None:
    inputs = _example(porto, pid)
    points = list(examples.lonlats(inputs))
    x0, y0, x1, y1 = PORTO_BOX
    assert all(x0 <= x <= x1 and y0 <= y <= y1 for x, y in points), (pid, inputs)
    out = _execute(porto, pid, inputs)
    if pid == "greenwave-plan":
        assert out["summary"]["length_m"] > 200
    if pid == "dispatch":
        assert out["stations"][0]["travel_time_s"] > 0
    if pid in ("address-geocode",):
        assert out["candidates"][0]["label"].startswith("Rua do Teste 7")
    if pid == "address-reverse":
        assert out["label"].startswith("Rua do Teste 7")


def test_the_examples_name_what_the_twin_holds(porto: TestClient) -> None:
    assert _example(porto, "address-qr")["code"].startswith("246091000000-")
    assert _example(porto, "address-parse")["text"].startswith("Rua do Teste 7")
    # no stations: the isochrone reaches from a point of the twin's roads
    assert len(_example(porto, "isochrone")["point"]) == 2
    trip = _example(porto, "greenwave-plan")
    assert trip["origin"] != trip["destination"]


@pytest.mark.parametrize("pid", sorted(WRITTEN))
def test_the_helsinki_examples_stay_as_written_and_run(helsinki: TestClient, pid: str) -> None:
    inputs = _example(helsinki, pid)
    assert inputs == WRITTEN[pid].METADATA["example"]["inputs"]
    _execute(helsinki, pid, inputs)


def test_a_failing_local_example_keeps_the_static_one() -> None:
    class Runtime:
        token = "t-failing"

    def boom(runtime: Any) -> dict[str, Any]:
        raise RuntimeError("no store")

    meta = {"id": "p", "example": {"inputs": {"a": 1}}}
    assert examples.described(Runtime(), meta, boom) is meta  # type: ignore[arg-type]
    examples.forget("t-failing")


def test_positions_are_found_in_nested_inputs() -> None:
    inputs = {
        "polygon": {"type": "Polygon", "coordinates": [[[1, 2], [3, 4], [1, 2]]]},
        "point": [5.5, 6.5, 7],
        "flag": [True, False],
        "n": 3,
    }
    assert list(examples.lonlats(inputs)) == [(1, 2), (3, 4), (1, 2), (5.5, 6.5)]
    assert examples.holds((0, 0, 6, 7), inputs, margin_m=0)
    assert not examples.holds((0, 0, 5, 7), inputs, margin_m=0)
    assert examples.holds((0, 0, 5, 7), inputs, margin_m=60_000)  # 0.5 degree is 55 km
    assert not examples.holds((0, 0, 5, 7), inputs, margin_m=50_000)
    assert examples.holds(None, {"seconds": 240})
