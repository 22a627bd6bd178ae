"""The Siamese change model on the PyTorch side: network, training loop and prediction.

This module runs in its own small environment (Python with ``torch`` and ``numpy``), apart
from the twin's, and imports nothing but those, the standard library and its sibling
``siamese_crops`` (the training recipe and augmentation). It runs as a script
(the ``change_detection`` package itself imports the twin), and the twin talks to it through
files::

    python change_detection/siamese_worker.py train --data PAIRS.npz --out WEIGHTS.pt
    python change_detection/siamese_worker.py predict --weights WEIGHTS.pt --data PAIRS.npz \
        --out PROBS.npz
    python change_detection/siamese_worker.py serve --weights WEIGHTS.pt

``PAIRS.npz`` holds, for pair ``i``, ``a_i`` and ``b_i`` (``float32`` bands, rows, cols),
``v_i`` (valid pixels) and, for training, ``y_i`` (change, ``uint8`` 0/1). Prediction writes
``p_i``: the change probability per pixel. A summary goes to stdout as one JSON line; an
error is one ``error: ...`` line on stderr and exit status 2.

``serve`` loads the weights once and then predicts for each request it reads from stdin,
one JSON object per line (``{"data": PAIRS.npz, "out": PROBS.npz}``), answering each
with one JSON line on stdout (the summary, or ``{"error": ...}``); it first prints
``{"ready": true, ...}`` and ends at the end of its input. Tiled detection keeps one such
worker per process instead of starting PyTorch for every tile.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

# run as a script: this file's folder is on the path
from siamese_crops import Recipe, sample

FORMAT = "twin-siamese"
VERSION = 3
READABLE = (1, 2, 3)
DEFAULT_WIDTHS = (8, 16, 32, 64)
DEFAULT_POOL = 2
DEFAULT_FUSE = "diff"


class WorkerError(Exception):
    """A bad input to the worker; reported as one line on stderr."""


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


def _conv(cin: int, cout: int, k: int = 3) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, padding=k // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class SiameseDiff(nn.Module):
    """A shared-weight encoder applied to both epochs, a fusion of their features at each
    scale, and a light U-Net decoder to one change logit per pixel.

    With ``fuse="diff"`` the fusion is the absolute difference of the two epochs' features;
    with ``fuse="cat"`` a 1x1 convolution of that difference and of the features' mean, so
    the decoder also sees what the surface is (a roof, a road, trees), not only how much it
    changed. Both fusions are symmetric: swapping the epochs gives the same answer.

    The epochs are first averaged over ``pool`` x ``pool`` pixels, and the logits brought back
    to the input grid bilinearly: buildings at 0.5 m stay several pixels wide at 1 m, and the
    network costs a quarter as much.
    """

    def __init__(
        self,
        bands: int = 3,
        widths: tuple[int, ...] = DEFAULT_WIDTHS,
        pool: int = DEFAULT_POOL,
        fuse: str = DEFAULT_FUSE,
    ) -> None:
        super().__init__()
        if fuse not in ("diff", "cat"):
            raise WorkerError(f"unknown fusion {fuse!r}: 'diff' or 'cat'")
        self.widths = tuple(widths)
        self.pool = int(pool)
        self.fuse = fuse
        chans = [bands, *self.widths]
        self.encoder = nn.ModuleList(_block(chans[i], chans[i + 1]) for i in range(len(widths)))
        self.fusion = nn.ModuleList(
            _conv(2 * w, w, 1) if fuse == "cat" else nn.Identity() for w in self.widths
        )
        self.decoder = nn.ModuleList()
        for i in range(len(widths) - 1, 0, -1):
            self.decoder.append(_conv(widths[i] + widths[i - 1], widths[i - 1]))
        self.head = nn.Conv2d(widths[0], 1, 1)

    @property
    def bands(self) -> int:
        """Bands of each epoch the network reads."""
        return int(self.encoder[0][0].in_channels)

    @property
    def stride(self) -> int:
        """Input sides must be multiples of this."""
        return self.pool * 2 ** (len(self.widths) - 1)

    def _encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for i, block in enumerate(self.encoder):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            feats.append(x)
        return feats

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        size = a.shape[-2:]
        if self.pool > 1:
            a, b = F.avg_pool2d(a, self.pool), F.avg_pool2d(b, self.pool)
        # Each epoch is encoded on its own: in training, batch normalisation then
        # standardises each epoch's features apart (one pass over both, with both epochs
        # relit apart, scored lower in leave-one-out).
        fused = []
        for fa, fb, fuse in zip(self._encode(a), self._encode(b), self.fusion, strict=True):
            diff = torch.abs(fa - fb)
            fused.append(
                fuse(torch.cat([diff, 0.5 * (fa + fb)], 1)) if self.fuse == "cat" else diff
            )
        x = fused[-1]
        for step, skip in zip(self.decoder, reversed(fused[:-1]), strict=True):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = step(torch.cat([x, skip], dim=1))
        x = self.head(x)
        if self.pool > 1:
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        return x[:, 0]


class Ensemble(nn.Module):
    """Several :class:`SiameseDiff` members trained alike from different seeds; the change
    probability is the mean of theirs (returned as its logit, like one member's output)."""

    def __init__(self, members: list[SiameseDiff]) -> None:
        super().__init__()
        if not members:
            raise WorkerError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    @property
    def first(self) -> SiameseDiff:
        first: SiameseDiff = self.members[0]
        return first

    @property
    def bands(self) -> int:
        """Bands of each epoch the network reads."""
        return self.first.bands

    @property
    def stride(self) -> int:
        """Input sides must be multiples of this."""
        return self.first.stride

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if len(self.members) == 1:
            out: torch.Tensor = self.first(a, b)
            return out
        prob = torch.stack([torch.sigmoid(m(a, b)) for m in self.members]).mean(0)
        return torch.logit(prob, eps=1e-6)


def standardise(a: np.ndarray, b: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each band minus its mean over both epochs, over the pooled spread of the band."""
    a = a.astype(np.float32)
    b = b.astype(np.float32)
    out_a, out_b = np.empty_like(a), np.empty_like(b)
    ok = valid if valid.any() else np.ones_like(valid)
    for i in range(a.shape[0]):
        pool = np.concatenate([a[i][ok], b[i][ok]])
        mean, spread = float(pool.mean()), float(pool.std()) or 1.0
        out_a[i] = np.where(valid, (a[i] - mean) / spread, 0.0)
        out_b[i] = np.where(valid, (b[i] - mean) / spread, 0.0)
    return out_a, out_b


def read_pairs(path: Path, *, labels: bool) -> list[dict[str, np.ndarray]]:
    """The pairs of a ``PAIRS.npz`` file, checked."""
    try:
        data = np.load(path)
    except (OSError, ValueError) as exc:
        raise WorkerError(f"cannot read pairs file {str(path)!r}: {exc}") from exc
    out = []
    i = 0
    while f"a_{i}" in data:
        pair = {k: data[f"{k}_{i}"] for k in ("a", "b", "v", "y") if f"{k}_{i}" in data}
        if "b" not in pair or pair["a"].shape != pair["b"].shape or pair["a"].ndim != 3:
            raise WorkerError(f"pair {i}: a and b must be two arrays of one (bands, rows, cols)")
        pair.setdefault("v", np.ones(pair["a"].shape[1:], dtype=bool))
        if labels and "y" not in pair:
            raise WorkerError(f"pair {i} has no label")
        out.append(pair)
        i += 1
    if not out:
        raise WorkerError(f"pairs file {str(path)!r} holds no pair")
    return out


def read_about(path: Path) -> dict[str, Any]:
    """The description of the training data stored with the pairs (``about``), if any."""
    with np.load(path) as data:
        if "about" not in data:
            return {}
        about: dict[str, Any] = json.loads(str(data["about"]))
        return about


def _seed(seed: int, threads: int) -> None:
    torch.manual_seed(seed)
    torch.set_num_threads(max(1, threads))
    torch.use_deterministic_algorithms(True)


def _loss(logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy plus soft Dice of the change class, over valid pixels."""
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    bce = (bce * valid).sum() / valid.sum().clamp(min=1.0)
    prob = torch.sigmoid(logits) * valid
    inter = (prob * target).sum()
    dice = 1.0 - (2.0 * inter + 1.0) / (prob.sum() + (target * valid).sum() + 1.0)
    return bce + dice


def train(
    pairs: list[dict[str, np.ndarray]],
    recipe: Recipe | None = None,
    *,
    threads: int = 2,
    widths: tuple[int, ...] = DEFAULT_WIDTHS,
    pool: int = DEFAULT_POOL,
    fuse: str = DEFAULT_FUSE,
) -> tuple[Ensemble, dict[str, Any]]:
    """Train a new model on labelled pairs (by ``recipe``, the default one when none);
    return it with a summary of the run.

    With ``recipe.members`` above one, that many networks are trained alike, from the
    seeds ``recipe.seed``, ``recipe.seed + 1``..., and predict together (:class:`Ensemble`);
    member ``k`` is the network one run with seed ``recipe.seed + k`` would train."""
    recipe = recipe or Recipe()
    bands = pairs[0]["a"].shape[0]
    if any(p["a"].shape[0] != bands for p in pairs):
        raise WorkerError("every training pair must have the same number of bands")
    smallest = min(min(p["a"].shape[1:]) for p in pairs)
    stride = SiameseDiff(bands, widths, pool, fuse).stride
    size = min(recipe.size, smallest) // stride * stride
    if size < stride:
        if recipe.size < stride:
            raise WorkerError(
                f"crops of {recipe.size} px are too small; the network needs {stride}"
            )
        raise WorkerError(
            f"training pairs are too small: the smallest side is {smallest} px; the network "
            f"needs {stride}"
        )
    lo, hi = recipe.scale
    if not 0 < lo <= hi:
        raise WorkerError(f"scale range {recipe.scale!r} must be 0 < low <= high")
    shares = (recipe.focus, recipe.paste)
    if not recipe.crops > 0 or not all(0 <= x <= 1 for x in shares) or recipe.epochs < 1:
        raise WorkerError(
            f"epochs {recipe.epochs!r}, crops {recipe.crops!r}, focus {recipe.focus!r} and "
            f"paste {recipe.paste!r} must be positive (focus and paste at most 1)"
        )
    if recipe.members < 1:
        raise WorkerError(f"members {recipe.members!r} must be a positive integer")
    recipe = replace(recipe, size=size)
    prepared = []
    for p in pairs:
        a, b = standardise(p["a"], p["b"], p["v"].astype(bool))
        y = (p["y"] > 0).astype(np.float32)
        v = p["v"].astype(np.float32)
        prepared.append({"a": a, "b": b, "y": y, "v": v, "changed": np.flatnonzero(y * v)})
    start = time.perf_counter()
    members, histories, steps = [], [], 0
    for k in range(recipe.members):
        _seed(recipe.seed + k, threads)
        model = SiameseDiff(bands, widths, pool, fuse)
        history, taken = _fit(model, prepared, replace(recipe, seed=recipe.seed + k))
        histories.append(history)
        steps += taken
        members.append(model)
    ensemble = Ensemble(members)
    first = ensemble.first
    summary = {
        "pairs": len(pairs),
        "bands": bands,
        "recipe": asdict(recipe),
        "network": {"widths": list(first.widths), "pool": first.pool, "fuse": first.fuse},
        "epochs": recipe.epochs,
        "crop": size,
        "seed": recipe.seed,
        "members": recipe.members,
        "steps": steps,
        "parameters": sum(p.numel() for p in ensemble.parameters()),
        "seconds": round(time.perf_counter() - start, 1),
        "loss": [round(sum(h) / len(h), 4) for h in zip(*histories, strict=True)],
    }
    return ensemble, summary


def _fit(
    model: SiameseDiff, prepared: list[dict[str, np.ndarray]], recipe: Recipe
) -> tuple[list[float], int]:
    """Train ``model`` on the prepared pairs by ``recipe``; return the loss of each pass
    and the number of optimisation steps."""
    size = recipe.size
    rng = np.random.default_rng(recipe.seed)
    donors = [p for p in prepared if p["changed"].size]
    per_pass = [max(1, round(recipe.crops * p["y"].size / (size * size))) for p in prepared]
    steps_per_epoch = math.ceil(sum(per_pass) / recipe.batch)
    optim = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        optim, max_lr=recipe.lr, total_steps=max(1, recipe.epochs * steps_per_epoch)
    )
    history = []
    model.train()
    for _ in range(recipe.epochs):
        order = np.repeat(np.arange(len(prepared)), per_pass)
        order = rng.permutation(order)[: steps_per_epoch * recipe.batch]
        total, n = 0.0, 0
        for s in range(0, len(order), recipe.batch):
            items = [sample(prepared[k], recipe, rng, donors) for k in order[s : s + recipe.batch]]
            a_t, b_t, y_t, v_t = (
                torch.from_numpy(np.stack([item[j] for item in items])) for j in range(4)
            )
            optim.zero_grad()
            loss = _loss(model(a_t, b_t), y_t, v_t)
            loss.backward()
            optim.step()
            sched.step()
            total += loss.item() * len(items)
            n += len(items)
        history.append(round(total / max(n, 1), 4))
    model.eval()
    return history, recipe.epochs * steps_per_epoch


def save(model: Ensemble, path: Path, summary: dict[str, Any]) -> None:
    """Write the weights of every member with what is needed to rebuild the network."""
    first = model.first
    config = {
        "bands": first.bands,
        "widths": list(first.widths),
        "pool": first.pool,
        "fuse": first.fuse,
        "members": len(model.members),
    }
    states = [{k: v.detach().clone() for k, v in m.state_dict().items()} for m in model.members]
    torch.save(
        {
            "format": FORMAT,
            "version": VERSION,
            "config": config,
            "states": states,
            "trained": json.dumps(summary),
        },
        path,
    )


def load(path: Path) -> tuple[Ensemble, dict[str, Any]]:
    """A model from a weights file written by :func:`save` (tensors only; no code runs).

    Version 1 files (absolute-difference fusion only) and version 2 files (one network)
    are read too.
    """
    if not path.is_file():
        raise WorkerError(f"weights file {str(path)!r} does not exist")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        # PyTorch's own message advises loading the file with code execution allowed:
        # not advice to pass on about a file that is not ours
        raise WorkerError(
            f"weights file {str(path)!r} cannot be read: it is damaged or not a weights "
            f"file of 'twin change train' ({type(exc).__name__})"
        ) from exc
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise WorkerError(f"weights file {str(path)!r} is not a {FORMAT} weights file")
    if blob.get("version") not in READABLE:
        raise WorkerError(
            f"weights file {str(path)!r} has version {blob.get('version')!r}; "
            f"this model reads versions {', '.join(str(v) for v in READABLE)}"
        )
    config = {"fuse": "diff", **blob["config"]}
    try:
        states = blob["states"] if blob["version"] >= 3 else [blob["state"]]
        members = []
        for state in states:
            member = SiameseDiff(
                int(config["bands"]),
                tuple(int(w) for w in config["widths"]),
                int(config["pool"]),
                str(config["fuse"]),
            )
            member.load_state_dict(state)
            members.append(member)
        model = Ensemble(members)
    except (RuntimeError, KeyError, ValueError, TypeError) as exc:
        raise WorkerError(f"weights file {str(path)!r} does not fit the network: {exc}") from exc
    model.eval()
    return model, {
        **config,
        "members": len(members),
        "trained": json.loads(blob.get("trained", "{}")),
    }


def _predict_tile(model: Ensemble, a: np.ndarray, b: np.ndarray, *, tta: bool) -> np.ndarray:
    """Change probability of one tile; with ``tta`` the mean over the eight quarter turns and
    flips of the tile (each turned back)."""
    ta, tb = torch.from_numpy(a[None].copy()), torch.from_numpy(b[None].copy())
    if not tta:
        out: np.ndarray = torch.sigmoid(model(ta, tb))[0].numpy()
        return out
    total = torch.zeros(a.shape[1:])
    for flip in (False, True):
        fa, fb = (torch.flip(ta, (-1,)), torch.flip(tb, (-1,))) if flip else (ta, tb)
        for k in range(4):
            prob = torch.sigmoid(model(torch.rot90(fa, k, (-2, -1)), torch.rot90(fb, k, (-2, -1))))
            prob = torch.rot90(prob, -k, (-2, -1))
            total += torch.flip(prob, (-1,))[0] if flip else prob[0]
    mean: np.ndarray = (total / 8).numpy()
    return mean


@torch.no_grad()
def predict(
    model: Ensemble,
    a: np.ndarray,
    b: np.ndarray,
    valid: np.ndarray,
    *,
    tile: int = 512,
    tta: bool = True,
) -> np.ndarray:
    """Change probability per pixel of one pair, tile by tile with overlapping margins.

    With ``tta`` each tile's probability is the mean over its eight quarter turns and flips.
    """
    bands = model.bands
    if a.shape[0] < bands:
        raise WorkerError(f"the model needs {bands} bands; the pair has {a.shape[0]}")
    a, b = standardise(a[:bands], b[:bands], valid.astype(bool))
    rows, cols = a.shape[1:]
    margin = 32
    out = np.zeros((rows, cols), dtype=np.float32)
    step = tile - 2 * margin
    for r0 in range(0, rows, step):
        for c0 in range(0, cols, step):
            r1, c1 = min(rows, r0 + step), min(cols, c0 + step)
            rs, cs = max(0, r0 - margin), max(0, c0 - margin)
            re, ce = min(rows, r1 + margin), min(cols, c1 + margin)
            pa, pb = a[:, rs:re, cs:ce], b[:, rs:re, cs:ce]
            h, w = pa.shape[1:]
            # square tiles, so that a quarter turn keeps the shape
            side = max(h, w) + (-max(h, w) % model.stride)
            ph, pw = side - h, side - w
            if ph or pw:
                pad = ((0, 0), (0, ph), (0, pw))
                if ph < h and pw < w:
                    pa, pb = np.pad(pa, pad, mode="reflect"), np.pad(pb, pad, mode="reflect")
                else:
                    pa, pb = np.pad(pa, pad, mode="edge"), np.pad(pb, pad, mode="edge")
            prob = _predict_tile(model, pa, pb, tta=tta)[:h, :w]
            out[r0:r1, c0:c1] = prob[r0 - rs : r1 - rs, c0 - cs : c1 - cs]
    return np.where(valid, out, 0.0).astype(np.float32)


def _predict_file(model: Ensemble, data: Path, out: Path, *, tta: bool) -> int:
    """Predict every pair of a pairs file into a probabilities file; return the count."""
    pairs = read_pairs(data, labels=False)
    probs = {f"p_{i}": predict(model, q["a"], q["b"], q["v"], tta=tta) for i, q in enumerate(pairs)}
    np.savez(out, **probs)
    return len(pairs)


def _serve(model: Ensemble, info: dict[str, Any], *, tta: bool) -> None:
    """Answer prediction requests from stdin until it ends (see the module's docstring)."""
    print(json.dumps({"ready": True, **info}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            n = _predict_file(model, Path(req["data"]), Path(req["out"]), tta=tta)
            answer: dict[str, Any] = {"pairs": n}
        except (WorkerError, KeyError, TypeError, ValueError, OSError) as exc:
            answer = {"error": str(exc) or type(exc).__name__}
        print(json.dumps(answer), flush=True)


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="siamese_worker")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train")
    t.add_argument("--data", type=Path, required=True)
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--epochs", type=int, default=Recipe.epochs)
    t.add_argument("--size", type=int, default=Recipe.size)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--crops", type=float, default=Recipe.crops)
    t.add_argument("--focus", type=float, default=Recipe.focus)
    t.add_argument("--scale", type=float, nargs=2, default=Recipe.scale)
    t.add_argument("--lr", type=float, default=Recipe.lr)
    t.add_argument("--paste", type=float, default=Recipe.paste)
    t.add_argument("--members", type=int, default=Recipe.members)
    t.add_argument("--widths", type=int, nargs="+", default=DEFAULT_WIDTHS)
    t.add_argument("--pool", type=int, default=DEFAULT_POOL)
    t.add_argument("--fuse", choices=("diff", "cat"), default=DEFAULT_FUSE)
    p = sub.add_parser("predict")
    p.add_argument("--weights", type=Path, required=True)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-tta", action="store_true", help="one pass per tile, not eight")
    v = sub.add_parser("serve")
    v.add_argument("--weights", type=Path, required=True)
    v.add_argument("--threads", type=int, default=2)
    v.add_argument("--no-tta", action="store_true", help="one pass per tile, not eight")
    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            pairs = read_pairs(args.data, labels=True)
            recipe = Recipe(
                epochs=args.epochs,
                size=args.size,
                seed=args.seed,
                lr=args.lr,
                crops=args.crops,
                focus=args.focus,
                scale=tuple(args.scale),
                paste=args.paste,
                members=args.members,
            )
            model, summary = train(
                pairs,
                recipe,
                threads=args.threads,
                widths=tuple(args.widths),
                pool=args.pool,
                fuse=args.fuse,
            )
            summary["data"] = read_about(args.data)
            tmp = args.out.with_name(args.out.name + ".part")
            save(model, tmp, summary)
            tmp.replace(args.out)
            print(json.dumps(summary))
        elif args.command == "serve":
            torch.set_num_threads(max(1, args.threads))
            model, info = load(args.weights)
            _serve(model, info, tta=not args.no_tta)
        else:
            torch.set_num_threads(max(1, args.threads))
            model, info = load(args.weights)
            n = _predict_file(model, args.data, args.out, tta=not args.no_tta)
            print(json.dumps({"pairs": n, **info}))
    except WorkerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(_main())
