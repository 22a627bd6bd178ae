"""Routing: exactness against plain Dijkstra, the route's fields, snapping, bad input, closures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import shapely
from pyproj import Geod

from routing.errors import NoRoute, PointNotOnNetwork, UnknownNode
from routing.graph import RoadGraph
from twin.errors import GeometryError, InvalidInput, InvalidInterval, TwinError


def _reference_ms(g: RoadGraph, a: int, b: int) -> float:
    """Plain Dijkstra (scipy, on the same turn graph) from node a to node b, in ms."""
    eng = g.engine
    dist = eng.distances(eng.node_sources(g.node_index(a)))
    targets = [e for e, _ in eng.node_targets(g.node_index(b))]
    return float(dist[targets].min()) if targets else float("inf")


def _random_pairs(g: RoadGraph, n: int, seed: int) -> Iterator[tuple[int, int]]:
    """Up to ``n`` seeded pairs of distinct graph nodes (OSM ids)."""
    rng = np.random.default_rng(seed)
    ids = g.net.osm_ids
    for _ in range(n):
        a, b = (int(x) for x in ids[rng.integers(0, len(ids), 2)])
        if a != b:
            yield a, b


@pytest.mark.parametrize("fixture", ["helsinki_car", "helsinki_ev"])
def test_exact_on_1000_random_pairs(request: pytest.FixtureRequest, fixture: str) -> None:
    g: RoadGraph = request.getfixturevalue(fixture)
    reachable = 0
    for a, b in _random_pairs(g, 1000, seed=42):
        ref = _reference_ms(g, a, b)
        try:
            r = g.route(a, b)
        except NoRoute:
            assert ref == float("inf")
            continue
        assert r.travel_time_s * 1000 == pytest.approx(ref, abs=1e-6)
        # the reported cost is the cost of the reported path, its turns included
        turns = g.engine.turn_ms_along(r.edges)
        assert r.turn_times_s == [t / 1000 for t in turns]
        assert round(r.travel_time_s * 1000) == int(g.engine.edge_ms[r.edges].sum()) + sum(turns)
        assert sum(s.duration_s for s in r.steps) == pytest.approx(r.travel_time_s, abs=1e-6)
        reachable += 1
    assert reachable > 600


def test_obeying_every_restriction_is_exact_and_undone(helsinki_ev: RoadGraph) -> None:
    g, eng = helsinki_ev, helsinki_ev.engine
    assert len(eng.restricted_turns) > 10  # Helsinki's restrictions the emergency vehicle may break
    longer = 0
    for a, b in _random_pairs(g, 300, seed=7):
        eng.obey_restrictions(True)
        ref = _reference_ms(g, a, b)
        eng.obey_restrictions(False)
        try:
            strict = g.route(a, b, obey_restrictions=True)
        except NoRoute:
            assert ref == float("inf")
            continue
        assert not eng.obeying
        assert strict.travel_time_s * 1000 == pytest.approx(ref, abs=1e-6)
        assert strict.restricted_turns == []
        free = g.route(a, b)
        assert free.travel_time_s <= strict.travel_time_s
        longer += free.travel_time_s < strict.travel_time_s
    assert longer > 10


def test_route_fields(helsinki_ev: RoadGraph) -> None:
    g = helsinki_ev
    r = g.route((24.9384, 60.1699), (24.9455, 60.1650), depart="2024-05-01T08:00:00Z")
    assert r.travel_time_s > 0 and r.length_m > 100
    assert r.depart == datetime(2024, 5, 1, 8, tzinfo=UTC)
    assert isinstance(r.geometry, shapely.LineString)
    lon0, lat0, lon1, lat1 = g.snapper.bbox
    xs, ys = r.geometry.xy
    assert min(xs) >= lon0 and max(xs) <= lon1 and min(ys) >= lat0 and max(ys) <= lat1
    # the geometry runs from snapped origin to snapped destination, as long as length_m
    assert r.geometry.coords[0] == pytest.approx(r.origin.point, abs=1e-7)
    assert r.geometry.coords[-1] == pytest.approx(r.destination.point, abs=1e-7)
    geod_len = Geod(ellps="WGS84").geometry_length(r.geometry)
    assert geod_len == pytest.approx(r.length_m, rel=0.02)
    # consecutive node ids are joined by an edge of the graph
    nxg = g.to_networkx()
    for u, v in zip(r.node_ids, r.node_ids[1:], strict=False):
        assert nxg.has_edge(u, v)
    assert r.steps[0].maneuver == "depart" and r.steps[-1].maneuver == "arrive"
    assert sum(s.length_m for s in r.steps) == pytest.approx(r.length_m, rel=1e-6)
    assert sum(s.duration_s for s in r.steps) == pytest.approx(r.travel_time_s, abs=0.01)
    assert r.origin.distance_m < 5 and "snapped" in r.origin.explain()
    d = r.to_dict()
    assert d["geometry"]["type"] == "LineString" and d["node_ids"] == r.node_ids


def test_coordinate_route_is_exact(helsinki_car: RoadGraph) -> None:
    # A point half-way along an edge: the cost is the remaining half plus the rest.
    g = helsinki_car
    e = int(np.argmax(g.net.length_m))
    mid = g.snapper.cut(e, 0.5, 0.5)[0]
    head = int(g.net.osm_ids[g.net.head[e]])
    r = g.route((float(mid[0]), float(mid[1])), head)
    half = g.engine.edge_ms[e] / 2
    assert r.travel_time_s * 1000 <= half + 1
    assert r.origin.edge is not None and r.origin.fraction == pytest.approx(0.5, abs=0.01)


def test_snap_limit(helsinki_car: RoadGraph) -> None:
    with pytest.raises(PointNotOnNetwork) as err:
        helsinki_car.route((24.90, 60.12), (24.9384, 60.1699))
    assert err.value.status == 422
    assert str(err.value).startswith("origin=(24.9, 60.12) is ")
    assert str(err.value).endswith(
        "m from the nearest road a 'car' vehicle may use; the snap limit is 250 m"
    )


def test_swapped_coordinates_get_a_hint(helsinki_car: RoadGraph) -> None:
    with pytest.raises(PointNotOnNetwork, match=r"it looks like \(lat, lon\): give \(lon, lat\)"):
        helsinki_car.route((60.1699, 24.9384), (24.9384, 60.1699))


@pytest.mark.parametrize(
    ("origin", "text"),
    [
        ((24.9, 95.0), "origin=(24.9, 95.0) is outside CRS84"),
        ((float("nan"), 60.0), "origin=(nan, 60.0) is outside CRS84"),
        ("Helsinki", "origin='Helsinki' is not a (lon, lat) pair or an OSM node id"),
        (1, "origin=1 is not a node of the 'car' road graph"),
    ],
)
def test_bad_endpoints_are_400(helsinki_car: RoadGraph, origin: object, text: str) -> None:
    with pytest.raises(InvalidInput) as err:
        helsinki_car.route(origin, (24.9384, 60.1699))
    assert err.value.status == 400
    assert str(err.value).startswith(text)
    if origin == 1:
        assert isinstance(err.value, UnknownNode)


def test_bad_departure_is_400(helsinki_car: RoadGraph) -> None:
    with pytest.raises(InvalidInterval) as err:
        helsinki_car.route((24.9384, 60.1699), (24.9455, 60.1650), depart="tomorrow at 8")
    assert err.value.status == 400
    assert "depart" in str(err.value) and "tomorrow at 8" in str(err.value)


def test_closure_counts_in_next_query_and_window(helsinki_car: RoadGraph) -> None:
    g = RoadGraph(helsinki_car.net)  # its own closures
    o, d = (24.9384, 60.1699), (24.9455, 60.1650)
    t0 = datetime(2024, 5, 1, 8, tzinfo=UTC)
    before = g.route(o, d, depart=t0)
    mid = before.edges[len(before.edges) // 2]
    net = g.net
    pair = (int(net.osm_ids[net.tail[mid]]), int(net.osm_ids[net.head[mid]]))
    c = g.add_closure([pair], start=t0 - timedelta(hours=1), end=t0 + timedelta(hours=1))
    during = g.route(o, d, depart=t0)
    assert mid not in during.edges
    assert during.travel_time_s >= before.travel_time_s
    assert during.closures == [c.closure_id]
    # exact with the closure: plain Dijkstra on the graph without that edge
    a, b = before.node_ids[0], before.node_ids[-1]
    assert g.travel_time_ms(a, b) == _reference_ms(g, a, b)
    # a departure after the window ignores it
    after = g.route(o, d, depart=t0 + timedelta(hours=2))
    assert after.travel_time_s == before.travel_time_s and after.closures == []
    g.remove_closure(c.closure_id)
    assert g.route(o, d, depart=t0).travel_time_s == before.travel_time_s


def test_polygon_closure_and_avoid(helsinki_car: RoadGraph) -> None:
    g = RoadGraph(helsinki_car.net)
    o, d = (24.9384, 60.1699), (24.9455, 60.1650)
    before = g.route(o, d)
    x, y = before.geometry.interpolate(0.5, normalized=True).coords[0]
    box = shapely.box(x - 0.0003, y - 0.00015, x + 0.0003, y + 0.00015)
    avoided = g.route(o, d, avoid=box)
    assert not avoided.geometry.intersects(box)
    assert avoided.travel_time_s > before.travel_time_s
    # avoid is for one query only
    assert g.route(o, d).travel_time_s == before.travel_time_s
    g.add_closure(shapely.geometry.mapping(box), reason="incident")
    assert not g.route(o, d).geometry.intersects(box)


def test_invalid_closures_are_400(helsinki_car: RoadGraph) -> None:
    g = RoadGraph(helsinki_car.net)
    bowtie = shapely.Polygon([(24.94, 60.16), (24.95, 60.17), (24.95, 60.16), (24.94, 60.17)])
    with pytest.raises(GeometryError, match=r"closure polygon is invalid \(Self-intersection"):
        g.add_closure(bowtie)
    with pytest.raises(GeometryError, match="closure geometry is a Point; give a Polygon"):
        g.add_closure(shapely.Point(24.94, 60.16))
    with pytest.raises(InvalidInput, match=r"closure edges \[\(1, 2\)\] are not edges"):
        g.add_closure([(1, 2)])
    with pytest.raises(InvalidInterval, match="a closure window must have end > start"):
        g.add_closure(
            shapely.box(24.94, 60.16, 24.95, 60.17),
            start="2024-05-01T10:00:00Z",
            end="2024-05-01T09:00:00Z",
        )
    with pytest.raises(TwinError):
        g.remove_closure("nope")
