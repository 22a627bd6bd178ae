"""One pair of epochs in memory, from files to a change mask on the earlier grid."""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
from affine import Affine

from change_detection.align import AlignedPair, Normalisation, align_pair
from change_detection.detectors import Detection, Detector, get_detector
from change_detection.ground import ground_pixel
from change_detection.raster import Raster, read_raster
from twin.errors import InvalidInput

__all__ = [
    "RES_RANGE",
    "ChangeResult",
    "check_res",
    "detect_pair",
    "detect_paths",
    "metric_res",
    "unit_scale",
]

log = logging.getLogger(__name__)

#: The pixel sizes, in metres, a detection may be told to assume (both ends included):
#: from 1 cm (drone imagery) to 1 km.
RES_RANGE: tuple[float, float] = (0.01, 1000.0)


@dataclass(frozen=True)
class ChangeResult:
    """The outcome of a detection on one pair, on the earlier image's grid."""

    detection: Detection
    transform: Affine
    crs: Any
    res: float
    shift: tuple[float, float]

    @property
    def mask(self) -> np.ndarray:
        """Boolean change mask."""
        return self.detection.mask


def unit_scale(data: np.ndarray, valid: np.ndarray) -> float:
    """A scalar that brings bright surfaces of an image to about 1 (its 99th percentile)."""
    if not valid.any():
        return 1.0
    bright = data[: min(3, data.shape[0])].max(axis=0)[valid]
    step = max(1, bright.size // 200_000)
    value = float(np.percentile(bright[::step], 99))
    return value if value > 0 else 1.0


def check_res(res: float | None, *, name: str = "res") -> float | None:
    """Check a pixel size given in metres: ``None``, or a finite number in :data:`RES_RANGE`.

    Raises
    ------
    InvalidInput
        Not a number, not finite, or outside the range.
    """
    if res is None:
        return None
    low, high = RES_RANGE
    try:
        value = float(res)
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(res, bool) or not math.isfinite(value) or not low <= value <= high:
        msg = f"{name}={res!r} must be a pixel size in metres from {low:g} to {high:g}"
        raise InvalidInput(msg)
    return value


def metric_res(raster: Raster) -> float:
    """The pixel size in metres on the ground at the image's centre (1.0 when not
    georeferenced; map units without a CRS are taken as metres); see
    :func:`~change_detection.ground.ground_pixel`."""
    if not raster.georeferenced:
        return 1.0
    if raster.crs is None:
        return raster.res
    return ground_pixel(raster.crs, raster.transform, raster.shape)


def detect_pair(
    before: Raster,
    after: Raster,
    *,
    method: str | Detector = "building",
    register: bool = True,
    normalisation: Normalisation | str = Normalisation.PIF,
    res: float | None = None,
    threshold: float | None = None,
) -> ChangeResult:
    """Align two epochs and run a detector.

    Parameters
    ----------
    before, after
        The epochs; ``after`` is warped onto ``before``'s grid.
    method
        A detector name (see :func:`~change_detection.detectors.detector_names`) or object.
    register, normalisation
        See :func:`~change_detection.align.align_pair`.
    res
        Pixel size in metres, within :data:`RES_RANGE`; taken from the grid when ``None``
        (1 m without georeferencing).
    threshold
        A fixed score threshold; automatic when ``None``.

    Returns
    -------
    ChangeResult
    """
    res = check_res(res)
    detector = get_detector(method) if isinstance(method, str) else method
    pair: AlignedPair = align_pair(before, after, register=register, normalisation=normalisation)
    scale = unit_scale(pair.before.data, pair.valid)
    pixel = metric_res(before) if res is None else res
    det = detector.detect(
        pair.before.data / scale,
        pair.after.data / scale,
        pair.valid,
        res=pixel,
        threshold=threshold,
    )
    return ChangeResult(det, before.transform, before.crs, pixel, pair.shift)


def detect_paths(
    before: str | os.PathLike[str],
    after: str | os.PathLike[str],
    *,
    method: str = "building",
    **options: Any,
) -> ChangeResult:
    """Read two image files and run :func:`detect_pair` (the detector and ``res`` are
    checked first)."""
    detector = get_detector(method)
    check_res(options.get("res"))
    return detect_pair(read_raster(before), read_raster(after), method=detector, **options)
