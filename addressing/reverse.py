"""Reverse geocoding: a position to the nearest standard address and its building."""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from typing import Any

import shapely

from addressing._geocode_index import get_index
from addressing.errors import AddressNotFound
from twin.crs import CRS84, check_bounds, resolve_crs, transform_coords
from twin.errors import InvalidInput
from twin.store import Store

__all__ = ["MAX_RADIUS", "ReverseResult", "reverse"]

log = logging.getLogger(__name__)

MAX_RADIUS = 5000.0
"""The largest search radius, in metres."""


@dataclass(frozen=True, slots=True)
class ReverseResult:
    """The standard address nearest to a position.

    Attributes
    ----------
    code, label, label_sv
        The address.
    lon, lat
        Its entrance, CRS84.
    distance
        Metres from the position to the entrance.
    building_id
        The building the address stands in (a feature of ``buildings``), or ``None``.
    """

    code: str
    label: str
    label_sv: str
    lon: float
    lat: float
    distance: float
    building_id: str | None

    def to_dict(self) -> dict[str, Any]:
        """The result as a plain ``dict`` (for JSON)."""
        return asdict(self)


def _check_radius(radius: float) -> float:
    if isinstance(radius, bool) or not isinstance(radius, int | float):
        msg = f"radius={radius!r} must be a number of metres, greater than 0 and at most {MAX_RADIUS:g}"
        raise InvalidInput(msg)
    if not (math.isfinite(radius) and 0 < radius <= MAX_RADIUS):
        msg = f"radius={radius!r} must be greater than 0 and at most {MAX_RADIUS:g} metres"
        raise InvalidInput(msg)
    return float(radius)


def reverse(
    x: float,
    y: float,
    *,
    crs: Any = CRS84,
    radius: float = 50.0,
    store: Store | str | None = None,
) -> ReverseResult:
    """Find the standard address nearest to a position, within a radius.

    Parameters
    ----------
    x, y
        The position in ``crs``'s axis order: (lon, lat) in CRS84, (lat, lon) in
        EPSG:4326, (easting, northing) in a projected CRS.
    crs
        Any CRS :func:`twin.crs.resolve_crs` reads (default CRS84).
    radius
        Metres; only addresses this close count (at most 5000).
    store
        A store, a database URL, or ``None`` for ``TWIN_DB``.

    Returns
    -------
    ReverseResult
        The nearest address, its building and the distance in metres.

    Raises
    ------
    twin.errors.UnknownCRS
        ``crs`` cannot be read.
    twin.errors.GeometryOutOfBounds
        The position is not finite or lies outside the CRS's area of use.
    twin.errors.InvalidInput
        ``radius`` is not a number in (0, 5000].
    AddressNotFound
        No address within ``radius`` (HTTP 404).
    """
    radius = _check_radius(radius)
    for name, v in (("x", x), ("y", y)):
        if isinstance(v, bool) or not isinstance(v, int | float):
            msg = f"{name}={v!r} must be a number"
            raise InvalidInput(msg)
    src = resolve_crs(crs)
    check_bounds(shapely.Point(float(x), float(y)), src, name="position")
    index = get_index(store)
    metric, tree = index.metric()
    mx, my = transform_coords([x], [y], src, metric)
    if len(index) == 0:
        msg = f"nothing within {radius:g} m of ({x!r}, {y!r}): the registry holds no addresses"
        raise AddressNotFound(msg)
    dist, i = tree.query([float(mx[0]), float(my[0])], k=1)
    if not dist <= radius:
        msg = (
            f"nothing within {radius:g} m of ({x!r}, {y!r}) in {crs!s}; "
            f"the nearest standard address is {dist:.1f} m away"
        )
        raise AddressNotFound(msg)
    i = int(i)
    return ReverseResult(
        code=str(index.codes[i]),
        label=index.labels[i],
        label_sv=index.labels_sv[i],
        lon=float(index.lon[i]),
        lat=float(index.lat[i]),
        distance=round(float(dist), 2),
        building_id=index.building_ids[i],
    )
