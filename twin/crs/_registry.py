"""Naming CRSs: parsing the spellings the API accepts, and the CRSs a city serves.

The twin names a CRS by its OGC URI (``http://www.opengis.net/def/crs/EPSG/0/4326``),
the form OGC API Features Part 2 uses. :func:`resolve_crs` reads that and the other
usual spellings into a :class:`pyproj.CRS`; :func:`crs_uri` writes the URI back.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from functools import lru_cache

import pyproj
from pyproj.exceptions import CRSError

from twin.errors import InvalidInput, UnknownCRS

__all__ = [
    "CRS84",
    "CRSLike",
    "check_served",
    "crs_uri",
    "local_metric_crs",
    "resolve_crs",
    "served_crs",
    "utm_epsg",
]

logger = logging.getLogger(__name__)

CRS84: str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
"""The OGC URI of WGS 84 in (lon, lat) order: the twin's storage and API default."""

type CRSLike = str | int | pyproj.CRS
"""Anything :func:`resolve_crs` accepts."""

_EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/{code}"
_SPELLINGS = (
    f"an OGC URI such as {CRS84!r} or {_EPSG_URI.format(code=4326)!r}, "
    "'EPSG:<code>', 'OGC:CRS84', 'urn:ogc:def:crs:EPSG::<code>' or an EPSG code"
)
# (authority, code) from the spellings; versions in URIs and URNs are accepted and ignored.
_PATTERNS = (
    re.compile(
        r"^https?://www\.opengis\.net/def/crs/(?P<auth>EPSG|OGC)/[^/\s]+/(?P<code>[^/\s]+)$"
    ),
    re.compile(r"^urn:ogc:def:crs:(?P<auth>EPSG|OGC):[^:\s]*:(?P<code>[^:\s]+)$", re.IGNORECASE),
    re.compile(r"^(?P<auth>EPSG|OGC):(?P<code>[^:\s]+)$", re.IGNORECASE),
)
_OGC_CODES = {"CRS84": "CRS84", "CRS84H": "CRS84h"}


def resolve_crs(value: CRSLike, *, name: str = "crs") -> pyproj.CRS:
    """Read a CRS from any spelling the twin accepts.

    Parameters
    ----------
    value
        An OGC URI (``http`` or ``https``; ``OGC/1.3/CRS84``, ``OGC/0/CRS84``,
        ``EPSG/0/<code>``), ``'EPSG:<code>'``, ``'OGC:CRS84'``,
        ``'urn:ogc:def:crs:EPSG::<code>'``, an EPSG code as an ``int``, or a
        :class:`pyproj.CRS`, which is returned as is.
    name
        The parameter name used in error messages (``'bbox-crs'``, say).

    Returns
    -------
    pyproj.CRS
        The CRS, with its authority's axis order.

    Raises
    ------
    UnknownCRS
        When ``value`` is none of those spellings or names a code PROJ does not know;
        the message names ``name`` and shows the value.

    Examples
    --------
    >>> resolve_crs("http://www.opengis.net/def/crs/EPSG/0/4326").to_epsg()
    4326
    >>> resolve_crs("urn:ogc:def:crs:OGC:1.3:CRS84").to_string()
    'OGC:CRS84'
    """
    if isinstance(value, pyproj.CRS):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return _from_authority("EPSG", str(value), value, name)
    if isinstance(value, str):
        text = value.strip()
        for pattern in _PATTERNS:
            m = pattern.match(text)
            if m:
                return _from_authority(m["auth"].upper(), m["code"], value, name)
    msg = f"{name}={value!r} is not a CRS the twin understands; give {_SPELLINGS}"
    raise UnknownCRS(msg)


def _from_authority(auth: str, code: str, value: object, name: str) -> pyproj.CRS:
    if auth == "OGC":
        ogc = _OGC_CODES.get(code.upper())
        if ogc is None:
            msg = f"{name}={value!r} names an unknown OGC CRS; choose one of {sorted(_OGC_CODES.values())}"
            raise UnknownCRS(msg)
        return _cached("OGC", ogc)
    if not code.isdigit():
        msg = f"{name}={value!r} does not end in a numeric EPSG code; give {_SPELLINGS}"
        raise UnknownCRS(msg)
    try:
        return _cached("EPSG", str(int(code)))
    except CRSError:
        msg = f"{name}={value!r}: EPSG:{int(code)} is not a CRS known to PROJ"
        raise UnknownCRS(msg) from None


@lru_cache(maxsize=256)
def _cached(auth: str, code: str) -> pyproj.CRS:
    return pyproj.CRS.from_authority(auth, code)


def crs_uri(crs: CRSLike) -> str:
    """Return the OGC URI of a CRS, the form the API speaks.

    Parameters
    ----------
    crs
        Anything :func:`resolve_crs` accepts.

    Returns
    -------
    str
        ``http://www.opengis.net/def/crs/EPSG/0/<code>``, or :data:`CRS84` (and its
        ``CRS84h`` sibling) for the OGC CRSs.

    Raises
    ------
    UnknownCRS
        When the CRS matches no EPSG or OGC entry, so has no URI.

    Examples
    --------
    >>> crs_uri("EPSG:4326")
    'http://www.opengis.net/def/crs/EPSG/0/4326'
    >>> crs_uri("OGC:CRS84") == CRS84
    True
    """
    resolved = resolve_crs(crs)
    found = resolved.to_authority(min_confidence=90)
    if found is None:
        found = resolved.to_authority("OGC", min_confidence=90)
    if found is not None:
        auth, code = found
        if auth == "EPSG":
            return _EPSG_URI.format(code=code)
        if auth == "OGC" and code in _OGC_CODES.values():
            return f"http://www.opengis.net/def/crs/OGC/1.3/{code}"
    msg = f"crs={resolved.name!r} has no EPSG or OGC identifier, so no OGC URI"
    raise UnknownCRS(msg)


def utm_epsg(lon: float, lat: float) -> int:
    """Return the EPSG code of the WGS 84 UTM zone holding a point.

    Zones are the plain 6-degree bands (no Norway or Svalbard exceptions), matching the
    EPSG areas of use; the northern hemisphere (``lat >= 0``) gives 326xx, the southern
    327xx. Longitude 180 falls in zone 60.

    Parameters
    ----------
    lon, lat
        Degrees, WGS 84.

    Returns
    -------
    int
        ``32601..32660`` or ``32701..32760``.

    Raises
    ------
    InvalidInput
        When ``lon`` is outside [-180, 180] or ``lat`` outside [-90, 90] (or NaN).

    Examples
    --------
    >>> utm_epsg(24.94, 60.17)
    32635
    >>> utm_epsg(151.21, -33.87)
    32756
    """
    if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
        msg = f"lon={lon!r} is not a longitude in [-180, 180]"
        raise InvalidInput(msg)
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        msg = f"lat={lat!r} is not a latitude in [-90, 90]"
        raise InvalidInput(msg)
    zone = min(int(lon // 6.0) + 31, 60)
    return (32600 if lat >= 0.0 else 32700) + zone


def _bbox_centre(bbox: Sequence[float], name: str) -> tuple[float, float]:
    """Centre of a CRS84 bbox ``(minlon, minlat, maxlon, maxlat)``, across the antimeridian too."""
    values = tuple(bbox)
    if len(values) != 4 or not all(isinstance(v, int | float) for v in values):
        msg = f"{name}={bbox!r} is not four numbers (minlon, minlat, maxlon, maxlat)"
        raise InvalidInput(msg)
    minlon, minlat, maxlon, maxlat = (float(v) for v in values)
    ok = all(math.isfinite(v) for v in values)
    ok = ok and -180.0 <= minlon <= 180.0 and -180.0 <= maxlon <= 180.0
    ok = ok and -90.0 <= minlat <= maxlat <= 90.0
    if not ok:
        msg = (
            f"{name}={bbox!r} is not a CRS84 bbox (minlon, minlat, maxlon, maxlat) with "
            "lon in [-180, 180] and lat in [-90, 90], minlat <= maxlat"
        )
        raise InvalidInput(msg)
    if minlon > maxlon:  # crosses the antimeridian
        lon = (minlon + maxlon + 360.0) / 2.0
        lon = lon - 360.0 if lon > 180.0 else lon
    else:
        lon = (minlon + maxlon) / 2.0
    return lon, (minlat + maxlat) / 2.0


def local_metric_crs(bbox: Sequence[float], *, name: str = "bbox") -> pyproj.CRS:
    """Return the city's metric CRS: the WGS 84 UTM zone of the bbox centre.

    Parameters
    ----------
    bbox
        The city's extent in CRS84: ``(minlon, minlat, maxlon, maxlat)``; ``minlon >
        maxlon`` means it crosses the antimeridian.
    name
        The parameter name used in error messages.

    Returns
    -------
    pyproj.CRS
        A projected CRS in metres (easting, northing).

    Examples
    --------
    >>> local_metric_crs((24.90, 60.15, 24.98, 60.19)).to_epsg()
    32635
    """
    return resolve_crs(utm_epsg(*_bbox_centre(bbox, name)))


def served_crs(bbox: Sequence[float], *, name: str = "bbox") -> list[str]:
    """Return the URIs of the CRSs the API serves for a city, the default first.

    Parameters
    ----------
    bbox
        The city's extent in CRS84, as for :func:`local_metric_crs`.
    name
        The parameter name used in error messages.

    Returns
    -------
    list of str
        CRS84, EPSG:4326, EPSG:3857, EPSG:4490 (CGCS2000) and the city's UTM zone,
        without duplicates.

    Examples
    --------
    >>> served_crs((24.90, 60.15, 24.98, 60.19))[-1]
    'http://www.opengis.net/def/crs/EPSG/0/32635'
    """
    codes = (4326, 3857, 4490, utm_epsg(*_bbox_centre(bbox, name)))
    return list(dict.fromkeys([CRS84, *(_EPSG_URI.format(code=c) for c in codes)]))


def check_served(value: CRSLike, bbox: Sequence[float], *, name: str = "crs") -> pyproj.CRS:
    """Resolve a CRS a client asked for and check that the API serves it.

    Parameters
    ----------
    value
        Anything :func:`resolve_crs` accepts.
    bbox
        The city's extent in CRS84, as for :func:`served_crs`.
    name
        The parameter name used in error messages (``'crs'``, ``'bbox-crs'``).

    Returns
    -------
    pyproj.CRS
        The resolved CRS.

    Raises
    ------
    UnknownCRS
        When ``value`` cannot be read or is not served; the message lists the served URIs.
    """
    served = served_crs(bbox)
    try:
        resolved = resolve_crs(value, name=name)
        uri = crs_uri(resolved)
    except UnknownCRS:
        uri = None
    if uri is None or uri not in served:
        msg = f"{name}={value!r} is not served; choose one of {served}"
        raise UnknownCRS(msg)
    return resolved
