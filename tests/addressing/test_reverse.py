"""Reverse geocoding: any served CRS in, the nearest standard address and its building out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from shapely.geometry import Point

from addressing import reverse
from addressing.errors import AddressNotFound
from twin.build import build_twin
from twin.crs import local_metric_crs, transform_coords
from twin.errors import GeometryOutOfBounds, InvalidInput, UnknownCRS, http_status
from twin.plugins import load_plugins
from twin.store import Store, open_store

ROOT = Path(__file__).resolve().parents[2]
OSM = ROOT / "data" / "helsinki.osm.pbf"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path = tmp_path_factory.mktemp("reverse") / "helsinki.gpkg"
    plugins = [p for p in load_plugins() if p.name in ("layers", "addressing")]
    build_twin(OSM, str(path), plugins=plugins)
    with open_store(str(path), create=False) as s:
        yield s


@pytest.fixture(scope="module")
def kaivokatu(store: Store) -> dict[str, object]:
    a = store.read_frame("addresses")
    row = a[(a["street"] == "Kaivokatu") & (a["housenumber"] == "1")].iloc[0]
    return {
        "code": row["id"],
        "lon": row.geometry.x,
        "lat": row.geometry.y,
        "building": row["building_id"],
        "label": row["label"],
    }


def test_at_the_entrance(store: Store, kaivokatu: dict[str, object]) -> None:
    r = reverse(kaivokatu["lon"], kaivokatu["lat"], store=store)  # type: ignore[arg-type]
    assert r.code == kaivokatu["code"]
    assert r.label == "Kaivokatu 1, 00100 Helsinki"
    assert r.label_sv == "Brunngatan 1, 00100 Helsingfors"
    assert r.building_id == kaivokatu["building"]
    assert r.distance < 0.05


def test_distance_in_metres_in_every_crs(store: Store, kaivokatu: dict[str, object]) -> None:
    lon, lat = float(kaivokatu["lon"]), float(kaivokatu["lat"])  # type: ignore[arg-type]
    utm = local_metric_crs((lon, lat, lon, lat))
    (e,), (n,) = transform_coords([lon], [lat], "OGC:CRS84", utm)
    # 12 m south of the entrance, asked in UTM, EPSG:4326 (lat, lon) and EPSG:3857
    r_utm = reverse(e, n - 12.0, crs=utm, store=store)
    (la,), (lo,) = transform_coords([e], [n - 12.0], utm, "EPSG:4326")
    r_4326 = reverse(la, lo, crs="EPSG:4326", store=store)
    (x,), (y,) = transform_coords([e], [n - 12.0], utm, "EPSG:3857")
    r_3857 = reverse(x, y, crs="http://www.opengis.net/def/crs/EPSG/0/3857", store=store)
    for r in (r_utm, r_4326, r_3857):
        assert r.code == kaivokatu["code"]
        assert r.distance == pytest.approx(12.0, abs=0.05)


def test_nothing_within_the_radius(store: Store, kaivokatu: dict[str, object]) -> None:
    lon, lat = float(kaivokatu["lon"]), float(kaivokatu["lat"])  # type: ignore[arg-type]
    with pytest.raises(AddressNotFound) as info:
        reverse(lon, lat + 0.01, radius=25, store=store)
    assert str(info.value).startswith(f"nothing within 25 m of ({lon!r}, {lat + 0.01!r})")
    assert "the nearest standard address is" in str(info.value)
    assert info.value.status == 404
    assert isinstance(info.value, LookupError)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        ((200.0, 60.0), {}, GeometryOutOfBounds, "position coordinate (200.0, 60.0) is outside"),
        ((24.9, float("nan")), {}, GeometryOutOfBounds, "is not finite"),
        ((24.9, 60.1), {"radius": 0}, InvalidInput, "radius=0 must be greater than 0"),
        ((24.9, 60.1), {"radius": 1e9}, InvalidInput, "at most 5000 metres"),
        ((24.9, 60.1), {"radius": "far"}, InvalidInput, "radius='far' must be a number"),
        ((24.9, 60.1), {"crs": "EPSG:999999"}, UnknownCRS, "crs='EPSG:999999'"),
        (("x", 60.1), {}, InvalidInput, "x='x' must be a number"),
    ],
)
def test_bad_positions(
    store: Store, args: tuple[object, object], kwargs: dict[str, object], error: type, message: str
) -> None:
    with pytest.raises(error) as info:
        reverse(*args, store=store, **kwargs)  # type: ignore[arg-type]
    assert message in str(info.value)
    assert http_status(info.value) == 400


def test_to_dict(store: Store, kaivokatu: dict[str, object]) -> None:
    d = reverse(kaivokatu["lon"], kaivokatu["lat"], store=store).to_dict()  # type: ignore[arg-type]
    assert set(d) == {"code", "label", "label_sv", "lon", "lat", "distance", "building_id"}
    assert Point(d["lon"], d["lat"]).distance(Point(kaivokatu["lon"], kaivokatu["lat"])) < 1e-6
