"""City-scale detection: tile by tile, in bounded memory, on Dask.

The later image is read through a warped view onto the earlier grid, one window at a time.
A calibration pass over a few sample tiles fixes everything that must be the same for
every tile (the misregistration shift, the radiometric gains, the intensity scale and the
score threshold). Each tile is then scored with an overlap margin, so that the detector
sees the neighbourhood of its edge pixels, but only its core is kept: every pixel is
decided by exactly one tile. Pieces of patches cut by a tile edge are merged afterwards
(:func:`~change_detection.objects.merge_pieces`), so seams neither split nor duplicate a
patch.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from affine import Affine

from change_detection.align import estimate_shift
from change_detection.detectors import Detector, get_detector
from change_detection.errors import BandMismatch, EmptyImage, ImagesDoNotOverlap
from change_detection.objects import Piece, merge_pieces, patches_from_pieces, pieces
from change_detection.raster import _open_image
from twin.errors import InvalidInput

__all__ = ["Calibration", "detect_tiled", "tile_windows"]

log = logging.getLogger(__name__)

#: Side of the sample windows of the calibration pass (independent of the tile size, so
#: that a result does not depend on how the job was cut).
_CALIBRATION_TILE = 512


@dataclass(frozen=True)
class Calibration:
    """What every tile shares: shift (row, col), per-band gain and offset, scale, threshold."""

    shift: tuple[float, float]
    gain: tuple[float, ...]
    offset: tuple[float, ...]
    scale: float
    threshold: float
    res: float


def tile_windows(rows: int, cols: int, tile: int) -> list[tuple[int, int, int, int]]:
    """Core windows (row_off, col_off, height, width) covering a grid without overlap."""
    return [
        (r, c, min(tile, rows - r), min(tile, cols - c))
        for r in range(0, rows, tile)
        for c in range(0, cols, tile)
    ]


def _data_bands(ds: Any) -> list[int]:
    """The bands of a dataset that hold data (1-based): all but alpha bands, which are its
    mask, as in :func:`~change_detection.raster.read_raster`."""
    from rasterio.enums import ColorInterp

    return [i + 1 for i, ci in enumerate(ds.colorinterp) if ci != ColorInterp.alpha] or [1]


@contextmanager
def _pair(before: str, after: str) -> Iterator[tuple[Any, Any, Affine]]:
    """The earlier dataset, a view of the later one on the earlier grid, and that grid's
    geotransform (a world file's, if the image has none of its own).

    The view's mask is the later image's validity carried onto the earlier grid: its
    nodata or alpha, and the ground it does not cover.
    """
    from rasterio.enums import ColorInterp, Resampling
    from rasterio.transform import array_bounds
    from rasterio.vrt import WarpedVRT

    from change_detection.align import _crs_error, check_overlap

    with ExitStack() as stack:
        src0, grid = stack.enter_context(_open_image(before))
        src1, grid1 = stack.enter_context(_open_image(after))
        same = src0.crs == src1.crs and grid == grid1
        if same and src0.shape == src1.shape:
            yield src0, src1, grid
            return
        if src0.crs is None or src1.crs is None:
            msg = "tiled detection needs both images in a CRS, or both on one pixel grid"
            raise InvalidInput(msg)
        check_overlap(
            array_bounds(src1.height, src1.width, grid1),
            src1.crs,
            array_bounds(src0.height, src0.width, grid),
            src0.crs,
        )
        # GDAL marks what the later image does not cover in an alpha band of the view
        # (without one, uncovered ground reads as valid zeros); an image with an alpha band
        # of its own has it carried over instead.
        alpha = ColorInterp.alpha not in src1.colorinterp
        with _crs_error(src1.crs, src0.crs):
            vrt = stack.enter_context(
                WarpedVRT(
                    src1,
                    src_transform=grid1,
                    crs=src0.crs,
                    transform=grid,
                    width=src0.width,
                    height=src0.height,
                    resampling=Resampling.bilinear,
                    add_alpha=alpha,
                )
            )
        yield src0, vrt, grid


def _read(ds: Any, window: tuple[int, int, int, int], bands: int) -> tuple[np.ndarray, np.ndarray]:
    """Read the first ``bands`` data bands of a window, padding outside the grid; returns
    (data, valid), valid where the dataset's mask (nodata, alpha) says so.

    The part inside the grid is read and padded here: rasterio's boundless reads open
    the file again by name through a VRT of their own, without the one driver the image
    was opened with (see :func:`change_detection.raster._open_image`).
    """
    from rasterio.windows import Window

    r, c, h, w = window
    data = np.zeros((bands, h, w), dtype=np.float32)
    valid = np.zeros((h, w), dtype=bool)
    r0, c0 = max(r, 0), max(c, 0)
    r1, c1 = min(r + h, ds.height), min(c + w, ds.width)
    if r1 <= r0 or c1 <= c0:
        return data, valid
    win = Window(c0, r0, c1 - c0, r1 - r0)
    inner = (slice(r0 - r, r1 - r), slice(c0 - c, c1 - c))
    data[(slice(None), *inner)] = ds.read(_data_bands(ds)[:bands], window=win)
    valid[inner] = ds.dataset_mask(window=win) > 0
    finite = np.isfinite(data)
    if not finite.all():  # NaN and infinite values are nodata, as in read_raster
        valid &= finite.all(axis=0)
        data[~finite] = 0.0
    return data, valid


def _any_valid(ds: Any, tile: int) -> bool:
    """Whether any pixel of a dataset is valid (its mask read window by window)."""
    from rasterio.windows import Window

    for r, c, h, w in tile_windows(ds.height, ds.width, tile):
        if (ds.dataset_mask(window=Window(c, r, w, h)) > 0).any():
            return True
    return False


def _no_common_ground(before: str, after: str, tile: int) -> EmptyImage | ImagesDoNotOverlap:
    """The error when no sample tile is valid in both epochs, as the in-memory path says
    it: an image all nodata, or no pixel valid in both."""
    for path in (before, after):
        with _open_image(path) as (ds, _):
            if not _any_valid(ds, tile):
                return EmptyImage(f"image {path!r} is empty or all nodata")
    return ImagesDoNotOverlap(
        "the images do not overlap: no sample tile has pixels valid in both epochs"
    )


def _prepare(
    src0: Any, src1: Any, window: tuple[int, int, int, int], cal: Calibration, bands: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from scipy import ndimage as ndi

    d0, v0 = _read(src0, window, bands)
    d1, v1 = _read(src1, window, bands)
    if cal.shift != (0.0, 0.0):
        d1 = np.stack([ndi.shift(b, cal.shift, order=3, mode="nearest") for b in d1])
        v1 = ndi.shift(v1.astype(np.float32), cal.shift, order=1, mode="constant") > 0.999
    gain = np.asarray(cal.gain, dtype=np.float32)[:, None, None]
    offset = np.asarray(cal.offset, dtype=np.float32)[:, None, None]
    d1 = d1 * gain + offset
    return d0 / cal.scale, d1 / cal.scale, v0 & v1


def _calibrate(
    before: str, after: str, detector: Detector, *, tile: int, samples: int, res: float | None
) -> tuple[Calibration, int]:
    from change_detection.align import normalise
    from change_detection.ground import ground_pixel
    from change_detection.pipeline import metric_res, unit_scale
    from change_detection.raster import Raster

    with _pair(before, after) as (src0, src1, grid0):
        n0, n1 = len(_data_bands(src0)), len(_data_bands(src1))
        if n0 != n1:
            msg = f"the epochs have different band counts: before={n0!r}, after={n1!r}"
            raise BandMismatch(msg)
        bands = min(n0, 4)
        pixel = res
        if pixel is None and src0.crs is not None:  # at the centre of the grid
            pixel = ground_pixel(src0.crs, grid0, (src0.height, src0.width))
        elif pixel is None:
            grid = Raster(np.zeros((1, 1, 1)), grid0, src0.crs, np.ones((1, 1), bool))
            pixel = metric_res(grid)
        wins = tile_windows(src0.height, src0.width, tile)
        step = max(1, len(wins) // samples)
        picked = wins[len(wins) % step // 2 :: step][:samples]
        b0, b1, ok, shifts, used = [], [], [], [], []
        for win in picked:
            d0, v0 = _read(src0, win, bands)
            d1, v1 = _read(src1, win, bands)
            v = v0 & v1
            if v.mean() < 0.2:
                continue
            shifts.append(estimate_shift(d0, d1, valid=v))
            used.append(win)
            b0.append(d0)
            b1.append(d1)
            ok.append(v)
        if not ok:
            raise _no_common_ground(before, after, tile)
        shift = (float(np.median([s[0] for s in shifts])), float(np.median([s[1] for s in shifts])))
        if max(abs(shift[0]), abs(shift[1])) > 8.0:
            shift = (0.0, 0.0)
        cat0 = np.concatenate([d[:, v] for d, v in zip(b0, ok, strict=True)], axis=1)[:, None, :]
        cat1 = np.concatenate([d[:, v] for d, v in zip(b1, ok, strict=True)], axis=1)[:, None, :]
        flat = np.ones(cat0.shape[1:], dtype=bool)
        for path, cat in ((before, cat0), (after, cat1)):
            if float(cat.max()) == float(cat.min()):
                msg = (
                    f"image {path!r} holds one constant value ({float(cat.min())!r}) over "
                    "the sampled tiles: nothing to compare"
                )
                raise EmptyImage(msg)
        fitted = normalise(cat1, cat0, flat)
        gains, offsets = [], []
        for i in range(bands):
            g, o = np.polyfit(cat1[i].ravel()[::7], fitted[i].ravel()[::7], 1)
            gains.append(float(g))
            offsets.append(float(o))
        scale = unit_scale(cat0, flat)
        draft = Calibration(shift, tuple(gains), tuple(offsets), scale, 0.0, pixel)
        scores = []
        for win in used:
            x0, x1, valid = _prepare(src0, src1, win, draft, bands)
            s, _ = detector.score(x0, x1, valid, res=pixel)
            scores.append(s[valid])
        threshold = detector.auto_threshold(np.concatenate(scores))
    cal = Calibration(shift, tuple(gains), tuple(offsets), scale, threshold, pixel)
    log.info("calibrated on %d tiles: %s", len(ok), cal)
    return cal, bands


def _run_tile(
    before: str,
    after: str,
    method: str,
    core: tuple[int, int, int, int],
    overlap: int,
    cal: Calibration,
    bands: int,
    shape: tuple[int, int],
    want_mask: bool,
) -> tuple[tuple[int, int, int, int], list[Piece], np.ndarray | None]:
    """Detect on one tile with its margin; return the core's pieces (and mask)."""
    from rasterio.windows import Window, transform

    detector = get_detector(method)
    r, c, h, w = core
    outer = (r - overlap, c - overlap, h + 2 * overlap, w + 2 * overlap)
    with _pair(before, after) as (src0, src1, grid):
        x0, x1, valid = _prepare(src0, src1, outer, cal, bands)
        tf = transform(Window(c, r, w, h), grid)
    det = detector.detect(x0, x1, valid, res=cal.res, threshold=cal.threshold)
    inner = (slice(overlap, overlap + h), slice(overlap, overlap + w))
    mask = det.mask[inner]
    rows, cols = shape
    edges = (r > 0, r + h < rows, c > 0, c + w < cols)
    out = pieces(mask, det.score[inner], det.direction[inner], tf, open_edges=edges)
    return core, out, (mask.astype(np.uint8) if want_mask else None)


def detect_tiled(
    before: str | os.PathLike[str],
    after: str | os.PathLike[str],
    *,
    method: str = "building",
    tile: int = 1024,
    overlap: int = 64,
    scheduler: str | None = None,
    n_workers: int = 2,
    progress: bool = True,
    mask_path: str | os.PathLike[str] | None = None,
    calibration_tiles: int = 6,
    res: float | None = None,
    **patch_options: Any,
) -> Any:
    """Detect change patches over two large images, tile by tile.

    Parameters
    ----------
    before, after
        Image paths; ``after`` is warped onto ``before``'s grid window by window.
    method
        Detector name.
    tile, overlap
        Core tile size and margin, in pixels.
    scheduler
        ``None`` starts a local Dask cluster of ``n_workers`` processes; ``"sync"`` runs
        in this process; anything else is a Dask scheduler address (``tcp://host:8786``).
    n_workers
        Workers of the local cluster.
    progress
        Show a progress bar.
    mask_path
        Also write the 0/255 mask there (PNG or GeoTIFF), atomically.
    calibration_tiles
        Sample tiles that fix the shift, gains, scale and threshold.
    res
        Pixel size in metres, within :data:`~change_detection.pipeline.RES_RANGE` (from
        the grid when ``None``).
    patch_options
        Passed to :func:`~change_detection.objects.patches_from_pieces`.

    Returns
    -------
    geopandas.GeoDataFrame
        The change patches, in the earlier image's CRS; ``attrs["shift"]`` is the
        misregistration (rows, cols) the calibration measured.
    """
    from tqdm.auto import tqdm

    from change_detection.pipeline import check_res

    before, after = os.fspath(before), os.fspath(after)
    detector = get_detector(method)
    res = check_res(res)
    if tile < 64 or overlap < 0:
        msg = f"tile={tile!r} must be >= 64 and overlap={overlap!r} >= 0"
        raise InvalidInput(msg)
    cal, bands = _calibrate(
        before, after, detector, tile=_CALIBRATION_TILE, samples=calibration_tiles, res=res
    )
    with _pair(before, after) as (src0, _, gtf):
        shape, crs = (src0.height, src0.width), src0.crs
    cores = tile_windows(*shape, tile)
    want = mask_path is not None
    mask = np.zeros(shape, dtype=np.uint8) if want else None
    args = (before, after, method)
    found: list[Piece] = []
    bar = tqdm(total=len(cores), desc="change tiles", unit="tile", disable=not progress)

    def collect(result: tuple[tuple[int, int, int, int], list[Piece], np.ndarray | None]) -> None:
        (r, c, h, w), items, part = result
        found.extend(items)
        if mask is not None and part is not None:
            mask[r : r + h, c : c + w] = part
        bar.update(1)

    try:
        if scheduler == "sync":
            for core in cores:
                collect(_run_tile(*args, core, overlap, cal, bands, shape, want))
        else:
            with _client(scheduler, n_workers) as client:
                from distributed import as_completed

                futures = [
                    client.submit(
                        _run_tile, *args, core, overlap, cal, bands, shape, want, pure=False
                    )
                    for core in cores
                ]
                for fut in as_completed(futures):
                    collect(fut.result())
    finally:
        bar.close()
    patches = patches_from_pieces(
        merge_pieces(found), crs=crs, res=cal.res, threshold=cal.threshold, **patch_options
    )
    if mask is not None and mask_path is not None:
        from change_detection.raster import write_mask

        write_mask(mask > 0, mask_path, transform=gtf, crs=crs)
    log.info("%d tiles, %d patches", len(cores), len(patches))
    patches.attrs["shift"] = cal.shift
    return patches


@contextmanager
def _client(address: str | None, n_workers: int) -> Iterator[Any]:
    from distributed import Client, LocalCluster

    if address:
        with Client(address) as client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client
