"""The route definition of ``POST /routes``: its inputs read and checked.

:func:`read_definition` checks the definition's shape and returns its ``inputs``; the
other readers each return one input as plain data (positions, a polygon, a time, a
choice). A bad input raises :class:`~twin.errors.InvalidInput` or
:class:`~twin.errors.GeometryError` naming the input and the value.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import shapely
from shapely.geometry import shape

from routing._text import check_name
from routing.graph import parse_depart
from twin.errors import GeometryError, InvalidInput

__all__ = [
    "MAX_WAYPOINTS",
    "MODES",
    "PREFERENCES",
    "read_choice",
    "read_definition",
    "read_obstacles",
    "read_waypoints",
    "read_when",
]

#: Most waypoints in one route definition.
MAX_WAYPOINTS = 25
#: The travel modes a route definition may ask for.
MODES = ("car", "emergency")
#: The route preferences a route definition may ask for.
PREFERENCES = ("fastest",)
_KNOWN_INPUTS = {
    "waypoints",
    "preference",
    "mode",
    "obstacles",
    "when",
    "name",
    "greenWave",
    "obeyTurnRestrictions",
}
_WHEN_KEYS = {"timestamp", "type"}
_EXAMPLE_TIME = "2026-12-01T08:00:00Z"


def _value(obj: Any, name: str) -> Any:
    """A draft input is ``{"value": ...}``; the bare value is accepted too."""
    if isinstance(obj, dict) and "value" in obj and "type" not in obj:
        return obj["value"]
    return obj


def read_waypoints(inputs: dict[str, Any]) -> list[tuple[float, float]]:
    raw = _value(inputs.get("waypoints"), "waypoints")
    if raw is None:
        msg = "inputs.waypoints is required: a GeoJSON MultiPoint of at least two [lon, lat]"
        raise InvalidInput(msg)
    coords = raw.get("coordinates") if isinstance(raw, dict) else raw
    if isinstance(raw, dict) and raw.get("type") not in (None, "MultiPoint"):
        msg = f"inputs.waypoints must be a GeoJSON MultiPoint, got type {raw.get('type')!r}"
        raise InvalidInput(msg)
    if not isinstance(coords, list) or len(coords) < 2:
        msg = "inputs.waypoints must hold at least two positions [lon, lat]"
        raise InvalidInput(msg)
    if len(coords) > MAX_WAYPOINTS:
        msg = f"inputs.waypoints has {len(coords)} positions; at most {MAX_WAYPOINTS} are accepted"
        raise InvalidInput(msg)
    out: list[tuple[float, float]] = []
    for i, c in enumerate(coords):
        ok = (
            isinstance(c, list)
            and len(c) in (2, 3)
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in c)
        )
        if not ok:
            msg = f"inputs.waypoints position {i} is {c!r}; expected [lon, lat] numbers (CRS84)"
            raise InvalidInput(msg)
        lon, lat = float(c[0]), float(c[1])
        if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
            msg = (
                f"inputs.waypoints position {i} = [{lon}, {lat}] is outside CRS84 "
                "(longitude -180..180 first, then latitude -90..90)"
            )
            raise InvalidInput(msg)
        out.append((lon, lat))
    return out


def read_obstacles(inputs: dict[str, Any]) -> Any:
    raw = _value(inputs.get("obstacles"), "obstacles")
    if raw is None:
        return None
    if not isinstance(raw, dict) or raw.get("type") not in ("Polygon", "MultiPolygon"):
        msg = "inputs.obstacles must be a GeoJSON Polygon or MultiPolygon (CRS84)"
        raise InvalidInput(msg)
    try:
        geom = shape(raw)
    except Exception as exc:
        msg = f"inputs.obstacles is not a readable polygon: {exc}"
        raise GeometryError(msg) from None
    if geom.is_empty or not geom.is_valid:
        why = shapely.is_valid_reason(geom) if not geom.is_empty else "it is empty"
        msg = f"inputs.obstacles is not a valid polygon ({why})"
        raise GeometryError(msg)
    return geom


def read_when(inputs: dict[str, Any]) -> tuple[datetime, str]:
    """The time and its kind; only a route definition without ``when`` departs now."""
    if "when" not in inputs:
        return datetime.now(UTC), "departure"
    raw = inputs["when"]
    if not isinstance(raw, dict) or "timestamp" not in raw:
        msg = 'inputs.when must be {"timestamp": RFC 3339 text, "type": "departure"|"arrival"}'
        raise InvalidInput(msg)
    unknown = sorted(set(raw) - _WHEN_KEYS)
    if unknown:
        msg = f"inputs.when has {unknown}, not understood; known: {sorted(_WHEN_KEYS)}"
        raise InvalidInput(msg)
    stamp = raw["timestamp"]
    if not isinstance(stamp, str):
        msg = f"inputs.when.timestamp={stamp!r} must be RFC 3339 text such as '{_EXAMPLE_TIME}'"
        raise InvalidInput(msg)
    kind = raw.get("type", "departure")
    if kind not in ("departure", "arrival"):
        msg = f"inputs.when.type is {kind!r}; use 'departure' or 'arrival'"
        raise InvalidInput(msg)
    return parse_depart(stamp, name="inputs.when.timestamp"), str(kind)


def read_choice(inputs: dict[str, Any], key: str, allowed: tuple[str, ...], default: str) -> str:
    value = inputs.get(key, default)
    if value not in allowed:
        msg = f"inputs.{key} is {value!r}; choose one of {list(allowed)}"
        raise InvalidInput(msg)
    return str(value)


def read_definition(doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict) or not isinstance(doc.get("inputs"), dict):
        msg = 'a route definition is a JSON object {"inputs": {"waypoints": ...}}'
        raise InvalidInput(msg)
    inputs: dict[str, Any] = doc["inputs"]
    outside = sorted(set(doc) - {"inputs"})
    if outside:
        hint = (
            "; route options go inside inputs"
            if set(outside) & _KNOWN_INPUTS
            else ' (a route definition is {"inputs": {...}})'
        )
        msg = f"route definition members {outside} are not understood{hint}"
        raise InvalidInput(msg)
    unknown = sorted(set(inputs) - _KNOWN_INPUTS)
    if unknown:
        msg = f"inputs {unknown} are not understood; known: {sorted(_KNOWN_INPUTS)}"
        raise InvalidInput(msg)
    if "name" in inputs:
        check_name(inputs["name"], name="inputs.name")
    for key in ("greenWave", "obeyTurnRestrictions"):
        value = inputs.get(key)
        if value is not None and not isinstance(value, bool):
            msg = f"inputs.{key} must be true or false"
            raise InvalidInput(msg)
    return inputs
