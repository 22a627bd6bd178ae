"""Standard addresses below the doorplate: buildings, units, floors and rooms.

Helsinki from OSM, and a tiny OSM extract written here, built three times with the twin
build (a street renamed, a staircase and a building removed, then new ones added).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import pandas as pd
import pytest

from addressing._registry_tags import (
    door_key,
    expand_flats,
    floor_from_tags,
    floor_in_text,
    read_unit,
    ref_key,
)
from addressing.codes import LEVELS, AddressCode, floor_serial, parse_code
from addressing.registry import build_registry, get_address
from addressing.reverse import reverse
from twin.build import build_twin
from twin.errors import FeatureNotFound
from twin.plugins import load_plugins
from twin.store import Query, Store, open_store
from twin.temporal import Instant, Interval

ROOT = Path(__file__).resolve().parents[2]
OSM = ROOT / "data" / "helsinki.osm.pbf"
T0 = datetime(2024, 1, 1, tzinfo=UTC)
BELOW = ("building", "unit", "floor", "room")


def _plugins() -> list[Any]:
    return [p for p in load_plugins() if p.name in ("layers", "addressing")]


@pytest.fixture(scope="module")
def helsinki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    db = tmp_path_factory.mktemp("levels") / "helsinki.gpkg"
    build_twin(OSM, str(db), plugins=_plugins())
    with open_store(db, create=False) as store:
        yield store


# -- reading the tags ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"level": "0"}, (1, "level", None)),
        ({"level": "2"}, (3, "level", None)),
        ({"level": "-1"}, (-1, "level", None)),
        ({"level": "1;2"}, (2, "level", None)),
        ({"level": "-1;0"}, (-1, "level", None)),
        ({"addr:floor": "4", "level": "3"}, (4, "addr:floor", None)),
        ({"addr:floor": "0"}, (1, "addr:floor", None)),
        ({"addr:floor": "2. krs"}, (2, "addr:floor", None)),
        ({"level": "1.5"}, (None, None, "level=1.5")),
        ({"addr:floor": "mezzanine"}, (None, None, "addr:floor=mezzanine")),
        ({"name": "x"}, (None, None, None)),
    ],
)
def test_floor_from_tags(tags: dict[str, str], expected: tuple[Any, ...]) -> None:
    assert floor_from_tags(tags) == expected


@pytest.mark.parametrize(
    ("text", "ref", "door", "floor"),
    [
        ("B", "B", None, None),
        ("b", "B", None, None),
        ("A 260", "A", "260", None),
        ("6. krs", None, None, 6),
        ("7. krs", None, None, 7),
    ],
)
def test_read_unit(text: str, ref: str | None, door: str | None, floor: int | None) -> None:
    unit = read_unit(text)
    assert unit is not None
    assert (unit.ref, unit.door, unit.floor) == (ref, door, floor)


@pytest.mark.parametrize("text", ["aA", "c/o Business Meeting Park Forum", "", None, 3])
def test_unreadable_units(text: Any) -> None:
    assert read_unit(text) is None


def test_refs_doors_flats() -> None:
    assert [ref_key(t) for t in ("a", " C ", "45H", "Metro A", None)] == [
        "A",
        "C",
        "45H",
        None,
        None,
    ]
    assert [door_key(t) for t in ("12", "12 b", "", "x" * 20)] == ["12", "12B", None, None]
    assert expand_flats("1-4") == ["1", "2", "3", "4"]
    assert expand_flats("3;1-2;10") == ["1", "2", "3", "10"]
    assert expand_flats("1-100000") is None
    assert expand_flats("4-1") is None
    assert floor_in_text("2. krs./Floor 2") == 2
    assert floor_in_text("Floor 3") == 3
    assert floor_in_text("B-rappu") is None


# -- Helsinki ------------------------------------------------------------------------------


def _tag_count(frame: pd.DataFrame, *keys: str) -> int:
    return sum(1 for t in frame["tags"] if isinstance(t, dict) and any(k in t for k in keys))


def test_helsinki_levels(helsinki: Store) -> None:
    a = helsinki.read_frame("addresses")
    sub = helsinki.read_frame("sub_addresses")
    counts = sub["level"].value_counts().to_dict()
    # every building that holds a doorplate has a code under it
    with_building = a[a["building_id"].notna()]
    assert counts["building"] >= len(with_building)
    blds = sub[sub["level"] == "building"]
    held = {(p, b) for p, b in zip(blds["parent_code"], blds["building_id"], strict=True)}
    assert {
        (c, b) for c, b in zip(with_building["id"], with_building["building_id"], strict=True)
    } <= held
    # units from entrance refs (and addr:unit), floors from addr:floor and level
    entrances = helsinki.read_frame("address_entrances")
    with_ref = entrances[entrances["ref"].notna() & entrances["railway"].isna()]
    assert (
        0
        < counts["unit"]
        <= len(with_ref) + _tag_count(helsinki.read_frame("address_points"), "addr:unit")
    )
    points = helsinki.read_frame("address_points")
    assert 0 < counts["floor"] <= _tag_count(points, "addr:floor", "level") + 10
    # Helsinki tags no addr:door and no addr:flats: its one room comes from addr:unit=A 260
    assert _tag_count(points, "addr:door", "addr:flats") == 0
    assert _tag_count(entrances, "addr:door", "addr:flats") == 0
    rooms = sub[sub["level"] == "room"]
    assert list(rooms["door"]) == ["260"]
    assert rooms["label"].iat[0].endswith(" A 260, 00100 Helsinki")


def test_helsinki_codes_form_a_tree(helsinki: Store) -> None:
    a = helsinki.read_frame("addresses")
    sub = helsinki.read_frame("sub_addresses")
    assert sub["id"].is_unique
    assert not set(sub["id"]) & set(a["id"])
    known = set(a["id"]) | set(sub["id"])
    for fid, level, parent, doorplate in zip(
        sub["id"], sub["level"], sub["parent_code"], sub["doorplate_code"], strict=True
    ):
        code = parse_code(fid)
        assert code.level == level
        assert code.parent() is not None and code.parent().code == parent  # type: ignore[union-attr]
        assert parent in known
        assert AddressCode(code.division, code.street, code.doorplate).code == doorplate
    # several buildings of one doorplate have distinct serials 1, 2, ... in OSM id order
    blds = sub[sub["level"] == "building"].copy()
    blds["serial"] = [parse_code(c).building for c in blds["id"]]
    several = 0
    for _parent, g in blds.groupby("parent_code"):
        assert sorted(g["serial"]) == list(range(1, len(g) + 1))
        if len(g) > 1:
            several += 1
            order = sorted(g["building_id"], key=lambda b: (b[0], int(b[1:])))
            assert list(g.sort_values("serial")["building_id"]) == order
    assert several > 0


def test_helsinki_units_and_floors(helsinki: Store) -> None:
    sub = helsinki.read_frame("sub_addresses")
    units = sub[sub["level"] == "unit"]
    assert units["unit_ref"].str.fullmatch(r"[A-Z]|\d{1,3}[A-Z]?").all()
    for fid, ref, label in zip(units["id"], units["unit_ref"], units["label"], strict=True):
        assert parse_code(fid).unit >= 1
        assert f" {ref}," in label
    floors = sub[sub["level"] == "floor"]
    for fid, floor in zip(floors["id"], floors["floor"], strict=True):
        assert parse_code(fid).floor_number == int(floor)
    assert (floors["floor"] < 0).any()  # basements from level=-1 and -2
    assert set(floors["floor_label"]) >= {"B1", "2"}


def test_helsinki_get_and_reverse_still_answer_the_doorplate(helsinki: Store) -> None:
    sub = helsinki.read_frame("sub_addresses")
    for level in BELOW:
        fid = sub.loc[sub["level"] == level, "id"].iat[0]
        got = get_address(parse_code(fid).display(), store=helsinki)
        assert (got.collection, got.id, got.properties["level"]) == ("sub_addresses", fid, level)
    # geocoding and reverse geocoding index the doorplates only
    r = reverse(24.9412, 60.1708, radius=50, store=helsinki)
    assert parse_code(r.code).level == "doorplate"
    assert r.label == "Kaivokatu 1, 00100 Helsinki"
    assert r.building_id is not None
    building = sub[(sub["parent_code"] == r.code) & (sub["building_id"] == r.building_id)]
    assert list(building["level"]) == ["building"]


def test_helsinki_rebuild_keeps_every_level(helsinki: Store) -> None:
    before = sorted(helsinki.read_frame("sub_addresses")["id"])
    report = build_registry(helsinki, valid_from=datetime.now(UTC))
    rep = report["sub_addresses"]
    assert (rep.created, rep.updated, rep.retired) == (0, 0, 0)
    assert sorted(helsinki.read_frame("sub_addresses")["id"]) == before


# -- a tiny extract, built three times ------------------------------------------------------


def _ll(x: float, y: float) -> tuple[float, float]:
    """Metres east and north of a point in Helsinki to (lon, lat)."""
    return 24.95 + x / 55_450.0, 60.17 + y / 111_230.0


class Extract:
    """A tiny OSM XML file: one street, a house with staircases, a doorplate on two houses."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.nodes: dict[int, tuple[float, float, dict[str, str]]] = {}
        self.ways: dict[int, tuple[list[int], dict[str, str]]] = {}

    def node(self, nid: int, x: float, y: float, **tags: str) -> int:
        self.nodes[nid] = (x, y, {k.replace("__", ":"): v for k, v in tags.items()})
        return nid

    def box(self, wid: int, x0: float, x1: float, tags: dict[str, str], extra: list[int]) -> None:
        corners = [
            self.node(wid * 10 + 1, x0, 10),
            self.node(wid * 10 + 2, x1, 10),
            self.node(wid * 10 + 3, x1, 30),
            self.node(wid * 10 + 4, x0, 30),
        ]
        ring = [corners[0], *extra, *corners[1:], corners[0]]
        self.ways[wid] = (ring, {"building": "yes", **tags})

    def write(self) -> Path:
        lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
        for nid, (x, y, tags) in sorted(self.nodes.items()):
            lon, lat = _ll(x, y)
            tg = "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())
            lines.append(
                f'<node id="{nid}" version="1" lat="{lat:.8f}" lon="{lon:.8f}">{tg}</node>'
            )
        for wid, (refs, tags) in sorted(self.ways.items()):
            nds = "".join(f'<nd ref="{r}"/>' for r in refs)
            tg = "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())
            lines.append(f'<way id="{wid}" version="1">{nds}{tg}</way>')
        lines.append("</osm>")
        self.path.write_text("\n".join(lines), encoding="utf-8")
        return self.path


def _extract(
    path: Path, street: str, sv: str, *, staircase_b: int | None, second_house: int | None
) -> Path:
    """House 1 (w100) with staircases A and B (B with flats 1-4), a shop in the basement and
    an office on floor 3 of A (door 12); doorplate 3 on w101 and, at ``second_house``, on w102.
    """
    x = Extract(path)
    addr = {"addr:street": street, "addr:postcode": "00100", "addr:city": "Helsinki"}
    x.node(1, -10, 0)
    x.node(2, 300, 0)
    x.ways[1] = ([1, 2], {"highway": "residential", "name": street, "name:sv": sv})
    stairs = [x.node(21, 5, 10, entrance="staircase", ref="A")]
    if staircase_b is not None:
        stairs.append(x.node(staircase_b, 15, 10, entrance="staircase", ref="B", addr__flats="1-4"))
    stairs.append(x.node(23, 18, 10, entrance="yes", railway="subway_entrance", ref="C"))
    x.box(100, 0, 20, {**addr, "addr:housenumber": "1"}, stairs)
    x.ways[100][0].insert(-2, x.node(24, 10, 30, entrance="main", addr__flats="1-5"))
    x.node(31, 10, 20, shop="bakery", level="-1", addr__housenumber="1", **_kw(addr))
    x.node(
        32, 8, 22, office="company", addr__unit="A", addr__floor="3", addr__door="12",
        addr__housenumber="1", **_kw(addr),
    )  # fmt: skip
    x.box(101, 40, 60, {}, [])
    x.box(102, 62, 80, {}, [])
    x.node(41, 50, 20, shop="kiosk", addr__housenumber="3", **_kw(addr))
    if second_house is not None:
        x.node(second_house, 70, 20, shop="florist", addr__housenumber="3", **_kw(addr))
    return x.write()


def _kw(addr: dict[str, str]) -> dict[str, str]:
    return {k.replace(":", "__"): v for k, v in addr.items()}


def _build(db: str, osm: Path, day: int) -> dict[str, Any]:
    ctx = build_twin(osm, db, valid_from=T0 + timedelta(days=day), plugins=_plugins())
    return ctx.report


def _by(store: Store) -> dict[tuple[Any, ...], str]:
    """(housenumber, level, building id, unit, floor, door) -> code, for the current levels."""
    sub = store.read_frame("sub_addresses")
    out = {}
    for row in sub.to_dict("records"):
        floor = None if pd.isna(row.get("floor")) else int(row["floor"])
        door = row.get("door") if isinstance(row.get("door"), str) else None
        ref = row.get("unit_ref") if isinstance(row.get("unit_ref"), str) else None
        key = (row["housenumber"], row["level"], row["building_id"], ref, floor, door)
        assert key not in out
        out[key] = row["id"]
    return out


def test_levels_follow_renames_and_retire_for_good(tmp_path: Path, store_url: str) -> None:
    db = store_url
    osm = tmp_path / "tiny.osm"
    _build(db, _extract(osm, "Testikatu", "Testgatan", staircase_b=22, second_house=42), 1)
    with open_store(db, create=False) as store:
        first = _by(store)
        doorplates = store.read_frame("addresses")
    one = doorplates.loc[doorplates["housenumber"] == "1", "id"].iat[0]
    three = doorplates.loc[doorplates["housenumber"] == "3", "id"].iat[0]
    b1 = first[("1", "building", "w100", None, None, None)]
    unit_a = first[("1", "unit", "w100", "A", None, None)]
    unit_b = first[("1", "unit", "w100", "B", None, None)]
    basement = first[("1", "floor", "w100", None, -1, None)]
    floor3 = first[("1", "floor", "w100", "A", 3, None)]
    room12 = first[("1", "room", "w100", "A", 3, "12")]
    flats = [first[("1", "room", "w100", "B", None, str(n))] for n in range(1, 5)]
    b3a = first[("3", "building", "w101", None, None, None)]
    b3b = first[("3", "building", "w102", None, None, None)]
    # 3 buildings, 2 units (the subway entrance is none), 2 floors, 1 + 4 + 5 rooms
    assert len(first) == 17
    # flats of an entrance without a staircase letter are rooms of the building
    house = [first[("1", "room", "w100", None, None, str(n))] for n in range(1, 6)]
    assert [parse_code(c) for c in house] == [
        replace_code(one, building=1, room=n) for n in range(1, 6)
    ]
    # the hierarchy, serial by serial
    assert parse_code(b1) == replace_code(one, building=1)
    assert parse_code(unit_a) == replace_code(one, building=1, unit=1)
    assert parse_code(unit_b) == replace_code(one, building=1, unit=2)
    assert parse_code(basement) == replace_code(one, building=1, floor=floor_serial(-1))
    assert parse_code(floor3) == replace_code(one, building=1, unit=1, floor=3)
    assert parse_code(room12) == replace_code(one, building=1, unit=1, floor=3, room=1)
    assert [parse_code(c).room for c in flats] == [1, 2, 3, 4]
    assert {parse_code(c).unit for c in flats} == {2}
    assert (parse_code(b3a).building, parse_code(b3b).building) == (1, 2)  # by OSM id
    assert parse_code(b3a).doorplate == parse_code(three).doorplate
    with open_store(db, create=False) as store:
        v = store.get("sub_addresses", room12).properties
        assert v["label"] == "Testikatu 1 A 12, 3. krs, 00100 Helsinki"
        assert v["label_sv"] == "Testgatan 1 A 12, 3 vån., 00100 Helsingfors"
        assert v["parent_code"] == floor3
        assert store.get("sub_addresses", basement).properties["label"] == (
            "Testikatu 1, 1. kellarikrs, 00100 Helsinki"
        )
        assert store.get("sub_addresses", house[2]).properties["label"] == (
            "Testikatu 1, as. 3, 00100 Helsinki"
        )
        assert store.get("sub_addresses", b3b).properties["label"] == (
            "Testikatu 3, rak. 2, 00100 Helsinki"
        )

    # the street is renamed, staircase B and the point of 3 in w102 are removed
    report = _build(
        db, _extract(osm, "Uusikatu", "Nygatan", staircase_b=None, second_house=None), 2
    )
    assert report["sub_addresses"].retired == 1 + 4 + 1  # unit B, its flats, building w102
    with open_store(db, create=False) as store:
        second = _by(store)
        assert set(second.values()) == set(first.values()) - {unit_b, b3b, *flats}
        a = store.get("sub_addresses", unit_a)
        assert a.properties["label"] == "Uusikatu 1 A, 00100 Helsinki"
        assert a.properties["label_sv"] == "Nygatan 1 A, 00100 Helsingfors"
        assert a.properties["previous_label"] == "Testikatu 1 A, 00100 Helsinki"
        assert a.properties["street"] == "Uusikatu"
        assert [v.properties["label"] for v in store.history("sub_addresses", unit_a)] == [
            "Testikatu 1 A, 00100 Helsinki",
            "Uusikatu 1 A, 00100 Helsinki",
        ]
        assert store.get("sub_addresses", room12).properties["previous_label"] == (
            "Testikatu 1 A 12, 3. krs, 00100 Helsinki"
        )
        for gone in (unit_b, b3b, *flats):
            with pytest.raises(FeatureNotFound):
                store.get("sub_addresses", gone)
            assert store.history("sub_addresses", gone)[-1].valid_to is not None
        # a retired address keeps its code: it still answers at its time
        then = Instant(T0 + timedelta(days=1, hours=1))
        assert get_address(unit_b, store=store, time=then).id == unit_b

    # a new staircase B and the point in w102 again: new serials, the retired never reused
    _build(db, _extract(osm, "Uusikatu", "Nygatan", staircase_b=25, second_house=43), 3)
    with open_store(db, create=False) as store:
        third = _by(store)
        new_b = third[("1", "unit", "w100", "B", None, None)]
        assert parse_code(new_b).unit == 3
        new_w102 = third[("3", "building", "w102", None, None, None)]
        assert parse_code(new_w102).building == 3
        assert [parse_code(third[("1", "room", "w100", "B", None, "1")]).unit] == [3]
        every = store.read_frame("sub_addresses", Query(time=Interval(None, None)))
        assert every["id"].nunique() == len(first) + 1 + 1 + 4
        assert third[("1", "unit", "w100", "A", None, None)] == unit_a


def replace_code(code: str, **parts: int) -> AddressCode:
    """The code of a doorplate with lower parts set."""
    c = parse_code(code)
    assert set(parts) <= set(LEVELS)
    return AddressCode(c.division, c.street, c.doorplate, **parts)
