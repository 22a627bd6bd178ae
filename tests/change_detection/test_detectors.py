"""Detectors behind one interface, and pixel evaluation over an A/ B/ label/ folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from change_detection.detectors import Detector, detector_names, get_detector, register
from change_detection.errors import UnknownDetector
from change_detection.evaluate import evaluate, pixel_scores
from change_detection.pipeline import detect_paths
from tests.change_detection.cd_helpers import texture


def test_registry_names_and_unknown_detector() -> None:
    assert {"building", "cva"} <= set(detector_names())
    with pytest.raises(UnknownDetector) as info:
        get_detector("magic")
    assert str(info.value) == (
        f"method='magic' is not a detector; choose one of {detector_names()}"
    )
    assert isinstance(info.value, LookupError) and isinstance(info.value, ValueError)


def test_a_new_detector_is_one_class_and_one_call() -> None:
    class Brighter(Detector):
        name = "brighter"

        def score(self, before, after, valid, *, res):
            d = (after - before).mean(axis=0)
            return d, np.sign(d)

    register("brighter", Brighter)
    assert "brighter" in detector_names()
    before = np.zeros((3, 20, 20), np.float32)
    after = before.copy()
    after[:, 5:10, 5:10] = 1.0
    det = get_detector("brighter").detect(before, after)
    assert det.mask.sum() == 25 and det.direction[7, 7] == 1.0


@pytest.mark.parametrize("method", ["cva", "building"])
def test_detectors_find_a_new_roof(
    square_pair: tuple[Path, Path, tuple[slice, slice]], method: str
) -> None:
    before, after, roof = square_pair
    result = detect_paths(before, after, method=method)
    truth = np.zeros(result.mask.shape, bool)
    truth[roof] = True
    scores = pixel_scores(result.mask, truth)
    assert scores.f1 > 0.8, scores.summary()


def test_pixel_scores_counts() -> None:
    pred = np.array([[1, 1, 0, 0]], bool)
    truth = np.array([[1, 0, 1, 0]], bool)
    s = pixel_scores(pred, truth)
    assert (s.tp, s.fp, s.fn, s.tn) == (1, 1, 1, 1)
    assert s.summary() == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "iou": 0.3333}


def _chip_folder(root: Path, n: int = 3) -> Path:
    from PIL import Image

    for sub in ("A", "B", "label"):
        (root / sub).mkdir(parents=True)
    for i in range(n):
        a = texture((96, 96), seed=10 + i)
        b = a.copy()
        label = np.zeros((96, 96), np.uint8)
        label[20 + i * 10 : 50 + i * 10, 30:60] = 255
        b[:, label > 0] = 240
        Image.fromarray(a.transpose(1, 2, 0).astype(np.uint8)).save(root / "A" / f"c{i}.png")
        Image.fromarray(b.transpose(1, 2, 0).astype(np.uint8)).save(root / "B" / f"c{i}.png")
        Image.fromarray(label).save(root / "label" / f"c{i}.png")
    return root


def test_evaluate_over_a_chip_folder(tmp_path: Path) -> None:
    scores = evaluate("cva", _chip_folder(tmp_path / "chips"))
    assert set(scores.per_image) == {"c0.png", "c1.png", "c2.png"}
    assert scores.tp + scores.fp + scores.fn + scores.tn == 3 * 96 * 96
    assert scores.f1 > 0.8 and 0 < scores.iou <= scores.f1


@pytest.mark.shared_data
def test_levir_chips_evaluate(change_data: Path) -> None:
    scores = evaluate("cva", change_data / "levir_chips", res=0.5)
    assert len(scores.per_image) == 9
    assert scores.tp + scores.fp + scores.fn + scores.tn == 9 * 256 * 256
    assert 0.0 < scores.f1 < 1.0
