"""Dispatch ranking, isochrones, coverage, the CLI and the HTML rendering."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely
from click.testing import CliRunner

from routing._osm import Station
from routing.cli import routing_group
from routing.dispatch import coverage, isochrones, rank_stations
from routing.graph import RoadGraph
from routing.greenwave import plan_green_wave
from routing.render import render_html
from tests.routing.conftest import HELSINKI
from twin.errors import InvalidInput

INCIDENT = (24.9384, 60.1699)


def _stations(g: RoadGraph) -> list[Station]:
    """The extract's fire station and two configured ones at graph nodes."""
    ids = g.net.osm_ids
    picks = [len(ids) // 3, 2 * len(ids) // 3]
    extra = [
        Station(
            f"s{i}", f"Station {i}", "ambulance_station", float(g.net.lon[i]), float(g.net.lat[i])
        )
        for i in picks
    ]
    return [*g.net.stations, *extra]


def test_extract_station_is_found(helsinki_ev: RoadGraph) -> None:
    (st,) = helsinki_ev.net.stations
    assert st.osm_id == "r167018" and st.kind == "fire_station" and "paloasema" in st.name


def test_rank_stations_by_travel_time(helsinki_ev: RoadGraph) -> None:
    g = helsinki_ev
    stations = _stations(g)
    ranked = rank_stations(g, INCIDENT, stations=stations)
    times = [c.travel_time_s for c in ranked]
    assert times == sorted(times) and [c.rank for c in ranked] == list(range(1, len(ranked) + 1))
    for c in ranked:
        direct = g.route((c.station.lon, c.station.lat), INCIDENT)
        assert c.travel_time_s == direct.travel_time_s
        assert c.travel_time_preempted_s <= c.travel_time_s
        # preemption saves the signal waits and nothing else (turns still take their time)
        waits = sum(
            float(g.net.signal_delay_s[e]) * (f1 - f0)
            for e, (f0, f1) in zip(direct.edges, direct.fractions, strict=True)
        )
        assert c.travel_time_s - c.travel_time_preempted_s == pytest.approx(waits, abs=0.05)
    with pytest.raises(InvalidInput, match="needs id, lon and lat"):
        rank_stations(g, INCIDENT, stations=[{"name": "x"}])


def test_isochrones_grow_with_preemption_and_time(helsinki_ev: RoadGraph) -> None:
    g = helsinki_ev
    st = _stations(g)[:1]
    (slow,) = isochrones(g, stations=st, limit_s=90)
    (fast,) = isochrones(g, stations=st, limit_s=90, preemption=True)
    (longer,) = isochrones(g, stations=st, limit_s=180)
    on_road = g.snap((st[0].lon, st[0].lat))[0].point
    assert slow.polygon.is_valid and slow.polygon.contains(shapely.Point(on_road))
    assert fast.area_km2 > slow.area_km2 and longer.area_km2 > slow.area_km2
    # the faster area holds the slower one (up to the polygons' 5 m simplification)
    assert slow.polygon.difference(fast.polygon).area < 0.02 * slow.polygon.area
    # a node the router reaches within the limit lies inside, one it does not lies outside
    inside = outside = 0
    for i in range(0, g.node_count, 7):
        node = int(g.net.osm_ids[i])
        try:
            t = g.route((st[0].lon, st[0].lat), node).travel_time_s
        except Exception:
            continue
        p = shapely.Point(g.net.lon[i], g.net.lat[i])
        if t < 80:
            assert slow.polygon.buffer(1e-5).contains(p)
            inside += 1
        elif t > 120 and not slow.polygon.contains(p):
            outside += 1
    assert inside > 3 and outside > 3


def test_coverage_share(helsinki_ev: RoadGraph) -> None:
    g = helsinki_ev
    st = _stations(g)
    rng = np.random.default_rng(0)
    idx = rng.integers(0, g.node_count, 200)
    pts = np.column_stack([g.net.lon[idx], g.net.lat[idx]])
    rep = coverage(g, pts, stations=st, limit_s=120)
    pre = coverage(g, pts, stations=st, limit_s=120, preemption=True)
    assert 0 < rep.share < pre.share <= 1
    assert rep.points == 200 and rep.off_network == 0
    # each point's time is the fastest station's route time to it
    for k in range(0, 200, 25):
        best = min(
            g.route((s.lon, s.lat), (float(pts[k, 0]), float(pts[k, 1]))).travel_time_s for s in st
        )
        assert rep.times_s[k] == pytest.approx(best, abs=1.0)
    far = coverage(g, [(24.80, 60.10)], stations=st)
    assert far.off_network == 1 and far.covered == 0


def test_render_html(helsinki_ev: RoadGraph, tmp_path: Path) -> None:
    plan = plan_green_wave(helsinki_ev, INCIDENT, (24.9455, 60.1650), depart="2024-05-01T08:00:00Z")
    out = render_html(plan, tmp_path / "plan.html")
    text = out.read_text()
    assert "deck" in text and f"junction {plan.signals[0].junction_id}" in text
    # the turn against a restriction is marked with its instruction
    (turn,) = plan.route.restricted_turns
    assert turn.instruction.endswith("against the only_straight_on restriction, with care")
    assert turn.instruction in text


def test_cli_route_greenwave_dispatch_isochrone(tmp_path: Path) -> None:
    runner = CliRunner()
    cache = tmp_path / "graph.pkl"
    base = ["--osm", str(HELSINKI), "--cache", str(cache)]
    res = runner.invoke(
        routing_group,
        [
            "route",
            *base,
            "--from",
            "24.9384,60.1699",
            "--to",
            "24.9455,60.1650",
            "--html",
            str(tmp_path / "r.html"),
        ],
    )
    assert res.exit_code == 0, res.output
    route = json.loads(res.output)
    assert route["travel_time_s"] > 0 and route["geometry"]["type"] == "LineString"
    assert cache.is_file() and (tmp_path / "r.html").is_file()
    res = runner.invoke(
        routing_group,
        [
            "greenwave",
            *base,
            "--from",
            "24.9384,60.1699",
            "--to",
            "24.9455,60.1650",
            "--depart",
            "2024-05-01T08:00:00Z",
        ],
    )
    assert res.exit_code == 0, res.output
    plan = json.loads(res.output)
    assert plan["signals"] and plan["eta_preemption_s"] < plan["eta_no_preemption_s"]
    against = [s["restriction"] for s in plan["route"]["steps"] if s["restriction"]]
    assert against == ["only_straight_on"]
    res = runner.invoke(
        routing_group,
        [
            "greenwave",
            *base,
            *("--from", "24.9384,60.1699", "--to", "24.9455,60.1650"),
            *("--depart", "2024-05-01T08:00:00Z", "--obey-restrictions"),
        ],
    )
    assert res.exit_code == 0, res.output
    strict = json.loads(res.output)
    assert not any(s["restriction"] for s in strict["route"]["steps"])
    assert strict["eta_no_preemption_s"] > plan["eta_no_preemption_s"]
    res = runner.invoke(routing_group, ["dispatch", *base, "--incident", "24.9384,60.1699"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["candidates"][0]["station"]["osm_id"] == "r167018"
    res = runner.invoke(routing_group, ["isochrone", *base, "--limit", "120"])
    assert res.exit_code == 0, res.output
    fc = json.loads(res.output)
    assert [f["properties"]["preemption"] for f in fc["features"]] == [False, True]
    cov = fc["coverage"]
    assert cov["without_preemption"]["points"] > 1000
    assert cov["with_preemption"]["share"] > cov["without_preemption"]["share"]


def test_cli_bad_input() -> None:
    res = CliRunner().invoke(
        routing_group, ["route", "--osm", str(HELSINKI), "--from", "here", "--to", "1"]
    )
    assert res.exit_code == 2
    assert res.output == "Error: --from='here' is neither LON,LAT nor an OSM node id\n"
