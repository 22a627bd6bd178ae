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


_VRT_TYPES = {"uint8": "Byte", "uint16": "UInt16", "float32": "Float32"}


def write_vrt(
    path: Path, like: Path, *, source: Path | None = None, metadata: dict[str, str] | None = None
) -> Path:
    """Write a GDAL VRT at ``path`` on the grid of the image ``like`` whose bands are read
    from ``source`` (``like`` by default), named by its absolute path wherever it is, with
    ``metadata`` items."""
    from xml.sax.saxutils import escape

    import rasterio

    with rasterio.open(like) as ds:
        width, height, count = ds.width, ds.height, ds.count
        kind = _VRT_TYPES[ds.dtypes[0]]
        wkt = ds.crs.to_wkt() if ds.crs else ""
        geo = ", ".join(repr(v) for v in ds.transform.to_gdal())
    name = escape(str((source or like).resolve()))
    bands = "".join(
        f'<VRTRasterBand dataType="{kind}" band="{i}"><SimpleSource>'
        f'<SourceFilename relativeToVRT="0">{name}</SourceFilename>'
        f"<SourceBand>{i}</SourceBand></SimpleSource></VRTRasterBand>"
        for i in range(1, count + 1)
    )
    items = "".join(f'<MDI key="{k}">{escape(v)}</MDI>' for k, v in (metadata or {}).items())
    path.write_text(
        f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">'
        f"<SRS>{escape(wkt)}</SRS><GeoTransform>{geo}</GeoTransform>"
        f"<Metadata>{items}</Metadata>{bands}</VRTDataset>"
    )
    return path


def roof_over_a_seam(folder: Path) -> tuple[Path, Path]:
    """Two epochs of 256 x 256 px at 0.5 m; in the later one a 24 x 20 m roof appears
    over the seam of 128 px tiles (cols 110-150, rows 100-148)."""
    before = texture((256, 256), seed=21) * 0.5 + 40
    after = before.copy()
    after[:, 100:148, 110:150] = 230
    return write_tif(folder / "a.tif", before), write_tif(folder / "b.tif", after)
