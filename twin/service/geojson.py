"""Feature versions as GeoJSON, and GeoJSON request bodies as store features."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from twin.crs import CRS84, to_crs84, transform_geometry
from twin.errors import GeometryError, InvalidInput, SchemaError
from twin.service.body import parse_json
from twin.store.base import CollectionSpec, Feature, FeatureVersion, FieldType
from twin.temporal import format_time

__all__ = [
    "SYSTEM_PROPERTIES",
    "feature_from_body",
    "field_names",
    "page_to_geojson",
    "to_geojson",
    "validate_properties",
]

#: Members the service adds to every feature's properties; clients may echo them back.
SYSTEM_PROPERTIES = ("version", "valid_from", "valid_to")

_JSON_TYPES: dict[FieldType, tuple[type, ...]] = {
    FieldType.STRING: (str,),
    FieldType.INTEGER: (int,),
    FieldType.NUMBER: (int, float),
    FieldType.BOOLEAN: (bool,),
    FieldType.DATETIME: (str,),
}


def _plain(v: Any) -> Any:
    if isinstance(v, datetime):
        return format_time(v)
    return v


def field_names(spec: CollectionSpec | None) -> tuple[str, ...]:
    """The names of a collection's fields, in schema order (none without a schema)."""
    return () if spec is None else tuple(f.name for f in spec.fields)


def to_geojson(
    fv: FeatureVersion,
    *,
    properties: tuple[str, ...] | None = None,
    skip_geometry: bool = False,
    transform: Callable[[BaseGeometry], BaseGeometry] | None = None,
    fields: Sequence[str] = (),
) -> dict[str, Any]:
    """One feature version as a GeoJSON Feature (``id`` is the feature id).

    ``fields`` are the collection's fields (:func:`field_names`): each is a member of the
    properties, ``null`` where the version has no value (the store keeps none), so every
    feature shows the whole schema; clients such as GDAL and QGIS build their columns
    from the first features they read. ``version``, ``valid_from`` and ``valid_to`` are
    added to the properties. A ``properties`` selection keeps only the members it names.
    """
    props: dict[str, Any] = dict.fromkeys(fields)
    props.update((k, _plain(v)) for k, v in fv.properties.items())
    props["version"] = fv.version
    props["valid_from"] = format_time(fv.valid_from)
    props["valid_to"] = None if fv.valid_to is None else format_time(fv.valid_to)
    if properties is not None:
        props = {k: props[k] for k in properties if k in props}
    geom: Any = None
    if not skip_geometry and fv.geometry is not None:
        g = fv.geometry if transform is None else transform(fv.geometry)
        geom = g.__geo_interface__
    return {"type": "Feature", "id": fv.id, "geometry": geom, "properties": props}


def page_to_geojson(
    fvs: Sequence[FeatureVersion],
    *,
    properties: tuple[str, ...] | None = None,
    skip_geometry: bool = False,
    crs: str | None = None,
    fields: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Many feature versions as GeoJSON Features, geometries encoded in one vectorised step.

    ``crs`` is the OGC URI of the output CRS (None or CRS84: as stored); ``fields`` as
    for :func:`to_geojson`.
    """
    feats = [to_geojson(fv, properties=properties, skip_geometry=True, fields=fields) for fv in fvs]
    if skip_geometry or not fvs:
        return feats
    geoms = np.array([fv.geometry for fv in fvs], dtype=object)
    present = np.array([g is not None and not g.is_empty for g in geoms], dtype=bool)
    if not present.any():
        return feats
    todo = geoms[present]
    if crs is not None and crs != CRS84:
        todo = transform_geometry(todo, CRS84, crs)
    texts = shapely.to_geojson(todo)
    for i, text in zip(np.flatnonzero(present), texts, strict=True):
        feats[i]["geometry"] = json.loads(text)
    return feats


def validate_properties(props: Mapping[str, Any], spec: CollectionSpec) -> dict[str, Any]:
    """Check a body's properties against the schema; drop the system members.

    Raises
    ------
    SchemaError
        For an unknown property or a value of the wrong JSON type.
    """
    fields = spec.field_map()
    out: dict[str, Any] = {}
    for k, v in props.items():
        if k in SYSTEM_PROPERTIES:
            continue
        f = fields.get(k)
        if f is None:
            msg = f"property {k!r} is not in collection {spec.name!r}; choose from {sorted(fields)}"
            raise SchemaError(msg)
        if v is not None and f.type is not FieldType.JSON:
            ok = isinstance(v, _JSON_TYPES[f.type]) and not (
                f.type is not FieldType.BOOLEAN and isinstance(v, bool)
            )
            if ok and isinstance(v, float) and not math.isfinite(v):
                ok = False
            if f.type is FieldType.INTEGER and isinstance(v, float) and v.is_integer():
                # JSON has one number type: 50.0 is the integer 50 (JSON Schema says so,
                # and clients that hold numbers as floats send it so)
                ok, v = True, int(v)
            if not ok:
                msg = f"property {k!r} of {spec.name!r} is {f.type}, got {json.dumps(v)[:60]}"
                raise SchemaError(msg)
        out[k] = v
    return out


def feature_from_body(
    body: bytes | str | Mapping[str, Any],
    spec: CollectionSpec,
    *,
    feature_id: str | None = None,
    partial: bool = False,
    crs: str = CRS84,
) -> tuple[str | None, BaseGeometry | None, dict[str, Any], bool]:
    """Read a GeoJSON Feature body: ``(id, geometry, properties, has_geometry)``.

    Parameters
    ----------
    feature_id
        The id of the URL (PUT, PATCH); an ``id`` in the body must agree with it.
    partial
        PATCH: properties and geometry may be missing.
    crs
        The CRS the body's coordinates are in (its ``Content-Crs``), with its axis
        order; the geometry is transformed to CRS84, the storage CRS.

    A body's ``id`` is a string or an integer (GeoJSON allows a string or a number; a
    fraction or a boolean is refused rather than turned into a string); the store checks
    what characters it may hold.

    Raises
    ------
    InvalidInput
        Bad JSON, not a Feature, an id that disagrees, or a bad geometry or property.
    """
    from twin.store._validate import check_vertices, geometry_from_geojson

    obj: Any = body
    if isinstance(body, bytes | str):
        obj = parse_json(body, hint="send a GeoJSON Feature")
    if not isinstance(obj, Mapping) or obj.get("type") != "Feature":
        got = obj.get("type") if isinstance(obj, Mapping) else type(obj).__name__
        msg = f"the request body must be a GeoJSON Feature, got type {got!r}"
        raise InvalidInput(msg)
    fid = obj.get("id")
    if fid is not None and (isinstance(fid, bool) or not isinstance(fid, str | int)):
        msg = f"feature id {json.dumps(fid)[:80]} must be a string or an integer"
        raise InvalidInput(msg)
    fid = None if fid is None else str(fid)
    if feature_id is not None and fid is not None and fid != feature_id:
        msg = f"the body's id {fid!r} differs from the URL's {feature_id!r}"
        raise InvalidInput(msg)
    props = obj.get("properties")
    if props is None:
        props = {}
    if not isinstance(props, Mapping):
        msg = f"properties must be a JSON object, got {type(props).__name__}"
        raise SchemaError(msg)
    has_geom = "geometry" in obj
    if not partial and not has_geom:
        msg = "the Feature has no 'geometry' member (use null for none)"
        raise GeometryError(msg)
    geom = geometry_from_geojson(obj.get("geometry"), name="geometry")
    if geom is not None and crs != CRS84:
        check_vertices(geom, what="geometry")
        geom = to_crs84(geom, crs)
    return fid or feature_id, geom, validate_properties(props, spec), has_geom


def new_feature(fid: str, geom: BaseGeometry | None, props: dict[str, Any]) -> Feature:
    return Feature(id=fid, geometry=geom, properties=props)
