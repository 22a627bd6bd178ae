"""Signal preemption through TraCI: hold an approach green inside a window, then restore.

A :class:`Preemptor` drives each traffic light it is asked to hold through the steps a
preemption controller takes: the conflicting greens turn yellow, then all red, then the
approach's links are held green (every other link red) for as long as a window asks;
then the approach turns yellow and the light's own program resumes, at the phase that
serves the approach least (the traffic that waited goes first).

:class:`EvRun` keeps, for one emergency vehicle, its plan and which SUMO crossing each
planned window belongs to, and answers which lights want holding at a time: from the
plan as made, or re-timed from the vehicle's live position with
:func:`routing.greenwave.retime` (``live=True``). Every traffic light on the vehicle's
SUMO route gets a window: the plan's own where it has one, else one read off the
plan's timeline at that point of the route (:meth:`EvRun.windows`). A light is
released once the vehicle has crossed it; a window that ends with the vehicle still
queued on the approach is extended until it crosses (check-out detection, bounded),
and no light is held longer than a controller's maximum preemption time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from routing._sumo_map import Crossing
    from routing.graph import RoadGraph
    from routing.greenwave import GreenWavePlan, Timing

__all__ = ["EvRun", "Preemptor", "Window"]

log = logging.getLogger(__name__)


@dataclass
class _Hold:
    links: frozenset[int]
    stage: str  # "clear", "allred", "hold", "exit"
    until: float
    program: str


class Preemptor:
    """Holds traffic lights green for approaches, with yellow and all-red transitions.

    Parameters
    ----------
    sim
        The ``libsumo`` or ``traci`` module, with a simulation running.
    yellow_s, all_red_s
        The clearance times of the transitions.
    """

    def __init__(self, sim: Any, *, yellow_s: float, all_red_s: float) -> None:
        self.sim = sim
        self.yellow_s = yellow_s
        self.all_red_s = all_red_s
        self.active: dict[str, _Hold] = {}
        self.holds = 0

    def _set(self, tls: str, state: str) -> None:
        self.sim.trafficlight.setRedYellowGreenState(tls, state)

    def _hold_state(self, n: int, links: frozenset[int]) -> str:
        return "".join("G" if i in links else "r" for i in range(n))

    def _restore(self, tls: str, h: _Hold) -> None:
        tl = self.sim.trafficlight
        tl.setProgram(tls, h.program)
        logic = next((lg for lg in tl.getAllProgramLogics(tls) if lg.programID == h.program), None)
        if logic is not None and logic.phases:

            def served(k: int) -> tuple[int, int]:
                st = logic.phases[k].state
                mine = sum(1 for i in h.links if i < len(st) and st[i] in "Gg")
                others = sum(1 for c in st if c in "Gg")
                return (mine, -others)

            tl.setPhase(tls, min(range(len(logic.phases)), key=served))

    def step(self, now: float, wanted: dict[str, frozenset[int]]) -> None:
        """Advance every light one step towards what ``wanted`` asks at time ``now``."""
        tl = self.sim.trafficlight
        for tls, links in wanted.items():
            if tls in self.active:
                continue
            cur = tl.getRedYellowGreenState(tls)
            program = tl.getProgram(tls)
            conflicting = [i for i, c in enumerate(cur) if c in "Gg" and i not in links]
            self.holds += 1
            if not conflicting:
                self._set(tls, self._hold_state(len(cur), links))
                self.active[tls] = _Hold(links, "hold", now, program)
            else:
                st = "".join("y" if i in conflicting else c for i, c in enumerate(cur))
                self._set(tls, st)
                self.active[tls] = _Hold(links, "clear", now + self.yellow_s, program)
        for tls in list(self.active):
            h = self.active[tls]
            n = len(tl.getRedYellowGreenState(tls))
            want = tls in wanted
            if want and wanted[tls] != h.links and h.stage == "hold":
                h.links = wanted[tls]
                self._set(tls, self._hold_state(n, h.links))
            if not want and h.stage in ("clear", "allred"):
                self._restore(tls, h)
                del self.active[tls]
            elif not want and h.stage == "hold":
                st = "".join("y" if i in h.links else "r" for i in range(n))
                self._set(tls, st)
                h.stage, h.until = "exit", now + self.yellow_s
            elif want and h.stage == "exit":
                self._set(tls, self._hold_state(n, h.links))
                h.stage = "hold"
            elif h.stage == "clear" and now >= h.until:
                self._set(tls, "r" * n)
                h.stage, h.until = "allred", now + self.all_red_s
            elif h.stage == "allred" and now >= h.until:
                self._set(tls, self._hold_state(n, h.links))
                h.stage = "hold"
            elif h.stage == "exit" and now >= h.until:
                self._restore(tls, h)
                del self.active[tls]


@dataclass(frozen=True)
class Window:
    """When a crossing's approach is to be green, in seconds of the plan's clock.

    ``source`` is ``"plan"`` for a window of the plan itself and ``"route"`` for a SUMO
    light the plan has no window for (a junction the plan's graph does not signal, or
    one it maps elsewhere): its ETA is read off the plan's own timeline at that point of
    the route, and its lead and band are worked out as the plan works out its own.
    """

    start: float
    end: float
    eta: float
    source: str


@dataclass
class EvRun:
    """One emergency vehicle's trip in a run: its plan and the crossings it maps to.

    ``checkout_m`` and ``max_extend_s`` describe the check-out detection: when a window
    ends while the vehicle is within ``checkout_m`` of the stop line (or inside the
    junction), the light stays green until the vehicle has crossed, for at most
    ``max_extend_s`` past the window's end. ``max_hold_s`` bounds how long one vehicle
    holds one light in all (a controller's maximum preemption time): a vehicle stuck
    short of a light lets it go back to its program.
    """

    vehicle_id: str
    depart_s: float
    plan: GreenWavePlan
    crossed: list[Crossing]
    matched: dict[float, int]
    route_edges: list[str]
    edge_start_m: list[float] = field(default_factory=list)
    checkout_m: float = 150.0
    max_extend_s: float = 60.0
    max_hold_s: float = 120.0
    arrived: bool = False
    retimes: int = 0
    extended: int = 0
    last_retime_s: float = field(default=-1e9)
    _extending: set[int] = field(default_factory=set)
    _held_since: dict[int, float] = field(default_factory=dict)
    _timed_out: set[int] = field(default_factory=set)

    @property
    def timed_out(self) -> int:
        """How many lights this vehicle let go after ``max_hold_s`` without crossing."""
        return len(self._timed_out)

    def windows(self, timing: Timing, here: tuple[float, float] | None = None) -> dict[int, Window]:
        """The window of every crossing: the plan's, else one from the plan's timeline.

        ``here`` is the vehicle's live ``(metres along the route, plan clock)``: the
        timeline then starts there instead of at the departure.
        """
        out: dict[int, Window] = {}
        anchors: list[tuple[float, float]] = [here or (0.0, 0.0)]
        for w in self.plan.signals:
            k = self.matched.get(w.route_time_s)
            if k is None:
                continue
            out[k] = Window(w.window_start_s, w.window_end_s, w.eta_s, "plan")
            if self.crossed[k].stop_m > anchors[0][0] and not w.passed:
                anchors.append((self.crossed[k].stop_m, w.eta_s))
        length = self.edge_start_m[-1] if self.edge_start_m else 0.0
        end = max(length, anchors[-1][0] + 1.0)
        anchors.append((end, max(self.plan.eta_preemption_s, anchors[-1][1])))
        anchors.sort()
        xs = np.array([a[0] for a in anchors])
        ts = np.maximum.accumulate(np.array([a[1] for a in anchors]))
        now = anchors[0][1]
        for k, c in enumerate(self.crossed):
            if k in out:
                continue
            eta = float(np.interp(c.stop_m, xs, ts))
            band = timing.band_base_s + timing.band_share * max(eta - now, 0.0)
            queue = min(
                timing.max_queue,
                int(c.approach_m * timing.queue_share / timing.vehicle_spacing_m),
            )
            flush = (timing.startup_s + queue * timing.headway_s) if queue else 0.0
            lead = timing.yellow_s + timing.all_red_s + flush
            out[k] = Window(
                max(eta - band - lead, now), eta + band + timing.clearance_s, eta, "route"
            )
        return out

    def wanted(
        self,
        now: float,
        *,
        live: bool,
        sim: Any,
        graph: RoadGraph,
        t0: datetime,
        timing: Timing,
        retime_every_s: float,
    ) -> dict[str, frozenset[int]]:
        """The lights this vehicle wants held at ``now`` (simulation seconds)."""
        if self.arrived or now < self.depart_s:
            return {}
        present = self.vehicle_id in sim.vehicle.getIDList()
        if live and not present:
            return {}
        step, lane_pos = -1, 0.0
        if present:
            step = int(sim.vehicle.getRouteIndex(self.vehicle_id))
            lane_pos = float(sim.vehicle.getLanePosition(self.vehicle_id))
            if str(sim.vehicle.getRoadID(self.vehicle_id)).startswith(":"):
                lane_pos = float("inf")  # inside a junction: past the stop line
        if live and now - self.last_retime_s >= retime_every_s:
            from routing.greenwave import retime

            x, y = sim.vehicle.getPosition(self.vehicle_id)
            lon, lat = sim.simulation.convertGeo(x, y)
            at = t0 + timedelta(seconds=now)
            self.plan = retime(graph, self.plan, (lon, lat), at=at, timing=timing)
            self.last_retime_s = now
            self.retimes += 1
        clock = (t0 + timedelta(seconds=now) - self.plan.depart).total_seconds()
        passed = {w.route_time_s for w in self.plan.signals if w.passed}
        plan_passed = {k for t, k in self.matched.items() if t in passed}
        here = None
        if live and 0 <= step < len(self.edge_start_m) and lane_pos != float("inf"):
            here = (self.edge_start_m[step] + lane_pos, clock)
        out: dict[str, frozenset[int]] = {}
        for k, w in self.windows(timing, here).items():
            c = self.crossed[k]
            if present and step > c.last_step:
                self._extending.discard(k)
                continue
            # Live, the vehicle's own progress decides: a light whose signal the
            # re-timed plan counts as passed (a position a few metres off on a wide
            # junction) is held until the vehicle has left its approach.
            if not (w.start <= clock <= w.end or (live and k in plan_passed)):
                # Check-out: a vehicle still short of the stop line when its window ends
                # keeps the green until it has crossed (bounded by max_extend_s).
                if not (present and w.end < clock <= w.end + self.max_extend_s):
                    continue
                if self._distance_to(step, lane_pos, c) > self.checkout_m:
                    continue
                if k not in self._extending:
                    self._extending.add(k)
                    self.extended += 1
            since = self._held_since.setdefault(k, now)
            if now - since > self.max_hold_s:
                self._timed_out.add(k)
                continue
            out[c.tls] = out.get(c.tls, frozenset()) | frozenset(c.approach)
        return out

    def _distance_to(self, step: int, lane_pos: float, c: Crossing) -> float:
        """Metres from the vehicle (on route edge ``step``) to the stop line of ``c``."""
        if step > c.step or lane_pos == float("inf"):
            return 0.0
        if not 0 <= step < len(self.edge_start_m):
            return float("inf")
        return max(c.stop_m - self.edge_start_m[step] - lane_pos, 0.0)
