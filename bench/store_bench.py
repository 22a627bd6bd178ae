"""Store benchmark: bbox reads and as-of reads on both backends, side by side.

Figures
-------
- bbox: p50/p95 of a bbox query returning ~100 features from a layer of N features
  (default 100,000), in-process, per backend; with GDAL (pyogrio, the GeoPackage's R-tree)
  reading the same file and bbox as the embedded backend's peer.
- as-of: p50 of the same bbox queries as of an instant on a layer whose features have
  5 versions each, over the p50 of current-state queries on that layer: the ratio.
- import: OSM import time and peak memory (Helsinki, and Porto when the shared data
  is there), each in a fresh subprocess.

Run: ``.venv/bin/python bench/store_bench.py [--n 100000] [--queries 300]``
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import summary, timed, write_results

from twin.store import CollectionSpec, Feature, Field, Query, open_store
from twin.temporal import Instant

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
EXTENT = (24.80, 60.10, 25.20, 60.30)
T0 = datetime(2020, 1, 1, tzinfo=UTC)
SPEC = CollectionSpec(
    "bench_points",
    "Benchmark points",
    geometry_type="Point",
    fields=(Field("name"), Field("n", "integer"), Field("value", "number")),
)


def make_features(n: int, seed: int, shift: float = 0.0) -> list[Feature]:
    rnd = random.Random(seed)
    x0, y0, x1, y1 = EXTENT
    return [
        Feature(
            f"p{i}",
            shapely.Point(rnd.uniform(x0, x1) + shift, rnd.uniform(y0, y1)),
            {"name": f"point {i}", "n": i, "value": rnd.random()},
        )
        for i in range(n)
    ]


def boxes(
    count: int, n: int, seed: int, want: int = 100
) -> list[tuple[float, float, float, float]]:
    """Random bboxes sized to hold ~``want`` of ``n`` uniform points."""
    rnd = random.Random(seed)
    x0, y0, x1, y1 = EXTENT
    frac = (want / n) ** 0.5
    w, h = (x1 - x0) * frac, (y1 - y0) * frac
    out = []
    for _ in range(count):
        bx, by = rnd.uniform(x0, x1 - w), rnd.uniform(y0, y1 - h)
        out.append((bx, by, bx + w, by + h))
    return out


def load(url: str, n: int, versions: int) -> dict[str, float]:
    store = open_store(url)
    store.ensure_collection(SPEC)
    t = time.perf_counter()
    store.create(SPEC.name, make_features(n, 1), valid_from=T0)
    first = time.perf_counter() - t
    for v in range(1, versions):
        store.sync(
            SPEC.name, make_features(n, 1, shift=v * 1e-5), valid_from=T0 + timedelta(days=365 * v)
        )
    total = time.perf_counter() - t
    store.close()
    return {"create_s": round(first, 2), "load_total_s": round(total, 2)}


def bench_bbox(urls: dict[str, str], n: int, queries: int) -> dict[str, object]:
    stores = {k: open_store(u) for k, u in urls.items()}
    bb = boxes(queries, n, 7)
    times: dict[str, list[float]] = {k: [] for k in [*stores, "gdal_gpkg"]}
    counts: dict[str, list[int]] = {k: [] for k in times}
    import pyogrio

    gpkg_path = urls["gpkg"]
    for b in bb[:10]:  # warm up every reader
        for s in stores.values():
            s.query(SPEC.name, Query(bbox=b))
        pyogrio.read_dataframe(gpkg_path, layer=SPEC.name, bbox=b)
    for b in bb:
        for k, s in stores.items():
            ms, res = timed(lambda s=s, b=b: s.query(SPEC.name, Query(bbox=b)))
            times[k].append(ms)
            counts[k].append(len(res))
        ms, df = timed(lambda b=b: pyogrio.read_dataframe(gpkg_path, layer=SPEC.name, bbox=b))
        times["gdal_gpkg"].append(ms)
        counts["gdal_gpkg"].append(len(df))
    for s in stores.values():
        s.close()
    out: dict[str, object] = {}
    for k in times:
        out[k] = {**summary(times[k]), "mean_features": round(sum(counts[k]) / len(counts[k]), 1)}
    gp = out["gpkg"]["p50_ms"]  # type: ignore[index]
    out["ratio_gpkg_vs_gdal_p50"] = round(gp / out["gdal_gpkg"]["p50_ms"], 3)  # type: ignore[index]
    return out


def bench_asof(urls: dict[str, str], n: int, queries: int, versions: int) -> dict[str, object]:
    bb = boxes(queries, n, 11)
    rnd = random.Random(3)
    out: dict[str, object] = {}
    for k, url in urls.items():
        s = open_store(url)
        for b in bb[:10]:
            s.query(SPEC.name, Query(bbox=b))
            s.query(SPEC.name, Query(bbox=b, time=Instant(T0 + timedelta(days=400))))
        cur, asof, nc, na = [], [], [], []
        for b in bb:
            at = Instant(T0 + timedelta(days=rnd.uniform(1, 365 * versions - 1)))
            ms, r = timed(lambda b=b, s=s: s.query(SPEC.name, Query(bbox=b)))
            cur.append(ms)
            nc.append(len(r))
            ms, r = timed(lambda b=b, at=at, s=s: s.query(SPEC.name, Query(bbox=b, time=at)))
            asof.append(ms)
            na.append(len(r))
        s.close()
        c, a = summary(cur), summary(asof)
        out[k] = {
            "current": {**c, "mean_features": round(sum(nc) / len(nc), 1)},
            "as_of": {**a, "mean_features": round(sum(na) / len(na), 1)},
            "ratio_p50": round(a["p50_ms"] / c["p50_ms"], 3),
        }
    return out


_IMPORT = """
import sys, time
from twin.build import build_twin
t = time.perf_counter()
ctx = build_twin(sys.argv[1], sys.argv[2])
secs = time.perf_counter() - t
# VmHWM: this process's own peak (ru_maxrss would carry the parent's over exec)
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(secs, hwm.split()[1])
"""


def bench_import(osm: Path) -> dict[str, float]:
    """Import an extract in a fresh process; its wall time and its own peak RSS."""
    with tempfile.TemporaryDirectory() as d:
        proc = subprocess.run(
            [sys.executable, "-c", _IMPORT, str(osm), f"{d}/twin.gpkg"],
            capture_output=True,
            text=True,
            check=False,
        )
    if proc.returncode != 0:
        return {"error": proc.stderr[-500:]}  # type: ignore[dict-item]
    secs, rss_kb = proc.stdout.split()[-2:]
    return {"seconds": round(float(secs), 2), "peak_rss_mb": round(int(rss_kb) / 1024, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="features in the bbox layer")
    ap.add_argument("--asof-n", type=int, default=100_000, help="features in the versioned layer")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--no-postgis", action="store_true")
    ap.add_argument("--no-import", action="store_true")
    args = ap.parse_args()

    results: dict[str, object] = {"n": args.n, "asof_n": args.asof_n, "queries": args.queries}
    tmp = Path(tempfile.mkdtemp(prefix="twin-bench-"))
    cluster = None
    urls = {"gpkg": str(tmp / "bbox.gpkg")}
    vurls = {"gpkg": str(tmp / "asof.gpkg")}
    if not args.no_postgis:
        from twin.testing.pg import PgCluster, find_pg_bindir

        bindir = find_pg_bindir()
        if bindir is not None:
            cluster = PgCluster(bindir).start()
            urls["postgis"] = cluster.url + "?options=-csearch_path%3Dbbox,public"
            vurls["postgis"] = cluster.url + "?options=-csearch_path%3Dasof,public"
            import sqlalchemy as sa

            eng = sa.create_engine(cluster.url.replace("postgresql://", "postgresql+psycopg://"))
            with eng.begin() as c:
                c.exec_driver_sql("CREATE EXTENSION postgis")
                c.exec_driver_sql("CREATE SCHEMA bbox")
                c.exec_driver_sql("CREATE SCHEMA asof")
            eng.dispose()
    try:
        results["load"] = {k: load(u, args.n, 1) for k, u in urls.items()}
        results["load_versioned"] = {k: load(u, args.asof_n, 5) for k, u in vurls.items()}
        if cluster is not None:
            import sqlalchemy as sa

            eng = sa.create_engine(cluster.url.replace("postgresql://", "postgresql+psycopg://"))
            with eng.begin() as c:
                c.exec_driver_sql("ANALYZE")
            eng.dispose()
        results["bbox"] = bench_bbox(urls, args.n, args.queries)
        results["as_of"] = bench_asof(vurls, args.asof_n, args.queries, 5)
        if not args.no_import:
            results["import"] = {"helsinki": bench_import(ROOT / "data" / "helsinki.osm.pbf")}
            porto = SHARED / "osm" / "porto_portugal.osm.pbf"
            if porto.exists():
                results["import"]["porto"] = bench_import(porto)  # type: ignore[index]
    finally:
        if cluster is not None:
            cluster.stop()
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    import json

    print(json.dumps(results, indent=2))
    write_results("store", results)


if __name__ == "__main__":
    main()
