"""Snapping points to the road network, with an explanation of each snap.

A point (lon, lat) is projected to the city's metric CRS and matched to the nearest
drivable edge; both directions of a two-way street are candidates. The :class:`Snap`
says which edge, how far along it, and how far from the road the point was. Points
beyond the snap limit raise :class:`~routing.errors.PointNotOnNetwork`; coordinates
outside CRS84 raise :class:`~twin.errors.InvalidInput`, with a hint when they look like
(lat, lon).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from numpy.typing import NDArray

from routing.errors import PointNotOnNetwork
from twin.errors import InvalidInput

if TYPE_CHECKING:
    from routing._build import Net

__all__ = ["DEFAULT_SNAP_LIMIT_M", "Snap", "check_lonlat"]

#: Points farther than this from every road are refused.
DEFAULT_SNAP_LIMIT_M = 250.0

#: A polygon is clipped to the network's extent grown by this (degrees) before projecting.
_AREA_MARGIN_DEG = 0.01
#: ... and its sides are cut into pieces no longer than this (degrees, some 50 m).
_AREA_STEP_DEG = 0.0005


@dataclass(frozen=True)
class Snap:
    """Where a point met the network.

    Attributes
    ----------
    query
        The point as given, (lon, lat).
    point
        The snapped position on the road, (lon, lat).
    edge
        The snapped directed edge as OSM node ids ``(u, v)``.
    fraction
        How far along the edge the snapped position lies, 0 at ``u`` and 1 at ``v``.
    distance_m
        Distance from the query point to the road, in metres.
    road_name
        The name (or ref) of the road, ``""`` when it has none.
    node_id
        The OSM node when the query was a node id, else ``None``.
    """

    query: tuple[float, float]
    point: tuple[float, float]
    edge: tuple[int, int] | None
    fraction: float
    distance_m: float
    road_name: str
    node_id: int | None = None
    edge_index: int = -1

    def explain(self) -> str:
        """A sentence saying where the point was snapped."""
        if self.node_id is not None and self.edge is None:
            return f"OSM node {self.node_id}"
        road = self.road_name or "an unnamed road"
        assert self.edge is not None
        return (
            f"({self.query[0]:.6f}, {self.query[1]:.6f}) snapped {self.distance_m:.1f} m to "
            f"{road}, edge {self.edge[0]}->{self.edge[1]} at {self.fraction:.0%} of its length"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {
            "query": list(self.query),
            "point": list(self.point),
            "edge": list(self.edge) if self.edge else None,
            "fraction": round(self.fraction, 4),
            "distance_m": round(self.distance_m, 2),
            "road_name": self.road_name,
            "node_id": self.node_id,
            "explanation": self.explain(),
        }


def check_lonlat(point: Any, *, name: str) -> tuple[float, float]:
    """Check a (lon, lat) pair in CRS84 and return it as floats."""
    try:
        lon, lat = (float(v) for v in point)
    except (TypeError, ValueError):
        msg = f"{name}={point!r} is not a (lon, lat) pair or an OSM node id"
        raise InvalidInput(msg) from None
    if not (math.isfinite(lon) and math.isfinite(lat)) or abs(lon) > 180 or abs(lat) > 90:
        msg = (
            f"{name}={point!r} is outside CRS84: lon must lie in [-180, 180] and lat in "
            "[-90, 90], in the order (lon, lat)"
        )
        raise InvalidInput(msg)
    return lon, lat


class Snapper:
    """Nearest-edge look-ups on the edges of a :class:`~routing._build.Net`."""

    def __init__(self, net: Net) -> None:
        from pyproj import Transformer

        from twin.crs import CRS84, local_metric_crs

        self.net = net
        bbox = (
            float(net.lon.min()),
            float(net.lat.min()),
            float(net.lon.max()),
            float(net.lat.max()),
        )
        self.bbox = bbox
        self.crs = local_metric_crs(bbox)
        self._fwd = Transformer.from_crs(CRS84, self.crs, always_xy=True)
        self._inv = Transformer.from_crs(self.crs, CRS84, always_xy=True)
        lo, hi = net.coords.min(axis=0), net.coords.max(axis=0)
        #: (min lon, min lat, max lon, max lat) of every vertex of every edge.
        self.extent = (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))
        x, y = self._fwd.transform(net.coords[:, 0], net.coords[:, 1])
        self.xy = np.column_stack([x, y])
        sizes = np.diff(net.offsets)
        idx = np.repeat(np.arange(net.edge_count), sizes)
        self.lines = shapely.linestrings(self.xy, indices=idx)
        seg = np.hypot(*np.diff(self.xy, axis=0).T)
        seg[net.offsets[1:-1] - 1] = 0.0  # no segment across two edges
        self.cum = np.concatenate([[0.0], np.cumsum(seg)])
        self.tree = shapely.STRtree(self.lines)

    def project(self, lon: float, lat: float) -> tuple[float, float]:
        x, y = self._fwd.transform(lon, lat)
        return float(x), float(y)

    def to_xy(self, lonlat: NDArray[np.float64]) -> NDArray[np.float64]:
        """Project an (N, 2) array of (lon, lat) to the metric CRS."""
        x, y = self._fwd.transform(lonlat[:, 0], lonlat[:, 1])
        return np.column_stack([x, y])

    def area_to_xy(self, geom: shapely.Geometry) -> shapely.Geometry:
        """The part of a CRS84 geometry near the network, in the metric CRS.

        The city's metric CRS only holds near the city: a polygon reaching far beyond
        it (up to the whole world) does not survive projecting its corners. It is first
        clipped to the network's extent with a margin, which keeps every part that can
        touch a road, and its sides are cut into short pieces, so a side that is straight
        in (lon, lat) keeps its course once projected. A polygon away from the network
        gives an empty geometry.
        """
        minx, miny, maxx, maxy = self.extent
        m = _AREA_MARGIN_DEG
        near = shapely.intersection(geom, shapely.box(minx - m, miny - m, maxx + m, maxy + m))
        if near.is_empty:
            return shapely.Polygon()
        near = shapely.segmentize(near, _AREA_STEP_DEG)
        return shapely.transform(near, self.to_xy)

    def to_lonlat(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
        lon, lat = self._inv.transform(x, y)
        return np.column_stack([lon, lat])

    def candidates(self, lon: float, lat: float, *, limit_m: float, name: str) -> list[Snap]:
        """The nearest edges (ties: both directions of a street), nearest first."""
        pt = shapely.Point(self.project(lon, lat))
        hits, dists = self.tree.query_nearest(pt, max_distance=limit_m, return_distance=True)
        if len(hits) == 0:
            nearest = self.tree.query_nearest(pt, return_distance=True)[1]
            far = float(nearest[0]) if len(nearest) else float("inf")
            hint = ""
            if self._inside(lat, lon) and not self._inside(lon, lat):
                hint = "; it looks like (lat, lon): give (lon, lat)"
            msg = (
                f"{name}=({lon}, {lat}) is {far:.0f} m from the nearest road a "
                f"{self.net.profile.name!r} vehicle may use; the snap limit is "
                f"{limit_m:.0f} m{hint}"
            )
            raise PointNotOnNetwork(msg)
        best = float(np.min(dists))
        out: list[Snap] = []
        for e, d in zip(hits.tolist(), dists.tolist(), strict=True):
            if d > best + 0.01:
                continue
            line = self.lines[e]
            length = shapely.length(line)
            along = float(shapely.line_locate_point(line, pt))
            frac = along / length if length > 0 else 0.0
            px, py = shapely.get_coordinates(shapely.line_interpolate_point(line, along))[0]
            plon, plat = self.to_lonlat(np.array([px]), np.array([py]))[0]
            u, v = self.net.tail[e], self.net.head[e]
            out.append(
                Snap(
                    query=(lon, lat),
                    point=(float(plon), float(plat)),
                    edge=(int(self.net.osm_ids[u]), int(self.net.osm_ids[v])),
                    fraction=min(max(frac, 0.0), 1.0),
                    distance_m=float(d),
                    road_name=self.net.names[e],
                    edge_index=int(e),
                )
            )
        return out

    def _inside(self, lon: float, lat: float) -> bool:
        minx, miny, maxx, maxy = self.bbox
        return minx - 0.05 <= lon <= maxx + 0.05 and miny - 0.05 <= lat <= maxy + 0.05

    def cut(self, e: int, f0: float, f1: float) -> NDArray[np.float64]:
        """The (lon, lat) vertices of edge ``e`` between fractions ``f0`` and ``f1``."""
        a, b = int(self.net.offsets[e]), int(self.net.offsets[e + 1])
        ll = self.net.coords[a:b]
        cum = self.cum[a:b] - self.cum[a]
        total = cum[-1]
        if total <= 0:
            return ll[[0, -1]] if f0 <= f1 else ll[[-1, 0]]
        pts: list[NDArray[np.float64]] = []
        d0, d1 = f0 * total, f1 * total
        pts.append(_at(ll, cum, d0)[None, :])
        inner = (cum > d0) & (cum < d1)
        pts.append(ll[inner])
        pts.append(_at(ll, cum, d1)[None, :])
        return np.concatenate(pts)


def _at(ll: NDArray[np.float64], cum: NDArray[np.float64], d: float) -> NDArray[np.float64]:
    i = int(np.clip(np.searchsorted(cum, d, side="right") - 1, 0, len(cum) - 2))
    span = cum[i + 1] - cum[i]
    t = 0.0 if span <= 0 else (d - cum[i]) / span
    return ll[i] + (ll[i + 1] - ll[i]) * t
