"""Road closures: a set of edges (given as OSM node pairs or a polygon) and a time window.

A closure counts for routes departing inside its window ``[start, end)``; an open end
means "from now on" or "until lifted". A polygon closes every edge it touches. The
twin keeps closures in its ``road_closures`` collection; :func:`sync_store_closures`
makes a graph's closures those (``POST /routes`` and ``twin routing route --db`` use it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
import shapely.validation
from shapely.geometry.base import BaseGeometry

from twin.errors import GeometryError, InvalidInput, InvalidInterval, TwinError

if TYPE_CHECKING:
    from routing._build import Net
    from routing.graph import RoadGraph
    from routing.snap import Snapper
    from twin.store import Store

__all__ = ["CLOSURES_COLLECTION", "Closure", "resolve_edges", "sync_store_closures"]

log = logging.getLogger(__name__)

#: The collection of the twin that holds the closures routing honours.
CLOSURES_COLLECTION = "road_closures"


@dataclass(frozen=True)
class Closure:
    """A closure of some edges during a time window.

    Attributes
    ----------
    closure_id
        Its id, unique in a graph.
    edges
        Internal indices of the closed edges.
    start, end
        The window; ``None`` leaves that side open.
    reason
        Free text (``"incident"``, ``"works"``).
    geometry
        The polygon it was given as, if any (CRS84).
    """

    closure_id: str
    edges: frozenset[int]
    start: datetime | None = None
    end: datetime | None = None
    reason: str = ""
    geometry: BaseGeometry | None = None

    def __post_init__(self) -> None:
        if self.start is not None and self.end is not None and self.end <= self.start:
            msg = (
                f"end={self.end.isoformat()!r} is not after start={self.start.isoformat()!r}; "
                "a closure window must have end > start"
            )
            raise InvalidInterval(msg)

    def active(self, at: datetime) -> bool:
        """Whether a route departing at ``at`` must avoid this closure."""
        if self.start is not None and at < self.start:
            return False
        return self.end is None or at < self.end

    def to_dict(self, net: Net) -> dict[str, Any]:
        """Plain data for JSON; edges as OSM node pairs."""
        return {
            "id": self.closure_id,
            "edges": sorted(
                [int(net.osm_ids[net.tail[e]]), int(net.osm_ids[net.head[e]])] for e in self.edges
            ),
            "start": None if self.start is None else self.start.isoformat(),
            "end": None if self.end is None else self.end.isoformat(),
            "reason": self.reason,
        }


def _as_geometry(where: Any) -> BaseGeometry | None:
    if isinstance(where, BaseGeometry):
        return where
    if isinstance(where, Mapping) and "type" in where:
        try:
            return shapely.geometry.shape(where)
        except Exception as exc:
            msg = f"closure geometry {dict(where)!r} is not GeoJSON: {exc}"
            raise GeometryError(msg) from exc
    return None


def resolve_edges(
    net: Net, snapper: Snapper, where: Any, *, name: str = "closure"
) -> tuple[frozenset[int], BaseGeometry | None]:
    """Turn a polygon (shapely or GeoJSON, CRS84) or OSM node pairs into edge indices.

    Node pairs ``(u, v)`` close the directed edges from ``u`` to ``v``; a polygon closes
    every edge it intersects, both directions.
    """
    geom = _as_geometry(where)
    if geom is not None:
        if geom.geom_type not in {"Polygon", "MultiPolygon"}:
            msg = f"{name} geometry is a {geom.geom_type}; give a Polygon or a MultiPolygon"
            raise GeometryError(msg)
        if not geom.is_valid:
            why = shapely.validation.explain_validity(geom)
            msg = f"{name} polygon is invalid ({why}); fix it, for example with make_valid"
            raise GeometryError(msg)
        if geom.is_empty:
            msg = f"{name} polygon is empty"
            raise GeometryError(msg)
        lons = shapely.get_coordinates(geom)[:, 0]
        lats = shapely.get_coordinates(geom)[:, 1]
        if abs(lons).max() > 180 or abs(lats).max() > 90:
            msg = f"{name} polygon is outside CRS84; coordinates are (lon, lat)"
            raise GeometryError(msg)
        xy = snapper.area_to_xy(geom)
        if xy.is_empty:
            return frozenset(), geom  # nowhere near a road
        hits = snapper.tree.query(xy, predicate="intersects")
        return frozenset(int(e) for e in hits), geom
    pairs = _pairs(where, name=name)
    tail_ids, head_ids = net.osm_ids[net.tail], net.osm_ids[net.head]
    found: set[int] = set()
    missing: list[tuple[int, int]] = []
    for u, v in pairs:
        hits = np.flatnonzero((tail_ids == u) & (head_ids == v))
        if len(hits) == 0:
            missing.append((u, v))
        found.update(int(e) for e in hits)
    if missing:
        msg = f"{name} edges {missing[:5]!r} are not edges of the road graph (OSM node pairs u, v)"
        raise InvalidInput(msg)
    return frozenset(found), None


def _pairs(where: Any, *, name: str) -> list[tuple[int, int]]:
    if not isinstance(where, Iterable) or isinstance(where, str | bytes):
        msg = f"{name}={where!r} is neither a polygon nor a list of (u, v) OSM node pairs"
        raise InvalidInput(msg)
    out: list[tuple[int, int]] = []
    for item in where:
        try:
            u, v = item
            out.append((int(u), int(v)))
        except (TypeError, ValueError):
            msg = f"{name} edge {item!r} is not a (u, v) pair of OSM node ids"
            raise InvalidInput(msg) from None
    if not out:
        msg = f"{name} lists no edge"
        raise InvalidInput(msg)
    return out


def closures_spec() -> Any:
    """The ``road_closures`` collection: closures that dispatchers and operators post.

    Every current feature closes the roads its polygon touches for routes departing in
    ``[starts_at, ends_at)`` (an empty side is open); retiring the feature lifts it.
    """
    from twin.store import CollectionSpec, Field, FieldType

    return CollectionSpec(
        name=CLOSURES_COLLECTION,
        title="Road closures",
        description=(
            "Closures and incidents: every road the polygon touches is closed to routes "
            "departing inside [starts_at, ends_at); an empty side leaves the window open. "
            "A new or changed closure counts from the next route request on."
        ),
        geometry_type="Geometry",
        fields=(
            Field("reason", FieldType.STRING, "why: incident, works, event ..."),
            Field("starts_at", FieldType.STRING, "RFC 3339 start of the closure, or empty"),
            Field("ends_at", FieldType.STRING, "RFC 3339 end of the closure, or empty"),
        ),
        keywords=("closures", "incidents", "routing"),
    )


def check_closure_write(old: Any, new: Any, actor: str) -> None:
    """Refuse a ``road_closures`` feature that could not close anything (400).

    Its geometry must be a valid polygon and its window readable, with the end after
    the start; retiring one (``new`` is None) is always allowed.
    """
    from routing.graph import parse_depart

    if new is None:
        return
    geom = new.geometry
    if geom is None or geom.geom_type not in ("Polygon", "MultiPolygon"):
        got = None if geom is None else geom.geom_type
        msg = f"a road closure needs a Polygon or MultiPolygon geometry, got {got!r}"
        raise GeometryError(msg)
    if geom.is_empty or not geom.is_valid:
        why = "it is empty" if geom.is_empty else shapely.validation.explain_validity(geom)
        msg = f"the road closure's polygon is not valid ({why})"
        raise GeometryError(msg)
    props = new.properties
    times = {}
    for key in ("starts_at", "ends_at"):
        value = props.get(key)
        if value not in (None, ""):
            times[key] = parse_depart(str(value), name=key)
    if len(times) == 2 and times["ends_at"] <= times["starts_at"]:
        msg = (
            f"ends_at={props['ends_at']!r} is not after starts_at={props['starts_at']!r}; "
            "a closure window must end after it starts"
        )
        raise InvalidInterval(msg)


def sync_store_closures(
    graph: RoadGraph, store: Store, *, warned: set[tuple[str, str]] | None = None
) -> None:
    """Make the graph's closures those of the twin's ``road_closures`` collection now.

    Closures the graph got from the store before (ids ``store:<feature id>``) that the
    store no longer holds are lifted, changed ones replaced; closures added otherwise are
    left alone. A twin without the collection has no closures.

    A stored closure that cannot close anything (a window that is unreadable or ends
    before it starts, a geometry that is not a valid CRS84 polygon; the Python store API
    does not check them as HTTP writes are) is left out with a warning naming its id, so
    one bad record does not stop routing; the valid ones still count. With ``warned`` (a
    set shared by the graphs of one service, one per worker thread) the warning is given
    once per record version, not once per graph.
    """
    from twin.store.base import Query

    if CLOSURES_COLLECTION not in {c.name for c in store.collections()}:
        return
    res = store.query(CLOSURES_COLLECTION, Query(limit=10000))
    wanted = {f"store:{fv.id}": fv for fv in res.features if fv.geometry is not None}
    for closure in graph.closures:
        cid = closure.closure_id
        if cid.startswith("store:") and cid not in wanted:
            graph.remove_closure(cid)
    have = {c.closure_id: c for c in graph.closures}
    seen: dict[str, str] = getattr(graph, "_store_closure_hash", {})
    for cid, fv in wanted.items():
        if seen.get(cid) == fv.hash:
            continue  # applied, or skipped as malformed, at this version already
        if cid in have:
            graph.remove_closure(cid)
        props = fv.properties
        try:
            graph.add_closure(
                fv.geometry,
                start=_closure_time(props.get("starts_at")),
                end=_closure_time(props.get("ends_at")),
                reason=str(props.get("reason") or ""),
                closure_id=cid,
            )
        except (TwinError, ValueError, TypeError) as exc:
            if warned is None or (cid, fv.hash) not in warned:
                log.warning("road closure %s is malformed and left out of routing: %s", fv.id, exc)
            if warned is not None:
                warned.add((cid, fv.hash))
        seen[cid] = fv.hash
    for cid in set(seen) - set(wanted):
        del seen[cid]
    graph._store_closure_hash = seen  # type: ignore[attr-defined]


def _closure_time(value: Any) -> str | None:
    """A stored ``starts_at``/``ends_at``: empty is open, anything else is parsed as text."""
    return None if value in (None, "") else str(value)
