"""``twin change detect`` tile by tile on Dask, for images too large to read whole."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

from change_detection import large
from change_detection.tiled import detect_tiled
from tests.change_detection.cd_helpers import roof_over_a_seam, texture, write_tif
from twin.cli import cli


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["change", "detect", *args])
    return result.exit_code, result.output


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    return roof_over_a_seam(tmp_path)


def _mask(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read(1)


def test_tile_runs_tiled_and_writes_what_detect_tiled_writes(
    pair: tuple[Path, Path], tmp_path: Path
) -> None:
    a, b = pair
    out, geojson = tmp_path / "mask.tif", tmp_path / "patches.geojson"
    args = [str(a), str(b), "--out", str(out), "--method", "cva", "--tile", "128"]
    code, text = _run(*args, "--scheduler", "sync", "--patches", str(geojson), "--no-progress")
    assert code == 0, text
    summary = json.loads(text)
    assert (summary["tiles"], summary["patches"]) == (4, 1)
    ref = tmp_path / "ref.tif"
    frame = detect_tiled(
        a, b, method="cva", tile=128, scheduler="sync", progress=False, mask_path=ref
    )
    assert np.array_equal(_mask(out), _mask(ref))
    assert summary["changed_pixels"] == int((_mask(ref) > 0).sum()) > 1000
    written = json.loads(geojson.read_text())["features"]
    assert len(written) == len(frame) == 1
    with rasterio.open(out) as ds, rasterio.open(a) as src:
        assert (ds.crs, ds.transform, ds.shape) == (src.crs, src.transform, src.shape)


def test_a_local_dask_cluster_gives_the_same_mask(pair: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = pair
    local, sync = tmp_path / "local.png", tmp_path / "sync.png"
    common = [str(a), str(b), "--method", "cva", "--tile", "128", "--no-progress"]
    code, text = _run(*common, "--out", str(local), "--workers", "1")
    assert code == 0, text
    code, text = _run(*common, "--out", str(sync), "--scheduler", "sync")
    assert code == 0, text
    assert np.array_equal(_mask(local), _mask(sync)) and _mask(local).any()


def test_a_large_image_runs_tiled_by_default(
    pair: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = pair
    out = tmp_path / "mask.tif"
    code, text = _run(str(a), str(b), "--out", str(out), "--method", "cva")
    assert code == 0 and "tiles" not in json.loads(text)  # 65,536 px: whole
    monkeypatch.setattr(large, "AUTO_TILED_PIXELS", 256 * 256 - 1)
    monkeypatch.setattr(large, "AUTO_TILE", 128)
    code, text = _run(
        str(a), str(b), "--out", str(out), "--method", "cva", "--scheduler", "sync", "--no-progress"
    )
    assert code == 0, text
    assert json.loads(text)["tiles"] == 4


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--tile", "10"], "--tile=10 is too small"),
        (["--tile", "-1"], "-1 is not in the range x>=0"),
        (["--tile", "0", "--scheduler", "sync"], "--scheduler applies to tiled runs"),
        (["--workers", "0"], "0 is not in the range x>=1"),
    ],
)
def test_bad_tiling_options_are_refused(
    pair: tuple[Path, Path], tmp_path: Path, extra: list[str], message: str
) -> None:
    a, b = pair
    out = tmp_path / "mask.tif"
    code, text = _run(str(a), str(b), "--out", str(out), *extra)
    assert code == 2 and message in text, text
    assert not out.exists()


def test_a_failed_tiled_run_writes_nothing(tmp_path: Path) -> None:
    a = write_tif(tmp_path / "a.tif", texture((256, 256), seed=1))
    far = write_tif(
        tmp_path / "far.tif", texture((256, 256), seed=2), origin=(500_000.0, 6_672_000.0)
    )
    out, geojson = tmp_path / "mask.png", tmp_path / "p.geojson"
    code, text = _run(
        str(a),
        str(far),
        "--out",
        str(out),
        "--patches",
        str(geojson),
        "--tile",
        "128",
        "--scheduler",
        "sync",
        "--no-progress",
    )
    assert code == 2, text
    assert "do not overlap" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tif", "far.tif"]
