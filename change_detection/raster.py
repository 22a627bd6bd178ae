"""Reading the two epochs and writing masks: GeoTIFF, COG, PNG or JPEG, with or without a
world file.

An image without georeferencing gets the identity transform and ``georeferenced=False``:
two such images are taken as aligned pixel grids.

Images are read only as GeoTIFF/COG, PNG or JPEG, formats whose content cannot make GDAL
read another file. The format is told by the file's first bytes, not its name, and
GDAL is given that one driver: a GDAL VRT (which names source files anywhere, or
``/vsicurl/`` URLs), or any other format, is refused before GDAL reads it.

The one file beside an image that is read is its world file (``a.pgw``, ``a.pngw`` or
``a.wld`` for ``a.png``; ``a.tfw`` for ``a.tif``), when the image holds no geotransform of
its own, and only if it is in the image's folder, not a link out of it. GDAL would also
open a mask (``a.png.msk``), overviews or metadata (``.aux``, ``.aux.xml``) found there,
with any driver, a VRT among them; it is told the image's folder is empty
(``GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR``) while an image is read, so those are not.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from affine import Affine

from change_detection.errors import EmptyImage, ImageReadError, MaskWriteError
from twin.files import new_file_mode

__all__ = [
    "MASK_SUFFIXES",
    "Raster",
    "discard_mask",
    "mask_world_file",
    "move_mask",
    "read_band_files",
    "read_raster",
    "write_mask",
]

log = logging.getLogger(__name__)

_MASK_DRIVERS = {".png": "PNG", ".tif": "GTiff", ".tiff": "GTiff"}

#: The extensions a mask may be written with.
MASK_SUFFIXES = frozenset(_MASK_DRIVERS)

# The formats images are read in, by their first bytes (TIFF and BigTIFF in both byte
# orders), and the GDAL driver of each: none of them can name another file to read.
_SIGNATURES = (
    (b"II*\x00", "GTiff"),
    (b"MM\x00*", "GTiff"),
    (b"II+\x00", "GTiff"),
    (b"MM\x00+", "GTiff"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
)

# While an image is read GDAL takes its folder for empty, so that it opens no file beside
# it: it would open a mask (.msk), overviews (.ovr, .aux) or metadata (.aux.xml) with any
# driver. The world file is read here instead.
_READ_OPTIONS = {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"}

# Bytes of a world file read: six numbers take far fewer.
_WORLD_FILE_BYTES = 4096


@dataclass(frozen=True)
class Raster:
    """An image held in memory: bands, grid and validity.

    Attributes
    ----------
    data
        ``float32`` array of shape (bands, rows, cols).
    transform
        Pixel-to-map affine transform (the identity when not georeferenced).
    crs
        A ``rasterio.crs.CRS``, or ``None``.
    valid
        Boolean array (rows, cols), ``True`` where every band holds data.
    georeferenced
        Whether the file carried a geotransform (a world file counts).
    """

    data: np.ndarray
    transform: Affine
    crs: Any
    valid: np.ndarray
    georeferenced: bool = True

    @property
    def count(self) -> int:
        """Number of bands."""
        return int(self.data.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols)."""
        return int(self.data.shape[1]), int(self.data.shape[2])

    @property
    def res(self) -> float:
        """Pixel size in map units (the mean of both axes)."""
        return float((abs(self.transform.a) + abs(self.transform.e)) / 2.0)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in map units."""
        from rasterio.transform import array_bounds

        rows, cols = self.shape
        west, south, east, north = array_bounds(rows, cols, self.transform)
        return float(west), float(south), float(east), float(north)


def _driver(path: str | os.PathLike[str]) -> str:
    """The GDAL driver that reads ``path``, told by its first bytes: GeoTIFF/COG, PNG or
    JPEG, and nothing else."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as exc:
        msg = f"image path={str(path)!r} cannot be read: {exc.strerror}"
        raise ImageReadError(msg) from None
    for signature, driver in _SIGNATURES:
        if head.startswith(signature):
            return driver
    msg = (
        f"image path={str(path)!r} is not a GeoTIFF/COG, PNG or JPEG file: images are read "
        "only in these formats, whose content cannot make GDAL read other files (a VRT's can)"
    )
    raise ImageReadError(msg)


def _world_file(path: Path, driver: str) -> Path | None:
    """The world file beside ``path`` where GDAL would look for it, if there is one: for
    ``a.png`` ``a.pgw``, ``a.pngw`` or ``a.wld`` (``a.jpw`` too for a JPEG), in lower or
    upper case."""
    ext = path.suffix[1:]
    names = [ext[0] + ext[-1] + "w", ext + "w"] if len(ext) >= 2 else []
    names += ["jpw", "wld"] if driver == "JPEG" else ["wld"]
    for name in names:
        for case in (name.lower(), name.upper()):
            world = path.with_suffix("." + case)
            if os.path.lexists(world):
                return world
    return None


def _world_transform(world: Path, image: Path) -> Affine:
    """The geotransform a world file gives ``image`` (its six numbers name the centre of
    the upper-left pixel)."""
    shown = f"world file {str(world)!r} of image path={str(image)!r}"
    try:
        inside = world.resolve().parent == image.parent.resolve()
    except (OSError, RuntimeError):
        inside = False
    if not inside:
        # said before anything is read, so it does not tell whether the link's target exists
        msg = f"{shown} is a link out of the image's folder; it is not read"
        raise ImageReadError(msg)
    try:
        with open(world, "rb") as f:
            text = f.read(_WORLD_FILE_BYTES).decode("utf-8", errors="replace")
    except OSError as exc:
        msg = f"{shown} cannot be read: {exc.strerror}"
        raise ImageReadError(msg) from None
    lines = [line.strip() for line in text.splitlines() if line.strip()][:6]
    try:
        values = [float(line) for line in lines]
    except ValueError:
        values = []
    if len(values) < 6 or not all(map(math.isfinite, values)) or 0.0 in (values[0], values[3]):
        msg = (
            f"{shown} does not hold six numbers, one a line (pixel width, two rotations, "
            "pixel height, then x and y of the upper-left pixel's centre)"
        )
        raise ImageReadError(msg)
    a, d, b, e, x, y = values
    return Affine(a, b, x - a / 2 - b / 2, d, e, y - d / 2 - e / 2)


@contextmanager
def _open_image(path: str | os.PathLike[str]) -> Iterator[tuple[Any, Affine]]:
    """An image open for reading, and its geotransform (the identity when it has none).

    GDAL opens it with the one driver its first bytes name and opens no file beside it
    (:data:`_READ_OPTIONS`) while the context lasts; the geotransform is the image's own,
    else that of its world file.
    """
    import rasterio
    from rasterio.errors import RasterioIOError

    p = Path(path)
    if not p.is_file():
        msg = f"image path={str(path)!r} does not exist or is not a file"
        raise ImageReadError(msg)
    # GDAL is given this one driver, so it cannot take the file for another format (for
    # reading, rasterio.open takes one driver name: a list of them is a TypeError)
    driver = _driver(p)
    if driver == "PNG":
        _check_png(p)
    with rasterio.Env(**_READ_OPTIONS):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", category=rasterio.errors.NotGeoreferencedWarning)
                ds = rasterio.open(p, driver=driver)
        except RasterioIOError as exc:
            msg = f"image path={str(path)!r} is not a readable raster: {exc}"
            raise ImageReadError(msg) from exc
        with ds:
            transform = ds.transform
            if transform.is_identity:
                world = _world_file(p, driver)
                if world is not None:
                    transform = _world_transform(world, p)
            yield ds, transform


def read_raster(
    path: str | os.PathLike[str], *, max_bands: int | None = None, allow_constant: bool = False
) -> Raster:
    """Read an image file whole.

    Pixels that are nodata, masked, or NaN or infinite in any band are not valid (and
    hold 0 in ``data``).

    Parameters
    ----------
    path
        A GeoTIFF/COG, or a PNG/JPEG with or without a world file.
    max_bands
        Keep at most this many bands (alpha bands are always dropped and used as validity).
    allow_constant
        Accept an image of one value (a label with no change, say).

    Returns
    -------
    Raster

    Raises
    ------
    ImageReadError
        The file is missing, damaged or truncated, or not a GeoTIFF/COG, PNG or JPEG file; or its
        world file is not six numbers, or is a link out of the image's folder.
    EmptyImage
        The image has no valid pixel, or one constant value.
    """
    from rasterio.enums import ColorInterp
    from rasterio.errors import RasterioError

    with _open_image(path) as (ds, transform):
        try:
            keep = [i + 1 for i, ci in enumerate(ds.colorinterp) if ci != ColorInterp.alpha] or [1]
            if max_bands is not None:
                keep = keep[:max_bands]
            data = ds.read(keep).astype(np.float32)
            valid = ds.dataset_mask() > 0
        except (RasterioError, ValueError) as exc:
            msg = (
                f"image path={str(path)!r} is damaged or truncated: its pixels could not be "
                f"decoded ({_gdal_reason(exc)})"
            )
            raise ImageReadError(msg) from exc
        # NaN and infinite values are nodata, whether or not the file declares a nodata value
        finite = np.isfinite(data)
        if not finite.all():
            valid &= finite.all(axis=0)
            data[~finite] = 0.0
        georeferenced = ds.crs is not None or not transform.is_identity
        raster = Raster(data, transform, ds.crs, valid, georeferenced)
    if not allow_constant:
        check_not_empty(raster, name=str(path))
    return raster


def _gdal_reason(exc: BaseException) -> str:
    """GDAL's own words for a failed read: rasterio's 'Read failed. See previous exception
    for details.' chains the error that says what failed."""
    reason = exc.__cause__ or exc.__context__
    return str(reason if reason is not None else exc).strip()


#: Bytes of a PNG's zlib stream decompressed at a time while it is checked.
_PNG_CHUNK_READ = 1 << 20


def _check_png(path: Path) -> None:
    """Refuse a damaged or truncated PNG: every chunk whole with its CRC right, an IEND
    chunk, and an image stream (IDAT) that decompresses to its end.

    GDAL's PNG driver reads a truncated file without an error, its missing rows as zeros.
    """
    import zlib

    def damaged(why: str) -> ImageReadError:
        return ImageReadError(f"image path={str(path)!r} is damaged or truncated: {why}")

    stream = zlib.decompressobj()
    with open(path, "rb") as f:
        f.seek(8)  # the signature, checked by _driver
        while True:
            head = f.read(8)
            if len(head) < 8:
                raise damaged("the PNG ends before its IEND chunk")
            length, kind = int.from_bytes(head[:4], "big"), head[4:]
            crc = zlib.crc32(kind)
            left = length
            while left > 0:
                part = f.read(min(left, _PNG_CHUNK_READ))
                if not part:
                    raise damaged(f"the PNG ends inside a {kind.decode('latin-1')!r} chunk")
                left -= len(part)
                crc = zlib.crc32(part, crc)
                if kind == b"IDAT" and not stream.eof:
                    try:
                        stream.decompress(part, _PNG_CHUNK_READ)
                        while stream.unconsumed_tail:
                            stream.decompress(stream.unconsumed_tail, _PNG_CHUNK_READ)
                    except zlib.error as exc:
                        raise damaged(f"its image data does not decompress ({exc})") from None
            stored = f.read(4)
            if len(stored) < 4:
                raise damaged(f"the PNG ends inside a {kind.decode('latin-1')!r} chunk")
            if int.from_bytes(stored, "big") != crc:
                raise damaged(f"the CRC of a {kind.decode('latin-1')!r} chunk is wrong")
            if kind == b"IEND":
                break
    if not stream.eof:
        raise damaged("its image data (IDAT) ends before the end of its zlib stream")


def check_not_empty(raster: Raster, *, name: str) -> None:
    """Raise :class:`EmptyImage` for an image with no usable pixel (NaN and infinite
    values count as nodata)."""
    usable = raster.valid
    if raster.data.size:
        usable = usable & np.isfinite(raster.data).all(axis=0)
    if raster.data.size == 0 or not usable.any():
        msg = f"image {name!r} is empty or all nodata"
        raise EmptyImage(msg)
    vals = raster.data[:, usable]
    if float(vals.max()) == float(vals.min()):
        msg = f"image {name!r} holds one constant value ({float(vals.min())!r}): nothing to compare"
        raise EmptyImage(msg)


def read_band_files(paths: Sequence[str | os.PathLike[str]]) -> Raster:
    """Stack single-band files (a Sentinel-2 tile, say) on the grid of the finest band.

    Coarser bands are resampled bilinearly onto the finest band's grid, so that every
    band lines up pixel for pixel.
    """
    from rasterio.enums import Resampling
    from rasterio.warp import reproject

    if not paths:
        msg = "paths=[] names no band file"
        raise ImageReadError(msg)
    bands = [read_raster(p, max_bands=1) for p in paths]
    ref = min(bands, key=lambda r: r.res)
    out = np.zeros((len(bands), *ref.shape), dtype=np.float32)
    valid = np.ones(ref.shape, dtype=bool)
    for i, band in enumerate(bands):
        if band.shape == ref.shape and band.transform == ref.transform and band.crs == ref.crs:
            out[i] = band.data[0]
            valid &= band.valid
            continue
        reproject(
            band.data[0],
            out[i],
            src_transform=band.transform,
            src_crs=band.crs,
            dst_transform=ref.transform,
            dst_crs=ref.crs,
            resampling=Resampling.bilinear,
        )
    return Raster(out, ref.transform, ref.crs, valid, ref.georeferenced)


def mask_world_file(path: str | os.PathLike[str]) -> Path | None:
    """The world file :func:`write_mask` writes beside a PNG mask (``a.pgw`` for
    ``a.png``); ``None`` for a GeoTIFF, which holds its own geotransform."""
    out = Path(path)
    return out.with_suffix(".pgw") if _MASK_DRIVERS.get(out.suffix.lower()) == "PNG" else None


def _world_text(transform: Affine) -> str:
    """A world file's six lines for ``transform`` (x and y of the upper-left pixel's centre)."""
    t = transform
    x, y = t.c + t.a / 2 + t.b / 2, t.f + t.d / 2 + t.e / 2
    return "".join(f"{v!r}\n" for v in (t.a, t.d, t.b, t.e, x, y))


def _replace_world(image: Path, text: str | None) -> None:
    """Write ``text`` as the world file of the mask ``image`` (atomically), or remove the
    one there when ``text`` is ``None``."""
    world = mask_world_file(image)
    if world is None:
        return
    if text is None:
        world.unlink(missing_ok=True)
        return
    fd, tmp = tempfile.mkstemp(prefix=".mask-", suffix=".pgw", dir=image.parent)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(text)
        os.chmod(tmp, new_file_mode())
        os.replace(tmp, world)
    finally:
        Path(tmp).unlink(missing_ok=True)


def move_mask(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Rename a mask written by :func:`write_mask` and its world file (if any) over ``dst``."""
    world = mask_world_file(src)
    text = world.read_text(encoding="ascii") if world is not None and world.exists() else None
    _replace_world(Path(dst), text)
    os.replace(src, dst)
    if world is not None:
        world.unlink(missing_ok=True)


def discard_mask(path: str | os.PathLike[str]) -> None:
    """Remove a mask written by :func:`write_mask` and its world file, if there."""
    Path(path).unlink(missing_ok=True)
    world = mask_world_file(path)
    if world is not None:
        world.unlink(missing_ok=True)


def write_mask(
    mask: np.ndarray,
    path: str | os.PathLike[str],
    *,
    transform: Affine | None = None,
    crs: Any = None,
) -> Path:
    """Write a boolean mask as a 0/255 ``uint8`` image, atomically.

    The format follows the extension (``.png``, ``.tif``/``.tiff``). The image is written
    to a temporary file beside the target and renamed, so a failed write leaves nothing.
    A GeoTIFF holds its georeferencing; a georeferenced PNG mask gets a world file beside
    it (``mask.pgw``, see :func:`mask_world_file`), which :func:`read_raster` reads (a PNG
    holds no CRS: the mask's is the earlier image's).

    Raises
    ------
    MaskWriteError
        Unknown extension, missing folder or no permission.
    """
    import rasterio
    from rasterio.errors import RasterioError

    out = Path(path)
    driver = _MASK_DRIVERS.get(out.suffix.lower())
    if driver is None:
        msg = (
            f"mask path={str(path)!r} has an unknown extension; use one of {sorted(_MASK_DRIVERS)}"
        )
        raise MaskWriteError(msg)
    if not out.parent.is_dir():
        msg = f"mask path={str(path)!r}: folder {str(out.parent)!r} does not exist"
        raise MaskWriteError(msg)
    rows, cols = mask.shape
    profile: dict[str, Any] = {
        "driver": driver,
        "width": cols,
        "height": rows,
        "count": 1,
        "dtype": "uint8",
    }
    georef = transform is not None and (crs is not None or not transform.is_identity)
    if georef:
        profile["transform"] = transform
        if crs is not None:
            profile["crs"] = crs
    if driver == "GTiff":
        profile["compress"] = "deflate"
    try:
        fd, tmp = tempfile.mkstemp(prefix=".mask-", suffix=out.suffix, dir=out.parent)
    except OSError as exc:
        msg = f"mask path={str(path)!r} cannot be written: {exc.strerror}"
        raise MaskWriteError(msg) from exc
    os.close(fd)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=rasterio.errors.NotGeoreferencedWarning)
            with rasterio.open(tmp, "w", **profile) as dst:
                dst.write((mask.astype(bool) * 255).astype(np.uint8), 1)
        # the temporary file was made private; the mask gets what a new file normally gets
        os.chmod(tmp, new_file_mode())
        # A PNG holds no geotransform: it goes to a world file beside it (none when the
        # mask has no georeferencing, and a stale one of an earlier mask goes)
        world = (
            _world_text(transform) if transform is not None and georef and driver == "PNG" else None
        )
        _replace_world(out, world)
        os.replace(tmp, out)
    except (OSError, RasterioError) as exc:
        msg = f"mask path={str(path)!r} cannot be written: {exc}"
        raise MaskWriteError(msg) from exc
    finally:
        for leftover in (Path(tmp), Path(tmp + ".aux.xml")):
            if leftover.exists():
                leftover.unlink()
    log.info("wrote %s (%d changed pixels)", out, int(mask.sum()))
    return out
