"""Object-based refinement of the building detector's score.

A pixel score finds parts of roofs: the lit plane of a gable roof, the middle of a flat
one. Roofs have crisp outlines, so a segmentation of the later epoch (Felzenszwalb's graph
method) cuts the image along them, and the mean score over a segment decides the whole
segment: a roof is found or missed as one piece, speckle on a lawn is averaged away.

A segment whose **outline was already there** before is an old object whose colour
changed (a roof repainted, a road resurfaced, another sensor or season), not a new one:
the gradients along its border keep their orientation between the epochs, where a roof
on a field has no matching edge underneath (:func:`edge_persistence`).

New streets, driveways and yards of concrete turn grey too, and are often found with the
roofs; they are brighter than the roofs of the scene (shingle, tiles), so a segment much
brighter than the typical found one is damped (:func:`damp_pavement`).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "complete_roofs",
    "damp_pavement",
    "edge_persistence",
    "outline_keep",
    "segment",
    "segment_means",
    "segment_score",
]


def segment_means(
    labels: np.ndarray, n: int, *values: np.ndarray
) -> tuple[np.ndarray, list[np.ndarray]]:
    """The pixel count of each of ``n`` segments (at least 1) and the mean of each of
    ``values`` (rows, cols) over every segment."""
    flat = labels.ravel()
    count = np.maximum(np.bincount(flat, minlength=n), 1)
    return count, [np.bincount(flat, v.ravel(), minlength=n) / count for v in values]


def outline_keep(persistence: np.ndarray, persist_ref: float, persist_width: float) -> np.ndarray:
    """1 for a segment whose outline is new, falling to 0 as its persistence rises from
    ``persist_ref`` by ``persist_width`` (see :func:`edge_persistence`)."""
    out: np.ndarray = 1.0 - np.clip((persistence - persist_ref) / persist_width, 0.0, 1.0)
    return out


def segment(image: np.ndarray, *, res: float, scale: float, min_area: float) -> np.ndarray:
    """Felzenszwalb segments of an image.

    Parameters
    ----------
    image
        Array (bands, rows, cols), scaled so a bright roof is about 1; the first three
        bands are used.
    res
        Pixel size in metres.
    scale
        Felzenszwalb's scale: larger gives larger segments.
    min_area
        Smallest segment in m².

    Returns
    -------
    numpy.ndarray
        ``int`` labels (rows, cols), 0 to n - 1.
    """
    from skimage.segmentation import felzenszwalb

    rgb = np.clip(np.moveaxis(image[:3], 0, -1), 0.0, 1.5).astype(np.float64)
    min_size = max(1, round(min_area / (res * res)))
    labels: np.ndarray = felzenszwalb(rgb, scale=scale, sigma=0.8, min_size=min_size)
    return labels


def _borders(labels: np.ndarray) -> np.ndarray:
    """Pixels next to a pixel of another segment (4-neighbourhood)."""
    out = np.zeros(labels.shape, dtype=bool)
    rows = labels[:-1] != labels[1:]
    cols = labels[:, :-1] != labels[:, 1:]
    out[:-1] |= rows
    out[1:] |= rows
    out[:, :-1] |= cols
    out[:, 1:] |= cols
    return out


def _gradient(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import cv2
    from scipy import ndimage as ndi

    grey = ndi.gaussian_filter(image[:3].mean(axis=0).astype(np.float32), 1.0)
    return cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1)


def edge_persistence(before: np.ndarray, after: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per segment, how far the edges along its border were there before (-1 to 1).

    The normalised correlation of the two epochs' gradients over the segment's border
    pixels, in the doubled-angle representation ``(gx² - gy², 2 gx gy)``: an edge keeps
    its orientation whichever side is brighter (a roof repainted darker reverses its
    contrast but keeps its outline) and counts by its squared strength. The same outline
    scores 1, random texture underneath (grass, scrub) about 0, crossing edges below 0.

    Returns
    -------
    numpy.ndarray
        One value per label.
    """
    n = int(labels.max()) + 1
    border = _borders(labels)
    ax, ay = _gradient(before)
    bx, by = _gradient(after)
    a1, a2 = (ax * ax - ay * ay)[border], (2.0 * ax * ay)[border]
    b1, b2 = (bx * bx - by * by)[border], (2.0 * bx * by)[border]
    lab = labels[border]
    na = np.bincount(lab, a1 * a1 + a2 * a2, minlength=n)
    nb = np.bincount(lab, b1 * b1 + b2 * b2, minlength=n)
    out: np.ndarray = np.bincount(lab, a1 * b1 + a2 * b2, minlength=n) / np.sqrt(na * nb + 1e-12)
    return out


def segment_score(
    score: np.ndarray,
    labels: np.ndarray,
    persistence: np.ndarray,
    *,
    persist_ref: float,
    persist_width: float,
) -> np.ndarray:
    """The mean score of each segment, damped where its outline persisted.

    Parameters
    ----------
    score
        Pixel score (rows, cols).
    labels
        Segments (rows, cols), see :func:`segment`.
    persistence
        One value per segment, see :func:`edge_persistence`.
    persist_ref, persist_width
        Persistence above which (by ``persist_width``) the segment's score goes to 0.

    Returns
    -------
    numpy.ndarray
        One value per label.
    """
    _, (mean,) = segment_means(labels, int(labels.max()) + 1, score)
    out: np.ndarray = mean * outline_keep(persistence, persist_ref, persist_width)
    return out


def _neighbours(labels: np.ndarray) -> np.ndarray:
    """Pairs (a, b) of touching segments, each pair once with a < b, as (n, 2)."""
    pairs = []
    for one, two in ((labels[:-1], labels[1:]), (labels[:, :-1], labels[:, 1:])):
        differ = one != two
        pairs.append(np.stack([one[differ], two[differ]], axis=1))
    both = np.sort(np.concatenate(pairs), axis=1)
    out: np.ndarray = np.unique(both, axis=0) if len(both) else both.reshape(0, 2)
    return out


def complete_roofs(
    seg_score: np.ndarray,
    labels: np.ndarray,
    after: np.ndarray,
    persistence: np.ndarray,
    *,
    cut: float,
    low: float,
    persist_ref: float,
    sat_margin: float = 0.05,
    area_ratio: float = 2.0,
    bright_range: tuple[float, float] = (0.4, 1.1),
) -> np.ndarray:
    """Add the other planes of a found roof: a gable roof is two segments, one in the sun.

    A segment under the cut joins a touching segment above it, taking its score, when it
    scores at least ``low`` times the cut, is at most ``sat_margin`` more saturated, at
    most ``area_ratio`` times larger, darker or about as bright (``bright_range`` of the
    found segment's brightness: the plane turned from the sun), and its outline is new
    (persistence under ``persist_ref``).

    Parameters
    ----------
    seg_score
        One score per label (see :func:`segment_score`).
    labels, after
        The segments and the later epoch (bands, rows, cols) they were cut from.
    persistence
        One value per label (see :func:`edge_persistence`).
    cut
        The score a segment must exceed to be a roof.

    Returns
    -------
    numpy.ndarray
        The scores, raised for the segments that joined a roof.
    """
    from change_detection._bld_greygain import saturation

    count, (sat, bright) = segment_means(
        labels, len(seg_score), saturation(after), after[:3].max(axis=0)
    )
    pairs = _neighbours(labels)
    out = seg_score.copy()
    if not len(pairs):
        return out
    found = seg_score > cut
    for k, o in ((pairs[:, 0], pairs[:, 1]), (pairs[:, 1], pairs[:, 0])):
        ratio = bright[o] / np.maximum(bright[k], 1e-6)
        join = (
            found[k]
            & ~found[o]
            & (seg_score[o] >= low * cut)
            & (sat[o] <= sat[k] + sat_margin)
            & (count[o] <= area_ratio * count[k])
            & (ratio >= bright_range[0])
            & (ratio <= bright_range[1])
            & (persistence[o] < persist_ref)
        )
        np.maximum.at(out, o[join], seg_score[k[join]])
    return out


def damp_pavement(
    seg_score: np.ndarray,
    labels: np.ndarray,
    after: np.ndarray,
    *,
    cut: float,
    ratio: float,
    width: float,
    min_found: int = 3,
) -> np.ndarray:
    """Damp found segments much brighter than the typical found one (new pavement).

    The reference is the median brightness (mean of the first three bands of ``after``)
    over the pixels of the segments above the cut; a segment ``ratio`` times brighter
    keeps its score, one ``ratio + width`` times brighter loses it. With fewer than
    ``min_found`` segments above the cut there is no reference and nothing changes.

    Parameters
    ----------
    seg_score
        One score per label (see :func:`segment_score`).
    labels, after
        The segments and the later epoch (bands, rows, cols) they were cut from.
    cut
        The score a segment must exceed to be a roof.
    ratio, width
        The brightness ratio to the reference where damping starts, and its ramp.
    min_found
        Found segments needed for a reference.

    Returns
    -------
    numpy.ndarray
        The scores, damped.
    """
    k = min(after.shape[0], 3)
    count, (bright,) = segment_means(labels, len(seg_score), after[:k].mean(axis=0))
    found = seg_score > cut
    if int(found.sum()) < min_found:
        return seg_score.copy()
    ref = float(np.median(np.repeat(bright[found], count[found])))
    keep = np.clip((ratio + width - bright / max(ref, 1e-6)) / width, 0.0, 1.0)
    out: np.ndarray = seg_score * keep
    return out
