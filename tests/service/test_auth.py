"""API keys, roles and restricted collections: 401, 403 and nothing leaked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.service.conftest import EDITOR, READER, FreshClient
from twin.errors import InvalidInput
from twin.service.auth import KeyRing, Role, parse_keys
from twin.service.errors import Unauthorized

NEW = {
    "type": "Feature",
    "geometry": {"type": "Point", "coordinates": [24.95, 60.17]},
    "properties": {"name": "x"},
}


@pytest.mark.parametrize(
    "path",
    [
        "/collections/pipelines",
        "/collections/pipelines/items",
        "/collections/pipelines/items/w1",
        "/collections/pipelines/items/w1/history",
        "/collections/pipelines/queryables",
        "/collections/pipelines/tiles",
        "/collections/pipelines/tiles/WebMercatorQuad",
        "/collections/pipelines/tiles/WebMercatorQuad/16/37886/37104",
    ],
)
def test_restricted_reads_need_a_key(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 401
    assert "steel" not in r.text and "diameter" not in r.text
    assert r.headers["www-authenticate"].startswith("ApiKey")
    assert client.get(path, headers=READER).status_code in (200, 204)


def test_unknown_key_is_401_even_on_public_data(client: TestClient) -> None:
    r = client.get("/collections/pois/items", headers={"X-API-Key": "guess"})
    assert r.status_code == 401
    assert "guess" not in r.text


def test_bearer_header_works(client: TestClient) -> None:
    r = client.get("/collections/pipelines/items", headers={"Authorization": "Bearer r3ader-key"})
    assert r.status_code == 200
    assert r.json()["numberMatched"] == 6


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/collections/pois/items"),
        ("put", "/collections/pois/items/p01"),
        ("patch", "/collections/pois/items/p01"),
        ("delete", "/collections/pois/items/p01"),
    ],
)
def test_writes_need_an_editor(fresh_client: FreshClient, method: str, path: str) -> None:
    client, store = fresh_client
    before = len(store.changes())
    body = None if method == "delete" else json.dumps(NEW | {"id": "p01"})
    geo = {"Content-Type": "application/geo+json"}
    assert client.request(method, path, headers=geo, content=body).status_code == 401
    r = client.request(method, path, headers={**READER, **geo}, content=body)
    assert r.status_code == 403
    assert "needs the editor role; this key has reader" in r.json()["description"]
    assert len(store.changes()) == before
    ok = client.request(method, path, headers={**EDITOR, **geo}, content=body)
    assert ok.status_code in (201, 204, 409)


def test_process_over_restricted_layer_needs_a_key(client: TestClient) -> None:
    body = {
        "inputs": {
            "polygon": {
                "type": "Polygon",
                "coordinates": [
                    [[24.92, 60.15], [24.96, 60.15], [24.96, 60.17], [24.92, 60.17], [24.92, 60.15]]
                ],
            },
            "collections": ["pipelines"],
        }
    }
    r = client.post("/processes/features-in-polygon/execution", json=body)
    assert r.status_code == 401
    assert "steel" not in r.text
    ok = client.post("/processes/features-in-polygon/execution", json=body, headers=READER)
    assert ok.status_code == 200
    assert ok.json()["pipelines"]["numberMatched"] > 0


def test_parse_keys_forms(tmp_path: Path) -> None:
    assert parse_keys('{"a": "reader", "b": "ADMIN"}') == {"a": Role.READER, "b": Role.ADMIN}
    assert parse_keys("a:reader, b:editor") == {"a": Role.READER, "b": Role.EDITOR}
    f = tmp_path / "keys.txt"
    f.write_text("# keys\nk1 editor\nk2 reader\n", encoding="utf-8")
    ring = KeyRing.load("k3:admin", f)
    assert ring.role_of("k1") is Role.EDITOR and ring.role_of("k3") is Role.ADMIN
    assert ring.role_of(None) is None
    with pytest.raises(Unauthorized):
        ring.role_of("k4")


def test_bad_role_names_the_choices() -> None:
    with pytest.raises(
        InvalidInput,
        match=r"role='boss' is not a role; choose one of \['reader', 'editor', 'admin'\]",
    ):
        parse_keys("k:boss")
