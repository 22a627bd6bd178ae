"""Checking what is written: geometry and properties against a collection's schema.

Everything in a batch is checked before anything is written, so a bad feature leaves
the store unchanged.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

from twin.errors import GeometryError, GeometryOutOfBounds, SchemaError
from twin.store.base import INT64_MAX, INT64_MIN, CollectionSpec, Feature, FieldType
from twin.temporal import format_time, parse_datetime

__all__ = ["canonical_properties", "check_feature", "check_shape", "geometry_from_geojson"]

_TYPE_OF = {
    "Point": {"Point"},
    "LineString": {"LineString"},
    "Polygon": {"Polygon"},
    "MultiPoint": {"MultiPoint", "Point"},
    "MultiLineString": {"MultiLineString", "LineString"},
    "MultiPolygon": {"MultiPolygon", "Polygon"},
}


def geometry_from_geojson(obj: Any, *, name: str = "geometry") -> BaseGeometry | None:
    """Build a shapely geometry from a GeoJSON geometry object (dict or JSON text).

    Raises
    ------
    GeometryError
        When ``obj`` is not a GeoJSON geometry; the message names ``name``.
    """
    if obj is None:
        return None
    if isinstance(obj, BaseGeometry):
        return obj
    if isinstance(obj, str | bytes):
        try:
            obj = json.loads(obj)
        except ValueError:
            msg = f"{name} is not JSON: {str(obj)[:80]!r}"
            raise GeometryError(msg) from None
    if not isinstance(obj, Mapping) or "type" not in obj:
        msg = f"{name}={str(obj)[:80]!r} is not a GeoJSON geometry object with a 'type'"
        raise GeometryError(msg)
    try:
        geom = shapely.from_geojson(json.dumps(obj))
    except (shapely.errors.GEOSException, ValueError, TypeError) as exc:
        msg = f"{name} is not a valid GeoJSON geometry: {exc}"
        raise GeometryError(msg) from None
    return geom


def check_geometry(
    geom: BaseGeometry | None, spec: CollectionSpec, *, fid: str
) -> BaseGeometry | None:
    """Check type, validity and CRS84 bounds of one geometry; return it (2D or 3D)."""
    if geom is None:
        return None
    if not isinstance(geom, BaseGeometry):
        geom = geometry_from_geojson(geom, name=f"geometry of {fid!r}")
        if geom is None:
            return None
    gtype = geom.geom_type
    allowed = _TYPE_OF.get(spec.geometry_type)
    if allowed is not None and gtype not in allowed:
        msg = (
            f"geometry of {fid!r} is a {gtype}; collection {spec.name!r} holds "
            f"{spec.geometry_type} features"
        )
        raise GeometryError(msg)
    return check_shape(geom, what=f"geometry of {fid!r}")


def check_shape(geom: BaseGeometry, *, what: str) -> BaseGeometry:
    """Check validity, finiteness and CRS84 bounds of a geometry; return it.

    ``what`` names the geometry in messages ("geometry of 'b1'", "query intersects").
    """
    if geom.is_empty:
        return geom
    coords = shapely.get_coordinates(geom)
    if not (coords.size and math.isfinite(float(coords.sum()))):
        msg = f"{what} has a non-finite coordinate"
        raise GeometryOutOfBounds(msg)
    if not bool(shapely.is_valid(geom)):
        reason = shapely.is_valid_reason(geom)
        msg = f"{what} is not valid: {reason}"
        raise GeometryError(msg)
    xmin, ymin = coords.min(axis=0)
    xmax, ymax = coords.max(axis=0)
    if xmin < -180 or xmax > 180 or ymin < -90 or ymax > 90:
        bad = next((x, y) for x, y in coords if not (-180 <= x <= 180 and -90 <= y <= 90))
        msg = (
            f"{what} has the coordinate ({bad[0]:g}, {bad[1]:g}) outside CRS84 "
            "(lon -180..180, lat -90..90); was it given in another CRS or as (lat, lon)?"
        )
        raise GeometryOutOfBounds(msg)
    return geom


def _coerce(value: Any, ftype: FieldType, *, fid: str, key: str) -> Any:
    def bad() -> SchemaError:
        msg = f"property {key!r} of {fid!r} must be {ftype}, not {value!r}"
        return SchemaError(msg)

    match ftype:
        case FieldType.STRING:
            if isinstance(value, str):
                return value
            if isinstance(value, int | float) and not isinstance(value, bool):
                return str(value)
            raise bad()
        case FieldType.INTEGER:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise bad()
            if isinstance(value, float) and not value.is_integer():
                raise bad()
            if not INT64_MIN <= value <= INT64_MAX:
                msg = (
                    f"property {key!r} of {fid!r} is {value!r}, outside the 64-bit integer "
                    f"range {INT64_MIN}..{INT64_MAX}"
                )
                raise SchemaError(msg)
            return int(value)
        case FieldType.NUMBER:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise bad()
            try:
                number = float(value)
            except OverflowError:  # an int beyond the float range
                raise bad() from None
            if not math.isfinite(number):
                raise bad()
            return number
        case FieldType.BOOLEAN:
            if isinstance(value, bool):
                return value
            raise bad()
        case FieldType.DATETIME:
            if isinstance(value, datetime | str):
                try:
                    return format_time(parse_datetime(value, name=key))
                except ValueError:
                    raise bad() from None
            raise bad()
        case FieldType.JSON:
            try:
                return json.loads(json.dumps(value, allow_nan=False))
            except (TypeError, ValueError):
                raise bad() from None
    raise bad()


def canonical_properties(
    props: Mapping[str, Any], spec: CollectionSpec, *, fid: str
) -> dict[str, Any]:
    """Coerce properties to the schema's types; drop ``None``; reject unknown names."""
    if not isinstance(props, Mapping):
        msg = f"properties of {fid!r} must be an object, not {type(props).__name__}"
        raise SchemaError(msg)
    fields = spec.field_map()
    out: dict[str, Any] = {}
    for key, value in props.items():
        f = fields.get(key)
        if f is None:
            msg = (
                f"property {key!r} of {fid!r} is not in the schema of {spec.name!r}; "
                f"its properties are {sorted(fields)}"
            )
            raise SchemaError(msg)
        if value is None:
            continue
        out[key] = _coerce(value, f.type, fid=fid, key=key)
    return dict(sorted(out.items()))


def check_feature(feature: Feature, spec: CollectionSpec) -> Feature:
    """Return the feature with checked geometry and canonical properties."""
    fid = feature.id
    if not isinstance(fid, str) or not fid or len(fid) > 256 or fid != fid.strip():
        msg = f"feature id {fid!r} must be a non-empty string of at most 256 characters"
        raise SchemaError(msg)
    if any(ch in fid for ch in "/?#\x00"):
        msg = f"feature id {fid!r} may not contain '/', '?', '#' or NUL"
        raise SchemaError(msg)
    geom = check_geometry(feature.geometry, spec, fid=fid)
    props = canonical_properties(feature.properties or {}, spec, fid=fid)
    return Feature(fid, geom, props)
