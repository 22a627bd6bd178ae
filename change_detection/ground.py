"""Sizes on the ground: the pixel size in metres and patch areas in square metres, in any CRS.

A projected CRS in metres whose scale at the image is true to within :data:`SCALE_TOLERANCE`
(UTM, national grids) is taken at its word: its metres are ground metres. Elsewhere (degrees
of a geographic CRS, Web Mercator away from the equator, feet) sizes are measured on the
WGS 84 ellipsoid with :class:`pyproj.Geod`.
"""

from __future__ import annotations

import math
from typing import Any

from affine import Affine

__all__ = ["SCALE_TOLERANCE", "ground_area", "ground_pixel", "map_is_metric"]

#: How far from 1 a CRS's scale may be for its map metres to count as ground metres.
SCALE_TOLERANCE = 0.01


def _geod() -> Any:
    from pyproj import Geod

    return Geod(ellps="WGS84")


def _to_lonlat(crs: Any) -> Any:
    from pyproj import CRS, Transformer

    return Transformer.from_crs(CRS.from_user_input(crs), "EPSG:4326", always_xy=True)


def _steps(
    crs: Any, x: float, y: float, dx: tuple[float, float], dy: tuple[float, float]
) -> tuple[float, float]:
    """Ground lengths (m) of the map vectors ``dx`` and ``dy`` from the point (x, y)."""
    to_ll = _to_lonlat(crs)
    lon0, lat0 = to_ll.transform(x, y)
    lon1, lat1 = to_ll.transform(x + dx[0], y + dx[1])
    lon2, lat2 = to_ll.transform(x + dy[0], y + dy[1])
    geod = _geod()
    return float(geod.line_length([lon0, lon1], [lat0, lat1])), float(
        geod.line_length([lon0, lon2], [lat0, lat2])
    )


def _on_earth(crs: Any) -> bool:
    """Whether ``crs`` places points on the Earth (geographic or projected); the units of
    an engineering (local) CRS are taken as they are."""
    from pyproj import CRS

    c = CRS.from_user_input(crs)
    return bool(c.is_geographic or c.is_projected)


def _metre_units(crs: Any) -> bool:
    from pyproj import CRS

    c = CRS.from_user_input(crs)
    if not c.is_projected:
        return False
    axes = c.axis_info
    return bool(axes) and all(a.unit_name in ("metre", "meter") for a in axes[:2])


def map_is_metric(crs: Any, x: float, y: float, step: float) -> bool:
    """Whether ``crs``'s map units are ground metres at (x, y), to within
    :data:`SCALE_TOLERANCE` (measured over ``step`` map units)."""
    if crs is None or not _on_earth(crs):
        return True
    if not _metre_units(crs):
        return False
    gx, gy = _steps(crs, x, y, (step, 0.0), (0.0, step))
    return max(abs(gx / step - 1.0), abs(gy / step - 1.0)) <= SCALE_TOLERANCE


def ground_pixel(crs: Any, transform: Affine, shape: tuple[int, int]) -> float:
    """The pixel size in metres at the centre of a grid: the map pixel size (mean of both
    axes) where the CRS's metres are ground metres, else the square root of the centre
    pixel's ground area (its two sides measured geodesically)."""
    map_res = (math.hypot(transform.a, transform.d) + math.hypot(transform.b, transform.e)) / 2
    rows, cols = shape
    x = transform.c + transform.a * cols / 2.0 + transform.b * rows / 2.0
    y = transform.f + transform.d * cols / 2.0 + transform.e * rows / 2.0
    if map_is_metric(crs, x, y, map_res):
        return float((abs(transform.a) + abs(transform.e)) / 2.0)
    gx, gy = _steps(crs, x, y, (transform.a, transform.d), (transform.b, transform.e))
    return math.sqrt(gx * gy)


def ground_area(geom: Any, crs: Any) -> float:
    """The area of a polygon in ``crs`` on the ground, in m² (geodesic, WGS 84)."""
    from shapely.ops import transform as reshape

    lonlat = reshape(_to_lonlat(crs).transform, geom)
    area, _perimeter = _geod().geometry_area_perimeter(lonlat)
    return abs(float(area))
