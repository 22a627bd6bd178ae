"""OGC API - Routes over HTTP on the Helsinki twin, against the router called in-process.

    .venv/bin/python bench/routing_api.py [--db FILE] [--requests 300]

Serves the twin with ``twin serve`` on a free loopback port and, side by side with the
same pairs, times:

- ``POST /routes`` (emergency mode, green-wave plan included) from an HTTP client;
- the in-process peer: ``plan_green_wave`` on the graph loaded from the same store;
- how long a closure posted to ``road_closures`` takes to change the next route: the
  closure is POSTed, then routes are requested until one avoids it.

Writes ``bench/results/routing_api.json``.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from shapely.geometry import shape

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import summary, timed, write_results

ROOT = Path(__file__).resolve().parents[1]
KEY = "bench-editor-key"
DEPART = "2026-12-01T08:00:00Z"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pairs(db: str, n: int, seed: int) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    from routing.graph import RoadGraph
    from twin.store import open_store

    with open_store(db, create=False) as store:
        graph = RoadGraph.from_store(store, profile="emergency")
    rng = random.Random(seed)
    coords = np.column_stack([graph.net.lon, graph.net.lat])
    out = []
    while len(out) < n:
        a = tuple(map(float, coords[rng.randrange(len(coords))]))
        b = tuple(map(float, coords[rng.randrange(len(coords))]))
        try:
            graph.route(a, b, depart=DEPART)
        except Exception:
            continue
        out.append((a, b))
    return out


def _body(a: Any, b: Any, when: str = DEPART) -> dict[str, Any]:
    return {
        "inputs": {
            "waypoints": {"value": {"type": "MultiPoint", "coordinates": [list(a), list(b)]}},
            "mode": "emergency",
            "when": {"timestamp": when, "type": "departure"},
        }
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", help="a built twin (default: build Helsinki into a temp folder)")
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="twin-bench-routes-") as tmp:
        run(args, Path(tmp))


def run(args: argparse.Namespace, tmp: Path) -> None:
    """Time the routes (the twin built under ``tmp`` unless ``args.db`` names one)."""
    db = args.db
    if db is None:
        from twin.build import build_twin

        db = str(tmp / "helsinki.gpkg")
        t0 = time.perf_counter()
        build_twin(ROOT / "data" / "helsinki.osm.pbf", db)
        print(f"built the Helsinki twin in {time.perf_counter() - t0:.1f} s")
    pairs = _pairs(db, args.requests, args.seed)

    from routing.graph import RoadGraph
    from routing.greenwave import plan_green_wave
    from twin.store import open_store

    port = _free_port()
    env = {"TWIN_API_KEYS": f"{KEY}:editor", "TWIN_VAR_DIR": str(tmp / "var")}
    twin = str(Path(sys.executable).parent / "twin")
    server = subprocess.Popen(
        [twin, "serve", "--db", db, "--port", str(port)],
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            for _ in range(120):
                try:
                    if client.get("/conformance").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.5)
            client.post("/routes", json=_body(*pairs[0]))  # loads the graph
            with open_store(db, create=False) as store:
                graph = RoadGraph.from_store(store, profile="emergency")
            http_ms: list[float] = []
            peer_ms: list[float] = []
            for a, b in pairs:
                ms, r = timed(lambda a=a, b=b: client.post("/routes", json=_body(a, b)))
                assert r.status_code == 200, r.text
                http_ms.append(ms)
                ms, plan = timed(lambda a=a, b=b: plan_green_wave(graph, a, b, depart=DEPART))
                peer_ms.append(ms)
                got = r.json()["features"][0]["properties"]["duration_s"]
                assert abs(got - plan.route.travel_time_s) <= 0.051, (got, plan.route.travel_time_s)
            closure = _closure_effect(client, pairs)
    finally:
        server.terminate()
        server.wait(timeout=30)
    http, peer = summary(http_ms), summary(peer_ms)
    data = {
        "db": args.db or "the Helsinki twin, built for the run in a removed temporary folder",
        "requests": len(pairs),
        "http_routes_with_plan": http,
        "in_process_plan": peer,
        "ratio_p50": round(http["p50_ms"] / peer["p50_ms"], 2),
        "closure_to_effect": closure,
    }
    print(
        f"POST /routes p50 {http['p50_ms']} ms p99 {http['p99_ms']} ms; in-process plan p50 "
        f"{peer['p50_ms']} ms; ratio {data['ratio_p50']}; closure counted after "
        f"{closure['seconds']} s ({closure['requests']} request(s))"
    )
    write_results("routing_api", data)


def _closure_effect(client: httpx.Client, pairs: list[Any]) -> dict[str, Any]:
    """Post a closure on a long route's middle and time until a route avoids it."""
    for a, b in pairs:
        doc = client.post("/routes", json=_body(a, b)).json()
        segs = [f for f in doc["features"] if f["properties"]["featureType"] == "segment"]
        if not segs or doc["features"][0]["properties"]["length_m"] < 800:
            continue
        seg = max(segs, key=lambda s: s["properties"]["length_m"])
        box = shape(seg["geometry"]).interpolate(0.5, normalized=True).buffer(0.0003)
        start = datetime(2026, 12, 1, 7, tzinfo=UTC)
        feature = {
            "type": "Feature",
            "geometry": box.__geo_interface__,
            "properties": {
                "reason": "bench",
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(hours=3)).isoformat(),
            },
        }
        t0 = time.perf_counter()
        w = client.post(
            "/collections/road_closures/items",
            json=feature,
            headers={"X-API-Key": KEY, "Content-Type": "application/geo+json"},
        )
        assert w.status_code == 201, w.text
        n = 0
        while True:
            n += 1
            r = client.post("/routes", json=_body(a, b)).json()
            overview = r["features"][0]
            if not shape(overview["geometry"]).intersects(box):
                break
            if time.perf_counter() - t0 > 10:
                break
        seconds = time.perf_counter() - t0
        client.delete(
            w.headers["location"].replace(str(client.base_url).rstrip("/"), ""),
            headers={"X-API-Key": KEY},
        )
        return {"seconds": round(seconds, 3), "requests": n, "avoided": seconds <= 10}
    return {"seconds": None, "requests": 0, "avoided": False}


if __name__ == "__main__":
    main()
