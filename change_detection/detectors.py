"""Change detectors behind one interface, chosen by name.

A detector turns two aligned epochs into a per-pixel change score; a threshold (automatic
by default, or fixed from a calibration sample) turns the score into a mask. A new
detector is one subclass of :class:`Detector` and one :func:`register` call (or one line
in the built-in table below).
"""

from __future__ import annotations

import importlib
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from change_detection.errors import UnknownDetector

__all__ = [
    "CVADetector",
    "Detection",
    "Detector",
    "detector_names",
    "get_detector",
    "otsu_threshold",
    "register",
]

log = logging.getLogger(__name__)

#: Built-in detectors, name -> "module:Class"; imported on first use.
_BUILTIN = {
    "building": "change_detection.building:BuildingDetector",
    "building_new": "change_detection.building:NewNeighbourhoodDetector",
    "cva": "change_detection.detectors:CVADetector",
    "siamese": "change_detection.siamese:SiameseDetector",
}
_REGISTRY: dict[str, type[Detector]] = {}


@dataclass(frozen=True)
class Detection:
    """A detector's output on one pair.

    Attributes
    ----------
    score
        ``float32`` change score per pixel, higher is more change.
    mask
        Boolean change mask.
    threshold
        The threshold applied to ``score``.
    direction
        ``float32`` per pixel: positive where something appeared (built), negative where it
        disappeared (demolished), zero when the detector cannot tell.
    """

    score: np.ndarray
    mask: np.ndarray
    threshold: float
    direction: np.ndarray


class Detector(ABC):
    """Two aligned epochs in, a change score and mask out.

    Subclasses implement :meth:`score`; they may override :meth:`auto_threshold` and
    :meth:`clean`. Inputs are ``float`` arrays (bands, rows, cols) on one grid, the later
    one already normalised to the earlier one.
    """

    name: ClassVar[str] = ""

    def __init__(self, **params: Any) -> None:
        if params:
            msg = f"detector {self.name!r} takes no options; got {sorted(params)!r}"
            raise TypeError(msg)

    @abstractmethod
    def score(
        self, before: np.ndarray, after: np.ndarray, valid: np.ndarray, *, res: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return (score, direction) per pixel; see :class:`Detection`.

        ``res`` is the pixel size in metres (1.0 when unknown).
        """

    def auto_threshold(self, score: np.ndarray) -> float:
        """The threshold of a score sample (Otsu by default)."""
        return otsu_threshold(score)

    def clean(self, mask: np.ndarray, *, res: float) -> np.ndarray:
        """Post-process a thresholded mask (identity by default)."""
        return mask

    def detect(
        self,
        before: np.ndarray,
        after: np.ndarray,
        valid: np.ndarray | None = None,
        *,
        res: float = 1.0,
        threshold: float | None = None,
    ) -> Detection:
        """Score, threshold and clean one pair.

        Parameters
        ----------
        before, after
            Arrays (bands, rows, cols) on one grid.
        valid
            Pixels valid in both (default: all).
        res
            Pixel size in metres.
        threshold
            A fixed threshold (from a calibration sample); automatic when ``None``.
        """
        ok = np.ones(before.shape[1:], dtype=bool) if valid is None else valid
        score, direction = self.score(before, after, ok, res=res)
        score = np.where(ok, score, 0.0).astype(np.float32)
        thr = self.auto_threshold(score[ok]) if threshold is None else float(threshold)
        mask = self.clean((score > thr) & ok, res=res) & ok
        return Detection(score, mask, thr, direction.astype(np.float32))


def otsu_threshold(values: np.ndarray, *, bins: int = 256) -> float:
    """Otsu's threshold of a sample (the midpoint of its range if it is constant)."""
    from skimage.filters import threshold_otsu

    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return 0.0
    if v.min() == v.max():
        return float(v.max())
    return float(threshold_otsu(v, nbins=bins))


def _standardise(before: np.ndarray, after: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Per-band difference divided by the pooled spread of the band."""
    diff = after.astype(np.float32) - before.astype(np.float32)
    out = np.empty_like(diff)
    for i in range(diff.shape[0]):
        spread = float(np.std(np.concatenate([before[i][valid], after[i][valid]]))) or 1.0
        out[i] = diff[i] / spread
    return out


class CVADetector(Detector):
    """Change vector analysis: the length of the standardised spectral difference vector,
    thresholded by Otsu."""

    name = "cva"

    def score(
        self, before: np.ndarray, after: np.ndarray, valid: np.ndarray, *, res: float
    ) -> tuple[np.ndarray, np.ndarray]:
        from scipy import ndimage as ndi

        d = _standardise(before, after, valid)
        magnitude = np.sqrt((d**2).sum(axis=0))
        # A 3x3 median removes single-pixel speckle and leftover misregistration.
        magnitude = ndi.median_filter(magnitude, size=3)
        return magnitude, np.zeros_like(magnitude)


def register(name: str, cls: type[Detector]) -> None:
    """Register a detector class under ``name`` (replacing any earlier one)."""
    if not (isinstance(cls, type) and issubclass(cls, Detector)):
        msg = f"register(name={name!r}): {cls!r} is not a Detector subclass"
        raise TypeError(msg)
    _REGISTRY[name] = cls


def detector_names() -> list[str]:
    """Names of every available detector."""
    return sorted(set(_BUILTIN) | set(_REGISTRY))


def get_detector(name: str, **params: Any) -> Detector:
    """Return a new detector by name.

    Raises
    ------
    UnknownDetector
        No detector is registered under ``name``.
    """
    if name not in _REGISTRY and name in _BUILTIN:
        module, _, attr = _BUILTIN[name].partition(":")
        register(name, getattr(importlib.import_module(module), attr))
    if name not in _REGISTRY:
        msg = f"method={name!r} is not a detector; choose one of {detector_names()}"
        raise UnknownDetector(msg)
    return _REGISTRY[name](**params)
