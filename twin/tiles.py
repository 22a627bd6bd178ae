"""Vector tiles (Mapbox Vector Tile) of twin collections in the WebMercatorQuad matrix set.

The tile's features come from the store's bbox query (so its spatial index), at any
valid time; geometries are projected to Web Mercator in one vectorised call, clipped
to the tile plus a buffer, simplified to the tile's resolution and quantised by
``mapbox_vector_tile``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer

from twin.errors import InvalidInput
from twin.store import Query, Store
from twin.temporal import TimeSpec

__all__ = [
    "MAX_ZOOM",
    "TILE_MATRIX_SET",
    "TileBounds",
    "encode_tile",
    "lonlat_to_tile",
    "tile_bounds",
]

TILE_MATRIX_SET = "WebMercatorQuad"
MAX_ZOOM = 24
_HALF = 20037508.342789244  # half the Web Mercator world width, metres


@dataclass(frozen=True)
class TileBounds:
    """A tile's bounds in Web Mercator metres and in CRS84 degrees."""

    mercator: tuple[float, float, float, float]
    crs84: tuple[float, float, float, float]


@lru_cache(maxsize=1)
def _to_merc() -> Transformer:
    return Transformer.from_crs("OGC:CRS84", "EPSG:3857", always_xy=True)


@lru_cache(maxsize=1)
def _to_lonlat() -> Transformer:
    return Transformer.from_crs("EPSG:3857", "OGC:CRS84", always_xy=True)


def tile_bounds(z: int, x: int, y: int) -> TileBounds:
    """Bounds of tile ``z/x/y`` (row ``y`` counted from the top, as OGC API Tiles does).

    Examples
    --------
    >>> tile_bounds(0, 0, 0).crs84[0]
    -180.0
    """
    if not (isinstance(z, int) and 0 <= z <= MAX_ZOOM):
        msg = f"tileMatrix={z!r} is not a zoom level of {TILE_MATRIX_SET} (0..{MAX_ZOOM})"
        raise InvalidInput(msg)
    n = 2**z
    if not (0 <= x < n and 0 <= y < n):
        msg = f"tile {z}/{y}/{x} (tileMatrix/tileRow/tileCol) is outside the matrix: row and col run 0..{n - 1}"
        raise InvalidInput(msg)
    size = 2 * _HALF / n
    minx, maxx = -_HALF + x * size, -_HALF + (x + 1) * size
    maxy, miny = _HALF - y * size, _HALF - (y + 1) * size
    lon0, lat0 = _to_lonlat().transform(minx, miny)
    lon1, lat1 = _to_lonlat().transform(maxx, maxy)
    return TileBounds((minx, miny, maxx, maxy), (lon0, lat0, lon1, lat1))


def _scalar_properties(props: dict[str, Any]) -> dict[str, Any]:
    """MVT values are scalars: JSON values travel as JSON text."""
    out: dict[str, Any] = {}
    for k, v in props.items():
        if isinstance(v, dict | list):
            out[k] = json.dumps(v, ensure_ascii=False, sort_keys=True)
        elif v is not None:
            out[k] = v
    return out


def encode_tile(
    store: Store,
    collections: Sequence[str],
    z: int,
    x: int,
    y: int,
    *,
    time: TimeSpec = None,
    extent: int = 4096,
    buffer: int = 64,
) -> bytes:
    """Encode one MVT tile holding a layer per collection (empty layers are left out).

    Each feature carries its twin id as the ``id`` property (MVT ids must be integers) and
    its properties; geometries are simplified to a quarter of the tile's pixel size.
    """
    tb = tile_bounds(z, x, y)
    minx, miny, maxx, maxy = tb.mercator
    pad = (maxx - minx) * buffer / extent
    clip = shapely.box(minx - pad, miny - pad, maxx + pad, maxy + pad)
    lon0, lat0 = _to_lonlat().transform(max(minx - pad, -_HALF), max(miny - pad, -_HALF))
    lon1, lat1 = _to_lonlat().transform(min(maxx + pad, _HALF), min(maxy + pad, _HALF))
    bbox = (max(lon0, -180.0), max(lat0, -90.0), min(lon1, 180.0), min(lat1, 90.0))
    tolerance = (maxx - minx) / extent / 4
    layers = []
    for name in collections:
        feats = store.query(name, Query(time=time, bbox=bbox)).features
        feats = [f for f in feats if f.geometry is not None and not f.geometry.is_empty]
        if not feats:
            continue
        geoms = np.array([f.geometry for f in feats], dtype=object)
        merc = shapely.transform(geoms, _project)
        clipped = shapely.intersection(merc, clip)
        simple = shapely.simplify(clipped, tolerance, preserve_topology=True)
        out = []
        for f, g in zip(feats, simple, strict=True):
            if g is None or g.is_empty:
                continue
            out.append(
                {"geometry": g, "properties": {"id": f.id, **_scalar_properties(f.properties)}}
            )
        if out:
            layers.append({"name": name, "features": out})
    if not layers:
        return b""
    import mapbox_vector_tile

    data: bytes = mapbox_vector_tile.encode(
        layers,
        default_options={
            "quantize_bounds": (minx, miny, maxx, maxy),
            "extents": extent,
            "y_coord_down": False,
        },
    )
    return data


def _project(xy: np.ndarray) -> np.ndarray:
    lon = np.clip(xy[:, 0], -180.0, 180.0)
    lat = np.clip(xy[:, 1], -85.05112878, 85.05112878)
    mx, my = _to_merc().transform(lon, lat)
    return np.column_stack([mx, my])


def lonlat_to_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The (x, y) of the tile holding a CRS84 point at zoom ``z``."""
    n = 2**z
    lat = max(min(lat, 85.05112878), -85.05112878)
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)
