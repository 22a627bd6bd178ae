"""Green-wave plans: windows, live re-timing and conflict resolution."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from routing.graph import RoadGraph
from routing.greenwave import (
    PlanBoard,
    SignalWindow,
    Timing,
    plan_green_wave,
    plans_conflict_free,
    retime,
)
from tests.routing.osm_helpers import grid_node, grid_pos

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
SIG = {"highway": "traffic_signals"}


def test_plan_windows_on_helsinki(helsinki_ev: RoadGraph) -> None:
    g = helsinki_ev
    timing = Timing()
    plan = plan_green_wave(g, (24.9384, 60.1699), (24.9455, 60.1650), depart=T0, timing=timing)
    route = plan.route
    net = g.net
    # every entry into a signalised junction along the route, in order
    entries = [
        e
        for e, (_, f1) in zip(route.edges, route.fractions, strict=True)
        if f1 == 1.0
        and net.cluster[net.head[e]] >= 0
        and net.cluster[net.tail[e]] != net.cluster[net.head[e]]
    ]
    assert len(plan.signals) == len(entries) > 3
    known = {s["junction_id"] for s in g.signals()}
    etas = [s.eta_s for s in plan.signals]
    assert etas == sorted(etas)
    for s in plan.signals:
        assert s.junction_id in known
        assert s.window_start_s <= s.eta_early_s < s.eta_s < s.eta_late_s < s.window_end_s
        assert s.recovery_end_s == pytest.approx(s.window_end_s + timing.recovery_s)
        flush = timing.startup_s + s.queue_vehicles * timing.headway_s if s.queue_vehicles else 0
        assert s.lead_s == pytest.approx(timing.yellow_s + timing.all_red_s + flush)
        assert s.window_end_s == pytest.approx(s.eta_late_s + timing.clearance_s)
        assert s.window_start_s == pytest.approx(max(0.0, s.eta_early_s - s.lead_s))
    # preemption removes the expected signal waits
    assert plan.eta_preemption_s < plan.eta_no_preemption_s
    saved = float(net.signal_delay_s[route.edges].sum())
    assert plan.time_saved_s == pytest.approx(saved, abs=0.5)
    d = plan.to_dict()
    assert d["signals"][0]["window"]["start"].startswith("2024-05-01T08:")


def _corridor(osm_file: Callable[..., Path]) -> RoadGraph:
    # An east-west avenue with signalised crossings at columns 3 and 6, north-south
    # streets through them.
    ways = [
        (1, [grid_node(i, 2) for i in range(10)], {"highway": "primary", "maxspeed": "36"}),
        (2, [grid_node(3, j) for j in range(5)], {"highway": "primary", "maxspeed": "36"}),
        (3, [grid_node(6, j) for j in range(5)], {"highway": "primary", "maxspeed": "36"}),
    ]
    tags = {grid_node(3, 2): SIG, grid_node(6, 2): SIG}
    return RoadGraph.from_osm(osm_file(ways, node_tags=tags), profile="car")


def test_eta_is_the_driving_time_to_the_signal(osm_file: Callable[..., Path]) -> None:
    g = _corridor(osm_file)
    plan = plan_green_wave(g, grid_node(0, 2), grid_node(9, 2), depart=T0)
    assert [s.junction_id for s in plan.signals] == [grid_node(3, 2), grid_node(6, 2)]
    assert [s.movement for s in plan.signals] == ["straight", "straight"]
    speed = 36 / 3.6
    for s, col in zip(plan.signals, (3, 6), strict=True):
        dist = sum(
            float(g.net.length_m[e])
            for e in plan.route.edges
            if g.net.osm_ids[g.net.head[e]] in {grid_node(i, 2) for i in range(1, col + 1)}
        )
        assert s.eta_s == pytest.approx(dist / speed, abs=0.01)
    assert plan.eta_no_preemption_s == pytest.approx(
        plan.eta_preemption_s + 2 * g.profile.signal_delay_s, abs=0.01
    )


def test_retime_from_live_position(osm_file: Callable[..., Path]) -> None:
    g = _corridor(osm_file)
    plan = plan_green_wave(g, grid_node(0, 2), grid_node(9, 2), depart=T0)
    first, second = plan.signals
    # the vehicle is at column 4.5 (past the first signal), 10 s later than planned
    lon = (grid_pos(4, 2)[0] + grid_pos(5, 2)[0]) / 2
    planned_there = (first.route_time_s + second.route_time_s) / 2
    now = T0 + timedelta(seconds=planned_there + 10)
    new = retime(g, plan, (lon, grid_pos(4, 2)[1]), at=now)
    a, b = new.signals
    assert a.passed and not b.passed
    assert a.window_start_s == first.window_start_s  # a passed window is kept as it was
    assert b.eta_s == pytest.approx(second.eta_s + 10, abs=0.2)
    assert (b.eta_late_s - b.eta_early_s) < (second.eta_late_s - second.eta_early_s)
    assert new.eta_preemption_s == pytest.approx(plan.eta_preemption_s + 10, abs=0.2)
    assert new.updated == now


def test_conflicting_plans_are_resolved_by_priority(osm_file: Callable[..., Path]) -> None:
    g = _corridor(osm_file)
    east = plan_green_wave(
        g, grid_node(0, 2), grid_node(9, 2), depart=T0, vehicle_id="a", priority=1
    )
    # northbound through the first crossing, timed to meet the first vehicle there
    north = plan_green_wave(
        g, grid_node(3, 0), grid_node(3, 4), depart=T0, vehicle_id="b", priority=2
    )
    board = PlanBoard()
    board.submit(east)
    north_b = board.submit(north)
    assert not plans_conflict_free([east, north])
    assert plans_conflict_free(board.plans)
    (c,) = board.conflicts
    assert (c.junction_id, c.winner, c.loser) == (grid_node(3, 2), north.plan_id, east.plan_id)
    won = {p.plan_id: p for p in board.plans}
    assert (
        won[north.plan_id].signals == north_b.signals == north.signals
    )  # the winner keeps its plan
    lost = won[east.plan_id]
    assert lost.signals[0].hold_s == pytest.approx(c.hold_s) and c.hold_s > 0
    # the loser's green starts after the winner's window plus the all-red time
    assert lost.signals[0].window_start_s == pytest.approx(
        north.signals[0].window_end_s + board.timing.all_red_s
    )
    assert lost.signals[1].window_start_s == pytest.approx(
        east.signals[1].window_start_s + c.hold_s
    )
    assert lost.eta_preemption_s == pytest.approx(east.eta_preemption_s + c.hold_s)
    # once the winner is withdrawn the loser gets its own timing back
    board.withdraw(north.plan_id)
    back = board.plans[0].signals

    def times(ws: tuple[SignalWindow, ...]) -> list[float]:
        return [t for s in ws for t in (s.eta_s, s.window_start_s, s.window_end_s)]

    assert times(back) == pytest.approx(times(east.signals))
    assert board.conflicts == [] and all(s.hold_s == 0 for s in back)


def test_same_approach_is_no_conflict(osm_file: Callable[..., Path]) -> None:
    g = _corridor(osm_file)
    a = plan_green_wave(g, grid_node(0, 2), grid_node(9, 2), depart=T0, priority=1)
    b = plan_green_wave(
        g, grid_node(0, 2), grid_node(6, 4), depart=T0 + timedelta(seconds=3), priority=2
    )
    board = PlanBoard()
    board.submit(a)
    board.submit(b)
    assert board.conflicts == []


def test_random_plans_never_share_conflicting_green(helsinki_ev: RoadGraph) -> None:
    g = helsinki_ev
    rng = np.random.default_rng(3)
    ids = g.net.osm_ids
    board = PlanBoard()
    made = 0
    while made < 12:
        a, b = (int(x) for x in ids[rng.integers(0, len(ids), 2)])
        try:
            plan = plan_green_wave(
                g,
                a,
                b,
                depart=T0 + timedelta(seconds=int(rng.integers(0, 90))),
                priority=int(rng.integers(1, 4)),
            )
        except Exception:
            continue
        board.submit(plan)
        made += 1
    assert board.conflicts  # twelve vehicles in a small centre do meet
    assert plans_conflict_free(board.plans)
