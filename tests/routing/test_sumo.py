"""SUMO validation: the network keeps the plan's signals, the three runs, bad input."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from routing._sumo_net import SimulationError, SumoNet, sumo_home
from routing.cli import routing_group
from routing.graph import RoadGraph
from tests.routing.conftest import HELSINKI
from twin.errors import InvalidInput, OSMFileError

try:
    sumo_home()
except SimulationError:
    pytest.skip("SUMO (eclipse-sumo) is not installed", allow_module_level=True)

pytestmark = pytest.mark.sumo


@pytest.fixture(scope="module")
def sumo_city(tmp_path_factory: pytest.TempPathFactory) -> tuple[RoadGraph, SumoNet]:
    from routing._sumo_net import build_network, read_network, write_roads

    wd = tmp_path_factory.mktemp("sumo")
    roads = wd / "roads.osm"
    write_roads(HELSINKI, roads)
    graph = RoadGraph.from_osm(roads, profile="emergency")
    net = read_network(build_network(roads, wd / "city.net.xml"))
    return graph, net


def test_network_keeps_the_plans_signal_ids(sumo_city: tuple[RoadGraph, SumoNet]) -> None:
    from routing._sumo_map import map_signals

    graph, net = sumo_city
    m = map_signals(graph, net)
    assert m.total == len(graph.signals()) > 50
    # most signalised junctions keep an OSM node id in their traffic light's junction ids
    assert len(m.by_id) >= 0.5 * m.total
    assert len(m.by_id) + len(m.by_position) >= 0.75 * m.total
    for jid, tls in m.by_id.items():
        members = next(s["node_ids"] for s in graph.signals() if s["junction_id"] == jid)
        named = {t for j, t2 in net.junction_tls.items() if t2 == tls for t in _ints(j)}
        assert named & set(members) or set(_ints(tls)) & set(members)
    assert set(m.to_dict()) == {"plan_signals", "mapped_by_id", "mapped_by_position", "unmapped"}


def _ints(text: str) -> list[int]:
    import re

    return [int(t) for t in re.findall(r"\d+", text)]


def test_corridor_route_follows_the_plan(sumo_city: tuple[RoadGraph, SumoNet]) -> None:
    from routing._sumo_map import corridor_route, crossings

    graph, net = sumo_city
    ends = [int(o) for o in graph.net.osm_ids if str(int(o)) in net.junction_xy]
    route = graph.route(ends[0], ends[len(ends) // 2])
    edges = corridor_route(net, route)
    assert edges
    idx = [net.index[e] for e in edges]
    assert net.from_j[idx[0]] == str(route.node_ids[0])
    assert net.to_j[idx[-1]] == str(route.node_ids[-1])
    arcs = {tuple(a) for a in net.arcs.tolist()}
    assert all((a, b) in arcs for a, b in itertools.pairwise(idx))
    length = sum(float(net.length_m[i]) for i in idx)
    assert length == pytest.approx(route.length_m, rel=0.25)
    for c in crossings(net, edges):
        assert set(c.movement) <= set(c.approach)


def test_network_keeps_connection_permissions(sumo_city: tuple[RoadGraph, SumoNet]) -> None:
    """A turn SUMO allows only buses (say) is no arc an emergency route may take."""
    import xml.etree.ElementTree as ET

    _, net = sumo_city
    ok: set[tuple[str, str]] = set()
    barred: set[tuple[str, str]] = set()
    for el in ET.parse(net.path).getroot().iter("connection"):
        pair = (el.get("from", ""), el.get("to", ""))
        allow = el.get("allow")
        if allow is not None and not {"emergency", "all"} & set(allow.split()):
            barred.add(pair)
        else:
            ok.add(pair)
    barred -= ok
    assert barred, "the Helsinki network has bus-only turns"
    arcs = {(net.edge_ids[a], net.edge_ids[b]) for a, b in net.arcs.tolist()}
    assert not arcs & barred
    assert arcs <= ok


def test_background_load_relative_to_capacity(
    sumo_city: tuple[RoadGraph, SumoNet], tmp_path: Path
) -> None:
    from routing._sumo_map import write_background_trips

    _, net = sumo_city
    kw: dict[str, Any] = {"seed": 2, "begin_s": 0.0, "end_s": 1800.0}
    low = write_background_trips(net, tmp_path / "low.rou.xml", lane_flow_vph=20.0, **kw)
    high = write_background_trips(net, tmp_path / "high.rou.xml", lane_flow_vph=40.0, **kw)
    for want, got in ((20.0, low), (40.0, high)):
        assert got["lane_flow_vph"] == pytest.approx(want, rel=0.25)
        assert got["trips"] == (
            tmp_path / f"{'low' if want == 20 else 'high'}.rou.xml"
        ).read_text().count("<trip ")
        # vehicle-km per hour over lane-km is the flow reported
        rate = got["trips_per_h"] * got["mean_trip_km"] / got["lane_km"]
        assert rate == pytest.approx(got["lane_flow_vph"], rel=0.01)
    assert high["trips"] / low["trips"] == pytest.approx(2.0, rel=0.15)
    assert 0.3 < low["mean_trip_km"] < 10.0
    per_km = write_background_trips(net, tmp_path / "km.rou.xml", per_km_h=30.0, **kw)
    road_km = float(net.length_m[net.car_ok].sum()) / 1000.0
    # the same trips as before the capacity measure: 30 per hour per km, short ones dropped
    assert 0.5 * 30.0 * road_km * 0.5 < per_km["trips"] <= 30.0 * road_km * 0.5


def test_every_crossing_gets_a_window(sumo_city: tuple[RoadGraph, SumoNet]) -> None:
    """The plan's windows where it has them; a window read off its timeline elsewhere."""
    import numpy as np

    from routing._sumo_control import EvRun
    from routing._sumo_map import map_signals
    from routing.greenwave import Timing
    from routing.sumo import _pick_pairs

    graph, net = sumo_city
    timing = Timing()
    pairs = _pick_pairs(
        graph, net, map_signals(graph, net), np.random.default_rng(5), [300.0, 540.0], timing
    )
    for p in pairs:
        ev = EvRun(
            "ev",
            p["depart_s"],
            p["plan"],
            p["crossed"],
            p["matched"],
            p["edges"],
            edge_start_m=p["edge_start_m"],
        )
        wins = ev.windows(timing)
        assert set(wins) == set(range(len(p["crossed"])))
        by_k = {
            k: w for w in p["plan"].signals if (k := p["matched"].get(w.route_time_s)) is not None
        }
        for k, w in wins.items():
            assert w.start < w.eta < w.end
            if k in by_k:
                assert w.source == "plan"
                assert (w.start, w.end) == (by_k[k].window_start_s, by_k[k].window_end_s)
            else:
                assert w.source == "route"
                assert 0.0 <= w.eta <= p["plan"].eta_preemption_s + 1e-6
        etas = [wins[k].eta for k in range(len(wins))]
        assert etas == sorted(etas)
        assert p["edge_start_m"][-1] == pytest.approx(
            sum(float(net.length_m[net.index[e]]) for e in p["edges"])
        )


@pytest.fixture(scope="module")
def two_trips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    from routing.sumo import validate

    out = tmp_path_factory.mktemp("validate")
    runner = CliRunner()
    res = runner.invoke(
        routing_group,
        ["validate", "--seed", "3", "--trips", "2", "--load", "15", "--out", str(out / "v.json")],
    )
    assert res.exit_code == 0, res.output
    again = validate(HELSINKI, seed=3, trips=2, per_km_h=15)
    return {"cli": json.loads(res.stdout), "file": out / "v.json", "api": again.to_dict()}


def test_validate_two_trips_shape(two_trips: dict[str, object]) -> None:
    data = two_trips["cli"]
    assert isinstance(data, dict)
    assert data["trips"] == 2
    assert set(data["runs"]) == {"no_preemption", "plan", "live"}
    for run in data["runs"].values():
        assert set(run) == {"ev_travel_time_s", "others_mean_delay_s"}
        assert len(run["ev_travel_time_s"]) == 2
        assert all(0 < t < 3600 for t in run["ev_travel_time_s"])
        assert 0 <= run["others_mean_delay_s"] < 3600
    for pair in data["trip_pairs"]:
        assert pair["signals_matched"] >= 1
        assert pair["plan_eta_preemption_s"] < pair["plan_eta_no_preemption_s"]
    stats = data["setup"]["run_stats"]
    assert stats["no_preemption"]["holds"] == 0
    assert stats["plan"]["holds"] >= 1 and stats["live"]["retimes"] >= 1
    assert stats["plan"]["retimes"] == 0
    for run in stats.values():
        assert 0.5 < run["others_mean_speed_ms"] < 30.0
        assert 0.0 <= run["others_time_loss_share"] < 1.0
        assert 0 <= run["others_unfinished"] < run["others"]
    assert data["setup"]["background"]["trips"] == data["setup"]["background_trips"] > 0
    assert json.loads(Path(str(two_trips["file"])).read_text()) == data


def test_validate_same_seed_same_json(two_trips: dict[str, object]) -> None:
    cli, api = two_trips["cli"], two_trips["api"]
    assert isinstance(cli, dict) and isinstance(api, dict)
    assert api["runs"] == cli["runs"]
    assert api["trip_pairs"] == cli["trip_pairs"]


def test_validate_bad_input(tmp_path: Path) -> None:
    from routing.sumo import validate

    runner = CliRunner()
    missing = tmp_path / "nowhere.osm.pbf"
    res = runner.invoke(routing_group, ["validate", "--seed", "1", "--osm", str(missing)])
    assert res.exit_code == 2
    assert f"osm={str(missing)!r} is not a file" in res.output
    res = runner.invoke(routing_group, ["validate", "--seed", "1", "--trips", "0"])
    assert res.exit_code == 2
    assert "trips=0 must be a whole number of at least 1" in res.output
    res = runner.invoke(routing_group, ["validate", "--seed", "1", "--bbox", "1,2,3"])
    assert res.exit_code == 2
    assert "--bbox='1,2,3' is not WEST,SOUTH,EAST,NORTH" in res.output
    with pytest.raises(InvalidInput, match=r"trips=-1 must be"):
        validate(HELSINKI, seed=1, trips=-1)
    with pytest.raises(OSMFileError, match="is not a file"):
        validate(missing, seed=1, trips=1)
    with pytest.raises(InvalidInput, match=r"backend='gpu' is not known"):
        validate(HELSINKI, seed=1, trips=1, backend="gpu")  # type: ignore[arg-type]


def test_loading_sumo_leaves_this_process_proj_alone() -> None:
    """SUMO's packages point PROJ at their own database on import; pyproj and rasterio
    in this process must keep theirs."""
    import os

    from routing.sumo import load_sumo

    before = {k: os.environ.get(k) for k in ("PROJ_LIB", "PROJ_DATA")}
    load_sumo("auto")
    assert {k: os.environ.get(k) for k in ("PROJ_LIB", "PROJ_DATA")} == before
    import rasterio.crs

    assert rasterio.crs.CRS.from_epsg(32635).to_epsg() == 32635
