"""Reverse geocoding: a position to the nearest standard address and its building.

The answer is the doorplate whose entrance is nearest, the building it stands in (a
feature of ``buildings``) and that building's own standard address code (a feature of
``sub_addresses`` of level ``building`` under the doorplate), with the URLs of the three
items in the service.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote

import shapely

from addressing._geocode_index import get_index
from addressing.errors import AddressNotFound
from addressing.qr import item_url, service_url
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
    building_code
        The standard address code of that building under the doorplate (a feature of
        ``sub_addresses``), or ``None`` when there is no building or it has no code.
    url
        The doorplate's item in the service (``/collections/addresses/items/{code}``).
    building_url
        The building's footprint (``/collections/buildings/items/{building_id}``), or ``None``.
    building_code_url
        The building's standard address (``/collections/sub_addresses/items/{building_code}``),
        or ``None``.
    """

    code: str
    label: str
    label_sv: str
    lon: float
    lat: float
    distance: float
    building_id: str | None
    building_code: str | None = None
    url: str | None = None
    building_url: str | None = None
    building_code_url: str | None = None

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
    base_url: str | None = None,
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
    base_url
        The service's public URL for the items' URLs; default ``TWIN_PUBLIC_URL``.

    Returns
    -------
    ReverseResult
        The nearest address, its building, the building's code and the distance in
        metres, with their URLs in the service.

    Raises
    ------
    twin.errors.UnknownCRS
        ``crs`` cannot be read.
    twin.errors.GeometryOutOfBounds
        The position is not finite or lies outside the CRS's area of use.
    twin.errors.InvalidInput
        ``radius`` is not a number in (0, 5000], or ``base_url`` is not an http(s) URL.
    AddressNotFound
        No address within ``radius`` (HTTP 404).
    """
    radius = _check_radius(radius)
    base = service_url(base_url)
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
    code = str(index.codes[i])
    building_id = index.building_ids[i]
    building_code = index.building_codes[i] if index.building_codes else None
    return ReverseResult(
        code=code,
        label=index.labels[i],
        label_sv=index.labels_sv[i],
        lon=float(index.lon[i]),
        lat=float(index.lat[i]),
        distance=round(float(dist), 2),
        building_id=building_id,
        building_code=building_code,
        url=item_url(code, base_url=base),
        building_url=(
            f"{base}/collections/buildings/items/{quote(building_id, safe='')}"
            if building_id
            else None
        ),
        building_code_url=item_url(building_code, base_url=base) if building_code else None,
    )
