"""SUMO validation of green-wave plans on Helsinki and Porto.

For each city: >= 20 emergency trips, each driven without preemption, with the plan
applied to the signals, and with the plan re-timed live. Prints the EV travel time
(mean, p10/p50/p90) per run, the reduction of the plan run against no preemption
(target >= 25 %) and the change of the other vehicles' mean delay (target <= +3 %).

    .venv/bin/python bench/routing_sumo.py [--trips 20] [--seed 1] [--lane-flow 40]

The background load is set relative to each network's capacity: ``--lane-flow`` is the
mean flow per lane (vehicles per hour) the background trips put on it, so the larger
Porto box is loaded like Helsinki (``--load`` gives trips per hour per km of road
instead). How the traffic flowed (mean speed, share of time lost, teleports, vehicles
unfinished) is reported per run.

Porto (``../shared/data/osm/porto_portugal.osm.pbf``) is simulated inside a bounding
box around the city centre; it is skipped when the shared data are absent.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import percentile, write_results
from routing.sumo import RUNS, validate

ROOT = Path(__file__).resolve().parents[1]
CITIES: dict[str, dict[str, Any]] = {
    "helsinki": {"osm": ROOT / "data" / "helsinki.osm.pbf", "bbox": None},
    "porto": {
        "osm": ROOT.parent / "shared" / "data" / "osm" / "porto_portugal.osm.pbf",
        "bbox": (-8.635, 41.140, -8.595, 41.165),
    },
}


def _dist(values: list[float]) -> dict[str, float]:
    return {
        "mean": round(statistics.fmean(values), 1),
        "p10": percentile(values, 10),
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
    }


def run_city(
    name: str, *, trips: int, seed: int, load: float | None, lane_flow: float | None
) -> dict[str, Any]:
    cfg = CITIES[name]
    t0 = time.perf_counter()
    result = validate(
        cfg["osm"],
        seed=seed,
        trips=trips,
        bbox=cfg["bbox"],
        per_km_h=60.0 if load is None else load,
        lane_flow_vph=lane_flow,
    )
    wall = time.perf_counter() - t0
    data = result.to_dict()
    runs = data["runs"]
    base = runs["no_preemption"]
    out: dict[str, Any] = {
        "trips": trips,
        "seed": seed,
        "load_per_km_h": load,
        "lane_flow_vph": lane_flow,
        "wall_s": wall,
    }
    for run in RUNS:
        ev = runs[run]["ev_travel_time_s"]
        out[run] = {
            "ev_travel_time_s": _dist(ev),
            "others_mean_delay_s": runs[run]["others_mean_delay_s"],
            "stats": data["setup"]["run_stats"][run],
        }
        if run != "no_preemption":
            m0 = statistics.fmean(base["ev_travel_time_s"])
            m1 = statistics.fmean(ev)
            d0, d1 = base["others_mean_delay_s"], runs[run]["others_mean_delay_s"]
            per_trip = [
                100.0 * (a - b) / a
                for a, b in zip(base["ev_travel_time_s"], ev, strict=True)
                if a > 0
            ]
            out[run]["ev_reduction_pct"] = round(100.0 * (m0 - m1) / m0, 1)
            out[run]["ev_reduction_per_trip_pct"] = _dist(per_trip)
            out[run]["others_delay_change_pct"] = round(100.0 * (d1 - d0) / d0, 2)
            out[run]["trips_slower"] = sum(
                b > a for a, b in zip(base["ev_travel_time_s"], ev, strict=True)
            )
    out["signal_mapping"] = {k: v for k, v in data["signal_mapping"].items() if k != "unmapped"}
    out["unmapped_signals"] = len(data["signal_mapping"]["unmapped"])
    out["setup"] = {k: v for k, v in data["setup"].items() if k != "run_stats"}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trips", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--lane-flow",
        type=float,
        default=40.0,
        help="background load: mean flow per lane, vehicles per hour",
    )
    ap.add_argument(
        "--load",
        type=float,
        default=None,
        help="background load as car trips per hour per km of road (instead of --lane-flow)",
    )
    ap.add_argument("--cities", default="helsinki,porto")
    args = ap.parse_args()
    lane_flow = None if args.load is not None else args.lane_flow
    logging.basicConfig(level=logging.WARNING)
    results: dict[str, Any] = {}
    for name in args.cities.split(","):
        if not CITIES[name]["osm"].is_file():
            print(f"{name}: {CITIES[name]['osm']} is absent, skipped")
            continue
        r = run_city(name, trips=args.trips, seed=args.seed, load=args.load, lane_flow=lane_flow)
        results[name] = r
        bg = r["setup"]["background"]
        print(
            f"\n{name}: {r['trips']} EV trips, {bg['trips']} cars ({bg['trips_per_h']:.0f}/h,"
            f" {bg['mean_trip_km']:.2f} km, {bg['lane_flow_vph']:.1f} veh/h per lane over"
            f" {bg['lane_km']:.0f} lane-km), signals mapped {r['signal_mapping']},"
            f" {r['wall_s']:.0f} s"
        )
        for run in RUNS:
            d = r[run]["ev_travel_time_s"]
            st = r[run]["stats"]
            line = (
                f"  {run:14s} EV mean {d['mean']:6.1f} s  p10 {d['p10']:6.1f}  p50 {d['p50']:6.1f}"
                f"  p90 {d['p90']:6.1f}  others' delay {r[run]['others_mean_delay_s']:.1f} s"
                f" (speed {st['others_mean_speed_ms']:.1f} m/s, lost"
                f" {100 * st['others_time_loss_share']:.0f} %, teleports {st['teleports']},"
                f" unfinished {st['others_unfinished']})"
            )
            if run != "no_preemption":
                line += (
                    f"  EV {r[run]['ev_reduction_pct']:+.1f} % shorter (target >= 25),"
                    f" others {r[run]['others_delay_change_pct']:+.2f} % (target <= +3),"
                    f" {r[run]['trips_slower']} trips slower"
                )
            print(line)
    write_results("routing_sumo", results)


if __name__ == "__main__":
    main()
