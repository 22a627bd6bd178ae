"""Reading damaged images, and the georeferencing of the masks written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from change_detection.errors import ImageReadError
from change_detection.raster import read_raster
from tests.change_detection.cd_helpers import texture, write_tif
from twin.cli import cli


def _png(path: Path, data: np.ndarray) -> Path:
    from PIL import Image

    Image.fromarray(np.clip(data, 0, 255).astype(np.uint8).transpose(1, 2, 0)).save(path)
    return path


def _detect(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["change", "detect", *args])
    return result.exit_code, result.output


def test_a_truncated_png_is_refused(tmp_path: Path) -> None:
    """GDAL reads a PNG cut short without an error, its missing rows as zeros (42 % of a
    pair flagged as change); it is a read error naming the file, and nothing is written."""
    a = _png(tmp_path / "a.png", texture((160, 160), seed=1))
    whole = _png(tmp_path / "whole.png", texture((160, 160), seed=2))
    cut = tmp_path / "cut.png"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 3])
    assert read_raster(whole).shape == (160, 160)
    with pytest.raises(ImageReadError, match=r"cut\.png' is damaged or truncated"):
        read_raster(cut)
    out = tmp_path / "mask.png"
    code, text = _detect(str(a), str(cut), "--out", str(out))
    assert code == 2 and "damaged or truncated" in text, text
    assert not out.exists()


def test_a_png_with_a_damaged_chunk_is_refused(tmp_path: Path) -> None:
    whole = _png(tmp_path / "whole.png", texture((96, 96), seed=2))
    data = bytearray(whole.read_bytes())
    data[len(data) // 2] ^= 0xFF  # a byte of the image data
    bad = tmp_path / "bad.png"
    bad.write_bytes(bytes(data))
    with pytest.raises(ImageReadError, match=r"bad\.png' is damaged or truncated"):
        read_raster(bad)


def test_a_truncated_tiff_names_the_file_and_the_damage(tmp_path: Path) -> None:
    """It said 'Read failed. See previous exception for details.'"""
    whole = write_tif(tmp_path / "whole.tif", texture((64, 64), seed=2))
    cut = tmp_path / "cut.tif"
    cut.write_bytes(whole.read_bytes()[:300])
    with pytest.raises(ImageReadError) as info:
        read_raster(cut)
    text = str(info.value)
    assert f"image path={str(cut)!r} is damaged or truncated" in text
    assert "See previous exception" not in text


@pytest.mark.parametrize("patches", [False, True])
def test_a_png_mask_keeps_the_grid_of_a_georeferenced_before(tmp_path: Path, patches: bool) -> None:
    """A PNG holds no geotransform; the mask had none (write_mask removed GDAL's .aux.xml
    and wrote no world file), so it lost BEFORE's grid. With --patches the mask is written
    beside its target first and renamed: its world file goes with it."""
    a = write_tif(tmp_path / "a.tif", texture((96, 96), seed=1))
    b = write_tif(tmp_path / "b.tif", texture((96, 96), seed=2))
    out = tmp_path / "mask.png"
    extra = ["--patches", str(tmp_path / "p.geojson")] if patches else []
    code, text = _detect(str(a), str(b), "--out", str(out), "--method", "cva", *extra)
    assert code == 0, text
    mask, before = read_raster(out, allow_constant=True), read_raster(a)
    assert mask.georeferenced and mask.transform == before.transform
    assert mask.shape == before.shape
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("mask")) == [
        "mask.pgw",
        "mask.png",
    ]
    assert not list(tmp_path.glob(".mask-*"))


def test_a_png_mask_of_images_without_georeferencing_has_no_world_file(tmp_path: Path) -> None:
    """...and a world file left by an earlier mask of that name goes, or it would place the
    new mask."""
    a = _png(tmp_path / "a.png", texture((96, 96), seed=1))
    b = _png(tmp_path / "b.png", texture((96, 96), seed=2))
    out = tmp_path / "mask.png"
    (tmp_path / "mask.pgw").write_text("0.5\n0\n0\n-0.5\n385000.25\n6671999.75\n")
    code, text = _detect(str(a), str(b), "--out", str(out), "--method", "cva")
    assert code == 0, text
    assert not (tmp_path / "mask.pgw").exists()
    assert not read_raster(out, allow_constant=True).georeferenced
