"""Tag rules: which layers an OSM object belongs to, and the properties it gets there.

The rules look at tags only; geometry is the reader's business. One object can belong
to several layers (a building with an address and a café is a building, an address
point and a POI).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from layers.osm._parse import (
    parse_diameter_mm,
    parse_int,
    parse_length_m,
    parse_maxspeed,
    parse_number,
    parse_oneway,
)

__all__ = ["INTERESTING_KEYS", "POI_KEYS", "ROAD_CLASSES", "Shape", "Target", "classify"]

Tags = Mapping[str, str]
Element = Literal["node", "way", "area"]


class Shape(StrEnum):
    """The geometry a layer wants from an object."""

    POINT = "point"  # the node itself, or a point on the way or inside the area
    LINE = "line"  # the way's line
    POLYGON = "polygon"  # the closed way's or the relation's (multi)polygon
    AREA_OR_POINT = "area_or_point"  # the polygon; a point on the way when it has none


@dataclass(frozen=True, slots=True)
class Target:
    """One layer an object goes to: the layer, the geometry it wants, its properties."""

    layer: str
    shape: Shape
    properties: dict[str, Any]
    reverse: bool = False


#: highway=* values that are roads or paths (not platforms, lifts or planned roads).
ROAD_CLASSES = frozenset(
    {
        "motorway",
        "trunk",
        "primary",
        "secondary",
        "tertiary",
        "unclassified",
        "residential",
        "motorway_link",
        "trunk_link",
        "primary_link",
        "secondary_link",
        "tertiary_link",
        "living_street",
        "service",
        "pedestrian",
        "track",
        "bus_guideway",
        "busway",
        "escape",
        "raceway",
        "road",
        "footway",
        "bridleway",
        "steps",
        "corridor",
        "path",
        "cycleway",
    }
)

#: Keys that make an object a POI, in the order that picks its category.
POI_KEYS = ("amenity", "shop", "tourism", "leisure", "office", "craft", "healthcare", "historic")

_EMERGENCY_AMENITIES = frozenset({"fire_station", "ambulance_station"})

#: Every key any rule looks at; objects without one are never handed to Python.
INTERESTING_KEYS = (
    *POI_KEYS,
    "building",
    "highway",
    "man_made",
    "power",
    "communication",
    "telecom",
    "emergency",
    "boundary",
    "addr:housenumber",
)

#: A utility network by what a line carries (OSM substance=*, or type=* on pipelines).
UTILITIES: dict[str, str] = {
    **dict.fromkeys(("water", "drinking_water", "cold_water", "fresh_water"), "water"),
    **dict.fromkeys(("sewage", "wastewater", "rainwater", "stormwater", "drain"), "drainage"),
    **dict.fromkeys(("gas", "natural_gas", "biogas", "lpg"), "gas"),
    **dict.fromkeys(("heat", "hot_water", "steam", "heating"), "heat"),
    **dict.fromkeys(("cold", "cooling", "chilled_water"), "cooling"),
    **dict.fromkeys(("oil", "fuel", "chemicals", "hydrogen", "co2"), "industrial"),
    "electricity": "power",
    "telecom": "telecom",
}
#: Locations of a cable that is not overhead.
_CABLE_LOCATIONS = ("underground", "underwater", "tunnel", "indoor")


def _names(tags: Tags) -> dict[str, Any]:
    return {"name": tags.get("name"), "name_sv": tags.get("name:sv")}


def _building(tags: Tags) -> dict[str, Any]:
    return {
        **_names(tags),
        "building": tags.get("building"),
        "levels": parse_int(tags.get("building:levels")),
        "height": parse_length_m(tags.get("height")),
        "addr_street": tags.get("addr:street"),
        "addr_housenumber": tags.get("addr:housenumber"),
        "addr_postcode": tags.get("addr:postcode"),
        "start_date": tags.get("start_date"),
    }


def _road(tags: Tags) -> dict[str, Any]:
    oneway, _ = parse_oneway(dict(tags))
    return {
        **_names(tags),
        "highway": tags.get("highway"),
        "ref": tags.get("ref"),
        "oneway": oneway,
        "maxspeed": parse_maxspeed(tags.get("maxspeed")),
        "lanes": parse_int(tags.get("lanes")),
        "surface": tags.get("surface"),
        "access": tags.get("access"),
    }


def _address(tags: Tags) -> dict[str, Any]:
    return {
        "street": tags.get("addr:street"),
        "street_sv": tags.get("addr:street:sv"),
        "housenumber": tags.get("addr:housenumber"),
        "unit": tags.get("addr:unit"),
        "postcode": tags.get("addr:postcode"),
        "city": tags.get("addr:city"),
        "name": tags.get("name"),
    }


def _parking(tags: Tags) -> dict[str, Any]:
    return {
        "name": tags.get("name"),
        "parking": tags.get("parking"),
        "capacity": parse_int(tags.get("capacity")),
        "access": tags.get("access"),
        "fee": tags.get("fee"),
    }


def _pipeline(tags: Tags) -> dict[str, Any]:
    substance = tags.get("substance") or tags.get("type")
    return {
        "name": tags.get("name"),
        "utility": UTILITIES.get((substance or "").strip().lower(), "other"),
        "substance": substance,
        "location": tags.get("location"),
        "diameter": parse_diameter_mm(tags.get("diameter")),
        "material": tags.get("material"),
        "pressure": tags.get("pressure"),
        "depth": parse_length_m(tags.get("depth")),
        "voltage": None,
        "operator": tags.get("operator"),
    }


def _cable(tags: Tags) -> dict[str, Any] | None:
    """A buried power or telecom cable, for the registry of underground lines."""
    location = tags.get("location")
    if tags.get("power") == "cable":
        if location not in (None, *_CABLE_LOCATIONS):
            return None  # overhead: a power line, not the underground registry's
        substance = "electricity"
    elif "line" in (tags.get("communication"), tags.get("telecom")):
        if location not in _CABLE_LOCATIONS:
            return None  # telecom lines are often overhead; only the buried ones count
        substance = "telecom"
    else:
        return None
    return {
        "name": tags.get("name"),
        "utility": UTILITIES[substance],
        "substance": substance,
        "location": location or "underground",
        "diameter": None,
        "material": tags.get("material"),
        "pressure": None,
        "depth": parse_length_m(tags.get("depth")),
        "voltage": parse_int(tags.get("voltage")),
        "operator": tags.get("operator"),
    }


def _hydrant(tags: Tags) -> dict[str, Any]:
    return {
        "fire_hydrant_type": tags.get("fire_hydrant:type"),
        "diameter": parse_diameter_mm(tags.get("fire_hydrant:diameter")),
        "pressure": tags.get("fire_hydrant:pressure"),
    }


def _signal(tags: Tags) -> dict[str, Any]:
    return {
        "direction": tags.get("traffic_signals:direction") or tags.get("direction"),
        "crossing": tags.get("crossing"),
    }


def _admin(tags: Tags) -> dict[str, Any]:
    level = parse_number(tags.get("admin_level"))
    return {
        **_names(tags),
        "admin_level": int(level) if level is not None and level.is_integer() else None,
        "ref": tags.get("ref"),
    }


def _emergency_kind(tags: Tags) -> str | None:
    amenity = tags.get("amenity")
    if amenity in _EMERGENCY_AMENITIES:
        return amenity
    if tags.get("emergency") == "ambulance_station":
        return "ambulance_station"
    return None


def _poi(tags: Tags) -> dict[str, Any] | None:
    for key in POI_KEYS:
        value = tags.get(key)
        if value and value != "no":
            return {**_names(tags), "category": key, "kind": value}
    return None


def _is_building(tags: Tags) -> bool:
    value = tags.get("building")
    return bool(value) and value != "no"


def classify(tags: Tags, element: Element, *, closed: bool = False) -> list[Target]:
    """Return the layers an object goes to.

    Parameters
    ----------
    tags
        The object's tags.
    element
        ``"node"``; ``"way"`` (any way; ``closed`` says whether its ends are the same
        node); ``"area"`` (a multipolygon or boundary relation).
    closed
        For ways: whether the first and last node are the same node.

    Returns
    -------
    list of Target
        In the order of :data:`layers.osm.specs.LAYERS`; empty when the object belongs
        to no layer.

    Examples
    --------
    >>> [t.layer for t in classify({"building": "yes", "addr:housenumber": "3"}, "way",
    ...                            closed=True)]
    ['buildings', 'address_points']
    >>> classify({"highway": "traffic_signals"}, "node")[0].properties
    {'direction': None, 'crossing': None}
    """
    node = element == "node"
    out: list[Target] = []
    point_or_polygon = Shape.POINT if node else Shape.AREA_OR_POINT
    if not node and _is_building(tags):
        out.append(Target("buildings", Shape.POLYGON, _building(tags)))
    highway = tags.get("highway")
    if element == "way" and highway in ROAD_CLASSES and tags.get("area") != "yes":
        out.append(Target("roads", Shape.LINE, _road(tags), parse_oneway(dict(tags))[1]))
    emergency = _emergency_kind(tags)
    amenity = tags.get("amenity")
    if emergency is None and amenity != "parking":
        poi = _poi(tags)
        if poi is not None:
            out.append(Target("pois", Shape.POINT, poi))
    if tags.get("addr:housenumber"):
        out.append(Target("address_points", Shape.POINT, _address(tags)))
    if node and highway == "traffic_signals":
        out.append(Target("traffic_signals", Shape.POINT, _signal(tags)))
    if amenity == "parking":
        out.append(Target("parking", point_or_polygon, _parking(tags)))
    if element == "way" and tags.get("man_made") == "pipeline":
        out.append(Target("pipelines", Shape.LINE, _pipeline(tags)))
    elif element == "way" and (cable := _cable(tags)) is not None:
        out.append(Target("pipelines", Shape.LINE, cable))
    if node and tags.get("emergency") == "fire_hydrant":
        out.append(Target("fire_hydrants", Shape.POINT, _hydrant(tags)))
    if emergency is not None:
        out.append(
            Target(
                "emergency_stations", Shape.POINT, {"name": tags.get("name"), "amenity": emergency}
            )
        )
    is_area = element == "area" or (element == "way" and closed)
    if is_area and tags.get("boundary") == "administrative":
        out.append(Target("admin_boundaries", Shape.POLYGON, _admin(tags)))
    return out
