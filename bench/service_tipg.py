"""The twin's OGC API Features service against tipg and pygeoapi's stock PostgreSQL provider.

All three serve the same PostGIS table (the twin store's current-state table of a
collection of >= 100,000 generated building footprints), each as one uvicorn process
on loopback, one after the other, under the same request mix and concurrency:

- ``bbox``: pages of 100 items in a random 600 m box;
- ``item``: single items by id;
- ``cql2``: a CQL2-text filter (``height > h AND floors = n``), pages of 100.

Printed and written to ``bench/results/service_tipg.json``: requests/s and p50/p99
latency per server and request kind, and the ratios twin/tipg and twin/pygeoapi.

Run: ``.venv/bin/python bench/service_tipg.py [--features 100000] [--requests 300]``.
Needs PostgreSQL + PostGIS (``TWIN_TEST_PG_URL`` or a local ``initdb``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import percentile, write_results

LON0, LAT0, SPAN_LON, SPAN_LAT = 24.80, 60.10, 0.35, 0.18
BOX = 0.011  # ~600 m in longitude at 60 N
TABLE = "bench_buildings"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def postgis() -> Iterator[str]:
    url = os.environ.get("TWIN_TEST_PG_URL")
    if url:
        yield url
        return
    from twin.testing.pg import PgCluster, find_pg_bindir

    bindir = find_pg_bindir()
    if bindir is None:
        sys.exit("PostgreSQL is not installed; set TWIN_TEST_PG_URL")
    cluster = PgCluster(bindir).start()
    try:
        yield cluster.url
    finally:
        cluster.stop()


def load(url: str, n: int, seed: int) -> None:
    """Write ``n`` building squares into a twin store collection (one transaction per batch)."""
    from shapely.geometry import box

    from twin.store import CollectionSpec, Feature, Field, FieldType, open_store

    rng = random.Random(seed)
    spec = CollectionSpec(
        TABLE,
        "Buildings (benchmark)",
        geometry_type="Polygon",
        fields=(
            Field("name"),
            Field("height", FieldType.NUMBER),
            Field("floors", FieldType.INTEGER),
            Field("kind"),
        ),
    )
    with open_store(url) as store:
        store.ensure_collection(spec)
        if store.count(TABLE) >= n:
            return
        t = time.perf_counter()
        batch: list[Feature] = []
        for i in range(n):
            x = LON0 + rng.random() * SPAN_LON
            y = LAT0 + rng.random() * SPAN_LAT
            w = 0.0001 + rng.random() * 0.0003
            batch.append(
                Feature(
                    f"b{i}",
                    box(x, y, x + w, y + w / 2),
                    {
                        "name": f"Building {i}",
                        "height": round(3 + rng.random() * 60, 1),
                        "floors": rng.randint(1, 12),
                        "kind": rng.choice(("house", "office", "shop", "school")),
                    },
                )
            )
            if len(batch) == 10000:
                store.create(TABLE, batch)
                batch = []
        if batch:
            store.create(TABLE, batch)
        print(f"loaded {n} features in {time.perf_counter() - t:.1f} s")
    _sql(url, f'ANALYZE "{TABLE}"')


def _sql(url: str, statement: str) -> None:
    import sqlalchemy as sa

    eng = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with eng.begin() as conn:
        conn.exec_driver_sql(statement)
    eng.dispose()


def requests_for(kind: str, n: int, n_features: int, seed: int) -> list[dict[str, str]]:
    """The same ``n`` query-parameter sets (or ids) for every server."""
    rng = random.Random(f"{seed}-{kind}")
    out = []
    for _ in range(n):
        if kind == "bbox":
            x = LON0 + rng.random() * (SPAN_LON - BOX)
            y = LAT0 + rng.random() * (SPAN_LAT - BOX / 2)
            out.append({"bbox": f"{x:.5f},{y:.5f},{x + BOX:.5f},{y + BOX / 2:.5f}", "limit": "100"})
        elif kind == "item":
            out.append({"id": f"b{rng.randrange(n_features)}"})
        else:
            h = rng.randint(10, 55)
            f = rng.randint(1, 12)
            out.append({"filter": f"height > {h} AND floors = {f}", "limit": "100"})
    return out


@contextmanager
def serve(cmd: list[str], env: dict[str, str], port: int, probe: str, log: Path) -> Iterator[str]:
    base = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(base + probe, timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    sys.exit(f"{cmd[:3]} did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.3)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def run_mix(
    base: str,
    items_path: str,
    reqs: dict[str, list[dict[str, str]]],
    *,
    concurrency: int,
    filter_params: dict[str, str],
    fmt: str,
) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    local = __import__("threading").local()

    def client() -> httpx.Client:
        c = getattr(local, "c", None)
        if c is None:
            c = local.c = httpx.Client(base_url=base, timeout=60)
        return c

    def one(kind: str, p: dict[str, str]) -> tuple[float, int, int]:
        if kind == "item":
            url, params = f"{items_path}/{p['id']}", {"f": fmt}
        elif kind == "cql2":
            url, params = items_path, {**p, **filter_params, "f": fmt}
        else:
            url, params = items_path, {**p, "f": fmt}
        t = time.perf_counter()
        r = client().get(url, params=params)
        ms = (time.perf_counter() - t) * 1000
        n = len(r.json().get("features", [])) if kind != "item" and r.status_code == 200 else 1
        return ms, r.status_code, n

    with ThreadPoolExecutor(concurrency) as pool:
        for kind, params in reqs.items():
            list(pool.map(lambda p, k=kind: one(k, p), params[: max(10, len(params) // 10)]))
            t = time.perf_counter()
            results = list(pool.map(lambda p, k=kind: one(k, p), params))
            wall = time.perf_counter() - t
            ms = [r[0] for r in results]
            bad = sum(1 for r in results if r[1] != 200)
            out[kind] = {
                "requests": len(results),
                "errors": bad,
                "rps": round(len(results) / wall, 1),
                "p50_ms": round(percentile(ms, 50), 2),
                "p99_ms": round(percentile(ms, 99), 2),
                "mean_features": round(sum(r[2] for r in results) / len(results), 1),
            }
    return out


def _pygeoapi_config(url: str, port: int, folder: Path) -> tuple[Path, Path]:
    import yaml

    u = urlsplit(url)
    cfg = {
        "server": {
            "bind": {"host": "127.0.0.1", "port": port},
            "url": f"http://127.0.0.1:{port}",
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "languages": ["en-US"],
            "limits": {"default_items": 10, "max_items": 1000},
            "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "OSM"},
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {
                "title": "bench",
                "description": "bench",
                "keywords": ["bench"],
                "keywords_type": "theme",
                "terms_of_service": "none",
                "url": "http://x",
            },
            "license": {"name": "none", "url": "http://x"},
            "provider": {"name": "bench", "url": "http://x"},
            "contact": {"name": "bench", "email": "x@example.org"},
        },
        "resources": {
            TABLE: {
                "type": "collection",
                "title": "bench",
                "description": "bench",
                "keywords": ["bench"],
                "extents": {"spatial": {"bbox": [LON0, LAT0, LON0 + SPAN_LON, LAT0 + SPAN_LAT]}},
                "providers": [
                    {
                        "type": "feature",
                        "name": "PostgreSQL",
                        "data": {
                            "host": u.hostname,
                            "port": u.port or 5432,
                            "dbname": u.path.lstrip("/"),
                            "user": u.username,
                            "password": u.password or "",
                            "search_path": ["public"],
                        },
                        "id_field": "feature_id",
                        "table": TABLE,
                        "geom_field": "geom",
                    }
                ],
            }
        },
    }
    config = folder / "pygeoapi.yml"
    config.write_text(yaml.safe_dump(cfg))
    from pygeoapi.openapi import get_oas

    openapi = folder / "openapi.yml"
    openapi.write_text(yaml.safe_dump(get_oas(cfg)))
    return config, openapi


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--features", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=300, help="timed requests per kind")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--skip", nargs="*", default=[], choices=["twin", "tipg", "pygeoapi"])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="twin-bench-") as tmp:
        run(args, Path(tmp))


def run(args: argparse.Namespace, work: Path) -> None:
    """Load the features, then drive each server in turn (its log under ``work``)."""
    py = sys.executable
    with postgis() as url:
        _sql(url, "CREATE EXTENSION IF NOT EXISTS postgis")
        load(url, args.features, args.seed)
        reqs = {
            k: requests_for(k, args.requests, args.features, args.seed)
            for k in ("bbox", "item", "cql2")
        }
        servers: dict[str, dict[str, object]] = {
            "twin": {
                "cmd": [py, "-c", "from twin.cli.serve import serve; serve()", "--db", url],
                "env": {"TWIN_VAR_DIR": str(work / "var"), "PYTHONWARNINGS": "ignore"},
                "items": f"/collections/{TABLE}/items",
                "filter": {},
                "format": "json",
                "port_arg": "--port",
            },
            "tipg": {
                "cmd": [
                    py,
                    "-m",
                    "uvicorn",
                    "tipg.main:app",
                    "--host",
                    "127.0.0.1",
                    "--log-level",
                    "warning",
                ],
                "env": {
                    "DATABASE_URL": url,
                    "TIPG_DB_TABLES": json.dumps([f"public.{TABLE}"]),
                    f"TIPG_TABLE_CONFIG__public_{TABLE}__PK": "feature_id",
                    "TIPG_MAX_FEATURES_PER_QUERY": "10000",
                },
                "items": f"/collections/public.{TABLE}/items",
                "filter": {"filter-lang": "cql2-text"},
                "format": "geojson",
                "port_arg": "--port",
            },
            "pygeoapi": {
                "cmd": [
                    py,
                    "-m",
                    "uvicorn",
                    "pygeoapi.starlette_app:APP",
                    "--host",
                    "127.0.0.1",
                    "--log-level",
                    "warning",
                ],
                "env": {},
                "items": f"/collections/{TABLE}/items",
                "filter": {},
                "format": "json",
                "port_arg": "--port",
            },
        }
        results: dict[str, dict[str, dict[str, float]]] = {}
        for name, s in servers.items():
            if name in args.skip:
                continue
            port = _free_port()
            env = dict(s["env"])  # type: ignore[call-overload]
            if name == "pygeoapi":
                config, openapi = _pygeoapi_config(url, port, work)
                env.update({"PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi)})
            cmd = [*s["cmd"], s["port_arg"], str(port)]  # type: ignore[misc]
            print(f"-- {name}", flush=True)
            with serve(cmd, env, port, "/conformance", work / f"{name}.log") as base:
                results[name] = run_mix(
                    base,
                    str(s["items"]),
                    reqs,
                    concurrency=args.concurrency,
                    filter_params=dict(s["filter"]),  # type: ignore[call-overload]
                    fmt=str(s["format"]),
                )
            for kind, r in results[name].items():
                print(
                    f"   {kind:5} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:7.2f} ms  p99 {r['p99_ms']:7.2f} ms  "
                    f"errors {r['errors']}  features/page {r['mean_features']}"
                )
    ratios: dict[str, dict[str, float]] = {}
    if "twin" in results:
        for peer in ("tipg", "pygeoapi"):
            if peer in results:
                ratios[f"twin/{peer}"] = {
                    k: round(results["twin"][k]["rps"] / results[peer][k]["rps"], 2)
                    for k in results["twin"]
                }
    for key, r in ratios.items():
        print(f"throughput ratio {key}: " + ", ".join(f"{k} {v:.2f}x" for k, v in r.items()))
    write_results(
        "service_tipg",
        {
            "features": args.features,
            "requests_per_kind": args.requests,
            "concurrency": args.concurrency,
            "results": results,
            "ratios": ratios,
        },
    )


if __name__ == "__main__":
    main()
