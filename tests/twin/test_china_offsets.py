"""GCJ-02 and BD-09: offsets, accurate inverses, and no change outside China."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st
from pyproj import Geod
from shapely import LineString, MultiPolygon, Point, Polygon

from twin.crs import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    transform_geometry_china,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from twin.errors import InvalidInput

GEOD = Geod(ellps="WGS84")
TIANANMEN = (116.3975, 39.9087)
SHANGHAI = (121.4737, 31.2304)
Convert = Callable[..., tuple[np.ndarray, np.ndarray]]
# (forward, inverse) pairs
PAIRS = {
    "gcj02": (wgs84_to_gcj02, gcj02_to_wgs84),
    "bd09": (wgs84_to_bd09, bd09_to_wgs84),
    "gcj02-bd09": (gcj02_to_bd09, bd09_to_gcj02),
}
ALL = [wgs84_to_gcj02, gcj02_to_wgs84, gcj02_to_bd09, bd09_to_gcj02, wgs84_to_bd09, bd09_to_wgs84]


def _metres(lon0: object, lat0: object, lon1: object, lat1: object) -> np.ndarray:
    return np.asarray(GEOD.inv(lon0, lat0, lon1, lat1)[2])


def _china_grid() -> tuple[np.ndarray, np.ndarray]:
    """A 0.5 degree grid over lon 74..134, lat 18..53: the rough box of China."""
    lon, lat = np.meshgrid(np.arange(74.0, 134.01, 0.5), np.arange(18.0, 53.01, 0.5))
    return lon.ravel(), lat.ravel()


@pytest.mark.parametrize("pair", PAIRS)
def test_round_trip_error_over_china_is_below_half_a_metre(pair: str) -> None:
    forward, inverse = PAIRS[pair]
    lon, lat = _china_grid()
    assert lon.size == 121 * 71
    lon2, lat2 = inverse(*forward(lon, lat))
    assert _metres(lon, lat, lon2, lat2).max() < 0.5


@pytest.mark.parametrize("pair", PAIRS)
def test_inverse_is_solved_not_approximated(pair: str) -> None:
    """Both directions agree to a millimetre; a one-step inverse is off by metres."""
    forward, inverse = PAIRS[pair]
    lon, lat = _china_grid()
    # shifted points back ...
    lon2, lat2 = inverse(*forward(lon, lat))
    assert _metres(lon, lat, lon2, lat2).max() < 1e-3
    # ... and unshifted points forward
    lon3, lat3 = forward(*inverse(lon, lat))
    assert _metres(lon, lat, lon3, lat3).max() < 1e-3


def test_gcj02_offset_in_beijing_is_a_few_hundred_metres_north_east() -> None:
    lon, lat = wgs84_to_gcj02(*TIANANMEN)
    assert 300.0 < _metres(*TIANANMEN, lon, lat) < 800.0
    assert lon > TIANANMEN[0] and lat > TIANANMEN[1]


def test_bd09_adds_its_own_shift_on_top_of_gcj02() -> None:
    glon, glat = wgs84_to_gcj02(*SHANGHAI)
    blon, blat = gcj02_to_bd09(glon, glat)
    # Baidu's shift is about (0.0065, 0.006) degrees: most of a kilometre
    assert 500.0 < _metres(glon, glat, blon, blat) < 1500.0
    assert (blon, blat) == pytest.approx(wgs84_to_bd09(*SHANGHAI), abs=1e-12)
    assert 0.004 < blon - glon < 0.009 and 0.004 < blat - glat < 0.009


def test_the_shift_is_smooth_and_bounded_over_china() -> None:
    lon, lat = _china_grid()
    glon, glat = wgs84_to_gcj02(lon, lat)
    shift = _metres(lon, lat, glon, glat)
    assert shift.min() > 0.0
    assert shift.max() < 1000.0
    # neighbours 0.5 degree apart move by similar amounts: no jumps
    grid = shift.reshape(71, 121)
    assert np.abs(np.diff(grid, axis=1)).max() < 150.0
    assert np.abs(np.diff(grid, axis=0)).max() < 150.0


@pytest.mark.parametrize(
    "point",
    [(24.94, 60.17), (-74.0, 40.7), (151.21, -33.87), (0.0, 0.0), (71.9, 30.0), (138.0, 35.0)],
)
@pytest.mark.parametrize("convert", ALL, ids=lambda f: f.__name__)
def test_points_outside_china_are_unchanged(point: tuple[float, float], convert: Convert) -> None:
    assert convert(*point) == point


@given(
    lon=st.floats(-180, 180, allow_nan=False),
    lat=st.floats(-90, 90, allow_nan=False),
    index=st.integers(0, len(ALL) - 1),
)
def test_outside_the_box_nothing_moves(lon: float, lat: float, index: int) -> None:
    inside = 72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271
    moved = ALL[index](lon, lat) != (lon, lat)
    assert moved == inside


_IN_CHINA = {
    "lon": st.floats(73.0, 135.0, allow_nan=False),
    "lat": st.floats(3.0, 54.0, allow_nan=False),
}


@given(pair=st.sampled_from(sorted(PAIRS)), **_IN_CHINA)
def test_round_trip_invariant(pair: str, lon: float, lat: float) -> None:
    forward, inverse = PAIRS[pair]
    lon2, lat2 = inverse(*forward(lon, lat))
    assert _metres(lon, lat, lon2, lat2) < 0.5


@given(**_IN_CHINA)
def test_bd09_is_gcj02_then_baidu(lon: float, lat: float) -> None:
    assert wgs84_to_bd09(lon, lat) == pytest.approx(
        gcj02_to_bd09(*wgs84_to_gcj02(lon, lat)), abs=1e-12
    )
    assert bd09_to_wgs84(lon, lat) == pytest.approx(
        gcj02_to_wgs84(*bd09_to_gcj02(lon, lat)), abs=1e-12
    )


@pytest.mark.parametrize("convert", ALL, ids=lambda f: f.__name__)
def test_scalars_give_floats_and_arrays_keep_their_shape(convert: Convert) -> None:
    lon, lat = convert(*TIANANMEN)
    assert type(lon) is float and type(lat) is float
    grid_lon = np.array([[116.0, 24.94], [121.47, 116.39]])
    grid_lat = np.array([[40.0, 60.17], [31.23, 39.91]])
    alon, alat = convert(grid_lon, grid_lat)
    assert alon.shape == alat.shape == (2, 2)
    assert (alon[0, 1], alat[0, 1]) == (24.94, 60.17)  # Helsinki, unchanged
    assert (alon[1, 1], alat[1, 1]) == pytest.approx(convert(116.39, 39.91), abs=1e-12)
    llon, llat = convert([116.0, 121.47], [40.0, 31.23])
    assert isinstance(llon, np.ndarray) and llon.shape == (2,)
    assert (llon[1], llat[1]) == pytest.approx(convert(121.47, 31.23), abs=1e-12)


def test_nan_passes_through() -> None:
    lon, lat = gcj02_to_wgs84(np.array([np.nan, 116.39]), np.array([39.9, 39.9]))
    assert np.isnan(lon[0]) and lat[0] == 39.9
    assert lon[1] == pytest.approx(gcj02_to_wgs84(116.39, 39.9)[0], abs=1e-12)


def test_shapes_must_match() -> None:
    with pytest.raises(
        InvalidInput, match=r"^lon and lat have different shapes \(2,\) and \(3,\)$"
    ):
        wgs84_to_gcj02([116.0, 117.0], [39.0, 40.0, 41.0])


# --- geometries ------------------------------------------------------------------------

_SQUARE = [(116.38, 39.90), (116.41, 39.90), (116.41, 39.92), (116.38, 39.92), (116.38, 39.90)]


@pytest.mark.parametrize(
    "geom",
    [
        Point(*TIANANMEN),
        Point(116.3975, 39.9087, 44.0),
        LineString([TIANANMEN, SHANGHAI]),
        Polygon(_SQUARE),
        MultiPolygon([Polygon(_SQUARE)]),
        LineString([TIANANMEN, (24.94, 60.17)]),
        Polygon(),
    ],
    ids=lambda g: g.wkt[:24],
)
@pytest.mark.parametrize(
    ("src", "dst", "convert"),
    [
        ("wgs84", "gcj02", wgs84_to_gcj02),
        ("gcj02", "wgs84", gcj02_to_wgs84),
        ("GCJ02", "bd09", gcj02_to_bd09),
        ("bd09", "wgs84", bd09_to_wgs84),
    ],
)
def test_transform_geometry_china_moves_every_vertex(
    geom: shapely.Geometry, src: str, dst: str, convert: Convert
) -> None:
    out = transform_geometry_china(geom, src, dst)
    assert out.geom_type == geom.geom_type
    assert out.has_z == geom.has_z
    before = shapely.get_coordinates(geom, include_z=True)
    after = shapely.get_coordinates(out, include_z=True)
    lon, lat = convert(before[:, 0], before[:, 1])
    np.testing.assert_array_equal(after[:, 0], lon)
    np.testing.assert_array_equal(after[:, 1], lat)
    np.testing.assert_array_equal(after[:, 2], before[:, 2])
    back = transform_geometry_china(out, dst, src)
    assert shapely.equals_exact(back, geom, tolerance=1e-8)


def test_transform_geometry_china_same_system_is_a_copy() -> None:
    geom = Polygon(_SQUARE)
    out = transform_geometry_china(geom, "bd09", "BD09")
    assert out.equals_exact(geom, 0.0)


def test_transform_geometry_china_rejects_unknown_systems() -> None:
    with pytest.raises(InvalidInput) as info:
        transform_geometry_china(Point(*TIANANMEN), "wgs84", "EPSG:4326")
    assert str(info.value) == (
        "dst='EPSG:4326' is not a Chinese coordinate system; choose one of ['wgs84', 'gcj02', 'bd09']"
    )
