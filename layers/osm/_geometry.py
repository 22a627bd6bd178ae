"""Vectorised geometry work on arrays of shapely geometries: rings to polygons, repair
of invalid polygons into MultiPolygons, points on lines and surfaces."""

from __future__ import annotations

import numpy as np
import shapely
from numpy.typing import NDArray

__all__ = ["as_multipolygons", "polygons_from_closed_lines", "representative_points"]

GeomArray = NDArray[np.object_]

_POLYGON = 3
_MULTI_OR_COLLECTION = (4, 5, 6, 7)


def polygons_from_closed_lines(lines: GeomArray) -> GeomArray:
    """Turn closed LineStrings into Polygons; lines with fewer than 4 coordinates give None.

    Examples
    --------
    >>> import shapely
    >>> lines = np.array([shapely.LineString([(0, 0), (1, 0), (1, 1), (0, 0)]),
    ...                   shapely.LineString([(0, 0), (1, 0), (0, 0)])], dtype=object)
    >>> [g.wkt if g is not None else None for g in polygons_from_closed_lines(lines)]
    ['POLYGON ((0 0, 1 0, 1 1, 0 0))', None]
    """
    out = np.full(len(lines), None, dtype=object)
    if len(lines) == 0:
        return out
    ok = shapely.get_num_coordinates(lines) >= 4
    if not ok.any():
        return out
    coords, index = shapely.get_coordinates(lines[ok], return_index=True)
    rings = shapely.linearrings(coords, indices=index)
    out[ok] = shapely.polygons(rings)
    return out


def _polygonal_part(geoms: GeomArray) -> GeomArray:
    """Keep the polygons of each geometry (any depth of collections) as a MultiPolygon;
    None where nothing polygonal and non-empty is left."""
    out = np.full(len(geoms), None, dtype=object)
    parts, index = shapely.get_parts(geoms, return_index=True)
    while len(parts) and np.isin(shapely.get_type_id(parts), _MULTI_OR_COLLECTION).any():
        parts, sub = shapely.get_parts(parts, return_index=True)
        index = index[sub]
    keep = (shapely.get_type_id(parts) == _POLYGON) & ~shapely.is_empty(parts)
    if keep.any():
        owners, positions = np.unique(index[keep], return_inverse=True)
        out[owners] = shapely.multipolygons(parts[keep], indices=positions)
    return out


def as_multipolygons(geoms: GeomArray) -> tuple[GeomArray, NDArray[np.bool_]]:
    """Make every polygon valid and a MultiPolygon.

    Invalid geometries are repaired with :func:`shapely.make_valid`, keeping only the
    polygonal part. None stays None, and so does a geometry with no area left.

    Returns
    -------
    (multipolygons, repaired)
        The MultiPolygons, and a mask of the geometries that needed repair.

    Examples
    --------
    >>> import shapely
    >>> bowtie = shapely.Polygon([(0, 0), (2, 2), (2, 0), (0, 2), (0, 0)])
    >>> square = shapely.box(0, 0, 1, 1)
    >>> fixed, repaired = as_multipolygons(np.array([bowtie, square, None], dtype=object))
    >>> [g.geom_type if g is not None else None for g in fixed], repaired.tolist()
    (['MultiPolygon', 'MultiPolygon', None], [True, False, False])
    """
    geoms = np.asarray(geoms, dtype=object)
    present = ~shapely.is_missing(geoms)
    repaired = present & ~shapely.is_valid(geoms)
    if repaired.any():
        geoms = geoms.copy()
        geoms[repaired] = shapely.make_valid(geoms[repaired])
    out = np.full(len(geoms), None, dtype=object)
    if present.any():
        out[present] = _polygonal_part(geoms[present])
    return out, repaired


def representative_points(geoms: GeomArray) -> GeomArray:
    """A point on each line or inside each polygon (None for None or empty)."""
    out = np.full(len(geoms), None, dtype=object)
    present = ~shapely.is_missing(geoms)
    present[present] = ~shapely.is_empty(geoms[present])
    if present.any():
        out[present] = shapely.point_on_surface(geoms[present])
    return out
