"""Pixel metrics of a detector on a folder in the common ``A/ B/ label/`` layout."""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from change_detection.detectors import Detector, get_detector
from change_detection.pipeline import check_res, detect_pair
from change_detection.raster import read_raster
from twin.errors import InvalidInput

__all__ = ["PixelScores", "evaluate", "pixel_scores"]

log = logging.getLogger(__name__)

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff"}


@dataclass
class PixelScores:
    """Confusion counts of the change class and the metrics derived from them."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    per_image: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, other: PixelScores) -> None:
        """Add another count to this one."""
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.tn += other.tn

    @property
    def precision(self) -> float:
        """TP / (TP + FP); 0 when nothing was predicted."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        """TP / (TP + FN); 0 when there is no change."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        denom = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denom if denom else 0.0

    @property
    def iou(self) -> float:
        """Intersection over union of the change class."""
        denom = self.tp + self.fp + self.fn
        return self.tp / denom if denom else 0.0

    def summary(self) -> dict[str, float]:
        """The four metrics, rounded to four decimals."""
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "iou": round(self.iou, 4),
        }

    def to_dict(self) -> dict[str, Any]:
        """Counts, metrics and per-image metrics as plain data."""
        out: dict[str, Any] = {k: v for k, v in asdict(self).items() if k != "per_image"}
        out.update(self.summary())
        out["per_image"] = self.per_image
        return out


def pixel_scores(predicted: np.ndarray, truth: np.ndarray) -> PixelScores:
    """Confusion counts of two boolean masks of one shape."""
    if predicted.shape != truth.shape:
        msg = f"predicted shape {predicted.shape!r} differs from truth shape {truth.shape!r}"
        raise InvalidInput(msg)
    p, t = predicted.astype(bool), truth.astype(bool)
    tp = int((p & t).sum())
    fp = int((p & ~t).sum())
    fn = int((~p & t).sum())
    return PixelScores(tp, fp, fn, int(p.size - tp - fp - fn))


def _pairs(folder: Path) -> list[tuple[Path, Path, Path]]:
    for sub in ("A", "B", "label"):
        if not (folder / sub).is_dir():
            msg = f"folder={str(folder)!r} has no {sub}/ subfolder; expected A/, B/ and label/"
            raise InvalidInput(msg)
    out = []
    for a in sorted((folder / "A").iterdir()):
        if a.suffix.lower() not in _IMAGE_SUFFIXES:
            continue
        b, label = folder / "B" / a.name, folder / "label" / a.name
        if b.is_file() and label.is_file():
            out.append((a, b, label))
        else:
            log.warning("skipping %s: no matching B/ or label/ file", a.name)
    if not out:
        msg = f"folder={str(folder)!r} holds no image found in all of A/, B/ and label/"
        raise InvalidInput(msg)
    return out


def evaluate(
    detector: str | Detector,
    folder: str | os.PathLike[str],
    *,
    res: float | None = None,
    register: bool = True,
    normalisation: str = "pif",
) -> PixelScores:
    """Score a detector on every pair of a folder.

    Parameters
    ----------
    detector
        A detector or its name.
    folder
        Holds ``A/`` (before), ``B/`` (after) and ``label/`` (change > 127), files matched
        by name.
    res
        Pixel size in metres for images without georeferencing (chips usually have none),
        within :data:`~change_detection.pipeline.RES_RANGE`.
    register, normalisation
        As :func:`~change_detection.pipeline.detect_pair`.

    Returns
    -------
    PixelScores
        Counts summed over every pair (micro average), with per-image metrics.
    """
    res = check_res(res)
    det = get_detector(detector) if isinstance(detector, str) else detector
    total = PixelScores()
    for a, b, label in _pairs(Path(folder)):
        result = detect_pair(
            read_raster(a, max_bands=4),
            read_raster(b, max_bands=4),
            method=det,
            register=register,
            normalisation=normalisation,
            res=res,
        )
        truth = read_raster_label(label)
        scores = pixel_scores(result.mask, truth)
        total.add(scores)
        total.per_image[a.name] = {**scores.summary(), "shift": list(result.shift)}
        log.info("%s: %s", a.name, scores.summary())
    return total


def read_raster_label(path: str | os.PathLike[str]) -> np.ndarray:
    """A label image as a boolean mask (first band > 127, or > 0 for a 0/1 label)."""
    band = read_raster(path, max_bands=1, allow_constant=True).data[0]
    return band > (127 if band.max() > 1 else 0)
