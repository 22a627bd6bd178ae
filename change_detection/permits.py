"""The rules a building permit keeps, whoever writes it: a number, an area and a time
interval that can hold.

A permit is valid from the whole UTC day of ``valid_start`` through the whole UTC day of
``valid_end`` (see :func:`~change_detection.classify.classify_patches`); either may be
empty (open). A permit whose last day comes before its first is never valid, so it is
refused rather than stored: through the service (:func:`check_permit_write`, a write
check of the ``permits`` collection: POST, PUT and PATCH) and from a frame of permits
(:func:`~change_detection.store_io.permit_features`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from change_detection.classify import permit_number
from twin.errors import InvalidInput
from twin.store import Feature, is_missing
from twin.temporal import parse_datetime

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

    from twin.store.base import FeatureVersion

__all__ = ["check_permit", "check_permit_validity", "check_permit_write"]


def check_permit_validity(start: Any, end: Any, *, what: str) -> None:
    """Check that a permit's last valid day (``end``) is not before its first (``start``);
    either may be missing (open). Both are compared as UTC days.

    Raises
    ------
    InvalidInput
        ``end``'s day comes before ``start``'s; the message names ``what`` and both days.
    """
    if is_missing(start) or is_missing(end):
        return
    first = parse_datetime(start, name="valid_start").date()
    last = parse_datetime(end, name="valid_end").date()
    if last < first:
        msg = (
            f"{what} has valid_end {last.isoformat()} before valid_start {first.isoformat()}: "
            "a permit is valid from its first day through its last, so it could never be "
            "valid; give the days in that order"
        )
        raise InvalidInput(msg)


def check_permit(
    fid: str, geometry: BaseGeometry | None, props: Mapping[str, Any]
) -> dict[str, Any]:
    """Check a permit to write and return its properties, the number stripped.

    Raises
    ------
    InvalidInput
        No (or a blank) ``permit_no``, no permitted area (no geometry, or an empty one),
        or a ``valid_end`` before ``valid_start``.
    """
    what = f"permit {fid!r}"
    out = dict(props)
    number = permit_number(out.get("permit_no"))
    if number is None:
        msg = (
            f"{what} has no permit_no; every permit needs its number (a building it "
            "permits is classified under it)"
        )
        raise InvalidInput(msg)
    out["permit_no"] = number
    if geometry is None or geometry.is_empty:
        msg = f"{what} has no area; a permit needs the polygon it permits building on"
        raise InvalidInput(msg)
    check_permit_validity(out.get("valid_start"), out.get("valid_end"), what=what)
    return out


def check_permit_write(
    old: FeatureVersion | None, new: Feature | None, actor: str
) -> Feature | None:
    """The write check of the ``permits`` collection (see :data:`twin.plugins.WriteCheck`):
    a POST, PUT or PATCH must leave a sound permit (:func:`check_permit`); retiring a
    permit (DELETE) is allowed, its versions stay in the history."""
    if new is None:
        return None
    return Feature(new.id, new.geometry, check_permit(new.id, new.geometry, new.properties))
