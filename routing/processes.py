"""OGC API Processes of the routing package: green-wave plan, dispatch and isochrone.

Each runs on the road graph the twin stores (:func:`routing.service_graph.graph_for`),
synchronously or as a job. Inputs are checked once, here: points are ``[lon, lat]`` in
CRS84 (a GeoJSON Point is taken too), times RFC 3339. A bad input, a point off the road
network or an unreachable destination fails the execution with a message naming the
input and its value (HTTP 400 through pygeoapi's process manager).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import shapely

from routing._osm import Station
from routing._text import ID_RULE, MAX_ID_CHARS, NAME_RULE, check_id, check_name
from routing.dispatch import MAX_ISOCHRONE_S
from routing.graph import RoadGraph, dates_in_range
from routing.greenwave import MAX_PRIORITY, MIN_PRIORITY
from routing.snap import check_lonlat
from twin.errors import InvalidInput
from twin.service import examples as _examples
from twin.service.processes import TwinProcessor

if TYPE_CHECKING:
    from twin.service._runtime import Runtime

__all__ = [
    "PROCESSES",
    "DispatchProcessor",
    "GreenWavePlanProcessor",
    "IsochroneProcessor",
]

log = logging.getLogger(__name__)

#: A point farther than this (degrees) outside the graph's box may be (lat, lon).
_SWAP_MARGIN_DEG = 0.5

PROCESSES: dict[str, dict[str, Any]] = {
    "greenwave-plan": {"processor": {"name": "routing.processes.GreenWavePlanProcessor"}},
    "dispatch": {"processor": {"name": "routing.processes.DispatchProcessor"}},
    "isochrone": {"processor": {"name": "routing.processes.IsochroneProcessor"}},
}

_POINT_SCHEMA: dict[str, Any] = {
    "oneOf": [
        {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
        {"type": "object", "contentMediaType": "application/geo+json"},
    ]
}


def _input(title: str, description: str, schema: dict[str, Any], *, required: bool) -> Any:
    return {
        "title": title,
        "description": description,
        "schema": schema,
        "minOccurs": 1 if required else 0,
        "maxOccurs": 1,
    }


_DEPART = _input(
    "Departure",
    "An RFC 3339 date-time; closures active then count. Now when not given.",
    {"type": "string", "format": "date-time"},
    required=False,
)
_PROFILE = _input(
    "Vehicle profile",
    "car or emergency (default emergency).",
    {"type": "string", "enum": ["car", "emergency"], "default": "emergency"},
    required=False,
)


def _metadata(
    pid: str,
    title: str,
    description: str,
    inputs: dict[str, Any],
    outputs: dict[str, Any],
    example: dict[str, Any],
) -> dict[str, Any]:
    return {
        "version": "1.0.0",
        "id": pid,
        "title": title,
        "description": description,
        "jobControlOptions": ["sync-execute", "async-execute"],
        "outputTransmission": ["value"],
        "keywords": ["routing", "emergency", "road graph"],
        "links": [],
        "inputs": inputs,
        "outputs": outputs,
        "example": {"inputs": example},
    }


GREENWAVE_METADATA = _metadata(
    "greenwave-plan",
    "Green-wave plan of an emergency route",
    "The fastest route between two points and, for every signalised junction on it, the "
    "ETA with its uncertainty band and the preemption window (start, end, recovery), with "
    "the ETA with and without preemption.",
    {
        "origin": _input("Origin", "[lon, lat] in CRS84.", _POINT_SCHEMA, required=True),
        "destination": _input("Destination", "[lon, lat] in CRS84.", _POINT_SCHEMA, required=True),
        "depart": _DEPART,
        "profile": _PROFILE,
        "vehicle_id": _input(
            "Vehicle",
            f"Who drives (default ev-1): {ID_RULE}.",
            {"type": "string", "minLength": 1, "maxLength": MAX_ID_CHARS, "default": "ev-1"},
            required=False,
        ),
        "priority": _input(
            "Priority",
            f"A higher priority wins conflicts: an integer from {MIN_PRIORITY} (the default) "
            f"to {MAX_PRIORITY}.",
            {
                "type": "integer",
                "minimum": MIN_PRIORITY,
                "maximum": MAX_PRIORITY,
                "default": MIN_PRIORITY,
            },
            required=False,
        ),
        "obey_turn_restrictions": _input(
            "Obey turn restrictions",
            "true: no turn against a turn restriction, which the emergency profile otherwise "
            "takes with care for 30 s when that beats going round (default false).",
            {"type": "boolean", "default": False},
            required=False,
        ),
    },
    {
        "plan": {
            "title": "Route summary and signal plan",
            "schema": {"type": "object", "contentMediaType": "application/json"},
        }
    },
    {"origin": [24.9384, 60.1699], "destination": [24.95, 60.1672]},
)

DISPATCH_METADATA = _metadata(
    "dispatch",
    "Rank emergency stations by travel time to an incident",
    "Routes every station (the twin's emergency_stations, or the ones given) to the "
    "incident and ranks them by travel time, with the time signal preemption would save "
    "and whether the NFPA 1710 240 s is met.",
    {
        "incident": _input("Incident", "[lon, lat] in CRS84.", _POINT_SCHEMA, required=True),
        "depart": _DEPART,
        "profile": _PROFILE,
        "stations": _input(
            "Stations",
            "Station ids of the twin's emergency_stations, or objects {id, name, lon, lat}; "
            f"all of the twin's stations by default. An id is {ID_RULE}; a name is "
            f"{NAME_RULE}.",
            {"type": "array"},
            required=False,
        ),
    },
    {
        "ranking": {
            "title": "Stations ranked by travel time",
            "schema": {"type": "object", "contentMediaType": "application/json"},
        }
    },
    {"incident": [24.95, 60.1672]},
)

ISOCHRONE_METADATA = _metadata(
    "isochrone",
    "Area reached within a time limit",
    "The area a station (or any point) reaches within a number of seconds (NFPA 1710: "
    "240), as GeoJSON polygons, with or without signal preemption.",
    {
        "station": _input(
            "Station", "An id of the twin's emergency_stations.", {"type": "string"}, required=False
        ),
        "point": _input(
            "Start point",
            "[lon, lat] in CRS84, instead of a station.",
            _POINT_SCHEMA,
            required=False,
        ),
        "seconds": _input(
            "Time limit (s)",
            f"Travel time limit, 0 < seconds <= {MAX_ISOCHRONE_S:g} (default 240).",
            {"type": "number", "default": 240},
            required=False,
        ),
        "preemption": _input(
            "Preemption",
            "Leave out the expected signal waits (default false).",
            {"type": "boolean", "default": False},
            required=False,
        ),
        "profile": _PROFILE,
    },
    {
        "isochrones": {
            "title": "Isochrone polygons",
            "schema": {"type": "object", "contentMediaType": "application/geo+json"},
        }
    },
    {"seconds": 240, "preemption": True},
)


# -- input checks ----------------------------------------------------------------------
def _point(graph: RoadGraph, value: Any, *, name: str) -> tuple[float, float]:
    """A [lon, lat] input (or a GeoJSON Point) in CRS84, refused when it looks swapped."""
    if isinstance(value, Mapping):
        if value.get("type") != "Point":
            msg = f"input {name}={value!r} must be [lon, lat] or a GeoJSON Point"
            raise InvalidInput(msg)
        value = value.get("coordinates")
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or any(isinstance(v, bool) or not isinstance(v, int | float) for v in value)
    ):
        msg = f"input {name}={value!r} must be [lon, lat], two numbers in CRS84"
        raise InvalidInput(msg)
    lon, lat = check_lonlat(value, name=f"input {name}")
    net = graph.net
    box = (
        float(net.lon.min()) - _SWAP_MARGIN_DEG,
        float(net.lat.min()) - _SWAP_MARGIN_DEG,
        float(net.lon.max()) + _SWAP_MARGIN_DEG,
        float(net.lat.max()) + _SWAP_MARGIN_DEG,
    )

    def inside(x: float, y: float) -> bool:
        return box[0] <= x <= box[2] and box[1] <= y <= box[3]

    if not inside(lon, lat) and inside(lat, lon):
        msg = (
            f"input {name}={list(value)!r} lies outside the road network, and "
            f"[{lat}, {lon}] lies on it: give [lon, lat], longitude first"
        )
        raise InvalidInput(msg)
    return lon, lat


def _depart(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        msg = f"input depart={value!r} must be an RFC 3339 date-time string"
        raise InvalidInput(msg)
    from routing.graph import parse_depart

    return parse_depart(value, name="input depart")


def _profile(value: Any) -> str:
    from routing.profiles import get_profile

    if value is None:
        return "emergency"
    if not isinstance(value, str):
        msg = f"input profile={value!r} must be 'car' or 'emergency'"
        raise InvalidInput(msg)
    return get_profile(value).name


def _stations(graph: RoadGraph, value: Any) -> list[Station] | None:
    """Station ids of the twin, or objects {id, name, lon, lat}; None: all of the twin's."""
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        msg = f"input stations={value!r} must be a non-empty list of station ids or objects"
        raise InvalidInput(msg)
    known = {s.osm_id: s for s in graph.net.stations}
    out: list[Station] = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            check_id(item, name=f"input stations[{i}]")
            if item not in known:
                msg = f"input stations names {item!r}, which is {_not_a_station(known)}"
                raise InvalidInput(msg)
            out.append(known[item])
        elif isinstance(item, Mapping):
            sid = item.get("id")
            if not isinstance(sid, str | int) or isinstance(sid, bool):
                msg = f"input stations[{i}] needs an id, text or an integer"
                raise InvalidInput(msg)
            sid = check_id(str(sid), name=f"input stations[{i}].id")
            lon, lat = _point(graph, [item.get("lon"), item.get("lat")], name=f"stations[{sid}]")
            name = item.get("name")
            if name is not None:
                name = check_name(name, name=f"input stations[{i}].name")
            out.append(Station(sid, name or "", "station", lon, lat))
        else:
            msg = f"input stations item {item!r} must be a station id or an object {{id, lon, lat}}"
            raise InvalidInput(msg)
    return out


def _not_a_station(known: Mapping[str, Station]) -> str:
    """The end of the message for a station id the twin does not hold."""
    if not known:
        return "not a station of the twin: it holds none (emergency_stations is empty)"
    ids = sorted(known)
    shown = ", ".join(ids[:20]) + (f" and {len(ids) - 20} more" if len(ids) > 20 else "")
    return f"not a station of the twin; its stations are {shown}"


def _priority(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        msg = f"input priority={value!r} must be an integer"
        raise InvalidInput(msg)
    if not MIN_PRIORITY <= value <= MAX_PRIORITY:
        msg = f"input priority={value!r} must lie in {MIN_PRIORITY}..{MAX_PRIORITY}"
        raise InvalidInput(msg)
    return value


def _seconds(value: Any) -> float:
    if value is None:
        return 240.0
    if isinstance(value, bool) or not isinstance(value, int | float):
        msg = f"input seconds={value!r} must be a number of seconds"
        raise InvalidInput(msg)
    if not 0 < float(value) <= MAX_ISOCHRONE_S:
        msg = f"input seconds={value!r} must lie in (0, {MAX_ISOCHRONE_S:g}]"
        raise InvalidInput(msg)
    return float(value)


def _flag(value: Any, *, name: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        msg = f"input {name}={value!r} must be true or false"
        raise InvalidInput(msg)
    return value


# -- processors ------------------------------------------------------------------------
#: Malformed stored closures already warned about (id, version hash), for every graph.
_WARNED: set[tuple[str, str]] = set()


class _RoutingProcessor(TwinProcessor):
    """The routing processes' common base: the live store's graph, JSON output."""

    def _graph(self, profile: str, at: datetime | None = None) -> RoadGraph:
        """The graph of ``profile`` valid at ``at``, with the twin's road closures (those
        active at the departure count, as for ``POST /routes``)."""
        from routing.closures import sync_store_closures
        from routing.service_graph import graph_for

        graph = graph_for(self.store, profile, at=at)
        sync_store_closures(graph, self.store, warned=_WARNED)
        return graph

    def run(self, data: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        return "application/json", self._run(data)

    def _run(self, data: Mapping[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def _example_trip(self, runtime: Runtime) -> tuple[list[float], list[float]] | None:
        """Two junctions of the twin's road graph, about a kilometre apart near the middle
        of the city; None when the static example's points lie on the twin's roads."""
        example = self.METADATA["example"]["inputs"]
        if "road_nodes" not in runtime.specs:
            return None
        box = runtime.store.extent("road_nodes").bbox
        if box is not None and _examples.holds(box, example):
            return None
        start = _examples.central_feature(runtime, "road_nodes")
        if start is None:
            return None
        a = _examples.position(start)
        for east, north in ((800, -600), (-800, 600), (600, 800), (-600, -800), (300, 200)):
            end = _examples.central_feature(
                runtime, "road_nodes", near=_examples.offset(a, east, north)
            )
            if end is not None and end.id != start.id:
                return list(a), list(_examples.position(end))
        return None


class GreenWavePlanProcessor(_RoutingProcessor):
    """The green-wave plan of a route between two points."""

    METADATA = GREENWAVE_METADATA

    def local_example(self, runtime: Runtime) -> dict[str, Any] | None:
        trip = self._example_trip(runtime)
        return None if trip is None else {"origin": trip[0], "destination": trip[1]}

    def _run(self, data: Mapping[str, Any]) -> dict[str, Any]:
        from routing.greenwave import plan_green_wave

        profile = _profile(data.get("profile"))
        depart = _depart(data.get("depart"))
        graph = self._graph(profile, depart)
        for key in ("origin", "destination"):
            if data.get(key) is None:
                msg = f"input {key} is required: [lon, lat] in CRS84"
                raise InvalidInput(msg)
        origin = _point(graph, data["origin"], name="origin")
        destination = _point(graph, data["destination"], name="destination")
        vehicle = check_id(data.get("vehicle_id", "ev-1"), name="input vehicle_id")
        priority = _priority(data.get("priority", MIN_PRIORITY))
        obey = data.get("obey_turn_restrictions", False)
        if not isinstance(obey, bool):
            msg = f"input obey_turn_restrictions={obey!r} must be true or false"
            raise InvalidInput(msg)
        with dates_in_range(depart, name="input depart", what="plan"):
            plan = plan_green_wave(
                graph,
                origin,
                destination,
                depart=depart,
                vehicle_id=vehicle,
                priority=priority,
                obey_restrictions=obey,
            )
            out = plan.to_dict()
        return {
            "profile": profile,
            "summary": {
                "travel_time_s": out["route"]["travel_time_s"],
                "length_m": out["route"]["length_m"],
                "signal_count": len(out["signals"]),
                "eta_no_preemption_s": out["eta_no_preemption_s"],
                "eta_preemption_s": out["eta_preemption_s"],
                "time_saved_s": out["time_saved_s"],
            },
            "plan": out,
        }


class DispatchProcessor(_RoutingProcessor):
    """Stations ranked by travel time to an incident."""

    METADATA = DISPATCH_METADATA

    def local_example(self, runtime: Runtime) -> dict[str, Any] | None:
        trip = self._example_trip(runtime)
        if trip is None:
            return None
        if "emergency_stations" in runtime.specs and runtime.store.count("emergency_stations"):
            return {"incident": trip[1]}
        lon, lat = trip[0]
        station = {"id": "example-1", "name": "Example station", "lon": lon, "lat": lat}
        return {"incident": trip[1], "stations": [station]}

    def _run(self, data: Mapping[str, Any]) -> dict[str, Any]:
        from routing.dispatch import rank_stations
        from routing.errors import NoRoute

        profile = _profile(data.get("profile"))
        depart = _depart(data.get("depart"))
        graph = self._graph(profile, depart)
        if data.get("incident") is None:
            msg = "input incident is required: [lon, lat] in CRS84"
            raise InvalidInput(msg)
        incident = _point(graph, data["incident"], name="incident")
        stations = _stations(graph, data.get("stations"))
        if stations is None and not graph.net.stations:
            msg = (
                "the twin holds no emergency station (emergency_stations is empty); give "
                "input stations as objects {id, name, lon, lat}"
            )
            raise InvalidInput(msg)
        graph.snap(incident, name="input incident")  # off the network: say so
        ranked = rank_stations(graph, incident, stations=stations, depart=depart)
        if not ranked:
            msg = f"no station reaches the incident {list(incident)!r} by road"
            raise NoRoute(msg)
        return {
            "incident": list(incident),
            "profile": profile,
            "depart": None if depart is None else depart.isoformat(),
            "stations": [
                {
                    **c.to_dict(),
                    "route": {
                        "geometry": shapely.geometry.mapping(c.route.geometry),
                        "node_ids": c.route.node_ids,
                    },
                }
                for c in ranked
            ],
        }


class IsochroneProcessor(_RoutingProcessor):
    """The area a station or a point reaches within a time limit."""

    METADATA = ISOCHRONE_METADATA

    def local_example(self, runtime: Runtime) -> dict[str, Any] | None:
        if "emergency_stations" in runtime.specs and runtime.store.count("emergency_stations"):
            return None  # the static example reaches from every station
        start = _examples.central_feature(runtime, "road_nodes")
        if start is None:
            return None
        return {"point": list(_examples.position(start)), **self.METADATA["example"]["inputs"]}

    def _run(self, data: Mapping[str, Any]) -> dict[str, Any]:
        from routing.dispatch import isochrones

        profile = _profile(data.get("profile"))
        seconds = _seconds(data.get("seconds"))
        preemption = _flag(data.get("preemption"), name="preemption")
        graph = self._graph(profile)
        station, point = data.get("station"), data.get("point")
        if station is not None and point is not None:
            msg = "give input station or input point, not both"
            raise InvalidInput(msg)
        stations: list[Station] | None
        if point is not None:
            lon, lat = _point(graph, point, name="point")
            stations = [Station("point", "", "point", lon, lat)]
        elif station is not None:
            if not isinstance(station, str):
                msg = f"input station={station!r} must be a station id"
                raise InvalidInput(msg)
            check_id(station, name="input station")
            known = {s.osm_id: s for s in graph.net.stations}
            if station not in known:
                msg = f"input station={station!r} is {_not_a_station(known)}"
                raise InvalidInput(msg)
            stations = [known[station]]
        elif not graph.net.stations:
            msg = (
                "the twin holds no emergency station (emergency_stations is empty); give "
                "input point, the position to reach out from"
            )
            raise InvalidInput(msg)
        else:
            stations = None
        for st in stations or ():
            graph.snap((st.lon, st.lat), name=f"input {'point' if point else 'station'}")
        found = isochrones(graph, stations=stations, limit_s=seconds, preemption=preemption)
        return {
            "type": "FeatureCollection",
            "features": [i.to_feature() for i in found],
            "profile": profile,
            "seconds": seconds,
            "preemption": preemption,
        }
