"""The road graph: building, profiles, turn restrictions, signals, networkx export."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from routing.dispatch import rank_stations
from routing.graph import RoadGraph
from routing.greenwave import plan_green_wave
from routing.profiles import CAR, EMERGENCY, get_profile, parse_maxspeed
from tests.routing.osm_helpers import grid_node, grid_pos
from twin.errors import InvalidInput, OSMFileError


def _line(
    wid: int, cells: list[tuple[int, int]], **tags: str
) -> tuple[int, list[int], dict[str, str]]:
    return (wid, [grid_node(i, j) for i, j in cells], {"highway": "residential", **tags})


def test_helsinki_graph_is_directed_with_signals_and_restrictions(helsinki_car: RoadGraph) -> None:
    g = helsinki_car
    net = g.net
    assert g.node_count > 300 and g.edge_count > 500
    # one-way streets give edges without a reverse twin
    pairs = set(zip(net.tail.tolist(), net.head.tolist(), strict=True))
    assert any((v, u) not in pairs for u, v in pairs)
    assert len(net.cluster_ids) > 20
    assert len(net.restrictions) > 10
    assert g.engine.banned_turns > 0
    assert (net.time_s > 0).all() and (net.length_m > 0).all()


def test_maxspeed_and_profiles() -> None:
    assert parse_maxspeed("50") == 50.0
    assert parse_maxspeed("PT:urban") == 50.0
    assert parse_maxspeed("50;30") == 30.0
    assert parse_maxspeed("signals") is None
    tags = {"highway": "primary", "maxspeed": "50"}
    assert CAR.speed_kmh(tags) == 50.0
    assert 50.0 < EMERGENCY.speed_kmh(tags) <= 70.0
    assert not CAR.usable({"highway": "busway"})
    assert EMERGENCY.usable({"highway": "busway"})
    assert not CAR.usable({"highway": "service", "access": "emergency"})
    assert EMERGENCY.usable({"highway": "service", "access": "emergency"})
    assert EMERGENCY.oneway({"highway": "primary", "oneway": "yes", "oneway:psv": "no"}) == "no"
    assert CAR.oneway({"highway": "primary", "oneway": "yes", "oneway:psv": "no"}) == "yes"
    with pytest.raises(
        InvalidInput, match=r"profile='bike' is not known; choose one of \['car', 'emergency'\]"
    ):
        get_profile("bike")


def test_emergency_profile_uses_bus_lanes(osm_file: Callable[..., Path]) -> None:
    # A long detour for cars and a short busway only the emergency vehicle may take.
    path = osm_file(
        [
            _line(1, [(0, 0), (0, 3), (4, 3), (4, 0)]),
            (2, [grid_node(0, 0), grid_node(2, 0), grid_node(4, 0)], {"highway": "busway"}),
        ]
    )
    car = RoadGraph.from_osm(path, profile="car")
    ev = RoadGraph.from_osm(path, profile="emergency")
    a, b = grid_node(0, 0), grid_node(4, 0)
    assert grid_node(2, 0) not in car.route(a, b).node_ids
    assert ev.route(a, b).node_ids == [a, grid_node(2, 0), b]


def test_oneway_is_honoured(osm_file: Callable[..., Path]) -> None:
    path = osm_file([_line(1, [(0, 0), (1, 0), (2, 0)], oneway="yes")])
    g = RoadGraph.from_osm(path)
    assert g.route(grid_node(0, 0), grid_node(2, 0)).node_ids == [1000, 1002]  # 1001 merged
    from routing.errors import NoRoute

    with pytest.raises(NoRoute) as err:
        g.route(grid_node(2, 0), grid_node(0, 0))
    assert err.value.status == 422
    assert str(err.value) == (
        "no route from origin=1002 to destination=1000 for a 'car' vehicle; they are not "
        "connected (one-way streets, an island, or closed roads)"
    )


@pytest.mark.parametrize("kind", ["no_left_turn", "only_straight_on"])
def test_turn_restrictions_are_honoured(osm_file: Callable[..., Path], kind: str) -> None:
    # A cross at (1, 1): from the south, turning left (west) is forbidden by either
    # relation; the route must go round the block by the north.
    ways = [
        _line(10, [(1, 0), (1, 1)]),  # from, northbound
        _line(11, [(1, 1), (0, 1)]),  # west arm
        _line(12, [(1, 1), (1, 2)]),  # north arm
        _line(13, [(1, 1), (2, 1)], oneway="yes"),  # east arm, no U-turn back
        _line(14, [(1, 2), (0, 2), (0, 1)]),  # the way round
        _line(15, [(1, 2), (1, 3)]),  # so that (1, 2) and (0, 1) stay junctions
        _line(16, [(0, 1), (0, 0)]),
    ]
    to_way = 11 if kind.startswith("no") else 12
    members = [("way", 10, "from"), ("node", grid_node(1, 1), "via"), ("way", to_way, "to")]
    path = osm_file(ways, relations=[(90, {"type": "restriction", "restriction": kind}, members)])
    free = RoadGraph.from_osm(path, turn_restrictions=False)
    ruled = RoadGraph.from_osm(path)
    a, b = grid_node(1, 0), grid_node(0, 1)
    assert free.route(a, b).node_ids == [a, grid_node(1, 1), b]
    r = ruled.route(a, b)
    assert r.node_ids == [a, grid_node(1, 1), grid_node(1, 2), b]
    assert all(11 not in ruled.net.ways[e] for e in r.edges)
    assert r.travel_time_s > free.route(a, b).travel_time_s
    # no_left_turn leaves the right turn; only_straight_on forbids it too
    right = ruled.route(a, grid_node(2, 1)).node_ids
    if kind == "no_left_turn":
        assert right == [a, grid_node(1, 1), grid_node(2, 1)]
    else:
        assert right[:3] == [a, grid_node(1, 1), grid_node(1, 2)]


def test_uturn_only_at_dead_ends(osm_file: Callable[..., Path]) -> None:
    # Left turn forbidden at (1, 1); the only way west is a U-turn at the dead end (2, 2).
    ways = [
        _line(10, [(1, 0), (1, 1)]),
        _line(11, [(1, 1), (0, 1)]),
        _line(12, [(1, 1), (1, 2), (2, 2)]),
    ]
    members = [("way", 10, "from"), ("node", grid_node(1, 1), "via"), ("way", 11, "to")]
    rel = (90, {"type": "restriction", "restriction": "no_left_turn"}, members)
    g = RoadGraph.from_osm(osm_file(ways, relations=[rel]))
    r = g.route(grid_node(1, 0), grid_node(0, 1))
    assert r.node_ids == [
        grid_node(1, 0),
        grid_node(1, 1),
        grid_node(2, 2),
        grid_node(1, 1),
        grid_node(0, 1),
    ]
    turn = next(s for s in r.steps if s.maneuver == "turn")
    assert turn.modifier == "uturn" and turn.instruction.startswith("Make a U-turn")
    # turning round takes the profile's time, counted in the route and in its step
    k = r.node_ids.index(grid_node(2, 2))
    assert r.turn_times_s == [0.0] * k + [g.profile.uturn_s] + [0.0] * (len(r.edges) - k - 1)
    driven = int(g.engine.edge_ms[r.edges].sum())
    assert round(r.travel_time_s * 1000) == driven + round(g.profile.uturn_s * 1000)
    assert sum(s.duration_s for s in r.steps) == pytest.approx(r.travel_time_s)


def _restricted_cross(
    osm_file: Callable[..., Path], far: int, tags: dict[str, str] | None = None
) -> Path:
    """A cross at (1, 1) where turning left (west) from the south is forbidden; the way
    round leaves north up to row ``far`` and comes back down column 0."""
    ways = [
        _line(10, [(1, 0), (1, 1)]),  # from, northbound
        _line(11, [(1, 1), (0, 1)]),  # west arm: the forbidden left turn
        _line(12, [(1, 1), (1, far)]),  # north arm
        _line(13, [(1, 1), (2, 1)], oneway="yes"),  # east arm, no U-turn back
        _line(14, [(1, far), (0, far), (0, 1)]),  # the way round
        _line(15, [(1, far), (1, far + 1)]),
        _line(16, [(0, 1), (0, 0)]),
    ]
    members = [("way", 10, "from"), ("node", grid_node(1, 1), "via"), ("way", 11, "to")]
    rel_tags = {"type": "restriction", "restriction": "no_left_turn", **(tags or {})}
    return osm_file(ways, relations=[(90, rel_tags, members)])


def test_emergency_vehicle_turns_against_a_restriction_when_it_pays(
    osm_file: Callable[..., Path],
) -> None:
    a, b = grid_node(1, 0), grid_node(0, 1)
    # Going round takes well over the 30 s the restricted turn costs: the emergency
    # vehicle turns, with care, and says so; a car goes round.
    path = _restricted_cross(osm_file, far=8)
    ev = RoadGraph.from_osm(path, profile="emergency")
    car = RoadGraph.from_osm(path, profile="car")
    assert EMERGENCY.restricted_turn_s == 30.0 and CAR.restricted_turn_s is None
    assert car.route(a, b).node_ids == [a, grid_node(1, 1), grid_node(1, 8), b]
    r = ev.route(a, b)
    assert r.node_ids == [a, grid_node(1, 1), b]
    assert r.turn_times_s == [0.0, 30.0]
    assert round(r.travel_time_s * 1000) == int(ev.engine.edge_ms[r.edges].sum()) + 30_000
    (step,) = r.restricted_turns
    assert step.restriction == "no_left_turn" and step.node_id == grid_node(1, 1)
    assert step.instruction == (
        "Turn left onto the road against the no_left_turn restriction, with care"
    )
    assert step.to_dict()["restriction"] == "no_left_turn"
    assert sum(s.duration_s for s in r.steps) == pytest.approx(r.travel_time_s)
    assert ev.engine.banned_turns < car.engine.banned_turns
    # no signal on the way: the green wave saves nothing, the turn's time still counts
    plan = plan_green_wave(ev, a, b, depart="2026-01-05T08:00:00Z")
    assert plan.eta_preemption_s == pytest.approx(r.travel_time_s, abs=1e-3)
    # rank_stations and coverage count it too
    (cand,) = rank_stations(
        ev, b, stations=[{"id": "s", "lon": grid_pos(1, 0)[0], "lat": grid_pos(1, 0)[1]}]
    )
    assert cand.travel_time_preempted_s == pytest.approx(cand.travel_time_s, abs=1e-3)
    # Going round one short block is quicker than 30 s: the emergency vehicle obeys.
    near = RoadGraph.from_osm(_restricted_cross(osm_file, far=2), profile="emergency")
    r = near.route(a, b)
    assert r.node_ids == [a, grid_node(1, 1), grid_node(1, 2), b]
    assert r.restricted_turns == [] and set(r.turn_times_s) == {0.0}
    # Asked to obey every restriction, it goes round like the car, then turns again.
    strict = ev.route(a, b, obey_restrictions=True)
    assert strict.node_ids == car.route(a, b).node_ids and strict.restricted_turns == []
    assert ev.route(a, b).node_ids == [a, grid_node(1, 1), b]
    assert not ev.engine.obeying
    # ... also when the route ends part-way along the forbidden turn's street
    mid = (grid_pos(0, 1)[0] + 0.0005, grid_pos(0, 1)[1])
    assert ev.route(a, mid).restricted_turns
    assert ev.route(a, mid, obey_restrictions=True).restricted_turns == []
    # A restriction that exempts emergency vehicles costs them nothing at all.
    exempt = _restricted_cross(osm_file, far=2, tags={"except": "psv;emergency"})
    r = RoadGraph.from_osm(exempt, profile="emergency").route(a, b)
    assert r.node_ids == [a, grid_node(1, 1), b]
    assert r.restricted_turns == [] and set(r.turn_times_s) == {0.0}


def test_signals_cluster_with_their_junction(osm_file: Callable[..., Path]) -> None:
    # Signals 11 m before a junction on two approaches: one signalised junction.
    nodes = {grid_node(i, j): grid_pos(i, j) for i in range(5) for j in range(5)}
    nodes[1] = (grid_pos(2, 2)[0] - 0.0002, grid_pos(2, 2)[1])  # west approach
    nodes[2] = (grid_pos(2, 2)[0], grid_pos(2, 2)[1] - 0.0001)  # south approach
    ways = [
        (1, [grid_node(0, 2), 1, grid_node(2, 2), grid_node(4, 2)], {"highway": "primary"}),
        (2, [grid_node(2, 0), 2, grid_node(2, 2), grid_node(2, 4)], {"highway": "primary"}),
    ]
    tags = {1: {"highway": "traffic_signals"}, 2: {"highway": "traffic_signals"}}
    g = RoadGraph.from_osm(osm_file(ways, nodes=nodes, node_tags=tags))
    sig = g.signals()
    assert len(sig) == 1
    assert sig[0]["junction_id"] == grid_node(2, 2)
    assert set(sig[0]["node_ids"]) == {1, 2, grid_node(2, 2)}
    # the expected signal wait is charged once, on entering the junction
    r = g.route(grid_node(0, 2), grid_node(4, 2))
    delays = g.net.signal_delay_s[r.edges]
    assert delays.sum() == pytest.approx(CAR.signal_delay_s)


def test_not_an_osm_file(tmp_path: Path) -> None:
    with pytest.raises(OSMFileError, match="is not a file"):
        RoadGraph.from_osm(tmp_path / "missing.osm.pbf")


def test_to_networkx_matches_router(helsinki_car: RoadGraph) -> None:
    free = RoadGraph(helsinki_car.net, turn_rules=False)
    g = free.to_networkx()
    assert isinstance(g, nx.MultiDiGraph)
    assert g.number_of_nodes() == free.node_count and g.number_of_edges() == free.edge_count
    u, _v, d = next(iter(g.edges(data=True)))
    assert isinstance(u, int) and d["travel_time"] > 0 and d["geometry"].geom_type == "LineString"
    rng = np.random.default_rng(7)
    ids = free.net.osm_ids
    checked = 0
    for _ in range(200):
        a, b = (int(x) for x in ids[rng.integers(0, len(ids), 2)])
        cost = free.travel_time_ms(a, b)
        try:
            ref = nx.dijkstra_path_length(g, a, b, weight="travel_time")
        except nx.NetworkXNoPath:
            assert cost is None or a == b
            continue
        if a == b:
            continue
        assert cost is not None
        assert cost / 1000.0 == pytest.approx(ref, abs=1e-6)
        checked += 1
    assert checked > 100


def test_a_stretch_without_a_name_is_no_step_of_its_own(osm_file: Callable[..., Path]) -> None:
    # Aleksanterinkatu, a short unnamed link straight on, then Unioninkatu; side streets
    # make each joint a junction. The unnamed link belongs to the step before it.
    path = osm_file(
        [
            _line(1, [(0, 1), (2, 1)], name="Aleksanterinkatu"),
            (2, [grid_node(2, 1), grid_node(3, 1)], {"highway": "residential"}),
            _line(3, [(3, 1), (6, 1)], name="Unioninkatu"),
            _line(4, [(2, 1), (2, 0)], name="Side A"),
            _line(5, [(3, 1), (3, 2)], name="Side B"),
        ]
    )
    g = RoadGraph.from_osm(path)
    r = g.route(grid_node(0, 1), grid_node(6, 1))
    assert [s.instruction for s in r.steps] == [
        "Head east on Aleksanterinkatu",
        "Continue onto Unioninkatu",
        "Arrive at the destination",
    ]
    assert r.steps[1].node_id == grid_node(3, 1)
    assert sum(s.length_m for s in r.steps) == pytest.approx(r.length_m)
    r = g.route(grid_node(6, 1), grid_node(2, 0))
    assert [s.instruction for s in r.steps] == [
        "Head west on Unioninkatu",
        "Turn left onto Side A",
        "Arrive at the destination",
    ]
    # Turning onto a stretch without a name is still a step.
    r = g.route(grid_node(3, 2), grid_node(0, 1))
    assert [s.instruction for s in r.steps] == [
        "Head south on Side B",
        "Turn right onto the road",
        "Continue onto Aleksanterinkatu",
        "Arrive at the destination",
    ]
