"""Checking what is written: geometry and properties against a collection's schema.

Everything in a batch is checked before anything is written, so a bad feature leaves
the store unchanged.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

from twin.errors import GeometryError, GeometryOutOfBounds, SchemaError
from twin.store.base import INT64_MAX, INT64_MIN, CollectionSpec, Feature, FieldType
from twin.temporal import format_time, parse_datetime

__all__ = [
    "MAX_STRING_LENGTH",
    "MAX_VERTICES",
    "canonical_properties",
    "check_feature",
    "check_shape",
    "check_vertices",
    "geometry_from_geojson",
]

#: The longest string a property may hold, in characters (each string inside a JSON
#: property too). The Helsinki twin's longest is an image of about 14,000.
MAX_STRING_LENGTH = 65_536

#: The most coordinates one geometry may have. The Helsinki twin's largest has 179.
MAX_VERTICES = 200_000

#: Characters a property string may not hold: C0 and C1 controls but tab, line feed and
#: carriage return; DEL; surrogates (not Unicode scalar values, so not storable as
#: UTF-8); and the bidirectional embedding, override and isolate controls, which make
#: text display as something other than what it holds.
_BAD_TEXT = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]"
)

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
    check_vertices(geom, what=f"geometry of {fid!r}")
    gtype = geom.geom_type
    allowed = _TYPE_OF.get(spec.geometry_type)
    if allowed is not None and gtype not in allowed:
        msg = (
            f"geometry of {fid!r} is a {gtype}; collection {spec.name!r} holds "
            f"{spec.geometry_type} features"
        )
        raise GeometryError(msg)
    return check_shape(geom, what=f"geometry of {fid!r}")


def check_vertices(geom: BaseGeometry, *, what: str) -> None:
    """Refuse a geometry of more than :data:`MAX_VERTICES` coordinates (GeometryError)."""
    n = int(shapely.get_num_coordinates(geom))
    if n > MAX_VERTICES:
        msg = f"{what} has {n} coordinates; at most {MAX_VERTICES} are accepted (simplify or split it)"
        raise GeometryError(msg)


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


def clean_text(text: str) -> str:
    r"""``text`` without the characters a property string may not hold.

    For data read from elsewhere (an OpenStreetMap extract, say), where one stray control
    or bidi-override character should not refuse a whole build: those characters are
    dropped, everything else is kept.

    Examples
    --------
    >>> clean_text("Kauppa\u202e tori\x00")
    'Kauppa tori'
    """
    return _BAD_TEXT.sub("", text) if _BAD_TEXT.search(text) else text


def _check_text(text: str, *, fid: str, key: str) -> None:
    """Refuse a property string that is too long or holds a character it may not."""
    if len(text) > MAX_STRING_LENGTH:
        msg = (
            f"property {key!r} of {fid!r} is {len(text)} characters long; at most "
            f"{MAX_STRING_LENGTH} are accepted"
        )
        raise SchemaError(msg)
    bad = _BAD_TEXT.search(text)
    if bad is not None:
        ch = bad.group()
        what = (
            "a surrogate, not a Unicode character"
            if "\ud800" <= ch <= "\udfff"
            else ("a control character")
        )
        msg = (
            f"property {key!r} of {fid!r} holds U+{ord(ch):04X} at position {bad.start()}, "
            f"{what}; only text (tab, line feed and carriage return included) is accepted"
        )
        raise SchemaError(msg)


def _check_json_text(value: Any, *, fid: str, key: str) -> None:
    """Check every string (keys too) of a JSON property value."""
    todo = [value]
    while todo:
        node = todo.pop()
        if isinstance(node, str):
            _check_text(node, fid=fid, key=key)
        elif isinstance(node, Mapping):
            for k, v in node.items():
                if isinstance(k, str):
                    _check_text(k, fid=fid, key=key)
                todo.append(v)
        elif isinstance(node, list | tuple):
            todo.extend(node)


def _coerce(value: Any, ftype: FieldType, *, fid: str, key: str) -> Any:
    def bad() -> SchemaError:
        msg = f"property {key!r} of {fid!r} must be {ftype}, not {value!r}"
        return SchemaError(msg)

    match ftype:
        case FieldType.STRING:
            if isinstance(value, str):
                _check_text(value, fid=fid, key=key)
                return value
            if isinstance(value, int) and not isinstance(value, bool):
                return str(value)
            if isinstance(value, float) and math.isfinite(value):
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
                if isinstance(value, str):
                    _check_text(value, fid=fid, key=key)
                try:
                    return format_time(parse_datetime(value, name=key))
                except ValueError:
                    raise bad() from None
            raise bad()
        case FieldType.JSON:
            _check_json_text(value, fid=fid, key=key)
            try:
                return json.loads(json.dumps(value, allow_nan=False))
            except (TypeError, ValueError):
                raise bad() from None
    raise bad()


def is_missing(value: Any) -> bool:
    """Whether a property value means "no value": ``None``, or the markers pandas and
    NumPy put where a value is missing (NaN, ``pandas.NA``, ``NaT``).

    A string column of pandas 3 holds NaN, not ``None``, where a row has no value, so a
    property read from a data frame row arrives as NaN.

    Examples
    --------
    >>> is_missing(float("nan")), is_missing(None), is_missing(0.0), is_missing("nan")
    (True, True, False, False)
    """
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return type(value).__name__ in ("NAType", "NaTType")


def canonical_properties(
    props: Mapping[str, Any], spec: CollectionSpec, *, fid: str
) -> dict[str, Any]:
    """Coerce properties to the schema's types; drop missing values (``None``, NaN, NA,
    NaT: see :func:`is_missing`); reject unknown names."""
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
        if is_missing(value):
            continue
        out[key] = _coerce(value, f.type, fid=fid, key=key)
        if f.minimum is not None and out[key] < f.minimum:
            msg = f"property {key!r} of {fid!r} is {out[key]!r}, below its minimum {f.minimum:g}"
            raise SchemaError(msg)
    return dict(sorted(out.items()))


def check_id(fid: Any) -> None:
    """Refuse a feature id that could not be written in a URL path and read back.

    An id is a string of 1 to 256 characters without surrounding white space, without
    ``/``, ``?`` or ``#``, without control, format or surrogate characters (Unicode
    categories Cc, Cf, Cs), and is not ``.`` or ``..`` (which URLs resolve away).
    """
    if not isinstance(fid, str) or not fid or len(fid) > 256 or fid != fid.strip():
        msg = f"feature id {fid!r} must be a non-empty string of at most 256 characters"
        raise SchemaError(msg)
    if fid in (".", ".."):
        msg = f"feature id {fid!r} cannot be used in a URL path; choose another"
        raise SchemaError(msg)
    if any(ch in fid for ch in "/?#"):
        msg = f"feature id {fid!r} may not contain '/', '?' or '#'"
        raise SchemaError(msg)
    bad = next((ch for ch in fid if unicodedata.category(ch) in ("Cc", "Cf", "Cs")), None)
    if bad is not None:
        msg = (
            f"feature id {fid!r} holds U+{ord(bad):04X}, a control, format or surrogate "
            "character; ids are printable text"
        )
        raise SchemaError(msg)


def check_feature(feature: Feature, spec: CollectionSpec) -> Feature:
    """Return the feature with checked geometry and canonical properties."""
    check_id(feature.id)
    fid = feature.id
    geom = check_geometry(feature.geometry, spec, fid=fid)
    props = canonical_properties(feature.properties or {}, spec, fid=fid)
    return Feature(fid, geom, props)
