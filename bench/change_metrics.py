"""Figures of the change detection package.

- pixel precision, recall, F1 and IoU of the change class per detector on
  ``../shared/data/change/levir_chips`` (0.5 m), ``dsifn_chips`` and the 6 OSCD cities
  (Sentinel-2 red, green, blue, near-infrared at 10 m); the LEVIR chips are also reported
  split into ``tuning`` (``train_*`` and ``val_*``, on which the options of
  ``building_new`` were chosen) and ``test`` (``test_*``, not used to choose them);
  ``building_new`` is the building detector with
  :data:`change_detection.building.NEW_NEIGHBOURHOOD`
  (:class:`~change_detection.building.NewNeighbourhoodDetector`);
- object precision and recall of suspected illegal buildings on generated Helsinki
  epochs: seeds 0-9 were used to choose the building detector's and the classifier's
  defaults (0-3 are reported as ``tuning_seeds``); seeds 10-13 (``held_out_seeds``) and
  20-23 (``fresh_seeds``) were not;
- throughput in km²/min at 0.5 m per detector, tiled on a local Dask cluster, and the
  speed-up from 1 to 2 workers.

Run: ``.venv/bin/python bench/change_metrics.py [--skip-throughput] [--skip-objects]
[--skip-pixel] [--pixel-sets levir,dsifn,oscd] [--siamese-weights FILE]``. Writes
``bench/results/change_metrics.json`` (with a part skipped or fewer pixel sets,
``change_metrics_partial.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from change_detection.classify import classify_patches, object_scores
from change_detection.detectors import Detector, detector_names, get_detector
from change_detection.evaluate import PixelScores, evaluate, pixel_scores, read_raster_label
from change_detection.objects import mask_to_patches
from change_detection.pipeline import detect_pair, detect_paths
from change_detection.raster import read_band_files
from change_detection.synth import osm_buildings, render_epochs
from change_detection.tiled import detect_tiled

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "change"
CITIES = ("aguasclaras", "bercy", "bordeaux", "nantes", "paris", "rennes")


#: The LEVIR chips' split by file name prefix.
LEVIR_SPLIT = {"tuning": ("train_", "val_"), "test": ("test_",)}
PIXEL_SETS = ("levir", "dsifn", "oscd")


def _subset(folder: Path, prefixes: tuple[str, ...], dest: Path) -> Path:
    """A folder of links to the pairs of ``folder`` whose names start with ``prefixes``."""
    for sub in ("A", "B", "label"):
        (dest / sub).mkdir(parents=True, exist_ok=True)
        for f in (folder / sub).iterdir():
            if f.name.startswith(prefixes):
                (dest / sub / f.name).symlink_to(f)
    return dest


def levir(detector: Detector) -> dict[str, Any]:
    """Pixel scores on all LEVIR chips, with the tuning and test splits."""
    folder = SHARED / "levir_chips"
    out: dict[str, Any] = evaluate(detector, folder, res=0.5).to_dict()
    out["split"] = {}
    with tempfile.TemporaryDirectory(prefix="levir-split-") as tmp:
        for name, prefixes in LEVIR_SPLIT.items():
            scores = evaluate(detector, _subset(folder, prefixes, Path(tmp) / name), res=0.5)
            out["split"][name] = {"prefixes": list(prefixes), **scores.summary()}
    return out


def pixel(detector: Detector, sets: tuple[str, ...]) -> dict[str, Any]:
    """Pixel scores of one detector on the chosen data sets."""
    out: dict[str, Any] = {}
    if "levir" in sets:
        out["levir_chips"] = levir(detector)
    if "dsifn" in sets:
        out["dsifn_chips"] = evaluate(detector, SHARED / "dsifn_chips", res=2.0).to_dict()
    if "oscd" in sets:
        out["oscd"] = oscd(detector)
    return out


def oscd(method: str | Detector) -> dict[str, Any]:
    total = PixelScores()
    for city in CITIES:
        folder = SHARED / "oscd" / city
        bands = ("B04", "B03", "B02", "B08")
        d1 = read_band_files([next((folder / "imgs_1").glob(f"*_{b}.tif")) for b in bands])
        d2 = read_band_files([next((folder / "imgs_2").glob(f"*_{b}.tif")) for b in bands])
        result = detect_pair(d1, d2, method=method)
        scores = pixel_scores(result.mask, read_raster_label(folder / "cm" / "cm.png"))
        total.add(scores)
        total.per_image[city] = {**scores.summary(), "shift": list(result.shift)}
    return total.to_dict()


def scenes(seeds: list[int], dest: Path, half: float = 250.0) -> list[Any]:
    """Generated Helsinki epochs of (2 half) m square, one per seed, written under ``dest``."""
    buildings = osm_buildings(ROOT / "data" / "helsinki.osm.pbf")
    utm = buildings.estimate_utm_crs()
    minx, miny, maxx, maxy = buildings.to_crs(utm).total_bounds
    out = []
    for seed in seeds:
        rng = np.random.default_rng(100 + seed)
        cx = rng.uniform(minx + half, maxx - half)
        cy = rng.uniform(miny + half, maxy - half)
        bounds = (cx - half, cy - half, cx + half, cy + half)
        out.append(render_epochs(buildings, dest / f"s{seed}", seed=seed, bounds=bounds))
    return out


def objects(method: str, seeds: list[int]) -> dict[str, Any]:
    totals: dict[str, float] = {"predicted": 0, "truth": 0, "matched": 0}
    with tempfile.TemporaryDirectory(prefix="change-bench-") as tmp:
        for scene in scenes(seeds, Path(tmp)):
            result = detect_paths(scene.before, scene.after, method=method)
            classes = classify_patches(
                mask_to_patches(result), scene.buildings, scene.permits, at=scene.dates[1]
            )
            s = object_scores(classes, scene.truth, kind="new_unpermitted")
            for k in totals:
                totals[k] += s[k]
    p = totals["matched"] / totals["predicted"] if totals["predicted"] else 0.0
    r = totals["matched"] / totals["truth"] if totals["truth"] else 0.0
    return {**totals, "precision": round(p, 4), "recall": round(r, 4), "seeds": seeds}


def throughput(method: str, scene: Any, workers: int) -> dict[str, float]:
    import rasterio

    with rasterio.open(scene.before) as ds:
        km2 = ds.width * ds.height * ds.res[0] * ds.res[1] / 1e6
    start = time.perf_counter()
    detect_tiled(
        scene.before, scene.after, method=method, tile=512, n_workers=workers, progress=False
    )
    seconds = time.perf_counter() - start
    return {
        "km2": round(km2, 3),
        "seconds": round(seconds, 2),
        "km2_per_min": round(km2 / seconds * 60.0, 3),
    }


def speeds(methods: list[str]) -> dict[str, Any]:
    """Throughput of each detector on one generated 1 km² scene, with 1 and 2 workers."""
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="change-bench-") as tmp:
        (scene,) = scenes([7], Path(tmp), half=500.0)
        for method in methods:
            one = throughput(method, scene, 1)
            two = throughput(method, scene, 2)
            out[method] = {
                "workers_1": one,
                "workers_2": two,
                "speedup": round(one["seconds"] / two["seconds"], 2),
            }
            print(
                f"{method:9s} {one['km2_per_min']:.3f} km²/min (1 worker), "
                f"{two['km2_per_min']:.3f} (2 workers), speed-up "
                f"{out[method]['speedup']:.2f}x on {one['km2']} km²"
            )
    return out


def _unsupervised() -> list[str]:
    """The detectors that need no training (``siamese`` is measured by change_siamese.py)."""
    return [m for m in detector_names() if m != "siamese"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-objects", action="store_true")
    parser.add_argument("--skip-pixel", action="store_true")
    parser.add_argument(
        "--siamese-weights",
        type=Path,
        help="also time the siamese detector with these weights (any model: its speed does "
        "not depend on what it learned)",
    )
    parser.add_argument(
        "--pixel-sets",
        default=",".join(PIXEL_SETS),
        help=f"comma-separated pixel data sets among {', '.join(PIXEL_SETS)}",
    )
    args = parser.parse_args()
    sets = tuple(x.strip() for x in args.pixel_sets.split(",") if x.strip())
    unknown = sorted(set(sets) - set(PIXEL_SETS))
    if unknown:
        parser.error(f"--pixel-sets: {unknown!r} unknown; choose from {list(PIXEL_SETS)}")
    out: dict[str, Any] = {"pixel": {}, "objects": {}, "throughput": {}}
    detectors: dict[str, Detector] = {
        m: get_detector(m) for m in ([] if args.skip_pixel else _unsupervised())
    }
    for method, detector in detectors.items():
        start = time.perf_counter()
        out["pixel"][method] = pixel(detector, sets)
        print(f"{method} pixel figures in {time.perf_counter() - start:.1f} s")
        for name, s in out["pixel"][method].items():
            print(
                f"  {name:12s} P={s['precision']:.3f} R={s['recall']:.3f} "
                f"F1={s['f1']:.3f} IoU={s['iou']:.3f}"
            )
            for part, t in s.get("split", {}).items():
                print(
                    f"  {name:12s} {part:7s} ({'/'.join(t['prefixes'])}*) "
                    f"P={t['precision']:.3f} R={t['recall']:.3f} F1={t['f1']:.3f}"
                )
    for method in [] if args.skip_objects else _unsupervised():
        out["objects"][method] = {
            "tuning_seeds": objects(method, [0, 1, 2, 3]),
            "held_out_seeds": objects(method, [10, 11, 12, 13]),
            "fresh_seeds": objects(method, [20, 21, 22, 23]),
        }
        for name, s in out["objects"][method].items():
            print(
                f"{method:9s} objects {name:15s} P={s['precision']:.3f} R={s['recall']:.3f} "
                f"({s['matched']}/{s['predicted']} predicted, {s['truth']} true)"
            )
    timed = _unsupervised()
    if args.siamese_weights is not None:
        if not args.siamese_weights.is_file():
            parser.error(f"--siamese-weights: {args.siamese_weights} is not a file")
        # the local cluster's workers are started after this, with this environment
        os.environ["TWIN_SIAMESE_WEIGHTS"] = str(args.siamese_weights.resolve())
        timed.append("siamese")
    if not args.skip_throughput:
        out["throughput"] = speeds(timed)
    partial = args.skip_objects or args.skip_pixel or set(sets) != set(PIXEL_SETS)
    dest = ROOT / "bench" / "results" / f"change_metrics{'_partial' if partial else ''}.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(out, indent=2))
    print(f"wrote {dest}")


if __name__ == "__main__":
    main()
