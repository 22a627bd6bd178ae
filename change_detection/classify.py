"""Change patches against the building registry and the permits: which are suspected
illegal buildings, and how well that works on generated epochs.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

import numpy as np

from twin.store import is_missing

__all__ = ["PatchClass", "classify_patches", "object_scores"]

log = logging.getLogger(__name__)


class PatchClass(StrEnum):
    """What a change patch is, once compared with the registry."""

    NEW_PERMITTED = "new_permitted"
    NEW_UNPERMITTED = "new_unpermitted"
    DEMOLISHED = "demolished"
    CHANGED_FOOTPRINT = "changed_footprint"
    NOT_A_BUILDING = "not_a_building"


def _overlap_fraction(patches: Any, others: Any) -> np.ndarray:
    """For each patch, the fraction of its area covered by the union of ``others``."""
    import shapely

    out = np.zeros(len(patches))
    if len(others) == 0 or len(patches) == 0:
        return out
    geoms = np.asarray(others.geometry.values, dtype=object)
    tree = shapely.STRtree(geoms)
    for i, geom in enumerate(patches.geometry.values):
        hits = tree.query(geom, predicate="intersects")
        if hits.size and geom.area > 0:
            cover = shapely.union_all(geoms[hits])
            out[i] = shapely.intersection(geom, cover).area / geom.area
    return out


def classify_patches(
    patches: Any,
    buildings: Any,
    permits: Any,
    *,
    at: Any,
    min_confidence: float = 0.3,
    existing_overlap: float = 0.5,
    touch_distance: float = 3.0,
    permit_overlap: float = 0.5,
    min_rectangularity: float = 0.6,
) -> Any:
    """Classify change patches.

    A patch that appeared, is building-like, overlaps no building that stood at the
    earlier date and no permit valid at ``at`` is a **suspected illegal building**
    (``new_unpermitted``).

    Parameters
    ----------
    patches
        From :func:`~change_detection.objects.patches_from_pieces` (``direction``,
        ``confidence``, ``rectangularity``).
    buildings
        Footprints standing at the earlier date.
    permits
        ``permit_no``, ``valid_from``, ``valid_to`` (NaT = open) and the permitted polygon.
    at
        The later epoch's date: a permit counts when the day of ``at`` lies from the day
        of ``valid_from`` through the day of ``valid_to``, both whole days (UTC) whatever
        their time of day: a permit valid until 2023-08-20 covers 2023-08-20T10:30Z.
        A time without a zone is UTC.
    min_confidence
        Appearing patches below this confidence are ``not_a_building``.
    existing_overlap
        Fraction of a patch over an existing building above which it is a change of that
        building (demolished or changed footprint) rather than a new one.
    touch_distance
        A new patch closer than this (metres) to a building that stood at the earlier date is
        an extension (``changed_footprint``). Patch outlines are uncertain by a metre or two
        (misregistration, a sliver of ground between an extension and a rounded footprint),
        hence 3 m.
    permit_overlap
        Fraction of a patch inside valid permits above which it is permitted.
    min_rectangularity
        A new patch that fills less of its minimum rotated rectangle is not building-like
        and becomes ``not_a_building``.

    Returns
    -------
    geopandas.GeoDataFrame
        ``patches`` in the buildings' CRS, with ``class``, ``permit_no`` and
        ``suspected_illegal``.
    """
    import pandas as pd
    import shapely

    frame = patches.to_crs(buildings.crs) if patches.crs != buildings.crs else patches.copy()
    day = _utc(pd.Timestamp(at)).floor("D")
    valid = permits
    if len(permits):
        start = pd.to_datetime(permits["valid_from"], utc=True).dt.floor("D")
        end = pd.to_datetime(permits["valid_to"], utc=True).dt.floor("D")
        ok = (start.isna() | (start <= day)) & (end.isna() | (end >= day))
        valid = permits[ok.to_numpy()]
        if valid.crs != buildings.crs:
            valid = valid.to_crs(buildings.crs)
    over_building = _overlap_fraction(frame, buildings)
    over_permit = _overlap_fraction(frame, valid)
    near = np.zeros(len(frame), dtype=bool)
    if len(buildings):
        tree = shapely.STRtree(np.asarray(buildings.geometry.values, dtype=object))
        hits = tree.query(frame.geometry.values, predicate="dwithin", distance=touch_distance)
        near[np.unique(hits[0])] = True
    classes, permit_nos = [], []
    for i, row in enumerate(frame.itertuples()):
        permit_no = None
        if row.direction == "disappeared" and over_building[i] >= existing_overlap:
            cls = PatchClass.DEMOLISHED
        elif (
            row.direction == "disappeared"
            or row.confidence < min_confidence
            or row.direction == "unknown"
        ):
            cls = PatchClass.NOT_A_BUILDING
        elif over_building[i] >= existing_overlap or near[i]:
            cls = PatchClass.CHANGED_FOOTPRINT
        elif row.rectangularity < min_rectangularity:
            cls = PatchClass.NOT_A_BUILDING
        elif over_permit[i] >= permit_overlap:
            cls = PatchClass.NEW_PERMITTED
            permit_no = _permit_of(row.geometry, valid)
        else:
            cls = PatchClass.NEW_UNPERMITTED
        classes.append(cls.value)
        permit_nos.append(permit_no)
    frame["class"] = classes
    frame["permit_no"] = permit_nos
    frame["suspected_illegal"] = frame["class"] == PatchClass.NEW_UNPERMITTED.value
    return frame


def _utc(when: Any) -> Any:
    """A timestamp in UTC (one without a zone taken as UTC)."""
    return when.tz_localize("UTC") if when.tzinfo is None else when.tz_convert("UTC")


def _permit_of(geom: Any, permits: Any) -> str | None:
    best, share = None, 0.0
    for number, poly in zip(permits["permit_no"], permits.geometry, strict=True):
        inter = geom.intersection(poly).area
        if inter > share:
            best, share = permit_number(number), inter
    return best


def permit_number(value: Any) -> str | None:
    """A permit number as text: ``None`` when missing (NaN in a data frame), and a whole
    number read as a float (a number column with a gap) without its ``.0``.

    Examples
    --------
    >>> permit_number(7.0), permit_number("P-7"), permit_number(float("nan"))
    ('7', 'P-7', None)
    """
    if is_missing(value):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


def object_scores(
    predicted: Any, truth: Any, *, kind: str = "new_unpermitted", min_iou: float = 0.25
) -> dict[str, float]:
    """Object precision and recall of one class against a truth frame.

    A predicted patch of ``kind`` matches a truth object of ``kind`` when their
    intersection over union is at least ``min_iou``; each truth object is matched once.
    """
    pred = predicted[predicted["class"] == kind].geometry.to_list()
    true = truth[truth["kind"] == kind].geometry.to_list()
    used: set[int] = set()
    hits = 0
    for geom in pred:
        best, best_iou = None, 0.0
        for j, t in enumerate(true):
            if j in used:
                continue
            union = geom.union(t).area
            iou = geom.intersection(t).area / union if union else 0.0
            if iou > best_iou:
                best, best_iou = j, iou
        if best is not None and best_iou >= min_iou:
            used.add(best)
            hits += 1
    precision = hits / len(pred) if pred else (1.0 if not true else 0.0)
    recall = hits / len(true) if true else 1.0
    return {
        "predicted": len(pred),
        "truth": len(true),
        "matched": hits,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
    }
