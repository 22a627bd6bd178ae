"""Bad input to ``twin routing`` and to the functions behind it: a clear error, no traceback."""

from __future__ import annotations

import json
import math
import os
import pickle
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from routing._osm import Station
from routing.cli import routing_group
from routing.dispatch import MAX_ISOCHRONE_S, coverage, isochrones, stations_of
from routing.errors import StaleGraphCache
from routing.graph import RoadGraph
from routing.greenwave import plan_green_wave
from routing.render import render_html
from tests.routing.osm_helpers import grid_node, grid_pos, write_osm
from twin.errors import InvalidInput, OSMFileError

A, B = grid_pos(0, 0), grid_pos(4, 2)
FROM, TO = f"{A[0]},{A[1]}", f"{B[0]},{B[1]}"


def _grid(path: Path) -> Path:
    """A 5 x 3 grid of residential streets."""
    ways = [
        (100 + j, [grid_node(i, j) for i in range(5)], {"highway": "residential"}) for j in range(3)
    ] + [
        (200 + i, [grid_node(i, j) for j in range(3)], {"highway": "residential"}) for i in range(5)
    ]
    return write_osm(path, ways)


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return _grid(tmp_path / "grid.osm")


def _run(*args: str) -> Result:
    return CliRunner().invoke(routing_group, list(args))


def _refused(res: Result, *words: str) -> str:
    """The error output of a refused command; it names every word and shows no traceback."""
    assert res.exit_code == 2, res.output
    assert res.output.count("Error: ") == 1 and "Traceback" not in res.output, res.output
    for w in words:
        assert w in res.output, res.output
    return res.output


# -- --out and --html ------------------------------------------------------------------
@pytest.mark.parametrize("cmd", ["route", "greenwave", "isochrone"])
def test_out_must_be_a_writable_file(tiny: Path, tmp_path: Path, cmd: str) -> None:
    folder = tmp_path / "dir.gpkg"
    folder.mkdir()
    stations = tmp_path / "st.json"
    stations.write_text(json.dumps([{"id": "s", "lon": A[0], "lat": A[1]}]))
    ends = ["--from", FROM, "--to", TO] if cmd != "isochrone" else ["--stations", str(stations)]
    base = [cmd, "--osm", str(tiny), *ends]
    _refused(_run(*base, "--out", str(folder)), "'--out'", "is a folder")
    _refused(_run(*base, "--out", ""), "'--out'", "is empty")
    _refused(_run(*base, "--out", str(tmp_path / "no" / "x.json")), "does not exist")
    out = _refused(_run(*base, "--out", "/proc/x.json"), "--out='/proc/x.json' cannot be written")
    assert not Path("/proc/x.json").exists() and "{" not in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.gpkg", "grid.osm", "st.json"]
    good = tmp_path / "good.json"
    res = _run(*base, "--out", str(good))
    assert res.exit_code == 0, res.output
    assert json.loads(good.read_text()) == json.loads(res.output)


def test_html_must_be_a_writable_file(tiny: Path, tmp_path: Path) -> None:
    base = ["route", "--osm", str(tiny), "--from", FROM, "--to", TO]
    _refused(_run(*base, "--html", str(tmp_path)), "'--html'", "is a folder")
    _refused(_run(*base, "--html", "/proc/r.html"), "--html='/proc/r.html' cannot be written")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.osm"]


def test_render_html_refuses_an_unwritable_path(tiny: Path, tmp_path: Path) -> None:
    r = RoadGraph.from_osm(tiny).route(A, B)
    with pytest.raises(InvalidInput, match=r"path='/proc/r.html' cannot be written"):
        render_html(r, "/proc/r.html")
    out = render_html(r, tmp_path / "r.html")
    assert "deck" in out.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.osm", "r.html"]


# -- --cache ---------------------------------------------------------------------------
def test_cache_is_checked_against_profile_and_extract(tiny: Path, tmp_path: Path) -> None:
    cache = tmp_path / "g.cache"
    base = ["route", "--osm", str(tiny), "--cache", str(cache), "--from", FROM, "--to", TO]
    car = _run(*base, "--profile", "car")
    assert car.exit_code == 0 and cache.is_file() and "Warning" not in car.output
    again = _run(*base, "--profile", "car")
    assert again.exit_code == 0 and "Warning" not in again.output
    assert json.loads(again.output)["travel_time_s"] == json.loads(car.output)["travel_time_s"]
    # a cache of the car graph is not used for the emergency vehicle: rebuilt, with a warning
    ev = _run(*base, "--profile", "emergency")
    assert ev.exit_code == 0
    assert "Warning: --cache=" in ev.output and "profile 'car', not 'emergency'" in ev.output
    fresh = _run("route", "--osm", str(tiny), "--profile", "emergency", "--from", FROM, "--to", TO)
    ev_doc = json.loads(ev.output[ev.output.index("{") :])
    assert ev_doc["travel_time_s"] == json.loads(fresh.output)["travel_time_s"]
    assert ev_doc["travel_time_s"] < json.loads(car.output)["travel_time_s"]
    assert RoadGraph.load(cache).profile.name == "emergency"  # rewritten
    # a changed extract makes the cache stale
    os.utime(tiny, ns=(0, 0))
    res = _run(*base, "--profile", "emergency")
    assert res.exit_code == 0 and "was built from" in res.output


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "the file is empty"),
        (b"II*\x00junk tiff", "not an .npz archive"),
        (b"PK\x03\x04broken zip", "not a road graph cache"),
        (pickle.dumps((1, None, 1.0, True)), "an old pickle cache"),
    ],
)
def test_cache_that_is_not_a_cache_is_refused(
    tiny: Path, tmp_path: Path, content: bytes, why: str
) -> None:
    cache = tmp_path / "some.tif"
    cache.write_bytes(content)
    res = _run("route", "--osm", str(tiny), "--cache", str(cache), "--from", FROM, "--to", TO)
    _refused(res, f"--cache={str(cache)!r} is not a road graph cache", why)
    assert cache.read_bytes() == content  # not overwritten


def test_cache_paths_that_cannot_be_written(tiny: Path, tmp_path: Path) -> None:
    base = ["route", "--osm", str(tiny), "--from", FROM, "--to", TO]
    _refused(_run(*base, "--cache", str(tmp_path)), "'--cache'", "is a folder")
    _refused(_run(*base, "--cache", "/proc/g.cache"), "--cache='/proc/g.cache' cannot be written")


class _Boom:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("touch pwned",))


def test_cache_runs_no_code_from_the_file(tiny: Path, tmp_path: Path) -> None:
    cache = tmp_path / "evil.npz"
    with open(cache, "wb") as f:  # an object array in the archive needs pickle to load
        np.savez(f, header=np.array([_Boom()], dtype=object))
    with pytest.raises(InvalidInput, match="is not a road graph cache"):
        RoadGraph.load(cache)
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


def test_cache_round_trip(tiny: Path, tmp_path: Path) -> None:
    g = RoadGraph.from_osm(tiny, profile="emergency")
    g.save(tmp_path / "g.cache")
    h = RoadGraph.load(tmp_path / "g.cache", profile="emergency", osm=tiny)
    for k in ("osm_ids", "lon", "tail", "head", "time_s", "coords", "offsets", "cluster"):
        assert np.array_equal(getattr(g.net, k), getattr(h.net, k)), k
    assert (h.net.names, h.net.ways, h.net.profile) == (g.net.names, g.net.ways, g.net.profile)
    assert h.route(A, B).node_ids == g.route(A, B).node_ids
    with pytest.raises(StaleGraphCache, match="profile 'emergency', not 'car'"):
        RoadGraph.load(tmp_path / "g.cache", profile="car")
    other = _grid(tmp_path / "other.osm")
    with pytest.raises(StaleGraphCache, match="was built from"):
        RoadGraph.load(tmp_path / "g.cache", osm=other)


# -- --stations ------------------------------------------------------------------------
_POINT = {"type": "Point", "coordinates": list(A)}


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\xff\xfe", ["not UTF-8 text"]),
        (b"", ["is empty"]),
        (b"[{", ["is not JSON", "line 1"]),
        (b'{"a": 1}', ["holds a JSON dict", "FeatureCollection"]),
        (b'"str"', ["holds a JSON str"]),
        (b"[]", ["lists no station"]),
        (b"[1]", ["item [0]=1 is not an object"]),
        (b'[{"name": "x", "lon": 24.9, "lat": 60.2}]', ["[0] has no id"]),
        (b'[{"id": "s", "lon": "x", "lat": 60.2}]', ["[0] needs numbers lon and lat"]),
        (b'[{"id": "s", "lon": 240, "lat": 60.2}]', ["outside CRS84"]),
        (b'[{"id": "", "lon": 24.9, "lat": 60.2}]', ["[0].id", "is blank"]),
        (
            json.dumps([{"id": "s", "lon": A[0], "lat": A[1]}] * 2).encode(),
            ["[1] repeats the id 's' of [0]", "unique"],
        ),
        (
            json.dumps(
                {
                    "type": "FeatureCollection",
                    "features": [
                        {"type": "Feature", "id": "p", "properties": {}, "geometry": _POINT},
                        {
                            "type": "Feature",
                            "properties": {"id": "q"},
                            "geometry": {
                                "type": "Polygon",
                                "coordinates": [[[24.9, 60.2], [24.91, 60.2], [24.9, 60.21]]],
                            },
                        },
                    ],
                }
            ).encode(),
            ["features[1].geometry must be a Point, not 'Polygon'"],
        ),
        (
            json.dumps(
                {
                    "type": "FeatureCollection",
                    "features": [{"type": "Feature", "properties": {"id": "p"}, "geometry": None}],
                }
            ).encode(),
            ["features[0].geometry must be a Point, not None"],
        ),
        (
            json.dumps(
                {
                    "type": "FeatureCollection",
                    "features": [
                        {"type": "Feature", "id": "p", "properties": None, "geometry": _POINT},
                        {"type": "Feature", "properties": {"id": "p"}, "geometry": _POINT},
                    ],
                }
            ).encode(),
            ["features[1] repeats the id 'p' of features[0]"],
        ),
    ],
)
@pytest.mark.parametrize("cmd", ["dispatch", "isochrone"])
def test_bad_stations_file(
    tiny: Path, tmp_path: Path, cmd: str, content: bytes, words: list[str]
) -> None:
    path = tmp_path / "stations.json"
    path.write_bytes(content)
    extra = ["--incident", FROM] if cmd == "dispatch" else []
    res = _run(cmd, "--osm", str(tiny), "--stations", str(path), *extra)
    _refused(res, f"--stations={str(path)!r}: ", *words)


def test_good_stations_file(tiny: Path, tmp_path: Path) -> None:
    path = tmp_path / "stations.geojson"
    feats = [
        {"type": "Feature", "id": 7, "properties": {"name": "Asema"}, "geometry": _POINT},
        {
            "type": "Feature",
            "properties": {"id": "s-2"},
            "geometry": {"type": "Point", "coordinates": list(grid_pos(4, 0))},
        },
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    res = _run("dispatch", "--osm", str(tiny), "--stations", str(path), "--incident", TO)
    assert res.exit_code == 0, res.output
    ranked = json.loads(res.output)["candidates"]
    assert {c["station"]["osm_id"] for c in ranked} == {"7", "s-2"}


def test_stations_of_refuses_repeated_ids(tiny: Path) -> None:
    g = RoadGraph.from_osm(tiny)
    st = Station("s", "", "station", *A)
    with pytest.raises(InvalidInput, match=r"stations repeat the ids \['s'\]"):
        stations_of(g, [st, {"id": "s", "lon": B[0], "lat": B[1]}])


# -- greenwave --vehicle ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("vehicle", "words"),
    [("", "is blank"), ("🚑", "U+1F691"), ("v" * 600, "is too long"), (" ev", "starts or ends")],
)
def test_greenwave_vehicle_id(tiny: Path, vehicle: str, words: str) -> None:
    base = ["greenwave", "--osm", str(tiny), "--from", FROM, "--to", TO]
    _refused(_run(*base, "--vehicle", vehicle), "'--vehicle'", words)
    g = RoadGraph.from_osm(tiny, profile="emergency")
    with pytest.raises(InvalidInput, match=f"vehicle_id=.*{re.escape(words)}"):
        plan_green_wave(g, A, B, vehicle_id=vehicle)


def test_greenwave_vehicle_and_priority_accepted(tiny: Path) -> None:
    base = ["greenwave", "--osm", str(tiny), "--from", FROM, "--to", TO]
    res = _run(*base, "--vehicle", "engine 3/ladder", "--priority", "10")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert (doc["vehicle_id"], doc["priority"]) == ("engine 3/ladder", 10)
    for bad in ("0", "11", "x"):
        _refused(_run(*base, "--priority", bad), "'--priority'")


# -- isochrone --limit -----------------------------------------------------------------
@pytest.mark.parametrize("limit", ["nan", "inf", "-inf", "1e12", "0", "-5", "1800.5"])
def test_isochrone_limit(tiny: Path, limit: str) -> None:
    res = _run("isochrone", "--osm", str(tiny), "--limit", limit)
    _refused(res, "'--limit'", f"must be a finite number of seconds in (0, {MAX_ISOCHRONE_S:g}]")
    g = RoadGraph.from_osm(tiny)
    st = [Station("s", "", "station", *A)]
    with pytest.raises(InvalidInput, match=r"limit_s=.* must be a finite number"):
        isochrones(g, stations=st, limit_s=float(limit))
    with pytest.raises(InvalidInput, match=r"limit_s=.* must be a finite number"):
        coverage(g, [B], stations=st, limit_s=float(limit))


def test_isochrone_limit_bound_is_served(tiny: Path) -> None:
    res = _run("isochrone", "--help")
    assert f"0 < limit <= {MAX_ISOCHRONE_S:g}" in res.output
    g = RoadGraph.from_osm(tiny)
    (iso,) = isochrones(g, stations=[Station("s", "", "station", *A)], limit_s=MAX_ISOCHRONE_S)
    assert iso.limit_s == MAX_ISOCHRONE_S and not math.isnan(iso.area_km2)


# -- --osm with bad coordinates --------------------------------------------------------
@pytest.mark.parametrize(("lat", "lon"), [("nan", "24.9"), ("60.2", "500")])
def test_osm_with_a_bad_coordinate(
    osm_file: Callable[..., Path], tmp_path: Path, lat: str, lon: str
) -> None:
    path = _grid(tmp_path / "bad.osm")
    text = path.read_text()
    node = f'<node id="{grid_node(1, 1)}" version="1" '
    start = text.index(node)
    end = text.index(">", start)
    text = text[:start] + f'{node}lat="{lat}" lon="{lon}"' + text[end:]
    path.write_text(text)
    res = _run("route", "--osm", str(path), "--from", FROM, "--to", TO)
    _refused(res, f"osm={str(path)!r} cannot be read as an OSM extract", "coordinate")
    with pytest.raises(OSMFileError, match="cannot be read as an OSM extract"):
        RoadGraph.from_osm(path)
