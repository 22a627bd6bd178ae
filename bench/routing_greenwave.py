"""Green-wave plan computation on the Porto graph, the route included.

    .venv/bin/python bench/routing_greenwave.py [--osm FILE] [--plans 1000]

Times ``plan_green_wave`` (route + every signal window) for random reachable pairs,
``retime`` from a mid-route position, and ``PlanBoard.submit`` with 20 active plans.
Target: plan p50 <= 10 ms. Writes ``bench/results/routing_greenwave.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import summary, write_results
from routing.graph import RoadGraph
from routing.greenwave import PlanBoard, plan_green_wave, plans_conflict_free, retime

ROOT = Path(__file__).resolve().parents[1]
PORTO = ROOT.parent / "shared" / "data" / "osm" / "porto_portugal.osm.pbf"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--osm", type=Path, default=PORTO)
    ap.add_argument("--plans", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=2)
    args = ap.parse_args()
    if not args.osm.is_file():
        print(f"no extract at {args.osm}; pass --osm")
        return
    g = RoadGraph.from_osm(args.osm, profile="emergency")
    print(repr(g))
    rng = np.random.default_rng(args.seed)
    ids = g.net.osm_ids
    t0 = datetime(2024, 5, 1, 8, tzinfo=UTC)
    pairs: list[tuple[int, int]] = []
    while len(pairs) < args.plans:
        a, b = (int(x) for x in ids[rng.integers(0, len(ids), 2)])
        if a != b and g.travel_time_ms(a, b) is not None:
            pairs.append((a, b))
    plan_ms, retime_ms, n_signals, saved = [], [], [], []
    plans = []
    for a, b in pairs:
        t = time.perf_counter()
        plan = plan_green_wave(g, a, b, depart=t0)
        plan_ms.append((time.perf_counter() - t) * 1000)
        n_signals.append(len(plan.signals))
        saved.append(plan.time_saved_s)
        plans.append(plan)
        mid = plan.route.geometry.interpolate(0.5, normalized=True)
        t = time.perf_counter()
        retime(g, plan, (mid.x, mid.y), at=t0 + timedelta(seconds=plan.eta_preemption_s / 2))
        retime_ms.append((time.perf_counter() - t) * 1000)
    board = PlanBoard()
    submit_ms = []
    for plan in plans[:20]:
        t = time.perf_counter()
        board.submit(plan)
        submit_ms.append((time.perf_counter() - t) * 1000)
    ok = plans_conflict_free(board.plans)
    print("plan (route included)", summary(plan_ms))
    print("retime               ", summary(retime_ms))
    print(
        "board submit (<=20)  ", summary(submit_ms), "conflicts:", len(board.conflicts), "free:", ok
    )
    print(
        f"signals per route: mean {np.mean(n_signals):.1f}, max {max(n_signals)}; "
        f"time saved mean {np.mean(saved):.1f} s"
    )
    write_results(
        "routing_greenwave",
        {
            "osm": args.osm.name,
            "plans": len(pairs),
            "plan_ms": summary(plan_ms),
            "retime_ms": summary(retime_ms),
            "board_submit_ms": summary(submit_ms),
            "board_conflicts": len(board.conflicts),
            "board_conflict_free": ok,
            "signals_per_route": {"mean": float(np.mean(n_signals)), "max": int(max(n_signals))},
            "time_saved_s": {"mean": float(np.mean(saved)), "p90": float(np.percentile(saved, 90))},
            "target": {"plan_p50_ms": 10.0},
        },
    )


if __name__ == "__main__":
    main()
