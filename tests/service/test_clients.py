"""Real clients against a live ``twin serve``: GDAL, OWSLib, ogctests and schemathesis."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.service.conftest import N_BUILDINGS, N_PIPES, N_POIS, N_ROADS, LiveServer, fill_city

pytestmark = pytest.mark.slow
READER_KEY = "r3ader-key"
EDITOR_KEY = "ed1tor-key"


@pytest.fixture
def gdal_headers(tmp_path: Path) -> Iterator[None]:
    """GDAL sends the reader key (through a header file, as QGIS users would configure)."""
    import pyogrio

    header_file = tmp_path / "headers.txt"
    header_file.write_text(f"X-API-Key: {READER_KEY}\n", encoding="utf-8")
    pyogrio.set_gdal_config_options({"GDAL_HTTP_HEADER_FILE": str(header_file)})
    yield
    pyogrio.set_gdal_config_options({"GDAL_HTTP_HEADER_FILE": None})


def test_gdal_reads_every_layer(live_url: str, city_url: str, gdal_headers: None) -> None:
    import pyogrio

    from twin.store import open_store

    layers = dict(pyogrio.list_layers(f"OAPIF:{live_url}"))
    assert set(layers) == {"buildings", "pois", "roads", "pipelines"}
    assert layers["buildings"] == "Polygon" and layers["roads"] == "LineString"
    with open_store(city_url) as store:
        for name in ("buildings", "roads", "pipelines"):
            df = pyogrio.read_dataframe(f"OAPIF:{live_url}", layer=name)
            assert len(df) == store.count(name)
            assert df.crs.to_string() in ("OGC:CRS84", "EPSG:4326")
            assert set(df["id"]) == {fv.id for fv in store.query(name)}
    assert (N_BUILDINGS - 1, N_ROADS, N_PIPES) == (29, 12, 6)


def test_gdal_without_key_sees_public_layers(live_url: str) -> None:
    import pyogrio

    layers = {name for name, _ in pyogrio.list_layers(f"OAPIF:{live_url}")}
    assert layers == {"buildings", "pois", "roads"}


def test_owslib_features(live_url: str) -> None:
    import owslib.ogcapi
    from owslib.ogcapi.features import Features

    saved = dict(owslib.ogcapi.REQUEST_HEADERS)
    try:
        api = Features(live_url)
        ids = {c["id"] for c in api.collections()["collections"]}
        assert ids == {"buildings", "pois", "roads"}
        seen: list[str] = []
        for offset in range(0, N_POIS, 10):
            page = api.collection_items("pois", limit=10, offset=offset)
            seen += [f["id"] for f in page["features"]]
        assert len(set(seen)) == N_POIS
        museums = api.collection_items("pois", filter="kind = 'museum'", limit=100)
        assert museums["numberMatched"] == N_POIS // 3
        queryables = api.collection_queryables("pois")
        assert "kind" in queryables["properties"]
    finally:
        owslib.ogcapi.REQUEST_HEADERS.clear()
        owslib.ogcapi.REQUEST_HEADERS.update(saved)


def test_owslib_creates_with_a_key(live_fresh_url: str) -> None:
    import owslib.ogcapi
    from owslib.ogcapi.features import Features

    saved = dict(owslib.ogcapi.REQUEST_HEADERS)
    new = {
        "type": "Feature",
        "id": "owslib-1",
        "geometry": {"type": "Point", "coordinates": [24.95, 60.17]},
        "properties": {"name": "From OWSLib", "kind": "cafe"},
    }
    try:
        with pytest.raises(RuntimeError):
            Features(live_fresh_url).collection_item_create("pois", new)
        api = Features(live_fresh_url, headers={"X-API-Key": EDITOR_KEY})
        assert api.collection_item_create("pois", new)
        got = api.collection_item("pois", "owslib-1")
        assert got["properties"]["name"] == "From OWSLib"
    finally:
        owslib.ogcapi.REQUEST_HEADERS.clear()
        owslib.ogcapi.REQUEST_HEADERS.update(saved)


def test_ogctests_core_suite(live_url: str, tmp_path: Path) -> None:
    import ogctests

    suite = Path(ogctests.__file__).parent / "features" / "core"
    junit = tmp_path / "ogctests.xml"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(suite),
            "-q",
            "-p",
            "no:cacheprovider",
            "--tb=short",
            f"--junit-xml={junit}",
            "-W",
            "ignore",
        ],
        env={**os.environ, "INSTANCE_URL": live_url},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout[-4000:]
    assert " passed" in r.stdout and "failed" not in r.stdout and "error" not in r.stdout


def _schemathesis(url: str, folder: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("schemathesis")
    return subprocess.run(
        [
            str(exe),
            "run",
            f"{url}/openapi?f=json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "8",
            "--generation-deterministic",
            "--request-timeout",
            "20",
            "--phases",
            "examples,coverage,fuzzing",
            "--continue-on-failure",
            "--no-color",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=folder,
    )


def test_schemathesis_finds_no_server_error(live_url: str, tmp_path: Path) -> None:
    r = _schemathesis(live_url, tmp_path)
    assert r.returncode == 0, r.stdout[-4000:]
    assert "Server error" not in r.stdout


def test_schemathesis_with_an_editor_key(live_fresh_url: str, tmp_path: Path) -> None:
    r = _schemathesis(live_fresh_url, tmp_path, "--header", f"X-API-Key: {EDITOR_KEY}")
    assert r.returncode == 0, r.stdout[-4000:]


@pytest.fixture
def live_fresh_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A live server over a store of its own, for clients that write."""
    from tests.service.conftest import _new_store_url
    from twin.store import open_store

    url = _new_store_url(backend, request, tmp_path)
    with open_store(url) as store:
        fill_city(store)
    with LiveServer(url, tmp_path) as srv:
        yield srv.url
