"""The road graph stored in the twin: built by `twin build`, loaded back exactly, cached."""

from __future__ import annotations

import random
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from routing._build import Net
from routing._store_graph import COLLECTIONS, build_road_layers, graph_features
from routing.errors import NoRoute, PointNotOnNetwork
from routing.graph import RoadGraph
from routing.service_graph import cached_graphs, graph_for, road_version
from twin.build import BuildContext, build_twin
from twin.errors import InvalidInput, NotComputable
from twin.plugins import load_plugins
from twin.store import Store, open_store
from twin.temporal import Instant

# The router's engine may only be dropped on the thread that made it; a graph the cycle
# collector frees on another thread is reported (and leaked), which is not a failure.
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
ROOT = Path(__file__).resolve().parents[2]
HELSINKI = ROOT / "data" / "helsinki.osm.pbf"
T0 = datetime(2024, 1, 1, tzinfo=UTC)
T1 = datetime(2024, 6, 1, tzinfo=UTC)
PAIRS = 300


def _plugins(*names: str) -> list[Any]:
    return [p for p in load_plugins() if p.name in names]


@pytest.fixture(scope="module")
def twin_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    """Helsinki built by `twin build`'s steps for the map layers and the road graph."""
    db = str(tmp_path_factory.mktemp("twin") / "helsinki.gpkg")
    ctx = build_twin(HELSINKI, db, plugins=_plugins("layers", "routing"))
    return db, ctx.report


@pytest.fixture(scope="module")
def twin(twin_db: tuple[str, dict[str, Any]]) -> Iterator[Store]:
    with open_store(twin_db[0], create=False) as s:
        yield s


def _canonical(net: Net) -> tuple[Any, ...]:
    ids = net.osm_ids
    edges = sorted(
        (
            int(ids[net.tail[e]]),
            int(ids[net.head[e]]),
            net.ways[e],
            float(net.length_m[e]),
            float(net.time_s[e]),
            float(net.signal_delay_s[e]),
            net.highways[e],
            net.edge_coords(e).tobytes(),
        )
        for e in range(net.edge_count)
    )
    nodes = sorted(
        zip(
            ids.tolist(), net.lon.tolist(), net.lat.tolist(), net.signal_nodes.tolist(), strict=True
        )
    )
    junctions = sorted(
        (int(ids[i]), int(net.cluster_ids[c])) for i, c in enumerate(net.cluster) if c >= 0
    )
    return edges, nodes, junctions, sorted(net.restrictions, key=lambda r: r.relation_id)


def _random_points(graph: RoadGraph, n: int, seed: int) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    lo_x, hi_x = float(graph.net.lon.min()), float(graph.net.lon.max())
    lo_y, hi_y = float(graph.net.lat.min()), float(graph.net.lat.max())
    return [(rng.uniform(lo_x, hi_x), rng.uniform(lo_y, hi_y)) for _ in range(n)]


def _same_routes(a: RoadGraph, b: RoadGraph, *, seed: int) -> int:
    """Route random point pairs on both graphs; assert equal answers; return routes found."""
    pts = _random_points(b, 2 * PAIRS, seed)
    found = 0
    for o, d in zip(pts[::2], pts[1::2], strict=True):
        try:
            rb = b.route(o, d, depart=T0)
        except (NoRoute, PointNotOnNetwork) as exc:
            with pytest.raises(type(exc)):
                a.route(o, d, depart=T0)
            continue
        ra = a.route(o, d, depart=T0)
        assert ra.travel_time_s == rb.travel_time_s, (o, d)
        assert ra.length_m == pytest.approx(rb.length_m, abs=1e-6)
        found += 1
    return found


def test_build_writes_the_road_layers(twin: Store, twin_db: tuple[str, dict[str, Any]]) -> None:
    report = twin_db[1]
    names = {c.name for c in twin.collections()}
    assert {c.name for c in COLLECTIONS} <= names
    assert {c.name for c in COLLECTIONS} <= set(report)
    car = RoadGraph.from_store(twin, profile="car")
    ev = RoadGraph.from_store(twin, profile="emergency")
    edges = twin.read_frame("road_edges")
    assert report["road_edges"].created == len(edges)
    assert edges["car_time_s"].notna().sum() == car.edge_count
    assert edges["emergency_time_s"].notna().sum() == ev.edge_count
    # Edges only the emergency profile may drive (bus lanes, contraflow) have no car time.
    assert (edges["car_time_s"].isna() & edges["emergency_time_s"].notna()).any()
    nodes = twin.read_frame("road_nodes")
    stored_signals = set(nodes.loc[nodes["signal"].astype(bool), "osm_id"].astype(int))
    graph_signals = {int(n) for g in (car, ev) for n in g.net.osm_ids[g.net.signal_nodes].tolist()}
    assert stored_signals == graph_signals and len(graph_signals) > 50
    rules = twin.read_frame("road_turn_restrictions")
    assert int(rules["car"].sum()) == len(car.net.restrictions)
    assert int(rules["emergency"].sum()) == len(ev.net.restrictions)


@pytest.mark.parametrize("profile", ["car", "emergency"])
def test_store_graph_equals_osm_graph(
    twin: Store, profile: str, helsinki_car: RoadGraph, helsinki_ev: RoadGraph
) -> None:
    osm = helsinki_car if profile == "car" else helsinki_ev
    stored = RoadGraph.from_store(twin, profile=profile)
    assert _canonical(stored.net) == _canonical(osm.net)
    assert stored.net.cluster_ids.tolist() == osm.net.cluster_ids.tolist()
    assert [s.osm_id for s in stored.net.stations] == sorted(s.osm_id for s in osm.net.stations)
    found = _same_routes(stored, osm, seed=5)
    assert found >= 200
    ids = osm.net.osm_ids.tolist()
    rng = random.Random(9)
    for _ in range(PAIRS):
        o, d = rng.sample(ids, 2)
        assert stored.travel_time_ms(o, d) == osm.travel_time_ms(o, d)


def test_rebuild_of_the_same_extract_changes_nothing(
    twin_db: tuple[str, dict[str, Any]], tmp_path: Path
) -> None:
    copy = tmp_path / "again.gpkg"
    shutil.copy2(twin_db[0], copy)
    ctx = build_twin(HELSINKI, str(copy), plugins=_plugins("routing"))
    for spec in COLLECTIONS:
        rep = ctx.report[spec.name]
        assert (rep.created, rep.updated, rep.retired) == (0, 0, 0), spec.name
        assert rep.unchanged > 0


def _road_store(store: Store, helsinki_car: RoadGraph, helsinki_ev: RoadGraph) -> None:
    feats = graph_features({"car": helsinki_car.net, "emergency": helsinki_ev.net})
    for spec in COLLECTIONS:
        store.ensure_collection(spec)
    with store.transaction() as tx:
        for spec in COLLECTIONS:
            tx.sync(spec.name, feats[spec.name], valid_from=T0)


def test_build_step_on_each_backend(store: Store, helsinki_ev: RoadGraph) -> None:
    build_road_layers(BuildContext(store, HELSINKI, valid_from=T0), profiles=("emergency",))
    stored = RoadGraph.from_store(store, profile="emergency")
    assert _canonical(stored.net) == _canonical(helsinki_ev.net)
    assert _same_routes(stored, helsinki_ev, seed=11) >= 200
    with pytest.raises(NotComputable, match="holds no road a 'car' vehicle may drive"):
        RoadGraph.from_store(store, profile="car")


def _fastest_edge(graph: RoadGraph) -> tuple[str, int, float]:
    """The stored edge most routes use: id, index and free-flow time."""
    net = graph.net
    counts = np.zeros(net.edge_count, dtype=np.int64)
    for o, d in zip(*[iter(_random_points(graph, 80, 3))] * 2, strict=True):
        try:
            counts[graph.route(o, d, depart=T0).edges] += 1
        except (NoRoute, PointNotOnNetwork):
            continue
    e = int(np.argmax(counts))
    u, v = int(net.osm_ids[net.tail[e]]), int(net.osm_ids[net.head[e]])
    return f"{u}-{v}", e, float(net.time_s[e])


def test_an_edit_is_versioned_and_as_of_reads_the_old_graph(
    tmp_path: Path, helsinki_car: RoadGraph, helsinki_ev: RoadGraph
) -> None:
    with open_store(str(tmp_path / "t.gpkg")) as store:
        _road_store(store, helsinki_car, helsinki_ev)
        fid, _, t = _fastest_edge(helsinki_car)
        store.patch("road_edges", fid, properties={"car_time_s": t + 600.0}, valid_from=T1)
        before = RoadGraph.from_store(store, profile="car", at=T0)
        after = RoadGraph.from_store(store, profile="car")
        assert _canonical(before.net) == _canonical(helsinki_car.net)
        e = next(
            i
            for i in range(after.edge_count)
            if f"{after.net.osm_ids[after.net.tail[i]]}-{after.net.osm_ids[after.net.head[i]]}"
            == fid
        )
        assert after.net.time_s[e] == t + 600.0
        assert len(store.history("road_edges", fid)) == 2
        assert store.count("road_edges", time=Instant(T0)) == store.count("road_edges")


def test_an_edited_restriction_keeps_its_rule_or_is_left_out(
    tmp_path: Path,
    helsinki_car: RoadGraph,
    helsinki_ev: RoadGraph,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A restriction whose kind was removed keeps the rule its value names (it read back as
    the kind 'nan', which turned a no_u_turn into an only_* rule); one the router cannot use
    (no via node, a value that is neither no_* nor only_*) is left out and named."""
    from routing._store_graph import net_from_store

    with open_store(str(tmp_path / "t.gpkg")) as store:
        _road_store(store, helsinki_car, helsinki_ev)
        rules = {r.relation_id: r for r in helsinki_car.net.restrictions}
        no_rule = next(r for r in rules.values() if r.kind == "no")
        only_rule = next(r for r in rules.values() if r.kind == "only")
        gone, odd = [r for r in rules.values() if r not in (no_rule, only_rule)][:2]
        with store.transaction() as tx:
            tx.patch("road_turn_restrictions", str(no_rule.relation_id), properties={"kind": None})
            tx.patch("road_turn_restrictions", str(only_rule.relation_id), properties={"kind": "x"})
            tx.patch("road_turn_restrictions", str(gone.relation_id), properties={"via_node": None})
            tx.patch(
                "road_turn_restrictions",
                str(odd.relation_id),
                properties={"restriction": "maybe", "kind": None},
            )
        with caplog.at_level("WARNING", logger="routing._store_graph"):
            net = net_from_store(store, "car")
        loaded = {r.relation_id: r for r in net.restrictions}
        assert loaded[no_rule.relation_id] == no_rule
        assert loaded[only_rule.relation_id] == only_rule
        assert set(rules) - set(loaded) == {gone.relation_id, odd.relation_id}
        assert str(gone.relation_id) in caplog.text and str(odd.relation_id) in caplog.text
        assert RoadGraph.from_store(store, profile="car").edge_count == helsinki_car.edge_count


def test_graph_for_caches_per_store_profile_and_change(
    tmp_path: Path, helsinki_car: RoadGraph, helsinki_ev: RoadGraph
) -> None:
    with open_store(str(tmp_path / "t.gpkg")) as store:
        _road_store(store, helsinki_car, helsinki_ev)
        v0 = road_version(store)
        assert v0 > 0
        a, b = (24.9384, 60.1699), (24.9449, 60.1660)
        results: list[tuple[int, bool, float]] = []

        def use() -> None:  # a graph per thread, over one set of arrays read once
            g = graph_for(store, "car")
            results.append((id(g.net), graph_for(store, "car") is g, g.route(a, b).travel_time_s))

        threads = [threading.Thread(target=use) for _ in range(6)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        car = graph_for(store, "car")
        assert results == [(id(car.net), True, car.route(a, b).travel_time_s)] * 6
        ev = graph_for(store, "emergency")
        assert ev is not car and ev.profile.name == "emergency"
        assert set(cached_graphs(store)) == {"car", "emergency"}
        # A change elsewhere keeps the graphs; a change to a road layer reloads them.
        from twin.store import CollectionSpec, Feature

        store.ensure_collection(CollectionSpec("notes", "Notes", geometry_type="Point"))
        store.create("notes", [Feature("n1", None, {})])
        assert graph_for(store, "car") is car
        assert road_version(store) == v0
        fid, e, t = _fastest_edge(car)
        store.patch("road_edges", fid, properties={"car_time_s": t + 300.0})
        assert road_version(store) > v0
        car2 = graph_for(store, "car")
        assert car2 is not car
        assert float(car2.net.time_s[e]) == t + 300.0
        assert graph_for(store, "car") is car2
        assert graph_for(store, "emergency") is not ev  # same layers: reloaded too
        with pytest.raises(InvalidInput, match="profile='bike' is not known"):
            graph_for(store, "bike")


def test_a_twin_without_a_road_graph_says_so(tmp_path: Path) -> None:
    with (
        open_store(str(tmp_path / "empty.gpkg")) as store,
        pytest.raises(NotComputable, match="holds no road graph"),
    ):
        graph_for(store, "car")


def test_duplicate_nodes_on_a_road_become_one_junction(tmp_path: Path) -> None:
    """Two OSM nodes at one position, joined by a road (as in Porto's extract), made an edge
    whose line has two equal points: the store refused it and `twin build` failed."""
    from tests.routing.osm_helpers import grid_node, grid_pos, write_osm

    a, b, c, d, e = (grid_node(i, j) for i, j in ((0, 0), (1, 0), (2, 0), (1, 1), (0, 1)))
    twin_b = 999  # a second node where b is; both are junctions
    cells = ((a, (0, 0)), (b, (1, 0)), (c, (2, 0)), (d, (1, 1)), (e, (0, 1)))
    nodes = {n: grid_pos(*ij) for n, ij in cells}
    nodes[twin_b] = nodes[b]
    road = {"highway": "residential"}
    path = write_osm(
        tmp_path / "dup.osm",
        [(1, [a, b], road), (2, [b, twin_b, c], road), (3, [twin_b, d], road), (4, [b, e], road)],
        nodes=nodes,
        node_tags={twin_b: {"highway": "traffic_signals"}},
        relations=[
            (
                70,
                {"type": "restriction", "restriction": "no_left_turn"},
                [("way", 1, "from"), ("node", twin_b, "via"), ("way", 3, "to")],
            )
        ],
    )
    with open_store(str(tmp_path / "t.gpkg")) as store:
        build_road_layers(BuildContext(store, path, valid_from=T0))
        assert all(f.geometry.is_valid for f in store.query("road_edges"))
        stored_nodes = {f.id: f.properties for f in store.query("road_nodes")}
        kept = str(min(b, twin_b))
        assert str(max(b, twin_b)) not in stored_nodes and stored_nodes[kept]["signal"] is True
        graph = RoadGraph.from_store(store, profile="car")
        assert [r.via_node for r in graph.net.restrictions] == [int(kept)]
        route = graph.route(a, c, depart=T0)
        assert route.node_ids == [a, int(kept), c]
        assert route.length_m == pytest.approx(2 * 55.6, rel=0.02)
        # the left turn from way 1 onto way 3 at the merged junction is banned for cars
        assert graph.route(a, d, depart=T0).node_ids != [a, int(kept), d]


def test_a_road_graph_without_traffic_signals_is_stored(tmp_path: Path) -> None:
    """An extract with no signalised junction (a small town) failed the build: IndexError."""
    from tests.routing.osm_helpers import grid_node, write_osm

    path = write_osm(
        tmp_path / "town.osm", [(1, [grid_node(0, 0), grid_node(3, 0)], {"highway": "residential"})]
    )
    with open_store(str(tmp_path / "t.gpkg")) as store:
        build_road_layers(BuildContext(store, path, valid_from=T0))
        nodes = store.query("road_nodes").features
        assert len(nodes) == 2 and not any(n.properties["signal"] for n in nodes)
        assert not any("car_junction" in n.properties for n in nodes)
        route = RoadGraph.from_store(store, profile="car").route(grid_node(0, 0), grid_node(3, 0))
        assert route.length_m == pytest.approx(3 * 55.4, rel=0.02)


def test_a_past_departure_routes_on_the_roads_of_that_time(
    helsinki_db: Path, tmp_path: Path
) -> None:
    """POST /routes and the processes routed a past departure on today's roads."""
    from starlette.testclient import TestClient

    from tests.service.conftest import settings_for
    from twin.service.app import create_app

    a, b = (24.9384, 60.1699), (24.9449, 60.1660)
    before, after = datetime(2024, 1, 1, 8, tzinfo=UTC), datetime(2026, 12, 1, 8, tzinfo=UTC)
    db = tmp_path / "twin.gpkg"
    shutil.copy(helsinki_db, db)
    with open_store(str(db)) as store:
        first = graph_for(store, "emergency").route(a, b, depart=before)
        net = graph_for(store, "emergency").net
        e = int(first.edges[len(first.edges) // 2])
        fid = f"{net.osm_ids[net.tail[e]]}-{net.osm_ids[net.head[e]]}"
        slow = float(net.time_s[e]) + 600.0
        store.patch("road_edges", fid, properties={"emergency_time_s": slow}, valid_from=T1)
        now_graph = graph_for(store, "emergency")
        then_graph = graph_for(store, "emergency", at=before)
        assert then_graph is not now_graph and then_graph is graph_for(
            store, "emergency", at=before
        )
        assert graph_for(store, "emergency", at=after) is now_graph
        assert then_graph.route(a, b, depart=before).travel_time_s == first.travel_time_s
        assert now_graph.route(a, b, depart=after).travel_time_s > first.travel_time_s
        # before the twin's first road graph: the earliest graph it knows
        early = graph_for(store, "emergency", at=datetime(2001, 1, 1, tzinfo=UTC))
        assert early.route(a, b, depart=before).travel_time_s == first.travel_time_s

    app = create_app(str(db), settings=settings_for(tmp_path))
    with TestClient(app, base_url="http://127.0.0.1:5000") as client:
        took = {}
        for when in (before, after):
            body = {
                "inputs": {
                    "waypoints": {"value": {"type": "MultiPoint", "coordinates": [a, b]}},
                    "when": {"timestamp": when.isoformat(), "type": "departure"},
                    "greenWave": False,
                }
            }
            r = client.post("/routes", json=body)
            assert r.status_code == 200, r.text
            overview = next(
                f for f in r.json()["features"] if f["properties"]["featureType"] == "overview"
            )
            took[when] = overview["properties"]["duration_s"]
        assert took[before] == pytest.approx(first.travel_time_s, abs=0.05)
        assert took[after] > took[before]
