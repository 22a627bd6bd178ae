"""Pixels to objects, and tiling whose seams neither split nor duplicate a patch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely
from affine import Affine

from change_detection.objects import merge_pieces, patches_from_pieces, pieces, regularise
from change_detection.tiled import detect_tiled, tile_windows
from tests.change_detection.cd_helpers import roof_over_a_seam, write_tif

TF = Affine(0.5, 0, 385000.0, 0, -0.5, 6672000.0)


def _patches(mask: np.ndarray, **kw: float):
    score = mask.astype(np.float32)
    items = pieces(mask, score, score, TF)
    return patches_from_pieces(items, crs="EPSG:32635", res=0.5, threshold=0.5, **kw)


def test_minimum_mapping_unit_and_shape_filters() -> None:
    mask = np.zeros((100, 100), bool)
    mask[10:30, 10:34] = True  # 10 x 12 m roof: kept
    mask[50:54, 50:54] = True  # 4 m2 speckle: dropped by the MMU
    mask[70:73, 5:95] = True  # 1.5 x 45 m strip: dropped as too elongated
    out = _patches(mask, mmu_m2=20.0, max_elongation=8.0)
    assert len(out) == 1
    row = out.iloc[0]
    assert row.area_m2 == 120.0 and row.direction == "appeared"
    assert 0.5 < row.confidence <= 1.0
    assert row.geometry.area == pytest.approx(120.0)


def test_regularise_rectangle_and_ragged_outline() -> None:
    rough = shapely.Polygon([(0, 0), (10, 0), (10, 6), (9.5, 6), (9.5, 6.5), (0, 6.5)])
    rect = regularise(rough)
    assert len(rect.exterior.coords) == 5 and rect.area == pytest.approx(rough.area, rel=0.05)
    ell = shapely.union(shapely.box(0, 0, 20, 4), shapely.box(0, 0, 4, 20))
    assert regularise(ell).area == pytest.approx(ell.area, rel=0.05)


def test_pieces_cut_by_a_seam_merge_into_one() -> None:
    mask = np.zeros((40, 80), bool)
    mask[10:30, 30:50] = True
    left = pieces(
        mask[:, :40],
        mask[:, :40] * 1.0,
        mask[:, :40] * 1.0,
        TF,
        open_edges=(False, False, False, True),
    )
    right_tf = TF @ Affine.translation(40, 0)
    right = pieces(
        mask[:, 40:],
        mask[:, 40:] * 1.0,
        mask[:, 40:] * 1.0,
        right_tf,
        open_edges=(False, False, True, False),
    )
    merged = merge_pieces(left + right)
    assert len(merged) == 1 and merged[0].pixels == 400
    assert merged[0].geometry.area == pytest.approx(400 * 0.25)


def test_tile_windows_cover_the_grid_once() -> None:
    wins = tile_windows(300, 500, 128)
    cover = np.zeros((300, 500), int)
    for r, c, h, w in wins:
        cover[r : r + h, c : c + w] += 1
    assert (cover == 1).all()


@pytest.fixture
def straddling(tmp_path: Path) -> tuple[Path, Path]:
    return roof_over_a_seam(tmp_path)


def test_a_roof_across_a_tile_edge_is_one_patch(straddling: tuple[Path, Path]) -> None:
    a, b = straddling
    small = detect_tiled(a, b, method="cva", tile=128, overlap=16, scheduler="sync", progress=False)
    whole = detect_tiled(a, b, method="cva", tile=512, overlap=16, scheduler="sync", progress=False)
    assert len(small) == len(whole) == 1
    roof = shapely.box(385000 + 55, 6672000 - 74, 385000 + 75, 6672000 - 50)
    for frame in (small, whole):
        geom = frame.geometry.iloc[0]
        assert geom.intersection(roof).area / geom.union(roof).area > 0.9
    # Spline shifts near a window edge can move a few boundary pixels, never a patch.
    assert small.area_m2.iloc[0] == pytest.approx(whole.area_m2.iloc[0], rel=0.01)


def _png(path: Path, data: np.ndarray, world: str) -> Path:
    from PIL import Image

    Image.fromarray(np.clip(data, 0, 255).astype(np.uint8).transpose(1, 2, 0)).save(path)
    path.with_suffix(".pgw").write_text(world)
    return path


def test_tiled_places_patches_by_the_world_files(straddling: tuple[Path, Path]) -> None:
    """PNGs with world files and no CRS: the patches lie where the world files put them,
    and two different grids are refused rather than compared pixel by pixel."""
    import rasterio

    from twin.errors import InvalidInput

    a, b = straddling
    world = "0.5\n0\n0\n-0.5\n385000.25\n6671999.75\n"
    with rasterio.open(a) as ds_a, rasterio.open(b) as ds_b:
        pa = _png(a.with_suffix(".png"), ds_a.read(), world)
        pb = _png(b.with_suffix(".png"), ds_b.read(), world)
    found = detect_tiled(
        pa, pb, method="cva", tile=128, overlap=16, scheduler="sync", progress=False, res=0.5
    )
    roof = shapely.box(385000 + 55, 6672000 - 74, 385000 + 75, 6672000 - 50)
    assert len(found) == 1
    geom = found.geometry.iloc[0]
    assert geom.intersection(roof).area / geom.union(roof).area > 0.9
    pb.with_suffix(".pgw").write_text(world.replace("385000.25", "385010.25"))
    with pytest.raises(InvalidInput, match="both images in a CRS, or both on one pixel grid"):
        detect_tiled(pa, pb, method="cva", tile=128, scheduler="sync", progress=False, res=0.5)


@pytest.mark.slow
def test_tiled_on_a_local_dask_cluster(straddling: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = straddling
    out = tmp_path / "mask.tif"
    patches = detect_tiled(
        a, b, method="cva", tile=128, overlap=16, n_workers=1, progress=False, mask_path=out
    )
    assert len(patches) == 1 and out.is_file()


def test_tile_reads_at_the_edge_use_the_opened_file(tmp_path: Path) -> None:
    """A window hanging over the grid's edge is read from the file as it was opened and
    padded as nodata; a file put in its place afterwards (here a VRT naming an image
    outside the folder) is never read."""
    from change_detection.raster import _open_image
    from change_detection.tiled import _read
    from tests.change_detection.cd_helpers import write_vrt

    folder, outside = tmp_path / "images", tmp_path / "outside"
    folder.mkdir()
    outside.mkdir()
    image = write_tif(folder / "after.tif", np.full((3, 40, 40), 10.0))
    secret = write_tif(outside / "secret.tif", np.full((3, 40, 40), 250.0))
    with _open_image(image) as (ds, _):
        swapped = write_vrt(folder / "swap.vrt", secret)
        swapped.replace(image)
        data, valid = _read(ds, (30, -5, 20, 20), 3)
    assert data.shape == (3, 20, 20) and valid.shape == (20, 20)
    assert valid[:10, 5:].all() and not valid[10:].any() and not valid[:, :5].any()
    assert (data[:, :10, 5:] == 10.0).all()
    assert (data[:, 10:] == 0.0).all() and (data[:, :, :5] == 0.0).all()
