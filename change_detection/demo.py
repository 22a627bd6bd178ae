"""The demo in the build: generated epochs of the twin's own city, one detection run.

When the twin has buildings, the build renders two epochs of a square of the city from
them (:func:`~change_detection.synth.render_epochs`, seeded, so every build shows the
same thing), writes the permits the generator granted, and runs detection once, so the
served twin shows change patches and suspected illegal buildings from the start. A
twin that holds the demo already is left alone. ``TWIN_CHANGE_DEMO=0`` turns it off.
"""

from __future__ import annotations

import logging
import math
import tempfile
import time
from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict

from twin.build import BuildContext
from twin.errors import InvalidInput
from twin.store import Store
from twin.store.base import SyncReport

__all__ = [
    "DEMO_PERMIT_PREFIX",
    "DEMO_SEED_MAX",
    "DEMO_SIZE_RANGE",
    "DemoSettings",
    "build_demo",
    "check_demo_options",
    "run_demo",
]

log = logging.getLogger(__name__)

DEMO_PERMIT_PREFIX = "demo-"

#: The side of the demo square, in metres (both ends included). Epochs are rendered at
#: 0.5 m a pixel, so the largest square is 4000 x 4000 pixels an epoch.
DEMO_SIZE_RANGE: tuple[float, float] = (100.0, 2000.0)

#: The largest seed of the demo epochs (the smallest is 0).
DEMO_SEED_MAX = 2**32 - 1


class DemoSettings(BaseSettings):
    """Settings of the demo run (``TWIN_CHANGE_DEMO``, ``TWIN_CHANGE_DEMO_SIZE``, ...)."""

    model_config = SettingsConfigDict(env_prefix="TWIN_", env_file=".env", extra="ignore")

    change_demo: bool = True
    change_demo_size: float = 500.0
    change_demo_seed: int = 0
    change_demo_method: str = "building"


#: Fewest buildings the demo square must hold; a twin with fewer anywhere gets no demo.
DEMO_MIN_BUILDINGS = 10


def _square(frame: Any, size: float) -> tuple[Any, tuple[float, float, float, float]]:
    """The buildings in metres (UTM) and a square of ``size`` where they are.

    The square is centred on the middle of the buildings' extent when it holds at least
    :data:`DEMO_MIN_BUILDINGS` there; otherwise (buildings spread over a region, a city
    with its centre empty) on the densest part: the point of a grid of ``size / 4`` cells
    whose ``size`` square holds the most building centres (coarser cells over a wide region).
    """
    import numpy as np
    import shapely

    utm = frame.to_crs(frame.estimate_utm_crs())
    minx, miny, maxx, maxy = utm.total_bounds
    cx, cy, half = (minx + maxx) / 2.0, (miny + maxy) / 2.0, size / 2.0
    xy = shapely.get_coordinates(utm.geometry.centroid.to_numpy())

    def held(x: float, y: float) -> int:
        inside = (np.abs(xy[:, 0] - x) <= half) & (np.abs(xy[:, 1] - y) <= half)
        return int(inside.sum())

    if held(cx, cy) < DEMO_MIN_BUILDINGS and len(xy):
        from scipy import ndimage as ndi

        # cells of a quarter of the square, coarser over a region too wide for 2,000 x 2,000
        step = max(size / 4.0, (maxx - minx) / 2000.0, (maxy - miny) / 2000.0)
        cells = np.floor((xy - (minx, miny)) / step).astype(np.int64)
        shape = tuple(int(v) + 1 for v in cells.max(axis=0))
        grid = np.zeros(shape, dtype=np.int64)
        np.add.at(grid, (cells[:, 0], cells[:, 1]), 1)
        reach = max(1, round(1.25 * size / step))  # the cells around one that the square spans
        window = ndi.uniform_filter(grid.astype(float), size=reach, mode="constant")
        i, j = np.unravel_index(int(np.argmax(window)), shape)
        cx, cy = minx + (i + 0.5) * step, miny + (j + 0.5) * step
    return utm, (cx - half, cy - half, cx + half, cy + half)


def _has_demo(store: Store, run_id: str) -> bool:
    """Whether a run of this id wrote patches into the twin already."""
    from change_detection._collections import PATCHES
    from twin.store import Query
    from twin.store.filters import Compare, CompareOp

    if PATCHES.name not in {c.name for c in store.collections()}:
        return False
    where = Compare("run_id", CompareOp.EQ, run_id)
    return len(store.query(PATCHES.name, Query(where=where, limit=1))) > 0


def check_demo_options(*, size: Any, seed: Any, method: Any) -> None:
    """Check the options of a demo run before anything is read or written.

    Raises
    ------
    InvalidInput
        A size that is not a number of metres in :data:`DEMO_SIZE_RANGE`, a seed that is
        not an integer from 0 to :data:`DEMO_SEED_MAX`, or a method that is not a detector.
    """
    from change_detection.detectors import get_detector

    low, high = DEMO_SIZE_RANGE
    ok = isinstance(size, int | float) and not isinstance(size, bool)
    if not ok or not math.isfinite(size) or not low <= size <= high:
        msg = f"size={size!r} must be a side in metres from {low:g} to {high:g}"
        raise InvalidInput(msg)
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= DEMO_SEED_MAX:
        msg = f"seed={seed!r} must be an integer from 0 to {DEMO_SEED_MAX}"
        raise InvalidInput(msg)
    if not isinstance(method, str):
        msg = f"method={method!r} must be the name of a detector"
        raise InvalidInput(msg)
    get_detector(method)


def run_demo(
    store: Store,
    *,
    size: float = 500.0,
    seed: int = 0,
    method: str = "building",
    actor: str = "twin change demo",
) -> dict[str, Any]:
    """Render the demo epochs from the store's buildings, write permits, patches and cases.

    Returns what was done: the run's report, the seconds taken and the truth counts of
    the generated changes. Everything is written in one transaction. The options are
    checked first (:func:`check_demo_options`), also when the run exists already.
    """
    import geopandas as gpd
    import pandas as pd
    import shapely

    from change_detection.store_io import (
        ensure_collections,
        permit_features,
        prepare_run,
        write_run,
    )
    from change_detection.synth import render_epochs

    check_demo_options(size=size, seed=seed, method=method)
    start = time.perf_counter()
    run_id = f"demo-seed{seed}"
    if _has_demo(store, run_id):
        return {"skipped": f"the twin holds the demo run {run_id!r} already"}
    frame = store.read_frame("buildings")
    if frame.empty:
        return {"skipped": "the twin has no buildings"}
    height = pd.to_numeric(frame.get("height"), errors="coerce")
    buildings = gpd.GeoDataFrame({"height": height}, geometry=frame.geometry, crs=frame.crs)
    utm, bounds = _square(buildings, size)
    inside = int(utm.intersects(shapely.box(*bounds)).sum())
    if inside < DEMO_MIN_BUILDINGS:
        return {
            "skipped": (
                f"the twin's densest {size:g} m square holds {inside} buildings; the demo "
                f"needs at least {DEMO_MIN_BUILDINGS}"
            )
        }
    with tempfile.TemporaryDirectory(prefix="twin-change-demo-") as tmp:
        scene = render_epochs(utm, tmp, seed=seed, bounds=bounds)
        run = prepare_run(
            store,
            scene.before,
            scene.after,
            date_before=scene.dates[0],
            date_after=scene.dates[1],
            method=method,
            buildings=scene.buildings,
            permits=scene.permits,
            run_id=run_id,
        )
    permits = permit_features(scene.permits, id_prefix=f"{DEMO_PERMIT_PREFIX}{run_id}-")
    ensure_collections(store)
    with store.atomic():
        with store.transaction(actor=actor) as tx:
            for f in permits:
                tx.create("permits", [f], valid_from=pd.Timestamp(f.properties["valid_start"]))
        report = write_run(store, run, actor=actor)
    truth = scene.truth["kind"].value_counts().to_dict()
    seconds = round(time.perf_counter() - start, 2)
    log.info(
        "change demo: %d patches, %d cases, %d permits in %.1f s",
        report.patches,
        len(report.cases_created),
        len(permits),
        seconds,
    )
    return {
        **report.to_dict(),
        "permits": len(permits),
        "truth": {str(k): int(v) for k, v in truth.items()},
        "bounds_utm": [round(v, 1) for v in bounds],
        "seconds": seconds,
    }


def build_demo(ctx: BuildContext) -> None:
    """The package's build step: the demo run, when the twin has buildings."""
    from change_detection.store_io import ensure_collections

    settings = DemoSettings()
    ensure_collections(ctx.store)
    if not settings.change_demo:
        log.info("change demo: skipped, TWIN_CHANGE_DEMO is off")
        return
    if "buildings" not in {c.name for c in ctx.store.collections()}:
        log.info("change demo: skipped, the twin has no buildings")
        return
    done = run_demo(
        ctx.store,
        size=settings.change_demo_size,
        seed=settings.change_demo_seed,
        method=settings.change_demo_method,
    )
    if "skipped" in done:
        log.info("change demo: skipped, %s", done["skipped"])
        return
    # The build reports what each step changed per collection, as sync reports.
    for name, n in (
        ("permits", done["permits"]),
        ("change_patches", done["patches"]),
        ("illegal_building_cases", done["cases_created"]),
    ):
        ctx.report[name] = SyncReport(created=n)
