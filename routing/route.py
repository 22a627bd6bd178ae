"""A computed route: its cost, its nodes, its geometry and turn-by-turn steps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from numpy.typing import NDArray

from routing.snap import Snap

if TYPE_CHECKING:
    from routing._build import Net
    from routing.snap import Snapper

__all__ = ["EdgeGeo", "Route", "Step", "turn_modifier"]


@dataclass(frozen=True)
class Step:
    """One manoeuvre and the stretch of road that follows it.

    ``maneuver`` is ``depart``, ``turn``, ``continue`` or ``arrive``; ``modifier`` one of
    ``straight``, ``slight left|right``, ``left|right``, ``sharp left|right``, ``uturn``.
    Bearings are degrees clockwise from north. ``restriction`` names the OSM turn
    restriction (``no_left_turn``, ``only_straight_on``, ...) the manoeuvre departs from,
    which an emergency vehicle may do with care; ``None`` for a lawful one.
    """

    maneuver: str
    modifier: str
    road_name: str
    instruction: str
    location: tuple[float, float]
    node_id: int | None
    bearing_before: float
    bearing_after: float
    length_m: float
    duration_s: float
    restriction: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {
            "maneuver": self.maneuver,
            "modifier": self.modifier,
            "road_name": self.road_name,
            "instruction": self.instruction,
            "location": list(self.location),
            "node_id": self.node_id,
            "bearing_before": round(self.bearing_before, 1),
            "bearing_after": round(self.bearing_after, 1),
            "length_m": round(self.length_m, 1),
            "duration_s": round(self.duration_s, 1),
            "restriction": self.restriction,
        }


@dataclass(frozen=True)
class Route:
    """A route from origin to destination.

    Attributes
    ----------
    travel_time_s
        The exact shortest travel time, seconds (whole milliseconds).
    length_m
        Its length in metres.
    node_ids
        OSM ids of the graph nodes passed, in order.
    geometry
        The path as a LineString in CRS84.
    steps
        Turn-by-turn steps.
    origin, destination
        How the ends were snapped.
    edges
        Internal edge indices, in order (the first and last may be partly driven).
    fractions
        For each edge, the (start, end) fraction driven.
    profile
        The vehicle profile's name.
    depart
        The departure time the closures were evaluated at.
    closures
        The ids of the closures in force.
    turn_times_s
        For each edge, the time of the turn onto it from the one before (a turn-round
        at a dead end, a turn against a restriction), seconds; 0 for the first.
    """

    travel_time_s: float
    length_m: float
    node_ids: list[int]
    geometry: shapely.LineString
    steps: list[Step]
    origin: Snap
    destination: Snap
    edges: list[int]
    fractions: list[tuple[float, float]]
    profile: str
    depart: datetime | None = None
    closures: list[str] = field(default_factory=list)
    turn_times_s: list[float] = field(default_factory=list)

    @property
    def restricted_turns(self) -> list[Step]:
        """The steps that depart from a turn restriction."""
        return [s for s in self.steps if s.restriction is not None]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (the geometry as GeoJSON)."""
        return {
            "travel_time_s": round(self.travel_time_s, 3),
            "length_m": round(self.length_m, 1),
            "node_ids": self.node_ids,
            "geometry": shapely.geometry.mapping(self.geometry),
            "steps": [s.to_dict() for s in self.steps],
            "origin": self.origin.to_dict(),
            "destination": self.destination.to_dict(),
            "profile": self.profile,
            "depart": None if self.depart is None else self.depart.isoformat(),
            "closures": self.closures,
        }


def turn_modifier(before: float, after: float) -> str:
    """Name the turn from bearing ``before`` to bearing ``after`` (degrees).

    >>> turn_modifier(0, 90), turn_modifier(90, 80), turn_modifier(0, 185)
    ('right', 'straight', 'uturn')
    """
    d = (after - before + 540.0) % 360.0 - 180.0
    a = abs(d)
    if a < 15:
        return "straight"
    if a > 170:
        return "uturn"
    side = "right" if d > 0 else "left"
    if a < 45:
        return f"slight {side}"
    if a < 135:
        return side
    return f"sharp {side}"


@dataclass(frozen=True)
class EdgeGeo:
    """Per-edge bearings (degrees from north) and per-node out-degree."""

    bearing_start: NDArray[np.float64]
    bearing_end: NDArray[np.float64]
    out_degree: NDArray[np.int64]

    @classmethod
    def of(cls, net: Net) -> EdgeGeo:
        """Compute them for every edge of a net at once."""
        c, off = net.coords, net.offsets
        first, last = off[:-1], off[1:] - 1
        return cls(
            bearing_start=_bearing(c[first], c[first + 1]),
            bearing_end=_bearing(c[last - 1], c[last]),
            out_degree=np.bincount(net.tail, minlength=net.node_count).astype(np.int64),
        )


def _bearing(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    k = np.cos(np.radians((a[:, 1] + b[:, 1]) / 2))
    dx, dy = (b[:, 0] - a[:, 0]) * k, b[:, 1] - a[:, 1]
    return np.degrees(np.arctan2(dx, dy)) % 360.0


def assemble(
    net: Net,
    snapper: Snapper,
    edges: list[int],
    fractions: list[tuple[float, float]],
    *,
    cost_ms: int,
    origin: Snap,
    destination: Snap,
    depart: datetime | None,
    closures: list[str],
    start_node: int | None,
    edge_ms: NDArray[np.int64],
    geo: EdgeGeo,
    turn_ms: Sequence[int],
    restricted: Mapping[tuple[int, int], str],
) -> Route:
    """Build a :class:`Route` from the edges of a path.

    ``turn_ms`` is the time of the turn onto each edge (0 for the first) and
    ``restricted`` the turns ``(e, f)`` the path may make against a restriction, with
    the restriction's value.
    """
    turns = [int(t) for t in turn_ms]
    pieces: list[NDArray[np.float64]] = []
    nodes: list[int] = [] if start_node is None else [int(net.osm_ids[start_node])]
    length = 0.0
    for e, (f0, f1) in zip(edges, fractions, strict=True):
        c = net.edge_coords(e) if f0 == 0.0 and f1 == 1.0 else snapper.cut(e, f0, f1)
        pieces.append(c if not pieces else c[1:])
        length += float(net.length_m[e]) * (f1 - f0)
        if f1 == 1.0:
            nodes.append(int(net.osm_ids[net.head[e]]))
    coords = np.concatenate(pieces) if pieces else np.array([origin.point, destination.point])
    if len(coords) < 2:
        coords = np.vstack([coords, coords])
    geometry = shapely.linestrings(coords)
    steps = _steps(net, geo, edges, fractions, edge_ms, coords[0], coords[-1], turns, restricted)
    return Route(
        travel_time_s=cost_ms / 1000.0,
        length_m=length,
        node_ids=nodes,
        geometry=geometry,
        steps=steps,
        origin=origin,
        destination=destination,
        edges=edges,
        fractions=fractions,
        profile=net.profile.name,
        depart=depart,
        closures=closures,
        turn_times_s=[t / 1000.0 for t in turns],
    )


def _steps(
    net: Net,
    geo: EdgeGeo,
    edges: list[int],
    fractions: list[tuple[float, float]],
    edge_ms: NDArray[np.int64],
    start: NDArray[np.float64],
    end: NDArray[np.float64],
    turns: list[int],
    restricted: Mapping[tuple[int, int], str],
) -> list[Step]:
    steps: list[dict[str, Any]] = []
    prev_end = 0.0
    for i, e in enumerate(edges):
        f0, f1 = fractions[i]
        b0, b1 = float(geo.bearing_start[e]), float(geo.bearing_end[e])
        name = net.names[e]
        share = f1 - f0
        length = float(net.length_m[e]) * share
        dur = float(edge_ms[e]) / 1000.0 * share + turns[i] / 1000.0
        if i == 0:
            steps.append(_new("depart", "straight", name, start, None, b0, b0))
        else:
            node = int(net.tail[e])
            mod = turn_modifier(prev_end, b0)
            branching = bool(geo.out_degree[node] > 1)
            against = restricted.get((edges[i - 1], e))
            # Going straight onto a stretch without a name (a junction's link, a short
            # connector) is no manoeuvre: the step goes on until a named road or a turn.
            renamed = name != steps[-1]["road_name"] and bool(name)
            if (
                against is not None
                or renamed
                or (mod != "straight" and (branching or mod == "uturn"))
            ):
                loc = net.edge_coords(e)[0]
                kind = "turn" if mod != "straight" else "continue"
                steps.append(_new(kind, mod, name, loc, int(net.osm_ids[node]), prev_end, b0))
                steps[-1]["restriction"] = against
        steps[-1]["length_m"] += length
        steps[-1]["duration_s"] += dur
        prev_end = b1
    steps.append(
        _new(
            "arrive",
            "straight",
            steps[-1]["road_name"] if steps else "",
            end,
            None,
            prev_end,
            prev_end,
        )
    )
    return [Step(**s, instruction=_say(s)) for s in steps]


def _new(
    maneuver: str,
    modifier: str,
    name: str,
    loc: NDArray[np.float64],
    node: int | None,
    before: float,
    after: float,
) -> dict[str, Any]:
    return {
        "maneuver": maneuver,
        "modifier": modifier,
        "road_name": name,
        "location": (float(loc[0]), float(loc[1])),
        "node_id": node,
        "bearing_before": before,
        "bearing_after": after,
        "length_m": 0.0,
        "duration_s": 0.0,
        "restriction": None,
    }


def _say(s: dict[str, Any]) -> str:
    text = _manoeuvre(s)
    if s["restriction"] is not None:
        text += f" against the {s['restriction']} restriction, with care"
    return text


def _manoeuvre(s: dict[str, Any]) -> str:
    road = s["road_name"] or "the road"
    if s["maneuver"] == "depart":
        return f"Head {_compass(s['bearing_after'])} on {road}"
    if s["maneuver"] == "arrive":
        return "Arrive at the destination"
    if s["modifier"] == "uturn":
        return f"Make a U-turn onto {road}"
    if s["maneuver"] == "continue":
        return f"Continue onto {road}"
    return f"Turn {s['modifier']} onto {road}"


def _compass(bearing: float) -> str:
    names = ("north", "northeast", "east", "southeast", "south", "southwest", "west", "northwest")
    return names[round(bearing / 45.0) % 8]
