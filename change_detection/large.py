"""Images too large to hold in memory: when a run goes tile by tile, and its evidence.

A detection over images of more than :data:`AUTO_TILED_PIXELS` pixels runs tile by tile
on Dask (:func:`change_detection.tiled.detect_tiled`), from ``twin change detect`` and
from the ``detect-changes`` process alike; the before and after chips of its cases are
then read window by window (:func:`chip_pngs`), the later image through its view on the
earlier grid.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from affine import Affine

__all__ = ["AUTO_TILE", "AUTO_TILED_PIXELS", "Header", "chip_pngs", "header", "scheduler_setting"]

#: Images of more pixels than this run tile by tile unless told otherwise (5,000 px a
#: side; three float bands of both epochs, with the detector's work arrays, stay within
#: about 2 GB below it).
AUTO_TILED_PIXELS = 25_000_000
#: The tile side of a run that goes tile by tile by itself.
AUTO_TILE = 1024


@dataclass(frozen=True)
class Header:
    """What an image's header says: size, CRS and grid (the world file's if it has one)."""

    rows: int
    cols: int
    crs: Any
    transform: Affine

    @property
    def pixels(self) -> int:
        return self.rows * self.cols

    @property
    def georeferenced(self) -> bool:
        return not self.transform.is_identity

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        from rasterio.transform import array_bounds

        west, south, east, north = array_bounds(self.rows, self.cols, self.transform)
        return west, south, east, north


def header(path: str | os.PathLike[str]) -> Header:
    """The header of an image, read without its pixels (errors as for reading it)."""
    from change_detection.raster import _open_image

    with _open_image(path) as (src, grid):
        return Header(src.height, src.width, src.crs, grid)


def scheduler_setting() -> str:
    """Where the service's tiled runs go: ``TWIN_DASK_SCHEDULER`` (a Dask scheduler's
    address, or ``local`` for a local cluster), else ``sync``, in the job's own thread."""
    value = os.environ.get("TWIN_DASK_SCHEDULER", "").strip()
    return value or "sync"


def chip_pngs(
    before: str | os.PathLike[str], after: str | os.PathLike[str], geoms: list[Any]
) -> list[tuple[str, str]]:
    """The before and after chips (PNG data URIs) around each outline (in the earlier
    image's CRS), read window by window; as :func:`change_detection.evidence.chip_png`
    draws them from images in memory."""
    import numpy as np

    from change_detection.evidence import chip_png
    from change_detection.raster import Raster
    from change_detection.tiled import _data_bands, _pair, _read

    out: list[tuple[str, str]] = []
    with _pair(os.fspath(before), os.fspath(after)) as (src0, src1, grid):
        bands = min(3, len(_data_bands(src0)))
        inv = ~grid
        for geom in geoms:
            minx, miny, maxx, maxy = geom.bounds
            corners = [
                inv @ (x, y) for x, y in ((minx, miny), (minx, maxy), (maxx, miny), (maxx, maxy))
            ]
            cols = [c for c, _ in corners]
            rows = [r for _, r in corners]
            # chip_png pads by half the outline's size (at least 16 px): read that much
            pad_r = max(16, int((max(rows) - min(rows)) / 2)) + 1
            pad_c = max(16, int((max(cols) - min(cols)) / 2)) + 1
            r0 = max(0, int(np.floor(min(rows))) - pad_r)
            c0 = max(0, int(np.floor(min(cols))) - pad_c)
            r1 = min(src0.height, int(np.ceil(max(rows))) + pad_r)
            c1 = min(src0.width, int(np.ceil(max(cols))) + pad_c)
            window = (r0, c0, max(1, r1 - r0), max(1, c1 - c0))
            shift = grid @ Affine.translation(c0, r0)
            pngs = []
            for src in (src0, src1):
                data, valid = _read(src, window, bands)
                pngs.append(chip_png(Raster(data, shift, src0.crs, valid), geom))
            out.append((pngs[0], pngs[1]))
    return out
