"""Raster helpers shared by the change detection tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage as ndi


def texture(shape: tuple[int, int], *, seed: int = 0, bands: int = 3) -> np.ndarray:
    """A smooth random texture (bands, rows, cols) in 20..220."""
    rng = np.random.default_rng(seed)
    out = np.stack([ndi.gaussian_filter(rng.random(shape), 2.0) for _ in range(bands)])
    out = (out - out.min()) / (out.max() - out.min())
    return (20 + 200 * out).astype(np.float32)


def write_tif(
    path: Path,
    data: np.ndarray,
    *,
    crs: Any = "EPSG:32635",
    origin: tuple[float, float] = (385_000.0, 6_672_000.0),
    res: float = 0.5,
    nodata: float | None = None,
) -> Path:
    """Write (bands, rows, cols) as a uint8 GeoTIFF."""
    import rasterio
    from rasterio.transform import from_origin

    profile = {
        "driver": "GTiff",
        "width": data.shape[2],
        "height": data.shape[1],
        "count": data.shape[0],
        "dtype": "uint8",
        "crs": crs,
        "transform": from_origin(origin[0], origin[1], res, res),
        "nodata": nodata,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.clip(np.round(data), 0, 255).astype(np.uint8))
    return path
