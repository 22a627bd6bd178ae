"""The new-outline cue of the building detector: a segment that became a lit object.

The grey-gain cue (:mod:`change_detection._bld_greygain`) is blind where the ground was
grey already (bare soil, gravel, a cleared site): a roof there keeps the saturation of
the ground. What still tells it is its outline: the edges along the border of the later
epoch's segment are **new** (stronger than the gradients at the same place before, and
not of the same orientation, see :func:`change_detection._bld_objects.edge_persistence`),
and the place got **brighter** (a lit roof on a dull ground), without vegetation. The
cue is scored per segment, 0 to 1, and added to the segment's grey-gain score.

The arrays are scaled so that a bright roof is about 1 (see
:func:`change_detection.pipeline.unit_scale`); bands are red, green, blue[, near-infrared].
"""

from __future__ import annotations

import numpy as np

from change_detection._bld_objects import _borders, _gradient, outline_keep, segment_means

__all__ = ["new_outline"]


def new_outline(
    before: np.ndarray,
    after: np.ndarray,
    labels: np.ndarray,
    veg_after: np.ndarray,
    persistence: np.ndarray,
    *,
    lum_ref: float,
    edge_ref: float,
    persist_ref: float,
    persist_width: float,
    reach: int = 1,
) -> np.ndarray:
    """Per segment, how far it is a new, lit, non-vegetated object (0-1).

    Parameters
    ----------
    before, after
        Arrays (bands, rows, cols) on one grid, scaled so a bright roof is about 1.
    labels
        Segments of ``after`` (rows, cols), 0 to n - 1 (see
        :func:`change_detection._bld_objects.segment`).
    veg_after
        Vegetation 0-1 per pixel of ``after``.
    persistence
        One value per segment (see :func:`change_detection._bld_objects.edge_persistence`).
    lum_ref
        The rise of the mean brightness (of the three visible bands) that counts fully.
    edge_ref
        The rise of the gradient magnitude along the segment's border that counts fully,
        in units of the later epoch's median gradient on all borders.
    persist_ref, persist_width
        Persistence above which (by ``persist_width``) the cue goes to 0.
    reach
        Pixels around a border pixel over which its gradient is the strongest one.

    Returns
    -------
    numpy.ndarray
        One value per label.
    """
    from scipy import ndimage as ndi

    n = int(labels.max()) + 1
    k = min(before.shape[0], 3)
    _, (rise, leaves) = segment_means(
        labels, n, after[:k].mean(axis=0) - before[:k].mean(axis=0), veg_after
    )
    border = _borders(labels)
    lab = labels[border]
    # The strongest gradient within ``reach`` pixels: a segment's own border pixels may sit
    # a pixel or two inside the edge, which blur sets apart as a rim.
    size = 2 * reach + 1
    old = ndi.maximum_filter(np.hypot(*_gradient(before)), size=size)[border]
    new = ndi.maximum_filter(np.hypot(*_gradient(after)), size=size)[border]
    scale = max(float(np.median(new)), 1e-6) if new.size else 1.0
    per_border = np.maximum(np.bincount(lab, minlength=n), 1)
    gain = np.bincount(lab, new - old, minlength=n) / per_border / scale
    out: np.ndarray = (
        np.clip(rise / lum_ref, 0.0, 1.0)
        * np.clip(gain / edge_ref, 0.0, 1.0)
        * (1.0 - leaves)
        * outline_keep(persistence, persist_ref, persist_width)
    )
    return out
