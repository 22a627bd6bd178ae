"""Moving coordinates, geometries and boxes between CRSs, and checking they fit a CRS.

Every function honours each CRS's authority axis order: coordinates in EPSG:4326 and
EPSG:4490 are (lat, lon), in CRS84 (lon, lat), in projected CRSs (easting, northing).
Transformers are built once per (source, target) pair and reused; they are thread-safe.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import pyproj
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj.enums import TransformDirection

from twin.crs._registry import CRS84, CRSLike, resolve_crs
from twin.errors import GeometryOutOfBounds, InvalidInput

__all__ = [
    "check_bounds",
    "from_crs84",
    "to_crs84",
    "transform_bbox",
    "transform_coords",
    "transform_geometry",
]

logger = logging.getLogger(__name__)

_WORLD = (-180.0, -90.0, 180.0, 90.0)


@lru_cache(maxsize=128)
def _transformer(src: pyproj.CRS, dst: pyproj.CRS) -> pyproj.Transformer:
    logger.debug("building transformer %s -> %s", src.to_string(), dst.to_string())
    return pyproj.Transformer.from_crs(src, dst, always_xy=False)


def _label(crs: pyproj.CRS | None) -> str:
    if crs is None:
        return "an unnamed CRS"
    found = crs.to_authority(min_confidence=90)
    return f"{found[0]}:{found[1]}" if found else crs.name


def _pair(src: CRSLike, dst: CRSLike) -> pyproj.Transformer:
    return _transformer(resolve_crs(src, name="src"), resolve_crs(dst, name="dst"))


def _project(
    transformer: pyproj.Transformer, xs: NDArray[np.float64], ys: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Transform two float arrays; a finite input that comes out non-finite is an error."""
    ox, oy = transformer.transform(xs, ys, errcheck=False)
    ox = np.asarray(ox, dtype=np.float64)
    oy = np.asarray(oy, dtype=np.float64)
    bad = np.isfinite(xs) & np.isfinite(ys) & ~(np.isfinite(ox) & np.isfinite(oy))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        coord = (float(xs.flat[i]), float(ys.flat[i]))
        msg = (
            f"coordinate {coord!r} in {_label(transformer.source_crs)} cannot be transformed "
            f"to {_label(transformer.target_crs)}; it lies outside the target's domain"
        )
        raise GeometryOutOfBounds(msg)
    return ox, oy


def transform_coords(
    xs: ArrayLike, ys: ArrayLike, src: CRSLike, dst: CRSLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Transform coordinate arrays between two CRSs, vectorised.

    Parameters
    ----------
    xs, ys
        First and second axis values in ``src``'s axis order (for EPSG:4326 that is
        latitudes, then longitudes); scalars or arrays of one shape.
    src, dst
        Anything :func:`twin.crs.resolve_crs` accepts.

    Returns
    -------
    tuple of numpy.ndarray
        First and second axis values in ``dst``'s axis order, as float64 arrays.

    Raises
    ------
    GeometryOutOfBounds
        When a finite coordinate has no image in ``dst`` (a point 90 degrees from a UTM zone, say).

    Examples
    --------
    >>> lat, lon = transform_coords([24.94], [60.17], "OGC:CRS84", "EPSG:4326")
    >>> float(lat[0]), float(lon[0])
    (60.17, 24.94)
    """
    x = np.asarray(xs, dtype=np.float64)
    y = np.asarray(ys, dtype=np.float64)
    if x.shape != y.shape:
        msg = f"xs and ys have different shapes {x.shape!r} and {y.shape!r}"
        raise InvalidInput(msg)
    return _project(_pair(src, dst), x, y)


def transform_geometry(geom: shapely.Geometry, src: CRSLike, dst: CRSLike) -> shapely.Geometry:
    """Transform a shapely geometry between two CRSs.

    Any geometry type works, empty ones and collections included; Z values are kept as
    they are and 2D geometries stay 2D. An array of geometries is transformed as a whole.

    Parameters
    ----------
    geom
        A shapely geometry, coordinates in ``src``'s axis order.
    src, dst
        Anything :func:`twin.crs.resolve_crs` accepts.

    Returns
    -------
    shapely.Geometry
        A new geometry, coordinates in ``dst``'s axis order.

    Raises
    ------
    GeometryOutOfBounds
        When a coordinate has no image in ``dst``.

    Examples
    --------
    >>> from shapely import Point
    >>> transform_geometry(Point(24.94, 60.17), "OGC:CRS84", "EPSG:4326")
    <POINT (60.17 24.94)>
    """
    transformer = _pair(src, dst)

    def apply(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        out = coords.copy()
        out[:, 0], out[:, 1] = _project(transformer, coords[:, 0], coords[:, 1])
        return out

    return shapely.transform(geom, apply, include_z=True)


def to_crs84(geom: shapely.Geometry, src: CRSLike) -> shapely.Geometry:
    """Transform a geometry from ``src`` to CRS84 (lon, lat), the storage CRS."""
    return transform_geometry(geom, src, CRS84)


def from_crs84(geom: shapely.Geometry, dst: CRSLike) -> shapely.Geometry:
    """Transform a geometry from CRS84 (lon, lat), the storage CRS, to ``dst``."""
    return transform_geometry(geom, CRS84, dst)


def transform_bbox(
    bbox: Sequence[float], src: CRSLike, dst: CRSLike, *, densify_pts: int = 21
) -> tuple[float, ...]:
    """Transform a bounding box, following its curved edges.

    Each edge is densified with ``densify_pts`` points before transforming, so the
    result holds the whole transformed box, not just its corners.

    Parameters
    ----------
    bbox
        ``(min1, min2, max1, max2)`` in ``src``'s axis order, or six numbers with the
        third axis (heights, kept as they are) after each pair.
    src, dst
        Anything :func:`twin.crs.resolve_crs` accepts.
    densify_pts
        Points added on each edge.

    Returns
    -------
    tuple of float
        The box in ``dst``'s axis order (for EPSG:4326 ``(minlat, minlon, maxlat,
        maxlon)``). Where the box crosses the antimeridian in a geographic ``dst`` the
        first-axis minimum is greater than its maximum, as OGC API bboxes allow.

    Raises
    ------
    InvalidInput
        When ``bbox`` is not four or six finite numbers.

    Examples
    --------
    >>> transform_bbox((24.9, 60.1, 25.0, 60.2), "OGC:CRS84", "EPSG:4326")
    (60.1, 24.9, 60.2, 25.0)
    """
    values = tuple(bbox)
    if len(values) not in (4, 6) or not all(
        isinstance(v, int | float) and math.isfinite(v) for v in values
    ):
        msg = f"bbox={bbox!r} is not four (or six, with heights) finite numbers"
        raise InvalidInput(msg)
    if len(values) == 6:
        x0, y0, z0, x1, y1, z1 = (float(v) for v in values)
        a, b, c, d = transform_bbox((x0, y0, x1, y1), src, dst, densify_pts=densify_pts)
        return (a, b, z0, c, d, z1)
    transformer = _pair(src, dst)
    x0, y0, x1, y1 = (float(v) for v in values)
    out = transformer.transform_bounds(
        x0, y0, x1, y1, densify_pts=densify_pts, direction=TransformDirection.FORWARD
    )
    if not all(math.isfinite(v) for v in out):
        msg = (
            f"bbox={bbox!r} in {_label(transformer.source_crs)} cannot be transformed "
            f"to {_label(transformer.target_crs)}; it lies outside the target's domain"
        )
        raise GeometryOutOfBounds(msg)
    return tuple(float(v) for v in out)


def _lat_first(crs: pyproj.CRS) -> bool:
    return bool(crs.axis_info) and crs.axis_info[0].direction.lower() in ("north", "south")


@lru_cache(maxsize=128)
def _limits(
    crs: pyproj.CRS, margin: float, world: bool = False
) -> tuple[float, float, float, float] | None:
    """``(min1, max1, min2, max2)`` of the area of use in the CRS's own axes, or None.

    For a geographic CRS ``min1 > max1`` on a longitude axis means the area crosses the
    antimeridian; with ``world`` a geographic CRS spans the whole globe.
    """
    area = None if world and crs.is_geographic else crs.area_of_use
    west, south, east, north = area.bounds if area is not None else _WORLD
    if area is None and not crs.is_geographic:
        return None
    if margin:
        south, north = max(south - margin, -90.0), min(north + margin, 90.0)
        if west <= east and east - west + 2 * margin >= 360.0:
            west, east = -180.0, 180.0
        else:
            west = west - margin + 360.0 if west - margin < -180.0 else west - margin
            east = east + margin - 360.0 if east + margin > 180.0 else east + margin
    if crs.is_geographic:
        return (south, north, west, east) if _lat_first(crs) else (west, east, south, north)
    a, b, c, d = _transformer(resolve_crs(CRS84), crs).transform_bounds(west, south, east, north)
    return (a, c, b, d)


def _axis_names(crs: pyproj.CRS) -> tuple[str, str]:
    names = [a.abbrev or a.name for a in crs.axis_info[:2]]
    return (names[0], names[1]) if len(names) == 2 else ("x", "y")


def check_bounds(
    geom: shapely.Geometry,
    crs: CRSLike,
    *,
    margin: float = 0.0,
    name: str = "geometry",
    world: bool = False,
) -> None:
    """Check that every coordinate of a geometry is finite and inside the CRS's area of use.

    Parameters
    ----------
    geom
        A shapely geometry, coordinates in ``crs``'s axis order.
    crs
        Anything :func:`twin.crs.resolve_crs` accepts.
    margin
        Degrees by which the area of use is widened on every side (a city at the edge
        of its UTM zone, say). Edge values are inside.
    name
        The parameter name used in error messages.
    world
        Check a geographic CRS against the whole globe (longitude -180..180, latitude
        -90..90) rather than its area of use: for query windows, which may reach beyond
        the region a CRS is meant for. Projected CRSs keep their area of use.

    Raises
    ------
    GeometryOutOfBounds
        Naming the first offending coordinate, when one is NaN or infinite or lies
        outside the area of use (longitude 181 or latitude -91 in CRS84, say). For a
        projected CRS the test is against the box enclosing the projected area of use.

    Examples
    --------
    >>> from shapely import Point
    >>> check_bounds(Point(180, -90), "OGC:CRS84")
    >>> check_bounds(Point(181, 0), "OGC:CRS84")
    Traceback (most recent call last):
    ...
    twin.errors.GeometryOutOfBounds: geometry coordinate (181.0, 0.0) is outside the area of use of OGC:CRS84 (Lon -180..180, Lat -90..90)
    """
    resolved = resolve_crs(crs)
    coords = shapely.get_coordinates(geom, include_z=bool(np.any(shapely.has_z(geom))))
    if coords.size == 0:
        return
    finite = np.isfinite(coords[:, :2]).all(axis=1)
    if coords.shape[1] == 3:
        # a 2D part of a mixed collection reports NaN heights; only real ones count
        z = coords[:, 2]
        finite &= ~np.isinf(z)
    if not finite.all():
        coord = tuple(float(v) for v in coords[int(np.flatnonzero(~finite)[0])])
        msg = f"{name} coordinate {coord!r} is not finite"
        raise GeometryOutOfBounds(msg)
    limits = _limits(resolved, float(margin), world)
    if limits is None:
        return
    lo1, hi1, lo2, hi2 = limits
    x, y = coords[:, 0], coords[:, 1]
    if resolved.is_geographic and lo1 > hi1:
        ok1 = (x >= lo1) | (x <= hi1)
    else:
        ok1 = (x >= lo1) & (x <= hi1)
    if resolved.is_geographic and lo2 > hi2:
        ok2 = (y >= lo2) | (y <= hi2)
    else:
        ok2 = (y >= lo2) & (y <= hi2)
    bad = ~(ok1 & ok2)
    if bad.any():
        coord = tuple(float(v) for v in coords[int(np.flatnonzero(bad)[0]), :2])
        a1, a2 = _axis_names(resolved)
        msg = (
            f"{name} coordinate {coord!r} is outside the area of use of {_label(resolved)} "
            f"({a1} {lo1:.10g}..{hi1:.10g}, {a2} {lo2:.10g}..{hi2:.10g})"
        )
        raise GeometryOutOfBounds(msg)
