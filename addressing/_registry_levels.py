"""Standard addresses below the doorplate: buildings, units (staircases), floors and rooms.

Everything here works on the doorplates that :mod:`addressing.registry` has just given
their codes, in the city's metric CRS, and returns the features of ``sub_addresses``.

- **building**: every building that holds a doorplate (one of the doorplate's points
  stands in it or within a few metres) gets a code under the doorplate. Several
  buildings of one doorplate get serials in the order of their OSM ids.
- **unit**: an entrance node with ``ref`` (else ``addr:unit``), such as a staircase
  ``B``, on the outline of such a building, and an address point whose ``addr:unit``
  is a staircase (``B``, ``A 260``), get a unit code under the building. Serials follow
  the order of the letters. Railway entrances are no staircases and are left out.
- **floor**: an address point tagged ``addr:floor`` or ``level`` (or whose ``addr:unit``
  or house number says ``6. krs``) names a floor of its unit or building; the floor part
  of the code is the floor itself (:func:`addressing.codes.floor_serial`).
- **room**: ``addr:door`` of an address point or entrance, the flat of ``addr:unit=A 260``
  and the flats of ``addr:flats`` (``1-12``) are rooms of the floor, unit or building.

Serials (building, unit, room) are stable over rebuilds: a child is matched to the code
it had under the same parent by its OSM objects first, then by its key (building id,
staircase letter, door), and new serials are issued above every serial the parent ever
had, so a retired code is never issued again. A doorplate's children keep their codes
when the street is renamed or the house renumbered, and get a new version whose
``previous_label`` keeps the old label.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from addressing._registry_prepare import _issue, housenumber_key
from addressing._registry_serials import (
    Item,
    Old,
    allocate,
    clean,
    merge,
    old_state,
)
from addressing._registry_tags import (
    door_key,
    expand_flats,
    floor_from_tags,
    floor_in_text,
    read_unit,
    ref_key,
)
from addressing.codes import AddressCode, InvalidAddressCode, floor_label, floor_serial, parse_code
from twin.store import Feature

__all__ = ["ENTRANCE_BUILDING_METRES", "Levels", "below_doorplates"]

log = logging.getLogger(__name__)

ENTRANCE_BUILDING_METRES = 3.0
"""An entrance node belongs to a building whose outline is this close."""

_CRS84 = "OGC:CRS84"


@dataclass
class Levels:
    """The features of ``sub_addresses``, the issues found, and a count per level."""

    features: list[Feature]
    issues: list[dict[str, Any]]
    counts: Counter[str]


def _nearest_buildings(
    points: np.ndarray, blds: gpd.GeoDataFrame, holds: Callable[[str], bool]
) -> list[str | None]:
    """Per point, the building within reach, preferring one that holds a doorplate."""
    out: list[str | None] = [None] * len(points)
    if not len(points) or not len(blds):
        return out
    polys = blds.geometry.to_numpy()
    ids = blds["id"].to_numpy()
    pi, bi = shapely.STRtree(polys).query(
        points, predicate="dwithin", distance=ENTRANCE_BUILDING_METRES
    )
    dist = shapely.distance(points[pi], polys[bi])
    best: dict[int, tuple[bool, float, str]] = {}
    for p, b, dd in zip(pi, bi, dist, strict=True):
        cand = (not holds(str(ids[b])), float(dd), str(ids[b]))
        if int(p) not in best or cand < best[int(p)]:
            best[int(p)] = cand
    for p, (_no, _d, b) in best.items():
        out[p] = b
    return out


@dataclass(frozen=True)
class _Flats:
    """The doors behind one entrance (``addr:flats``, ``addr:door``)."""

    row: int
    parent: AddressCode
    building_id: str | None
    ref: str | None
    doors: list[str]
    osm_id: str
    where: Any


class _Builder:
    """Collects the items of every level from the doorplates, points and entrances."""

    def __init__(
        self,
        d: gpd.GeoDataFrame,
        points: gpd.GeoDataFrame,
        blds: gpd.GeoDataFrame,
        entrances: gpd.GeoDataFrame,
        old: Old,
    ) -> None:
        self.d, self.points, self.blds, self.entrances, self.old = d, points, blds, entrances, old
        self.dc, self.pc, self.ec = _cols(d), _cols(points), _cols(entrances)
        self.codes = [parse_code(c) for c in d["code"]]
        self.issues: list[dict[str, Any]] = []
        self.bcode: dict[tuple[int, str], AddressCode] = {}
        self.ucode: dict[tuple[str, str], AddressCode] = {}
        self.holders: dict[str, list[int]] = {}
        for r, ids in enumerate(d["building_ids"]):
            for b in ids:
                self.holders.setdefault(b, []).append(r)
        self.by_osm = {o: r for r, ids in enumerate(d["osm_ids"]) for o in ids}
        self.flats: list[_Flats] = []

    def issue(self, kind: str, message: str, row: Any, osm_id: str, geometry: Any) -> None:
        self.issues.append(
            _issue(kind, "info", message, osm_ids=[osm_id], geometry=geometry, **row)
        )

    # -- buildings -------------------------------------------------------------------
    def buildings(self) -> list[Item]:
        geoms = dict(zip(self.blds["id"], self.blds.geometry, strict=True))
        names = dict(zip(self.blds["id"], _column(self.blds, "name"), strict=True))
        items = []
        for r, ids in enumerate(self.d["building_ids"]):
            for b in ids:
                g = geoms.get(b)
                point = shapely.point_on_surface(g) if g is not None else self.dc["geometry"][r]
                items.append(
                    Item("building", r, self.codes[r], b, point, [b], "building", b, names.get(b))
                )
        done = allocate(items, self.old, self.issues)
        for it in done:
            assert it.code is not None
            self.bcode[(it.row, it.key)] = it.code
        return done

    def holder_of(self, r: int, building: Any) -> tuple[AddressCode, str | None]:
        """The code of ``building`` under doorplate ``r`` (else its main building, else it)."""
        if isinstance(building, str) and (r, building) in self.bcode:
            return self.bcode[(r, building)], building
        main = self.dc["building_id"][r]
        if isinstance(main, str) and (r, main) in self.bcode:
            return self.bcode[(r, main)], main
        return self.codes[r], None

    # -- units -----------------------------------------------------------------------
    def _entrance_doorplate(self, i: int, building: str | None) -> int | None:
        e = self.ec
        osm = e["osm_id"][i]
        if osm in self.by_osm:
            return self.by_osm[osm]
        rows = self.holders.get(building, []) if building else []
        if not rows:
            return None
        street, number = e["street"][i], e["housenumber"][i]
        if isinstance(street, str) and isinstance(number, str):
            same = [
                r
                for r in rows
                if self.dc["street"][r] == street
                and self.dc["hn_key"][r] == housenumber_key(number)
            ]
            if same:
                return same[0]
        where = e["geometry"][i]
        return min(rows, key=lambda r: (float(shapely.distance(where, self.dc["geometry"][r])), r))

    def units(self) -> list[Item]:
        """The units; the flats and doors of entrances are kept for :meth:`floors_and_rooms`."""
        e = self.ec
        items: list[Item] = []
        flats = self.flats
        wanted = [
            i
            for i in range(len(self.entrances))
            if not isinstance(e["railway"][i], str)
            and any(isinstance(e[c][i], str) for c in ("ref", "unit", "flats", "door"))
        ]
        pts = np.array([e["geometry"][i] for i in wanted], dtype=object)
        near = _nearest_buildings(pts, self.blds, lambda b: b in self.holders)
        for i, building in zip(wanted, near, strict=True):
            osm, where = e["osm_id"][i], e["geometry"][i]
            raw = e["ref"][i] if isinstance(e["ref"][i], str) else e["unit"][i]
            r = self._entrance_doorplate(i, building)
            if r is None:
                self.issue(
                    "entrance_without_doorplate",
                    f"entrance {osm} (ref {raw!r}) stands on no building that holds a "
                    "doorplate; no unit registered",
                    {},
                    osm,
                    where,
                )
                continue
            parent, bid = self.holder_of(r, building)
            ref = ref_key(raw)
            if isinstance(raw, str) and ref is None:
                self.issue(
                    "unit_unread",
                    f"entrance {osm}: {raw!r} is no staircase letter or number; left out",
                    self._where(r),
                    osm,
                    where,
                )
            if ref is not None:
                items.append(
                    Item("unit", r, parent, ref, where, [osm], "entrance", bid, unit_ref=ref)
                )
            doors = self._doors(e["flats"][i], e["door"][i], r, osm, where)
            if doors:
                flats.append(_Flats(r, parent, bid, ref, doors, osm, where))
        for j in range(len(self.points)):
            unit = read_unit(self.pc["unit"][j])
            raw = self.pc["unit"][j]
            r = int(self.pc["doorplate"][j])
            osm, where = self.pc["osm_id"][j], self.pc["geometry"][j]
            if isinstance(raw, str) and unit is None:
                self.issue(
                    "unit_unread",
                    f"addr:unit {raw!r} of {osm} names no staircase, flat or floor; left out",
                    self._where(r),
                    osm,
                    where,
                )
            if unit is None or unit.ref is None:
                continue
            parent, bid = self.holder_of(r, self.pc["building_id"][j])
            items.append(
                Item("unit", r, parent, unit.ref, where, [osm], "addr:unit", bid, unit_ref=unit.ref)
            )
        done = allocate(merge(items), self.old, self.issues)
        for it in done:
            assert it.code is not None
            self.ucode[(it.parent.code, it.key)] = it.code
        return done

    def _doors(self, flats: Any, door: Any, r: int, osm: str, where: Any) -> list[str]:
        out: list[str] = []
        if isinstance(flats, str):
            many = expand_flats(flats)
            if many is None:
                self.issue(
                    "flats_unread",
                    f"addr:flats {flats!r} of {osm} cannot be read; no rooms registered",
                    self._where(r),
                    osm,
                    where,
                )
            else:
                out.extend(many)
        if isinstance(door, str):
            if door_key(door) is None:
                self.issue(
                    "door_unread",
                    f"addr:door {door!r} of {osm} cannot be read; no room registered",
                    self._where(r),
                    osm,
                    where,
                )
            else:
                out.append(" ".join(door.split()))
        return out

    def _where(self, r: int) -> dict[str, Any]:
        return {
            "street": clean(self.dc["street"][r]),
            "housenumber": self.dc["housenumber"][r],
            "code": self.codes[r].code,
        }

    def unit_or(self, parent: AddressCode, ref: str | None) -> AddressCode:
        """The code of staircase ``ref`` under ``parent``, else ``parent``."""
        if ref is None:
            return parent
        return self.ucode.get((parent.code, ref), parent)

    # -- floors and rooms ------------------------------------------------------------
    def floors_and_rooms(self) -> tuple[list[Item], list[Item]]:
        floors: list[Item] = []
        rooms: list[Item] = []
        p = self.pc
        for j in range(len(self.points)):
            r = int(p["doorplate"][j])
            osm, where = p["osm_id"][j], p["geometry"][j]
            tags = p["tags"][j] if isinstance(p["tags"][j], dict) else {}
            unit = read_unit(p["unit"][j])
            building, bid = self.holder_of(r, p["building_id"][j])
            parent = self.unit_or(building, unit.ref if unit else None)
            number, source, unread = floor_from_tags(tags)
            if number is None and unit is not None and unit.floor is not None:
                number, source = unit.floor, "addr:unit"
            if number is None and floor_in_text(p["hn_rest"][j]) is not None:
                number, source = floor_in_text(p["hn_rest"][j]), "addr:housenumber"
            if unread is not None:
                self.issue(
                    "floor_unread",
                    f"{unread!r} of {osm} names no floor that can be read; left out",
                    self._where(r),
                    osm,
                    where,
                )
            room_parent = parent
            if number is not None and source is not None:
                try:
                    serial = floor_serial(number)
                except InvalidAddressCode as exc:
                    self.issue(
                        "floor_unread", f"{osm}: {exc}; left out", self._where(r), osm, where
                    )
                else:
                    code = replace(parent, floor=serial)
                    floors.append(
                        Item(
                            "floor", r, parent, str(serial), where, [osm], source, bid,
                            unit_ref=unit.ref if unit else None, floor=number, code=code,
                        )
                    )  # fmt: skip
                    room_parent = code
            doors = self._doors(tags.get("addr:flats"), tags.get("addr:door"), r, osm, where)
            if unit is not None and unit.door is not None:
                doors.append(unit.door)
            for door in doors:
                rooms.append(self._room(r, room_parent, bid, door, [osm], "address point", where))
        for f in self.flats:
            base = self.unit_or(f.parent, f.ref)
            for door in f.doors:
                rooms.append(
                    self._room(f.row, base, f.building_id, door, [f.osm_id], "entrance", f.where)
                )
        return merge(floors), allocate(merge(rooms), self.old, self.issues)

    def _room(
        self, r: int, parent: AddressCode, bid: str | None, door: str, ids: list[str], source: str,
        where: Any,
    ) -> Item:  # fmt: skip
        floor = parent.floor_number
        ref = self._ref_of(parent)
        key = door_key(door) or door
        return Item("room", r, parent, key, where, ids, source, bid, None, ref, floor, door)

    def _ref_of(self, code: AddressCode) -> str | None:
        if not code.unit:
            return None
        unit = replace(code, floor=0, room=0)
        for (_p, ref), c in self.ucode.items():
            if c == unit:
                return ref
        return None


def _cols(frame: gpd.GeoDataFrame) -> dict[str, list[Any]]:
    """The columns of a frame as lists (fast to index in loops), geometry included."""
    out = {str(c): list(frame[c]) for c in frame.columns if c != frame.geometry.name}
    out["geometry"] = list(frame.geometry.to_numpy())
    return out


def _column(frame: pd.DataFrame, name: str) -> list[Any]:
    if name not in frame.columns:
        return [None] * len(frame)
    return [v if isinstance(v, str) and v else None for v in frame[name]]


def _entrance_frame(entrances: gpd.GeoDataFrame | None, crs: pyproj.CRS) -> gpd.GeoDataFrame:
    cols = ("osm_id", "ref", "unit", "street", "housenumber", "flats", "door", "railway")
    if entrances is None or not len(entrances):
        return gpd.GeoDataFrame({c: [] for c in cols}, geometry=[], crs=crs)
    e = entrances.to_crs(crs).reset_index(drop=True)
    return gpd.GeoDataFrame(
        {c: _column(e, c) for c in cols}, geometry=e.geometry.to_numpy(), crs=crs
    )


def _labels(d: dict[str, list[Any]], it: Item) -> tuple[str, str]:
    """The label of an item in Finnish and in Swedish: ``Fredrikinkatu 5 B 12, 00120 Helsinki``."""
    assert it.code is not None
    r = it.row
    street, street_sv = clean(d["street"][r]), clean(d["street_sv"][r])
    number = str(d["housenumber"][r])
    postcode = clean(d["postcode"][r])
    out = []
    several = len(d["building_ids"][r]) > 1
    for lang, name, city in (
        ("fi", street, d["city"][r]),
        ("sv", street_sv or street, d["city_sv"][r]),
    ):
        head = f"{name} {number}" if name else number
        if it.unit_ref:
            head += f" {it.unit_ref}"
            if it.door:
                head += f" {it.door}"
        parts = [head]
        if it.code.building and (it.level == "building" or several):
            parts.append(f"{'rak.' if lang == 'fi' else 'byggn.'} {it.code.building}")
        if it.floor is not None:
            n = it.floor
            if lang == "fi":
                parts.append(f"{n}. krs" if n > 0 else f"{-n}. kellarikrs")
            else:
                parts.append(f"{n} vån." if n > 0 else f"källarvån. {-n}")
        if it.door and not it.unit_ref:
            parts.append(f"{'as.' if lang == 'fi' else 'bost.'} {it.door}")
        tail = " ".join(str(p) for p in (postcode, city) if p)
        out.append(", ".join([*parts, tail]) if tail else ", ".join(parts))
    return out[0], out[1]


def below_doorplates(
    d: gpd.GeoDataFrame,
    points: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    entrances: gpd.GeoDataFrame | None,
    history: pd.DataFrame,
    *,
    crs: pyproj.CRS,
) -> Levels:
    """Build the buildings, units, floors and rooms of the doorplates ``d``.

    Parameters
    ----------
    d
        The doorplates with their codes (``code``, ``street_code``), metric CRS.
    points, buildings
        The address points with their doorplate row, and the buildings (metric CRS).
    entrances
        The ``address_entrances`` collection (CRS84), or ``None``.
    history
        Every version of ``sub_addresses`` (to keep codes and never reuse serials).
    crs
        The city's metric CRS.

    Returns
    -------
    Levels
        The features (CRS84), the issues (metric geometry) and the count per level.
    """
    old = old_state(history)
    b = _Builder(d, points, buildings, _entrance_frame(entrances, crs), old)
    items = b.buildings()
    units = b.units()
    floors, rooms = b.floors_and_rooms()
    items = [*items, *units, *floors, *rooms]
    dc = b.dc
    geoms = gpd.GeoSeries([it.geometry for it in items], crs=crs).to_crs(_CRS84).to_numpy()
    features = []
    counts: Counter[str] = Counter()
    for it, geom in zip(items, geoms, strict=True):
        assert it.code is not None
        code = it.code.code
        label, label_sv = _labels(dc, it)
        prev = old.latest.get(code) if code in old.live else None
        previous = None
        if prev is not None:
            previous = (
                prev.get("label") if prev.get("label") != label else prev.get("previous_label")
            )
        r = it.row
        props = {
            "code_display": it.code.display(),
            "level": it.code.level,
            "parent_code": it.parent.code,
            "doorplate_code": dc["code"][r],
            "division": it.code.division,
            "street_code": clean(dc["street_code"][r]),
            "street": clean(dc["street"][r]),
            "street_sv": clean(dc["street_sv"][r]),
            "housenumber": dc["housenumber"][r],
            "postcode": clean(dc["postcode"][r]),
            "city": clean(dc["city"][r]),
            "city_sv": clean(dc["city_sv"][r]),
            "label": label,
            "label_sv": label_sv,
            "building_id": it.building_id,
            "name": it.name,
            "unit_ref": it.unit_ref,
            "floor": it.floor,
            "floor_label": floor_label(it.code.floor) or None,
            "door": it.door,
            "source": it.source,
            "osm_id": it.osm_ids[0] if it.osm_ids else None,
            "osm_ids": list(it.osm_ids),
            "previous_label": clean(previous),
        }
        counts[it.code.level] += 1
        features.append(Feature(code, geom, {k: v for k, v in props.items() if v is not None}))
    return Levels(features, b.issues, counts)
