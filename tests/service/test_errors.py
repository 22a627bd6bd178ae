"""What the service answers to requests it cannot serve: always an exception document."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.service.conftest import settings_for, wait_for_job
from twin.service import create_app
from twin.service.jobs import FAILURE_KEY, job_failure

POLY = {
    "type": "Polygon",
    "coordinates": [[[24.93, 60.16], [24.94, 60.16], [24.94, 60.17], [24.93, 60.16]]],
}


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/nope", 404, "NotFound"),
        ("GET", "/collections//items", 404, "NotFound"),
        ("GET", "/collections/buildings/items/b00/more", 404, "NotFound"),
        ("GET", "/processes/features-in-polygon/execution", 405, "MethodNotAllowed"),
        ("POST", "/collections/buildings/items/b00", 405, "MethodNotAllowed"),
        ("PUT", "/jobs", 405, "MethodNotAllowed"),
    ],
)
def test_no_route_is_an_exception_document(
    client: TestClient, method: str, path: str, status: int, code: str
) -> None:
    r = client.request(method, path)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("application/json")
    doc = r.json()
    assert doc["code"] == code
    assert path in doc["description"] or method in doc["description"]
    if status == 405:
        assert "Allow" in r.headers


@pytest.mark.parametrize(
    ("path", "fmt"),
    [
        ("/", "xml"),
        ("/conformance", "csv"),
        ("/collections", "xml"),
        ("/collections/buildings", "xml"),
        ("/collections/buildings/queryables", "jsonld"),
        ("/collections/buildings/items/b00", "xml"),
        ("/collections/buildings/items/b00/history", "html"),
        ("/openapi", "zz"),
        ("/collections/buildings/tiles", "xml"),
        ("/collections/buildings/tiles/WebMercatorQuad/0/0/0", "xml"),
        ("/processes", "xml"),
        ("/jobs", "xml"),
    ],
)
def test_a_format_the_endpoint_lacks_is_400(client: TestClient, path: str, fmt: str) -> None:
    r = client.get(path, params={"f": fmt})
    assert r.status_code == 400, r.text
    assert f"f={fmt!r} is not a format" in r.json()["description"]


def test_served_formats_still_answer(client: TestClient) -> None:
    assert client.get("/collections", params={"f": "jsonld"}).status_code == 200
    assert client.get("/collections/buildings/items", params={"f": "csv"}).status_code == 200
    r = client.get("/collections/buildings/items/b00/history", params={"f": "json"})
    assert r.status_code == 200


@pytest.mark.parametrize("path", ["/processes", "/jobs", "/processes/features-in-polygon"])
def test_unknown_parameter_on_processes_and_jobs_is_400(client: TestClient, path: str) -> None:
    r = client.get(path, params={"zzz": "1"})
    assert r.status_code == 400
    assert "'zzz'" in r.json()["description"]


@pytest.mark.parametrize(
    "query", ["limit=-1&limit=5", "bbox=junk&bbox=24.9,60.1,25,60.2", "f=json&f=json"]
)
def test_a_parameter_given_twice_is_400(client: TestClient, query: str) -> None:
    r = client.get(f"/collections/buildings/items?{query}")
    assert r.status_code == 400
    assert "given 2 times" in r.json()["description"]


@pytest.mark.parametrize(
    "path", ["/collections/buildings/items", "/collections/buildings/items/b00"]
)
def test_geojson_is_labelled_geojson_whatever_was_accepted(client: TestClient, path: str) -> None:
    r = client.get(path, headers={"Accept": "image/png"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/geo+json")
    assert r.json()["type"] in ("Feature", "FeatureCollection")
    html = client.get(path, headers={"Accept": "text/html"})
    assert html.headers["content-type"].startswith("text/html")


def test_unknown_job_is_no_such_job(client: TestClient) -> None:
    for path in ("/jobs/nope", "/jobs/nope/results"):
        r = client.get(path)
        assert r.status_code == 404
        doc = r.json()
        assert doc["code"] == "NoSuchJob"
        assert "no job 'nope'" in doc["description"]


def test_failed_job_results_say_why_and_jobs_answer_json(city_url: str, tmp_path: Path) -> None:
    with TestClient(create_app(city_url, settings=settings_for(tmp_path))) as c:
        bad = {"inputs": {"polygon": {"type": "Point", "coordinates": [24.9, 60.1]}}}
        r = c.post(
            "/processes/features-in-polygon/execution",
            json=bad,
            headers={"Prefer": "respond-async"},
        )
        assert r.status_code == 201
        job = r.headers["location"]
        assert wait_for_job(c, job, timeout=30)["status"] == "failed"
        res = c.get(f"{job}/results", headers={"Accept": "*/*"})
        assert res.status_code == 400
        doc = res.json()
        assert doc["code"] == "InvalidParameterValue"
        assert "must be a GeoJSON Polygon or MultiPolygon" in doc["description"]
        record = c.app.state.twin.api.manager.get_job(job.rsplit("/", 1)[-1])  # type: ignore[attr-defined]
        assert record[FAILURE_KEY]["status"] == 400
        good = c.post(
            "/processes/features-in-polygon/execution",
            json={"inputs": {"polygon": POLY, "collections": ["buildings"]}},
            headers={"Prefer": "respond-async"},
        )
        job = good.headers["location"]
        assert wait_for_job(c, job, timeout=30)["status"] == "successful"
        out = c.get(f"{job}/results", headers={"Accept": "*/*"})
        assert out.headers["content-type"].startswith("application/json")
        assert "buildings" in out.json()
        status = c.get(job, headers={"Accept": "*/*"})
        assert status.json()["status"] == "successful"


def test_job_failure_reads_both_records() -> None:
    kept = {
        "status": "failed",
        FAILURE_KEY: {"status": 422, "code": "NotComputable", "description": "off the road"},
    }
    assert job_failure(kept) == (422, "NotComputable", "off the road")
    plain = {"status": "failed", "message": "InvalidParameterValue: Error executing process: boom"}
    assert job_failure(plain) == (400, "InvalidParameterValue", "boom")
