"""Coordinate reference systems: naming them, transforming between them, Chinese offsets.

The twin stores and serves OGC CRS84 (lon, lat) by default. The API also serves
EPSG:4326 and EPSG:4490 (both lat, lon), EPSG:3857 and the city's UTM zone, with each
CRS's authority axis order; metric work uses :func:`local_metric_crs`. GCJ-02 and BD-09,
the shifted coordinates of Chinese sources, are converted by the ``*_to_*`` functions.
"""

from twin.crs._china import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    transform_geometry_china,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from twin.crs._registry import (
    CRS84,
    check_served,
    crs_uri,
    local_metric_crs,
    resolve_crs,
    served_crs,
    utm_epsg,
)
from twin.crs._transform import (
    check_bounds,
    from_crs84,
    to_crs84,
    transform_bbox,
    transform_coords,
    transform_geometry,
)

__all__ = [
    "CRS84",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "check_bounds",
    "check_served",
    "crs_uri",
    "from_crs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "local_metric_crs",
    "resolve_crs",
    "served_crs",
    "to_crs84",
    "transform_bbox",
    "transform_coords",
    "transform_geometry",
    "transform_geometry_china",
    "utm_epsg",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]
