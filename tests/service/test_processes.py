"""OGC API Processes: the kernel's spatial query, sync and async, jobs across restarts."""

from __future__ import annotations

from pathlib import Path

import pytest
from shapely.geometry import box, shape
from starlette.testclient import TestClient

from tests.service.conftest import READER, settings_for, wait_for_job
from twin.service import create_app
from twin.store import open_store

AREA = (24.929, 60.1599, 24.9335, 60.1612)
POLY = {
    "type": "Polygon",
    "coordinates": [
        [
            [AREA[0], AREA[1]],
            [AREA[2], AREA[1]],
            [AREA[2], AREA[3]],
            [AREA[0], AREA[3]],
            [AREA[0], AREA[1]],
        ]
    ],
}
BODY = {
    "inputs": {
        "polygon": POLY,
        "collections": ["buildings", "pois"],
        "datetime": "2021-01-01T00:00:00Z",
    }
}


def test_process_is_listed(client: TestClient) -> None:
    ids = {p["id"] for p in client.get("/processes").json()["processes"]}
    assert "features-in-polygon" in ids
    desc = client.get("/processes/features-in-polygon").json()
    assert set(desc["inputs"]) == {"polygon", "collections", "datetime"}


def test_sync_execution_as_of_a_date(client: TestClient, city_url: str) -> None:
    r = client.post("/processes/features-in-polygon/execution", json=BODY)
    assert r.status_code == 200
    out = r.json()
    assert set(out) == {"buildings", "pois"}
    with open_store(city_url) as store:
        for name in ("buildings", "pois"):
            expected = {
                fv.id
                for fv in store.query(name)
                if fv.geometry is not None and fv.geometry.intersects(box(*AREA))
            }
            got = {f["id"] for f in out[name]["features"]}
            assert got == expected
    heights = {f["id"]: f["properties"]["height"] for f in out["buildings"]["features"]}
    assert heights["b00"] == 6.0  # as of 2021, before the edit
    assert all(shape(f["geometry"]).intersects(box(*AREA)) for f in out["pois"]["features"])


def test_bad_input_is_400(client: TestClient) -> None:
    body = {"inputs": {"polygon": {"type": "Point", "coordinates": [24.9, 60.1]}}}
    r = client.post("/processes/features-in-polygon/execution", json=body)
    assert r.status_code == 400
    assert "must be a GeoJSON Polygon or MultiPolygon" in r.text


@pytest.mark.parametrize(
    ("inputs", "named"),
    [
        ({"polygon": {"type": "Polygon", "coordinates": []}}, "input polygon is empty"),
        ({"polygon": {"type": "MultiPolygon", "coordinates": []}}, "input polygon is empty"),
        (
            {
                "polygon": {
                    "type": "Polygon",
                    "coordinates": [[[0, 0], [500, 0], [500, 50], [0, 0]]],
                }
            },
            "outside CRS84",
        ),
        ({"polygon": POLY, "datetime": ""}, "input datetime=''"),
        ({"polygon": POLY, "datetime": []}, "input datetime=[]"),
        ({"polygon": POLY, "datetime": "2021-13-01T00:00:00Z"}, "input datetime"),
        ({"polygon": POLY, "bogus": 1}, "['bogus'] are not inputs of features-in-polygon"),
    ],
)
def test_malformed_inputs_are_named(
    client: TestClient, inputs: dict[str, object], named: str
) -> None:
    r = client.post("/processes/features-in-polygon/execution", json={"inputs": inputs})
    assert r.status_code == 400, r.text
    assert named in r.json()["description"]


def test_async_job_survives_a_restart(city_url: str, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    with TestClient(create_app(city_url, settings=settings)) as c:
        r = c.post(
            "/processes/features-in-polygon/execution",
            json=BODY,
            headers={"Prefer": "respond-async"},
        )
        assert r.status_code == 201
        assert r.headers["preference-applied"] == "respond-async"
        job = r.headers["location"]
        status = wait_for_job(c, job, timeout=30)
        assert status["status"] == "successful"
        results = next(link["href"] for link in status["links"] if link["rel"].endswith("/results"))
        first = c.get(results, params={"f": "json"}).json()
    with TestClient(create_app(city_url, settings=settings)) as c:
        jobs = {j["jobID"] for j in c.get("/jobs", params={"f": "json"}).json()["jobs"]}
        assert job.rsplit("/", 1)[-1] in jobs
        again = c.get(results, params={"f": "json"}).json()
    assert again == first
    assert again["buildings"]["numberMatched"] > 0


def test_restricted_job_results_need_a_key(city_url: str, tmp_path: Path) -> None:
    body = {"inputs": {"polygon": POLY, "collections": ["pipelines"]}}
    with TestClient(create_app(city_url, settings=settings_for(tmp_path))) as c:
        r = c.post(
            "/processes/features-in-polygon/execution",
            json=body,
            headers={**READER, "Prefer": "respond-async"},
        )
        job = r.headers["location"]
        job_id = job.rsplit("/", 1)[-1]
        assert c.get(f"/jobs/{job_id}/results", params={"f": "json"}).status_code == 401
        listed = {j["jobID"] for j in c.get("/jobs", params={"f": "json"}).json()["jobs"]}
        assert job_id not in listed
        assert c.get(f"/jobs/{job_id}", params={"f": "json"}, headers=READER).status_code == 200


def test_datetime_beyond_the_utc_calendar_is_400(client: TestClient) -> None:
    body = {"inputs": {**BODY["inputs"], "datetime": "9999-12-31T23:59:59-14:00"}}
    r = client.post("/processes/features-in-polygon/execution", json=body)
    assert r.status_code == 400, r.text
    assert "input datetime='9999-12-31T23:59:59-14:00' is out of range" in r.text
