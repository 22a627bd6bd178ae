"""Evidence of a case: the image around it, as a small PNG with the outline drawn in."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np

__all__ = ["MAX_CHIP", "chip_png", "decode_png"]

#: The longest side of a chip, in pixels.
MAX_CHIP = 192
_PREFIX = "data:image/png;base64,"


def _to_rgb8(data: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(bands, rows, cols) float -> (rows, cols, 3) uint8; 8-bit data as is, else stretched."""
    rgb = data[:3] if data.shape[0] >= 3 else np.repeat(data[:1], 3, axis=0)
    vals = rgb[:, valid] if valid.any() else rgb.reshape(3, -1)
    lo, hi = 0.0, 255.0
    if vals.size and (float(vals.max()) > 255.0 or float(vals.min()) < 0.0):
        lo, hi = (float(v) for v in np.percentile(vals, [2, 98]))
        hi = hi if hi > lo else lo + 1.0
    out = np.clip((rgb - lo) / (hi - lo) * 255.0, 0, 255).astype(np.uint8)
    return np.moveaxis(out, 0, -1)


def chip_png(raster: Any, geom: Any, *, pad_px: int = 16, outline: bool = True) -> str:
    """A PNG data URI of ``raster`` around ``geom`` (in the raster's CRS).

    The chip spans the outline's bounds plus half its size (at least ``pad_px``) on each
    side, clipped to the image, and is scaled down to at most :data:`MAX_CHIP` pixels.
    """
    from PIL import Image, ImageDraw

    inv = ~raster.transform
    minx, miny, maxx, maxy = geom.bounds
    corners = [inv @ (x, y) for x, y in ((minx, miny), (minx, maxy), (maxx, miny), (maxx, maxy))]
    cols = [c for c, _ in corners]
    rows = [r for _, r in corners]
    rows_n, cols_n = raster.shape
    pad_r = max(pad_px, int((max(rows) - min(rows)) / 2))
    pad_c = max(pad_px, int((max(cols) - min(cols)) / 2))
    r0 = int(np.clip(np.floor(min(rows)) - pad_r, 0, rows_n - 1))
    r1 = int(np.clip(np.ceil(max(rows)) + pad_r, r0 + 1, rows_n))
    c0 = int(np.clip(np.floor(min(cols)) - pad_c, 0, cols_n - 1))
    c1 = int(np.clip(np.ceil(max(cols)) + pad_c, c0 + 1, cols_n))
    rgb = _to_rgb8(raster.data[:, r0:r1, c0:c1], raster.valid[r0:r1, c0:c1])
    img = Image.fromarray(rgb, mode="RGB")
    if outline and geom.geom_type == "Polygon":
        ring = [inv @ xy for xy in geom.exterior.coords]
        ImageDraw.Draw(img).line([(c - c0, r - r0) for c, r in ring], fill=(255, 40, 40), width=1)
    scale = MAX_CHIP / max(img.size)
    if scale < 1.0:
        size = (max(1, round(img.size[0] * scale)), max(1, round(img.size[1] * scale)))
        img = img.resize(size, Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return _PREFIX + base64.b64encode(buf.getvalue()).decode("ascii")


def decode_png(uri: str) -> bytes:
    """The PNG bytes of a chip's data URI."""
    if not uri.startswith(_PREFIX):
        msg = "not a PNG data URI"
        raise ValueError(msg)
    return base64.b64decode(uri[len(_PREFIX) :])
