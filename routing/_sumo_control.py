"""Signal preemption through TraCI: hold an approach green inside a window, then restore.

A :class:`Preemptor` drives each traffic light it is asked to hold through the steps a
preemption controller takes: the conflicting greens turn yellow, then all red, then the
approach's links are held green (every other link red) for as long as a window asks;
then the approach turns yellow and the light's own program resumes, at the phase that
serves the approach least (the traffic that waited goes first).

:class:`EvRun` keeps, for one emergency vehicle, its plan and which SUMO crossing each
planned window belongs to, and answers which lights want holding at a time: from the
plan as made (``mode="plan"``), or re-timed from the vehicle's live position with
:func:`routing.greenwave.retime` (``mode="live"``), which also releases a light once
the vehicle has passed it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from routing._sumo_map import Crossing
    from routing.graph import RoadGraph
    from routing.greenwave import GreenWavePlan, Timing

__all__ = ["EvRun", "Preemptor"]

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


@dataclass
class EvRun:
    """One emergency vehicle's trip in a run: its plan and the crossings it maps to."""

    vehicle_id: str
    depart_s: float
    plan: GreenWavePlan
    crossed: list[Crossing]
    matched: dict[float, int]
    route_edges: list[str]
    arrived: bool = False
    retimes: int = 0
    last_retime_s: float = field(default=-1e9)

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
        step = -1
        if live:
            if self.vehicle_id not in sim.vehicle.getIDList():
                return {}
            step = self._route_step(sim)
            if now - self.last_retime_s >= retime_every_s:
                from routing.greenwave import retime

                x, y = sim.vehicle.getPosition(self.vehicle_id)
                lon, lat = sim.simulation.convertGeo(x, y)
                at = t0 + timedelta(seconds=now)
                self.plan = retime(graph, self.plan, (lon, lat), at=at, timing=timing)
                self.last_retime_s = now
                self.retimes += 1
        clock = (t0 + timedelta(seconds=now) - self.plan.depart).total_seconds()
        out: dict[str, frozenset[int]] = {}
        for w in self.plan.signals:
            k = self.matched.get(w.route_time_s)
            if k is None:
                continue
            c = self.crossed[k]
            active = w.window_start_s <= clock <= w.window_end_s
            if live:
                # The vehicle's own progress decides: a light is held until the vehicle
                # has left its approach, also when the projected position (a few metres
                # off on a wide junction) already counts the signal as passed.
                if step > c.last_step or not (active or w.passed):
                    continue
            elif not active:
                continue
            out[c.tls] = out.get(c.tls, frozenset()) | frozenset(c.approach)
        return out

    def _route_step(self, sim: Any) -> int:
        """Index in the route of the edge the vehicle is on (on a junction: the one before)."""
        return int(sim.vehicle.getRouteIndex(self.vehicle_id))
