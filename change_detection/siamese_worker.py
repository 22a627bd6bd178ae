"""The Siamese change model on the PyTorch side: network, training loop and prediction.

This module runs in its own small environment (Python with ``torch`` and ``numpy``), apart
from the twin's, and imports nothing but those and the standard library. It runs as a script
(the ``change_detection`` package itself imports the twin), and the twin talks to it through
files::

    python change_detection/siamese_worker.py train --data PAIRS.npz --out WEIGHTS.pt
    python change_detection/siamese_worker.py predict --weights WEIGHTS.pt --data PAIRS.npz \
        --out PROBS.npz

``PAIRS.npz`` holds, for pair ``i``, ``a_i`` and ``b_i`` (``float32`` bands, rows, cols),
``v_i`` (valid pixels) and, for training, ``y_i`` (change, ``uint8`` 0/1). Prediction writes
``p_i``: the change probability per pixel. A summary goes to stdout as one JSON line; an
error is one ``error: ...`` line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

FORMAT = "twin-siamese"
VERSION = 1
DEFAULT_WIDTHS = (8, 16, 32, 64)
DEFAULT_POOL = 2


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


class SiameseDiff(nn.Module):
    """A shared-weight encoder applied to both epochs, absolute feature differences at each
    scale, and a light U-Net decoder to one change logit per pixel.

    The epochs are first averaged over ``pool`` x ``pool`` pixels, and the logits brought back
    to the input grid bilinearly: buildings at 0.5 m stay several pixels wide at 1 m, and the
    network costs a quarter as much.
    """

    def __init__(
        self, bands: int = 3, widths: tuple[int, ...] = DEFAULT_WIDTHS, pool: int = DEFAULT_POOL
    ) -> None:
        super().__init__()
        self.widths = tuple(widths)
        self.pool = int(pool)
        chans = [bands, *self.widths]
        self.encoder = nn.ModuleList(_block(chans[i], chans[i + 1]) for i in range(len(widths)))
        self.decoder = nn.ModuleList()
        for i in range(len(widths) - 1, 0, -1):
            self.decoder.append(
                nn.Sequential(
                    nn.Conv2d(widths[i] + widths[i - 1], widths[i - 1], 3, padding=1, bias=False),
                    nn.BatchNorm2d(widths[i - 1]),
                    nn.ReLU(inplace=True),
                )
            )
        self.head = nn.Conv2d(widths[0], 1, 1)

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
        fa, fb = self._encode(a), self._encode(b)
        diffs = [torch.abs(x - y) for x, y in zip(fa, fb, strict=True)]
        x = diffs[-1]
        for step, skip in zip(self.decoder, reversed(diffs[:-1]), strict=True):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = step(torch.cat([x, skip], dim=1))
        x = self.head(x)
        if self.pool > 1:
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        return x[:, 0]


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


def _crops(
    pairs: list[dict[str, np.ndarray]], size: int, rng: np.random.Generator
) -> list[tuple[int, int, int]]:
    """(pair, row, col) of random crops: about one chip's area in crops per pair."""
    out = []
    for k, p in enumerate(pairs):
        rows, cols = p["y"].shape
        n = max(1, round(rows * cols / (size * size)))
        for _ in range(n):
            out.append(
                (k, int(rng.integers(0, rows - size + 1)), int(rng.integers(0, cols - size + 1)))
            )
    order = rng.permutation(len(out))
    return [out[i] for i in order]


def _augment(arrs: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """One random flip and quarter turn, the same for every array."""
    turns = int(rng.integers(0, 4))
    flip = bool(rng.integers(0, 2))
    out = []
    for x in arrs:
        x = np.rot90(x, turns, axes=(-2, -1))
        if flip:
            x = x[..., ::-1]
        out.append(np.ascontiguousarray(x))
    return out


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
    *,
    epochs: int = 60,
    size: int = 128,
    seed: int = 0,
    batch: int = 8,
    lr: float = 2e-3,
    threads: int = 2,
    widths: tuple[int, ...] = DEFAULT_WIDTHS,
) -> tuple[SiameseDiff, dict[str, Any]]:
    """Train a new model on labelled pairs; return it with a summary of the run."""
    bands = pairs[0]["a"].shape[0]
    if any(p["a"].shape[0] != bands for p in pairs):
        raise WorkerError("every training pair must have the same number of bands")
    smallest = min(min(p["a"].shape[1:]) for p in pairs)
    _seed(seed, threads)
    model = SiameseDiff(bands, widths)
    size = min(size, smallest) // model.stride * model.stride
    if size < model.stride:
        raise WorkerError(f"training pairs are too small: the smallest side is {smallest} px")
    rng = np.random.default_rng(seed)
    prepared = []
    for p in pairs:
        a, b = standardise(p["a"], p["b"], p["v"].astype(bool))
        prepared.append(
            {"a": a, "b": b, "y": (p["y"] > 0).astype(np.float32), "v": p["v"].astype(np.float32)}
        )
    optim = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps_per_epoch = math.ceil(len(_crops(prepared, size, np.random.default_rng(0))) / batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        optim, max_lr=lr, total_steps=max(1, epochs * steps_per_epoch)
    )
    start = time.perf_counter()
    history = []
    model.train()
    for _ in range(epochs):
        crops = _crops(prepared, size, rng)[: steps_per_epoch * batch]
        total, n = 0.0, 0
        for s in range(0, len(crops), batch):
            items = []
            for k, r, c in crops[s : s + batch]:
                p = prepared[k]
                win = (slice(r, r + size), slice(c, c + size))
                arrs = [p["a"][:, win[0], win[1]], p["b"][:, win[0], win[1]]]
                arrs += [p["y"][win], p["v"][win]]
                a, b, y, v = _augment(arrs, rng)
                if rng.random() < 0.5:  # the order of the epochs does not matter
                    a, b = b, a
                gain = rng.normal(1.0, 0.1, size=(a.shape[0], 1, 1)).astype(np.float32)
                items.append((a * gain, b, y, v))
            a_t = torch.from_numpy(np.stack([i[0] for i in items]))
            b_t = torch.from_numpy(np.stack([i[1] for i in items]))
            y_t = torch.from_numpy(np.stack([i[2] for i in items]))
            v_t = torch.from_numpy(np.stack([i[3] for i in items]))
            optim.zero_grad()
            loss = _loss(model(a_t, b_t), y_t, v_t)
            loss.backward()
            optim.step()
            sched.step()
            total += loss.item() * len(items)
            n += len(items)
        history.append(round(total / max(n, 1), 4))
    summary = {
        "pairs": len(pairs),
        "bands": bands,
        "epochs": epochs,
        "crop": size,
        "seed": seed,
        "parameters": sum(p.numel() for p in model.parameters()),
        "seconds": round(time.perf_counter() - start, 1),
        "loss": history,
    }
    return model, summary


def save(model: SiameseDiff, path: Path, summary: dict[str, Any]) -> None:
    """Write the weights with what is needed to rebuild the network."""
    bands = model.encoder[0][0].in_channels
    config = {"bands": bands, "widths": list(model.widths), "pool": model.pool}
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    torch.save(
        {
            "format": FORMAT,
            "version": VERSION,
            "config": config,
            "state": state,
            "trained": json.dumps(summary),
        },
        path,
    )


def load(path: Path) -> tuple[SiameseDiff, dict[str, Any]]:
    """A model from a weights file written by :func:`save` (tensors only; no code runs)."""
    if not path.is_file():
        raise WorkerError(f"weights file {str(path)!r} does not exist")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WorkerError(f"weights file {str(path)!r} cannot be read: {exc}") from exc
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise WorkerError(f"weights file {str(path)!r} is not a {FORMAT} weights file")
    if blob.get("version") != VERSION:
        raise WorkerError(
            f"weights file {str(path)!r} has version {blob.get('version')!r}; "
            f"this model reads version {VERSION}"
        )
    config = blob["config"]
    model = SiameseDiff(
        int(config["bands"]), tuple(int(w) for w in config["widths"]), int(config["pool"])
    )
    try:
        model.load_state_dict(blob["state"])
    except (RuntimeError, KeyError) as exc:
        raise WorkerError(f"weights file {str(path)!r} does not fit the network: {exc}") from exc
    model.eval()
    return model, {**config, "trained": json.loads(blob.get("trained", "{}"))}


def _predict_tile(model: SiameseDiff, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    logits = model(torch.from_numpy(a[None].copy()), torch.from_numpy(b[None].copy()))
    out: np.ndarray = torch.sigmoid(logits)[0].numpy()
    return out


@torch.no_grad()
def predict(
    model: SiameseDiff, a: np.ndarray, b: np.ndarray, valid: np.ndarray, *, tile: int = 512
) -> np.ndarray:
    """Change probability per pixel of one pair, tile by tile with overlapping margins."""
    bands = model.encoder[0][0].in_channels
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
            ph, pw = -h % model.stride, -w % model.stride
            if ph or pw:
                pad = ((0, 0), (0, ph), (0, pw))
                if ph < h and pw < w:
                    pa, pb = np.pad(pa, pad, mode="reflect"), np.pad(pb, pad, mode="reflect")
                else:
                    pa, pb = np.pad(pa, pad, mode="edge"), np.pad(pb, pad, mode="edge")
            prob = _predict_tile(model, pa, pb)[:h, :w]
            out[r0:r1, c0:c1] = prob[r0 - rs : r1 - rs, c0 - cs : c1 - cs]
    return np.where(valid, out, 0.0).astype(np.float32)


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="siamese_worker")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train")
    t.add_argument("--data", type=Path, required=True)
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--epochs", type=int, default=60)
    t.add_argument("--size", type=int, default=128)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=2)
    p = sub.add_parser("predict")
    p.add_argument("--weights", type=Path, required=True)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            pairs = read_pairs(args.data, labels=True)
            model, summary = train(
                pairs, epochs=args.epochs, size=args.size, seed=args.seed, threads=args.threads
            )
            summary["data"] = read_about(args.data)
            tmp = args.out.with_name(args.out.name + ".part")
            save(model, tmp, summary)
            tmp.replace(args.out)
            print(json.dumps(summary))
        else:
            torch.set_num_threads(max(1, args.threads))
            model, info = load(args.weights)
            pairs = read_pairs(args.data, labels=False)
            probs = {f"p_{i}": predict(model, q["a"], q["b"], q["v"]) for i, q in enumerate(pairs)}
            np.savez(args.out, **probs)
            print(json.dumps({"pairs": len(pairs), **info}))
    except WorkerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(_main())
