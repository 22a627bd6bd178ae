"""GCJ-02 and BD-09: the obfuscated coordinates of Chinese map sources.

GCJ-02 ("Mars coordinates") is WGS 84 shifted by a published but irregular offset of a
few hundred metres; BD-09 is GCJ-02 shifted again by Baidu. Neither is a CRS that PROJ
knows, so the twin converts them here. Forward conversions are closed formulas; the
inverses iterate the forward formula to convergence (well under a millimetre), instead
of the usual one-step approximation that leaves errors of metres.

Points outside a rough box around China are returned unchanged by every conversion, as
the providers do not shift them; the test is made on the input coordinates.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any, overload

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from twin.errors import InvalidInput

__all__ = [
    "ChinaDatum",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "in_china",
    "transform_geometry_china",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

logger = logging.getLogger(__name__)

_Floats = NDArray[np.float64]
type _Vector = NDArray[np.floating[Any]] | NDArray[np.integer[Any]] | Sequence[float]

# Krasovsky 1940, the ellipsoid of the GCJ-02 offset.
_A = 6378245.0
_EE = 0.00669342162296594323
_BD_PI = np.pi * 3000.0 / 180.0
_BD_DLON, _BD_DLAT = 0.0065, 0.006
# The box outside which no provider shifts: (minlon, minlat, maxlon, maxlat).
_CHINA_BOX = (72.004, 0.8293, 137.8347, 55.8271)
_TOL_DEG = 1e-11  # about a micrometre
_MAX_ITER = 30


class ChinaDatum(StrEnum):
    """The coordinate systems :func:`transform_geometry_china` converts between."""

    WGS84 = "wgs84"
    GCJ02 = "gcj02"
    BD09 = "bd09"


def in_china(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """Return where points fall in the rough box inside which GCJ-02 shifts coordinates.

    Examples
    --------
    >>> in_china([116.39, 24.94], [39.91, 60.17]).tolist()
    [True, False]
    """
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    w, s, e, n = _CHINA_BOX
    return np.asarray((x >= w) & (x <= e) & (y >= s) & (y <= n))


def _gcj_offset(lon: _Floats, lat: _Floats) -> tuple[_Floats, _Floats]:
    """The GCJ-02 shift (dlon, dlat) in degrees at WGS 84 points, applied everywhere."""
    x = lon - 105.0
    y = lat - 35.0
    sx = np.sqrt(np.abs(x))
    waves = 20.0 * np.sin(6.0 * np.pi * x) + 20.0 * np.sin(2.0 * np.pi * x)
    north = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sx
    north += waves * 2.0 / 3.0
    north += (20.0 * np.sin(np.pi * y) + 40.0 * np.sin(np.pi * y / 3.0)) * 2.0 / 3.0
    north += (160.0 * np.sin(np.pi * y / 12.0) + 320.0 * np.sin(np.pi * y / 30.0)) * 2.0 / 3.0
    east = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sx
    east += waves * 2.0 / 3.0
    east += (20.0 * np.sin(np.pi * x) + 40.0 * np.sin(np.pi * x / 3.0)) * 2.0 / 3.0
    east += (150.0 * np.sin(np.pi * x / 12.0) + 300.0 * np.sin(np.pi * x / 30.0)) * 2.0 / 3.0
    phi = np.radians(lat)
    w = 1.0 - _EE * np.sin(phi) ** 2
    dlat = north * 180.0 / ((_A * (1.0 - _EE)) / (w * np.sqrt(w)) * np.pi)
    dlon = east * 180.0 / (_A / np.sqrt(w) * np.cos(phi) * np.pi)
    return dlon, dlat


def _gcj_forward(lon: _Floats, lat: _Floats) -> tuple[_Floats, _Floats]:
    dlon, dlat = _gcj_offset(lon, lat)
    return lon + dlon, lat + dlat


def _bd_forward(lon: _Floats, lat: _Floats) -> tuple[_Floats, _Floats]:
    r = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _BD_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _BD_PI)
    return r * np.cos(theta) + _BD_DLON, r * np.sin(theta) + _BD_DLAT


def _bd_first_guess(lon: _Floats, lat: _Floats) -> tuple[_Floats, _Floats]:
    x = lon - _BD_DLON
    y = lat - _BD_DLAT
    r = np.hypot(x, y) - 0.00002 * np.sin(y * _BD_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _BD_PI)
    return r * np.cos(theta), r * np.sin(theta)


def _invert(
    forward: Callable[[_Floats, _Floats], tuple[_Floats, _Floats]],
    lon: _Floats,
    lat: _Floats,
    guess: tuple[_Floats, _Floats],
) -> tuple[_Floats, _Floats]:
    """Solve ``forward(x, y) == (lon, lat)`` by fixed-point iteration from ``guess``.

    The shifts vary slowly (their derivatives are about 1e-3), so each step gains about
    three digits; a few steps reach the tolerance.
    """
    x, y = guess[0].copy(), guess[1].copy()
    for _ in range(_MAX_ITER):
        fx, fy = forward(x, y)
        ex, ey = lon - fx, lat - fy
        x += ex
        y += ey
        err = np.maximum(np.abs(ex), np.abs(ey))
        if not np.any(err > _TOL_DEG):  # NaN inputs stay NaN and do not block
            break
    else:
        logger.warning("inverse shift did not converge to %g deg in %d steps", _TOL_DEG, _MAX_ITER)
    return x, y


def _wgs_to_gcj(lon: _Floats, lat: _Floats) -> tuple[_Floats, _Floats]:
    return _gcj_forward(lon, lat)


def _gcj_to_wgs(lon: _Floats, lat: _Floats) -> tuple[_Floats, _Floats]:
    dlon, dlat = _gcj_offset(lon, lat)
    return _invert(_gcj_forward, lon, lat, (lon - dlon, lat - dlat))


def _gcj_to_bd(lon: _Floats, lat: _Floats) -> tuple[_Floats, _Floats]:
    return _bd_forward(lon, lat)


def _bd_to_gcj(lon: _Floats, lat: _Floats) -> tuple[_Floats, _Floats]:
    return _invert(_bd_forward, lon, lat, _bd_first_guess(lon, lat))


def _wgs_to_bd(lon: _Floats, lat: _Floats) -> tuple[_Floats, _Floats]:
    return _bd_forward(*_gcj_forward(lon, lat))


def _bd_to_wgs(lon: _Floats, lat: _Floats) -> tuple[_Floats, _Floats]:
    return _gcj_to_wgs(*_bd_to_gcj(lon, lat))


_Step = Callable[[_Floats, _Floats], tuple[_Floats, _Floats]]


@overload
def _run(step: _Step, lon: float, lat: float) -> tuple[float, float]: ...
@overload
def _run(step: _Step, lon: ArrayLike, lat: ArrayLike) -> tuple[_Floats, _Floats]: ...
def _run(
    step: _Step, lon: ArrayLike, lat: ArrayLike
) -> tuple[float, float] | tuple[_Floats, _Floats]:
    """Apply ``step`` inside China only; return floats for scalars, arrays otherwise."""
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    if x.shape != y.shape:
        msg = f"lon and lat have different shapes {x.shape!r} and {y.shape!r}"
        raise InvalidInput(msg)
    inside = in_china(x, y)
    ox, oy = x.copy(), y.copy()
    if inside.any():
        sx, sy = step(x[inside], y[inside])
        ox[inside], oy[inside] = sx, sy
    if ox.ndim == 0:
        return float(ox), float(oy)
    return ox, oy


@overload
def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def wgs84_to_gcj02(lon: _Vector, lat: _Vector) -> tuple[_Floats, _Floats]: ...
def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[float, float] | tuple[_Floats, _Floats]:
    """Convert WGS 84 to GCJ-02 (the offset of Chinese map providers).

    Parameters
    ----------
    lon, lat
        Degrees; scalars or arrays of one shape.

    Returns
    -------
    tuple
        ``(lon, lat)``: floats for scalar input, float64 arrays otherwise. Points
        outside China come back unchanged.

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02(116.39, 39.91)
    >>> round(lon, 4), round(lat, 4)
    (116.3962, 39.9114)
    >>> wgs84_to_gcj02(24.94, 60.17)
    (24.94, 60.17)
    """
    return _run(_wgs_to_gcj, lon, lat)


@overload
def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def gcj02_to_wgs84(lon: _Vector, lat: _Vector) -> tuple[_Floats, _Floats]: ...
def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[float, float] | tuple[_Floats, _Floats]:
    """Convert GCJ-02 to WGS 84.

    The inverse of :func:`wgs84_to_gcj02`, solved by iteration to about 1e-11 degrees
    (a micrometre), not by the one-step approximation, which is off by up to metres.

    Parameters
    ----------
    lon, lat
        Degrees; scalars or arrays of one shape.

    Returns
    -------
    tuple
        ``(lon, lat)``: floats for scalar input, float64 arrays otherwise. Points
        outside China come back unchanged.
    """
    return _run(_gcj_to_wgs, lon, lat)


@overload
def gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def gcj02_to_bd09(lon: _Vector, lat: _Vector) -> tuple[_Floats, _Floats]: ...
def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[float, float] | tuple[_Floats, _Floats]:
    """Convert GCJ-02 to BD-09 (Baidu).

    Parameters
    ----------
    lon, lat
        Degrees; scalars or arrays of one shape.

    Returns
    -------
    tuple
        ``(lon, lat)``: floats for scalar input, float64 arrays otherwise. Points
        outside China come back unchanged.
    """
    return _run(_gcj_to_bd, lon, lat)


@overload
def bd09_to_gcj02(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def bd09_to_gcj02(lon: _Vector, lat: _Vector) -> tuple[_Floats, _Floats]: ...
def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[float, float] | tuple[_Floats, _Floats]:
    """Convert BD-09 (Baidu) to GCJ-02.

    The inverse of :func:`gcj02_to_bd09`, solved by iteration to about 1e-11 degrees.

    Parameters
    ----------
    lon, lat
        Degrees; scalars or arrays of one shape.

    Returns
    -------
    tuple
        ``(lon, lat)``: floats for scalar input, float64 arrays otherwise. Points
        outside China come back unchanged.
    """
    return _run(_bd_to_gcj, lon, lat)


@overload
def wgs84_to_bd09(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def wgs84_to_bd09(lon: _Vector, lat: _Vector) -> tuple[_Floats, _Floats]: ...
def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[float, float] | tuple[_Floats, _Floats]:
    """Convert WGS 84 to BD-09 (Baidu), through GCJ-02.

    Parameters
    ----------
    lon, lat
        Degrees; scalars or arrays of one shape.

    Returns
    -------
    tuple
        ``(lon, lat)``: floats for scalar input, float64 arrays otherwise. Points
        outside China come back unchanged.
    """
    return _run(_wgs_to_bd, lon, lat)


@overload
def bd09_to_wgs84(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def bd09_to_wgs84(lon: _Vector, lat: _Vector) -> tuple[_Floats, _Floats]: ...
def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[float, float] | tuple[_Floats, _Floats]:
    """Convert BD-09 (Baidu) to WGS 84, through GCJ-02.

    Both inverse steps are solved by iteration to about 1e-11 degrees.

    Parameters
    ----------
    lon, lat
        Degrees; scalars or arrays of one shape.

    Returns
    -------
    tuple
        ``(lon, lat)``: floats for scalar input, float64 arrays otherwise. Points
        outside China come back unchanged.
    """
    return _run(_bd_to_wgs, lon, lat)


_STEPS: dict[tuple[ChinaDatum, ChinaDatum], _Step] = {
    (ChinaDatum.WGS84, ChinaDatum.GCJ02): _wgs_to_gcj,
    (ChinaDatum.GCJ02, ChinaDatum.WGS84): _gcj_to_wgs,
    (ChinaDatum.GCJ02, ChinaDatum.BD09): _gcj_to_bd,
    (ChinaDatum.BD09, ChinaDatum.GCJ02): _bd_to_gcj,
    (ChinaDatum.WGS84, ChinaDatum.BD09): _wgs_to_bd,
    (ChinaDatum.BD09, ChinaDatum.WGS84): _bd_to_wgs,
}


def _datum(value: str, name: str) -> ChinaDatum:
    try:
        return ChinaDatum(str(value).lower())
    except ValueError:
        msg = f"{name}={value!r} is not a Chinese coordinate system; choose one of {[d.value for d in ChinaDatum]}"
        raise InvalidInput(msg) from None


def transform_geometry_china(
    geom: shapely.Geometry, src: str | ChinaDatum, dst: str | ChinaDatum
) -> shapely.Geometry:
    """Convert a shapely geometry between WGS 84, GCJ-02 and BD-09.

    Coordinates are (lon, lat) as the Chinese providers give them; Z values are kept.

    Parameters
    ----------
    geom
        Any shapely geometry, or an array of them.
    src, dst
        ``'wgs84'``, ``'gcj02'`` or ``'bd09'``.

    Returns
    -------
    shapely.Geometry
        A new geometry; vertices outside China are unchanged.

    Raises
    ------
    InvalidInput
        When ``src`` or ``dst`` is none of the three names.

    Examples
    --------
    >>> from shapely import Point
    >>> p = transform_geometry_china(Point(116.39, 39.91), "wgs84", "gcj02")
    >>> round(p.x - 116.39, 4), round(p.y - 39.91, 4)
    (0.0062, 0.0014)
    """
    a, b = _datum(src, "src"), _datum(dst, "dst")
    if a is b:
        return shapely.transform(geom, lambda c: c, include_z=True)
    step = _STEPS[(a, b)]

    def apply(coords: _Floats) -> _Floats:
        out = coords.copy()
        out[:, 0], out[:, 1] = _run(step, coords[:, 0], coords[:, 1])
        return out

    return shapely.transform(geom, apply, include_z=True)
