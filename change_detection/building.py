"""A building-aware unsupervised change detector.

Each epoch gets a **building index**: a morphological building index (MBI) on brightness,
bright roofs standing out of their surroundings at every orientation, and its dark
counterpart for dark roofs, with vegetation and shadow suppressed. The change score is
the spectral change, weighted by how roof-like the place is (a roof in either epoch's
index, or a change that is itself compact), plus the rise of the index between the
epochs. Two kinds of change carry no building change and are gated out:

- vegetation in both epochs (the season);
- **illumination**: a shadow cast or lifted scales every band by about the same factor,
  so the colour keeps its direction while its brightness drops (see
  :func:`illumination_change`); a new roof, even a dark one, changes the direction.

The direction of a change (built or demolished) comes from the index rise, the loss of
vegetation and from shadows: a shadow newly cast next to a change means something tall
appeared there. The cleaning step keeps building-shaped patches: it removes speckle, long
thin structures (roads, tracks) and patches under a minimum area.

Whole new neighbourhoods on fields and scrub (LEVIR-CD) call for other options,
:data:`NEW_NEIGHBOURHOOD` (the detector :class:`NewNeighbourhoodDetector`): there the
yards and streets changed as much as the roofs, and a roof is told by turning **grey**
where the ground was coloured (:mod:`change_detection._bld_greygain`), scored per segment
of the later epoch and dropped where the segment's outline was there before
(:mod:`change_detection._bld_objects`); a segment that got brighter inside a new outline
adds to it (:mod:`change_detection._bld_newobj`), for roofs on ground that was grey.

The arrays a detector receives are scaled so that a bright roof is about 1 (see
:func:`change_detection.pipeline.unit_scale`); bands are red, green, blue and optionally
near-infrared, in that order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from change_detection.detectors import Detector

__all__ = [
    "NEW_NEIGHBOURHOOD",
    "BuildingDetector",
    "BuildingParams",
    "NewNeighbourhoodDetector",
    "building_index",
    "illumination_change",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildingParams:
    """Parameters of the building detector (lengths in metres, areas in m², angles in
    degrees, reflectances scaled so that a bright roof is about 1).

    The defaults were chosen on generated imagery (``change_detection.synth``, seeds 0-9)
    and by reasoning about 0.5 m aerial imagery: roofs of 4-60 m, roads 5-15 m wide.
    ``rise_weight`` is off by default: on whole new neighbourhoods (LEVIR-CD), where roofs
    often have the colour of the field they replaced, 3 raises the recall several-fold, but on
    generated city blocks it turns season and shadow changes of the index into false
    new buildings.

    Notable ones: ``veg_gb`` and ``veg_gb_width`` ramp the green-over-blue ratio that
    tells leaves from green (patina, painted) roofs in RGB imagery; ``illum_angle`` (+
    ``illum_angle_width``) is the spectral angle below which, and ``illum_ratio`` (-
    ``illum_ratio_width``) the brightness ratio below which, a change is a shadow, when
    the shaded epoch is darker than ``illum_dark`` (- ``illum_dark_width``) times the
    scene's median;
    ``blob_ref`` is the compactness top-hat of the change that counts as a roof;
    ``cast_weight`` and ``cast_reach`` weigh and spread the shadow cue of the direction;
    ``rise_weight`` and ``rise_sigma`` weigh and smooth the rise of the building index;
    ``index_weight`` weighs the index-weighted spectral change above, ``grey_weight`` the
    grey-gain cue (:mod:`change_detection._bld_greygain`: a lit, non-vegetated place that
    turned grey), off by default; ``grey_sat_gain`` and ``grey_spread`` are its saturation
    drop and robust spread, ``grey_demolished`` also scores grey that vanished;
    ``objects`` turns on the object step (:mod:`change_detection._bld_objects`): the score
    is averaged over Felzenszwalb segments (``object_scale``, ``object_min_area``) of the
    later epoch, damped where a segment's outline was there before (``persist_ref`` +
    ``persist_width``), and a segment is kept when its mean reaches ``object_cut`` times the
    pixel score's automatic threshold; with ``complete_low`` > 0 a touching segment of
    at least that fraction of the cut, alike in colour, joins a kept one (the shaded plane
    of a roof, see :func:`change_detection._bld_objects.complete_roofs`); with
    ``new_weight`` > 0 the new-outline cue (:mod:`change_detection._bld_newobj`: a segment
    that got brighter by ``new_lum``, with edges along its border stronger by ``new_edge``
    times the scene's median and not there before) adds that fraction of the cut to a
    segment's score, for roofs on ground that was grey already; with ``pave_ratio`` > 0 a
    segment that many times (+ ``pave_width``) brighter than the typical found one is
    damped (new pavement, see :func:`change_detection._bld_objects.damp_pavement`).
    :data:`NEW_NEIGHBOURHOOD` holds the options for whole new neighbourhoods.
    """

    min_line: float = 2.0
    max_line: float = 40.0
    dark_weight: float = 0.6
    veg_exg: float = 0.04
    veg_width: float = 0.06
    shadow_rel: float = 0.45
    shadow_width: float = 0.15
    change_ref: float = 0.2
    min_area: float = 15.0
    road_length: float = 40.0
    road_width: float = 12.0
    smooth: float = 1.0
    min_threshold: float = 0.5
    work_res: float = 1.0
    index_ref: float = 0.1
    index_floor: float = 0.0
    shadow_reach: float = 1.0
    min_width: float = 5.0
    veg_gb: float = 0.12
    veg_gb_width: float = 0.08
    illum_angle: float = 3.0
    illum_angle_width: float = 2.5
    illum_ratio: float = 0.75
    illum_ratio_width: float = 0.15
    illum_dark: float = 0.9
    illum_dark_width: float = 0.2
    blob_ref: float = 0.8
    cast_weight: float = 8.0
    cast_reach: float = 4.0
    rise_weight: float = 0.0
    rise_sigma: float = 3.0
    index_weight: float = 1.0
    grey_weight: float = 0.0
    grey_sat_gain: float = 0.1
    grey_spread: float = 2.0
    grey_demolished: bool = True
    objects: bool = False
    object_scale: float = 50.0
    object_min_area: float = 15.0
    object_cut: float = 0.7
    persist_ref: float = 0.2
    persist_width: float = 0.4
    complete_low: float = 0.0
    new_weight: float = 0.0
    new_lum: float = 0.1
    new_edge: float = 0.3
    pave_ratio: float = 0.0
    pave_width: float = 0.3


#: Options for whole new neighbourhoods on fields and scrub (LEVIR-CD): the grey-gain cue
#: alone, new buildings only, refined by objects, with the new-outline cue for roofs on
#: grey ground and bright new pavement damped. Chosen on the LEVIR ``train_*``/``val_*`` chips; off by default because on
#: generated city blocks the grey-gain cue turns re-coloured surfaces into new buildings.
NEW_NEIGHBOURHOOD: dict[str, Any] = {
    "index_weight": 0.0,
    "grey_weight": 1.0,
    "grey_demolished": False,
    "min_threshold": 0.0,
    "objects": True,
    "complete_low": 0.6,
    "new_weight": 0.5,
    "pave_ratio": 1.2,
}


def _line_kernel(length: int, angle: float) -> np.ndarray:
    """A one-pixel-wide line of ``length`` pixels at ``angle`` degrees, as a 0/1 kernel."""
    length = max(1, length)
    half = (length - 1) / 2.0
    t = np.linspace(-half, half, max(2, length * 2))
    rows = np.round(-t * np.sin(np.radians(angle))).astype(int)
    cols = np.round(t * np.cos(np.radians(angle))).astype(int)
    size = int(max(np.ptp(rows), np.ptp(cols))) + 1
    k = np.zeros((size, size), dtype=np.uint8)
    # Centred on the kernel's anchor: an off-centre line would shift openings.
    k[
        rows - rows.min() + (size - 1 - int(np.ptp(rows))) // 2,
        cols - cols.min() + (size - 1 - int(np.ptp(cols))) // 2,
    ] = 1
    return k


def _tophat_min(img: np.ndarray, lengths: tuple[int, int], angles: tuple[float, ...]) -> np.ndarray:
    """Minimum over directions of the white top-hat by reconstruction, between two scales.

    A structure scores high when no line longer than it fits inside it at any orientation,
    i.e. a compact bright blob (a roof) rather than a long one (a road).
    """
    import cv2
    from skimage.morphology import reconstruction

    out = np.full(img.shape, np.inf, dtype=np.float32)
    for angle in angles:
        opened = []
        for length in lengths:
            seed = np.minimum(cv2.erode(img, _line_kernel(length, angle)), img)
            opened.append(reconstruction(seed, img, method="dilation").astype(np.float32))
        out = np.minimum(out, opened[0] - opened[1])
    return np.clip(out, 0.0, None)


def _shrink(data: np.ndarray, factor: int) -> np.ndarray:
    """Block-average (bands, rows, cols) by ``factor``."""
    import cv2

    rows, cols = data.shape[1:]
    size = (max(1, cols // factor), max(1, rows // factor))
    return np.stack([cv2.resize(b, size, interpolation=cv2.INTER_AREA) for b in data])


def _grow(img: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of (rows, cols) to ``shape``."""
    import cv2

    return cv2.resize(img, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def _soft(data: np.ndarray) -> np.ndarray:
    """The first three bands (grey repeated if fewer) and any near-infrared, lightly smoothed,
    as :func:`building_index` sees them."""
    from scipy import ndimage as ndi

    rgb = data[:3] if data.shape[0] >= 3 else np.repeat(data[:1], 3, axis=0)
    rgb = ndi.gaussian_filter(rgb, sigma=(0, 0.7, 0.7)).astype(np.float32)
    return np.concatenate([rgb, data[3:4]]) if data.shape[0] >= 4 else rgb


def _vegetation(data: np.ndarray, p: BuildingParams) -> np.ndarray:
    r, g, b = data[0], data[1], data[2]
    if data.shape[0] >= 4:
        nir = data[3]
        index = (nir - r) / (nir + r + 1e-6) - 0.25
        return np.clip(index / p.veg_width, 0.0, 1.0)
    excess = np.clip(((2 * g - r - b) / (r + g + b + 1e-6) - p.veg_exg) / p.veg_width, 0.0, 1.0)
    # Leaves absorb blue: green roofs (copper patina, painted metal) reflect it.
    green_blue = np.clip(((g - b) / (g + b + 1e-6) - p.veg_gb) / p.veg_gb_width, 0.0, 1.0)
    return np.minimum(excess, green_blue)


def illumination_change(before: np.ndarray, after: np.ndarray, p: BuildingParams) -> np.ndarray:
    """0-1 per pixel: how much the change looks like a shadow cast or lifted.

    A shadow scales the light reaching the ground in every band by about the same factor,
    so the colour vector keeps its direction (small spectral angle) while its length drops
    markedly in the darker epoch, which is dark for the scene; a new roof changes the
    direction, barely the length, or is bright.
    """
    n = min(before.shape[0], 3)
    b, a = before[:n], after[:n]
    nb = np.sqrt((b**2).sum(axis=0)) + 1e-6
    na = np.sqrt((a**2).sum(axis=0)) + 1e-6
    cos = np.clip((a * b).sum(axis=0) / (na * nb), -1.0, 1.0)
    angle = np.degrees(np.arccos(cos))
    ratio = np.minimum(na, nb) / np.maximum(na, nb)
    flat = np.clip((p.illum_angle + p.illum_angle_width - angle) / p.illum_angle_width, 0, 1)
    dim = np.clip((p.illum_ratio - ratio) / p.illum_ratio_width, 0.0, 1.0)
    # ... and the shaded epoch is dark for the scene.
    shaded = np.minimum(b.max(axis=0), a.max(axis=0))
    level = float(np.median(np.maximum(b.max(axis=0), a.max(axis=0)))) or 1.0
    dark = np.clip((p.illum_dark - shaded / level) / p.illum_dark_width, 0.0, 1.0)
    return (flat * dim * dark).astype(np.float32)


def building_index(
    data: np.ndarray, *, res: float, params: BuildingParams | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The building index of one epoch, with its vegetation and shadow maps.

    Parameters
    ----------
    data
        Array (bands, rows, cols): red, green, blue[, near-infrared], scaled to about 1.
    res
        Pixel size in metres.
    params
        Detector parameters.

    Returns
    -------
    tuple of numpy.ndarray
        (building index, vegetation 0-1, shadow 0-1), each (rows, cols).
    """
    p = params or BuildingParams()
    soft = _soft(data)
    rgb = soft[:3]
    bright = rgb.max(axis=0)
    lengths = (max(1, round(p.min_line / res)), max(3, round(p.max_line / res)))
    angles = (0.0, 45.0, 90.0, 135.0)
    veg = _vegetation(soft, p)
    level = float(np.median(bright)) or 1.0
    shadow = np.clip((p.shadow_rel - bright / level) / p.shadow_width, 0.0, 1.0)
    # A roof stands out of its surroundings in some colour, brighter or darker.
    index = np.zeros_like(bright)
    for channel in (bright, *rgb):
        top = float(channel.max())
        index = np.maximum(index, _tophat_min(channel, lengths, angles))
        dark = _tophat_min(top - channel, lengths, angles)
        index = np.maximum(index, p.dark_weight * dark * (1.0 - shadow))
    index = index * (1.0 - veg)
    return index.astype(np.float32), veg.astype(np.float32), shadow.astype(np.float32)


class BuildingDetector(Detector):
    """The default detector: spectral change weighted by a morphological building index and
    the index's rise between epochs, with shadow and vegetation suppression and
    building-shape cleaning."""

    name = "building"

    def __init__(self, **params: Any) -> None:
        known = {f.name for f in fields(BuildingParams)}
        unknown = sorted(set(params) - known)
        if unknown:
            msg = (
                f"detector {self.name!r} has no option(s) {unknown!r}; choose from {sorted(known)}"
            )
            raise TypeError(msg)
        self.params = BuildingParams(**params)

    def score(
        self, before: np.ndarray, after: np.ndarray, valid: np.ndarray, *, res: float
    ) -> tuple[np.ndarray, np.ndarray]:
        p = self.params
        score, direction = self._pixel_score(before, after, valid, res=res)
        if p.objects:
            score = self._object_score(before, after, valid, score, res=res)
        return score, direction

    def _object_score(
        self,
        before: np.ndarray,
        after: np.ndarray,
        valid: np.ndarray,
        score: np.ndarray,
        *,
        res: float,
    ) -> np.ndarray:
        """The segment-mean score in units of the pair's cut (see :meth:`auto_threshold`).

        The cut is ``object_cut`` times the pixel score's own automatic threshold: a
        segment is kept when its mean score reaches that fraction of it.
        """
        from change_detection._bld_objects import (
            complete_roofs,
            damp_pavement,
            edge_persistence,
            segment,
            segment_score,
        )

        p = self.params
        pixel_cut = self._pixel_threshold(score[valid] if valid.any() else score.ravel())
        cut = max(p.object_cut * pixel_cut, 1e-6)
        labels = segment(after, res=res, scale=p.object_scale, min_area=p.object_min_area)
        persistence = edge_persistence(before, after, labels)
        seg = segment_score(
            score, labels, persistence, persist_ref=p.persist_ref, persist_width=p.persist_width
        )
        if p.new_weight > 0:
            from change_detection._bld_newobj import new_outline

            cue = new_outline(
                before,
                after,
                labels,
                _vegetation(_soft(after), p),
                persistence,
                lum_ref=p.new_lum,
                edge_ref=p.new_edge,
                persist_ref=p.persist_ref,
                persist_width=p.persist_width,
            )
            seg = seg + p.new_weight * cut * cue
        if p.complete_low > 0:
            seg = complete_roofs(
                seg,
                labels,
                after,
                persistence,
                cut=cut,
                low=p.complete_low,
                persist_ref=p.persist_ref,
            )
        if p.pave_ratio > 0:
            seg = damp_pavement(seg, labels, after, cut=cut, ratio=p.pave_ratio, width=p.pave_width)
        out: np.ndarray = (seg / cut)[labels].astype(np.float32)
        return out

    def _pixel_score(
        self, before: np.ndarray, after: np.ndarray, valid: np.ndarray, *, res: float
    ) -> tuple[np.ndarray, np.ndarray]:
        from scipy import ndimage as ndi

        p = self.params
        factor = max(1, round(p.work_res / res))
        if factor > 1:
            shape = before.shape[1:]
            score, direction = self._pixel_score(
                _shrink(before, factor), _shrink(after, factor), valid, res=res * factor
            )
            return _grow(score, shape), _grow(direction, shape)
        if p.index_weight > 0:
            bi0, veg0, _sh0 = building_index(before, res=res, params=p)
            bi1, veg1, _sh1 = building_index(after, res=res, params=p)
        else:  # the index is not used: only the vegetation is needed
            veg0, veg1 = (_vegetation(_soft(x), p) for x in (before, after))
            bi0 = bi1 = np.zeros(before.shape[1:], dtype=np.float32)
        sigma = max(0.5, p.smooth / res)
        n = min(before.shape[0], 4)
        spectral = np.sqrt(((after[:n] - before[:n]) ** 2).sum(axis=0))
        spectral = ndi.gaussian_filter(spectral, sigma)
        weight = np.clip(spectral / p.change_ref, 0.0, 1.0)
        # Vegetation in both epochs (season) and a shadow cast or lifted (sun) carry no
        # building change; a place that looks like a roof in either epoch carries more.
        reach = max(1, round(p.shadow_reach / res)) * 2 + 1
        smooth0 = ndi.gaussian_filter(before[:3], sigma=(0, sigma, sigma))
        smooth1 = ndi.gaussian_filter(after[:3], sigma=(0, sigma, sigma))
        cast = illumination_change(smooth0, smooth1, p)
        shade = ndi.maximum_filter(cast, size=reach)
        gate = (1.0 - np.minimum(veg0, veg1)) * (1.0 - shade)
        roof = np.clip(ndi.gaussian_filter(np.maximum(bi0, bi1), sigma) / p.index_ref, 0.0, 1.0)
        # A change that is itself compact (no long line fits in it) is roof-shaped even
        # where neither epoch's index shows a roof (a grey roof on a grey-green ground).
        lengths = (max(1, round(p.min_line / res)), max(3, round(p.max_line / res)))
        blob = _tophat_min((weight * gate).astype(np.float32), lengths, (0.0, 45.0, 90.0, 135.0))
        roof = np.maximum(roof, np.clip(blob / p.blob_ref, 0.0, 1.0))
        score = weight * gate * (p.index_floor + (1.0 - p.index_floor) * roof)
        if p.rise_weight > 0:
            # A roof that rose in the index is evidence on its own, even where the colour
            # barely changed (a brown roof on a dry brown field).
            rise = ndi.gaussian_filter(np.clip(bi1 - bi0, 0.0, None), max(0.5, p.rise_sigma / res))
            rise = np.clip(rise / p.index_ref * p.rise_weight, 0.0, 1.0)
            score = np.maximum(score, rise * gate)
        score = score * p.index_weight
        built = (bi1 - bi0) / p.index_ref + (veg0 - veg1)
        if p.grey_weight > 0:
            score, built = self._with_grey_gain(before, after, veg0, veg1, score, built, res)
        # A shadow cast next to a change means something tall appeared there; a shadow
        # lifted, that something vanished.
        darker = np.sign(smooth0[:3].sum(axis=0) - smooth1[:3].sum(axis=0))
        reach_cast = max(1.0, p.cast_reach / res)
        built = built + p.cast_weight * ndi.gaussian_filter(cast * darker, reach_cast)
        direction = np.clip(ndi.gaussian_filter(built, sigma), -1.0, 1.0)
        return score.astype(np.float32), direction.astype(np.float32)

    def _with_grey_gain(
        self,
        before: np.ndarray,
        after: np.ndarray,
        veg0: np.ndarray,
        veg1: np.ndarray,
        score: np.ndarray,
        built: np.ndarray,
        res: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Add the grey-gain cue to the score and its direction to ``built``."""
        from change_detection._bld_greygain import grey_gain

        p = self.params
        gain = grey_gain(
            before,
            after,
            veg0,
            veg1,
            res=res,
            smooth=p.smooth,
            sat_gain=p.grey_sat_gain,
            spread=p.grey_spread,
        )
        cue = gain.score if p.grey_demolished else gain.built
        score = np.maximum(score, p.grey_weight * cue)
        return score, built + gain.direction

    def _pixel_threshold(self, score: np.ndarray) -> float:
        from change_detection.detectors import otsu_threshold

        return max(otsu_threshold(score), self.params.min_threshold)

    def auto_threshold(self, score: np.ndarray) -> float:
        # The object score is already in units of the pair's own cut.
        return 1.0 if self.params.objects else self._pixel_threshold(score)

    def clean(self, mask: np.ndarray, *, res: float) -> np.ndarray:
        import cv2
        from scipy import ndimage as ndi

        p = self.params
        m: np.ndarray = mask.astype(np.uint8)
        r = max(1, round(1.0 / res))
        disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        m = cv2.morphologyEx(m, cv2.MORPH_OPEN, disk)
        m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, disk)
        m = np.asarray(ndi.binary_fill_holes(m), dtype=np.uint8)
        # Long thin structures: covered by a long line, but not by a roof-sized square.
        line_len = max(3, round(p.road_length / res))
        along = np.zeros(m.shape, dtype=bool)
        for angle in (0.0, 45.0, 90.0, 135.0):
            along |= cv2.morphologyEx(m, cv2.MORPH_OPEN, _line_kernel(line_len, angle)) > 0
        side = max(3, round(p.road_width / res))
        square = cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones((side, side), np.uint8)) > 0
        m = ((m > 0) & ~(along & ~square)).astype(np.uint8)
        # Opening by reconstruction: drop slivers narrower than min_width, keep the shape
        # of what survives.
        w = max(1, round(p.min_width / res / 2))
        core = cv2.erode(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * w + 1, 2 * w + 1)))
        labels, n = ndi.label(m)
        if n:
            alive = np.zeros(n + 1, dtype=bool)
            alive[np.unique(labels[core > 0])] = True
            alive[0] = False
            m = alive[labels].astype(np.uint8)
        labels, n = ndi.label(m)
        if n:
            sizes = np.bincount(labels.ravel())
            keep = sizes * res * res >= p.min_area
            keep[0] = False
            m = keep[labels].astype(np.uint8)
        return m.astype(bool)


class NewNeighbourhoodDetector(BuildingDetector):
    """The building detector with :data:`NEW_NEIGHBOURHOOD` as its defaults: new roofs on
    fields and scrub, found by the grey-gain cue and refined by objects."""

    name = "building_new"

    def __init__(self, **params: Any) -> None:
        super().__init__(**{**NEW_NEIGHBOURHOOD, **params})
