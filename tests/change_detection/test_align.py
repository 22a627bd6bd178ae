"""Inputs and alignment: reading, warping, sub-pixel co-registration, normalisation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage as ndi

from change_detection.align import (
    align_pair,
    estimate_shift,
    normalise,
    shift_is_consistent,
    warp_onto,
)
from change_detection.errors import ImageReadError
from change_detection.raster import Raster, read_band_files, read_raster
from tests.change_detection.cd_helpers import texture, write_tif


@pytest.mark.parametrize("shift", [(0.37, -1.21), (2.5, 0.75), (-0.1, 0.05), (0.0, 0.0)])
def test_subpixel_shift_is_recovered(shift: tuple[float, float]) -> None:
    ref = texture((256, 256), seed=3)
    moved = np.stack([ndi.shift(b, shift, order=3, mode="nearest") for b in ref])
    got = estimate_shift(ref, moved)
    assert got == pytest.approx((-shift[0], -shift[1]), abs=0.06)


def test_align_pair_removes_a_subpixel_shift(tmp_path: Path) -> None:
    ref = texture((200, 200), seed=4)
    moved = np.stack([ndi.shift(b, (0.6, -0.4), order=3, mode="nearest") for b in ref])
    before = read_raster(write_tif(tmp_path / "a.tif", ref))
    after = read_raster(write_tif(tmp_path / "b.tif", moved * 1.1 + 5))
    pair = align_pair(before, after)
    assert pair.shift == pytest.approx((-0.6, 0.4), abs=0.08)
    inner = (slice(None), slice(10, -10), slice(10, -10))
    err = np.abs(pair.after.data[inner] - pair.before.data[inner]).mean()
    assert err < 2.0


def test_warp_from_another_crs_and_resolution(tmp_path: Path) -> None:
    """A later image in ETRS-TM35FIN at 0.8 m lands on the earlier UTM 35N 0.5 m grid."""
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    ref = texture((240, 240), seed=5)
    before = read_raster(write_tif(tmp_path / "a.tif", ref))
    dst_tf, w, h = calculate_default_transform(
        "EPSG:32635", "EPSG:3067", 240, 240, *before.bounds, resolution=0.8
    )
    other = np.zeros((3, h, w), np.float32)
    reproject(
        ref,
        other,
        src_transform=before.transform,
        src_crs="EPSG:32635",
        dst_transform=dst_tf,
        dst_crs="EPSG:3067",
        resampling=Resampling.cubic,
    )
    after = Raster(other, dst_tf, before.crs.from_epsg(3067), np.ones((h, w), bool))
    warped = warp_onto(after, before)
    assert warped.shape == before.shape and warped.crs == before.crs
    inner = (slice(None), slice(20, -20), slice(20, -20))
    corr = np.corrcoef(warped.data[inner].ravel(), ref[inner].ravel())[0, 1]
    assert corr > 0.95
    assert max(abs(v) for v in estimate_shift(ref[inner], warped.data[inner])) < 0.25


@pytest.mark.parametrize("method", ["pif", "histogram"])
def test_normalisation_undoes_a_gain_and_offset(method: str) -> None:
    before = texture((120, 120), seed=6)
    after = before * 1.3 + 12
    after[:, :20, :20] = 250  # real change: a new bright roof
    valid = np.ones(before.shape[1:], bool)
    out = normalise(after, before, valid, method=method)
    unchanged = (slice(None), slice(30, None), slice(30, None))
    assert np.abs(out[unchanged] - before[unchanged]).mean() < (1.0 if method == "pif" else 6.0)


def test_png_with_world_file_is_georeferenced(tmp_path: Path) -> None:
    from PIL import Image

    img = texture((50, 60), seed=7).transpose(1, 2, 0).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / "a.png")
    Image.fromarray(img).save(tmp_path / "plain.png")
    (tmp_path / "a.pgw").write_text("0.5\n0\n0\n-0.5\n385000.25\n6672000.25\n")
    geo = read_raster(tmp_path / "a.png")
    plain = read_raster(tmp_path / "plain.png")
    assert geo.georeferenced and geo.transform.c == pytest.approx(385000.0)
    assert not plain.georeferenced and plain.shape == (50, 60)


@pytest.mark.parametrize(
    ("name", "world"),
    [("a.jpg", "a.jgw"), ("a.jpeg", "a.wld"), ("a.png", "a.pngw"), ("a.tif", "a.tfw")],
)
def test_an_image_with_a_world_file_is_georeferenced(tmp_path: Path, name: str, world: str) -> None:
    from affine import Affine
    from PIL import Image

    img = texture((50, 60), seed=7).transpose(1, 2, 0).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / name)
    (tmp_path / world).write_text("0.5\n0\n0\n-0.5\n385000.25\n6672000.25\n")
    raster = read_raster(tmp_path / name)
    assert raster.georeferenced and raster.crs is None and raster.shape == (50, 60)
    assert raster.transform == Affine(0.5, 0.0, 385000.0, 0.0, -0.5, 6672000.5)


def test_the_format_is_told_by_the_content(tmp_path: Path) -> None:
    """A GeoTIFF named .png is read as the GeoTIFF it is; a text file named .tif is not
    read at all."""
    geo = read_raster(write_tif(tmp_path / "geo.png", texture((40, 50), seed=2)))
    assert geo.crs == "EPSG:32635" and geo.transform.c == 385_000.0
    (tmp_path / "text.tif").write_text("0.5\n0\n0\n-0.5\n385000.25\n6672000.25\n")
    with pytest.raises(ImageReadError, match="is not a GeoTIFF/COG, PNG or JPEG file"):
        read_raster(tmp_path / "text.tif")


@pytest.mark.parametrize("target", ["outside", "missing"])
def test_a_world_file_linked_out_of_the_folder_is_not_read(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, target: str
) -> None:
    """The answer is the same whether or not the file the link names exists."""
    from PIL import Image

    outside = tmp_path_factory.mktemp("outside")
    (outside / "a.pgw").write_text("0.5\n0\n0\n-0.5\n385000.25\n6672000.25\n")
    Image.fromarray(texture((50, 60), seed=7)[0].astype(np.uint8)).save(tmp_path / "a.png")
    (tmp_path / "a.pgw").symlink_to(outside / ("a.pgw" if target == "outside" else "gone.pgw"))
    with pytest.raises(ImageReadError) as err:
        read_raster(tmp_path / "a.png")
    assert str(err.value) == (
        f"world file {str(tmp_path / 'a.pgw')!r} of image path={str(tmp_path / 'a.png')!r} "
        "is a link out of the image's folder; it is not read"
    )


@pytest.mark.parametrize(
    "text", ["", "0.5\n0\n0\n-0.5\n385000.25\n", "0.5 0 0 -0.5 1 2", "0\n" * 6]
)
def test_a_world_file_that_is_not_six_numbers_is_an_error(tmp_path: Path, text: str) -> None:
    from PIL import Image

    Image.fromarray(texture((50, 60), seed=7)[0].astype(np.uint8)).save(tmp_path / "a.png")
    (tmp_path / "a.wld").write_text(text)
    with pytest.raises(ImageReadError, match=r"a.wld' of image path=.* does not hold six numbers"):
        read_raster(tmp_path / "a.png")


@pytest.mark.shared_data
@pytest.mark.parametrize("city", ["aguasclaras", "bercy", "bordeaux", "nantes", "paris", "rennes"])
def test_oscd_dates_align_on_the_label_grid(change_data: Path, city: str) -> None:
    """Both dates, with their 10/20/60 m bands, land on the date-1 10 m grid of the label."""
    folder = change_data / "oscd" / city
    names = ("B04", "B03", "B02", "B8A")
    d1 = read_band_files([next((folder / "imgs_1").glob(f"*_{b}.tif")) for b in names])
    d2 = read_band_files([next((folder / "imgs_2").glob(f"*_{b}.tif")) for b in names])
    label = read_raster(folder / "cm" / "cm.png", max_bands=1, allow_constant=True)
    assert d1.shape == label.shape
    pair = align_pair(d1, d2)
    assert pair.after.shape == label.shape
    assert max(abs(v) for v in pair.shift) < 1.0


def test_a_shift_the_quadrants_do_not_confirm_is_not_applied(tmp_path: Path) -> None:
    ref = texture((256, 256), seed=6)
    moved = np.stack([ndi.shift(b, (1.4, -0.7), order=3, mode="nearest") for b in ref])
    assert shift_is_consistent(ref, moved, estimate_shift(ref, moved)) is True
    # an unrelated later image: whatever peak the correlation finds, no quadrant confirms it
    other = texture((256, 256), seed=7)
    peak = estimate_shift(ref, other)
    assert shift_is_consistent(ref, other, peak) is False
    before = read_raster(write_tif(tmp_path / "a.tif", ref))
    assert align_pair(before, read_raster(write_tif(tmp_path / "b.tif", other))).shift == (0, 0)
    applied = align_pair(before, read_raster(write_tif(tmp_path / "c.tif", moved)))
    assert applied.shift == pytest.approx((-1.4, 0.7), abs=0.08)
    # too small to cut into quadrants of 64 pixels: not checked
    assert shift_is_consistent(ref[:, :100, :100], moved[:, :100, :100], (0.0, 0.0)) is None
