"""The demo epochs generator and the classification of patches against the registry."""

from __future__ import annotations

import hashlib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely

from change_detection.classify import classify_patches, object_scores
from change_detection.store_io import permit_features
from change_detection.synth import osm_buildings, render_epochs, truth_mask
from tests.conftest import HELSINKI
from twin.errors import InvalidInput

CRS = "EPSG:32635"


@pytest.fixture(scope="module")
def helsinki_buildings() -> gpd.GeoDataFrame:
    return osm_buildings(HELSINKI)


def _crop(frame: gpd.GeoDataFrame, half: float = 90.0) -> tuple[float, float, float, float]:
    utm = frame.to_crs(CRS)
    minx, miny, maxx, maxy = utm.total_bounds
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    return (cx - half, cy - half, cx + half, cy + half)


def test_osm_buildings_from_the_shipped_extract(helsinki_buildings: gpd.GeoDataFrame) -> None:
    assert len(helsinki_buildings) > 400
    assert helsinki_buildings.crs.to_epsg() == 4326
    assert helsinki_buildings.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).all()


def test_render_epochs_is_reproducible_and_returns_the_truth(
    helsinki_buildings: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    bounds = _crop(helsinki_buildings)
    one = render_epochs(
        helsinki_buildings,
        tmp_path / "one",
        seed=5,
        crs=CRS,
        bounds=bounds,
        n_permitted=1,
        n_unpermitted=2,
        n_extended=0,
    )
    two = render_epochs(
        helsinki_buildings,
        tmp_path / "two",
        seed=5,
        crs=CRS,
        bounds=bounds,
        n_permitted=1,
        n_unpermitted=2,
        n_extended=0,
    )
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (one.after, two.after)]
    assert digest[0] == digest[1]
    with rasterio.open(one.before) as ds:
        assert ds.crs.to_epsg() == 32635 and ds.res == (0.5, 0.5) and ds.count == 3
        assert (ds.width, ds.height) == (360, 360)
    kinds = one.truth["kind"].value_counts().to_dict()
    assert kinds.get("new_permitted") == 1 and kinds.get("new_unpermitted") == 2
    assert kinds.get("demolished") == 1
    new = one.truth[one.truth["kind"].str.startswith("new")]
    assert not new.intersects(shapely.union_all(one.buildings.geometry.values)).any()
    assert len(one.permits) == 2  # one valid, one expired
    assert max(abs(v) for v in one.shift) < 1.0
    assert truth_mask(one).sum() > 0


def _frame(rows: list[dict], crs: str = CRS) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)


def test_classification_of_each_kind_of_patch() -> None:
    box = shapely.box
    buildings = _frame([{"geometry": box(0, 0, 20, 20)}, {"geometry": box(100, 0, 120, 20)}])
    permits = _frame(
        [
            {
                "permit_no": "P-1",
                "valid_from": pd.Timestamp("2022-01-01"),
                "valid_to": pd.Timestamp("2024-01-01"),
                "geometry": box(48, 48, 72, 72),
            },
            {
                "permit_no": "P-2",
                "valid_from": pd.Timestamp("2019-01-01"),
                "valid_to": pd.Timestamp("2020-01-01"),
                "geometry": box(148, 48, 172, 72),
            },
        ]
    )

    def patch(geom: shapely.Polygon, direction: str, confidence: float = 0.8) -> dict:
        return {
            "geometry": geom,
            "direction": direction,
            "confidence": confidence,
            "rectangularity": 0.9,
        }

    patches = _frame(
        [
            patch(box(50, 50, 70, 70), "appeared"),  # inside a valid permit
            patch(box(150, 50, 170, 70), "appeared"),  # its permit expired
            patch(box(250, 50, 270, 70), "appeared"),  # nothing: suspected illegal
            patch(box(100, 0, 120, 20), "disappeared"),  # an existing building vanished
            patch(box(20, 0, 28, 20), "appeared"),  # an extension of building 1
            patch(box(300, 50, 320, 70), "appeared", confidence=0.1),  # weak evidence
        ]
    )
    out = classify_patches(patches, buildings, permits, at="2023-06-01")
    assert out["class"].tolist() == [
        "new_permitted",
        "new_unpermitted",
        "new_unpermitted",
        "demolished",
        "changed_footprint",
        "not_a_building",
    ]
    assert out["permit_no"].tolist()[0] == "P-1"
    assert out["suspected_illegal"].tolist() == [False, True, True, False, False, False]


def test_a_permit_without_its_number_permits_without_naming_one() -> None:
    """A permit kept without a number (pandas 3 reads the gap as NaN) made the patch's
    permit number the text 'nan'; a frame of permits to store must name every number."""
    box = shapely.box
    valid = {"valid_from": pd.Timestamp("2022-01-01"), "valid_to": pd.NaT}
    permits = _frame(
        [
            {"permit_no": None, **valid, "geometry": box(48, 48, 72, 72)},
            {"permit_no": 7, **valid, "geometry": box(148, 48, 172, 72)},
        ]
    )
    rows = [
        {"geometry": g, "direction": "appeared", "confidence": 0.8, "rectangularity": 0.9}
        for g in (box(50, 50, 70, 70), box(150, 50, 170, 70))
    ]
    none = gpd.GeoDataFrame(geometry=[], crs=CRS)
    out = classify_patches(_frame(rows), none, permits, at="2023-06-01")
    assert out["class"].tolist() == ["new_permitted", "new_permitted"]
    assert [None if pd.isna(v) else v for v in out["permit_no"]] == [None, "7"]
    with pytest.raises(InvalidInput, match=r"permit 0 \(row 1\) has no permit_no"):
        permit_features(permits)


def test_a_frame_of_permits_must_give_days_in_order() -> None:
    permits = _frame(
        [
            {
                "permit_no": "P-2",
                "valid_from": pd.Timestamp("2024-01-01"),
                "valid_to": pd.Timestamp("2022-01-01"),
                "geometry": shapely.box(0, 0, 10, 10),
            }
        ]
    )
    with pytest.raises(InvalidInput, match=r"permit 'P-2' \(row 1\) has valid_end 2022-01-01"):
        permit_features(permits)
    permits["valid_to"] = pd.Timestamp("2024-01-01T00:00:00")
    assert permit_features(permits)[0].properties["valid_end"] == "2024-01-01T00:00:00Z"


def test_a_permit_time_with_a_zone_is_written_in_utc() -> None:
    permits = _frame(
        [
            {
                "permit_no": "P-3",
                "valid_from": pd.Timestamp("2024-01-01T02:00:00+03:00"),
                "valid_to": pd.Timestamp("2024-06-30T23:30:00-02:00"),
                "geometry": shapely.box(0, 0, 10, 10),
            }
        ]
    )
    props = permit_features(permits)[0].properties
    assert props["valid_start"] == "2023-12-31T23:00:00Z"  # the day before, in UTC
    assert props["valid_end"] == "2024-07-01T01:30:00Z"


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        ("2023-08-20T00:00:00Z", "new_permitted"),
        ("2023-08-20T10:30:00Z", "new_permitted"),  # the last valid day, at half past ten
        ("2023-08-20T23:59:59Z", "new_permitted"),
        ("2023-08-20T10:30:00", "new_permitted"),  # no zone: UTC
        ("2023-08-21T00:00:00Z", "new_unpermitted"),  # the day after
        ("2022-03-01T08:00:00Z", "new_permitted"),  # the first day, before the hour given
        ("2022-02-28T23:59:59Z", "new_unpermitted"),  # the day before
    ],
)
def test_a_permit_is_valid_through_its_first_and_last_whole_days(at: str, expected: str) -> None:
    permits = _frame(
        [
            {
                "permit_no": "P-9",
                "valid_from": pd.Timestamp("2022-03-01T12:00:00Z"),
                "valid_to": pd.Timestamp("2023-08-20T00:00:00Z"),
                "geometry": shapely.box(-5, -5, 25, 25),
            }
        ]
    )
    patch = {"direction": "appeared", "confidence": 0.9, "rectangularity": 1.0}
    patches = _frame([{**patch, "geometry": shapely.box(0, 0, 20, 20)}])
    none = gpd.GeoDataFrame(geometry=[], crs=CRS)
    out = classify_patches(patches, none, permits, at=pd.Timestamp(at))
    assert out["class"].tolist() == [expected]


def test_an_extension_across_a_sliver_of_ground_is_not_a_new_building() -> None:
    box = shapely.box
    buildings = _frame([{"geometry": box(0, 0, 20, 20)}])
    permits = _frame(
        [
            {
                "permit_no": "P-9",
                "valid_from": pd.Timestamp("2022-01-01"),
                "valid_to": pd.NaT,
                "geometry": box(500, 500, 520, 520),
            }
        ]
    )
    rows = [
        {"geometry": g, "direction": "appeared", "confidence": 0.8, "rectangularity": 0.9}
        for g in (box(22.5, 0, 30, 20), box(26.0, 30, 36, 40))
    ]
    out = classify_patches(_frame(rows), buildings, permits, at="2023-06-01")
    # 2.5 m off the old footprint: an extension whose outline lost a sliver; 10 m: new.
    assert out["class"].tolist() == ["changed_footprint", "new_unpermitted"]


def test_object_scores_match_by_iou() -> None:
    truth = _frame(
        [
            {"kind": "new_unpermitted", "geometry": shapely.box(0, 0, 10, 10)},
            {"kind": "new_unpermitted", "geometry": shapely.box(50, 0, 60, 10)},
        ]
    )
    pred = _frame(
        [
            {"class": "new_unpermitted", "geometry": shapely.box(1, 1, 10, 10)},
            {"class": "new_unpermitted", "geometry": shapely.box(200, 0, 210, 10)},
        ]
    )
    s = object_scores(pred, truth)
    assert (s["matched"], s["precision"], s["recall"]) == (1, 0.5, 0.5)


@pytest.mark.slow
def test_detection_on_generated_epochs_finds_new_buildings(
    helsinki_buildings: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    from change_detection.objects import mask_to_patches
    from change_detection.pipeline import detect_paths

    scene = render_epochs(
        helsinki_buildings, tmp_path, seed=2, crs=CRS, bounds=_crop(helsinki_buildings, 150.0)
    )
    result = detect_paths(scene.before, scene.after)
    assert np.hypot(*(np.add(result.shift, scene.shift))) < 0.2  # shift undone
    patches = classify_patches(
        mask_to_patches(result), scene.buildings, scene.permits, at=scene.dates[1]
    )
    truth = scene.truth[scene.truth["kind"] == "new_unpermitted"]
    scores = object_scores(patches, truth, kind="new_unpermitted")
    assert scores["truth"] > 0 and scores["matched"] >= 1
