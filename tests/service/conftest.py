"""Fixtures of the service tests: a small generated city on each backend, served.

``city_url`` is a store (GeoPackage or PostGIS) holding four tiny layers with some
history; ``client`` serves it in-process; ``live_url`` serves it with uvicorn on a
free loopback port for the real clients (GDAL, OWSLib, ogctests, schemathesis).
Writing tests take ``fresh_client``, which serves a store of their own.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from shapely.geometry import LineString, Point, Polygon

from tests.conftest import _pg_schema_url

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from twin.service import ServiceSettings, create_app
from twin.store import CollectionSpec, Feature, Field, FieldType, Store, open_store

KEYS = "ed1tor-key:editor,r3ader-key:reader,adm1n-key:admin"
EDITOR = {"X-API-Key": "ed1tor-key"}
READER = {"X-API-Key": "r3ader-key"}
T0 = datetime(2020, 1, 1, tzinfo=UTC)
T1 = datetime(2022, 6, 1, tzinfo=UTC)
LON0, LAT0 = 24.93, 60.16
#: Central Helsinki, where the embedded extract lies.
HELSINKI_BOX = (24.90, 60.14, 25.00, 60.20)

BUILDINGS = CollectionSpec(
    "buildings",
    "Buildings",
    description="Building footprints",
    geometry_type="Polygon",
    fields=(
        Field("name"),
        Field("height", FieldType.NUMBER),
        Field("floors", FieldType.INTEGER),
        Field("built", FieldType.DATETIME),
        Field("heritage", FieldType.BOOLEAN),
    ),
)
POIS = CollectionSpec(
    "pois", "Points of interest", geometry_type="Point", fields=(Field("name"), Field("kind"))
)
ROADS = CollectionSpec(
    "roads",
    "Roads",
    geometry_type="LineString",
    fields=(Field("name"), Field("lanes", FieldType.INTEGER)),
)
PIPELINES = CollectionSpec(
    "pipelines",
    "Pipelines",
    geometry_type="LineString",
    restricted=True,
    fields=(Field("material"), Field("diameter_mm", FieldType.INTEGER)),
)
SPECS = (BUILDINGS, POIS, ROADS, PIPELINES)
N_BUILDINGS, N_POIS, N_ROADS, N_PIPES = 30, 24, 12, 6


FreshClient = tuple[TestClient, Store]


def _square(i: int) -> Polygon:
    x = LON0 + (i % 6) * 0.002
    y = LAT0 + (i // 6) * 0.001
    return Polygon([(x, y), (x + 0.001, y), (x + 0.001, y + 0.0005), (x, y + 0.0005), (x, y)])


def fill_city(store: Store) -> None:
    """Write the test city: four layers, valid from T0, some buildings edited at T1."""
    for spec in SPECS:
        store.ensure_collection(spec)
    store.create(
        "buildings",
        [
            Feature(
                f"b{i:02d}",
                _square(i),
                {
                    "name": f"Building {i}",
                    "height": 6.0 + i,
                    "floors": 1 + i % 7,
                    "built": f"{1900 + 3 * i}-01-01T00:00:00Z",
                    "heritage": i % 5 == 0,
                },
            )
            for i in range(N_BUILDINGS)
        ],
        valid_from=T0,
    )
    store.create(
        "pois",
        [
            Feature(
                f"p{i:02d}",
                Point(LON0 + 0.0005 * i, LAT0 + 0.0002 * i),
                {"name": f"Place {i}", "kind": ("cafe", "shop", "museum")[i % 3]},
            )
            for i in range(N_POIS)
        ],
        valid_from=T0,
    )
    store.create(
        "roads",
        [
            Feature(
                f"r{i:02d}",
                LineString([(LON0, LAT0 + 0.0004 * i), (LON0 + 0.012, LAT0 + 0.0004 * i)]),
                {"name": f"Street {i}", "lanes": 1 + i % 3},
            )
            for i in range(N_ROADS)
        ],
        valid_from=T0,
    )
    store.create(
        "pipelines",
        [
            Feature(
                f"w{i}",
                LineString([(LON0 + 0.001 * i, LAT0), (LON0 + 0.001 * i, LAT0 + 0.005)]),
                {"material": "steel", "diameter_mm": 100 * (i + 1)},
            )
            for i in range(N_PIPES)
        ],
        valid_from=T0,
    )
    for i in (0, 1, 2):
        store.patch("buildings", f"b{i:02d}", properties={"height": 50.0 + i}, valid_from=T1)
    store.retire("buildings", "b29", valid_to=T1)


def _new_store_url(backend: str, request: pytest.FixtureRequest, folder: Path) -> str:
    if backend == "gpkg":
        return str(folder / f"city-{uuid.uuid4().hex[:8]}.gpkg")
    return _pg_schema_url(request.getfixturevalue("pg_server"))


@pytest.fixture(
    scope="session", params=["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)]
)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def city_url(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A store holding the test city (read-only for the tests that share it)."""
    url = _new_store_url(backend, request, tmp_path_factory.mktemp(f"city-{backend}"))
    with open_store(url) as store:
        fill_city(store)
    return url


def settings_for(folder: Path, **kw: object) -> ServiceSettings:
    """Settings of a test service, independent of the developer's TWIN_* variables."""
    base = {"base_url": "http://127.0.0.1:5000", "api_key_file": None, "host": "127.0.0.1"}
    return ServiceSettings(var_dir=folder / "var", api_keys=KEYS, **(base | kw))  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def client(city_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The test city served in-process."""
    app = create_app(city_url, settings=settings_for(tmp_path_factory.mktemp("svc")))
    with TestClient(app, base_url="http://127.0.0.1:5000") as c:
        yield c


@pytest.fixture
def fresh_client(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[TestClient, Store]]:
    """A client over a store of its own (for writes), and that store."""
    url = _new_store_url(backend, request, tmp_path)
    store = open_store(url)
    fill_city(store)
    app = create_app(store, settings=settings_for(tmp_path))
    with TestClient(app, base_url="http://127.0.0.1:5000") as c:
        yield c, store
    store.close()


def wait_for_job(client: Any, url: str, *, timeout: float = 60.0) -> dict[str, Any]:
    """Poll a job's status document until it is successful or failed (or ``timeout`` s)."""
    path = httpx.URL(url).raw_path.decode()
    deadline = time.monotonic() + timeout
    while True:
        doc: dict[str, Any] = client.get(path, params={"f": "json"}).json()
        if doc["status"] in ("successful", "failed") or time.monotonic() > deadline:
            return doc
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class LiveServer:
    """``twin serve`` in a subprocess on a free loopback port.

    A subprocess, not a thread: GDAL holds the GIL while it waits for HTTP answers,
    so a server in the test's own process would never answer it.
    """

    def __init__(self, db: str, folder: Path, *, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = db
        self.env = {
            **os.environ,
            "TWIN_API_KEYS": KEYS,
            "TWIN_BASE_URL": "",
            "TWIN_HOST": "127.0.0.1",
            "TWIN_VAR_DIR": str(folder / "var"),
            "PYTHONWARNINGS": "ignore",
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = folder / "server.log"

    def __enter__(self) -> LiveServer:
        code = "from twin.cli.serve import serve; serve()"
        args = [sys.executable, "-c", code, "--db", self.db, "--port", str(self.port)]
        self.proc = subprocess.Popen(
            args, env=self.env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/conformance", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                msg = f"twin serve did not start: {self.log.read_text()[-2000:]}"
                raise RuntimeError(msg)
            time.sleep(0.2)

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="session")
def live_url(city_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The test city served by uvicorn on loopback."""
    with LiveServer(city_url, tmp_path_factory.mktemp("live")) as srv:
        yield srv.url
