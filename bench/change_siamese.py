"""The learned ``siamese`` change detector, scored by leave-one-out over the shared chips.

The chips are ``../shared/data/change/levir_chips`` (9, 0.5 m) and ``dsifn_chips`` (10). Each
fold trains a new model on every chip but one (optionally with generated Helsinki pairs
too) and scores the chip left out, at the detector's fixed threshold (probability 0.5,
averaged over the eight turns and flips of the pair unless ``--no-tta``); the training
recipe (crops, focus, scale, lr, paste) and network of every fold are recorded with its scores;
the counts are summed over folds (micro average, as ``twin change evaluate``). Every model
is trained from scratch on exactly the pairs listed in its fold; nothing else (no
pretrained weights) goes in. Weights are written to a temporary folder and deleted: no
model trained on shared data is kept.

A model holds ``--members`` networks (three by default) trained from successive seeds;
their probabilities are averaged.

Run: ``.venv/bin/python bench/change_siamese.py [--folds K] [--epochs N] [--members M]
[--helsinki N] [--no-register] ...`` (``make torch`` first; ``--help`` lists the recipe
options). Writes ``bench/results/change_siamese.json``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from change_detection.evaluate import PixelScores, pixel_scores
from change_detection.siamese import (
    DEFAULT_EPOCHS,
    DEFAULT_MEMBERS,
    DEFAULT_PASTE,
    DEFAULT_SCALE,
    LabelledPair,
    folder_pairs,
    predict,
    torch_python,
    train,
)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "change"
FOLDERS = ("levir_chips", "dsifn_chips")


def helsinki_pairs(n: int, half: float = 64.0) -> list[LabelledPair]:
    """``n`` generated Helsinki pairs of (2 half) m square at 0.5 m, seeds 200.., with the
    generator's truth burnt as the label."""
    from change_detection.raster import read_raster
    from change_detection.siamese import prepare_pair
    from change_detection.synth import osm_buildings, render_epochs, truth_mask

    buildings = osm_buildings(ROOT / "data" / "helsinki.osm.pbf")
    utm = buildings.estimate_utm_crs()
    minx, miny, maxx, maxy = buildings.to_crs(utm).total_bounds
    out = []
    with tempfile.TemporaryDirectory(prefix="siamese-helsinki-") as tmp:
        for seed in range(200, 200 + n):
            rng = np.random.default_rng(seed)
            cx, cy = rng.uniform(minx + half, maxx - half), rng.uniform(miny + half, maxy - half)
            scene = render_epochs(
                buildings,
                Path(tmp) / f"s{seed}",
                seed=seed,
                bounds=(cx - half, cy - half, cx + half, cy + half),
            )
            before, after, valid = prepare_pair(read_raster(scene.before), read_raster(scene.after))
            pair = LabelledPair(f"helsinki/seed{seed}", before, after, valid, truth_mask(scene))
            out.append(pair)
    return out


def fold(
    k: int,
    test: list[LabelledPair],
    training: list[LabelledPair],
    tmp: Path,
    args: argparse.Namespace,
) -> dict[str, Any]:
    weights = tmp / f"fold{k}.pt"
    summary = train(
        training,
        weights,
        epochs=args.epochs,
        size=args.size,
        seed=args.seed,
        threads=args.threads,
        crops=args.crops,
        focus=args.focus,
        scale=tuple(args.scale),
        lr=args.lr,
        paste=args.paste,
        members=args.members,
    )
    probs = predict(
        weights,
        [(p.before, p.after, p.valid) for p in test],
        threads=args.threads,
        tta=not args.no_tta,
    )
    weights.unlink()
    scores = {}
    for p, prob in zip(test, probs, strict=True):
        s = pixel_scores((prob > args.threshold) & p.valid, p.label)
        scores[p.name] = s
    print(f"fold {k}: {[(n, s.summary()) for n, s in scores.items()]}", flush=True)
    return {
        "test": [p.name for p in test],
        "trained_on": summary["trained_on"],
        "seconds": summary["seconds"],
        "steps": summary["steps"],
        "loss": summary["loss"],
        "parameters": summary["parameters"],
        "recipe": summary["recipe"],
        "network": summary["network"],
        "scores": scores,
    }


def _without(pairs: list[LabelledPair], held: list[LabelledPair]) -> list[LabelledPair]:
    names = {p.name for p in held}
    return [p for p in pairs if p.name not in names]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=0, help="k of k-fold; 0 = leave-one-out")
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="threads per fold")
    parser.add_argument("--jobs", type=int, default=2, help="folds trained at once")
    parser.add_argument("--helsinki", type=int, default=0, help="generated pairs to add")
    parser.add_argument("--crops", type=float, default=1.0, help="crops per pass, chip areas")
    parser.add_argument("--focus", type=float, default=0.0, help="share of crops on change")
    parser.add_argument("--scale", type=float, nargs=2, default=DEFAULT_SCALE)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument(
        "--paste", type=float, default=DEFAULT_PASTE, help="share of crops pasted into"
    )
    parser.add_argument(
        "--members", type=int, default=DEFAULT_MEMBERS, help="networks per model, averaged"
    )
    parser.add_argument("--threshold", type=float, default=0.5, help="probability of change")
    parser.add_argument("--no-tta", action="store_true", help="no turned/flipped averaging")
    parser.add_argument(
        "--register",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="co-register each pair as detection does (the chips come co-registered)",
    )
    args = parser.parse_args()
    if torch_python() is None:
        raise SystemExit("no PyTorch environment: run 'make torch' or set TWIN_TORCH_PYTHON")
    if not SHARED.is_dir():
        raise SystemExit(f"shared change data not found at {SHARED}")
    chips = [p for name in FOLDERS for p in folder_pairs(SHARED / name, register=args.register)]
    extra = helsinki_pairs(args.helsinki) if args.helsinki else []
    k = args.folds or len(chips)
    groups = [chips[i::k] for i in range(k)]
    start = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="siamese-bench-") as tmp,
        ThreadPoolExecutor(max_workers=args.jobs) as pool,
    ):
        futures = [
            pool.submit(fold, i, test, [*_without(chips, test), *extra], Path(tmp), args)
            for i, test in enumerate(groups)
        ]
        folds = [f.result() for f in futures]
    total, per_set = PixelScores(), {name: PixelScores() for name in FOLDERS}
    per_image = {}
    for f in folds:
        for name, s in f.pop("scores").items():
            total.add(s)
            per_set[f"{name.split('/')[0]}"].add(s)
            per_image[name] = s.summary()
    result = {
        "protocol": (
            "leave-one-out" if args.folds in (0, len(chips)) else f"{k}-fold (chip i in fold i % k)"
        )
        + " over levir_chips + dsifn_chips; each fold trains a new model from scratch on the "
        "other chips"
        + (f" and {len(extra)} generated Helsinki pairs" if extra else "")
        + f"; threshold {args.threshold}"
        + ("" if args.no_tta else ", probabilities averaged over the 8 turns and flips")
        + "; counts summed over folds",
        "settings": vars(args),
        "parameters": folds[0]["parameters"],
        "all": total.to_dict() | {"per_image": per_image},
        **{name: s.summary() for name, s in per_set.items()},
        "minutes": round((time.perf_counter() - start) / 60, 1),
        "folds": folds,
    }
    out = ROOT / "bench" / "results" / "change_siamese.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: result[k] for k in ("protocol", "parameters", *FOLDERS, "minutes")}))
    print("all:", total.summary())


if __name__ == "__main__":
    main()
