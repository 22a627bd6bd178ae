"""A later image on another grid or CRS: what warping it keeps valid, and the CRSs it refuses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from change_detection.align import warp_onto
from change_detection.pipeline import detect_pair
from change_detection.raster import read_raster
from tests.change_detection.cd_helpers import texture, write_tif
from twin.errors import InvalidInput


def _reprojected(src: Path, out: Path, crs: Any, *, nodata: float | None = 0) -> Path:
    """``src`` reprojected to ``crs`` (nearest, so nodata pixels stay nodata)."""
    import rasterio
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    with rasterio.open(src) as ds:
        tf, w, h = calculate_default_transform(ds.crs, crs, ds.width, ds.height, *ds.bounds)
        profile = {**ds.profile, "crs": crs, "transform": tf, "width": w, "height": h}
        profile["nodata"] = nodata
        with rasterio.open(out, "w", **profile) as dst:
            for i in range(1, ds.count + 1):
                reproject(
                    rasterio.band(ds, i),
                    rasterio.band(dst, i),
                    resampling=Resampling.nearest,
                    src_nodata=nodata,
                    dst_nodata=nodata,
                )
    return out


@pytest.mark.parametrize("crs", ["EPSG:3067", "EPSG:4326"])
def test_nodata_of_a_warped_later_image_stays_invalid(tmp_path: Path, crs: str) -> None:
    """The later image's nodata quadrant (nodata=0) in another CRS: warped onto the earlier
    grid it must be invalid, and nothing is detected there (GDAL turned the 0s of the
    validity band into 1s, so the quadrant counted as valid black and came out changed)."""
    before = texture((200, 200), seed=11)
    after = before.copy()
    after[:, :100, :100] = 0.0
    a = write_tif(tmp_path / "a.tif", before)
    b = _reprojected(write_tif(tmp_path / "b.tif", after, nodata=0), tmp_path / "b2.tif", crs)
    warped = warp_onto(read_raster(b), read_raster(a))
    assert not warped.valid[5:95, 5:95].any()
    assert warped.valid[110:190, 110:190].all()
    result = detect_pair(read_raster(a), read_raster(b), method="cva")
    # (two nearest resamplings may move the quadrant's edge by a pixel)
    assert not result.mask[:96, :96].any()


def test_a_later_image_in_a_local_crs_is_refused_naming_both(tmp_path: Path) -> None:
    """An engineering (LOCAL_CS) CRS has no transformation to UTM: an input error naming
    both CRSs, not GDAL's CPLE_NotSupportedError."""
    from rasterio.crs import CRS

    data = texture((64, 64), seed=2)
    a = write_tif(tmp_path / "a.tif", data)
    local = CRS.from_wkt('LOCAL_CS["site grid",UNIT["metre",1]]')
    b = write_tif(tmp_path / "b.tif", data, crs=local, origin=(385_001.5, 6_672_000.0))
    with pytest.raises(InvalidInput, match=r"'site grid'.*'EPSG:32635'"):
        detect_pair(read_raster(a), read_raster(b), method="cva")


def test_the_cli_refuses_a_local_crs_with_exit_2_and_writes_nothing(tmp_path: Path) -> None:
    from click.testing import CliRunner
    from rasterio.crs import CRS

    from twin.cli import cli

    data = texture((64, 64), seed=2)
    a = write_tif(tmp_path / "a.tif", data)
    local = CRS.from_wkt('LOCAL_CS["site grid",UNIT["metre",1]]')
    b = write_tif(tmp_path / "b.tif", data, crs=local)
    out = tmp_path / "m.tif"
    res = CliRunner().invoke(cli, ["change", "detect", str(a), str(b), "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert "site grid" in res.output and "EPSG:32635" in res.output
    assert not out.exists()
