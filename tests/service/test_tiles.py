"""OGC API Tiles: MVT in WebMercatorQuad with tileset metadata, on both backends."""

from __future__ import annotations

import mapbox_vector_tile
import morecantile
import pytest
import shapely
from starlette.testclient import TestClient

from tests.service.conftest import LAT0, LON0, N_POIS
from twin.store import Feature, Store

TMS = morecantile.tms.get("WebMercatorQuad")


def _tile(z: int) -> morecantile.Tile:
    return TMS.tile(LON0 + 0.004, LAT0 + 0.002, z)


def test_tilesets_list(client: TestClient) -> None:
    doc = client.get("/collections/pois/tiles").json()
    ts = doc["tilesets"][0]
    assert ts["dataType"] == "vector"
    assert ts["tileMatrixSetURI"].endswith("/WebMercatorQuad")


def test_tileset_metadata_has_item_template(client: TestClient) -> None:
    doc = client.get("/collections/buildings/tiles/WebMercatorQuad").json()
    item = next(link for link in doc["links"] if link["rel"] == "item")
    assert item["type"] == "application/vnd.mapbox-vector-tile"
    assert item["href"].endswith(
        "/collections/buildings/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}"
    )
    assert item["templated"] is True
    assert doc["layers"][0]["id"] == "buildings"
    assert doc["boundingBox"]["lowerLeft"][0] == pytest.approx(LON0, abs=1e-4)


def test_tile_holds_the_features(client: TestClient) -> None:
    t = _tile(14)
    r = client.get(f"/collections/pois/tiles/WebMercatorQuad/{t.z}/{t.y}/{t.x}")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    layer = mapbox_vector_tile.decode(r.content)["pois"]
    assert layer["extent"] == 4096
    ids = {f["properties"]["id"] for f in layer["features"]}
    b = TMS.bounds(t)
    feats = client.get("/collections/pois/items", params={"limit": 100}).json()["features"]
    inside = {
        f["id"]
        for f in feats
        if b.left <= f["geometry"]["coordinates"][0] <= b.right
        and b.bottom <= f["geometry"]["coordinates"][1] <= b.top
    }
    assert len(feats) == N_POIS
    assert ids == inside and len(inside) > 3
    kinds = {f["properties"]["kind"] for f in layer["features"]}
    assert kinds == {"cafe", "shop", "museum"}


def test_tile_geometry_lands_in_the_right_pixel(client: TestClient) -> None:
    t = _tile(18)
    r = client.get(f"/collections/pois/tiles/WebMercatorQuad/{t.z}/{t.y}/{t.x}")
    if r.status_code == 204:
        pytest.skip("no point in this tile")
    bounds = TMS.xy_bounds(t)
    layer = mapbox_vector_tile.decode(r.content, default_options={"y_coord_down": True})["pois"]
    pid = layer["features"][0]["properties"]["id"]
    lon, lat = client.get(f"/collections/pois/items/{pid}").json()["geometry"]["coordinates"]
    x, y = TMS.xy(lon, lat)
    px = (x - bounds.left) / (bounds.right - bounds.left) * 4096
    py = (bounds.top - y) / (bounds.top - bounds.bottom) * 4096
    gx, gy = layer["features"][0]["geometry"]["coordinates"]
    assert abs(gx - px) <= 1 and abs(gy - py) <= 1


def test_empty_tile_is_204(client: TestClient) -> None:
    assert client.get("/collections/pois/tiles/WebMercatorQuad/10/0/0").status_code == 204


def test_tile_as_of_a_date(client: TestClient) -> None:
    t = _tile(13)
    url = f"/collections/buildings/tiles/WebMercatorQuad/{t.z}/{t.y}/{t.x}"
    now = mapbox_vector_tile.decode(client.get(url).content)["buildings"]["features"]
    then = mapbox_vector_tile.decode(
        client.get(url, params={"datetime": "2021-01-01T00:00:00Z"}).content
    )["buildings"]["features"]
    assert len(then) == len(now) + 1


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/collections/pois/tiles/WorldCRS84Quad", 404),
        ("/collections/pois/tiles/WebMercatorQuad/3/8/0", 404),
        ("/collections/pois/tiles/WebMercatorQuad/a/b/c", 400),
        ("/collections/pois/tiles/WebMercatorQuad/23/0/0", 404),
        ("/collections/pois/tiles/WebMercatorQuad/\u0661/0/0", 400),
        ("/collections/pois/tiles/WebMercatorQuad/1/+1/0", 400),
        ("/collections/pois/tiles/WebMercatorQuad/10/1_0/0", 400),
        ("/collections/pois/tiles/WebMercatorQuad/1/0/%201", 400),
        ("/collections/pois/tiles/WebMercatorQuad/1/0/" + "9" * 5000, 400),
    ],
)
def test_bad_tiles(client: TestClient, path: str, status: int) -> None:
    assert client.get(path).status_code == status


def test_tile_matrix_set(client: TestClient) -> None:
    doc = client.get("/tileMatrixSets/WebMercatorQuad").json()
    assert doc["id"] == "WebMercatorQuad"
    assert doc["crs"].endswith("/EPSG/0/3857")
    assert client.get("/tileMatrixSets").json()["tileMatrixSets"][0]["id"] == "WebMercatorQuad"


def test_tile_datetime_beyond_the_utc_calendar_is_400(client: TestClient) -> None:
    url = "/collections/buildings/tiles/WebMercatorQuad/0/0/0"
    for value in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
        r = client.get(url, params={"datetime": value})
        assert r.status_code == 400, r.text
        assert f"datetime={value!r} is out of range" in r.json()["description"]


def test_an_overview_tile_leaves_out_what_it_cannot_draw(
    fresh_client: tuple[TestClient, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A line shorter than a pixel is not drawn, dense points keep one per pixel, and a tile
    over the feature cap keeps the largest features (it kept the lowest ids, an arbitrary
    part of the city)."""
    from twin.service import tiles

    client, store = fresh_client
    monkeypatch.setattr(tiles, "DENSE_POINTS", 50, raising=False)
    t12 = _tile(12)
    pixel_m = (TMS.xy_bounds(t12).right - TMS.xy_bounds(t12).left) / 256
    lon, lat = LON0 + 0.004, LAT0 + 0.002
    with store.transaction() as tx:
        tx.create(
            "roads",
            [
                Feature(
                    f"stub{i}",
                    shapely.LineString([(lon, lat + i * 1e-4), (lon + 2e-5, lat + i * 1e-4)]),
                    {},
                )
                for i in range(10)
            ],
        )
        tx.create(
            "pois",
            [
                Feature(
                    f"dense{i}", shapely.Point(lon + (i % 20) * 2e-6, lat + (i // 20) * 2e-6), {}
                )
                for i in range(300)
            ],
        )

    def layer(t: morecantile.Tile, name: str) -> list[dict]:
        r = client.get(f"/collections/{name}/tiles/WebMercatorQuad/{t.z}/{t.y}/{t.x}")
        assert r.status_code == 200
        return mapbox_vector_tile.decode(r.content)[name]["features"]

    ids = {f["properties"]["id"] for f in layer(t12, "roads")}
    assert ids and not any(i.startswith("stub") for i in ids)  # 1 m long, ~30 m a pixel
    assert pixel_m > 20
    dense = [f for f in layer(t12, "pois") if f["properties"]["id"].startswith("dense")]
    assert 1 <= len(dense) <= 4  # 300 points within 4 m: one pixel, or the corner of four
    t18 = _tile(18)
    near = {f["properties"]["id"] for f in layer(t18, "roads")}
    assert {f"stub{i}" for i in range(10)} & near  # at street zoom they are drawn
    close = [f for f in layer(t18, "pois") if f["properties"]["id"].startswith("dense")]
    assert len(close) > 10 * len(dense)
    # over the cap: the longest roads stay
    monkeypatch.setattr(tiles, "MAX_FEATURES", 3)
    roads = [f for f in store.query("roads").features if not f.id.startswith("stub")]
    bounds = TMS.bounds(t12)
    box = shapely.box(bounds.left, bounds.bottom, bounds.right, bounds.top)
    inside = sorted(
        (r for r in roads if r.geometry.intersects(box)), key=lambda r: -r.geometry.length
    )
    assert len(inside) > 3
    assert {f["properties"]["id"] for f in layer(t12, "roads")} == {r.id for r in inside[:3]}
