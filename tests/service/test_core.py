"""Landing page, conformance, collections, queryables and the OpenAPI document."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.service.conftest import READER, SPECS, FreshClient
from twin.service.openapi import remote_refs
from twin.store import open_store
from twin.temporal import format_time


def test_landing_page_links(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    rels = {link["rel"] for link in r.json()["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= rels


def test_conformance_lists_what_is_served(client: TestClient) -> None:
    classes = set(client.get("/conformance").json()["conformsTo"])
    for part in (
        "ogcapi-features-1/1.0/conf/core",
        "ogcapi-features-2/1.0/conf/crs",
        "ogcapi-features-3/1.0/conf/filter",
        "ogcapi-features-4/1.0/conf/create-replace-delete",
        "cql2/1.0/conf/cql2-json",
        "ogcapi-tiles-1/1.0/conf/mvt",
    ):
        assert f"http://www.opengis.net/spec/{part}" in classes
    assert not any("ogcapi-records" in c for c in classes)


def test_collections_are_the_catalog_minus_restricted(client: TestClient) -> None:
    public = {c["id"] for c in client.get("/collections").json()["collections"]}
    assert public == {s.name for s in SPECS if not s.restricted}
    with_key = {c["id"] for c in client.get("/collections", headers=READER).json()["collections"]}
    assert with_key == {s.name for s in SPECS}


def test_collection_extent_is_the_stores(client: TestClient, city_url: str) -> None:
    doc = client.get("/collections/buildings").json()
    with open_store(city_url) as store:
        ext = store.extent("buildings")
    assert ext.bbox is not None and ext.valid_from is not None
    assert doc["extent"]["spatial"]["bbox"] == [pytest.approx(list(ext.bbox))]
    assert doc["extent"]["temporal"]["interval"] == [[format_time(ext.valid_from), None]]
    assert doc["storageCrs"] == "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    assert "http://www.opengis.net/def/crs/EPSG/0/32635" in doc["crs"]
    rels = {link["rel"] for link in doc["links"]}
    assert "items" in rels
    assert "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector" in rels


def test_extent_follows_writes(fresh_client: FreshClient) -> None:
    client, _ = fresh_client
    before = client.get("/collections/pois").json()["extent"]["spatial"]["bbox"][0]
    far = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [25.5, 60.5]},
        "properties": {},
    }
    r = client.post(
        "/collections/pois/items",
        json=far,
        headers={"X-API-Key": "ed1tor-key", "Content-Type": "application/geo+json"},
    )
    assert r.status_code == 201
    after = client.get("/collections/pois").json()["extent"]["spatial"]["bbox"][0]
    assert after[2:] == pytest.approx([25.5, 60.5])
    assert after[:2] == pytest.approx(before[:2])


def test_queryables_name_every_field(client: TestClient) -> None:
    r = client.get("/collections/buildings/queryables")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/schema+json")
    doc = r.json()
    assert doc["$schema"] == "https://json-schema.org/draft/2019-09/schema"
    props = doc["properties"]
    assert {"name", "height", "floors", "built", "heritage", "geometry"} <= set(props)
    assert props["height"]["type"] == "number"
    assert props["built"]["format"] == "date-time"


def test_openapi_is_valid_and_offline(client: TestClient) -> None:
    from pygeoapi.openapi import validate_openapi_document

    r = client.get("/openapi?f=json")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    doc = r.json()
    assert validate_openapi_document(doc)
    assert remote_refs(doc) == set()
    params = doc["paths"]["/collections/buildings/items"]["get"]["parameters"]
    names = {p.get("name") or p["$ref"].rsplit("/", 1)[-1] for p in params}
    assert {"datetime", "filter", "height", "bbox", "limit"} <= names
    assert "vendorSpecificParameters" not in names
    assert "patch" in doc["paths"]["/collections/buildings/items/{featureId}"]


def test_openapi_html(client: TestClient) -> None:
    r = client.get("/openapi?f=html")
    assert r.status_code == 200
    assert "swagger" in r.text.lower()


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/conformance",
        "/collections",
        "/collections/buildings",
        "/collections/buildings/queryables",
    ],
)
def test_unknown_parameter_is_400(client: TestClient, path: str) -> None:
    r = client.get(path, params={"colour": "red"})
    assert r.status_code == 400
    doc = r.json()
    assert doc["code"] == "InvalidParameterValue"
    assert "'colour'" in doc["description"]


@pytest.mark.parametrize(
    "path",
    [
        "/?f=html",
        "/collections?f=html",
        "/collections/buildings?f=html",
        "/collections/buildings/items?f=html",
        "/collections/buildings/items/b03?f=html",
    ],
)
def test_html_pages(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "<html" in r.text.lower()


def test_unknown_collection_is_404(client: TestClient) -> None:
    r = client.get("/collections/nowhere/items")
    assert r.status_code == 404
    assert r.json()["description"] == "collection 'nowhere' does not exist"
