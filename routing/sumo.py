"""Validate green-wave plans in SUMO: an emergency vehicle with and without preemption.

:func:`validate` converts an OSM extract to a SUMO network, adds seeded background
traffic, and drives an emergency vehicle (``vClass="emergency"``, no bluelight device:
it stops at red like everyone else) on each of ``trips`` planned routes, in three runs
over the same traffic:

- ``no_preemption``: the signals run their own programs;
- ``plan``: each planned window holds the vehicle's approach green (the conflicting
  greens turn yellow and all red first), then the program resumes; a light the plan
  has no window for gets one from the plan's timeline; a window that ends while the
  vehicle is still queued on the approach is held until it crosses (check-out);
- ``live``: the same, the remaining windows re-timed from the vehicle's live position
  every few seconds.

The background traffic is the same seeded trips in the three runs; its load is set
either relative to the network's capacity (``lane_flow_vph``: the mean flow per lane)
or as trips per kilometre of road. Each run reports how that traffic flowed (mean
speed, share of time lost, teleports, vehicles still driving at the end).

>>> result = validate("data/helsinki.osm.pbf", seed=1, trips=2)  # doctest: +SKIP
>>> result.to_dict()["runs"]["plan"]["ev_travel_time_s"]           # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np

from routing._sumo_net import SimulationError
from twin.errors import InvalidInput, NotComputable, OSMFileError

__all__ = ["RUNS", "SimulationError", "Validation", "load_sumo", "validate"]

log = logging.getLogger(__name__)

RunName = Literal["no_preemption", "plan", "live"]
RUNS: tuple[RunName, ...] = ("no_preemption", "plan", "live")
Backend = Literal["auto", "libsumo", "traci"]

#: The clock the plans are made on: simulation second 0.
_T0 = datetime(2024, 1, 1, 8, 0, tzinfo=UTC)


@dataclass
class Validation:
    """The outcome of :func:`validate`.

    ``runs`` maps each run to ``{"ev_travel_time_s": [...], "others_mean_delay_s": x}``;
    the rest describes the set-up: signal mapping, trips, background load, timings.
    """

    trips: int
    runs: dict[str, dict[str, Any]]
    seed: int
    signals: dict[str, Any]
    pairs: list[dict[str, Any]]
    setup: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON; ``trips`` and ``runs`` first."""
        return {
            "trips": self.trips,
            "runs": self.runs,
            "seed": self.seed,
            "signal_mapping": self.signals,
            "trip_pairs": self.pairs,
            "setup": self.setup,
        }


def load_sumo(backend: Backend = "auto") -> tuple[Any, str]:
    """The SUMO client module (``libsumo`` when it loads, else ``traci``) and its name."""
    if backend not in ("auto", "libsumo", "traci"):
        msg = f"backend={backend!r} is not known; choose one of ['auto', 'libsumo', 'traci']"
        raise InvalidInput(msg)
    from routing._sumo_net import keep_proj_env, sumo_home

    home = sumo_home()
    if backend in ("auto", "libsumo"):
        try:
            # libsumo prints version notes on import; keep stdout for the caller's output.
            with contextlib.redirect_stdout(sys.stderr), keep_proj_env():
                import libsumo
            return libsumo, "libsumo"
        except ImportError:
            if backend == "libsumo":
                msg = "backend='libsumo' cannot be imported; install the 'libsumo' package"
                raise SimulationError(msg) from None
    tools = str(home / "tools")
    if tools not in sys.path:
        sys.path.append(tools)
    with keep_proj_env():
        import traci

    return traci, "traci"


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Send what SUMO's C++ core prints to stdout to stderr instead."""
    sys.stdout.flush()
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    import os

    saved = os.dup(fd)
    try:
        os.dup2(sys.stderr.fileno(), fd)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, fd)
        os.close(saved)


def validate(
    osm: str | Path,
    *,
    seed: int,
    trips: int = 5,
    bbox: tuple[float, float, float, float] | None = None,
    per_km_h: float = 60.0,
    lane_flow_vph: float | None = None,
    spacing_s: float = 240.0,
    warmup_s: float = 300.0,
    retime_every_s: float = 5.0,
    backend: Backend = "auto",
    workdir: str | Path | None = None,
) -> Validation:
    """Drive ``trips`` emergency-vehicle trips in SUMO in the three runs of :data:`RUNS`.

    Parameters
    ----------
    osm
        The OSM extract (``.osm.pbf`` or ``.osm``).
    seed
        Seeds the trips' origins and destinations, the background traffic and SUMO.
    trips
        Number of emergency trips (each a different origin and destination).
    bbox
        ``(west, south, east, north)``: simulate only this part of the extract.
    per_km_h
        Background load: car trips starting per hour per kilometre of road.
    lane_flow_vph
        Background load relative to the network's capacity, used instead of
        ``per_km_h`` when given: the mean flow per lane (vehicles per hour) the
        background trips put on the network (a lane carries about 1,800 an hour, half
        that through a signal).
    spacing_s
        Seconds between two emergency departures (after ``warmup_s`` of traffic).
    retime_every_s
        How often the ``live`` run re-times the plan from the vehicle's position.
    backend
        ``"libsumo"`` (in process, faster), ``"traci"`` (a SUMO subprocess) or ``"auto"``.
    workdir
        Keep the network, demand and outputs here (default: a temporary folder).

    Raises
    ------
    InvalidInput
        ``trips`` below 1 or a bad option (400).
    OSMFileError
        A missing or unreadable extract (400).
    NotComputable
        Not enough routable trips with signals on this network (422).
    SimulationError
        SUMO missing or failing (503).
    """
    if isinstance(trips, bool) or not isinstance(trips, int) or trips < 1:
        msg = f"trips={trips!r} must be a whole number of at least 1"
        raise InvalidInput(msg)
    if lane_flow_vph is not None and not lane_flow_vph >= 0:
        msg = f"lane_flow_vph={lane_flow_vph!r} must be a flow of at least 0 vehicles per hour"
        raise InvalidInput(msg)
    if per_km_h < 0 or spacing_s <= 0 or warmup_s < 0 or retime_every_s <= 0:
        msg = (
            f"per_km_h={per_km_h!r}, spacing_s={spacing_s!r}, warmup_s={warmup_s!r} and "
            f"retime_every_s={retime_every_s!r} must be positive (per_km_h, warmup_s may be 0)"
        )
        raise InvalidInput(msg)
    if not Path(osm).is_file():
        msg = f"osm={str(osm)!r} is not a file"
        raise OSMFileError(msg)
    sim, backend_name = load_sumo(backend)
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="twin-sumo-") as tmp:
            return _validate(
                Path(osm),
                Path(tmp),
                sim=sim,
                backend=backend_name,
                seed=seed,
                trips=trips,
                bbox=bbox,
                per_km_h=per_km_h,
                lane_flow_vph=lane_flow_vph,
                spacing_s=spacing_s,
                warmup_s=warmup_s,
                retime_every_s=retime_every_s,
            )
    wd = Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    return _validate(
        Path(osm),
        wd,
        sim=sim,
        backend=backend_name,
        seed=seed,
        trips=trips,
        bbox=bbox,
        per_km_h=per_km_h,
        lane_flow_vph=lane_flow_vph,
        spacing_s=spacing_s,
        warmup_s=warmup_s,
        retime_every_s=retime_every_s,
    )


def _validate(
    osm: Path,
    wd: Path,
    *,
    sim: Any,
    backend: str,
    seed: int,
    trips: int,
    bbox: tuple[float, float, float, float] | None,
    per_km_h: float,
    lane_flow_vph: float | None,
    spacing_s: float,
    warmup_s: float,
    retime_every_s: float,
) -> Validation:
    from routing._sumo_map import map_signals, write_background_trips
    from routing._sumo_net import build_network, read_network, write_roads
    from routing.graph import RoadGraph
    from routing.greenwave import Timing

    timings: dict[str, float] = {}
    t = time.perf_counter()
    roads = wd / "roads.osm"
    write_roads(osm, roads, bbox=bbox)
    graph = RoadGraph.from_osm(roads, profile="emergency")
    timings["graph_s"] = time.perf_counter() - t
    t = time.perf_counter()
    net = read_network(build_network(roads, wd / "city.net.xml", seed=seed))
    timings["netconvert_s"] = time.perf_counter() - t
    signals = map_signals(graph, net)
    log.info("signals: %s", signals.to_dict())
    timing = Timing()
    rng = np.random.default_rng(seed)
    departs = [warmup_s + i * spacing_s for i in range(trips)]
    t = time.perf_counter()
    pairs = _pick_pairs(graph, net, signals, rng, departs, timing)
    timings["trips_s"] = time.perf_counter() - t
    longest = max(p["plan"].eta_no_preemption_s for p in pairs)
    end_s = departs[-1] + max(600.0, 4.0 * longest)
    bg = write_background_trips(
        net,
        wd / "background.rou.xml",
        seed=seed,
        begin_s=0.0,
        end_s=end_s,
        per_km_h=per_km_h,
        lane_flow_vph=lane_flow_vph,
    )
    _write_ev_routes(wd / "ev.rou.xml", pairs)
    runs: dict[str, dict[str, Any]] = {}
    stats: dict[str, Any] = {}
    for name in RUNS:
        t = time.perf_counter()
        out = _simulate(
            sim,
            net_path=net.path,
            wd=wd,
            name=name,
            pairs=pairs,
            graph=graph,
            seed=seed,
            end_s=end_s,
            timing=timing,
            retime_every_s=retime_every_s,
        )
        timings[f"run_{name}_s"] = time.perf_counter() - t
        runs[name] = {
            "ev_travel_time_s": out["ev_travel_time_s"],
            "others_mean_delay_s": out["others_mean_delay_s"],
        }
        stats[name] = {k: v for k, v in out.items() if k not in runs[name]}
    return Validation(
        trips=trips,
        runs=runs,
        seed=seed,
        signals=signals.to_dict(),
        pairs=[
            {
                "origin": p["origin"],
                "destination": p["destination"],
                "depart_s": p["depart_s"],
                "plan_eta_no_preemption_s": round(p["plan"].eta_no_preemption_s, 2),
                "plan_eta_preemption_s": round(p["plan"].eta_preemption_s, 2),
                "plan_signals": len(p["plan"].signals),
                "signals_matched": len(p["matched"]),
                "sumo_edges": len(p["edges"]),
            }
            for p in pairs
        ],
        setup={
            "backend": backend,
            "background_trips": bg["trips"],
            "background": bg,
            "per_km_h": None if lane_flow_vph is not None else per_km_h,
            "simulated_s": end_s,
            "sumo_tls": len(net.tls_ids),
            "run_stats": stats,
            "timings_s": {k: round(v, 2) for k, v in timings.items()},
        },
    )


def _pick_pairs(
    graph: Any,
    net: Any,
    signals: Any,
    rng: np.random.Generator,
    departs: list[float],
    timing: Any,
) -> list[dict[str, Any]]:
    """Seeded origin/destination pairs whose routes cross signals and map onto SUMO."""
    from routing._sumo_map import corridor_route, crossings, match_windows
    from routing.errors import NoRoute
    from routing.greenwave import plan_green_wave

    gnet = graph.net
    deg = np.bincount(gnet.tail, minlength=gnet.node_count)
    cand = [
        int(o)
        for o, d, c in zip(gnet.osm_ids.tolist(), deg.tolist(), gnet.cluster.tolist(), strict=True)
        if d >= 2 and c < 0 and str(o) in net.junction_xy
    ]
    if len(cand) < 2:
        msg = "the network has too few junctions for emergency trips"
        raise NotComputable(msg)
    out: list[dict[str, Any]] = []
    seen: set[tuple[int, int]] = set()
    for _ in range(400 * len(departs)):
        if len(out) == len(departs):
            break
        o, d = (int(v) for v in rng.choice(cand, size=2, replace=False))
        if (o, d) in seen:
            continue
        seen.add((o, d))
        depart = _T0 + timedelta(seconds=departs[len(out)])
        try:
            route = graph.route(o, d, depart=depart)
        except NoRoute:
            continue
        if not 60.0 <= route.travel_time_s <= 900.0:
            continue
        plan = plan_green_wave(
            graph, route, depart=depart, vehicle_id=f"ev-{len(out)}", timing=timing
        )
        if not plan.signals:
            continue
        edges = corridor_route(net, route)
        if edges is None:
            continue
        length = float(sum(net.length_m[net.index[e]] for e in edges))
        if not 0.8 <= length / max(route.length_m, 1.0) <= 1.25:
            continue
        crossed = crossings(net, edges)
        matched = match_windows(net, plan, crossed, signals)
        if not matched:
            continue
        starts = np.concatenate([[0.0], np.cumsum([net.length_m[net.index[e]] for e in edges])])
        out.append(
            {
                "origin": o,
                "destination": d,
                "depart_s": departs[len(out)],
                "plan": plan,
                "edges": edges,
                "crossed": crossed,
                "matched": matched,
                "edge_start_m": [float(v) for v in starts],
            }
        )
    if len(out) < len(departs):
        msg = (
            f"trips={len(departs)!r}: found only {len(out)} origin/destination pairs with "
            "signals on a route that maps onto the SUMO network; ask for fewer trips"
        )
        raise NotComputable(msg)
    return out


def _write_ev_routes(path: Path, pairs: list[dict[str, Any]]) -> None:
    from xml.sax.saxutils import quoteattr

    lines = [
        "<routes>\n",
        # An emergency vehicle class, driven like the plan's profile, without a bluelight
        # device: it obeys red lights.
        '  <vType id="ev" vClass="emergency" speedFactor="1.3" speedDev="0" sigma="0"/>\n',
    ]
    for i, p in enumerate(pairs):
        edges = quoteattr(" ".join(p["edges"]))
        lines.append(f'  <route id="r-ev-{i}" edges={edges}/>\n')
    for i, p in enumerate(pairs):
        lines.append(
            f'  <vehicle id="ev-{i}" type="ev" route="r-ev-{i}" depart="{p["depart_s"]:.1f}"'
            ' departLane="best" departSpeed="max"/>\n'
        )
    lines.append("</routes>\n")
    path.write_text("".join(lines))


def _simulate(
    sim: Any,
    *,
    net_path: Path,
    wd: Path,
    name: str,
    pairs: list[dict[str, Any]],
    graph: Any,
    seed: int,
    end_s: float,
    timing: Any,
    retime_every_s: float,
) -> dict[str, Any]:
    from routing._sumo_control import EvRun, Preemptor
    from routing._sumo_net import sumo_home

    tripinfo = wd / f"tripinfo-{name}.xml"
    cmd = [
        str(sumo_home() / "bin" / "sumo"),
        "-n",
        str(net_path),
        "-r",
        f"{wd / 'ev.rou.xml'},{wd / 'background.rou.xml'}",
        "--seed",
        str(seed),
        "--begin",
        "0",
        "--end",
        str(end_s),
        "--tripinfo-output",
        str(tripinfo),
        "--tripinfo-output.write-unfinished",
        "true",
        "--time-to-teleport",
        "300",
        "--ignore-route-errors",
        "true",
        "--no-step-log",
        "true",
        "--no-warnings",
        "true",
        "--duration-log.disable",
        "true",
        "--error-log",
        str(wd / f"sumo-{name}.log"),
    ]
    evs = [
        EvRun(
            f"ev-{i}",
            p["depart_s"],
            p["plan"],
            p["crossed"],
            p["matched"],
            p["edges"],
            edge_start_m=p["edge_start_m"],
        )
        for i, p in enumerate(pairs)
    ]
    ev_ids = {e.vehicle_id: e for e in evs}
    present: set[str] = set()
    pre = None
    teleports = 0
    with _stdout_to_stderr():
        try:
            sim.start(cmd)
        except Exception as exc:  # libsumo and traci raise their own classes
            msg = f"SUMO did not start for run {name!r}: {exc}"
            raise SimulationError(msg) from exc
        try:
            if name != "no_preemption":
                pre = Preemptor(sim, yellow_s=timing.yellow_s, all_red_s=timing.all_red_s)
            now = 0.0
            while now < end_s:
                sim.simulationStep()
                now = float(sim.simulation.getTime())
                present.update(v for v in sim.simulation.getDepartedIDList() if v in ev_ids)
                for v in sim.simulation.getArrivedIDList():
                    if v in ev_ids:
                        ev_ids[v].arrived = True
                        present.discard(v)
                teleports += int(sim.simulation.getStartingTeleportNumber())
                if pre is None:
                    continue
                wanted: dict[str, frozenset[int]] = {}
                for ev in evs:
                    if ev.arrived or now < ev.depart_s:
                        continue
                    live = name == "live"
                    if live and ev.vehicle_id not in present:
                        continue
                    for tls, links in ev.wanted(
                        now,
                        live=live,
                        sim=sim,
                        graph=graph,
                        t0=_T0,
                        timing=timing,
                        retime_every_s=retime_every_s,
                    ).items():
                        wanted.setdefault(tls, links)  # the earlier vehicle keeps a light
                pre.step(now, wanted)
        finally:
            sim.close()
    ev_time, others, flow = _read_tripinfo(tripinfo, ev_ids, end_s)
    return {
        "ev_travel_time_s": ev_time,
        "others_mean_delay_s": round(float(np.mean(others)) if others else math.nan, 3),
        "others": len(others),
        **flow,
        "ev_unfinished": sum(not e.arrived for e in evs),
        "teleports": teleports,
        "holds": 0 if pre is None else pre.holds,
        "retimes": sum(e.retimes for e in evs),
        "extended": sum(e.extended for e in evs),
        "timed_out": sum(e.timed_out for e in evs),
    }


def _read_tripinfo(
    path: Path, ev_ids: dict[str, Any], end_s: float
) -> tuple[list[float], list[float], dict[str, float]]:
    """EV travel times in trip order, every other vehicle's time loss, and how they flowed.

    The flow figures: the others' mean speed (route length over duration), the share of
    their travel time lost, and how many had not arrived when the simulation ended.
    """
    ev: dict[str, float] = {}
    others: list[float] = []
    driven = spent = 0.0
    unfinished = 0
    for _, el in ET.iterparse(path, events=("end",)):
        if el.tag != "tripinfo":
            continue
        vid = el.get("id", "")
        if vid in ev_ids:
            arrival = float(el.get("arrival", "-1"))
            depart = float(el.get("depart", "0"))
            ev[vid] = round((arrival if arrival >= 0 else end_s) - depart, 2)
        else:
            others.append(float(el.get("timeLoss", "0")))
            driven += float(el.get("routeLength", "0"))
            spent += float(el.get("duration", "0"))
            unfinished += float(el.get("arrival", "0")) < 0
        el.clear()
    flow = {
        "others_mean_speed_ms": round(driven / spent, 2) if spent > 0 else math.nan,
        "others_time_loss_share": round(sum(others) / spent, 3) if spent > 0 else math.nan,
        "others_unfinished": unfinished,
    }
    return [ev.get(v, math.nan) for v in ev_ids], others, flow
