"""Dispatch and coverage: which station reaches an incident first, and what each covers.

- :func:`rank_stations` routes every station to the incident and ranks them by travel
  time (with the time preemption would save);
- :func:`isochrones` gives each station's area reachable within a time limit (the NFPA
  1710 240 s by default) as a polygon, with or without signal preemption;
- :func:`coverage` reports the share of points (addresses, buildings) that some station
  reaches within the limit.

Stations are the OSM ones the graph found (``amenity=fire_station`` and ambulance
stations) or any :class:`~routing._osm.Station` list a city configures.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from numpy.typing import NDArray

from routing._osm import Station
from routing.errors import NoRoute, PointNotOnNetwork
from routing.greenwave import preempted_times
from routing.route import Route
from twin.errors import InvalidInput

if TYPE_CHECKING:
    from routing.graph import Endpoint, RoadGraph

__all__ = [
    "MAX_ISOCHRONE_S",
    "NFPA_1710_S",
    "Candidate",
    "CoverageReport",
    "Isochrone",
    "check_limit",
    "coverage",
    "isochrones",
    "rank_stations",
    "stations_of",
]

log = logging.getLogger(__name__)

#: NFPA 1710: the first engine arrives within 240 s of travel.
NFPA_1710_S = 240.0
#: The longest time limit of an isochrone or a coverage report (s).
MAX_ISOCHRONE_S = 1800.0
_BUFFER_M = 30.0


def check_limit(value: Any, *, name: str = "limit_s") -> float:
    """Return a time limit in seconds: a finite number, 0 < ``value`` <= :data:`MAX_ISOCHRONE_S`."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        msg = f"{name}={value!r} must be a number of seconds"
        raise InvalidInput(msg)
    if not (math.isfinite(value) and 0 < value <= MAX_ISOCHRONE_S):
        msg = f"{name}={value!r} must be a finite number of seconds in (0, {MAX_ISOCHRONE_S:g}]"
        raise InvalidInput(msg)
    return float(value)


@dataclass(frozen=True)
class Candidate:
    """A station's answer to an incident."""

    rank: int
    station: Station
    travel_time_s: float
    travel_time_preempted_s: float
    route: Route

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "station": self.station.__dict__,
            "travel_time_s": round(float(self.travel_time_s), 2),
            "travel_time_preempted_s": round(float(self.travel_time_preempted_s), 2),
            "length_m": round(float(self.route.length_m), 1),
            "within_nfpa_1710": bool(self.travel_time_s <= NFPA_1710_S),
        }


def stations_of(
    graph: RoadGraph, stations: Iterable[Station | dict[str, Any]] | None
) -> list[Station]:
    """The stations to use: the given ones (Station or dicts) or those of the extract."""
    if stations is None:
        found = list(graph.net.stations)
        if not found:
            msg = "the road graph's source maps no fire or ambulance station; give the stations"
            raise InvalidInput(msg)
        return found
    out: list[Station] = []
    for s in stations:
        if isinstance(s, Station):
            out.append(s)
            continue
        try:
            out.append(
                Station(
                    str(s["id"]),
                    str(s.get("name", "")),
                    str(s.get("kind", "station")),
                    float(s["lon"]),
                    float(s["lat"]),
                )
            )
        except (KeyError, TypeError, ValueError):
            msg = f"station {s!r} needs id, lon and lat"
            raise InvalidInput(msg) from None
    ids = [s.osm_id for s in out]
    if len(set(ids)) != len(ids):
        twice = sorted({i for i in ids if ids.count(i) > 1})
        msg = f"stations repeat the ids {twice}; station ids must be unique"
        raise InvalidInput(msg)
    return out


def rank_stations(
    graph: RoadGraph,
    incident: Endpoint,
    *,
    stations: Iterable[Station | dict[str, Any]] | None = None,
    depart: datetime | str | None = None,
) -> list[Candidate]:
    """Rank stations by travel time to an incident (stations that cannot reach it are left out)."""
    cands: list[tuple[float, Station, Route, float]] = []
    for st in stations_of(graph, stations):
        try:
            r = graph.route((st.lon, st.lat), incident, depart=depart)
        except (NoRoute, PointNotOnNetwork) as exc:
            log.info("station %s cannot reach the incident: %s", st.osm_id, exc)
            continue
        pre = float(sum(preempted_times(graph, r)))
        cands.append((r.travel_time_s, st, r, pre))
    if not cands:
        msg = f"no station can reach incident={incident!r}"
        raise NoRoute(msg)
    cands.sort(key=lambda c: (c[0], c[1].osm_id))
    return [Candidate(i + 1, st, t, pre, r) for i, (t, st, r, pre) in enumerate(cands)]


@dataclass(frozen=True)
class Isochrone:
    """The area a station reaches within ``limit_s``."""

    station: Station
    limit_s: float
    preemption: bool
    polygon: shapely.Geometry
    area_km2: float
    edges_reached: int

    def to_feature(self) -> dict[str, Any]:
        return {
            "type": "Feature",
            "geometry": shapely.geometry.mapping(self.polygon),
            "properties": {
                "station_id": self.station.osm_id,
                "station_name": self.station.name,
                "limit_s": self.limit_s,
                "preemption": self.preemption,
                "area_km2": round(self.area_km2, 3),
            },
        }


def _station_sources(graph: RoadGraph, st: Station, *, preempted: bool) -> list[tuple[int, int]]:
    snaps = graph.snap((st.lon, st.lat), name=f"station {st.osm_id}")
    out: list[tuple[int, int]] = []
    for s in snaps:
        out.extend(graph.engine.edge_sources(s.edge_index, s.fraction, preempted=preempted))
    return out


def _reach(
    graph: RoadGraph, sources: Sequence[tuple[int, int]], *, limit_ms: float, preempted: bool
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Time (ms) to the end and to the start of every edge from the sources."""
    eng = graph.engine
    end = eng.distances(sources, preempted=preempted, limit_ms=limit_ms)
    start = np.full(eng.size, np.inf)
    np.minimum.at(start, eng.a_head, end[eng.a_tail] + eng.turn_ms)
    for e, cost in sources:  # the sources' own edges start where the station is
        w = (eng.free_ms if preempted else eng.edge_ms)[e]
        start[e] = min(start[e], cost - float(w))
    return end, start


def isochrones(
    graph: RoadGraph,
    *,
    stations: Iterable[Station | dict[str, Any]] | None = None,
    limit_s: float = NFPA_1710_S,
    preemption: bool = False,
) -> list[Isochrone]:
    """Each station's reachable area within ``limit_s`` as a polygon (CRS84).

    The polygon is the union of the reached road stretches buffered by 30 m; with
    ``preemption`` the expected signal waits are left out. ``limit_s`` must be a finite
    number in (0, :data:`MAX_ISOCHRONE_S`].
    """
    limit_s = check_limit(limit_s)
    eng, snapper = graph.engine, graph.snapper
    w = (eng.free_ms if preemption else eng.edge_ms).astype(np.float64)
    out: list[Isochrone] = []
    limit_ms = limit_s * 1000.0
    for st in stations_of(graph, stations):
        try:
            sources = _station_sources(graph, st, preempted=preemption)
        except PointNotOnNetwork:
            continue
        end, start = _reach(graph, sources, limit_ms=limit_ms, preempted=preemption)
        full = np.flatnonzero(end <= limit_ms)
        part = np.flatnonzero((end > limit_ms) & (start < limit_ms))
        lines = list(snapper.lines[full])
        for e in part.tolist():
            f0 = max(0.0, -start[e] / w[e]) if start[e] < 0 else 0.0
            f1 = min(1.0, (limit_ms - start[e]) / w[e])
            if f1 > f0:
                lines.append(shapely.linestrings(snapper.to_xy(snapper.cut(e, f0, f1))))
        if not lines:
            continue
        area = shapely.union_all(
            shapely.buffer(np.asarray(lines, dtype=object), _BUFFER_M, quad_segs=2)
        )
        area = shapely.simplify(area, 5.0)
        poly = shapely.transform(area, lambda c: snapper.to_lonlat(c[:, 0], c[:, 1]))
        out.append(Isochrone(st, limit_s, preemption, poly, float(area.area) / 1e6, len(full)))
    return out


@dataclass(frozen=True)
class CoverageReport:
    """How many points some station reaches within the limit."""

    limit_s: float
    preemption: bool
    points: int
    covered: int
    off_network: int
    times_s: NDArray[np.float64]

    @property
    def share(self) -> float:
        return self.covered / self.points if self.points else 0.0

    def to_dict(self) -> dict[str, Any]:
        reached = self.times_s[np.isfinite(self.times_s)]
        return {
            "limit_s": self.limit_s,
            "preemption": self.preemption,
            "points": self.points,
            "covered": self.covered,
            "share": round(self.share, 4),
            "off_network": self.off_network,
            "median_time_s": None if not len(reached) else round(float(np.median(reached)), 1),
        }


def coverage(
    graph: RoadGraph,
    points: Sequence[tuple[float, float]] | NDArray[np.float64],
    *,
    stations: Iterable[Station | dict[str, Any]] | None = None,
    limit_s: float = NFPA_1710_S,
    preemption: bool = False,
) -> CoverageReport:
    """The share of points (lon, lat) that the nearest station reaches within ``limit_s``.

    Each point counts at its snap on the road (points beyond the snap limit count as not
    covered, and as ``off_network``); the time is the fastest from any station.
    ``limit_s`` must be a finite number in (0, :data:`MAX_ISOCHRONE_S`].
    """
    limit_s = check_limit(limit_s)
    eng, snapper = graph.engine, graph.snapper
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    sources: list[tuple[int, int]] = []
    for st in stations_of(graph, stations):
        try:
            sources.extend(_station_sources(graph, st, preempted=preemption))
        except PointNotOnNetwork:
            continue
    times = np.full(len(pts), np.inf)
    if not len(pts) or not sources:
        return CoverageReport(limit_s, preemption, len(pts), 0, len(pts), times)
    _, start = _reach(graph, sources, limit_ms=np.inf, preempted=preemption)
    w = (eng.free_ms if preemption else eng.edge_ms).astype(np.float64)
    geoms = shapely.points(snapper.to_xy(pts))
    (idx_pt, idx_edge), _ = snapper.tree.query_nearest(
        geoms, max_distance=graph.snap_limit_m, return_distance=True
    )
    frac = shapely.line_locate_point(snapper.lines[idx_edge], geoms[idx_pt], normalized=True)
    t = start[idx_edge] + frac * w[idx_edge]
    t[t < 0] = np.inf  # behind a station on a one-way stretch: not reached that way
    np.minimum.at(times, idx_pt, t)
    times /= 1000.0
    off = len(pts) - len(np.unique(idx_pt))
    covered = int((times <= limit_s).sum())
    return CoverageReport(limit_s, preemption, len(pts), covered, off, times)
