"""The learned ``siamese`` detector and its training, on the twin's side.

The network itself lives in :mod:`change_detection.siamese_worker`, which runs in a separate
Python environment holding PyTorch (``.venv-torch/`` at the repository root, made by
``make torch``, or the interpreter named by ``TWIN_TORCH_PYTHON``). This module prepares the
epochs exactly as detection does (warp, co-registration, radiometric normalisation), hands
them to the worker in an ``.npz`` file and reads its answer back. Weights are always read
from a file path given by the caller (or ``TWIN_SIAMESE_WEIGHTS``), never downloaded.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from change_detection.detectors import Detector
from twin.errors import InvalidInput, NotComputable

__all__ = [
    "LabelledPair",
    "SiameseDetector",
    "TorchUnavailable",
    "WeightsError",
    "folder_pairs",
    "prepare_pair",
    "torch_python",
    "train",
]

log = logging.getLogger(__name__)

WORKER = Path(__file__).with_name("siamese_worker.py")
REPO = Path(__file__).resolve().parents[1]
TORCH_ENV = REPO / ".venv-torch"
DEFAULT_THREADS = 2
DEFAULT_EPOCHS = 90
DEFAULT_PASTE = 0.5
DEFAULT_MEMBERS = 3
DEFAULT_SCALE = (0.6, 1.67)
"""Training passes, share of pasted crops, networks of a model and range of the crops'
rescaling by default (see :func:`train`)."""


class TorchUnavailable(NotComputable):
    """No Python environment with PyTorch is available to run the model."""


class WeightsError(InvalidInput):
    """A weights file that is missing, unreadable or not of this model."""


@dataclass(frozen=True)
class LabelledPair:
    """Two aligned epochs (bands, rows, cols), their valid pixels and the change label."""

    name: str
    before: np.ndarray
    after: np.ndarray
    valid: np.ndarray
    label: np.ndarray


def torch_python() -> str | None:
    """The interpreter that runs the model: ``TWIN_TORCH_PYTHON``, else that of a complete
    ``.venv-torch`` (``None`` when there is neither).

    Raises
    ------
    TorchUnavailable
        ``TWIN_TORCH_PYTHON`` is set but names no interpreter.
    """
    named = os.environ.get("TWIN_TORCH_PYTHON")
    if named:
        found = shutil.which(named)
        if found is None:
            msg = f"TWIN_TORCH_PYTHON={named!r} is not an executable Python interpreter"
            raise TorchUnavailable(msg)
        return found
    local = TORCH_ENV / "bin" / "python"
    return str(local) if (TORCH_ENV / ".installed").is_file() and local.is_file() else None


def _require_python() -> str:
    python = torch_python()
    if python is None:
        msg = (
            f"the siamese detector needs a Python with PyTorch: none at {str(TORCH_ENV)!r}; "
            "run 'make torch' or set TWIN_TORCH_PYTHON"
        )
        raise TorchUnavailable(msg)
    return python


def _run_worker(args: list[str]) -> dict[str, Any]:
    """Run the worker; return its JSON summary or raise the error it reported.

    The worker imports only numpy, torch and the standard library, and runs as a script, so
    that the twin's package (and its dependencies) is never imported on the torch side.
    ``OMP_WAIT_POLICY=PASSIVE`` keeps its threads from spinning on a busy machine (ten
    times slower than one thread otherwise, measured with two threads on two shared cores).
    """
    python = _require_python()
    proc = subprocess.run(
        [python, str(WORKER), *args], capture_output=True, text=True, env=worker_env(), check=False
    )
    if proc.returncode != 0:
        raise worker_failure(python, proc.stderr.strip().splitlines(), proc.returncode)
    last = proc.stdout.strip().splitlines()[-1:] or ["{}"]
    out: dict[str, Any] = json.loads(last[0])
    return out


def worker_env() -> dict[str, str]:
    """The worker's environment: this one, with ``OMP_WAIT_POLICY=PASSIVE`` unless set."""
    return {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}


def worker_failure(python: str, stderr: Sequence[str], code: int) -> Exception:
    """The error to raise for a worker that failed with these stderr lines: the last
    ``error: ...`` line it reported (a :class:`WeightsError` for a weights file, else
    :class:`~twin.errors.InvalidInput`), or :class:`TorchUnavailable` with its last lines."""
    reported = [line[len("error: ") :] for line in stderr if line.startswith("error: ")]
    if reported and reported[-1].startswith("weights file"):
        return WeightsError(reported[-1])
    if reported:
        return InvalidInput(reported[-1])
    tail = " | ".join(stderr[-3:]) or f"exit status {code}"
    return TorchUnavailable(f"the siamese worker ({python}) failed: {tail}")


def _check_weights(weights: str | os.PathLike[str]) -> Path:
    path = Path(weights)
    if not path.is_file():
        msg = f"weights file {str(path)!r} does not exist; train one with 'twin change train'"
        raise WeightsError(msg)
    return path


def prepare_pair(
    before: Any, after: Any, *, register: bool = True, normalisation: str = "pif"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Align two :class:`~change_detection.raster.Raster` epochs as detection does.

    Returns (before, after, valid) on the earlier grid, scaled as
    :func:`~change_detection.pipeline.detect_pair` scales them for a detector.
    """
    from change_detection.align import align_pair
    from change_detection.pipeline import unit_scale

    pair = align_pair(before, after, register=register, normalisation=normalisation)
    scale = unit_scale(pair.before.data, pair.valid)
    return pair.before.data / scale, pair.after.data / scale, pair.valid


def folder_pairs(
    folder: str | os.PathLike[str], *, register: bool = True, normalisation: str = "pif"
) -> list[LabelledPair]:
    """Every labelled pair of a folder in the ``A/ B/ label/`` layout, aligned.

    Raises
    ------
    InvalidInput
        The folder lacks ``A/``, ``B/`` or ``label/``, holds no matching pair, or a label
        does not match its image's size.
    """
    from change_detection.evaluate import _pairs, read_raster_label
    from change_detection.raster import read_raster

    out = []
    for a, b, label_path in _pairs(Path(folder)):
        before, after, valid = prepare_pair(
            read_raster(a, max_bands=4),
            read_raster(b, max_bands=4),
            register=register,
            normalisation=normalisation,
        )
        label = read_raster_label(label_path)
        if label.shape != valid.shape:
            msg = (
                f"label {str(label_path)!r} is {label.shape[1]}x{label.shape[0]} px but its "
                f"image is {valid.shape[1]}x{valid.shape[0]} px"
            )
            raise InvalidInput(msg)
        out.append(LabelledPair(f"{Path(folder).name}/{a.name}", before, after, valid, label))
    return out


def _write_pairs(path: Path, pairs: Iterable[Any], *, about: dict[str, Any] | None = None) -> int:
    arrays: dict[str, np.ndarray] = {}
    n = 0
    for i, (before, after, valid, label) in enumerate(pairs):
        arrays[f"a_{i}"] = np.asarray(before, dtype=np.float32)
        arrays[f"b_{i}"] = np.asarray(after, dtype=np.float32)
        arrays[f"v_{i}"] = np.asarray(valid, dtype=bool)
        if label is not None:
            arrays[f"y_{i}"] = np.asarray(label, dtype=np.uint8)
        n += 1
    if about is not None:
        arrays["about"] = np.array(json.dumps(about))
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return n


def train(
    pairs: Sequence[LabelledPair],
    out: str | os.PathLike[str],
    *,
    epochs: int = DEFAULT_EPOCHS,
    size: int = 128,
    seed: int = 0,
    threads: int = DEFAULT_THREADS,
    crops: float = 1.0,
    focus: float = 0.0,
    scale: tuple[float, float] = DEFAULT_SCALE,
    lr: float = 2e-3,
    paste: float = DEFAULT_PASTE,
    members: int = DEFAULT_MEMBERS,
) -> dict[str, Any]:
    """Train a new model on labelled pairs and write its weights to ``out``.

    Parameters
    ----------
    pairs
        The training set (see :func:`folder_pairs`); the weights record their names.
    out
        The weights file to write (replaced whole, only on success).
    epochs
        Passes over the training set; each pass draws ``crops`` times a pair's area of
        random ``size`` x ``size`` crops per pair, each rescaled, turned, flipped, its
        epochs swapped and relit at random.
    size
        Side of the training crops in pixels.
    seed
        Seed of the initial weights, crops and augmentation.
    threads
        CPU threads of the worker.
    crops
        Crops per pair and pass, in units of the pair's area over a crop's.
    focus
        Share of the crops placed over a changed pixel (0: anywhere, the default; a trial
        recipe that centred crops on change, among other changes, scored lower over the
        shared chips).
    scale
        Range of the random rescaling of the crops: a crop of ``size * s`` pixels, ``s``
        drawn from the range, is resampled to ``size``, so the network sees the same
        objects at several ground resolutions. ``(0.6, 1.67)`` by default: in
        leave-one-out over the shared chips one network scored F1 0.597 and 0.596 with
        seeds 0 and 1, against 0.576 and 0.592 with ``(0.75, 1.33)`` and 0.570 and 0.577
        without rescaling; ``(0.5, 2.0)`` scored 0.575 with seed 0.
    lr
        Peak learning rate (one-cycle schedule, AdamW).
    paste
        Share of the crops into which the changed objects of a crop of another pair are
        pasted, in both epochs at the same place, with their label (0.5 by default: in
        leave-one-out over the shared chips it scored F1 0.551 and 0.550 over two seeds,
        against 0.520 and 0.513 without; 0.25 and 0.75 scored lower; with pasting, 90
        epochs scored 0.570 and 0.577, 120 epochs 0.565).
    members
        Networks trained alike from the seeds ``seed``, ``seed + 1``... and kept together in
        the weights file; the detector averages their change probabilities. Training and
        detection take ``members`` times as long. In leave-one-out over the shared chips,
        without rescaling, three networks scored F1 0.581 (seeds 0-2) and 0.560 (seeds
        1-3), about 0.02 above the mean of their networks alone (0.570, 0.577, 0.541 and
        0.511 for seeds 0-3); with rescaling ``(0.75, 1.33)``, 0.597 (seeds 0-2) and 0.586
        (seeds 1-3); with the default rescaling, 0.601 (seeds 0-2).

    Returns
    -------
    dict
        What the worker reports: pairs, parameters, seconds, loss per epoch, and
        ``trained_on``, the names of the training pairs.
    """
    target = Path(out)
    if not pairs:
        msg = "no training pair was given"
        raise InvalidInput(msg)
    for name, value in (
        ("epochs", epochs),
        ("size", size),
        ("threads", threads),
        ("members", members),
    ):
        if value < 1:
            msg = f"{name}={value!r} must be a positive integer"
            raise InvalidInput(msg)
    if not crops > 0:
        msg = f"crops={crops!r} must be a positive number"
        raise InvalidInput(msg)
    for name, share in (("focus", focus), ("paste", paste)):
        if not 0.0 <= share <= 1.0:
            msg = f"{name}={share!r} must be a share between 0 and 1"
            raise InvalidInput(msg)
    if not 0.0 < scale[0] <= scale[1]:
        msg = f"scale={scale!r} must be a range 0 < low <= high"
        raise InvalidInput(msg)
    if not lr > 0:
        msg = f"lr={lr!r} must be a positive number"
        raise InvalidInput(msg)
    from change_detection.errors import MaskWriteError
    from change_detection.outputs import check_output

    try:
        check_output(out, name="weights path")
    except MaskWriteError as exc:
        raise InvalidInput(str(exc)) from None
    bands = {p.before.shape[0] for p in pairs}
    if len(bands) > 1:
        msg = f"the training pairs have different band counts: {sorted(bands)!r}"
        raise InvalidInput(msg)
    names = [p.name for p in pairs]
    with tempfile.TemporaryDirectory(prefix="twin-siamese-") as tmp:
        data = Path(tmp) / "pairs.npz"
        _write_pairs(
            data,
            ((p.before, p.after, p.valid, p.label) for p in pairs),
            about={"trained_on": names},
        )
        summary = _run_worker(
            [
                "train",
                f"--data={data}",
                f"--out={target}",
                f"--epochs={epochs}",
                f"--size={size}",
                f"--seed={seed}",
                f"--threads={threads}",
                f"--crops={crops}",
                f"--focus={focus}",
                "--scale",
                str(scale[0]),
                str(scale[1]),
                f"--lr={lr}",
                f"--paste={paste}",
                f"--members={members}",
            ]
        )
    log.info("trained %s on %d pairs in %ss", target, len(pairs), summary.get("seconds"))
    return {**summary, "weights": str(target), "trained_on": names}


def predict(
    weights: str | os.PathLike[str],
    pairs: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]],
    *,
    threads: int = DEFAULT_THREADS,
    tta: bool = True,
    keep_worker: bool = True,
) -> list[np.ndarray]:
    """Change probability per pixel of each (before, after, valid) pair.

    With ``tta`` each probability is the mean over the eight quarter turns and flips of the
    pair (eight times the work, measured about +0.01 F1 out of sample). With
    ``keep_worker`` the pairs go to this process's long-lived worker for the weights
    (:mod:`change_detection._siamese_server`: PyTorch starts once, not on every call);
    otherwise one worker runs for this call alone.
    """
    path = _check_weights(weights)
    with tempfile.TemporaryDirectory(prefix="twin-siamese-") as tmp:
        data, out = Path(tmp) / "pairs.npz", Path(tmp) / "probs.npz"
        n = _write_pairs(data, ((a, b, v, None) for a, b, v in pairs))
        if keep_worker:
            from change_detection._siamese_server import server_for

            python = _require_python()
            server_for(python, WORKER, path, threads=threads, tta=tta).predict(data, out)
        else:
            _run_worker(
                [
                    "predict",
                    f"--weights={path}",
                    f"--data={data}",
                    f"--out={out}",
                    f"--threads={threads}",
                    *([] if tta else ["--no-tta"]),
                ]
            )
        with np.load(out) as probs:
            return [probs[f"p_{i}"] for i in range(n)]


class SiameseDetector(Detector):
    """A learned Siamese network: a shared encoder of both epochs, their features fused at
    four scales (absolute difference and mean), and a light decoder to a change probability
    per pixel (averaged over the eight quarter turns and flips of the pair), thresholded
    at ``threshold`` (0.5).

    Parameters
    ----------
    weights
        Path of a weights file written by ``twin change train``; ``TWIN_SIAMESE_WEIGHTS``
        when ``None``.
    threshold
        Probability above which a pixel is change.
    threads
        CPU threads of the worker.

    Raises
    ------
    WeightsError
        No weights path was given, or the file does not exist.
    """

    name = "siamese"

    def __init__(
        self,
        weights: str | os.PathLike[str] | None = None,
        *,
        threshold: float = 0.5,
        threads: int = DEFAULT_THREADS,
    ) -> None:
        super().__init__()
        given = weights if weights is not None else os.environ.get("TWIN_SIAMESE_WEIGHTS")
        if not given:
            msg = (
                "the siamese detector needs weights: a file 'twin change train' wrote, given "
                "as --weights FILE where the command takes it, else in TWIN_SIAMESE_WEIGHTS"
            )
            raise WeightsError(msg)
        if not 0.0 < threshold < 1.0:
            msg = f"threshold={threshold!r} must be a probability between 0 and 1"
            raise InvalidInput(msg)
        self.weights = _check_weights(given)
        self.threshold = float(threshold)
        self.threads = int(threads)

    def score(
        self, before: np.ndarray, after: np.ndarray, valid: np.ndarray, *, res: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Change probability per pixel; the model does not tell direction (zeros)."""
        (prob,) = predict(self.weights, [(before, after, valid)], threads=self.threads)
        return prob, np.zeros_like(prob)

    def auto_threshold(self, score: np.ndarray) -> float:
        """The fixed probability threshold (a trained model needs no per-image one)."""
        return self.threshold
