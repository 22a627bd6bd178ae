"""The tiled path reads its inputs as the in-memory path does: the same valid pixels, bands
and errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

from change_detection.errors import EmptyImage, ImagesDoNotOverlap
from change_detection.pipeline import detect_paths
from change_detection.tiled import detect_tiled
from tests.change_detection.cd_helpers import texture, write_tif

_ORIGIN = (385_000.0, 6_672_000.0)


def _tiled(a: Path, b: Path, **kw: object) -> object:
    return detect_tiled(
        a, b, method="cva", tile=128, overlap=16, scheduler="sync", progress=False, **kw
    )


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """BEFORE (256 x 256 px at 0.5 m) and its later image's bands: a new roof."""
    before = texture((256, 256), seed=31) * 0.6 + 40
    after = before.copy()
    after[:, 150:190, 170:220] = 235.0
    return write_tif(tmp_path / "a.tif", before), before, after


def test_ground_the_later_image_does_not_cover_is_not_change(
    pair: tuple[Path, np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    """The later image covers the right half only: the warped view read the left half as
    valid zeros (read_masks gave 255 everywhere), and flagged it as change."""
    a, _, after = pair
    b = write_tif(tmp_path / "b.tif", after[:, :, 128:], origin=(_ORIGIN[0] + 64, _ORIGIN[1]))
    out = tmp_path / "m.tif"
    patches = _tiled(a, b, mask_path=out)
    with rasterio.open(out) as ds:
        mask = ds.read(1) > 0
    assert not mask[:, :128].any()
    assert mask[150:190, 170:220].mean() > 0.9
    assert len(patches) == 1


def test_an_alpha_band_is_a_mask_not_a_band(
    pair: tuple[Path, np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    """An RGBA later image against an RGB earlier one: the in-memory path takes alpha as the
    mask; the tiled path raised BandMismatch (3 against 4 bands)."""
    a, _, after = pair
    rgb = write_tif(tmp_path / "rgb.tif", after)
    with rasterio.open(rgb) as ds:
        profile = {**ds.profile, "count": 4, "photometric": "RGB", "alpha": "YES"}
        bands = ds.read()
    rgba = tmp_path / "rgba.tif"
    with rasterio.open(rgba, "w", **profile) as dst:
        dst.write(np.concatenate([bands, np.full_like(bands[:1], 255)]))
    with rasterio.open(rgba) as ds:
        assert ds.count == 4 and ds.colorinterp[3] == rasterio.enums.ColorInterp.alpha
    got = _tiled(a, rgba)
    want = _tiled(a, rgb)
    assert len(got) == len(want) == 1
    assert got.area_m2.tolist() == want.area_m2.tolist()
    assert detect_paths(a, rgba, method="cva").mask.sum() > 0


def test_errors_are_those_of_the_in_memory_path(
    pair: tuple[Path, np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    """A later image 10 km away does not overlap (tiled said 'one constant value'); an
    all-nodata one is empty (tiled said 'do not overlap')."""
    a, _, after = pair
    far = write_tif(tmp_path / "far.tif", after, origin=(_ORIGIN[0] + 10_000, _ORIGIN[1]))
    empty = write_tif(tmp_path / "empty.tif", np.zeros_like(after), nodata=0)
    for run in (_tiled, lambda x, y: detect_paths(x, y, method="cva")):
        with pytest.raises(ImagesDoNotOverlap, match="the images do not overlap"):
            run(a, far)
        with pytest.raises(EmptyImage, match=r"empty\.tif' is empty or all nodata"):
            run(a, empty)
