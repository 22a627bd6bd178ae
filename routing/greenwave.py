"""Green-wave signal plans for emergency vehicles, their updates and their conflicts.

For a route and a departure time, :func:`plan_green_wave` lists every signalised
junction on the route with the vehicle's ETA and an uncertainty band, and the
preemption window the controller should hold the approach green in:

- **start** = earliest ETA - lead, the lead being the conflicting phases' yellow and
  all-red clearance plus the time to flush the queue waiting on the approach;
- **end** = latest ETA + the time to clear the junction;
- then the **recovery**: the controller transitions back to its normal program within
  ``recovery_s``.

:func:`retime` re-times the remaining windows from a live vehicle position.
:class:`PlanBoard` holds the active plans of a city: plans whose windows overlap at a
junction on conflicting movements are resolved by priority, the loser waiting at that
junction for the winner's window plus the clearance, so two vehicles are never both
given green on conflicting movements.

Times inside a plan are seconds after its departure; ``to_dict`` adds absolute times.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from routing.route import Route, turn_modifier

if TYPE_CHECKING:
    from routing.graph import Endpoint, RoadGraph

__all__ = [
    "MAX_PRIORITY",
    "MIN_PRIORITY",
    "Conflict",
    "GreenWavePlan",
    "PlanBoard",
    "SignalWindow",
    "Timing",
    "plan_green_wave",
    "preempted_times",
    "retime",
]

log = logging.getLogger(__name__)
_ids = itertools.count(1)
#: The priorities a vehicle is given at the service and the command line: 1 (the
#: default, lowest) to 10 (highest). Conflicts are settled by comparing them.
MIN_PRIORITY, MAX_PRIORITY = 1, 10


@dataclass(frozen=True)
class Timing:
    """Signal timing assumptions of a city (seconds unless named otherwise)."""

    yellow_s: float = 4.0
    all_red_s: float = 2.0
    startup_s: float = 2.0
    headway_s: float = 2.0
    vehicle_spacing_m: float = 7.0
    queue_share: float = 0.5
    max_queue: int = 12
    clearance_s: float = 3.0
    band_base_s: float = 2.0
    band_share: float = 0.08
    recovery_s: float = 90.0


@dataclass(frozen=True)
class SignalWindow:
    """One signalised junction on a route and its preemption window.

    ``eta_s``, ``window_start_s``, ``window_end_s`` and ``recovery_end_s`` are seconds
    after the plan's departure; ``hold_s`` is the wait a conflict imposed here;
    ``lead_missing_s`` is the lead the window lacks because it would have had to open
    before the plan was made (a signal just ahead of the start).
    """

    junction_id: int
    node_ids: tuple[int, ...]
    lon: float
    lat: float
    approach_edge: tuple[int, int]
    exit_edge: tuple[int, int] | None
    approach_bearing: float
    exit_bearing: float | None
    movement: str
    eta_s: float
    eta_early_s: float
    eta_late_s: float
    queue_vehicles: int
    lead_s: float
    window_start_s: float
    window_end_s: float
    recovery_end_s: float
    route_time_s: float
    lead_missing_s: float = 0.0
    hold_s: float = 0.0
    passed: bool = False

    def shifted(self, dt: float) -> SignalWindow:
        """The same window, ``dt`` seconds later."""
        return replace(
            self,
            eta_s=self.eta_s + dt,
            eta_early_s=self.eta_early_s + dt,
            eta_late_s=self.eta_late_s + dt,
            window_start_s=self.window_start_s + dt,
            window_end_s=self.window_end_s + dt,
            recovery_end_s=self.recovery_end_s + dt,
        )

    def to_dict(self, depart: datetime) -> dict[str, Any]:
        """Plain data for JSON, with absolute times."""

        def at(s: float) -> str:
            return (depart + timedelta(seconds=s)).isoformat()

        return {
            "junction_id": self.junction_id,
            "node_ids": list(self.node_ids),
            "position": [self.lon, self.lat],
            "approach": {
                "edge": list(self.approach_edge),
                "bearing": round(self.approach_bearing, 1),
            },
            "exit": None
            if self.exit_edge is None or self.exit_bearing is None
            else {"edge": list(self.exit_edge), "bearing": round(self.exit_bearing, 1)},
            "movement": self.movement,
            "eta": at(self.eta_s),
            "eta_s": round(self.eta_s, 2),
            "eta_band_s": [round(self.eta_early_s, 2), round(self.eta_late_s, 2)],
            "lead_s": round(self.lead_s, 2),
            "lead_missing_s": round(self.lead_missing_s, 2),
            "queue_vehicles": self.queue_vehicles,
            "window": {"start": at(self.window_start_s), "end": at(self.window_end_s)},
            "window_s": [round(self.window_start_s, 2), round(self.window_end_s, 2)],
            "recovery_until": at(self.recovery_end_s),
            "hold_s": round(self.hold_s, 2),
            "passed": self.passed,
        }


@dataclass(frozen=True)
class GreenWavePlan:
    """The preemption plan of one vehicle on one route."""

    plan_id: str
    vehicle_id: str
    priority: int
    depart: datetime
    route: Route
    signals: tuple[SignalWindow, ...]
    eta_no_preemption_s: float
    eta_preemption_s: float
    edge_times_s: tuple[float, ...] = field(repr=False, default=())
    updated: datetime | None = None

    @property
    def time_saved_s(self) -> float:
        return self.eta_no_preemption_s - self.eta_preemption_s

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {
            "plan_id": self.plan_id,
            "vehicle_id": self.vehicle_id,
            "priority": self.priority,
            "depart": self.depart.isoformat(),
            "updated": None if self.updated is None else self.updated.isoformat(),
            "eta_no_preemption_s": round(self.eta_no_preemption_s, 2),
            "eta_preemption_s": round(self.eta_preemption_s, 2),
            "time_saved_s": round(self.time_saved_s, 2),
            "arrival_no_preemption": (
                self.depart + timedelta(seconds=self.eta_no_preemption_s)
            ).isoformat(),
            "arrival_preemption": (
                self.depart + timedelta(seconds=self.eta_preemption_s)
            ).isoformat(),
            "signals": [s.to_dict(self.depart) for s in self.signals],
            "route": self.route.to_dict(),
        }


def _window(
    timing: Timing, eta: float, remaining: float, approach_len: float, now: float
) -> tuple[float, float, int, float, float, float, float, float]:
    band = timing.band_base_s + timing.band_share * remaining
    queue = min(timing.max_queue, int(approach_len * timing.queue_share / timing.vehicle_spacing_m))
    flush = (timing.startup_s + queue * timing.headway_s) if queue else 0.0
    lead = timing.yellow_s + timing.all_red_s + flush
    start = eta - band - lead
    end = eta + band + timing.clearance_s
    # A window cannot open before the plan exists: note the lead it lacks.
    missing = max(0.0, now - start)
    return (
        eta - band,
        eta + band,
        queue,
        lead,
        max(start, now),
        end,
        end + timing.recovery_s,
        missing,
    )


def plan_green_wave(
    graph: RoadGraph,
    origin: Endpoint | Route,
    destination: Endpoint | None = None,
    *,
    depart: datetime | str | None = None,
    vehicle_id: str = "ev-1",
    priority: int = 1,
    timing: Timing | None = None,
    obey_restrictions: bool = False,
) -> GreenWavePlan:
    """Plan the green wave of a vehicle: route it (or take its route) and time every signal.

    Parameters
    ----------
    graph
        The road graph (normally the ``emergency`` profile).
    origin, destination
        Endpoints to route between, or a :class:`~routing.route.Route` as ``origin``.
    depart
        Departure time; ``None`` is now.
    vehicle_id, priority
        Who drives; a higher priority wins conflicts (:data:`MIN_PRIORITY` to
        :data:`MAX_PRIORITY` where the inputs come from outside). The id follows
        :data:`routing._text.ID_RULE`.
    timing
        Signal timing assumptions.
    obey_restrictions
        Route obeying every turn restriction (see :meth:`RoadGraph.route`).

    Raises
    ------
    InvalidInput
        A bad vehicle id, endpoint or departure time (400).
    """
    from routing._text import check_id
    from routing.graph import parse_depart

    vehicle_id = check_id(vehicle_id, name="vehicle_id")
    timing = timing or Timing()
    at = parse_depart(depart)
    if isinstance(origin, Route):
        route = origin
    else:
        if destination is None:
            msg = "destination is required when origin is not a Route"
            raise TypeError(msg)
        route = graph.route(origin, destination, depart=at, obey_restrictions=obey_restrictions)
    times = preempted_times(graph, route)
    signals = _signals(graph, route, times, timing, offset=0.0, start_at=0.0)
    return GreenWavePlan(
        plan_id=f"plan-{next(_ids)}",
        vehicle_id=vehicle_id,
        priority=priority,
        depart=at,
        route=route,
        signals=tuple(signals),
        eta_no_preemption_s=route.travel_time_s,
        eta_preemption_s=float(sum(times)),
        edge_times_s=tuple(times),
    )


def preempted_times(graph: RoadGraph, route: Route) -> list[float]:
    """Seconds driven on each route edge with preemption (no signal wait), with the
    time of the turn onto it: the green wave's timeline and the preempted ETA."""
    free = graph.engine.free_ms
    turns = route.turn_times_s or [0.0] * len(route.edges)
    return [
        float(free[e]) / 1000.0 * (f1 - f0) + t
        for e, (f0, f1), t in zip(route.edges, route.fractions, turns, strict=True)
    ]


def _signals(
    graph: RoadGraph,
    route: Route,
    times: list[float],
    timing: Timing,
    *,
    offset: float,
    start_at: float,
) -> list[SignalWindow]:
    """Signal windows along a route; ``offset`` is the clock at route time ``start_at``."""
    net, geo = graph.net, graph.geo
    out: list[SignalWindow] = []
    cum = np.concatenate([[0.0], np.cumsum(times)])
    edges = route.edges
    i = 0
    while i < len(edges):
        e = edges[i]
        h = int(net.head[e])
        c = int(net.cluster[h])
        entered = route.fractions[i][1] == 1.0 and c >= 0 and int(net.cluster[net.tail[e]]) != c
        if not entered:
            i += 1
            continue
        j = i + 1
        while (
            j < len(edges)
            and int(net.cluster[net.head[edges[j]]]) == c
            and route.fractions[j][1] == 1.0
        ):
            j += 1
        exit_e = edges[j] if j < len(edges) else None
        eta_route = float(cum[i + 1])
        if eta_route >= start_at:
            members = np.flatnonzero(net.cluster == c)
            remaining = eta_route - start_at
            eta = offset + remaining
            early, late, queue, lead, w0, w1, rec, missing = _window(
                timing, eta, remaining, float(net.length_m[e]), offset
            )
            a_bear = float(geo.bearing_end[e])
            x_bear = None if exit_e is None else float(geo.bearing_start[exit_e])
            out.append(
                SignalWindow(
                    junction_id=int(net.cluster_ids[c]),
                    node_ids=tuple(int(n) for n in net.osm_ids[members]),
                    lon=float(net.lon[members].mean()),
                    lat=float(net.lat[members].mean()),
                    approach_edge=(int(net.osm_ids[net.tail[e]]), int(net.osm_ids[h])),
                    exit_edge=None
                    if exit_e is None
                    else (int(net.osm_ids[net.tail[exit_e]]), int(net.osm_ids[net.head[exit_e]])),
                    approach_bearing=a_bear,
                    exit_bearing=x_bear,
                    movement="arrive" if x_bear is None else turn_modifier(a_bear, x_bear),
                    eta_s=eta,
                    eta_early_s=early,
                    eta_late_s=late,
                    queue_vehicles=queue,
                    lead_s=lead,
                    window_start_s=w0,
                    window_end_s=w1,
                    recovery_end_s=rec,
                    route_time_s=eta_route,
                    lead_missing_s=missing,
                )
            )
        i = j
    return out


def retime(
    graph: RoadGraph,
    plan: GreenWavePlan,
    position: tuple[float, float],
    *,
    at: datetime | str,
    timing: Timing | None = None,
) -> GreenWavePlan:
    """Re-time the windows still ahead from the vehicle's live position.

    The position (lon, lat) is projected onto the planned route; signals behind it are
    marked passed and keep their windows, the others get ETAs from ``at`` plus the
    remaining driving time, with a band that narrows as the vehicle nears them.
    """
    from routing.graph import parse_depart

    timing = timing or Timing()
    now = parse_depart(at, name="at")
    route_t = _route_time_at(graph, plan, position)
    offset = (now - plan.depart).total_seconds()
    fresh = _signals(
        graph, plan.route, list(plan.edge_times_s), timing, offset=offset, start_at=route_t
    )
    ahead = {s.route_time_s for s in fresh}
    passed = [replace(s, passed=True) for s in plan.signals if s.route_time_s not in ahead]
    holds = {s.route_time_s: s.hold_s for s in plan.signals}
    extra = 0.0
    signals = []
    for s in fresh:
        extra += holds.get(s.route_time_s, 0.0)
        signals.append(replace(s.shifted(extra), hold_s=holds.get(s.route_time_s, 0.0)))
    eta = offset + float(sum(plan.edge_times_s)) - route_t + extra
    return replace(plan, signals=tuple(passed + signals), eta_preemption_s=eta, updated=now)


def _route_time_at(graph: RoadGraph, plan: GreenWavePlan, position: tuple[float, float]) -> float:
    """Driving time (with preemption) from the route's start to the point nearest ``position``."""
    snapper = graph.snapper
    route = plan.route
    line = shapely.linestrings(snapper.to_xy(np.asarray(route.geometry.coords)))
    pt = shapely.Point(snapper.project(*position))
    along = float(shapely.line_locate_point(line, pt))
    lengths = np.array(
        [
            float(graph.net.length_m[e]) * (f1 - f0)
            for e, (f0, f1) in zip(route.edges, route.fractions, strict=True)
        ]
    )
    scale = shapely.length(line) / max(lengths.sum(), 1e-9)
    cum = np.concatenate([[0.0], np.cumsum(lengths * scale)])
    k = int(np.clip(np.searchsorted(cum, along, side="right") - 1, 0, len(lengths) - 1))
    share = 0.0 if lengths[k] <= 0 else (along - cum[k]) / (lengths[k] * scale)
    times = plan.edge_times_s
    return float(sum(times[:k]) + times[k] * min(max(share, 0.0), 1.0))


@dataclass(frozen=True)
class Conflict:
    """Two plans wanting green on conflicting movements at one junction at once."""

    junction_id: int
    winner: str
    loser: str
    overlap_s: float
    hold_s: float


class PlanBoard:
    """The active green-wave plans of a city, kept free of conflicting windows.

    Plans are resolved in order of priority (higher first), then departure, then
    submission. A plan whose window at a junction overlaps an earlier plan's window on
    a different approach waits there until that window ends plus the all-red time; its
    later windows move by the same wait.
    """

    def __init__(self, *, timing: Timing | None = None) -> None:
        self.timing = timing or Timing()
        self._plans: dict[str, GreenWavePlan] = {}
        self._order: dict[str, int] = {}
        self._seq = itertools.count()
        self.conflicts: list[Conflict] = []

    @property
    def plans(self) -> list[GreenWavePlan]:
        return [self._plans[k] for k in sorted(self._plans, key=self._rank)]

    def _rank(self, plan_id: str) -> tuple[int, datetime, int]:
        p = self._plans[plan_id]
        return (-p.priority, p.depart, self._order[plan_id])

    def submit(self, plan: GreenWavePlan) -> GreenWavePlan:
        """Add (or replace) a plan and resolve; return it as re-timed."""
        if plan.plan_id not in self._order:
            self._order[plan.plan_id] = next(self._seq)
        self._plans[plan.plan_id] = _unheld(plan)
        self.resolve()
        return self._plans[plan.plan_id]

    def withdraw(self, plan_id: str) -> None:
        """Remove a plan (the vehicle arrived or was stood down) and re-resolve."""
        self._plans.pop(plan_id, None)
        self._order.pop(plan_id, None)
        self._plans = {k: _unheld(p) for k, p in self._plans.items()}
        self.resolve()

    def resolve(self) -> list[Conflict]:
        """Re-time every plan so that no two hold conflicting windows; return the conflicts."""
        held: dict[int, list[tuple[float, float, tuple[int, int], str]]] = {}
        conflicts: list[Conflict] = []
        for pid in sorted(self._plans, key=self._rank):
            plan = _unheld(self._plans[pid])
            base = plan.depart.timestamp()
            shift = 0.0
            out: list[SignalWindow] = []
            for s in plan.signals:
                if s.passed:
                    out.append(s)
                    continue
                hold = 0.0
                while True:
                    w0 = base + s.window_start_s + shift + hold
                    w1 = base + s.window_end_s + shift + hold
                    clash = [
                        (a, b, owner)
                        for a, b, approach, owner in held.get(s.junction_id, [])
                        if owner != pid and approach != s.approach_edge and a < w1 and w0 < b
                    ]
                    if not clash:
                        break
                    end = max(b for _, b, _ in clash)
                    wait = end + self.timing.all_red_s - w0
                    conflicts.append(
                        Conflict(s.junction_id, clash[0][2], pid, min(w1, end) - w0, wait)
                    )
                    hold += wait
                shift += hold
                moved = replace(s.shifted(shift), hold_s=hold)
                out.append(moved)
                held.setdefault(s.junction_id, []).append(
                    (base + moved.window_start_s, base + moved.window_end_s, s.approach_edge, pid)
                )
            self._plans[pid] = replace(
                plan, signals=tuple(out), eta_preemption_s=plan.eta_preemption_s + shift
            )
        self.conflicts = conflicts
        for c in conflicts:
            log.info(
                "junction %d: %s yields to %s, waits %.1f s",
                c.junction_id,
                c.loser,
                c.winner,
                c.hold_s,
            )
        return conflicts

    def windows(self, junction_id: int) -> list[tuple[str, SignalWindow]]:
        """Every plan's window at a junction."""
        return [
            (p.plan_id, s) for p in self.plans for s in p.signals if s.junction_id == junction_id
        ]


def _unheld(plan: GreenWavePlan) -> GreenWavePlan:
    """The plan without the waits a previous resolution imposed."""
    total = 0.0
    out: list[SignalWindow] = []
    for s in plan.signals:
        total += s.hold_s
        out.append(replace(s.shifted(-total), hold_s=0.0))
    return replace(plan, signals=tuple(out), eta_preemption_s=plan.eta_preemption_s - total)


def plans_conflict_free(plans: Iterable[GreenWavePlan]) -> bool:
    """Whether no two plans hold overlapping windows on different approaches of a junction."""
    seen: dict[int, list[tuple[float, float, tuple[int, int], str]]] = {}
    for p in plans:
        base = p.depart.timestamp()
        for s in p.signals:
            if s.passed:
                continue
            a, b = base + s.window_start_s, base + s.window_end_s
            for a2, b2, app, pid in seen.get(s.junction_id, []):
                if pid != p.plan_id and app != s.approach_edge and a < b2 and a2 < b:
                    return False
            seen.setdefault(s.junction_id, []).append((a, b, s.approach_edge, p.plan_id))
    return True
