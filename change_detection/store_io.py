"""Detection runs into the twin: two epochs to change patches and cases, written whole.

:func:`prepare_run` does everything that can fail slowly or on bad input (reading and
aligning the images, detection, classification against the buildings of the earlier
date and the permits valid at the later one, evidence chips, nearest addresses) without
writing; :func:`write_run` then writes the patches and the new cases in one transaction,
so a failed run leaves the twin as it was. A suspected illegal building that overlaps a
case already open is linked to that case instead of raising a second one, so running
again over the same ground does not duplicate cases.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from change_detection import large
from change_detection._collections import CASES, COLLECTIONS, PATCHES, PERMITS
from change_detection.cases import OPEN_STATUSES, CaseStatus
from change_detection.classify import PatchClass, permit_number
from change_detection.evidence import chip_png
from change_detection.permits import check_permit_validity
from twin.errors import InvalidInput, TwinError
from twin.store import Feature, Query, Store
from twin.temporal import Instant, Interval, format_time, now, parse_datetime

__all__ = [
    "PreparedRun",
    "RunReport",
    "ensure_collections",
    "permit_features",
    "prepare_run",
    "read_buildings",
    "read_permits",
    "run_detection",
    "write_run",
]

log = logging.getLogger(__name__)

CRS84 = "OGC:CRS84"
#: Share of the smaller of two outlines that must overlap for a detection to be the same case.
MATCH_OVERLAP = 0.3
#: Metres within which the nearest standard address is looked for.
ADDRESS_RADIUS = 150.0


def ensure_collections(store: Store) -> None:
    """Create (or extend) the package's collections in ``store``."""
    for spec in COLLECTIONS:
        store.ensure_collection(spec)


def _has(store: Store, name: str) -> bool:
    return name in {c.name for c in store.collections()}


# -- permits and buildings ---------------------------------------------------------------
def permit_features(frame: Any, *, id_prefix: str = "") -> list[Feature]:
    """Permits (``permit_no``, ``valid_from``/``valid_to`` or ``valid_start``/``valid_end``,
    polygon, any CRS) as features of the ``permits`` collection, id = prefix + number.

    Raises
    ------
    InvalidInput
        A row without a permit number, or whose last valid day is before its first.
    """
    import pandas as pd

    gdf = frame.to_crs(CRS84)
    start_col = "valid_start" if "valid_start" in gdf else "valid_from"
    end_col = "valid_end" if "valid_end" in gdf else "valid_to"
    out = []
    for i, row in enumerate(gdf.itertuples()):
        number = permit_number(row.permit_no)
        if number is None:
            msg = f"permit {i} (row {i + 1}) has no permit_no; every permit needs its number"
            raise InvalidInput(msg)
        props: dict[str, Any] = {"permit_no": number}
        for key, col in (("valid_start", start_col), ("valid_end", end_col)):
            value = getattr(row, col, None)
            if value is not None and not pd.isna(value):
                when = pd.Timestamp(value)
                # a time with a zone is converted to UTC (dropping the zone kept the clock
                # time: 10:00+03:00 became 10:00Z); one without is taken as UTC
                if when.tzinfo is not None:
                    when = when.tz_convert("UTC").tz_localize(None)
                props[key] = when.isoformat() + "Z"
        what = f"permit {number!r} (row {i + 1})"
        check_permit_validity(props.get("valid_start"), props.get("valid_end"), what=what)
        for key in ("kind", "description"):
            value = getattr(row, key, None)
            if isinstance(value, str) and value:
                props[key] = value
        out.append(Feature(f"{id_prefix}{number}", row.geometry, props))
    return out


def read_permits(store: Store, area: Any) -> Any:
    """The current permits intersecting ``area`` (CRS84), with ``valid_from``/``valid_to``
    as UTC timestamps (the columns :func:`~change_detection.classify.classify_patches` reads)."""
    import geopandas as gpd
    import pandas as pd

    if not _has(store, PERMITS.name):
        return gpd.GeoDataFrame(
            {"permit_no": [], "valid_from": [], "valid_to": []}, geometry=[], crs=CRS84
        )
    frame = store.read_frame(PERMITS.name, Query(intersects=area))
    out = gpd.GeoDataFrame(
        {
            "permit_no": frame.get("permit_no", pd.Series(dtype=object)),
            "valid_from": pd.to_datetime(frame.get("valid_start"), utc=True),
            "valid_to": pd.to_datetime(frame.get("valid_end"), utc=True),
        },
        geometry=frame.geometry,
        crs=CRS84,
    )
    return out


def _utc_permits(frame: Any) -> Any:
    """Permits with ``valid_from``/``valid_to`` as UTC timestamps, whatever they came as."""
    import pandas as pd

    out = frame.copy()
    for dst, names in (
        ("valid_from", ("valid_from", "valid_start")),
        ("valid_to", ("valid_to", "valid_end")),
    ):
        col = next((n for n in names if n in out), None)
        values = out[col] if col is not None else pd.Series(pd.NaT, index=out.index)
        out[dst] = pd.to_datetime(values, utc=True)
    return out


def read_buildings(store: Store, area: Any, at: datetime) -> tuple[Any, str | None]:
    """Buildings standing at ``at`` that intersect ``area`` (CRS84), and a note when the
    registry could not say (no buildings layer, or a history that starts after ``at``,
    in which case its earliest state stands in)."""
    import geopandas as gpd

    if not _has(store, "buildings"):
        empty = gpd.GeoDataFrame(geometry=[], crs=CRS84)
        return empty, "the twin has no buildings layer; every new building counts as new"
    when, note = at, None
    start = store.extent("buildings").valid_from
    if start is not None and at < start:
        when = start
        note = (
            f"the buildings layer starts at {format_time(start)}, after date_before "
            f"{format_time(at)}; its earliest state stands for the earlier date"
        )
    return store.read_frame("buildings", Query(time=Instant(when), intersects=area)), note


# -- the run -----------------------------------------------------------------------------
@dataclass
class PreparedRun:
    """A detection run computed and ready to be written.

    ``patches`` and ``cases`` are features of ``change_patches`` and
    ``illegal_building_cases``; ``matched`` maps a patch id to the open case it matched.
    """

    run_id: str
    method: str
    date_before: datetime
    date_after: datetime
    patches: list[Feature]
    cases: list[Feature]
    matched: dict[str, str] = field(default_factory=dict)
    shift: tuple[float, float] = (0.0, 0.0)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RunReport:
    """What a run wrote."""

    run_id: str
    method: str
    patches: int
    classes: dict[str, int]
    cases_created: list[str]
    cases_matched: dict[str, str]
    shift: tuple[float, float]
    notes: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "method": self.method,
            "patches": self.patches,
            "classes": dict(self.classes),
            "cases_created": len(self.cases_created),
            "case_ids": list(self.cases_created),
            "cases_matched": len(self.cases_matched),
            "matched": dict(self.cases_matched),
            "shift": list(self.shift),
            "notes": list(self.notes),
        }


def new_run_id() -> str:
    """A run id: the UTC time and a random suffix."""
    return f"run-{now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


def _dates(date_before: Any, date_after: Any) -> tuple[datetime, datetime]:
    d0 = parse_datetime(date_before, name="date_before")
    d1 = parse_datetime(date_after, name="date_after")
    if d1 <= d0:
        msg = f"date_after={format_time(d1)!r} must be later than date_before={format_time(d0)!r}"
        raise InvalidInput(msg)
    return d0, d1


def _footprint(raster: Any) -> Any:
    """The image's ground in CRS84."""
    return _box_footprint(raster.bounds, raster.crs)


def _box_footprint(bounds: tuple[float, float, float, float], crs: Any) -> Any:
    """The ground of a box in ``crs``, in CRS84."""
    import geopandas as gpd
    import shapely

    return gpd.GeoSeries([shapely.box(*bounds)], crs=crs).to_crs(CRS84).iloc[0]


def _next_case_numbers(store: Store, year: int, n: int) -> list[str]:
    """``n`` unused case numbers ``IB-<year>-<seq>``, after every number ever issued."""
    prefix = f"IB-{year}-"
    used = 0
    if _has(store, CASES.name):
        everything = store.query(
            CASES.name, Query(time=Interval(None, None), skip_geometry=True, properties=())
        )
        for fv in everything:
            if fv.id.startswith(prefix) and fv.id[len(prefix) :].isdigit():
                used = max(used, int(fv.id[len(prefix) :]))
    return [f"{prefix}{used + i + 1:04d}" for i in range(n)]


def _open_case_over(store: Store, geom: Any) -> str | None:
    """The open case whose outline overlaps ``geom`` (CRS84) the most, if enough."""
    if not _has(store, CASES.name):
        return None
    best, share = None, 0.0
    for fv in store.query(CASES.name, Query(intersects=geom)):
        if fv.geometry is None or fv.properties.get("status") not in OPEN_STATUSES:
            continue
        smaller = min(fv.geometry.area, geom.area)
        overlap = fv.geometry.intersection(geom).area / smaller if smaller > 0 else 0.0
        if overlap > share:
            best, share = fv.id, overlap
    return best if share >= MATCH_OVERLAP else None


def _nearest_address(store: Store, geom: Any) -> dict[str, Any]:
    """Code, label and distance of the standard address nearest to ``geom`` (CRS84)."""
    if not _has(store, "addresses"):
        return {}
    from addressing import reverse

    p = geom.representative_point()
    try:
        found = reverse(p.x, p.y, radius=ADDRESS_RADIUS, store=store)
    except TwinError as exc:
        if exc.status != 404:  # no address within the radius: the case has none
            raise
        return {}
    return {
        "address_code": found.code,
        "address_label": found.label,
        "address_distance_m": found.distance,
    }


def prepare_run(
    store: Store,
    before: str | os.PathLike[str],
    after: str | os.PathLike[str],
    *,
    date_before: Any,
    date_after: Any,
    method: str = "building",
    buildings: Any = None,
    permits: Any = None,
    run_id: str | None = None,
    evidence: bool = True,
) -> PreparedRun:
    """Detect, classify and assemble a run's features; write nothing.

    Parameters
    ----------
    store
        The twin: it gives the buildings standing at ``date_before`` and the permits
        (unless given), the open cases to match and the nearest addresses.
    before, after
        Georeferenced image files of the two epochs.
    date_before, date_after
        Dates of the epochs (RFC 3339 or ``YYYY-MM-DD``); ``date_after`` is later.
    method
        The detector's name.
    buildings, permits
        GeoDataFrames (any CRS) that replace the twin's own; ``permits`` has
        ``permit_no`` and ``valid_from``/``valid_to`` (or ``valid_start``/``valid_end``).
    run_id
        The run's id (a new one by default).
    evidence
        Attach before/after image chips to the cases.

    Raises
    ------
    twin.errors.TwinError
        Bad dates, an unknown detector, unreadable, empty, non-overlapping or
        non-georeferenced images (each with a message naming the problem).
    """
    import geopandas as gpd
    import pandas as pd

    from change_detection.classify import classify_patches
    from change_detection.detectors import get_detector
    from change_detection.objects import mask_to_patches
    from change_detection.pipeline import detect_pair
    from change_detection.raster import read_raster

    d0, d1 = _dates(date_before, date_after)
    detector = get_detector(method)
    heads = {name: large.header(path) for name, path in (("before", before), ("after", after))}
    for name, path in (("before", before), ("after", after)):
        if not heads[name].georeferenced:
            msg = (
                f"{name} image {str(path)!r} carries no georeferencing (CRS and geotransform); "
                "cases need a place on the map"
            )
            raise InvalidInput(msg)
        if heads[name].crs is None:
            msg = (
                f"{name} image {str(path)!r} has a grid (from its world file) but no CRS, which "
                "a world file cannot give; cases need a place on the map: give it as a "
                "GeoTIFF with its CRS (e.g. gdal_translate -a_srs EPSG:XXXX)"
            )
            raise InvalidInput(msg)
    images: dict[str, Any] = {}
    tiled = heads["before"].pixels > large.AUTO_TILED_PIXELS
    if tiled:
        from change_detection.tiled import detect_tiled

        where = large.scheduler_setting()
        patches = detect_tiled(
            before,
            after,
            method=method,
            tile=large.AUTO_TILE,
            scheduler=None if where == "local" else where,
            progress=False,
        )
        crs, shift = heads["before"].crs, tuple(patches.attrs.get("shift", (0.0, 0.0)))
        area = _box_footprint(heads["before"].bounds, crs)
    else:
        for name, path in (("before", before), ("after", after)):
            images[name] = read_raster(path)
        result = detect_pair(images["before"], images["after"], method=detector)
        crs, shift = result.crs, result.shift
        area = _footprint(images["before"])
        patches = mask_to_patches(result)
    notes: list[str] = []
    if buildings is None:
        buildings, note = read_buildings(store, area, d0)
        if note:
            notes.append(note)
    permit_frame = read_permits(store, area) if permits is None else _utc_permits(permits)
    earlier = gpd.GeoDataFrame(geometry=list(buildings.geometry), crs=buildings.crs).to_crs(crs)
    classified = classify_patches(patches, earlier, permit_frame, at=pd.Timestamp(d1))
    rid = run_id or new_run_id()
    in84 = classified.to_crs(CRS84)
    suspected = [
        i for i, cls in enumerate(classified["class"]) if cls == PatchClass.NEW_UNPERMITTED.value
    ]
    matched: dict[str, str] = {}
    fresh: list[int] = []
    for i in suspected:
        pid = f"{rid}-{classified['patch_id'].iloc[i]}"
        open_case = _open_case_over(store, in84.geometry.iloc[i])
        if open_case is None:
            fresh.append(i)
        else:
            matched[pid] = open_case
    numbers = _next_case_numbers(store, d1.year, len(fresh))
    case_of = {i: numbers[k] for k, i in enumerate(fresh)}
    chips: dict[int, tuple[str, str]] = {}
    if evidence and fresh and tiled:
        drawn = large.chip_pngs(before, after, [classified.geometry.iloc[i] for i in fresh])
        chips = dict(zip(fresh, drawn, strict=True))
    elif evidence and fresh:
        from change_detection.align import warp_onto

        after_on_grid = warp_onto(images["after"], images["before"])
        chips = {
            i: (
                chip_png(images["before"], classified.geometry.iloc[i]),
                chip_png(after_on_grid, classified.geometry.iloc[i]),
            )
            for i in fresh
        }
    common = {
        "run_id": rid,
        "method": method,
        "date_before": format_time(d0),
        "date_after": format_time(d1),
    }
    patch_features: list[Feature] = []
    case_features: list[Feature] = []
    detected = format_time(now())
    for i in range(len(classified)):
        row = classified.iloc[i]
        pid = f"{rid}-{row['patch_id']}"
        case_id = case_of.get(i) or matched.get(pid)
        geom84 = in84.geometry.iloc[i]
        props: dict[str, Any] = {
            **common,
            "class": row["class"],
            "confidence": float(row["confidence"]),
            "area_m2": float(row["area_m2"]),
            "direction": row["direction"],
            "permit_no": row["permit_no"],
            "case_id": case_id,
        }
        patch_features.append(Feature(pid, geom84, props))
        if i not in case_of:
            continue
        case: dict[str, Any] = {
            **common,
            "case_id": case_of[i],
            "status": CaseStatus.NEW.value,
            "area_m2": float(row["area_m2"]),
            "confidence": float(row["confidence"]),
            "patch_id": pid,
            "detected_at": detected,
            "updated_by": f"detection {rid}",
            **_nearest_address(store, geom84),
        }
        if i in chips:
            case["before_png"], case["after_png"] = chips[i]
        case_features.append(Feature(case_of[i], geom84, case))
    return PreparedRun(rid, method, d0, d1, patch_features, case_features, matched, shift, notes)


def write_run(store: Store, run: PreparedRun, *, actor: str = "twin change") -> RunReport:
    """Write a prepared run's patches and new cases in one transaction (all or nothing)."""
    ensure_collections(store)
    with store.transaction(actor=actor) as tx:
        if run.patches:
            tx.create(PATCHES.name, run.patches)
        if run.cases:
            tx.create(CASES.name, run.cases)
    classes = Counter(str(f.properties["class"]) for f in run.patches)
    report = RunReport(
        run.run_id,
        run.method,
        len(run.patches),
        {c.value: classes.get(c.value, 0) for c in PatchClass},
        [f.id for f in run.cases],
        dict(run.matched),
        run.shift,
        list(run.notes),
    )
    log.info(
        "run %s: %d patches, %d new cases, %d matched",
        run.run_id,
        len(run.patches),
        len(run.cases),
        len(run.matched),
    )
    return report


def run_detection(
    store: Store,
    before: str | os.PathLike[str],
    after: str | os.PathLike[str],
    *,
    actor: str = "twin change",
    **options: Any,
) -> RunReport:
    """:func:`prepare_run` then :func:`write_run`: one detection run into the twin."""
    return write_run(store, prepare_run(store, before, after, **options), actor=actor)
