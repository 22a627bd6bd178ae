"""Reverse geocoding: any served CRS in, the nearest standard address and its building out.

Besides the doorplate and the building it stands in, the answer carries the building's
own standard address code (level ``building`` in ``sub_addresses``) and the URLs of the
items; the Helsinki twin (read only) is the data.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from shapely.geometry import Point

from addressing import geocode, reverse
from addressing.codes import parse_code
from addressing.errors import AddressNotFound
from twin.cli import cli
from twin.crs import local_metric_crs, transform_coords
from twin.errors import GeometryOutOfBounds, InvalidInput, UnknownCRS, http_status
from twin.store import Store, open_store

BASE = "https://twin.example.org/helsinki"


@pytest.fixture(scope="module")
def store(helsinki_db: Path) -> Iterator[Store]:
    with open_store(str(helsinki_db), create=False) as s:
        yield s


@pytest.fixture(scope="module")
def buildings(store: Store) -> pd.DataFrame:
    """The building codes of the twin: level ``building`` of ``sub_addresses``."""
    sub = store.read_frame("sub_addresses")
    return sub[sub["level"] == "building"]


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
        (
            (24.9, 60.1),
            {"base_url": "ftp://twin"},
            InvalidInput,
            "base_url='ftp://twin' must start with 'http://' or 'https://'",
        ),
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
    assert set(d) == {
        "code",
        "label",
        "label_sv",
        "lon",
        "lat",
        "distance",
        "building_id",
        "building_code",
        "url",
        "building_url",
        "building_code_url",
    }
    assert json.loads(json.dumps(d)) == d
    assert Point(d["lon"], d["lat"]).distance(Point(kaivokatu["lon"], kaivokatu["lat"])) < 1e-6


# -- the building's standard address code -------------------------------------------------
def test_the_building_code_of_the_building_it_stands_in(
    store: Store, kaivokatu: dict[str, object], buildings: pd.DataFrame
) -> None:
    # Kaivokatu 1 stands on two buildings: the code is the one of the building the
    # doorplate's entrance is in, not merely the first building under the doorplate
    mine = buildings[buildings["doorplate_code"] == kaivokatu["code"]]
    assert len(mine) >= 2
    r = reverse(kaivokatu["lon"], kaivokatu["lat"], store=store, base_url=BASE + "/")  # type: ignore[arg-type]
    assert r.building_id == kaivokatu["building"]
    (expected,) = mine.loc[mine["building_id"] == r.building_id, "id"]
    assert r.building_code == expected
    assert set(mine["id"]) - {r.building_code}
    code = parse_code(str(r.building_code))
    assert code.level == "building"
    assert code.parent() is not None and code.parent().code == r.code  # type: ignore[union-attr]
    assert r.url == f"{BASE}/collections/addresses/items/{r.code}"
    assert r.building_url == f"{BASE}/collections/buildings/items/{r.building_id}"
    assert r.building_code_url == f"{BASE}/collections/sub_addresses/items/{expected}"


def test_every_doorplate_with_a_building_answers_its_building_code(
    store: Store, buildings: pd.DataFrame
) -> None:
    a = store.read_frame("addresses")
    expected = {
        (str(d), str(b)): str(c)
        for c, d, b in zip(
            buildings["id"], buildings["doorplate_code"], buildings["building_id"], strict=True
        )
    }
    checked = 0
    for code, building, geom in zip(a["id"], a["building_id"], a.geometry, strict=True):
        r = reverse(geom.x, geom.y, radius=1, store=store)
        if r.code != code:  # two doorplates at one entrance: the other one answered
            continue
        checked += 1
        if isinstance(building, str):
            assert r.building_id == building
            assert r.building_code == expected[(code, building)], code
            assert parse_code(r.building_code).level == "building"
        else:
            assert (r.building_id, r.building_code, r.building_code_url) == (None, None, None)
    with_building = int(a["building_id"].notna().sum())
    assert checked >= 0.9 * len(a) and with_building >= 0.8 * len(a)


def test_no_building_no_building_code(store: Store) -> None:
    a = store.read_frame("addresses")
    alone = a[a["building_id"].isna()]
    assert len(alone) > 0
    answered = 0
    for code, geom in zip(alone["id"], alone.geometry, strict=True):
        r = reverse(geom.x, geom.y, radius=1, store=store)
        if r.code == code:
            answered += 1
            assert r.building_code is None and r.building_code_url is None
            assert r.building_url is None and r.url is not None and r.url.endswith(code)
    assert answered > 0


def _cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["addresses", *args])
    return result.exit_code, result.stdout, result.stderr


def test_cli_reverse_prints_the_building_code(
    helsinki_db: Path, store: Store, kaivokatu: dict[str, object]
) -> None:
    lon, lat = str(kaivokatu["lon"]), str(kaivokatu["lat"])
    local = reverse(kaivokatu["lon"], kaivokatu["lat"], store=store, base_url=BASE)  # type: ignore[arg-type]
    assert local.building_code is not None
    db = str(helsinki_db)
    code, out, err = _cli("reverse", lon, lat, "--format", "json", "--base-url", BASE, "--db", db)
    assert code == 0, err
    assert json.loads(out) == local.to_dict()
    code, out, err = _cli("reverse", lat, lon, "--crs", "EPSG:4326", "--db", db)
    assert code == 0, err
    assert out.split()[0] == local.code
    assert out.rstrip().endswith(f"building {local.building_id} {local.building_code}")
    code, _, err = _cli("reverse", lon, lat, "--base-url", "ftp://x", "--db", db)
    assert code == 2 and "Error: base_url='ftp://x' must start with" in err


def test_a_missing_label_is_the_label_in_the_other_language(
    helsinki_db: Path, tmp_path: Path
) -> None:
    # label and label_sv are optional: an edit can leave an address with one of them
    path = tmp_path / "edited.gpkg"
    shutil.copy(helsinki_db, path)
    db = str(path)
    with open_store(db, create=False) as s:
        a = s.read_frame("addresses")
        kaivokatu = a[a["street"] == "Kaivokatu"].set_index("housenumber")
        one, two = kaivokatu.loc["1"], kaivokatu.loc["2"]
        with s.transaction() as tx:
            tx.patch("addresses", str(one["id"]), properties={"label_sv": None})
            tx.patch("addresses", str(two["id"]), properties={"label": None})
        r1 = reverse(one.geometry.x, one.geometry.y, store=s)
        assert (r1.code, r1.label, r1.label_sv) == (one["id"], one["label"], one["label"])
        r2 = reverse(two.geometry.x, two.geometry.y, store=s)
        assert (r2.code, r2.label, r2.label_sv) == (two["id"], two["label_sv"], two["label_sv"])
        g1 = geocode("Kaivokatu 1", limit=1, store=s)[0]
        assert (g1.code, g1.label, g1.label_sv) == (one["id"], one["label"], one["label"])
        g2 = geocode("Brunngatan 2", limit=1, store=s)[0]
        assert (g2.code, g2.label, g2.label_sv) == (two["id"], two["label_sv"], two["label_sv"])
    lon, lat = str(one.geometry.x), str(one.geometry.y)
    code, out, err = _cli("reverse", lon, lat, "--format", "json", "--db", db)
    assert code == 0, err
    assert json.loads(out)["label_sv"] == "Kaivokatu 1, 00100 Helsinki"
    assert "nan" not in out
