"""Pixel sizes and patch areas on the ground, whatever the CRS of the images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.warp import Resampling, calculate_default_transform, reproject

from change_detection.objects import mask_to_patches
from change_detection.pipeline import detect_paths, metric_res
from change_detection.raster import read_raster
from change_detection.tiled import detect_tiled
from tests.change_detection.cd_helpers import texture, write_tif

#: The roof of the fixture: 30 x 40 px at 0.5 m, 15 x 20 m on the ground.
ROOF_M2 = 300.0


#: Map pixel sizes (x, y) of 0.5 x 0.5 m on the ground at the fixture's 60.18 N.
_HALF_METRE = {
    "EPSG:3857": (0.5 / np.cos(np.radians(60.18)),) * 2,
    "EPSG:4326": (0.5 / 55_500.0, 0.5 / 111_400.0),
}


def _to(src: Path, out: Path, crs: str) -> Path:
    """``src`` reprojected to ``crs`` with pixels of 0.5 x 0.5 m on the ground."""
    with rasterio.open(src) as ds:
        tf, w, h = calculate_default_transform(
            ds.crs, crs, ds.width, ds.height, *ds.bounds, resolution=_HALF_METRE[crs]
        )
        with rasterio.open(
            out, "w", **{**ds.profile, "crs": crs, "transform": tf, "width": w, "height": h}
        ) as dst:
            for i in range(1, ds.count + 1):
                reproject(
                    rasterio.band(ds, i), rasterio.band(dst, i), resampling=Resampling.bilinear
                )
    return out


@pytest.fixture
def utm_pair(tmp_path: Path) -> tuple[Path, Path]:
    """Two epochs at 0.5 m in UTM 35N (Helsinki, 60.2 N); a 15 x 20 m roof appears."""
    before = texture((200, 200), seed=41) * 0.5 + 40
    after = before.copy()
    after[:, 80:110, 70:110] = 235.0
    return write_tif(tmp_path / "a.tif", before), write_tif(tmp_path / "b.tif", after)


@pytest.mark.parametrize("crs", ["EPSG:3857", "EPSG:4326"])
def test_pixel_size_and_patch_area_are_ground_sizes(
    utm_pair: tuple[Path, Path], tmp_path: Path, crs: str
) -> None:
    """Web Mercator's metres are about half a ground metre at 60 N (the pixel came out
    1 m and the roof about 4 x its area); degrees were scaled by cos(lat) on both axes
    (the roof came out about half its area)."""
    a, b = (_to(p, tmp_path / f"{p.stem}_{crs[5:]}.tif", crs) for p in utm_pair)
    assert metric_res(read_raster(a)) == pytest.approx(0.5, rel=0.03)
    result = detect_paths(a, b, method="cva")
    assert result.res == pytest.approx(0.5, rel=0.03)
    patches = mask_to_patches(result)
    assert len(patches) == 1
    assert patches.area_m2.iloc[0] == pytest.approx(ROOF_M2, rel=0.1)
    tiled = detect_tiled(a, b, method="cva", tile=128, scheduler="sync", progress=False)
    assert tiled.area_m2.tolist() == pytest.approx([ROOF_M2], rel=0.1)


def test_metric_grids_keep_their_pixel_size(utm_pair: tuple[Path, Path]) -> None:
    """UTM's metres are ground metres: the pixel size and areas are the grid's, exactly."""
    a, b = utm_pair
    assert metric_res(read_raster(a)) == 0.5
    patches = mask_to_patches(detect_paths(a, b, method="cva"))
    assert patches.area_m2.iloc[0] == pytest.approx(ROOF_M2, rel=0.02)
    assert np.isclose(patches.area_m2.iloc[0] / 0.25, round(patches.area_m2.iloc[0] / 0.25))
