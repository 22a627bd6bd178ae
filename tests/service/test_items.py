"""OGC API Features Part 1 through the twin's provider."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from shapely.geometry import box, shape
from starlette.testclient import TestClient

from tests.service.conftest import N_BUILDINGS, N_POIS
from twin.store import open_store


def _link(doc: dict, rel: str) -> str | None:
    hits = [link["href"] for link in doc["links"] if link["rel"] == rel]
    return hits[0] if hits else None


def test_items_are_geojson(client: TestClient) -> None:
    r = client.get("/collections/pois/items")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/geo+json"
    assert r.headers["content-crs"] == "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"
    doc = r.json()
    assert doc["type"] == "FeatureCollection"
    assert doc["numberMatched"] == N_POIS
    assert doc["numberReturned"] == len(doc["features"]) == 10


def test_paging_walks_every_feature_once(client: TestClient) -> None:
    seen: list[str] = []
    url: str | None = "/collections/buildings/items?limit=7"
    pages = 0
    while url:
        doc = client.get(url).json()
        seen += [f["id"] for f in doc["features"]]
        assert doc["numberMatched"] == N_BUILDINGS - 1  # one retired
        url = _link(doc, "next")
        if url:
            assert urlsplit(url).hostname == "127.0.0.1"
        pages += 1
    assert pages == 5
    assert len(seen) == len(set(seen)) == N_BUILDINGS - 1


def test_prev_link(client: TestClient) -> None:
    doc = client.get("/collections/buildings/items?limit=5&offset=10").json()
    prev = parse_qs(urlsplit(_link(doc, "prev") or "").query)
    assert prev["offset"] == ["5"]
    assert prev["limit"] == ["5"]
    assert _link(client.get("/collections/buildings/items?limit=5").json(), "prev") is None


def test_bbox_selects_intersecting_features(client: TestClient, city_url: str) -> None:
    bbox = (24.929, 60.1599, 24.9335, 60.1612)
    r = client.get(
        "/collections/buildings/items", params={"bbox": ",".join(map(str, bbox)), "limit": 100}
    )
    got = {f["id"] for f in r.json()["features"]}
    with open_store(city_url) as store:
        expected = {
            fv.id
            for fv in store.query("buildings")
            if fv.geometry is not None and fv.geometry.intersects(box(*bbox))
        }
    assert got == expected
    assert 0 < len(got) < N_BUILDINGS - 1


def test_properties_and_skip_geometry(client: TestClient) -> None:
    doc = client.get(
        "/collections/buildings/items?properties=name,height&skipGeometry=true&limit=3"
    ).json()
    for f in doc["features"]:
        assert f["geometry"] is None
        assert set(f["properties"]) == {"name", "height"}


def test_sortby_descending(client: TestClient) -> None:
    doc = client.get("/collections/buildings/items?sortby=-height&limit=100").json()
    heights = [f["properties"]["height"] for f in doc["features"]]
    assert heights == sorted(heights, reverse=True)
    assert heights[0] == 52.0
    # '+' unencoded in a URL is a blank: ascending
    up = client.get("/collections/buildings/items?sortby=+height&limit=100").json()
    assert [f["properties"]["height"] for f in up["features"]] == sorted(heights)
    down = client.get("/collections/buildings/items?sortby=+-height&limit=100").json()
    assert [f["properties"]["height"] for f in down["features"]] == heights


def test_property_equality_parameter(client: TestClient) -> None:
    doc = client.get("/collections/pois/items?kind=museum&limit=100").json()
    assert doc["numberMatched"] == N_POIS // 3
    assert {f["properties"]["kind"] for f in doc["features"]} == {"museum"}


def test_single_item(client: TestClient) -> None:
    r = client.get("/collections/buildings/items/b05")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/geo+json"
    assert r.headers["etag"].startswith('"')
    doc = r.json()
    assert doc["id"] == "b05"
    assert shape(doc["geometry"]).geom_type == "Polygon"
    assert doc["properties"]["name"] == "Building 5"


def test_retired_item_is_404(client: TestClient) -> None:
    r = client.get("/collections/buildings/items/b29")
    assert r.status_code == 404
    assert r.json()["code"] == "NotFound"


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("limit=0", "limit='0' must be at least 1"),
        ("limit=ten", "limit='ten' is not an integer"),
        ("offset=-1", "offset='-1' must be at least 0"),
        ("bbox=1,2,3", "bbox='1,2,3' must be 4 or 6 finite numbers"),
        ("bbox=1,60,2,59", "lower corner above its upper corner"),
        ("sortby=colour", "sortby names the property 'colour'"),
        ("properties=name,colour", "properties names 'colour'"),
        ("skipGeometry=maybe", "skipGeometry='maybe' is not one of"),
        ("datetime=yesterday", "datetime='yesterday' is not an RFC 3339 date-time"),
        ("q=cafe", "query parameter 'q' is not known"),
        ("bbox-crs=EPSG:4326", "bbox-crs='EPSG:4326' is given without bbox"),
        ("offset=9223372036854775808", "offset='9223372036854775808' must be at most 9223"),
        ("limit=1" + "0" * 30, "limit='1" + "0" * 30 + "' must be at most"),
        ("floors=9223372036854775808", "floors='9223372036854775808' is outside the 64-bit"),
        ("floors=-99999999999999999999", "floors='-99999999999999999999' is outside the 64"),
        ("height=inf", "height='inf' is not a valid number"),
        ("bbox=-181,-90,181,90", "coordinate (-181.0, -90.0) is outside the area of use of"),
        ("bbox=-1e300,-90,1e300,90", "OGC:CRS84 (Lon -180..180, Lat -90..90)"),
        (
            "bbox=-100,-200,100,200&bbox-crs=EPSG:4326",
            "(-100.0, -200.0) is outside the area of use of EPSG:4326 (Lat -90..90,",
        ),
        (
            "bbox=-1e30,-1e30,1e30,1e30&bbox-crs=EPSG:3857",
            "EPSG:3857 (X -20037508.34..20037508.34, Y -20048966.1..20048966.1)",
        ),
        ("bbox=-1e300,0,1e300,1&bbox-crs=EPSG:32635", "outside the area of use of EPSG:32635"),
        ("properties=", "properties='' has an empty name"),
        ("properties=height,,name", "properties='height,,name' has an empty name"),
        ("sortby=%2B-height", "sortby='+-height' has '+-height'; give one + or -"),
        ("sortby=--height", "sortby='--height' has '--height'; give one + or -"),
        ("sortby=height,", "sortby='height,' has an empty item"),
    ],
)
def test_bad_parameters_are_400(client: TestClient, query: str, fragment: str) -> None:
    r = client.get(f"/collections/buildings/items?{query}")
    assert r.status_code == 400
    assert fragment in r.json()["description"]


def test_limit_is_capped_not_refused(client: TestClient) -> None:
    doc = client.get("/collections/pois/items?limit=1000000").json()
    assert doc["numberReturned"] == N_POIS


def test_bbox_is_kept_in_paging_links(client: TestClient) -> None:
    doc = client.get(
        "/collections/buildings/items?bbox=24.92,60.15,24.96,60.17&limit=4&sortby=height"
    ).json()
    nxt = parse_qs(urlsplit(_link(doc, "next") or "").query)
    assert nxt["bbox"] == ["24.92,60.15,24.96,60.17"]
    assert nxt["sortby"] == ["height"]
    assert nxt["offset"] == ["4"]
    second = client.get(_link(doc, "next") or "").json()
    assert {f["id"] for f in second["features"]}.isdisjoint(f["id"] for f in doc["features"])
    assert second["numberMatched"] == doc["numberMatched"]


def test_schema_document(client: TestClient) -> None:
    r = client.get("/collections/buildings/schema")
    assert r.status_code == 200
    assert "height" in r.json()["properties"]
    assert client.get("/collections/pipelines/schema").status_code == 401


@pytest.mark.parametrize(
    ("bbox", "crs"),
    [
        ("-180,-90,180,90", None),
        ("-90,-180,90,180", "EPSG:4326"),
        ("-20037508.34,-20048966.1,20037508.34,20048966.1", "EPSG:3857"),
        ("380000,6665000,395000,6680000", "EPSG:32635"),
    ],
)
def test_bbox_at_the_edge_of_its_crs_is_accepted(client: TestClient, bbox: str, crs) -> None:
    params = {"bbox": bbox, "limit": "100"} | ({"bbox-crs": crs} if crs else {})
    r = client.get("/collections/buildings/items", params=params)
    assert r.status_code == 200, r.text
    assert r.json()["numberMatched"] > 0
