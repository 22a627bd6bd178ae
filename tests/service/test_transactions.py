"""OGC API Features Part 4: writes become versions; ETag/If-Match; bad bodies change nothing."""

from __future__ import annotations

import json

import pytest

from tests.service.conftest import EDITOR, FreshClient

GEO = {"Content-Type": "application/geo+json"}
W = {**EDITOR, **GEO}


def _feature(fid: str | None = None, **props: object) -> dict:
    doc: dict = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [24.95, 60.17]},
        "properties": {"name": "New place", "kind": "cafe", **props},
    }
    if fid:
        doc["id"] = fid
    return doc


def test_post_creates_a_version(fresh_client: FreshClient) -> None:
    client, store = fresh_client
    r = client.post("/collections/pois/items", content=json.dumps(_feature("new1")), headers=W)
    assert r.status_code == 201
    assert r.headers["location"].endswith("/collections/pois/items/new1")
    got = client.get("/collections/pois/items/new1")
    assert got.json()["properties"]["name"] == "New place"
    assert got.headers["etag"] == r.headers["etag"]
    assert [v.version for v in store.history("pois", "new1")] == [1]


def test_post_without_id_gets_one(fresh_client: FreshClient) -> None:
    client, _ = fresh_client
    r = client.post("/collections/pois/items", content=json.dumps(_feature()), headers=W)
    assert r.status_code == 201
    assert client.get(r.headers["location"]).status_code == 200


def test_post_existing_id_is_409(fresh_client: FreshClient) -> None:
    client, _ = fresh_client
    r = client.post("/collections/pois/items", content=json.dumps(_feature("p01")), headers=W)
    assert r.status_code == 409


def test_put_then_history(fresh_client: FreshClient) -> None:
    client, store = fresh_client
    etag = client.get("/collections/pois/items/p02").headers["etag"]
    r = client.put(
        "/collections/pois/items/p02",
        content=json.dumps(_feature("p02", name="Renamed")),
        headers={**W, "If-Match": etag},
    )
    assert r.status_code == 204
    assert r.headers["etag"] != etag
    hist = client.get("/collections/pois/items/p02/history").json()["features"]
    assert [f["properties"]["name"] for f in hist] == ["Place 2", "Renamed"]
    assert store.verify().ok


def test_patch_changes_only_what_is_given(fresh_client: FreshClient) -> None:
    client, _ = fresh_client
    r = client.patch(
        "/collections/pois/items/p03",
        content=json.dumps({"properties": {"kind": "museum"}}),
        headers={**EDITOR, "Content-Type": "application/merge-patch+json"},
    )
    assert r.status_code == 204
    doc = client.get("/collections/pois/items/p03").json()
    assert doc["properties"]["kind"] == "museum"
    assert doc["properties"]["name"] == "Place 3"
    assert doc["properties"]["version"] == 2


def test_delete_retires(fresh_client: FreshClient) -> None:
    client, store = fresh_client
    assert client.delete("/collections/pois/items/p04", headers=EDITOR).status_code == 204
    assert client.get("/collections/pois/items/p04").status_code == 404
    hist = store.history("pois", "p04")
    assert len(hist) == 1 and hist[0].valid_to is not None


def test_stale_if_match_is_412_and_changes_nothing(fresh_client: FreshClient) -> None:
    client, store = fresh_client
    old = client.get("/collections/pois/items/p05").headers["etag"]
    first = client.patch(
        "/collections/pois/items/p05",
        content=json.dumps({"properties": {"kind": "shop"}}),
        headers={**W, "If-Match": old},
    )
    assert first.status_code == 204
    for method in ("put", "patch"):
        r = client.request(
            method,
            "/collections/pois/items/p05",
            content=json.dumps(_feature("p05", name="Lost update")),
            headers={**W, "If-Match": old},
        )
        assert r.status_code == 412
        assert r.json()["code"] == "PreconditionFailed"
    r = client.delete("/collections/pois/items/p05", headers={**EDITOR, "If-Match": old})
    assert r.status_code == 412
    assert [v.version for v in store.history("pois", "p05")] == [1, 2]
    assert store.get("pois", "p05").properties["name"] == "Place 5"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not JSON"),
        (
            json.dumps({"type": "FeatureCollection", "features": []}).encode(),
            "must be a GeoJSON Feature",
        ),
        (
            json.dumps(
                _feature("x1") | {"geometry": {"type": "Point", "coordinates": "here"}}
            ).encode(),
            "geometry",
        ),
        (
            json.dumps(
                _feature("x2")
                | {"geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}}
            ).encode(),
            "is a LineString",
        ),
        (
            json.dumps(_feature("x3", colour="red")).encode(),
            "property 'colour' is not in collection 'pois'",
        ),
        (json.dumps(_feature("x4", name=12)).encode(), "property 'name' of 'pois' is string"),
    ],
)
def test_malformed_bodies_are_400_and_change_nothing(
    fresh_client: FreshClient, body: bytes, fragment: str
) -> None:
    client, store = fresh_client
    before = [c.seq for c in store.changes()]
    r = client.post("/collections/pois/items", content=body, headers=W)
    assert r.status_code == 400, r.text
    assert fragment in r.json()["description"]
    r = client.put("/collections/pois/items/p06", content=body, headers=W)
    assert r.status_code == 400
    assert [c.seq for c in store.changes()] == before


def test_wrong_types_in_buildings(fresh_client: FreshClient) -> None:
    client, store = fresh_client
    body = {
        "type": "Feature",
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[24.9, 60.1], [24.91, 60.1], [24.91, 60.11], [24.9, 60.1]]],
        },
        "properties": {"floors": 2.5},
    }
    r = client.put("/collections/buildings/items/b07", content=json.dumps(body), headers=W)
    assert r.status_code == 400
    assert "property 'floors' of 'buildings' is integer" in r.json()["description"]
    assert store.get("buildings", "b07").version == 1


def test_an_integral_number_is_an_integer(fresh_client: FreshClient) -> None:
    """JSON has one number type: 3.0 is 3 (a client holding numbers as floats sends it)."""
    client, store = fresh_client
    r = client.patch(
        "/collections/buildings/items/b07",
        content=json.dumps({"properties": {"floors": 3.0}}),
        headers={**EDITOR, "Content-Type": "application/merge-patch+json"},
    )
    assert r.status_code in (200, 204), r.text
    floors = store.get("buildings", "b07").properties["floors"]
    assert floors == 3 and isinstance(floors, int)


def test_put_unknown_item_is_404(fresh_client: FreshClient) -> None:
    client, _ = fresh_client
    r = client.put("/collections/pois/items/zz", content=json.dumps(_feature("zz")), headers=W)
    assert r.status_code == 404


def test_wrong_content_type_is_400(fresh_client: FreshClient) -> None:
    client, _ = fresh_client
    r = client.post(
        "/collections/pois/items",
        content=json.dumps(_feature("t1")),
        headers={**EDITOR, "Content-Type": "text/plain"},
    )
    assert r.status_code == 400
    assert "Content-Type 'text/plain' is not accepted" in r.json()["description"]
