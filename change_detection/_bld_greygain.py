"""The grey-gain cue of the building detector: a roof appeared where the ground was coloured.

Whole new neighbourhoods (the LEVIR-CD kind of change) are built on fields, scrub and bare
soil, all of them saturated (yellow, brown, green), and their roofs are grey: shingle,
concrete, metal. Spectral change alone does not find them, because the yards, lawns and
streets around the houses changed as much. What tells a roof from its yard is that the
place turned **grey** (low saturation, for the scene) and stays lit (not a shadow) and not
vegetated. The cue is scored against the scene's own statistics (median and spread), so no
absolute colour is assumed, and both directions are scored: grey that appeared (built) and
grey that vanished (demolished).

The arrays are scaled so that a bright roof is about 1 (see
:func:`change_detection.pipeline.unit_scale`); bands are red, green, blue[, near-infrared].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["GreyGain", "grey_gain", "saturation"]


@dataclass(frozen=True)
class GreyGain:
    """The grey-gain scores of one pair, each (rows, cols) in 0-1.

    Attributes
    ----------
    built
        Grey, lit, non-vegetated after; more saturated before.
    demolished
        The same with the epochs swapped.
    """

    built: np.ndarray
    demolished: np.ndarray

    @property
    def score(self) -> np.ndarray:
        """The larger of the two directions."""
        return np.maximum(self.built, self.demolished)

    @property
    def direction(self) -> np.ndarray:
        """-1 (demolished) to 1 (built)."""
        return np.clip(self.built - self.demolished, -1.0, 1.0)


def saturation(data: np.ndarray) -> np.ndarray:
    """HSV saturation of the first three bands: 0 for grey, 1 for a pure colour."""
    rgb = data[:3] if data.shape[0] >= 3 else np.repeat(data[:1], 3, axis=0)
    top = rgb.max(axis=0)
    return ((top - rgb.min(axis=0)) / (top + 1e-6)).astype(np.float32)


def _robust_z(values: np.ndarray) -> np.ndarray:
    """(value - median) / (1.4826 MAD) of a scene, the MAD floored to avoid a zero spread."""
    med = float(np.median(values))
    mad = float(np.median(np.abs(values - med))) * 1.4826
    return (values - med) / max(mad, 1e-3)


def _one_way(
    old: np.ndarray,
    new: np.ndarray,
    veg_new: np.ndarray,
    *,
    sigma: float,
    sat_gain: float,
    spread: float,
    lit: float,
    lit_width: float,
) -> np.ndarray:
    """Grey, lit and non-vegetated in ``new``; more saturated in ``old``."""
    from scipy import ndimage as ndi

    sat_old = ndi.gaussian_filter(saturation(old), sigma)
    sat_new = ndi.gaussian_filter(saturation(new), sigma)
    grey = np.clip(_robust_z(-sat_new) / spread, 0.0, 1.0)
    # The saturation must drop: a surface that changed but was grey already (a roof
    # repainted, a road resurfaced) is no new roof.
    gain = np.clip((sat_old - sat_new) / sat_gain, 0.0, 1.0)
    bright = new[: min(new.shape[0], 3)].max(axis=0)
    level = float(np.median(bright)) or 1.0
    lit_map = np.clip((bright / level - lit) / lit_width, 0.0, 1.0)
    leaves = ndi.gaussian_filter(veg_new, sigma)
    return (grey * gain * (1.0 - leaves) * lit_map).astype(np.float32)


def grey_gain(
    before: np.ndarray,
    after: np.ndarray,
    veg_before: np.ndarray,
    veg_after: np.ndarray,
    *,
    res: float,
    smooth: float = 1.0,
    sat_gain: float = 0.1,
    spread: float = 2.0,
    lit: float = 0.5,
    lit_width: float = 0.2,
) -> GreyGain:
    """Score where a grey surface appeared or vanished between two epochs.

    Parameters
    ----------
    before, after
        Arrays (bands, rows, cols) on one grid, scaled so a bright roof is about 1.
    veg_before, veg_after
        Vegetation 0-1 per pixel of each epoch (see
        :func:`change_detection.building.building_index`).
    res
        Pixel size in metres.
    smooth
        Gaussian smoothing of every cue, in metres.
    sat_gain
        The drop of saturation that counts fully as "turned grey".
    spread
        How many robust standard deviations greyer than the scene's median a pixel must
        be to count fully.
    lit, lit_width
        Brightness, relative to the scene's median, below which (by ``lit_width``) a pixel
        is a shadow and no roof evidence.

    Returns
    -------
    GreyGain
    """
    sigma = max(0.5, smooth / res)
    options = {
        "sigma": sigma,
        "sat_gain": sat_gain,
        "spread": spread,
        "lit": lit,
        "lit_width": lit_width,
    }
    built = _one_way(before, after, veg_after, **options)
    demolished = _one_way(after, before, veg_before, **options)
    return GreyGain(built, demolished)
