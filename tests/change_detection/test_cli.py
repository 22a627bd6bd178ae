"""``twin change``: detect and evaluate, and a clear error for each kind of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

from tests.change_detection.cd_helpers import texture, write_tif
from twin.cli import cli


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["change", *args])
    return result.exit_code, result.output


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_detect_writes_a_mask_on_the_earlier_grid(
    square_pair: tuple[Path, Path, tuple[slice, slice]], tmp_path: Path, suffix: str
) -> None:
    before, after, roof = square_pair
    out = tmp_path / f"mask{suffix}"
    code, text = _run("detect", str(before), str(after), "--out", str(out), "--method", "cva")
    assert code == 0, text
    assert json.loads(text)["changed_pixels"] > 0
    with rasterio.open(out) as ds, rasterio.open(before) as ref:
        band = ds.read(1)
        assert band.shape == (ref.height, ref.width)
        assert set(np.unique(band)) <= {0, 255} and band[roof].mean() > 200
        if suffix == ".tif":
            assert ds.crs == ref.crs and ds.transform == ref.transform


def test_evaluate_prints_metrics(tmp_path: Path) -> None:
    from tests.change_detection.test_detectors import _chip_folder

    code, text = _run("evaluate", str(_chip_folder(tmp_path / "chips")), "--method", "cva")
    assert code == 0, text
    assert set(json.loads(text)) == {"method", "precision", "recall", "f1", "iou"}


def _bad(tmp_path: Path, case: str) -> tuple[list[str], str]:
    a = write_tif(tmp_path / "a.tif", texture((64, 64), seed=1))
    b = write_tif(tmp_path / "b.tif", texture((64, 64), seed=2))
    out = tmp_path / "mask.png"
    if case == "no_overlap":
        far = write_tif(
            tmp_path / "far.tif", texture((64, 64), seed=2), origin=(500_000.0, 6_672_000.0)
        )
        return [str(a), str(far), "--out", str(out)], "the images do not overlap"
    if case == "nodata":
        empty = write_tif(tmp_path / "e.tif", np.zeros((3, 64, 64)), nodata=0)
        return [str(a), str(empty), "--out", str(out)], "is empty or all nodata"
    if case == "bands":
        one = write_tif(tmp_path / "one.tif", texture((64, 64), seed=2, bands=1))
        return [str(a), str(one), "--out", str(out)], "different band counts: before=3, after=1"
    if case == "corrupt":
        bad = tmp_path / "bad.tif"
        bad.write_bytes(b.read_bytes()[:300])
        return [str(a), str(bad), "--out", str(out)], "could not be decoded"
    if case == "unwritable":
        return [str(a), str(b), "--out", str(tmp_path / "nope" / "m.png")], "does not exist"
    if case == "method":
        return [str(a), str(b), "--out", str(out), "--method", "magic"], (
            "method='magic' is not a detector; choose one of ['building', 'building_new', 'cva'"
        )
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case", ["no_overlap", "nodata", "bands", "corrupt", "unwritable", "method"]
)
def test_bad_input_is_a_clear_error_and_writes_nothing(tmp_path: Path, case: str) -> None:
    args, message = _bad(tmp_path, case)
    code, text = _run("detect", *args)
    assert code == 2
    assert message in text
    assert not list(tmp_path.rglob("mask*")) and not list(tmp_path.rglob(".mask-*"))
    assert not (tmp_path / "nope").exists()
