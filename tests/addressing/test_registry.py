"""The address registry: Helsinki from OSM, and the lifecycle of codes on a tiny city."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, box

from addressing.codes import HELSINKI, AddressCode, parse_code
from addressing.errors import AddressNotFound
from addressing.registry import build_registry, get_address
from layers.osm import LAYERS
from twin.build import build_twin
from twin.crs import local_metric_crs, transform_geometry
from twin.errors import FeatureNotFound
from twin.plugins import load_plugins
from twin.store import Feature, Query, Store, open_store
from twin.temporal import Interval

ROOT = Path(__file__).resolve().parents[2]
OSM = ROOT / "data" / "helsinki.osm.pbf"
T0 = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def helsinki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    db = tmp_path_factory.mktemp("registry") / "helsinki.gpkg"
    plugins = [p for p in load_plugins() if p.name in ("layers", "addressing")]
    build_twin(OSM, str(db), plugins=plugins)
    with open_store(str(db), create=False) as store:
        yield store


# -- Helsinki ------------------------------------------------------------------------------


def test_every_address_point_is_in_exactly_one_doorplate(helsinki: Store) -> None:
    points = helsinki.read_frame("address_points")
    addresses = helsinki.read_frame("addresses")
    carried = [o for ids in addresses["osm_ids"] for o in ids]
    assert sorted(carried) == sorted(points["osm_id"])
    assert 550 <= len(addresses) <= len(points)


def test_codes_are_valid_unique_doorplates_of_helsinki(helsinki: Store) -> None:
    a = helsinki.read_frame("addresses")
    assert a["id"].is_unique
    codes = [parse_code(c) for c in a["id"]]
    assert {c.division for c in codes} == {HELSINKI}
    assert {c.level for c in codes} == {"doorplate"}
    assert list(a["code_display"]) == [c.display() for c in codes]
    streets = set(helsinki.read_frame("streets")["id"])
    named = a[a["street"].notna()]
    assert set(named["street_code"]) <= streets
    # the street part of an address code is its street's serial
    for code, street_code in zip(named["id"], named["street_code"], strict=True):
        assert parse_code(code).street == parse_code(street_code).street
    # a doorplate without a street has no street code (not the text "nan")
    unnamed = a[a["street"].isna()]
    assert len(unnamed) > 0 and unnamed["street_code"].isna().all()
    assert {parse_code(c).street for c in unnamed["id"]} == {0}


def test_names_are_bilingual(helsinki: Store) -> None:
    a = helsinki.read_frame("addresses")
    row = a[(a["street"] == "Mannerheimintie") & (a["housenumber"] == "5")].iloc[0]
    assert row["street_sv"] == "Mannerheimvägen"
    assert row["label"] == "Mannerheimintie 5, 00100 Helsinki"
    assert row["label_sv"] == "Mannerheimvägen 5, 00100 Helsingfors"
    s = helsinki.read_frame("streets")
    assert s.loc[s["name"] == "Pohjoisesplanadi", "name_sv"].iat[0] == "Norra Esplanaden"


def test_addresses_stand_on_their_building_outline(helsinki: Store) -> None:
    a = helsinki.read_frame("addresses")
    b = helsinki.read_frame("buildings").set_index("id")
    linked = a[a["building_id"].notna() & (a["entrance"] == "outline")]
    assert len(linked) > 0.8 * len(a)
    crs = local_metric_crs(tuple(a.total_bounds))
    entrances = transform_geometry(linked.geometry.to_numpy(), "OGC:CRS84", crs)
    outlines = transform_geometry(
        shapely.boundary(b.loc[linked["building_id"], "geometry"].to_numpy()), "OGC:CRS84", crs
    )
    assert float(shapely.distance(entrances, outlines).max()) < 0.01
    inside = a[a["building_match"] == "inside"]
    pts = shapely.points(inside["point_lon"], inside["point_lat"])
    polys = b.loc[inside["building_id"], "geometry"].to_numpy()
    assert shapely.covers(polys, pts).all()


def test_issues_are_reported_not_dropped(helsinki: Store) -> None:
    issues = helsinki.read_frame("address_issues")
    kinds = set(issues["kind"])
    assert {"merged_points", "two_buildings", "out_of_sequence", "no_street"} <= kinds
    assert set(issues["severity"]) <= {"conflict", "warning", "info"}
    assert issues["message"].str.len().min() > 20
    codes = set(helsinki.read_frame("addresses")["id"])
    assert set(issues["code"].dropna()) <= codes


def test_rebuild_changes_nothing(helsinki: Store) -> None:
    before = sorted(helsinki.read_frame("addresses")["id"])
    report = build_registry(helsinki, valid_from=datetime.now(UTC))
    for name in ("addresses", "sub_addresses", "streets", "address_issues"):
        rep = report[name]
        assert (rep.created, rep.updated, rep.retired) == (0, 0, 0), name
    assert sorted(helsinki.read_frame("addresses")["id"]) == before


def test_get_address(helsinki: Store) -> None:
    code = helsinki.read_frame("addresses")["id"].iat[0]
    assert get_address(parse_code(code).display(), store=helsinki).id == code
    missing = parse_code(code)
    other = type(missing)(missing.division, street=99999, doorplate=99999).code
    with pytest.raises(AddressNotFound, match=r"is a valid code but no standard address has it"):
        get_address(other, store=helsinki)


# -- a tiny city, edited between builds ------------------------------------------------------

_SPECS = {s.name: s for s in LAYERS}


def _ll(x: float, y: float) -> tuple[float, float]:
    """Metres east and north of a point in Helsinki to (lon, lat)."""
    return 24.95 + x / 55_450.0, 60.17 + y / 111_230.0


def _house(x: float, w: float = 20.0) -> MultiPolygon:
    x0, y0 = _ll(x, 10)
    x1, y1 = _ll(x + w, 30)
    return MultiPolygon([box(x0, y0, x1, y1)])


def _point(osm: str, street: str, number: str, x: float, y: float = 20.0) -> Feature:
    props: dict[str, Any] = {
        "osm_id": osm,
        "osm_type": "node",
        "street": street,
        "housenumber": number,
        "postcode": "00100",
        "city": "Helsinki",
        "tags": {},
    }
    return Feature(osm, Point(*_ll(x, y)), props)


class Tiny:
    """A twin with one street, written layer by layer, rebuilt one day apart."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.day = 0
        for name in ("address_points", "buildings", "roads"):
            store.ensure_collection(_SPECS[name])

    def write(
        self,
        points: list[Feature],
        *,
        street: str = "Testikatu",
        sv: str = "Testgatan",
        houses: int = 12,
    ) -> dict[str, Any]:
        self.day += 1
        t = T0 + timedelta(days=self.day)
        road = Feature(
            "w1",
            LineString([_ll(-10, 0), _ll(500, 0)]),
            {"osm_id": "w1", "name": street, "name_sv": sv, "highway": "residential", "tags": {}},
        )
        blds = [
            Feature(
                f"w{100 + i}",
                _house(40.0 * i),
                {"osm_id": f"w{100 + i}", "building": "yes", "tags": {}},
            )
            for i in range(houses)
        ]
        with self.store.transaction() as tx:
            tx.sync("roads", [road], valid_from=t)
            tx.sync("buildings", blds, valid_from=t)
            tx.sync("address_points", points, valid_from=t)
        return build_registry(self.store, valid_from=t)

    def by_osm(self) -> dict[str, str]:
        a = self.store.read_frame("addresses")
        return {o: c for c, ids in zip(a["id"], a["osm_ids"], strict=True) for o in ids}


@pytest.fixture
def tiny(store: Store) -> Tiny:
    """A tiny city on each backend (GeoPackage, and PostGIS where a server can be had)."""
    return Tiny(store)


def _serials(codes: list[str]) -> list[int]:
    return [parse_code(c).doorplate for c in codes]


def test_lifecycle_rename_renumber_retire(tiny: Tiny) -> None:
    tiny.write([_point("n1", "Testikatu", "1", 5), _point("n2", "Testikatu", "3", 45)])
    first = tiny.by_osm()
    assert _serials([first["n1"], first["n2"]]) == [1, 2]
    street = tiny.store.read_frame("streets")
    assert list(street["name"]) == ["Testikatu"]
    assert list(street["name_sv"]) == ["Testgatan"]

    # the street is renamed: same codes, new versions that remember the old label
    tiny.write(
        [_point("n1", "Uusikatu", "1", 5), _point("n2", "Uusikatu", "3", 45)],
        street="Uusikatu",
        sv="Nygatan",
    )
    assert tiny.by_osm() == first
    a = tiny.store.get("addresses", first["n1"])
    assert a.properties["label"] == "Uusikatu 1, 00100 Helsinki"
    assert a.properties["label_sv"] == "Nygatan 1, 00100 Helsingfors"
    assert a.properties["previous_label"] == "Testikatu 1, 00100 Helsinki"
    assert len(tiny.store.history("addresses", first["n1"])) == 2
    s = tiny.store.read_frame("streets")
    assert list(s["id"]) == list(street["id"])
    assert list(s["previous_name"]) == ["Testikatu"]

    # house 3 is renumbered 5: same code
    report = tiny.write(
        [_point("n1", "Uusikatu", "1", 5), _point("n2", "Uusikatu", "5", 45)],
        street="Uusikatu",
        sv="Nygatan",
    )
    assert report["addresses"].updated == 1
    assert tiny.by_osm() == first
    v = tiny.store.get("addresses", first["n2"])
    assert (v.properties["housenumber"], v.properties["previous_label"]) == (
        "5",
        "Uusikatu 3, 00100 Helsinki",
    )

    # the node of house 1 is replaced by another at the same place: matched by number and position
    tiny.write(
        [_point("n9", "Uusikatu", "1", 6), _point("n2", "Uusikatu", "5", 45)],
        street="Uusikatu",
        sv="Nygatan",
    )
    assert tiny.by_osm()["n9"] == first["n1"]

    # house 1 vanishes: retired, kept in history, its serial never issued again
    report = tiny.write([_point("n2", "Uusikatu", "5", 45)], street="Uusikatu", sv="Nygatan")
    assert report["addresses"].retired == 1
    with pytest.raises(FeatureNotFound):
        tiny.store.get("addresses", first["n1"])
    assert tiny.store.history("addresses", first["n1"])[-1].valid_to is not None
    tiny.write(
        [
            _point("n2", "Uusikatu", "5", 45),
            _point("n3", "Uusikatu", "1", 5),
            _point("n4", "Uusikatu", "9", 165),
        ],
        street="Uusikatu",
        sv="Nygatan",
    )
    now = tiny.by_osm()
    assert now["n2"] == first["n2"]
    assert sorted(_serials([now["n3"], now["n4"]])) == [3, 4]
    every = tiny.store.read_frame("addresses", Query(time=Interval(None, None)))
    assert every["id"].nunique() == 4


def test_conflicts_become_issues(tiny: Tiny) -> None:
    points = [
        _point("n1", "Testikatu", "1", 5),
        _point("n3", "Testikatu", "3", 45),
        _point("n5", "Testikatu", "5", 440),  # far beyond 7 and 9: out of sequence
        _point("n7", "Testikatu", "7", 125),
        _point("n9", "Testikatu", "9", 165),
        _point("n11a", "Testikatu", "11", 205),  # one doorplate, two buildings
        _point("n11b", "Testikatu", "11", 245),
        _point("n2a", "Testikatu", "2", 5, -20),  # the same number twice, 400 m apart
        _point("n2b", "Testikatu", "2", 405, -20),
        _point("x1", "Testikatu", "13, 2. krs.", 285),
    ]
    tiny.write(points)
    issues = tiny.store.read_frame("address_issues")
    by_kind = {k: g for k, g in issues.groupby("kind")}
    seq = by_kind["out_of_sequence"]
    assert list(seq["housenumber"]) == ["5"]
    assert list(seq["osm_ids"]) == [["n5"]]
    two = by_kind["two_buildings"]
    assert list(two["osm_ids"]) == [["n11a", "n11b"]]
    assert "stands on 2 buildings ['w105', 'w106']" in two["message"].iat[0]
    twice = by_kind["same_number_twice"]
    assert twice["osm_ids"].iat[0] == ["n2a", "n2b"]
    assert twice["severity"].iat[0] == "conflict"
    repaired = by_kind["housenumber_repaired"]
    assert repaired["message"].iat[0] == (
        "addr:housenumber '13, 2. krs.' read as '13'; '2. krs.' left out"
    )
    assert "merged_points" in by_kind
    labels = set(tiny.store.read_frame("addresses")["label"])
    assert "Testikatu 13, 00100 Helsinki" in labels
    assert sum(1 for x in labels if x.startswith("Testikatu 2,")) == 1  # two codes, one label
    assert len(tiny.store.read_frame("addresses")) == 9


def test_points_without_a_street_merged_into_one_doorplate(tiny: Tiny) -> None:
    # two points with the same number and no addr:street 20 m apart: one doorplate
    points = [_point("n1", "Testikatu", "1", 45)]
    for osm, x in (("n16a", 5.0), ("n16b", 25.0)):
        f = _point(osm, "", "16", x)
        del f.properties["street"]
        points.append(f)
    tiny.write(points)
    a = tiny.store.read_frame("addresses")
    assert sorted(a["label"]) == ["16, 00100 Helsinki", "Testikatu 1, 00100 Helsinki"]
    row = a[a["housenumber"] == "16"].iloc[0]
    assert sorted(row["osm_ids"]) == ["n16a", "n16b"]
    assert pd.isna(row["street"]) and pd.isna(row["street_code"])
    issues = tiny.store.read_frame("address_issues")
    merged = issues[issues["kind"] == "merged_points"]
    assert list(merged["osm_ids"]) == [["n16a", "n16b"]]
    assert merged["message"].iat[0].startswith("2 OSM objects carry '(no street) 16' within")
    assert merged["street"].isna().all()
    assert list(merged["code"]) == [row["id"]]


# -- extracts with few or no addresses -------------------------------------------------------
def _extract(tmp_path: Path, nodes: str) -> Path:
    path = tmp_path / "small.osm"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="test">\n'
        f"{nodes}</osm>\n",
        encoding="utf-8",
    )
    return path


def _node(osm_id: int, lat: float, tags: dict[str, str]) -> str:
    inner = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
    return (
        f'<node id="{osm_id}" version="1" timestamp="2020-01-01T00:00:00Z" lat="{lat}" '
        f'lon="24.94">{inner}</node>\n'
    )


def _build_small(tmp_path: Path, nodes: str) -> tuple[dict[str, Any], Store]:
    db = tmp_path / "small.gpkg"
    plugins = [p for p in load_plugins() if p.name in ("layers", "addressing")]
    ctx = build_twin(_extract(tmp_path, nodes), str(db), plugins=plugins)
    return ctx.report, open_store(str(db), create=False)


def test_an_extract_without_addresses_builds_an_empty_registry(tmp_path: Path) -> None:
    report, store = _build_small(tmp_path, _node(1, 60.17, {}))
    with store:
        names = {c.name for c in store.collections()}
        assert {"addresses", "sub_addresses", "streets", "address_issues"} <= names
        assert "address_points" not in names  # the map layers make no empty layer
        for name in ("addresses", "sub_addresses", "streets", "address_issues"):
            assert len(store.read_frame(name)) == 0
            assert report[name].created == 0
        with pytest.raises(AddressNotFound):
            get_address(AddressCode(HELSINKI, street=1, doorplate=1).code, store=store)


def test_addresses_without_buildings_or_roads(tmp_path: Path) -> None:
    nodes = _node(
        1, 60.17, {"addr:street": "Testikatu", "addr:housenumber": "5", "addr:city": "Helsinki"}
    ) + _node(2, 60.171, {"entrance": "staircase", "ref": "B"})
    report, store = _build_small(tmp_path, nodes)
    with store:
        assert "buildings" not in {c.name for c in store.collections()}
        a = store.read_frame("addresses")
        assert list(a["label"]) == ["Testikatu 5, Helsinki"]
        assert a["building_id"].isna().all()
        assert list(store.read_frame("streets")["name"]) == ["Testikatu"]
        issues = store.read_frame("address_issues")
        assert list(issues["kind"]) == ["entrance_without_doorplate"]
        assert report["addresses"].created == 1


def test_a_rebuild_without_address_points_retires_the_registry(tiny: Tiny) -> None:
    tiny.write([_point("n1", "Testikatu", "1", 5), _point("n2", "Testikatu", "3", 45)])
    codes = set(tiny.by_osm().values())
    report = tiny.write([])
    assert report["addresses"].retired == 2 and report["streets"].retired == 1
    assert len(tiny.store.read_frame("addresses")) == 0
    for code in codes:
        with pytest.raises(AddressNotFound):
            get_address(code, store=tiny.store)


def test_a_street_spelt_two_ways_takes_the_spelling_most_ways_carry() -> None:
    """Porto's extract spells a street 'Rua Machado dos Santos' on two ways and '... dos
    santos' on one; the spelling of the last way read won, and every address that wrote the
    street as its ways mostly do was reported as a spelling repair."""
    import geopandas as gpd
    import shapely

    from addressing._registry_prepare import _clean_street, _road_names

    names = ["Rua Machado dos Santos", "Rua Machado dos santos", "Rua Machado dos Santos"]
    for order in (names, names[::-1], names[1:] + names[:1]):
        roads = gpd.GeoDataFrame(
            {"name": order, "name_sv": [None] * 3},
            geometry=[shapely.LineString([(i, 0), (i + 1, 0)]) for i in range(3)],
        )
        known, _sv, _geoms = _road_names(roads)
        assert known == {"rua machado dos santos": "Rua Machado dos Santos"}
        assert _clean_street("Rua Machado dos Santos", known) == ("Rua Machado dos Santos", None)


def test_a_point_as_near_to_two_buildings_takes_the_lower_id_whatever_their_order() -> None:
    """The nearest building was the spatial index's pick among equals: an edit elsewhere in
    the city could flip a doorplate's building and retire its sub-addresses."""
    import geopandas as gpd
    import shapely

    from addressing._registry_prepare import _buildings_of

    point = np.array([shapely.Point(0, 0)])
    boxes = {"w2": shapely.box(1, -1, 3, 1), "w1": shapely.box(-3, -1, -1, 1)}  # 1 m each side
    inside = {"w9": shapely.box(-2, -2, 2, 2), "w8": shapely.box(-2, -2, 2, 2)}  # equal areas
    for shapes in (boxes, inside):
        for ids in (list(shapes), list(shapes)[::-1]):
            blds = gpd.GeoDataFrame({"id": ids}, geometry=[shapes[i] for i in ids])
            idx, _kind = _buildings_of(point, blds)
            assert blds["id"].iat[int(idx[0])] == min(shapes)


def test_helsinki_codes_for_another_city_are_warned_about(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """A Porto twin was coded under Helsinki's division without a word."""
    for name in ("address_points", "buildings", "roads"):
        store.ensure_collection(_SPECS[name])
    props = {"osm_id": "n1", "osm_type": "node", "street": "Rua A", "housenumber": "1", "tags": {}}
    store.create("address_points", [Feature("n1", Point(-8.61, 41.15), props)])
    with caplog.at_level("WARNING", logger="addressing.registry"):
        build_registry(store)
    assert "coded under Helsinki's division 246091000000, the default" in caplog.text
    assert "TWIN_ADDRESS_DIVISION" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="addressing.registry"):
        build_registry(store, division="620131200000")
    assert "division" not in caplog.text


def test_helsinki_codes_for_helsinki_are_not_warned_about(
    tiny: Tiny, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="addressing.registry"):
        tiny.write([_point("n1", "Testikatu", "1", 10)])
    assert "division" not in caplog.text
