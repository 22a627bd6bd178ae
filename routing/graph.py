"""The road graph of the twin: built from OSM, routed on exactly and fast.

>>> g = RoadGraph.from_osm("data/helsinki.osm.pbf", profile="emergency")  # doctest: +SKIP
>>> r = g.route((24.9384, 60.1699), (24.95, 60.1672))                      # doctest: +SKIP
>>> r.travel_time_s, r.length_m, r.node_ids[:3], r.steps[0].instruction    # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from routing._build import Net, build_net
from routing._engine import Engine, Seed
from routing.closures import Closure, resolve_edges
from routing.errors import NoRoute, UnknownNode
from routing.profiles import Profile, get_profile
from routing.route import EdgeGeo, Route, assemble
from routing.snap import DEFAULT_SNAP_LIMIT_M, Snap, Snapper, check_lonlat
from twin.errors import InvalidInput

if TYPE_CHECKING:
    import networkx as nx

    from twin.store import Store

__all__ = ["Endpoint", "RoadGraph", "dates_in_range"]

log = logging.getLogger(__name__)

#: An origin or destination: an OSM node id, a (lon, lat) pair or a shapely Point.
type Endpoint = int | tuple[float, float] | shapely.Point


def parse_depart(depart: datetime | str | None, *, name: str = "depart") -> datetime:
    """A departure time as an aware UTC datetime (``None`` is now)."""
    if depart is None:
        return datetime.now(UTC)
    from twin.temporal import parse_datetime

    return parse_datetime(depart, name=name)


@contextmanager
def dates_in_range(at: datetime | None, *, name: str, what: str) -> Iterator[None]:
    """Report a time past the ends of the calendar, reached from ``at``, as a bad ``name``.

    Dates run from 0001-01-01 to 9999-12-31; a route or a signal plan timed from a
    departure (or an arrival) near either end runs off it with an :class:`OverflowError`.
    Inside this block that is an :class:`~twin.errors.InvalidInput` (HTTP 400) naming
    ``name`` and its value.

    Parameters
    ----------
    at
        The time the input gave; ``None`` (now) lets the error through.
    name
        The input, as the message names it, e.g. ``"input depart"``.
    what
        What is timed from ``at``, e.g. ``"route"``.
    """
    try:
        yield
    except OverflowError:
        if at is None:
            raise
        edge = "end after 9999-12-31T23:59:59Z" if at.year > 5000 else "start before 0001-01-01"
        msg = (
            f"{name}={at.isoformat()!r} is too near the end of the supported date range "
            f"(0001-01-01 to 9999-12-31): the {what} would {edge}"
        )
        raise InvalidInput(msg) from None


class RoadGraph:
    """A directed road graph for one vehicle profile, with an exact fast router.

    Build it with :meth:`from_osm`. Nodes are OSM nodes (junctions, signals and the via
    nodes of turn restrictions); edges carry travel times in whole milliseconds.
    """

    def __init__(
        self, net: Net, *, snap_limit_m: float = DEFAULT_SNAP_LIMIT_M, turn_rules: bool = True
    ) -> None:
        t0 = time.perf_counter()
        self.net = net
        self.profile: Profile = net.profile
        self.snap_limit_m = snap_limit_m
        self.turn_rules = turn_rules
        self.engine = Engine(net, turn_rules=turn_rules)
        self.snapper = Snapper(net)
        self.geo = EdgeGeo.of(net)
        self._index = {int(o): i for i, o in enumerate(net.osm_ids)}
        self._closures: dict[str, Closure] = {}
        self._closure_seq = itertools.count(1)
        #: The extract the graph was built from (:func:`routing._cache.source_of`), if any.
        self.source: dict[str, Any] | None = None
        self.timings = {**net.build_s, **self.engine.timings}
        self.timings["index_s"] = time.perf_counter() - t0 - sum(self.engine.timings.values())

    # -- construction -------------------------------------------------------------
    @classmethod
    def from_osm(
        cls,
        path: str | Path,
        *,
        profile: str | Profile = "car",
        snap_limit_m: float = DEFAULT_SNAP_LIMIT_M,
        turn_restrictions: bool = True,
    ) -> RoadGraph:
        """Build the road graph of an ``.osm.pbf`` or ``.osm`` extract.

        Parameters
        ----------
        path
            The OSM extract.
        profile
            ``"car"`` or ``"emergency"`` (or a :class:`~routing.profiles.Profile`).
        snap_limit_m
            Points farther than this from every usable road are refused.
        turn_restrictions
            Honour the extract's turn restrictions (bans, or for the emergency profile
            an extra time) and ban U-turns except at dead ends, where turning round
            takes time; ``False`` allows every turn at no cost of its own (the costs of
            a plain node-based Dijkstra).
        """
        from routing._cache import source_of

        prof = get_profile(profile)
        net = build_net(path, prof)
        graph = cls(net, snap_limit_m=snap_limit_m, turn_rules=turn_restrictions)
        graph.source = source_of(path)
        return graph

    @classmethod
    def from_store(
        cls,
        store: Store,
        *,
        profile: str | Profile = "car",
        at: datetime | str | None = None,
        snap_limit_m: float = DEFAULT_SNAP_LIMIT_M,
        turn_restrictions: bool = True,
    ) -> RoadGraph:
        """Load the road graph the twin stores (``road_nodes``, ``road_edges``, ...).

        ``twin build`` writes those layers from the same OSM extract :meth:`from_osm`
        reads, so both give the same graph. Default stations come from the
        ``emergency_stations`` layer.

        Parameters
        ----------
        store
            The twin.
        profile
            ``"car"`` or ``"emergency"``.
        at
            The graph as the city was at this instant (datetime or RFC 3339); ``None``
            is now.
        snap_limit_m, turn_restrictions
            As for :meth:`from_osm`.

        Raises
        ------
        NotComputable
            The twin holds no road graph for the profile (422).
        """
        from routing._store_graph import net_from_store

        when = None if at is None else parse_depart(at, name="at")
        net = net_from_store(store, get_profile(profile), at=when)
        return cls(net, snap_limit_m=snap_limit_m, turn_rules=turn_restrictions)

    def save(self, path: str | Path, *, name: str = "cache") -> None:
        """Write the graph to a cache file, whole or not at all (see :mod:`routing._cache`).

        The file holds plain arrays and a JSON header naming the profile and the extract
        the graph was built from; ``name`` is how error messages name the file.

        Raises
        ------
        InvalidInput
            The file cannot be written there (nothing is left behind).
        """
        from routing._cache import write_cache

        write_cache(
            path,
            self.net,
            snap_limit_m=self.snap_limit_m,
            turn_rules=self.turn_rules,
            source=self.source,
            name=name,
        )

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        profile: str | Profile | None = None,
        osm: str | Path | None = None,
        name: str = "cache",
    ) -> RoadGraph:
        """Read a graph written by :meth:`save` (the hierarchy is rebuilt).

        Reading runs no code from the file. With ``profile`` and ``osm`` the cache must
        have been built for that profile from that extract as it is now (same size and
        modification time).

        Raises
        ------
        InvalidInput
            The file cannot be read or is not a graph cache.
        StaleGraphCache
            The cache is of another format version, profile or extract.
        """
        from routing._cache import read_cache, source_of

        want = None if profile is None else get_profile(profile)
        source = None if osm is None else source_of(osm)
        net, limit, rules, built_from = read_cache(path, profile=want, source=source, name=name)
        graph = cls(net, snap_limit_m=limit, turn_rules=rules)
        graph.source = built_from
        return graph

    # -- look-ups -----------------------------------------------------------------
    @property
    def node_count(self) -> int:
        return self.net.node_count

    @property
    def edge_count(self) -> int:
        return self.net.edge_count

    def node_index(self, node_id: int, *, name: str = "node") -> int:
        """The internal index of an OSM node id."""
        try:
            return self._index[int(node_id)]
        except KeyError:
            msg = f"{name}={node_id!r} is not a node of the {self.profile.name!r} road graph"
            raise UnknownNode(msg) from None

    def signals(self) -> list[dict[str, Any]]:
        """The signalised junctions: id, member OSM nodes and position."""
        out = []
        for c, rep in enumerate(self.net.cluster_ids.tolist()):
            members = np.flatnonzero(self.net.cluster == c)
            out.append(
                {
                    "junction_id": int(rep),
                    "node_ids": [int(n) for n in self.net.osm_ids[members]],
                    "signal_node_ids": [
                        int(n) for n in self.net.osm_ids[members[self.net.signal_nodes[members]]]
                    ],
                    "lon": float(self.net.lon[members].mean()),
                    "lat": float(self.net.lat[members].mean()),
                }
            )
        return out

    def snap(self, point: Endpoint, *, name: str = "point") -> list[Snap]:
        """Snap an endpoint: the candidate edges (both directions of a street) or the node."""
        if isinstance(point, bool):
            msg = f"{name}={point!r} is not a (lon, lat) pair or an OSM node id"
            raise InvalidInput(msg)
        if isinstance(point, int | np.integer):
            v = self.node_index(int(point), name=name)
            pos = (float(self.net.lon[v]), float(self.net.lat[v]))
            return [Snap(pos, pos, None, 0.0, 0.0, "", node_id=int(point))]
        if isinstance(point, shapely.Point):
            point = (point.x, point.y)
        lon, lat = check_lonlat(point, name=name)
        return self.snapper.candidates(lon, lat, limit_m=self.snap_limit_m, name=name)

    # -- closures -----------------------------------------------------------------
    def add_closure(
        self,
        where: Any,
        *,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        reason: str = "",
        closure_id: str | None = None,
    ) -> Closure:
        """Close edges (OSM node pairs or a polygon) during ``[start, end)``.

        The closure counts from the next query on, for departures inside its window.
        """
        edges, geom = resolve_edges(self.net, self.snapper, where)
        t0 = None if start is None else parse_depart(start, name="start")
        t1 = None if end is None else parse_depart(end, name="end")
        cid = closure_id or f"closure-{next(self._closure_seq)}"
        closure = Closure(cid, edges, t0, t1, reason, geom)
        self._closures[cid] = closure
        log.info("closure %s: %d edges, %s to %s", cid, len(edges), t0, t1)
        return closure

    def remove_closure(self, closure_id: str) -> None:
        """Lift a closure."""
        if closure_id not in self._closures:
            msg = f"closure_id={closure_id!r} is not known; known: {sorted(self._closures)}"
            raise InvalidInput(msg)
        del self._closures[closure_id]

    @property
    def closures(self) -> list[Closure]:
        return list(self._closures.values())

    def _activate(self, at: datetime, avoid: Any) -> list[str]:
        active = [c for c in self._closures.values() if c.active(at)]
        blocked: set[int] = set()
        for c in active:
            blocked |= c.edges
        if avoid is not None:
            edges, _ = resolve_edges(self.net, self.snapper, avoid, name="avoid")
            blocked |= edges
        self.engine.set_blocked(blocked)
        return [c.closure_id for c in active]

    # -- routing ------------------------------------------------------------------
    def route(
        self,
        origin: Endpoint,
        destination: Endpoint,
        *,
        depart: datetime | str | None = None,
        avoid: Any = None,
        obey_restrictions: bool = False,
    ) -> Route:
        """The fastest route from ``origin`` to ``destination``.

        Parameters
        ----------
        origin, destination
            OSM node ids, (lon, lat) pairs in CRS84 or shapely Points.
        depart
            Departure time (datetime or RFC 3339 text); closures active then count.
            ``None`` is now.
        avoid
            A polygon (shapely or GeoJSON) or (u, v) OSM node pairs to avoid on this query.
        obey_restrictions
            Obey every turn restriction, even those the profile may turn against at a
            cost (the emergency vehicle's ``restricted_turn_s``): for a vehicle that
            cannot make those turns, or a service that forbids them.

        Raises
        ------
        PointNotOnNetwork
            An endpoint farther than the snap limit from every usable road (422).
        NoRoute
            No way leads from origin to destination (422).
        InvalidInput
            Malformed coordinates, node ids or departure time (400).
        """
        at = parse_depart(depart)
        o_snaps = self.snap(origin, name="origin")
        d_snaps = self.snap(destination, name="destination")
        closures = self._activate(at, avoid)
        self.engine.obey_restrictions(obey_restrictions)
        try:
            return self._route(o_snaps, d_snaps, depart=at, closures=closures)
        finally:
            self.engine.obey_restrictions(False)

    def _seeds(self, snaps: list[Snap], *, source: bool) -> list[tuple[Seed, Snap]]:
        eng = self.engine
        out: list[tuple[Seed, Snap]] = []
        for s in snaps:
            if s.edge is None:
                v = self._index[int(s.node_id)]  # type: ignore[arg-type]
                seeds = eng.node_sources(v) if source else eng.node_targets(v)
            elif source:
                seeds = eng.edge_sources(s.edge_index, s.fraction)
            else:
                seeds = eng.edge_targets(s.edge_index, s.fraction)
            out.extend((seed, s) for seed in seeds)
        return out

    def _route(
        self, o_snaps: list[Snap], d_snaps: list[Snap], *, depart: datetime, closures: list[str]
    ) -> Route:
        eng = self.engine
        src = self._seeds(o_snaps, source=True)
        dst = self._seeds(d_snaps, source=False)
        best: tuple[int, list[int], Snap, Snap] | None = None
        for so in o_snaps:
            for sd in d_snaps:
                e = so.edge_index
                if so.edge is None and sd.edge is None and so.node_id == sd.node_id:
                    best = (0, [], so, sd)  # already there
                # Both ends on one edge, the origin first: drive along it.
                elif so.edge is not None and e == sd.edge_index and so.fraction <= sd.fraction:
                    if e in eng.blocked:
                        continue
                    cost = round((sd.fraction - so.fraction) * int(eng.edge_ms[e]))
                    if best is None or cost < best[0]:
                        best = (cost, [], so, sd)
        dist, path = eng.shortest([s for s, _ in src], [t for t, _ in dst])
        if dist is not None and (best is None or dist < best[0]):
            so = next(s for (node, _), s in src if node == path[0])
            sd = min(((c, i, s) for i, ((node, c), s) in enumerate(dst) if node == path[-1]))[2]
            best = (dist, path, so, sd)
        if best is None:
            msg = (
                f"no route from origin={_show(o_snaps[0])} to destination="
                f"{_show(d_snaps[0])} for a {self.profile.name!r} vehicle"
                + (f" with closures {closures}" if closures else "")
                + (" obeying every turn restriction" if eng.obeying else "")
                + "; they are not connected (one-way streets, an island, or closed roads)"
            )
            raise NoRoute(msg)
        cost, path, so, sd = best
        return self._assemble(cost, path, so, sd, depart=depart, closures=closures)

    def _assemble(
        self,
        cost: int,
        path: list[int],
        so: Snap,
        sd: Snap,
        *,
        depart: datetime,
        closures: list[str],
    ) -> Route:
        edges: list[int] = list(path)
        fracs: list[tuple[float, float]] = [(0.0, 1.0)] * len(path)
        start_node: int | None = None
        if not path and so.edge is not None:
            edges, fracs = [so.edge_index], [(so.fraction, sd.fraction)]
        elif not path:
            start_node = self._index[int(so.node_id)]  # type: ignore[arg-type]
        else:
            if so.edge is not None:
                fracs[0] = (so.fraction, 1.0)
            else:
                start_node = int(self.net.tail[path[0]])
            if sd.edge is not None:
                edges.append(sd.edge_index)
                fracs.append((0.0, sd.fraction))
        return assemble(
            self.net,
            self.snapper,
            edges,
            fracs,
            cost_ms=cost,
            origin=so,
            destination=sd,
            depart=depart,
            closures=closures,
            start_node=start_node,
            edge_ms=self.engine.edge_ms,
            geo=self.geo,
            turn_ms=self.engine.turn_ms_along(edges),
            restricted=self.engine.restricted_turns,
        )

    def travel_time_ms(self, origin: int, destination: int) -> int | None:
        """Exact cost in ms between two OSM nodes (no closures re-evaluated), or None."""
        eng = self.engine
        o = self.node_index(origin, name="origin")
        d = self.node_index(destination, name="destination")
        return eng.shortest(eng.node_sources(o), eng.node_targets(d))[0]

    # -- export -------------------------------------------------------------------
    def to_networkx(self) -> nx.MultiDiGraph:
        """The graph as a networkx MultiDiGraph keyed by OSM node ids.

        Edges carry ``travel_time`` (seconds, the router's own weights including the
        expected signal delay), ``length``, ``name``, ``highway``, ``osmid`` and
        ``geometry``; nodes carry ``x``, ``y``, ``signal`` and ``junction`` (the
        signalised junction id or ``None``). Turn restrictions and the time of turns
        cannot be expressed in a node-keyed graph: the restrictions are listed in
        ``G.graph["turn_restrictions"]``.
        """
        import networkx as nx

        net = self.net
        g = nx.MultiDiGraph(crs="EPSG:4326", profile=self.profile.name)
        g.graph["turn_restrictions"] = [
            {
                "id": r.relation_id,
                "restriction": r.value,
                "from_way": r.from_way,
                "via_node": r.via_node,
                "to_way": r.to_way,
            }
            for r in net.restrictions
        ]
        for i, osm in enumerate(net.osm_ids.tolist()):
            c = int(net.cluster[i])
            g.add_node(
                osm,
                x=float(net.lon[i]),
                y=float(net.lat[i]),
                signal=bool(net.signal_nodes[i]),
                junction=None if c < 0 else int(net.cluster_ids[c]),
            )
        ms = self.engine.edge_ms
        for e in range(net.edge_count):
            ways = net.ways[e]
            g.add_edge(
                int(net.osm_ids[net.tail[e]]),
                int(net.osm_ids[net.head[e]]),
                travel_time=int(ms[e]) / 1000.0,
                length=float(net.length_m[e]),
                name=net.names[e],
                highway=net.highways[e],
                osmid=ways[0] if len(ways) == 1 else list(ways),
                geometry=shapely.LineString(net.edge_coords(e)),
                edge_index=e,
            )
        return g

    def edges_near(self, geometry: Any) -> list[int]:
        """Internal indices of the edges a CRS84 polygon touches."""
        return sorted(resolve_edges(self.net, self.snapper, geometry)[0])

    def __repr__(self) -> str:
        return (
            f"RoadGraph(profile={self.profile.name!r}, nodes={self.node_count}, "
            f"edges={self.edge_count}, signal_junctions={len(self.net.cluster_ids)})"
        )


def _show(s: Snap) -> str:
    return str(s.node_id) if s.edge is None else f"({s.query[0]}, {s.query[1]})"


def iter_edges(graph: RoadGraph, edges: Iterable[int]) -> list[tuple[int, int]]:
    """OSM node pairs of internal edges."""
    net = graph.net
    return [(int(net.osm_ids[net.tail[e]]), int(net.osm_ids[net.head[e]])) for e in edges]
