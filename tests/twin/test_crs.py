"""twin.crs: CRS names, served CRSs, transforms with authority axis order, bounds checks."""

from __future__ import annotations

import functools
import math

import numpy as np
import pyproj
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import (
    GeometryCollection,
    LineString,
    MultiLineString,
    MultiPoint,
    MultiPolygon,
    Point,
    Polygon,
)

from twin.crs import (
    CRS84,
    check_bounds,
    check_served,
    crs_uri,
    from_crs84,
    local_metric_crs,
    resolve_crs,
    served_crs,
    to_crs84,
    transform_bbox,
    transform_coords,
    transform_geometry,
    utm_epsg,
)
from twin.errors import GeometryOutOfBounds, InvalidInput, UnknownCRS

HELSINKI = (24.94, 60.17)
HELSINKI_BBOX = (24.90, 60.14, 24.99, 60.20)
EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"
SERVED_HELSINKI = [
    CRS84,
    EPSG.format(4326),
    EPSG.format(3857),
    EPSG.format(4490),
    EPSG.format(32635),
]
R_MERC = 6378137.0

# Canonical geometries in CRS84 around Helsinki: every type, empty ones, Z, a hole.
_RING = [(24.90, 60.14), (24.99, 60.14), (24.99, 60.20), (24.90, 60.20), (24.90, 60.14)]
_HOLE = [(24.93, 60.16), (24.95, 60.16), (24.95, 60.18), (24.93, 60.16)]
GEOMETRIES = {
    "point": Point(HELSINKI),
    "point_z": Point(24.94, 60.17, 12.5),
    "line": LineString([(24.90, 60.15), (24.95, 60.18), (24.99, 60.19)]),
    "line_z": LineString([(24.90, 60.15, 1.0), (24.95, 60.18, 2.0)]),
    "polygon_hole": Polygon(_RING, [_HOLE]),
    "multipoint": MultiPoint([(24.91, 60.15), (24.98, 60.19)]),
    "multiline": MultiLineString(
        [[(24.90, 60.15), (24.91, 60.16)], [(24.97, 60.18), (24.98, 60.19)]]
    ),
    "multipolygon": MultiPolygon([Polygon(_RING), Polygon(_HOLE)]),
    "collection_mixed_z": GeometryCollection([Point(24.94, 60.17, 3.0), LineString(_HOLE)]),
    "empty_point": shapely.from_wkt("POINT EMPTY"),
    "empty_polygon": Polygon(),
    "empty_collection": GeometryCollection(),
}


@functools.cache
def _pyproj(src: str, dst: str) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(src, dst, always_xy=False)


def _reference(geom: shapely.Geometry, src: str, dst: str) -> shapely.Geometry:
    """The same transform done directly with pyproj, vertex by vertex."""
    t = _pyproj(src, dst)

    def one(c: np.ndarray) -> np.ndarray:
        out = c.copy()
        for i in range(len(c)):
            out[i, 0], out[i, 1] = t.transform(c[i, 0], c[i, 1])
        return out

    return shapely.transform(geom, one, include_z=True)


# --- names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("http://www.opengis.net/def/crs/OGC/1.3/CRS84", "OGC:CRS84"),
        ("https://www.opengis.net/def/crs/OGC/1.3/CRS84", "OGC:CRS84"),
        ("http://www.opengis.net/def/crs/OGC/0/CRS84", "OGC:CRS84"),
        ("https://www.opengis.net/def/crs/OGC/0/CRS84", "OGC:CRS84"),
        ("OGC:CRS84", "OGC:CRS84"),
        ("urn:ogc:def:crs:OGC:1.3:CRS84", "OGC:CRS84"),
        ("http://www.opengis.net/def/crs/EPSG/0/4326", "EPSG:4326"),
        ("https://www.opengis.net/def/crs/EPSG/0/4326", "EPSG:4326"),
        ("EPSG:4326", "EPSG:4326"),
        ("epsg:4326", "EPSG:4326"),
        (" EPSG:4326 ", "EPSG:4326"),
        ("urn:ogc:def:crs:EPSG::4326", "EPSG:4326"),
        ("urn:ogc:def:crs:EPSG:9.8.1:4326", "EPSG:4326"),
        (4326, "EPSG:4326"),
        ("EPSG:3857", "EPSG:3857"),
        ("http://www.opengis.net/def/crs/EPSG/0/4490", "EPSG:4490"),
        (32635, "EPSG:32635"),
        (pyproj.CRS.from_epsg(32635), "EPSG:32635"),
    ],
)
def test_resolve_crs_accepts_every_spelling(spelling: object, expected: str) -> None:
    crs = resolve_crs(spelling)  # type: ignore[arg-type]
    assert crs == pyproj.CRS.from_user_input(expected)
    assert crs.to_string() == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("EPSG:999999", "crs='EPSG:999999': EPSG:999999 is not a CRS known to PROJ"),
        (999999, "crs=999999: EPSG:999999 is not a CRS known to PROJ"),
        (
            "foo",
            "crs='foo' is not a CRS the twin understands; give an OGC URI such as "
            "'http://www.opengis.net/def/crs/OGC/1.3/CRS84' or "
            "'http://www.opengis.net/def/crs/EPSG/0/4326', 'EPSG:<code>', 'OGC:CRS84', "
            "'urn:ogc:def:crs:EPSG::<code>' or an EPSG code",
        ),
        (
            "",
            "crs='' is not a CRS the twin understands; give an OGC URI such as "
            "'http://www.opengis.net/def/crs/OGC/1.3/CRS84' or "
            "'http://www.opengis.net/def/crs/EPSG/0/4326', 'EPSG:<code>', 'OGC:CRS84', "
            "'urn:ogc:def:crs:EPSG::<code>' or an EPSG code",
        ),
        (
            "OGC:CRS27",
            "crs='OGC:CRS27' names an unknown OGC CRS; choose one of ['CRS84', 'CRS84h']",
        ),
    ],
)
def test_resolve_crs_rejects_junk_naming_the_value(value: object, message: str) -> None:
    with pytest.raises(UnknownCRS) as info:
        resolve_crs(value)  # type: ignore[arg-type]
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "value",
    [
        True,
        4326.0,
        "+proj=longlat",
        "EPSG:abc",
        "http://www.opengis.net/def/crs/EPSG/0/",
        "ftp://www.opengis.net/def/crs/EPSG/0/4326",
        "WGS84",
    ],
)
def test_resolve_crs_refuses_what_it_does_not_document(value: object) -> None:
    with pytest.raises(UnknownCRS, match=r"^crs="):
        resolve_crs(value)  # type: ignore[arg-type]


def test_resolve_crs_names_the_parameter() -> None:
    with pytest.raises(UnknownCRS, match=r"^bbox-crs='foo' is not a CRS"):
        resolve_crs("foo", name="bbox-crs")


@pytest.mark.parametrize("uri", SERVED_HELSINKI)
def test_crs_uri_round_trips_the_served_uris(uri: str) -> None:
    assert crs_uri(uri) == uri
    assert crs_uri(resolve_crs(uri)) == uri


def test_crs_uri_of_a_crs_known_only_by_its_wkt() -> None:
    wkt = pyproj.CRS.from_epsg(32635).to_wkt()
    assert crs_uri(pyproj.CRS.from_wkt(wkt)) == EPSG.format(32635)
    assert crs_uri("EPSG:4326") == EPSG.format(4326)
    assert crs_uri("urn:ogc:def:crs:OGC:1.3:CRS84") == CRS84


def test_crs_uri_without_an_identifier_is_unknown() -> None:
    custom = pyproj.CRS.from_proj4("+proj=tmerc +lon_0=24.1 +k=0.9 +x_0=7 +ellps=GRS80")
    with pytest.raises(UnknownCRS, match="has no EPSG or OGC identifier"):
        crs_uri(custom)


# --- the city's CRSs -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lon", "lat", "code"),
    [
        (24.94, 60.17, 32635),
        (-74.0, 40.7, 32618),
        (151.21, -33.87, 32756),
        (116.39, 39.91, 32650),
        (0.0, 0.0, 32631),
        (-0.000001, -0.000001, 32730),
        (-180.0, 10.0, 32601),
        (180.0, 10.0, 32660),
        (5.32, 60.39, 32631),
    ],
)
def test_utm_epsg(lon: float, lat: float, code: int) -> None:
    assert utm_epsg(lon, lat) == code


@given(
    lon=st.floats(-180, 179.999, allow_nan=False),
    lat=st.floats(-80, 84, allow_nan=False),
)
def test_utm_zone_holds_the_point(lon: float, lat: float) -> None:
    """The point lies inside the EPSG area of use of the zone it is given."""
    code = utm_epsg(lon, lat)
    assert code // 100 in (326, 327)
    assert (code // 100 == 326) == (lat >= 0)
    west, _, east, _ = pyproj.CRS.from_epsg(code).area_of_use.bounds  # type: ignore[union-attr]
    assert west <= lon <= east


@pytest.mark.parametrize(
    ("lon", "lat", "message"),
    [
        (181.0, 0.0, "lon=181.0 is not a longitude in [-180, 180]"),
        (math.nan, 0.0, "lon=nan is not a longitude in [-180, 180]"),
        (0.0, -91.0, "lat=-91.0 is not a latitude in [-90, 90]"),
    ],
)
def test_utm_epsg_rejects_impossible_points(lon: float, lat: float, message: str) -> None:
    with pytest.raises(InvalidInput) as info:
        utm_epsg(lon, lat)
    assert str(info.value) == message


def test_local_metric_crs_is_the_utm_zone_in_metres() -> None:
    crs = local_metric_crs(HELSINKI_BBOX)
    assert crs.to_epsg() == 32635
    assert crs.is_projected
    assert all(a.unit_name == "metre" for a in crs.axis_info)
    # a bbox across the antimeridian is centred on it, not on Greenwich
    assert local_metric_crs((179.0, -18.0, -179.0, -17.0)).to_epsg() == 32760


def test_local_metric_crs_rejects_a_bad_bbox() -> None:
    with pytest.raises(InvalidInput, match=r"^bbox=\(1, 2, 3\) is not four numbers"):
        local_metric_crs((1, 2, 3))
    with pytest.raises(InvalidInput, match=r"^bbox=\(0, 50, 1, 40\) is not a CRS84 bbox"):
        local_metric_crs((0, 50, 1, 40))


def test_served_crs() -> None:
    assert served_crs(HELSINKI_BBOX) == SERVED_HELSINKI
    sydney = served_crs((151.1, -34.0, 151.3, -33.8))
    assert sydney[-1] == EPSG.format(32756)
    assert len(sydney) == len(set(sydney)) == 5


@pytest.mark.parametrize(
    "spelling", ["OGC:CRS84", "urn:ogc:def:crs:EPSG::4326", 3857, "EPSG:4490", EPSG.format(32635)]
)
def test_check_served_accepts_any_spelling_of_a_served_crs(spelling: object) -> None:
    crs = check_served(spelling, HELSINKI_BBOX)  # type: ignore[arg-type]
    assert crs_uri(crs) in SERVED_HELSINKI


@pytest.mark.parametrize("value", ["EPSG:32634", "EPSG:999999", "foo", ""])
def test_check_served_lists_the_served_crs(value: str) -> None:
    with pytest.raises(UnknownCRS) as info:
        check_served(value, HELSINKI_BBOX, name="bbox-crs")
    assert str(info.value) == f"bbox-crs={value!r} is not served; choose one of {SERVED_HELSINKI}"


# --- transforms ------------------------------------------------------------------------


def test_helsinki_axis_order() -> None:
    p = transform_geometry(Point(HELSINKI), CRS84, "EPSG:4326")
    assert (p.x, p.y) == pytest.approx((60.17, 24.94), abs=1e-12)
    direct = pyproj.Transformer.from_crs("OGC:CRS84", "EPSG:4326").transform(*HELSINKI)
    assert (p.x, p.y) == pytest.approx(direct, abs=1e-12)
    q = transform_geometry(Point(HELSINKI), CRS84, 4490)
    assert (q.x, q.y) == pytest.approx((60.17, 24.94), abs=1e-6)
    back = to_crs84(p, "EPSG:4326")
    assert (back.x, back.y) == pytest.approx(HELSINKI, abs=1e-12)


def test_web_mercator_is_the_spherical_formula() -> None:
    lon = np.linspace(-179.0, 179.0, 37)
    lat = np.linspace(-85.0, 85.0, 37)
    x, y = transform_coords(lon, lat, CRS84, 3857)
    np.testing.assert_allclose(x, R_MERC * np.radians(lon), atol=1e-6)
    np.testing.assert_allclose(
        y, R_MERC * np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)), atol=1e-5
    )


def test_utm_metres_match_geodesic_distances() -> None:
    """Helsinki in zone 35N: plausible easting/northing, and lengths within the scale factor."""
    e, n = transform_coords([24.94, 24.99], [60.17, 60.20], CRS84, 32635)
    assert 300_000 < e[0] < 500_000  # west of the 27E central meridian
    assert 6_600_000 < n[0] < 6_700_000  # about 60 degrees of arc from the equator
    grid = math.hypot(e[1] - e[0], n[1] - n[0])
    _, _, ground = pyproj.Geod(ellps="WGS84").inv(24.94, 60.17, 24.99, 60.20)
    assert 0.9996 <= grid / ground <= 1.0010


@pytest.mark.parametrize("name", GEOMETRIES)
@pytest.mark.parametrize("dst", ["EPSG:4326", "EPSG:3857", "EPSG:4490", "EPSG:32635"])
def test_transform_geometry_matches_pyproj_for_every_type(name: str, dst: str) -> None:
    geom = GEOMETRIES[name]
    out = from_crs84(geom, dst)
    assert out.geom_type == geom.geom_type
    assert out.is_empty == geom.is_empty
    assert shapely.get_num_coordinates(out) == shapely.get_num_coordinates(geom)
    assert shapely.has_z(out) == shapely.has_z(geom)
    assert shapely.equals_exact(out, _reference(geom, "OGC:CRS84", dst), tolerance=1e-6)
    np.testing.assert_array_equal(
        shapely.get_coordinates(out, include_z=True)[:, 2],
        shapely.get_coordinates(geom, include_z=True)[:, 2],
    )
    back = to_crs84(out, dst)
    assert shapely.equals_exact(back, geom, tolerance=1e-7)


def test_transform_geometry_takes_an_array_and_keeps_each_dimension() -> None:
    geoms = np.array([Point(60.17, 24.94), Point(60.2, 25.0, 7.0), None], dtype=object)
    out = transform_geometry(geoms, 4326, CRS84)
    assert out[0].equals_exact(Point(24.94, 60.17), 1e-12)
    assert out[1].has_z and out[1].z == 7.0
    assert not out[0].has_z
    assert out[2] is None


def _global_grid() -> tuple[np.ndarray, np.ndarray]:
    lon, lat = np.meshgrid(np.arange(-179.5, 180.0, 7.5), np.arange(-84.5, 85.0, 6.5))
    return lon.ravel(), lat.ravel()


@pytest.mark.parametrize("dst", ["EPSG:4326", "EPSG:3857", "EPSG:4490"])
def test_round_trip_over_the_globe(dst: str) -> None:
    lon, lat = _global_grid()
    a, b = transform_coords(lon, lat, CRS84, dst)
    lon2, lat2 = transform_coords(a, b, dst, CRS84)
    assert np.max(np.abs(lon2 - lon)) < 1e-7
    assert np.max(np.abs(lat2 - lat)) < 1e-7


def test_round_trip_through_each_points_own_utm_zone() -> None:
    lon, lat = _global_grid()
    keep = (lat > -80) & (lat < 84)
    for x, y in zip(lon[keep], lat[keep], strict=True):
        bbox = (x - 0.05, y - 0.05, x + 0.05, y + 0.05)
        utm = served_crs(bbox)[-1]
        p = from_crs84(Point(x, y), utm)
        assert 100_000 < p.x < 900_000
        q = to_crs84(p, utm)
        assert abs(q.x - x) < 1e-7 and abs(q.y - y) < 1e-7


@settings(max_examples=60, deadline=None)
@given(
    lon=st.floats(-180, 180, allow_nan=False),
    lat=st.floats(-85, 85, allow_nan=False),
    dst=st.sampled_from(["EPSG:4326", "EPSG:3857", "EPSG:4490", "utm"]),
)
def test_round_trip_invariant(lon: float, lat: float, dst: str) -> None:
    crs: str | int = utm_epsg(lon, lat) if dst == "utm" else dst
    if dst == "utm" and not -80 <= lat <= 84:
        crs = "EPSG:4326"
    p = to_crs84(from_crs84(Point(lon, lat), crs), crs)
    assert abs(p.y - lat) < 1e-7
    assert abs(p.x - lon) < 1e-7 or abs(abs(p.x - lon) - 360.0) < 1e-7  # +-180 is one meridian


def test_transform_coords_is_vectorised_like_pyproj() -> None:
    rng = np.random.default_rng(7)
    lat = rng.uniform(-80, 80, size=(4, 25))
    lon = rng.uniform(-180, 180, size=(4, 25))
    x, y = transform_coords(lat, lon, 4326, 3857)
    assert x.shape == y.shape == (4, 25)
    rx, ry = pyproj.Transformer.from_crs(4326, 3857).transform(lat, lon)
    np.testing.assert_array_equal(x, rx)
    np.testing.assert_array_equal(y, ry)
    with pytest.raises(InvalidInput, match=r"^xs and ys have different shapes"):
        transform_coords([1.0, 2.0], [1.0], 4326, 3857)


def test_transform_outside_the_target_domain_is_an_error() -> None:
    with pytest.raises(GeometryOutOfBounds) as info:
        from_crs84(LineString([(27, 0), (117, 0)]), 32635)  # a quarter turn from zone 35
    assert str(info.value) == (
        "coordinate (117.0, 0.0) in OGC:CRS84 cannot be transformed to EPSG:32635; "
        "it lies outside the target's domain"
    )


def test_transform_keeps_nan_as_nan() -> None:
    x, y = transform_coords([np.nan, 24.94], [0.0, 60.17], CRS84, 4326)
    assert np.isnan(x[0]) and x[1] == pytest.approx(60.17)
    assert np.isnan(y[0]) and y[1] == pytest.approx(24.94)


def test_transform_bbox_uses_the_target_axis_order() -> None:
    assert transform_bbox(HELSINKI_BBOX, CRS84, "EPSG:4326") == pytest.approx(
        (60.14, 24.90, 60.20, 24.99), abs=1e-12
    )
    assert transform_bbox((60.14, 24.90, 60.20, 24.99), 4326, CRS84) == pytest.approx(
        HELSINKI_BBOX, abs=1e-12
    )
    with_heights = transform_bbox((24.9, 60.14, -5.0, 24.99, 60.2, 80.0), CRS84, 4326)
    assert with_heights == pytest.approx((60.14, 24.9, -5.0, 60.2, 24.99, 80.0))


def test_transform_bbox_holds_its_curved_edges() -> None:
    """A lon/lat box in UTM bends: parallels sag toward the equator at the central meridian,
    so the corners alone miss the southern edge's midpoint."""
    bbox = (22.0, 59.0, 32.0, 62.0)  # both sides of the 27E central meridian
    emin, nmin, emax, nmax = transform_bbox(bbox, CRS84, 32635)
    edge = np.linspace(22.0, 32.0, 101)
    e, n = transform_coords(
        np.concatenate([edge, edge]),
        np.concatenate([np.full(101, 59.0), np.full(101, 62.0)]),
        CRS84,
        32635,
    )
    assert emin <= e.min() and e.max() <= emax
    assert nmin <= n.min() + 1e-6 and n.max() <= nmax + 1e-6
    _, corner_n = transform_coords([22.0, 32.0], [59.0, 59.0], CRS84, 32635)
    assert nmin < corner_n.min() - 1000  # the densified bottom lies below the corners


@pytest.mark.parametrize(
    "bbox", [(1, 2, 3), (0, 0, math.nan, 1), (0, 0, 1, math.inf), ("a", 0, 1, 1)]
)
def test_transform_bbox_rejects_bad_boxes(bbox: tuple[object, ...]) -> None:
    with pytest.raises(InvalidInput) as info:
        transform_bbox(bbox, CRS84, 4326)  # type: ignore[arg-type]
    assert str(info.value) == f"bbox={bbox!r} is not four (or six, with heights) finite numbers"


# --- bounds ----------------------------------------------------------------------------


def _with_nan(geom: shapely.Geometry) -> shapely.Geometry:
    """Replace every coordinate equal to 1 by NaN (constructors warn on NaN input)."""
    return shapely.transform(geom, lambda c: np.where(c == 1, np.nan, c))


@pytest.mark.parametrize(
    ("geom", "message"),
    [
        (
            Point(181, 0),
            "geometry coordinate (181.0, 0.0) is outside the area of use of OGC:CRS84 "
            "(Lon -180..180, Lat -90..90)",
        ),
        (
            LineString([(0, 0), (10, -91)]),
            "geometry coordinate (10.0, -91.0) is outside the area of use of OGC:CRS84 "
            "(Lon -180..180, Lat -90..90)",
        ),
        (
            Point(200, 10),
            "geometry coordinate (200.0, 10.0) is outside the area of use of OGC:CRS84 "
            "(Lon -180..180, Lat -90..90)",
        ),
        (_with_nan(LineString([(0, 0), (1, 5)])), "geometry coordinate (nan, 5.0) is not finite"),
        (Point(1, np.inf), "geometry coordinate (1.0, inf) is not finite"),
        (Point(1, 2, np.inf), "geometry coordinate (1.0, 2.0, inf) is not finite"),
    ],
)
def test_check_bounds_rejects_and_names_the_coordinate(
    geom: shapely.Geometry, message: str
) -> None:
    with pytest.raises(GeometryOutOfBounds) as info:
        check_bounds(geom, CRS84)
    assert str(info.value) == message


@pytest.mark.parametrize(
    "geom",
    [
        Point(-180, -90),
        Point(180, 90),
        Polygon([(-180, -90), (180, -90), (180, 90), (-180, 90)]),
        Point(0, 0, -11000.0),
        Polygon(),
    ],
)
def test_check_bounds_accepts_the_edges(geom: shapely.Geometry) -> None:
    check_bounds(geom, CRS84)


def test_check_bounds_in_lat_lon_order() -> None:
    check_bounds(Point(90, 180), 4326)  # (lat, lon)
    with pytest.raises(
        GeometryOutOfBounds,
        match=r"^geometry coordinate \(91.0, 0.0\).*\(Lat -90..90, Lon -180..180\)$",
    ):
        check_bounds(Point(91, 0), 4326)
    with pytest.raises(GeometryOutOfBounds, match=r"\(0.0, 181.0\)"):
        check_bounds(Point(0, 181), "urn:ogc:def:crs:EPSG::4326")


def test_check_bounds_in_projected_crs() -> None:
    check_bounds(from_crs84(Point(HELSINKI), 3857), 3857)
    with pytest.raises(
        GeometryOutOfBounds,
        match=r"^geometry coordinate \(30000000.0, 0.0\) .* \(X -20037508.34..20037508.34, ",
    ):
        check_bounds(Point(3.0e7, 0.0), 3857)
    check_bounds(from_crs84(Point(HELSINKI), 32635), 32635)
    # just west of zone 35 at the equator: outside, unless the area is widened
    outside = from_crs84(Point(23.5, 0.5), 32635)
    with pytest.raises(GeometryOutOfBounds, match="EPSG:32635"):
        check_bounds(outside, 32635)
    check_bounds(outside, 32635, margin=1.0)


def test_check_bounds_of_cgcs2000_is_china() -> None:
    check_bounds(Point(39.91, 116.39), 4490)
    with pytest.raises(GeometryOutOfBounds, match="EPSG:4490"):
        check_bounds(Point(60.17, 24.94), 4490)


@given(
    lon=st.floats(-400, 400, allow_nan=False),
    lat=st.floats(-200, 200, allow_nan=False),
)
def test_check_bounds_agrees_with_the_ranges(lon: float, lat: float) -> None:
    inside = -180 <= lon <= 180 and -90 <= lat <= 90
    try:
        check_bounds(Point(lon, lat), CRS84)
    except GeometryOutOfBounds:
        assert not inside
    else:
        assert inside
