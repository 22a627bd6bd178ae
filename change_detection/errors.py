"""Errors of the change detection package, each part of the twin's :class:`TwinError` tree."""

from __future__ import annotations

from twin.errors import InvalidInput, NotComputable, TwinError

__all__ = [
    "BandMismatch",
    "EmptyImage",
    "ImageReadError",
    "ImagesDoNotOverlap",
    "MaskWriteError",
    "UnknownDetector",
]


class ImageReadError(InvalidInput):
    """A file that cannot be read as a raster (missing, truncated, not an image)."""


class EmptyImage(InvalidInput):
    """An image with no pixels, only nodata, or one constant value."""


class BandMismatch(InvalidInput):
    """Two epochs whose band counts differ."""


class ImagesDoNotOverlap(NotComputable):
    """Two epochs that share no ground."""


class UnknownDetector(InvalidInput, LookupError):
    """A detector name that no detector is registered under."""


class MaskWriteError(TwinError, OSError):
    """An output path that cannot be written."""

    status = 400
    code = "InvalidParameterValue"
