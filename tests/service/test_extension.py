"""A plugin's own endpoints and write rules, served by the kernel."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from tests.service.conftest import EDITOR, READER, fill_city, settings_for, wait_for_job
from twin.errors import ConflictError, InvalidInput
from twin.plugins import HttpApi, Plugin
from twin.service.app import create_app
from twin.service.auth import Role
from twin.service.extension import ServiceContext, endpoint, json_body
from twin.service.processes import TwinProcessor
from twin.store import Feature, open_store

CONF = "http://example.org/spec/echo/1.0/conf/core"


async def _count(request: Request, ctx: ServiceContext) -> Response:
    name = request.path_params["name"]
    return JSONResponse({"name": name, "count": ctx.store.count(name)})


async def _echo(request: Request, ctx: ServiceContext) -> Response:
    ctx.require(Role.EDITOR, action="echoing")
    body = await json_body(request)
    if "boom" in body:
        msg = "input boom is not allowed here"
        raise InvalidInput(msg)
    with ctx.lock:
        ctx.cache["n"] = ctx.cache.get("n", 0) + 1
    return JSONResponse({"echo": body, "calls": ctx.cache["n"], "actor": ctx.actor})


def _no_rename(old: Any, new: Any, actor: str) -> Any:
    if new is None:
        msg = "pois may not be deleted here"
        raise ConflictError(msg)
    if old is not None and old.properties.get("name") != new.properties.get("name"):
        msg = f"name may not change from {old.properties.get('name')!r}"
        raise ConflictError(msg)
    # The rule may add to what is written: here, who wrote last.
    return Feature(
        new.id, new.geometry, {**new.properties, "kind": f"{new.properties.get('kind')}@{actor}"}
    )


class PoiNameProcessor(TwinProcessor):
    """The name of one poi: 404 for an unknown id, 400 for a malformed one."""

    METADATA: ClassVar[dict[str, Any]] = {
        "id": "poi-name",
        "title": "Name of a poi",
        "description": "The name of one poi, by id.",
        "keywords": ["poi"],
        "version": "1.0",
        "jobControlOptions": ["sync-execute", "async-execute"],
        "inputs": {"id": {"title": "id", "schema": {"type": "string"}}},
        "outputs": {"name": {"schema": {"type": "object"}}},
    }

    def run(self, data: Any) -> tuple[str, Any]:
        fid = data.get("id")
        if not isinstance(fid, str) or not fid:
            msg = f"input id={fid!r} must be a non-empty string"
            raise InvalidInput(msg)
        if fid == "fault":  # a fault of the server, as a bug or a broken disk would raise
            msg = "cannot open /srv/secret/path"
            raise OSError(msg)
        return "application/json", {"name": self.store.get("pois", fid).properties["name"]}


PLUGIN = Plugin(
    name="echo",
    http=lambda: HttpApi(
        routes=[
            Route("/echo/count/{name}", endpoint(_count)),
            Route("/echo", endpoint(_echo), methods=["POST"]),
        ],
        conformance=[CONF],
        links=[{"rel": "service", "href": "/echo", "type": "application/json", "title": "e"}],
        openapi_paths={"/echo": {"post": {"responses": {"200": {"description": "echo"}}}}},
    ),
    write_checks=lambda: {"pois": _no_rename},
    processes=lambda: {
        "guarded": {
            "processor": {
                "name": "twin.service.processes.FeaturesInPolygonProcessor",
                "twin_role": "editor",
            }
        },
        "poi-name": {"processor": {"name": f"{__name__}.PoiNameProcessor"}},
    },
)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    url = str(tmp_path / "city.gpkg")
    with open_store(url) as store:
        fill_city(store)
    app = create_app(url, settings=settings_for(tmp_path), plugins=[PLUGIN])
    with TestClient(app, base_url="http://127.0.0.1:5000") as c:
        yield c


def test_plugin_endpoints_are_served_and_announced(client: TestClient) -> None:
    r = client.get("/echo/count/pois")
    assert r.status_code == 200 and r.json()["count"] > 0
    assert CONF in client.get("/conformance").json()["conformsTo"]
    links = client.get("/", params={"f": "json"}).json()["links"]
    assert "http://127.0.0.1:5000/echo" in [link["href"] for link in links]
    assert "/echo" in client.get("/openapi", params={"f": "json"}).json()["paths"]


def test_plugin_endpoints_get_roles_errors_and_a_cache(client: TestClient) -> None:
    assert client.get("/echo/count/nope").status_code == 404
    assert client.post("/echo", json={"a": 1}).status_code == 401
    r = client.post("/echo", json={"boom": 1}, headers=EDITOR)
    assert r.status_code == 400 and "boom" in r.json()["description"]
    r = client.post("/echo", content=b"{nope", headers=EDITOR)
    assert r.status_code == 400 and "JSON" in r.json()["description"]
    first = client.post("/echo", json={"a": 1}, headers=EDITOR).json()
    second = client.post("/echo", json={"a": 2}, headers=EDITOR).json()
    assert (first["calls"], second["calls"]) == (1, 2)
    assert first["actor"].startswith("key:")


def test_write_rules_refuse_and_change_nothing(client: TestClient) -> None:
    item = "/collections/pois/items/p01"
    before = client.get(item).json()
    patch = {**EDITOR, "Content-Type": "application/merge-patch+json"}
    r = client.patch(item, json={"properties": {"name": "Renamed"}}, headers=patch)
    assert r.status_code == 409 and "name may not change" in r.json()["description"]
    assert client.delete(item, headers=EDITOR).status_code == 409
    assert client.get(item).json()["properties"] == before["properties"]
    assert len(client.get(f"{item}/history").json()["features"]) == 1
    # What the rule allows goes through, and is versioned.
    ok = client.patch(item, json={"properties": {"kind": "kiosk"}}, headers=patch)
    assert ok.status_code == 204, ok.text
    assert client.get(item).json()["properties"]["kind"].startswith("kiosk@key:")
    assert len(client.get(f"{item}/history").json()["features"]) == 2


def test_a_process_can_require_a_role(client: TestClient) -> None:
    body = {
        "inputs": {
            "polygon": {
                "type": "Polygon",
                "coordinates": [[[-180, -90], [180, -90], [180, 90], [-180, 90], [-180, -90]]],
            },
            "collections": ["pois"],
        }
    }
    url = "/processes/guarded/execution"
    assert client.post(url, json=body).status_code == 401
    assert client.post(url, json=body, headers=READER).status_code == 403
    r = client.post(url, json=body, headers=EDITOR)
    assert r.status_code == 200, r.text
    assert r.json()["pois"]["numberMatched"] > 0
    # The kernel's own process stays open to all.
    assert client.post("/processes/features-in-polygon/execution", json=body).status_code == 200


def test_a_process_failure_keeps_its_status(client: TestClient) -> None:
    url = "/processes/poi-name/execution"
    ok = client.post(url, json={"inputs": {"id": "p01"}})
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"name": "Place 1"}
    missing = client.post(url, json={"inputs": {"id": "no-such-poi"}})
    assert missing.status_code == 404, missing.text
    assert missing.json()["code"] == "NotFound"
    assert "no-such-poi" in missing.json()["description"]
    bad = client.post(url, json={"inputs": {"id": ""}})
    assert bad.status_code == 400, bad.text
    assert "must be a non-empty string" in bad.json()["description"]
    # As a job the same failure is accepted, then failed with the message (never stuck).
    r = client.post(
        url, json={"inputs": {"id": "no-such-poi"}}, headers={"Prefer": "respond-async"}
    )
    assert r.status_code == 201, r.text
    doc = wait_for_job(client, r.headers["Location"])
    assert doc["status"] == "failed", doc
    assert "no-such-poi" in doc["message"], doc
    results = client.get(r.headers["Location"] + "/results")
    assert results.status_code == 404 and results.json()["code"] == "NotFound"


def test_a_server_fault_in_a_process_is_a_500_that_reveals_nothing(client: TestClient) -> None:
    url = "/processes/poi-name/execution"
    r = client.post(url, json={"inputs": {"id": "fault"}})
    assert r.status_code == 500, r.text
    assert "poi-name" in r.json()["description"]
    assert "/srv/secret" not in r.text
    job = client.post(url, json={"inputs": {"id": "fault"}}, headers={"Prefer": "respond-async"})
    assert wait_for_job(client, job.headers["Location"])["status"] == "failed"
    results = client.get(job.headers["Location"] + "/results")
    assert results.status_code == 500
    assert "/srv/secret" not in results.text
