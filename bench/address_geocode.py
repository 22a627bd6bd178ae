"""Benchmark of forward geocoding over the Helsinki address registry.

Run:  .venv/bin/python bench/address_geocode.py [--queries 2400] [--seed 7] [--db PATH]

Queries are generated from the registry with realistic damage, one to three kinds per
query: a typo (a letter changed, dropped or doubled), two neighbouring letters swapped,
the postcode dropped, the city dropped, the Swedish street name for the Finnish one,
``katu``/``tie``/``vägen``/``gatan`` abbreviated (``k.``, ``t.``, ``v.``, ``g.``), upper or
lower case. Figures:

- top-1 within 50 m of the true address (target >= 97 %), overall and per kind of damage;
- in-process latency p50 / p99 with a warm index (targets 2 ms / 20 ms);
- a 10,000-row CSV batch, 1 % of its rows bad (target < 10 s);
- the same queries through a peer: rapidfuzz ``extractOne`` (WRatio) over the full
  labels in both languages, side by side, with the ratios.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from _common import percentile, summary, write_results  # noqa: E402

from addressing.geocode import geocode, geocode_csv  # noqa: E402
from twin.store import open_store  # noqa: E402

_ABBR = (("katu", "k."), ("tie", "t."), ("vägen", "v."), ("gatan", "g."))
_LETTERS = "abcdefghijklmnoprstuvyäö"


def _typo(rng: random.Random, s: str) -> str:
    idx = [i for i, ch in enumerate(s) if ch.isalpha()]
    if not idx:
        return s
    i = rng.choice(idx[1:] or idx)
    op = rng.choice(("sub", "del", "dup"))
    if op == "sub":
        return s[:i] + rng.choice(_LETTERS) + s[i + 1 :]
    if op == "del":
        return s[:i] + s[i + 1 :]
    return s[:i] + s[i] + s[i:]


def _swap(rng: random.Random, s: str) -> str:
    idx = [
        i
        for i in range(1, len(s) - 1)
        if s[i].isalpha() and s[i + 1].isalpha() and s[i] != s[i + 1]
    ]
    if not idx:
        return s
    i = rng.choice(idx)
    return s[:i] + s[i + 1] + s[i] + s[i + 2 :]


def _abbreviate(s: str) -> str:
    for word, short in _ABBR:
        if s.endswith(word):
            return s[: -len(word)] + short
    return s


def make_queries(
    rows: list[dict[str, object]], n: int, seed: int
) -> list[tuple[str, int, tuple[str, ...]]]:
    """``(query, row index, damage kinds)`` for ``n`` random doorplates."""
    rng = random.Random(seed)
    kinds = ("typo", "swap", "no_postcode", "no_city", "swedish", "abbreviation", "case")
    out = []
    for _ in range(n):
        i = rng.randrange(len(rows))
        r = rows[i]
        chosen = set(rng.sample(kinds, rng.randint(1, 3)))
        street = str(r["street"])
        if "swedish" in chosen:
            if isinstance(r.get("street_sv"), str):
                street = str(r["street_sv"])
            else:
                chosen.discard("swedish")
        if "abbreviation" in chosen:
            short = _abbreviate(street)
            if short == street:
                chosen.discard("abbreviation")
            street = short
        if "typo" in chosen:
            street = _typo(rng, street)
        if "swap" in chosen:
            street = _swap(rng, street)
        city = str(r["city_sv"] if "swedish" in chosen else r["city"])
        parts = [f"{street} {r['housenumber']}"]
        tail = []
        if "no_postcode" not in chosen and isinstance(r.get("postcode"), str):
            tail.append(str(r["postcode"]))
        if "no_city" not in chosen:
            tail.append(city)
        text = ", ".join(parts + ([" ".join(tail)] if tail else []))
        if "case" in chosen:
            text = text.upper() if rng.random() < 0.5 else text.lower()
        out.append((text, i, tuple(sorted(chosen))))
    return out


def _metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    k = np.cos(np.radians((lat1 + lat2) / 2))
    return float(np.hypot((lon2 - lon1) * k, lat2 - lat1) * 111_195.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--queries", type=int, default=2400)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--db", default=None, help="a built twin (default: build one from data/)")
    ap.add_argument("--batch-rows", type=int, default=10_000)
    args = ap.parse_args()

    tmp = tempfile.TemporaryDirectory()
    db = args.db
    if db is None:
        from twin.build import build_twin

        db = str(Path(tmp.name) / "helsinki.gpkg")
        t = time.perf_counter()
        build_twin(ROOT / "data" / "helsinki.osm.pbf", db)
        print(f"built the twin in {time.perf_counter() - t:.1f} s")
    store = open_store(db, create=False)
    frame = store.read_frame("addresses")
    frame = frame[frame["street"].notna()]
    rows = frame.drop(columns="geometry").to_dict("records")
    lon, lat = frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy()
    queries = make_queries(rows, args.queries, args.seed)

    t = time.perf_counter()
    geocode("Mannerheimintie 1", store=store)
    print(f"index built in {(time.perf_counter() - t) * 1000:.0f} ms")

    ms: list[float] = []
    hits = 0
    by_kind: dict[str, list[int]] = {}
    misses: list[tuple[str, object, str | None]] = []
    for text, i, kinds in queries:
        t = time.perf_counter()
        found = geocode(text, limit=5, store=store)
        ms.append((time.perf_counter() - t) * 1000)
        ok = bool(found) and _metres(found[0].lon, found[0].lat, lon[i], lat[i]) <= 50.0
        hits += ok
        for k in kinds:
            by_kind.setdefault(k, [0, 0])
            by_kind[k][0] += ok
            by_kind[k][1] += 1
        if not ok and len(misses) < 15:
            misses.append((text, rows[i]["label"], found[0].label if found else None))
    rate = hits / len(queries)

    # the peer: rapidfuzz extractOne over every label, Finnish and Swedish
    from rapidfuzz import fuzz, process, utils

    labels = [str(r["label"]) for r in rows] + [str(r["label_sv"]) for r in rows]
    owner = list(range(len(rows))) * 2
    peer_ms: list[float] = []
    peer_hits = 0
    for text, i, _k in queries:
        t = time.perf_counter()
        best = process.extractOne(text, labels, scorer=fuzz.WRatio, processor=utils.default_process)
        peer_ms.append((time.perf_counter() - t) * 1000)
        j = owner[best[2]]
        peer_hits += _metres(lon[j], lat[j], lon[i], lat[i]) <= 50.0
    peer_rate = peer_hits / len(queries)

    # batch: 10,000 rows, 1 % bad
    rng = random.Random(args.seed + 1)
    bad_rows = ["", "   ", "😀😀", "x" * 600, "\x00\x01binary"]
    with tempfile.TemporaryDirectory() as d:
        src, dst = Path(d) / "in.csv", Path(d) / "out.csv"
        with src.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["id", "address"])
            for row_no in range(args.batch_rows):
                text = (
                    rng.choice(bad_rows) if row_no % 100 == 0 else queries[row_no % len(queries)][0]
                )
                w.writerow([row_no, text])
        t = time.perf_counter()
        good, bad = geocode_csv(src, dst, store=store)
        batch_s = time.perf_counter() - t
        with dst.open(encoding="utf-8") as fh:
            out_rows = sum(1 for _ in csv.DictReader(fh))
    store.close()

    lat_ours, lat_peer = summary(ms), summary(peer_ms)
    print(f"\n{len(queries)} damaged queries over {len(rows)} doorplates")
    print(
        f"top-1 within 50 m: {100 * rate:.2f} %   (peer rapidfuzz WRatio: {100 * peer_rate:.2f} %)"
    )
    for k, (h, n) in sorted(by_kind.items()):
        print(f"  {k:<13} {100 * h / n:6.2f} %  of {n}")
    print(
        f"latency p50 {lat_ours['p50_ms']:.3f} ms  p99 {lat_ours['p99_ms']:.3f} ms   "
        f"(peer p50 {lat_peer['p50_ms']:.3f} ms, p99 {lat_peer['p99_ms']:.3f} ms; "
        f"peer/ours p50 {percentile(peer_ms, 50) / percentile(ms, 50):.1f}x)"
    )
    print(
        f"batch {args.batch_rows} rows: {batch_s:.2f} s  ({good} geocoded, {bad} reported, "
        f"{out_rows} rows written)"
    )
    if misses:
        print("some misses (query | truth | top-1):")
        for m in misses:
            print("  ", m)
    write_results(
        "address_geocode",
        {
            "queries": len(queries),
            "doorplates": len(rows),
            "seed": args.seed,
            "top1_within_50m": round(rate, 4),
            "top1_within_50m_by_damage": {k: round(h / n, 4) for k, (h, n) in by_kind.items()},
            "latency": lat_ours,
            "batch": {
                "rows": args.batch_rows,
                "seconds": round(batch_s, 3),
                "geocoded": good,
                "reported": bad,
                "written": out_rows,
            },
            "peer_rapidfuzz_wratio": {"top1_within_50m": round(peer_rate, 4), "latency": lat_peer},
        },
    )
    tmp.cleanup()


if __name__ == "__main__":
    main()
