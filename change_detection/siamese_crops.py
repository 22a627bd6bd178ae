"""Training crops of the Siamese change model: the recipe and the augmentation.

Part of the PyTorch-side worker (:mod:`siamese_worker`, run as a script beside this file):
imports only ``torch``, ``numpy`` and the standard library. A crop is cut from a labelled
pair, rescaled, turned, flipped, its epochs swapped and relit at random, and, with
``Recipe.paste``, given the changed objects of a crop of another pair.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

__all__ = ["Recipe", "sample"]


@dataclass(frozen=True)
class Recipe:
    """How a model is trained.

    Parameters
    ----------
    epochs
        Passes over the training set; a pass draws ``crops`` chip areas of crops per pair.
    size
        Side of the training crops in pixels (after rescaling).
    seed
        Seed of the initial weights, crops and augmentation.
    batch, lr
        Crops per optimisation step; peak learning rate of the one-cycle schedule.
    crops
        Crops per pair and pass, in units of the pair's area over a crop's.
    focus
        Share of crops placed over a changed pixel (the rest anywhere).
    scale
        Range of the random rescaling: a crop of ``size * s`` pixels is resampled to
        ``size``, so the model sees the same objects at several ground resolutions.
    jitter
        Spread of the random gain of each band of the first epoch of a crop.
    noise
        Largest standard deviation of the pixel noise added to it (none by default).
    paste
        Share of crops into which the changed objects of another crop (of any pair with
        change) are pasted, both epochs at the same place, with their label: new
        combinations of change and surroundings from the same few labelled pairs.
    members
        Networks trained alike from the seeds ``seed``, ``seed + 1``...; their change
        probabilities are averaged.
    """

    epochs: int = 90
    size: int = 128
    seed: int = 0
    batch: int = 8
    lr: float = 2e-3
    crops: float = 1.0
    focus: float = 0.0
    scale: tuple[float, float] = (0.6, 1.67)
    jitter: float = 0.1
    noise: float = 0.0
    paste: float = 0.5
    members: int = 1


def _crop_at(
    p: dict[str, np.ndarray], side: int, focus: float, rng: np.random.Generator
) -> tuple[int, int]:
    """Top-left corner of a ``side`` crop of pair ``p``; over a changed pixel with
    probability ``focus`` when the pair has any."""
    rows, cols = p["y"].shape
    changed = p["changed"]
    if changed.size and rng.random() < focus:
        at = int(changed[rng.integers(0, changed.size)])
        r = at // cols - int(rng.integers(0, side))
        c = at % cols - int(rng.integers(0, side))
        return min(max(r, 0), rows - side), min(max(c, 0), cols - side)
    return int(rng.integers(0, rows - side + 1)), int(rng.integers(0, cols - side + 1))


def _resize(x: np.ndarray, size: int, *, binary: bool) -> np.ndarray:
    """``x`` (…, rows, cols) resampled bilinearly to ``size`` x ``size``; a binary mask is
    thresholded back at one half."""
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    t = t.reshape(1, -1, *x.shape[-2:])
    out = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False)
    res: np.ndarray = out.reshape(*x.shape[:-2], size, size).numpy()
    return (res > 0.5).astype(np.float32) if binary else res


def _dihedral(arrs: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """One of the eight quarter turns and flips, the same for every array."""
    turns = int(rng.integers(0, 4))
    flip = bool(rng.integers(0, 2))
    out = []
    for x in arrs:
        x = np.rot90(x, turns, axes=(-2, -1))
        if flip:
            x = x[..., ::-1]
        out.append(np.ascontiguousarray(x))
    return out


def _relight(x: np.ndarray, recipe: Recipe, rng: np.random.Generator) -> np.ndarray:
    """One epoch with a random gain per band (and, with ``recipe.noise``, pixel noise)."""
    bands = x.shape[0]
    gain = rng.normal(1.0, recipe.jitter, size=(bands, 1, 1))
    out = x * gain
    if recipe.noise > 0:
        out = out + rng.normal(0.0, rng.uniform(0.0, recipe.noise), size=x.shape)
    return out.astype(np.float32)


def _crop(
    p: dict[str, np.ndarray], recipe: Recipe, rng: np.random.Generator, focus: float
) -> list[np.ndarray]:
    """One rescaled, turned and flipped crop [a, b, y, v] of pair ``p``."""
    rows, cols = p["y"].shape
    lo, hi = recipe.scale
    side = min(rows, cols, max(8, round(recipe.size * float(rng.uniform(lo, hi)))))
    r, c = _crop_at(p, side, focus, rng)
    win = (slice(r, r + side), slice(c, c + side))
    a = _resize(p["a"][:, win[0], win[1]], recipe.size, binary=False)
    b = _resize(p["b"][:, win[0], win[1]], recipe.size, binary=False)
    y = _resize(p["y"][win], recipe.size, binary=True)
    v = _resize(p["v"][win], recipe.size, binary=True)
    return _dihedral([a, b, y, v], rng)


def _paste(base: list[np.ndarray], donor: list[np.ndarray]) -> list[np.ndarray]:
    """``base`` with the changed objects of ``donor`` (grown by one pixel) pasted into both
    of its epochs, and their label."""
    grown = F.max_pool2d(torch.from_numpy(donor[2][None, None]), 3, stride=1, padding=1)
    m = (grown[0, 0].numpy() > 0) & (donor[3] > 0)
    return [np.where(m, d, x).astype(np.float32) for x, d in zip(base, donor, strict=True)]


def sample(
    p: dict[str, np.ndarray],
    recipe: Recipe,
    rng: np.random.Generator,
    donors: list[dict[str, np.ndarray]] | None = None,
) -> tuple[np.ndarray, ...]:
    """One augmented training crop (a, b, y, v) of pair ``p``; with ``recipe.paste``, some
    get the changed objects of a crop of one of ``donors`` pasted in."""
    a, b, y, v = _crop(p, recipe, rng, recipe.focus)
    if donors and rng.random() < recipe.paste:
        donor = donors[int(rng.integers(0, len(donors)))]
        a, b, y, v = _paste([a, b, y, v], _crop(donor, recipe, rng, 1.0))
    if rng.random() < 0.5:  # the order of the epochs does not matter
        a, b = b, a
    # the first epoch relit against the second
    return _relight(a, recipe, rng), b.astype(np.float32), y, v
