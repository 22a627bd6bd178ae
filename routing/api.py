"""OGC API - Routes (draft OGC 21-000) on the twin's road graph, with the green wave.

``POST /routes`` computes a route from a route definition and answers with the Route
Exchange Model (draft OGC 21-001): a GeoJSON FeatureCollection of an ``overview``, a
``start``, one ``segment`` per manoeuvre and an ``end``, with ``length_m``,
``duration_s``, ``roadName``, ``instructions`` and ``restriction`` (the OSM turn
restriction an emergency vehicle's manoeuvre departs from, else null). For the emergency
profile the signal preemption plan along the route comes with it as ``signalPlan``.

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
to keep out of. ``obeyTurnRestrictions: true`` bans the turns against a restriction
that the emergency mode otherwise takes with care when they save time (for a vehicle
that cannot make them); ``greenWave`` turns the signal plan on or off. ``when`` sets
the departure, or with ``"type": "arrival"`` the time to
arrive by; without ``when`` the route departs now (``null`` is refused, as is any key
besides ``timestamp`` and ``type``). ``name`` is non-blank text of at most 200
characters without control characters or emoji (``"route"`` when not given). Closures
posted to the ``road_closures`` collection count for every route departing inside their
window, from the next request on.

Computed routes are kept (the most recent :data:`MAX_KEPT`): ``GET /routes`` lists them,
``GET /routes/{routeId}`` returns one and ``DELETE /routes/{routeId}`` drops it. Both GETs
answer HTML too (``f=html``, or a browser's ``Accept``): the list as a table, a route on a
map with its steps and signal plan (:mod:`routing._route_html`). Computing, listing and reading routes need no key (dispatchers' clients route without
one); dropping a route is a write and needs an API key with the editor role (401
without a key, 403 with a reader's).

This module computes routes and serves the endpoints; the route definition is read in
:mod:`routing._route_definition` and the answer written in :mod:`routing._exchange_model`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import threading
import uuid
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route as HttpRoute

from routing._exchange_model import GEOJSON, exchange_model
from routing._route_definition import (
    MAX_WAYPOINTS,
    MODES,
    PREFERENCES,
    read_choice,
    read_definition,
    read_obstacles,
    read_waypoints,
    read_when,
)
from routing._route_html import route_page, routes_page
from routing.errors import NoRoute
from routing.graph import RoadGraph, dates_in_range
from routing.route import Route
from twin.errors import FeatureNotFound, InvalidInput
from twin.plugins import HttpApi
from twin.service.auth import Role
from twin.service.errors import UnknownParameter
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


# -- computing -------------------------------------------------------------------------
def _legs(
    graph: RoadGraph,
    points: list[tuple[float, float]],
    depart: datetime,
    avoid: Any,
    obey: bool,
) -> list[Route]:
    last = len(points) - 1
    names = ["origin", *(f"waypoint {i + 1}" for i in range(1, last)), "destination"]
    for point, name in zip(points, names, strict=True):
        graph.snap(point, name=name)  # a point off the roads is named as the request has it
    legs: list[Route] = []
    at = depart
    for k, (a, b) in enumerate(itertools.pairwise(points)):
        try:
            leg = graph.route(a, b, depart=at, avoid=avoid, obey_restrictions=obey)
        except NoRoute as exc:
            if last == 1:
                raise
            msg = f"no route from {names[k]} to {names[k + 1]}: {exc.msg}"
            raise NoRoute(msg) from None
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
    obey_restrictions: bool = False,
) -> tuple[list[Route], datetime, list[Any]]:
    """Route through ``points`` in order; for ``kind="arrival"`` arrive by ``when``;
    with ``obey_restrictions`` every turn restriction is obeyed.

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
    legs = _legs(graph, points, depart, avoid, obey_restrictions)
    if kind == "arrival":
        # Closures depend on the time: settle the departure in a few rounds.
        for _ in range(3):
            total = sum(leg.travel_time_s for leg in legs)
            new = when - timedelta(seconds=total)
            if abs((new - depart).total_seconds()) < 0.001:
                break
            depart = new
            legs = _legs(graph, points, depart, avoid, obey_restrictions)
    plans: list[Any] = []
    if green_wave:
        at = depart
        for leg in legs:
            plan = plan_green_wave(graph, leg, depart=at)
            plans.append(plan)
            at = at + timedelta(seconds=plan.eta_preemption_s)
    return legs, depart, plans


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


def _compute(ctx: ServiceContext, inputs: dict[str, Any]) -> dict[str, Any]:
    from routing.closures import sync_store_closures
    from routing.service_graph import graph_for

    points = read_waypoints(inputs)
    avoid = read_obstacles(inputs)
    when, kind = read_when(inputs)
    mode = read_choice(inputs, "mode", MODES, "emergency")
    read_choice(inputs, "preference", PREFERENCES, "fastest")
    green = inputs.get("greenWave")
    green_wave = (mode == "emergency") if green is None else bool(green)
    graph = graph_for(ctx.store, mode, at=when)  # the roads as they were at that time
    route_id = uuid.uuid4().hex[:16]
    with dates_in_range(when, name="inputs.when.timestamp", what="route"):
        with _graph_lock(ctx, mode):
            # Each worker thread has a graph of its own: a bad closure is named once.
            warned = ctx.cache.setdefault("routing.closures_warned", set())
            sync_store_closures(graph, ctx.store, warned=warned)
            legs, depart, plans = plan_route(
                graph,
                points,
                when=when,
                kind=kind,
                avoid=avoid,
                green_wave=green_wave,
                obey_restrictions=bool(inputs.get("obeyTurnRestrictions", False)),
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
        inputs = read_definition(await json_body(request))
        doc = await asyncio.to_thread(_compute, ctx, inputs)
        return Response(
            json.dumps(doc, ensure_ascii=False),
            media_type=GEOJSON,
            headers={"Location": f"{ctx.base_url}/routes/{doc['id']}"},
        )
    html = _wants_html(request)
    kept = _kept(ctx)
    with kept.lock:
        ids = list(kept.routes)
        docs = [(i, kept.routes[i]) for i in reversed(ids) if i in kept.routes]
    if html:
        return HTMLResponse(routes_page(docs, ctx.base_url))
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
    html = _wants_html(request)
    doc = kept.get(route_id)
    if html:
        return HTMLResponse(route_page(doc, ctx.base_url))
    return Response(json.dumps(doc, ensure_ascii=False), media_type=GEOJSON)


def _wants_html(request: Request) -> bool:
    """Whether a GET of the routes asks for HTML: ``f=html``, or no ``f`` and a browser's
    ``Accept: text/html``. ``f`` is the only query parameter; anything else is a 400."""
    params = request.query_params
    for name in params:
        if name != "f":
            msg = f"query parameter {name!r} is not known to the routes endpoint; choose from ['f']"
            raise UnknownParameter(msg)
    if len(params.getlist("f")) > 1:
        msg = f"query parameter 'f' is given {len(params.getlist('f'))} times; give it once"
        raise InvalidInput(msg)
    fmt = params.get("f")
    if fmt is None:
        return "text/html" in request.headers.get("accept", "")
    if fmt not in ("json", "html"):
        msg = f"f={fmt!r} is not a format of the routes endpoint; choose from ['json', 'html']"
        raise InvalidInput(msg)
    return fmt == "html"


#: The ``f`` query parameter of the GET endpoints.
_F = {
    "name": "f",
    "in": "query",
    "required": False,
    "description": "json (the default) or html (the default for a browser)",
    "schema": {"type": "string", "enum": ["json", "html"]},
}


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
                "parameters": [_F],
                "responses": {
                    "200": {
                        "description": "Links to the kept routes (HTML: a table of them).",
                        "content": {
                            "application/json": {"schema": {"type": "object"}},
                            "text/html": {"schema": {"type": "string"}},
                        },
                    },
                    "400": {"description": "An unknown query parameter or format."},
                },
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
                "parameters": [_F],
                "responses": {
                    "200": {
                        "description": "The route (HTML: a map, its steps and signal plan).",
                        "content": {
                            GEOJSON: {"schema": {"type": "object"}},
                            "text/html": {"schema": {"type": "string"}},
                        },
                    },
                    "400": {"description": "An unknown query parameter or format."},
                    "404": {"description": "-"},
                },
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
