"""Routing latency on the Porto graph: the twin's router vs networkx vs pgRouting.

    .venv/bin/python bench/routing_latency.py [--osm FILE] [--pairs 1000] [--nx-pairs 50]
        [--pg-pairs 50] [--profile emergency] [--no-pg]

Reports preprocessing time and memory, p50/p95/p99 latency of ``RoadGraph.route`` (full
result: geometry and steps) and of the bare cost query, exactness against a plain
Dijkstra (scipy) on the same turn graph for every pair, and the same pairs on networkx's
bidirectional Dijkstra and pgRouting's ``pgr_dijkstra`` over the same edges (these two
know no turn rules, so they are checked against the twin's router with turn rules off).
Writes ``bench/results/routing_latency.json``.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import summary, write_results
from routing.graph import RoadGraph

ROOT = Path(__file__).resolve().parents[1]
PORTO = ROOT.parent / "shared" / "data" / "osm" / "porto_portugal.osm.pbf"


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _pairs(g: RoadGraph, n: int, seed: int) -> list[tuple[int, int]]:
    rng = np.random.default_rng(seed)
    ids = g.net.osm_ids
    out: list[tuple[int, int]] = []
    while len(out) < n:
        a, b = (int(x) for x in ids[rng.integers(0, len(ids), 2)])
        if a != b and g.travel_time_ms(a, b) is not None:
            out.append((a, b))
    return out


def _pg(g: RoadGraph, pairs: list[tuple[int, int]]) -> dict[str, object]:
    from twin.testing.pg import PgCluster, find_pg_bindir

    bindir = find_pg_bindir()
    if bindir is None:
        return {"skipped": "PostgreSQL not installed"}
    cluster = PgCluster(bindir)
    cluster.start()
    try:
        import psycopg

        net = g.net
        ms = g.engine.edge_ms
        with psycopg.connect(cluster.url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pgrouting CASCADE")
            conn.execute(
                "CREATE TABLE edges (id bigint primary key, source bigint, target bigint, "
                "cost double precision)"
            )
            t0 = time.perf_counter()
            with conn.cursor().copy("COPY edges FROM STDIN") as cp:
                for e in range(net.edge_count):
                    cp.write_row(
                        (
                            e,
                            int(net.osm_ids[net.tail[e]]),
                            int(net.osm_ids[net.head[e]]),
                            int(ms[e]),
                        )
                    )
            load_s = time.perf_counter() - t0
            q = (
                "SELECT sum(cost) FROM pgr_dijkstra("
                "'SELECT id, source, target, cost FROM edges', %s::bigint, %s::bigint, true)"
            )
            times, costs = [], []
            for a, b in pairs:
                t = time.perf_counter()
                row = conn.execute(q, (a, b)).fetchone()
                times.append((time.perf_counter() - t) * 1000)
                costs.append(None if row is None or row[0] is None else float(row[0]))
        free = RoadGraph(g.net, turn_rules=False)
        exact = sum(
            1
            for (a, b), c in zip(pairs, costs, strict=True)
            if c is not None and free.travel_time_ms(a, b) == round(c)
        )
        return {
            "latency": summary(times),
            "exact": f"{exact}/{len(pairs)}",
            "load_s": round(load_s, 2),
        }
    finally:
        cluster.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--osm", type=Path, default=PORTO)
    ap.add_argument("--profile", default="emergency")
    ap.add_argument("--pairs", type=int, default=1000)
    ap.add_argument("--nx-pairs", type=int, default=50)
    ap.add_argument("--pg-pairs", type=int, default=50)
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if not args.osm.is_file():
        print(f"no extract at {args.osm}; pass --osm")
        return

    rss0 = _rss_mb()
    t0 = time.perf_counter()
    g = RoadGraph.from_osm(args.osm, profile=args.profile)
    build_s = time.perf_counter() - t0
    rss_graph = _rss_mb()
    print(f"{g!r}: built in {build_s:.1f} s; {g.engine.banned_turns} turns banned")
    print("  stages:", {k: round(v, 2) for k, v in g.timings.items()})

    pairs = _pairs(g, args.pairs, args.seed)
    for a, b in pairs[:20]:  # warm up
        g.route(a, b)
    route_ms, cost_ms = [], []
    results = {}
    for a, b in pairs:
        t = time.perf_counter()
        r = g.route(a, b)
        route_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        g.travel_time_ms(a, b)
        cost_ms.append((time.perf_counter() - t) * 1000)
        results[(a, b)] = round(r.travel_time_s * 1000)
    print("twin route()      ", summary(route_ms))
    print("twin cost only    ", summary(cost_ms))

    t = time.perf_counter()
    eng = g.engine
    exact = 0
    for a, b in pairs:
        dist = eng.distances(eng.node_sources(g.node_index(a)))
        ref = dist[[e for e, _ in eng.node_targets(g.node_index(b))]].min()
        exact += int(ref == results[(a, b)])
    print(
        f"exact vs plain Dijkstra (scipy): {exact}/{len(pairs)} in {time.perf_counter() - t:.0f} s"
    )

    import networkx as nx

    free = RoadGraph(g.net, turn_rules=False)
    nxg = free.to_networkx()
    nx_ms, nx_exact = [], 0
    for a, b in pairs[: args.nx_pairs]:
        t = time.perf_counter()
        length, _ = nx.bidirectional_dijkstra(nxg, a, b, weight="travel_time")
        nx_ms.append((time.perf_counter() - t) * 1000)
        nx_exact += int(round(length * 1000) == free.travel_time_ms(a, b))
    print("networkx bidirectional", summary(nx_ms), f"exact {nx_exact}/{len(nx_ms)}")

    pg: dict[str, object] = {"skipped": "--no-pg"}
    if not args.no_pg:
        try:
            pg = _pg(g, pairs[: args.pg_pairs])
        except Exception as exc:  # the bench reports what it could not measure
            pg = {"skipped": f"{type(exc).__name__}: {exc}"}
    print("pgRouting pgr_dijkstra", pg)

    twin = summary(route_ms)
    out = {
        "osm": str(args.osm.name),
        "profile": args.profile,
        "graph": {
            "nodes": g.node_count,
            "edges": g.edge_count,
            "turns": len(g.engine.a_tail),
            "banned_turns": g.engine.banned_turns,
            "restrictions": len(g.net.restrictions),
            "signal_junctions": len(g.net.cluster_ids),
        },
        "preprocessing": {
            "total_s": round(build_s, 2),
            **{k: round(v, 3) for k, v in g.timings.items()},
            "rss_after_build_mb": round(rss_graph, 1),
            "rss_before_mb": round(rss0, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        },
        "twin_route": twin,
        "twin_cost_only": summary(cost_ms),
        "exact_vs_dijkstra": f"{exact}/{len(pairs)}",
        "networkx_bidirectional": {"latency": summary(nx_ms), "exact": f"{nx_exact}/{len(nx_ms)}"},
        "pgrouting": pg,
        "targets": {"p50_ms": 1.0, "p99_ms": 5.0},
        "ratios": {
            "networkx_p50_over_twin_p50": round(summary(nx_ms)["p50_ms"] / twin["p50_ms"], 1),
        },
    }
    pg_lat = pg.get("latency")
    ratios = out["ratios"]
    if isinstance(pg_lat, dict) and isinstance(ratios, dict):
        ratios["pgrouting_p50_over_twin_p50"] = round(pg_lat["p50_ms"] / twin["p50_ms"], 1)
    write_results("routing_latency", out)


if __name__ == "__main__":
    main()
