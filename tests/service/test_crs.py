"""OGC API Features Part 2: crs, bbox-crs and Content-Crs, axis order checked with pyproj."""

from __future__ import annotations

import pyproj
import pytest
from starlette.testclient import TestClient

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"
SERVED = [CRS84, EPSG.format(4326), EPSG.format(3857), EPSG.format(4490), EPSG.format(32635)]


def _expected(lon: float, lat: float, code: str) -> tuple[float, float]:
    """The point in ``code``'s authority axis order, computed by pyproj directly."""
    if code == CRS84:
        return lon, lat
    epsg = int(code.rsplit("/", 1)[-1])
    t = pyproj.Transformer.from_crs("OGC:CRS84", f"EPSG:{epsg}", always_xy=False)
    a, b = t.transform(lon, lat)
    return a, b


@pytest.mark.parametrize("crs", SERVED)
def test_items_in_each_crs(client: TestClient, crs: str) -> None:
    plain = client.get("/collections/pois/items/p03").json()["geometry"]["coordinates"]
    r = client.get("/collections/pois/items", params={"crs": crs, "limit": 50})
    assert r.status_code == 200
    assert r.headers["content-crs"] == f"<{crs}>"
    got = next(f for f in r.json()["features"] if f["id"] == "p03")["geometry"]["coordinates"]
    assert got == pytest.approx(_expected(plain[0], plain[1], crs), abs=1e-6)


@pytest.mark.parametrize("crs", SERVED)
def test_item_in_each_crs(client: TestClient, crs: str) -> None:
    plain = client.get("/collections/pois/items/p05").json()["geometry"]["coordinates"]
    r = client.get("/collections/pois/items/p05", params={"crs": crs})
    assert r.headers["content-crs"] == f"<{crs}>"
    assert r.json()["geometry"]["coordinates"] == pytest.approx(
        _expected(plain[0], plain[1], crs), abs=1e-6
    )


def test_geographic_epsg_is_lat_lon(client: TestClient) -> None:
    coords = client.get("/collections/pois/items/p00", params={"crs": EPSG.format(4326)}).json()[
        "geometry"
    ]["coordinates"]
    assert coords == pytest.approx([60.16, 24.93])


@pytest.mark.parametrize("crs", SERVED)
def test_bbox_crs_selects_the_same_features(client: TestClient, crs: str) -> None:
    lon0, lat0, lon1, lat1 = 24.9299, 60.1599, 24.9326, 60.1611
    base = {
        f["id"]
        for f in client.get(
            "/collections/pois/items", params={"bbox": f"{lon0},{lat0},{lon1},{lat1}", "limit": 100}
        ).json()["features"]
    }
    t = pyproj.Transformer.from_crs(
        "OGC:CRS84",
        pyproj.CRS.from_user_input(
            "OGC:CRS84" if crs == CRS84 else f"EPSG:{crs.rsplit('/', 1)[-1]}"
        ),
        always_xy=False,
    )
    a0, b0, a1, b1 = t.transform_bounds(lon0, lat0, lon1, lat1)
    r = client.get(
        "/collections/pois/items",
        params={"bbox": f"{a0},{b0},{a1},{b1}", "bbox-crs": crs, "limit": 100},
    )
    assert r.status_code == 200
    got = {f["id"] for f in r.json()["features"]}
    assert base and got >= base
    assert len(got - base) <= 1  # a projected box may graze one more point


def test_unserved_crs_is_400(client: TestClient) -> None:
    r = client.get("/collections/pois/items", params={"crs": EPSG.format(2393)})
    assert r.status_code == 400
    assert "crs=" in r.json()["description"]
    assert CRS84 in r.json()["description"]


def test_history_in_a_crs(client: TestClient) -> None:
    r = client.get("/collections/pois/items/p01/history", params={"crs": "EPSG:3857"})
    assert r.headers["content-crs"] == f"<{EPSG.format(3857)}>"
    x, _ = r.json()["features"][0]["geometry"]["coordinates"]
    assert x > 2_000_000
