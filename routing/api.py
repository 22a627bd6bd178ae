"""OGC API - Routes (draft OGC 21-000) on the twin's road graph, with the green wave.

``POST /routes`` computes a route from a route definition and answers with the Route
Exchange Model (draft OGC 21-001): a GeoJSON FeatureCollection of an ``overview``, a
``start``, one ``segment`` per manoeuvre and an ``end``, with ``length_m``,
``duration_s``, ``roadName`` and ``instructions``. For the emergency profile the signal
preemption plan along the route comes with it as ``signalPlan``.

A route definition, as the draft has it::

    {"inputs": {
        "waypoints": {"value": {"type": "MultiPoint",
                                "coordinates": [[24.94, 60.17], [24.95, 60.18]]}},
        "preference": "fastest",
        "mode": "emergency",
        "obstacles": {"value": {"type": "MultiPolygon", "coordinates": [...]}},
        "when": {"timestamp": "2026-12-01T08:00:00Z", "type": "departure"},
        "name": "Engine 3 to incident 4711"}}

Waypoints past the first two are intermediate stops, in order. Obstacles are polygons
to keep out of. ``when`` sets the departure, or with ``"type": "arrival"`` the time to
arrive by; without ``when`` the route departs now (``null`` is refused, as is any key
besides ``timestamp`` and ``type``). ``name`` is non-blank text of at most 200
characters without control characters or emoji (``"route"`` when not given). Closures
posted to the ``road_closures`` collection count for every route departing inside their
window, from the next request on.

Computed routes are kept (the most recent :data:`MAX_KEPT`): ``GET /routes`` lists them,
``GET /routes/{routeId}`` returns one and ``DELETE /routes/{routeId}`` drops it.
Computing, listing and reading routes need no key (dispatchers' clients route without
one); dropping a route is a write and needs an API key with the editor role (401
without a key, 403 with a reader's).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import threading
import uuid
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import numpy as np
import shapely
from shapely.geometry import LineString, mapping, shape
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route as HttpRoute

from routing._text import check_name
from routing.graph import RoadGraph, dates_in_range, parse_depart
from routing.route import Route
from twin.errors import FeatureNotFound, GeometryError, InvalidInput, TwinError
from twin.plugins import HttpApi
from twin.service.auth import Role
from twin.service.extension import ServiceContext, endpoint, json_body

__all__ = ["CONFORMANCE", "MAX_KEPT", "MAX_WAYPOINTS", "http_api", "plan_route"]

log = logging.getLogger(__name__)

_DRAFT = "http://www.opengis.net/spec/ogcapi-routes-1/1.0.0-draft.1/conf"
#: Conformance classes of the draft that ``/routes`` implements.
CONFORMANCE = (
    f"{_DRAFT}/core",
    f"{_DRAFT}/intermediate-waypoints",
    f"{_DRAFT}/obstacles",
    f"{_DRAFT}/time",
    f"{_DRAFT}/manage-routes",
    "http://www.opengis.net/spec/rem/1.0.0-draft.1/conf/core",
)
#: Computed routes kept for ``GET /routes/{routeId}``.
MAX_KEPT = 500
#: Most waypoints in one route definition.
MAX_WAYPOINTS = 25
GEOJSON = "application/geo+json"
_MODES = ("car", "emergency")
_PREFERENCES = ("fastest",)
_KNOWN_INPUTS = {"waypoints", "preference", "mode", "obstacles", "when", "name", "greenWave"}
_WHEN_KEYS = {"timestamp", "type"}
_CLOSURES = "road_closures"
_EXAMPLE_TIME = "2026-12-01T08:00:00Z"


# -- the route definition ------------------------------------------------------------------
def _value(obj: Any, name: str) -> Any:
    """A draft input is ``{"value": ...}``; the bare value is accepted too."""
    if isinstance(obj, dict) and "value" in obj and "type" not in obj:
        return obj["value"]
    return obj


def _waypoints(inputs: dict[str, Any]) -> list[tuple[float, float]]:
    raw = _value(inputs.get("waypoints"), "waypoints")
    if raw is None:
        msg = "inputs.waypoints is required: a GeoJSON MultiPoint of at least two [lon, lat]"
        raise InvalidInput(msg)
    coords = raw.get("coordinates") if isinstance(raw, dict) else raw
    if isinstance(raw, dict) and raw.get("type") not in (None, "MultiPoint"):
        msg = f"inputs.waypoints must be a GeoJSON MultiPoint, got type {raw.get('type')!r}"
        raise InvalidInput(msg)
    if not isinstance(coords, list) or len(coords) < 2:
        msg = "inputs.waypoints must hold at least two positions [lon, lat]"
        raise InvalidInput(msg)
    if len(coords) > MAX_WAYPOINTS:
        msg = f"inputs.waypoints has {len(coords)} positions; at most {MAX_WAYPOINTS} are accepted"
        raise InvalidInput(msg)
    out: list[tuple[float, float]] = []
    for i, c in enumerate(coords):
        ok = (
            isinstance(c, list)
            and len(c) in (2, 3)
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in c)
        )
        if not ok:
            msg = f"inputs.waypoints position {i} is {c!r}; expected [lon, lat] numbers (CRS84)"
            raise InvalidInput(msg)
        lon, lat = float(c[0]), float(c[1])
        if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
            msg = (
                f"inputs.waypoints position {i} = [{lon}, {lat}] is outside CRS84 "
                "(longitude -180..180 first, then latitude -90..90)"
            )
            raise InvalidInput(msg)
        out.append((lon, lat))
    return out


def _obstacles(inputs: dict[str, Any]) -> Any:
    raw = _value(inputs.get("obstacles"), "obstacles")
    if raw is None:
        return None
    if not isinstance(raw, dict) or raw.get("type") not in ("Polygon", "MultiPolygon"):
        msg = "inputs.obstacles must be a GeoJSON Polygon or MultiPolygon (CRS84)"
        raise InvalidInput(msg)
    try:
        geom = shape(raw)
    except Exception as exc:
        msg = f"inputs.obstacles is not a readable polygon: {exc}"
        raise GeometryError(msg) from None
    if geom.is_empty or not geom.is_valid:
        why = shapely.is_valid_reason(geom) if not geom.is_empty else "it is empty"
        msg = f"inputs.obstacles is not a valid polygon ({why})"
        raise GeometryError(msg)
    return geom


def _when(inputs: dict[str, Any]) -> tuple[datetime, str]:
    """The time and its kind; only a route definition without ``when`` departs now."""
    if "when" not in inputs:
        return datetime.now(UTC), "departure"
    raw = inputs["when"]
    if not isinstance(raw, dict) or "timestamp" not in raw:
        msg = 'inputs.when must be {"timestamp": RFC 3339 text, "type": "departure"|"arrival"}'
        raise InvalidInput(msg)
    unknown = sorted(set(raw) - _WHEN_KEYS)
    if unknown:
        msg = f"inputs.when has {unknown}, not understood; known: {sorted(_WHEN_KEYS)}"
        raise InvalidInput(msg)
    stamp = raw["timestamp"]
    if not isinstance(stamp, str):
        msg = f"inputs.when.timestamp={stamp!r} must be RFC 3339 text such as '{_EXAMPLE_TIME}'"
        raise InvalidInput(msg)
    kind = raw.get("type", "departure")
    if kind not in ("departure", "arrival"):
        msg = f"inputs.when.type is {kind!r}; use 'departure' or 'arrival'"
        raise InvalidInput(msg)
    return parse_depart(stamp, name="inputs.when.timestamp"), str(kind)


def _choice(inputs: dict[str, Any], key: str, allowed: tuple[str, ...], default: str) -> str:
    value = inputs.get(key, default)
    if value not in allowed:
        msg = f"inputs.{key} is {value!r}; choose one of {list(allowed)}"
        raise InvalidInput(msg)
    return str(value)


def _definition(doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict) or not isinstance(doc.get("inputs"), dict):
        msg = 'a route definition is a JSON object {"inputs": {"waypoints": ...}}'
        raise InvalidInput(msg)
    inputs: dict[str, Any] = doc["inputs"]
    unknown = sorted(set(inputs) - _KNOWN_INPUTS)
    if unknown:
        msg = f"inputs {unknown} are not understood; known: {sorted(_KNOWN_INPUTS)}"
        raise InvalidInput(msg)
    if "name" in inputs:
        check_name(inputs["name"], name="inputs.name")
    green = inputs.get("greenWave")
    if green is not None and not isinstance(green, bool):
        msg = "inputs.greenWave must be true or false"
        raise InvalidInput(msg)
    return inputs


# -- computing -------------------------------------------------------------------------
def _legs(
    graph: RoadGraph, points: list[tuple[float, float]], depart: datetime, avoid: Any
) -> list[Route]:
    legs: list[Route] = []
    at = depart
    for a, b in itertools.pairwise(points):
        leg = graph.route(a, b, depart=at, avoid=avoid)
        legs.append(leg)
        at = at + timedelta(seconds=leg.travel_time_s)
    return legs


def plan_route(
    graph: RoadGraph,
    points: list[tuple[float, float]],
    *,
    when: datetime,
    kind: str = "departure",
    avoid: Any = None,
    green_wave: bool = False,
) -> tuple[list[Route], datetime, list[Any]]:
    """Route through ``points`` in order; for ``kind="arrival"`` arrive by ``when``.

    Returns the legs, the departure time and, with ``green_wave``, one signal plan per leg.

    Raises
    ------
    OverflowError
        When a time of the route falls outside the calendar (years 1 to 9999): ``when``
        is too near one of its ends. :func:`routing.graph.dates_in_range` reports it as
        a bad input.
    """
    from routing.greenwave import plan_green_wave

    depart = when
    legs = _legs(graph, points, depart, avoid)
    if kind == "arrival":
        # Closures depend on the time: settle the departure in a few rounds.
        for _ in range(3):
            total = sum(leg.travel_time_s for leg in legs)
            new = when - timedelta(seconds=total)
            if abs((new - depart).total_seconds()) < 0.001:
                break
            depart = new
            legs = _legs(graph, points, depart, avoid)
    plans: list[Any] = []
    if green_wave:
        at = depart
        for leg in legs:
            plan = plan_green_wave(graph, leg, depart=at)
            plans.append(plan)
            at = at + timedelta(seconds=plan.eta_preemption_s)
    return legs, depart, plans


# -- the Route Exchange Model ------------------------------------------------------------
def _segments(leg: Route) -> list[tuple[Any, Any]]:
    """Each step with its stretch of the leg's line.

    The line is measured once in the city's metric CRS; each step's stretch is cut by
    its share of the length, interpolating between the original CRS84 vertices.
    """
    from twin.crs import local_metric_crs, transform_geometry

    line = leg.geometry
    if line.is_empty or line.length == 0:
        return [(s, line) for s in leg.steps]
    lonlat = np.asarray(line.coords)[:, :2]
    xy = np.asarray(transform_geometry(line, "OGC:CRS84", local_metric_crs(line.bounds)).coords)[
        :, :2
    ]
    cum = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
    total = sum(s.length_m for s in leg.steps) or 1.0
    scale = float(cum[-1]) / total

    def at(d: float) -> list[float]:
        return [float(np.interp(d, cum, lonlat[:, 0])), float(np.interp(d, cum, lonlat[:, 1]))]

    out = []
    pos = 0.0
    for s in leg.steps:
        end = min(pos + s.length_m * scale, float(cum[-1]))
        if end - pos <= 1e-6:
            geom: Any = shapely.Point(s.location)
        else:
            inner = lonlat[(cum > pos) & (cum < end)].tolist()
            geom = LineString([at(pos), *inner, at(end)])
        out.append((s, geom))
        pos = end
    return out


def _round_line(geom: Any) -> dict[str, Any]:
    return mapping(shapely.set_precision(geom, 1e-7)) if not geom.is_empty else mapping(geom)


def exchange_model(
    name: str,
    legs: list[Route],
    depart: datetime,
    plans: list[Any],
    *,
    route_id: str,
    base_url: str,
    mode: str,
) -> dict[str, Any]:
    """A computed route as the Route Exchange Model (GeoJSON FeatureCollection)."""
    coords: list[Any] = []
    for leg in legs:
        part = list(leg.geometry.coords)
        coords.extend(part[1:] if coords and part and coords[-1] == part[0] else part)
    overview_geom = LineString(coords) if len(coords) >= 2 else shapely.Point(coords[0])
    length = sum(leg.length_m for leg in legs)
    duration = sum(leg.travel_time_s for leg in legs)
    arrival = depart + timedelta(seconds=duration)
    fid = iter(range(1, 1_000_000))
    features: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "id": next(fid),
            "geometry": _round_line(overview_geom),
            "properties": {
                "featureType": "overview",
                "length_m": round(length, 1),
                "duration_s": round(duration, 1),
                "departure": depart.isoformat(),
                "arrival": arrival.isoformat(),
                "mode": mode,
                "nodeIds": [n for leg in legs for n in leg.node_ids],
                "closures": sorted({c for leg in legs for c in leg.closures}),
            },
        },
        {
            "type": "Feature",
            "id": next(fid),
            "geometry": mapping(shapely.Point(legs[0].origin.point)),
            "properties": {
                "featureType": "start",
                "name": legs[0].origin.road_name,
                "snap": legs[0].origin.to_dict(),
            },
        },
    ]
    for i, leg in enumerate(legs):
        for step, geom in _segments(leg):
            features.append(
                {
                    "type": "Feature",
                    "id": next(fid),
                    "geometry": _round_line(geom),
                    "properties": {
                        "featureType": "segment",
                        "leg": i,
                        "length_m": round(step.length_m, 1),
                        "duration_s": round(step.duration_s, 1),
                        "roadName": step.road_name,
                        "instructions": step.instruction,
                        "maneuver": step.maneuver,
                        "modifier": step.modifier,
                        "nodeId": step.node_id,
                    },
                }
            )
    features.append(
        {
            "type": "Feature",
            "id": next(fid),
            "geometry": mapping(shapely.Point(legs[-1].destination.point)),
            "properties": {
                "featureType": "end",
                "name": legs[-1].destination.road_name,
                "snap": legs[-1].destination.to_dict(),
            },
        }
    )
    doc: dict[str, Any] = {
        "type": "FeatureCollection",
        "name": name,
        "status": "successful",
        "id": route_id,
        "features": features,
        "links": [
            {"rel": "self", "type": GEOJSON, "href": f"{base_url}/routes/{route_id}"},
        ],
    }
    if plans:
        signals = [s for p in plans for s in p.to_dict()["signals"]]
        no_pre = sum(p.eta_no_preemption_s for p in plans)
        pre = sum(p.eta_preemption_s for p in plans)
        doc["signalPlan"] = {
            "departure": depart.isoformat(),
            "eta_no_preemption_s": round(no_pre, 2),
            "eta_preemption_s": round(pre, 2),
            "time_saved_s": round(no_pre - pre, 2),
            "arrival_no_preemption": (depart + timedelta(seconds=no_pre)).isoformat(),
            "arrival_preemption": (depart + timedelta(seconds=pre)).isoformat(),
            "signals": signals,
            "plan_ids": [p.plan_id for p in plans],
        }
    return doc


# -- the service side ----------------------------------------------------------------------
class _Kept:
    """The most recent computed routes, by id."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.routes: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def put(self, route_id: str, doc: dict[str, Any]) -> None:
        with self.lock:
            self.routes[route_id] = doc
            while len(self.routes) > MAX_KEPT:
                self.routes.popitem(last=False)

    def get(self, route_id: str) -> dict[str, Any]:
        with self.lock:
            doc = self.routes.get(route_id)
        if doc is None:
            msg = f"route {route_id!r} is not known (or no longer kept)"
            raise FeatureNotFound(msg)
        return doc

    def drop(self, route_id: str) -> None:
        with self.lock:
            if self.routes.pop(route_id, None) is None:
                msg = f"route {route_id!r} is not known (or no longer kept)"
                raise FeatureNotFound(msg)


def _kept(ctx: ServiceContext) -> _Kept:
    with ctx.lock:
        kept = ctx.cache.get("routing.routes")
        if kept is None:
            kept = ctx.cache["routing.routes"] = _Kept()
    return cast("_Kept", kept)


def _graph_lock(ctx: ServiceContext, mode: str) -> threading.Lock:
    with ctx.lock:
        lock = ctx.cache.get(f"routing.lock.{mode}")
        if lock is None:
            lock = ctx.cache[f"routing.lock.{mode}"] = threading.Lock()
    return cast("threading.Lock", lock)


def sync_closures(graph: RoadGraph, ctx: ServiceContext) -> None:
    """Make the graph's closures those of the ``road_closures`` collection now.

    A stored closure that cannot close anything (a window that is unreadable or ends
    before it starts, a geometry that is not a valid CRS84 polygon; the Python store API
    does not check them as HTTP writes are) is left out with a warning naming its id, so
    one bad record does not stop routing; the valid ones still count.
    """
    from twin.store.base import Query

    store = ctx.store
    if _CLOSURES not in {c.name for c in store.collections()}:
        return
    res = store.query(_CLOSURES, Query(limit=10000))
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
            log.warning("road closure %s is malformed and left out of routing: %s", fv.id, exc)
        seen[cid] = fv.hash
    for cid in set(seen) - set(wanted):
        del seen[cid]
    graph._store_closure_hash = seen  # type: ignore[attr-defined]


def _closure_time(value: Any) -> str | None:
    """A stored ``starts_at``/``ends_at``: empty is open, anything else is parsed as text."""
    return None if value in (None, "") else str(value)


def _compute(ctx: ServiceContext, inputs: dict[str, Any]) -> dict[str, Any]:
    from routing.service_graph import graph_for

    points = _waypoints(inputs)
    avoid = _obstacles(inputs)
    when, kind = _when(inputs)
    mode = _choice(inputs, "mode", _MODES, "emergency")
    _choice(inputs, "preference", _PREFERENCES, "fastest")
    green = inputs.get("greenWave")
    green_wave = (mode == "emergency") if green is None else bool(green)
    graph = graph_for(ctx.store, mode)
    route_id = uuid.uuid4().hex[:16]
    with dates_in_range(when, name="inputs.when.timestamp", what="route"):
        with _graph_lock(ctx, mode):
            sync_closures(graph, ctx)
            legs, depart, plans = plan_route(
                graph, points, when=when, kind=kind, avoid=avoid, green_wave=green_wave
            )
        doc = exchange_model(
            str(inputs.get("name", "route")),
            legs,
            depart,
            plans,
            route_id=route_id,
            base_url=ctx.base_url,
            mode=mode,
        )
    _kept(ctx).put(route_id, doc)
    return doc


async def _routes(request: Request, ctx: ServiceContext) -> Response:
    if request.method == "POST":
        inputs = _definition(await json_body(request))
        doc = await asyncio.to_thread(_compute, ctx, inputs)
        return Response(
            json.dumps(doc, ensure_ascii=False),
            media_type=GEOJSON,
            headers={"Location": f"{ctx.base_url}/routes/{doc['id']}"},
        )
    kept = _kept(ctx)
    with kept.lock:
        ids = list(kept.routes)
    return JSONResponse(
        {
            "links": [
                {"rel": "self", "type": "application/json", "href": f"{ctx.base_url}/routes"},
                *[
                    {
                        "rel": "item",
                        "type": GEOJSON,
                        "title": kept.routes.get(i, {}).get("name", i),
                        "href": f"{ctx.base_url}/routes/{i}",
                    }
                    for i in reversed(ids)
                ],
            ]
        }
    )


async def _route(request: Request, ctx: ServiceContext) -> Response:
    route_id = request.path_params["route_id"]
    kept = _kept(ctx)
    if request.method == "DELETE":
        ctx.require(Role.EDITOR, action="dropping a route")
        kept.drop(route_id)
        return Response(status_code=204)
    return Response(json.dumps(kept.get(route_id), ensure_ascii=False), media_type=GEOJSON)


def _openapi_paths() -> dict[str, Any]:
    errors = {
        "400": {"description": "A malformed route definition; the message names the problem."},
        "422": {"description": "No route: a waypoint is off the network, or unreachable."},
    }
    return {
        "/routes": {
            "get": {
                "summary": "The routes computed recently",
                "tags": ["routes"],
                "responses": {"200": {"description": "Links to the kept routes."}},
            },
            "post": {
                "summary": "Compute a route (with its green wave for the emergency mode)",
                "tags": ["routes"],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "responses": {
                    "200": {"description": "The route, Route Exchange Model (GeoJSON)."},
                    **errors,
                },
            },
        },
        "/routes/{routeId}": {
            "parameters": [
                {"name": "routeId", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "get": {
                "summary": "A computed route",
                "tags": ["routes"],
                "responses": {"200": {"description": "The route."}, "404": {"description": "-"}},
            },
            "delete": {
                "summary": "Forget a computed route (editor key)",
                "tags": ["routes"],
                "security": [{"ApiKey": []}],
                "responses": {
                    "204": {"description": "Gone."},
                    "401": {"$ref": "#/components/responses/Unauthorized"},
                    "403": {"$ref": "#/components/responses/Forbidden"},
                    "404": {"description": "-"},
                },
            },
        },
    }


def http_api() -> HttpApi:
    """The routing package's endpoints for the service."""
    return HttpApi(
        routes=[
            HttpRoute("/routes", endpoint(_routes), methods=["GET", "POST"]),
            HttpRoute("/routes/{route_id}", endpoint(_route), methods=["GET", "DELETE"]),
        ],
        conformance=CONFORMANCE,
        links=[
            {
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/routes",
                "type": "application/json",
                "title": "Routes (with green-wave signal plans)",
                "href": "/routes",
            }
        ],
        openapi_paths=_openapi_paths(),
    )
