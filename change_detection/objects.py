"""From a change mask to change patches: polygons, noise filters, regular outlines and a
confidence per patch.

Polygons are built in *pieces*: the connected regions of one window of the mask, with the
sums needed to merge them later (pixel count, score and direction sums). Pieces cut by a
window edge are merged across windows by :func:`merge_pieces`, so that tiling neither
splits nor duplicates a patch; filters run only on whole patches.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from affine import Affine

from change_detection.ground import ground_area, map_is_metric

__all__ = [
    "Piece",
    "mask_to_patches",
    "merge_pieces",
    "patches_from_pieces",
    "pieces",
    "regularise",
]

log = logging.getLogger(__name__)


@dataclass
class Piece:
    """One connected region of a window of the mask.

    ``open`` pieces touch an inner window edge and may continue in the next window.
    """

    geometry: Any
    pixels: int
    score_sum: float
    direction_sum: float
    open: bool = False


def pieces(
    mask: np.ndarray,
    score: np.ndarray,
    direction: np.ndarray,
    transform: Affine,
    *,
    open_edges: tuple[bool, bool, bool, bool] = (False, False, False, False),
) -> list[Piece]:
    """Polygonise a mask window into pieces (4-connected regions).

    Parameters
    ----------
    mask, score, direction
        Arrays (rows, cols) of one window.
    transform
        The window's affine transform.
    open_edges
        (top, bottom, left, right): which window edges are inner seams of a tiling.
    """
    import shapely
    from rasterio.features import shapes
    from scipy import ndimage as ndi

    labels, n = ndi.label(mask)
    if n == 0:
        return []
    idx = labels.ravel()
    pixels = np.bincount(idx, minlength=n + 1)
    score_sum = np.bincount(idx, weights=score.ravel().astype(np.float64), minlength=n + 1)
    dir_sum = np.bincount(idx, weights=direction.ravel().astype(np.float64), minlength=n + 1)
    touching = np.zeros(n + 1, dtype=bool)
    edges = (labels[0, :], labels[-1, :], labels[:, 0], labels[:, -1])
    for is_open, edge in zip(open_edges, edges, strict=True):
        if is_open:
            touching[edge] = True
    touching[0] = False
    parts: dict[int, list[Any]] = {}
    for geom, value in shapes(labels.astype(np.int32), mask=labels > 0, transform=transform):
        parts.setdefault(int(value), []).append(shapely.geometry.shape(geom))
    out = []
    for label, geoms in parts.items():
        geom = geoms[0] if len(geoms) == 1 else shapely.union_all(geoms)
        out.append(
            Piece(
                geom,
                int(pixels[label]),
                float(score_sum[label]),
                float(dir_sum[label]),
                bool(touching[label]),
            )
        )
    return out


def merge_pieces(items: list[Piece]) -> list[Piece]:
    """Merge open pieces that share an edge into whole patches; closed pieces pass through."""
    import shapely
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    closed = [p for p in items if not p.open]
    opened = [p for p in items if p.open]
    if not opened:
        return closed
    geoms = np.array([p.geometry for p in opened], dtype=object)
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    # Pieces that meet at a single corner are not 4-connected: keep them apart.
    shared = np.array(
        [
            shapely.intersection(geoms[i], geoms[j]).length > 0 if i != j else True
            for i, j in zip(left, right, strict=True)
        ],
        dtype=bool,
    )
    graph = coo_matrix(
        (np.ones(int(shared.sum())), (left[shared], right[shared])), shape=(len(geoms),) * 2
    )
    n, group = connected_components(graph, directed=False)
    merged = []
    for g in range(n):
        members = [opened[i] for i in np.flatnonzero(group == g)]
        merged.append(
            Piece(
                shapely.union_all([m.geometry for m in members]).buffer(0),
                sum(m.pixels for m in members),
                sum(m.score_sum for m in members),
                sum(m.direction_sum for m in members),
                False,
            )
        )
    return closed + merged


def regularise(geom: Any, *, rect_fit: float = 0.8, tolerance: float = 1.0) -> Any:
    """A simple outline: the minimum rotated rectangle when the patch fills at least
    ``rect_fit`` of it, else the outline simplified by ``tolerance`` map units."""
    import shapely

    rect = shapely.minimum_rotated_rectangle(geom)
    if rect.area > 0 and geom.area / rect.area >= rect_fit:
        return rect
    simple = shapely.simplify(geom, tolerance, preserve_topology=True)
    return simple if not simple.is_empty else geom


def _shape_stats(geom: Any) -> tuple[float, float, float]:
    """(rectangularity, solidity, elongation) of a polygon."""
    import shapely

    rect = shapely.minimum_rotated_rectangle(geom)
    hull = shapely.convex_hull(geom)
    rectangularity = geom.area / rect.area if rect.area else 0.0
    solidity = geom.area / hull.area if hull.area else 0.0
    ring = np.asarray(rect.exterior.coords) if rect.geom_type == "Polygon" else np.zeros((3, 2))
    sides = np.hypot(*np.diff(ring[:3], axis=0).T)
    elongation = float(sides.max() / max(sides.min(), 1e-9)) if sides.size else 1.0
    return float(rectangularity), float(solidity), elongation


def patches_from_pieces(
    items: list[Piece],
    *,
    crs: Any,
    res: float,
    threshold: float,
    mmu_m2: float = 20.0,
    min_solidity: float = 0.5,
    max_elongation: float = 8.0,
    rect_fit: float = 0.8,
) -> Any:
    """Filter whole pieces into change patches (a GeoDataFrame).

    Parameters
    ----------
    items
        Whole pieces (after :func:`merge_pieces`).
    crs
        CRS of the geometries.
    res
        Pixel size in metres (areas are pixel counts times ``res**2``).
    threshold
        The detector's score threshold; confidence is 0.5 at a mean score equal to it.
    mmu_m2
        Minimum mapping unit: smaller patches are dropped.
    min_solidity, max_elongation
        Shape filters: ragged (area / convex hull) and long thin patches are dropped.
    rect_fit
        See :func:`regularise`.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``patch_id``, ``area_m2``, ``confidence`` (0-1), ``direction``
        ("appeared", "disappeared" or "unknown"), ``rectangularity`` and the regularised
        ``geometry``; ``raw_geometry`` keeps the pixel outline as WKT.
    """
    import geopandas as gpd

    geodesic = _geodesic(items, crs)
    rows = []
    for p in items:
        # pixel counts times res**2 where the map's metres are ground metres, else the
        # outline's area measured on the ground (pixels of degrees or Web Mercator differ
        # in ground area across the image)
        area = ground_area(p.geometry, crs) if geodesic else p.pixels * res * res
        if area < mmu_m2:
            continue
        rectangularity, solidity, elongation = _shape_stats(p.geometry)
        if solidity < min_solidity or elongation > max_elongation:
            continue
        mean = p.score_sum / max(p.pixels, 1)
        strength = mean / (mean + threshold) if mean + threshold > 0 else 0.0
        confidence = strength * (0.5 + 0.5 * rectangularity)
        d = p.direction_sum / max(p.pixels, 1)
        direction = "appeared" if d > 0.2 else "disappeared" if d < -0.2 else "unknown"
        rows.append(
            {
                "area_m2": round(area, 2),
                "confidence": round(float(np.clip(confidence, 0.0, 1.0)), 4),
                "direction": direction,
                "rectangularity": round(rectangularity, 3),
                "raw_geometry": p.geometry.wkt,
                "geometry": regularise(
                    p.geometry, rect_fit=rect_fit, tolerance=2 * _map_pixel(p, res, geodesic)
                ),
            }
        )
    rows.sort(key=lambda r: (r["geometry"].bounds[1], r["geometry"].bounds[0]))
    columns = ["patch_id", "area_m2", "confidence", "direction", "rectangularity", "raw_geometry"]
    frame = gpd.GeoDataFrame(rows, columns=[*columns[1:], "geometry"], geometry="geometry", crs=crs)
    frame.insert(0, "patch_id", [f"p{i:05d}" for i in range(len(frame))])
    return frame


def _map_pixel(piece: Piece, res: float, geodesic: bool) -> float:
    """The side of a piece's pixels in map units (``res`` where map units are metres)."""
    if not geodesic or piece.pixels <= 0:
        return res
    return float(np.sqrt(piece.geometry.area / piece.pixels))


def _geodesic(items: list[Piece], crs: Any) -> bool:
    """Whether patch areas must be measured on the ground: the CRS's map units are not
    ground metres where the patches are."""
    if crs is None or not items:
        return False
    import shapely

    x0, y0, x1, y1 = shapely.total_bounds([p.geometry for p in items])
    step = _map_pixel(items[0], 1.0, True)
    return not map_is_metric(crs, (x0 + x1) / 2.0, (y0 + y1) / 2.0, step)


def mask_to_patches(result: Any, **options: Any) -> Any:
    """Change patches of an in-memory :class:`~change_detection.pipeline.ChangeResult`.

    ``options`` go to :func:`patches_from_pieces`.
    """
    det = result.detection
    items = pieces(det.mask, det.score, det.direction, result.transform)
    return patches_from_pieces(
        items, crs=result.crs, res=result.res, threshold=det.threshold, **options
    )
