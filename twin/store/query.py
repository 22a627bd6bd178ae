"""What a read of a collection asks: :class:`Query`, and :func:`check_query`, which both
backends call before reading so that no field they cannot use is silently ignored."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from shapely.geometry.base import BaseGeometry

from twin.errors import GeometryError, GeometryOutOfBounds, InvalidInput
from twin.store.filters import Expr
from twin.temporal import Instant, Interval, TimeSpec

__all__ = ["INT64_MAX", "INT64_MIN", "Query", "check_query"]

#: The range of an INTEGER field (and of a query's limit and offset): 64-bit signed,
#: what both SQLite and PostgreSQL's bigint hold.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True)
class Query:
    """A read of one collection.

    Parameters
    ----------
    time
        ``None`` (now), an :class:`~twin.temporal.Instant` (the city at that instant) or an
        :class:`~twin.temporal.Interval` (versions whose validity overlaps it).
    bbox
        ``(minx, miny, maxx, maxy)`` in CRS84.
    intersects
        Any geometry in CRS84; features whose geometry intersects it.
    nearest
        ``(point, k)``: the k features nearest to a CRS84 point, nearest first
        (distances on the sphere's local metric are left to the caller).
    where
        A filter expression (see :mod:`twin.store.filters`).
    sort
        ``(field, ascending)`` pairs; ``id`` and ``valid_from`` may be used too. A feature
        without the value comes last, ascending or descending.
    """

    time: TimeSpec = None
    bbox: tuple[float, float, float, float] | None = None
    intersects: BaseGeometry | None = None
    nearest: tuple[BaseGeometry, int] | None = None
    where: Expr | None = None
    sort: tuple[tuple[str, bool], ...] = ()
    limit: int | None = None
    offset: int = 0
    properties: tuple[str, ...] | None = None
    skip_geometry: bool = False


def check_query(q: Query) -> Query:
    """``q`` with every field checked (and sequences made tuples); InvalidInput otherwise.

    Both backends call it before a read, so no field they cannot use is silently ignored.
    """
    if not isinstance(q, Query):
        msg = f"query={q!r} is not a twin.store.Query"
        raise InvalidInput(msg)
    bbox = None
    properties = None
    if q.time is not None and not isinstance(q.time, Instant | Interval):
        msg = (
            f"query time={q.time!r} must be None, an Instant or an Interval "
            "(twin.temporal.parse_time makes one from text)"
        )
        raise InvalidInput(msg)
    if q.bbox is not None:
        bbox = _check_bbox(q.bbox)
    if q.intersects is not None:
        _check_literal(q.intersects, "query intersects")
    if q.nearest is not None:
        _check_nearest(q.nearest)
    if q.where is not None and not isinstance(q.where, Expr):
        msg = f"query where={q.where!r} is not a filter expression (see twin.store.filters)"
        raise InvalidInput(msg)
    sort = _check_sort(q.sort)
    for name in ("limit", "offset"):
        value = getattr(q, name)
        if value is None and name == "limit":
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            msg = f"query {name}={value!r} is not an integer"
            raise InvalidInput(msg)
        if not 0 <= value <= INT64_MAX:
            msg = f"query {name}={value!r} is outside 0..{INT64_MAX}"
            raise InvalidInput(msg)
    if q.properties is not None:
        props = q.properties
        if isinstance(props, str | bytes) or not isinstance(props, Iterable):
            msg = (
                f"query properties={props!r} must be a sequence of property names, "
                "such as ('name',)"
            )
            raise InvalidInput(msg)
        props = tuple(props)
        bad = [p for p in props if not isinstance(p, str)]
        if bad:
            msg = f"query properties={props!r} holds {bad!r}, which are not property names"
            raise InvalidInput(msg)
        properties = props
    if not isinstance(q.skip_geometry, bool):
        msg = f"query skip_geometry={q.skip_geometry!r} must be True or False"
        raise InvalidInput(msg)
    return replace(q, bbox=bbox, sort=sort, properties=properties)


def _check_bbox(bbox: Any) -> tuple[float, float, float, float]:
    """A bbox as four floats within CRS84, minimum before maximum; InvalidInput otherwise."""
    if isinstance(bbox, str | bytes) or not isinstance(bbox, Iterable):
        msg = f"query bbox={bbox!r} must be four numbers minx, miny, maxx, maxy"
        raise InvalidInput(msg)
    values = tuple(bbox)
    if len(values) != 4 or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values
    ):
        msg = f"query bbox={bbox!r} must be four finite numbers minx, miny, maxx, maxy"
        raise InvalidInput(msg)
    x0, y0, x1, y1 = (float(v) for v in values)
    if x1 < x0 or y1 < y0:
        msg = f"query bbox={bbox!r} has its maximum below its minimum"
        raise InvalidInput(msg)
    if x0 < -180 or x1 > 180 or y0 < -90 or y1 > 90:
        msg = (
            f"query bbox={bbox!r} is outside CRS84 (lon -180..180, lat -90..90); "
            "was it given in another CRS or as (lat, lon)?"
        )
        raise GeometryOutOfBounds(msg)
    return (x0, y0, x1, y1)


def _check_literal(geom: Any, what: str) -> BaseGeometry:
    """A geometry a read compares with: shapely, valid, finite and within CRS84."""
    from twin.store._validate import check_shape

    if not isinstance(geom, BaseGeometry):
        msg = (
            f"{what}={str(geom)[:80]!r} is not a shapely geometry; parse WKT with "
            "shapely.from_wkt and GeoJSON with shapely.from_geojson"
        )
        raise GeometryError(msg)
    return check_shape(geom, what=what)


def _check_nearest(nearest: Any) -> None:
    if not isinstance(nearest, tuple | list) or len(nearest) != 2:
        msg = f"query nearest={nearest!r} must be a pair (point, k)"
        raise InvalidInput(msg)
    point, k = nearest
    _check_literal(point, "query nearest point")
    if point.is_empty:
        msg = "query nearest point is empty; give a point to measure from"
        raise GeometryError(msg)
    if isinstance(k, bool) or not isinstance(k, int):
        msg = f"query nearest k={k!r} is not an integer"
        raise InvalidInput(msg)
    if not 1 <= k <= INT64_MAX:
        msg = f"query nearest k={k!r} must be positive"
        raise InvalidInput(msg)


def _check_sort(sort: Any) -> tuple[tuple[str, bool], ...]:
    if isinstance(sort, str | bytes) or not isinstance(sort, Iterable):
        msg = f"query sort={sort!r} must be a sequence of (name, ascending) pairs"
        raise InvalidInput(msg)
    items = tuple(sort)
    for item in items:
        if (
            not isinstance(item, tuple | list)
            or len(item) != 2
            or not isinstance(item[0], str)
            or not isinstance(item[1], bool)
        ):
            msg = f"query sort item {item!r} is not a (name, ascending) pair such as ('name', True)"
            raise InvalidInput(msg)
    return tuple((name, asc) for name, asc in items)
