"""Read what the road graph needs from an OSM extract, in two passes with pyosmium.

The first pass keeps the ways a profile may drive, the turn restrictions and the
emergency stations; the second reads the locations of their nodes and the signals. The
drivable ways are written to an ``.osm`` XML file for osmnx, with tags normalised for
the profile (direction and speed), and ways clipped at the extract's edge are cut into
the runs of nodes the extract holds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import osmium

from routing.profiles import Profile
from twin.errors import OSMFileError
from twin.store import clean_text

__all__ = ["Restriction", "RoadData", "Station", "read_address_points", "read_road_data"]

log = logging.getLogger(__name__)

_STATION_AMENITIES = {"fire_station": "fire_station", "ambulance_station": "ambulance_station"}
_KEEP_TAGS = ("highway", "name", "ref", "lanes", "maxspeed", "junction")


@dataclass(frozen=True)
class Restriction:
    """A via-node turn restriction: ``no_*`` forbids from -> to, ``only_*`` allows only it."""

    relation_id: int
    kind: str  # "no" or "only"
    value: str
    from_way: int
    via_node: int
    to_way: int


@dataclass(frozen=True)
class Station:
    """An emergency station: its OSM id (``n123``/``w123``), name, kind and position."""

    osm_id: str
    name: str
    kind: str
    lon: float
    lat: float


@dataclass
class RoadData:
    """What :func:`read_road_data` found."""

    xml: Path
    signals: dict[int, tuple[float, float]] = field(default_factory=dict)
    restrictions: list[Restriction] = field(default_factory=list)
    unsupported_restrictions: int = 0
    stations: list[Station] = field(default_factory=list)
    way_count: int = 0


#: What pyosmium raises on a file it cannot parse (a bad coordinate: InvalidLocationError).
_READ_ERRORS = (RuntimeError, osmium.InvalidLocationError)


def _unreadable(path: str | Path, exc: Exception) -> OSMFileError:
    return OSMFileError(f"osm={str(path)!r} cannot be read as an OSM extract: {exc}")


def _station_kind(tags: osmium.osm.TagList) -> str | None:
    kind = _STATION_AMENITIES.get(tags.get("amenity") or "")
    if kind is None and tags.get("emergency") == "ambulance_station":
        kind = "ambulance_station"
    return kind


def _restriction(rel: osmium.osm.Relation, profile: Profile) -> Restriction | bool | None:
    """A restriction, ``None`` for one that does not apply, ``False`` for an unsupported one."""
    tags = {t.k: t.v for t in rel.tags}
    value = profile.restriction_applies(tags)
    if value is None:
        return None
    kind = value.split("_", 1)[0]
    if kind not in {"no", "only"}:
        return None
    froms = [m.ref for m in rel.members if m.role == "from" and m.type == "w"]
    tos = [m.ref for m in rel.members if m.role == "to" and m.type == "w"]
    vias = [m for m in rel.members if m.role == "via"]
    if len(froms) != 1 or len(tos) != 1 or len(vias) != 1 or vias[0].type != "n":
        return False
    return Restriction(rel.id, kind, value, froms[0], vias[0].ref, tos[0])


def read_road_data(path: str | Path, profile: Profile, *, workdir: Path) -> RoadData:
    """Read an ``.osm.pbf``/``.osm`` extract and write the profile's drivable ways as XML.

    Parameters
    ----------
    path
        The OSM extract.
    profile
        The vehicle profile deciding which ways are kept and how they are tagged.
    workdir
        A folder for the XML file handed to osmnx.

    Returns
    -------
    RoadData
        The XML path, signals, restrictions and stations.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"osm={str(path)!r} is not a file"
        raise OSMFileError(msg)
    ways: list[tuple[int, list[int], dict[str, str]]] = []
    station_ways: list[tuple[str, str, str, list[int]]] = []
    restrictions: list[Restriction] = []
    unsupported = 0
    need: set[int] = set()
    # Stations mapped as multipolygons: the member ways' nodes give their position.
    member_of: dict[int, tuple[str, str, str]] = {}
    try:
        for robj in osmium.FileProcessor(str(path), osmium.osm.RELATION):
            rel = cast(osmium.osm.Relation, robj)
            tags = rel.tags
            if tags.get("type") == "restriction":
                r = _restriction(rel, profile)
                if r is False:
                    unsupported += 1
                elif isinstance(r, Restriction):
                    restrictions.append(r)
            elif (kind := _station_kind(tags)) is not None:
                for m in rel.members:
                    if m.type == "w" and m.role in {"outer", ""}:
                        member_of[m.ref] = (f"r{rel.id}", clean_text(tags.get("name") or ""), kind)
        for wobj in osmium.FileProcessor(str(path), osmium.osm.WAY):
            obj = cast(osmium.osm.Way, wobj)
            tags = obj.tags
            station = member_of.get(obj.id)
            kind = _station_kind(tags)
            if kind is not None:
                station = (f"w{obj.id}", clean_text(tags.get("name") or ""), kind)
            if station is not None:
                refs = [n.ref for n in obj.nodes]
                station_ways.append((*station, refs))
                need.update(refs)
            if "highway" not in tags:
                continue
            tagd = {t.k: clean_text(t.v) for t in tags}
            if not profile.usable(tagd):
                continue
            refs = [n.ref for n in obj.nodes]
            if len(refs) < 2:
                continue
            out = {k: tagd[k] for k in _KEEP_TAGS if k in tagd}
            out["oneway"] = profile.oneway(tagd)
            out["tw_speed"] = f"{profile.speed_kmh(tagd):.3f}"
            ways.append((obj.id, refs, out))
            need.update(refs)
    except _READ_ERRORS as exc:
        raise _unreadable(path, exc) from exc

    data = RoadData(xml=workdir / "roads.osm", restrictions=restrictions)
    data.unsupported_restrictions = unsupported
    locs: dict[int, tuple[float, float]] = {}
    try:
        for nobj in osmium.FileProcessor(str(path), osmium.osm.NODE):
            node = cast(osmium.osm.Node, nobj)
            tags = node.tags
            if node.id in need and node.location.valid():
                locs[node.id] = (node.location.lon, node.location.lat)
                if tags.get("highway") == "traffic_signals":
                    data.signals[node.id] = locs[node.id]
            if len(tags) and node.location.valid():
                kind = _station_kind(tags)
                if kind is not None:
                    loc = (node.location.lon, node.location.lat)
                    name = clean_text(tags.get("name") or "")
                    data.stations.append(Station(f"n{node.id}", name, kind, *loc))
    except _READ_ERRORS as exc:
        raise _unreadable(path, exc) from exc
    grouped: dict[str, tuple[str, str, list[tuple[float, float]]]] = {}
    for sid, name, kind, refs in station_ways:
        pts = grouped.setdefault(sid, (name, kind, []))[2]
        pts.extend(locs[r] for r in refs if r in locs)
    for sid, (name, kind, pts) in grouped.items():
        if pts:
            lon = sum(p[0] for p in pts) / len(pts)
            lat = sum(p[1] for p in pts) / len(pts)
            data.stations.append(Station(sid, name, kind, lon, lat))

    if data.xml.exists():
        data.xml.unlink()
    used: set[int] = set()
    runs: list[tuple[int, list[int], dict[str, str]]] = []
    for wid, refs, wtags in ways:
        # A way clipped at the extract's edge keeps its longest run of present nodes.
        best: list[int] = []
        run: list[int] = []
        for ref in [*refs, None]:
            if ref is not None and ref in locs:
                run.append(ref)
                continue
            if len(run) > len(best):
                best = run
            run = []
        if len(best) >= 2:
            runs.append((wid, best, wtags))
            used.update(best)
    with osmium.SimpleWriter(str(data.xml)) as writer:
        for nid in sorted(used):
            writer.add_node(osmium.osm.mutable.Node(id=nid, location=locs[nid]))
        for wid, run, wtags in runs:
            writer.add_way(osmium.osm.mutable.Way(id=wid, nodes=run, tags=wtags))
    data.way_count = len(runs)
    log.info(
        "%s: %d drivable ways, %d signals, %d restrictions (%d unsupported), %d stations",
        path.name,
        len(runs),
        len(data.signals),
        len(restrictions),
        unsupported,
        len(data.stations),
    )
    return data


def read_address_points(path: str | Path) -> list[tuple[float, float]]:
    """Positions (lon, lat) of everything with an ``addr:housenumber`` (ways: their centre)."""
    pts: list[tuple[float, float]] = []
    try:
        fp = osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY).with_locations()
        for obj in fp:
            if "addr:housenumber" not in obj.tags:
                continue
            if isinstance(obj, osmium.osm.Node):
                if obj.location.valid():
                    pts.append((obj.location.lon, obj.location.lat))
                continue
            way = cast(osmium.osm.Way, obj)
            locs = [(n.location.lon, n.location.lat) for n in way.nodes if n.location.valid()]
            if locs:
                lon = sum(p[0] for p in locs) / len(locs)
                pts.append((lon, sum(p[1] for p in locs) / len(locs)))
    except _READ_ERRORS as exc:
        raise _unreadable(path, exc) from exc
    return pts
