"""Process examples that work on the twin being served.

A process description carries an example execute request, which the OpenAPI document
and its "try it out" form offer. The examples in the code are written for the embedded
Helsinki twin; a twin of another city answers them with 422 (a point off its roads, an
address it does not hold). A processor may offer inputs of its own twin instead
(:meth:`twin.service.processes.TwinProcessor.local_example`); they are worked out once per
service and process.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from shapely.geometry import Point

from twin.store.base import Query

if TYPE_CHECKING:
    from twin.service._runtime import Runtime
    from twin.store.base import FeatureVersion

__all__ = ["central_feature", "described", "forget", "holds", "lonlats", "offset", "position"]

log = logging.getLogger(__name__)

_CACHE: dict[tuple[str, str], dict[str, Any] | None] = {}
_LOCK = threading.Lock()


def lonlats(value: Any) -> Iterator[tuple[float, float]]:
    """Every [lon, lat] (or [lon, lat, z]) pair of numbers inside an example's inputs."""
    if isinstance(value, dict):
        for v in value.values():
            yield from lonlats(v)
    elif isinstance(value, list | tuple):
        if 2 <= len(value) <= 3 and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value
        ):
            yield float(value[0]), float(value[1])
        else:
            for v in value:
                yield from lonlats(v)


#: How far outside a twin's extent an example's position may lie and still be of its city.
NEAR_M = 2000.0


def holds(
    bbox: tuple[float, float, float, float] | None, example: Any, *, margin_m: float = NEAR_M
) -> bool:
    """Whether every position of ``example`` lies in ``bbox`` or within ``margin_m`` of it
    (True when it has no position)."""
    points = list(lonlats(example))
    if not points:
        return True
    if bbox is None:
        return False
    x0, y0 = offset((bbox[0], bbox[1]), -margin_m, -margin_m)
    x1, y1 = offset((bbox[2], bbox[3]), margin_m, margin_m)
    return all(x0 <= x <= x1 and y0 <= y <= y1 for x, y in points)


def central_feature(
    runtime: Runtime, collection: str, near: tuple[float, float] | None = None
) -> FeatureVersion | None:
    """The current feature of ``collection`` nearest to ``near`` (default: the middle of
    the city); None when the twin has no such collection or it is empty."""
    if collection not in runtime.specs:
        return None
    if near is None:
        x0, y0, x1, y1 = runtime.city_bbox
        near = ((x0 + x1) / 2, (y0 + y1) / 2)
    found = runtime.store.query(collection, Query(nearest=(Point(near), 1))).features
    return found[0] if found and found[0].geometry is not None else None


def position(feature: FeatureVersion) -> tuple[float, float]:
    """A point of ``feature`` (a point on its surface), rounded to 6 decimals (0.1 m)."""
    if feature.geometry is None:
        msg = f"feature {feature.id!r} has no geometry"
        raise ValueError(msg)
    p = feature.geometry.representative_point()
    return round(p.x, 6), round(p.y, 6)


def offset(lonlat: tuple[float, float], east_m: float, north_m: float) -> tuple[float, float]:
    """A position ``east_m`` east and ``north_m`` north of ``lonlat`` (a local flat earth)."""
    lon, lat = lonlat
    per_deg = 111_320.0
    return (
        round(lon + east_m / (per_deg * max(math.cos(math.radians(lat)), 0.01)), 6),
        round(lat + north_m / per_deg, 6),
    )


def described(runtime: Runtime | None, metadata: dict[str, Any], local: Any) -> dict[str, Any]:
    """``metadata`` with its example replaced by ``local(runtime)`` when that gives one.

    ``local`` is called once per service and process; an error in it keeps the static
    example (an example is a convenience, not worth failing a description for).
    """
    if runtime is None or "example" not in metadata:
        return metadata
    key = (runtime.token, str(metadata.get("id")))
    with _LOCK:
        known = key in _CACHE
        inputs = _CACHE.get(key)
    if not known:
        try:
            inputs = local(runtime)
        except Exception:
            log.warning("no local example for process %s", key[1], exc_info=True)
            inputs = None
        with _LOCK:
            _CACHE[key] = inputs
    if inputs is None:
        return metadata
    return {**metadata, "example": {"inputs": inputs}}


def forget(token: str) -> None:
    """Drop the examples worked out for the service of runtime ``token``, which stopped."""
    with _LOCK:
        for key in [k for k in _CACHE if k[0] == token]:
            del _CACHE[key]
