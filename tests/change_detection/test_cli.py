"""``twin change``: detect and evaluate, and a clear error for each kind of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

from tests.change_detection.cd_helpers import texture, write_tif, write_vrt
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
    if case == "vrt":
        vrt = write_vrt(tmp_path / "b.vrt", b)
        return [str(a), str(vrt), "--out", str(out)], (
            f"Error: image path={str(vrt)!r} is not a GeoTIFF/COG, PNG or JPEG file"
        )
    if case == "unwritable":
        return [str(a), str(b), "--out", str(tmp_path / "nope" / "m.png")], "does not exist"
    if case == "method":
        return [str(a), str(b), "--out", str(out), "--method", "magic"], (
            "method='magic' is not a detector; choose one of ['building', 'building_new', 'cva'"
        )
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case", ["no_overlap", "nodata", "bands", "corrupt", "vrt", "unwritable", "method"]
)
def test_bad_input_is_a_clear_error_and_writes_nothing(tmp_path: Path, case: str) -> None:
    args, message = _bad(tmp_path, case)
    code, text = _run("detect", *args)
    assert code == 2
    assert message in text
    assert not list(tmp_path.rglob("mask*")) and not list(tmp_path.rglob(".mask-*"))
    assert not (tmp_path / "nope").exists()


def _float_tif(path: Path, data: np.ndarray) -> Path:
    """Write (bands, rows, cols) as a float32 GeoTIFF with no nodata value."""
    from rasterio.transform import from_origin

    profile = {
        "driver": "GTiff",
        "width": data.shape[2],
        "height": data.shape[1],
        "count": data.shape[0],
        "dtype": "float32",
        "crs": "EPSG:32635",
        "transform": from_origin(385_000.0, 6_672_000.0, 0.5, 0.5),
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data.astype(np.float32))
    return path


def test_nan_pixels_are_nodata(tmp_path: Path) -> None:
    from change_detection.raster import read_raster

    a = _float_tif(tmp_path / "a.tif", texture((96, 96), seed=1))
    after = texture((96, 96), seed=1)
    after[:, 40:60, 40:60] = 235.0
    after[:, :20, :30] = np.nan
    after[1, 80, 80] = np.inf
    b = _float_tif(tmp_path / "b.tif", after)
    raster = read_raster(b)
    assert not raster.valid[:20, :30].any() and not raster.valid[80, 80]
    assert raster.valid[20:, 30:].sum() == 76 * 66 - 1 and np.isfinite(raster.data).all()
    out = tmp_path / "mask.tif"
    code, text = _run("detect", str(a), str(b), "--out", str(out), "--method", "cva")
    assert code == 0, text
    with rasterio.open(out) as ds:
        band = ds.read(1)
    assert band[45:55, 45:55].mean() > 200 and not band[:20, :30].any()
    nan = _float_tif(tmp_path / "nan.tif", np.full((3, 96, 96), np.nan))
    code, text = _run("detect", str(a), str(nan), "--out", str(tmp_path / "m2.tif"))
    assert code == 2 and f"image {str(nan)!r} is empty or all nodata" in text
    assert "Traceback" not in text and not (tmp_path / "m2.tif").exists()


@pytest.mark.parametrize("res", ["nan", "inf", "0", "-1", "1e-9", "5000"])
def test_res_must_be_a_sensible_pixel_size(tmp_path: Path, res: str) -> None:
    from tests.change_detection.test_detectors import _chip_folder

    a = write_tif(tmp_path / "a.tif", texture((64, 64), seed=1))
    b = write_tif(tmp_path / "b.tif", texture((64, 64), seed=2))
    out = tmp_path / "mask.png"
    code, text = _run("detect", str(a), str(b), "--out", str(out), "--res", res)
    assert code == 2 and "Invalid value for '--res'" in text
    assert "must be a pixel size in metres from 0.01 to 1000" in text
    assert not out.exists()
    code, text = _run("evaluate", str(_chip_folder(tmp_path / "chips")), "--res", res)
    assert code == 2 and "must be a pixel size in metres from 0.01 to 1000" in text


def test_the_python_api_checks_res_too(tmp_path: Path) -> None:
    from change_detection.evaluate import evaluate
    from change_detection.pipeline import detect_pair
    from change_detection.raster import read_raster
    from tests.change_detection.test_detectors import _chip_folder
    from twin.errors import InvalidInput

    a = read_raster(write_tif(tmp_path / "a.tif", texture((64, 64), seed=1)))
    chips = _chip_folder(tmp_path / "chips")
    for bad in (0.0, -1.0, float("nan"), 1e-9, 1e6):
        with pytest.raises(InvalidInput, match=r"res=.* must be a pixel size in metres"):
            detect_pair(a, a, method="cva", res=bad)
        with pytest.raises(InvalidInput, match=r"res=.* must be a pixel size in metres"):
            evaluate("cva", chips, res=bad)
    assert detect_pair(a, a, method="cva", res=0.01).res == 0.01


def _pair(tmp_path: Path) -> list[str]:
    before = texture((96, 96), seed=1)
    after = before.copy()
    after[:, 30:60, 30:70] = 235.0
    a = write_tif(tmp_path / "a.tif", before)
    b = write_tif(tmp_path / "b.tif", after)
    return [str(a), str(b), "--method", "cva"]


def test_patches_are_never_written_into_a_twin(tmp_path: Path) -> None:
    from twin.store import open_store

    twin = tmp_path / "buildings.gpkg"
    with open_store(str(twin)):
        pass
    kept = twin.read_bytes()
    out = tmp_path / "mask.png"
    code, text = _run("detect", *_pair(tmp_path), "--out", str(out), "--patches", str(twin))
    assert code == 2 and f"--patches={str(twin)!r} is a twin GeoPackage" in text
    assert twin.read_bytes() == kept and not out.exists()
    with open_store(str(twin), create=False) as store:
        assert store.collections() == []


def test_patches_replace_an_existing_file_whole(tmp_path: Path) -> None:
    import geopandas as gpd
    import pyogrio
    import shapely

    old = gpd.GeoDataFrame({"x": [1]}, geometry=[shapely.box(0, 0, 1, 1)], crs="EPSG:4326")
    gpkg, geojson = tmp_path / "p.gpkg", tmp_path / "p.geojson"
    old.to_file(gpkg, layer="other")
    geojson.write_text("not json")
    for target in (gpkg, geojson):
        out = tmp_path / "mask.tif"
        code, text = _run("detect", *_pair(tmp_path), "--out", str(out), "--patches", str(target))
        assert code == 0, text
        assert json.loads(text)["patches"] >= 1 and out.is_file()
        frame = gpd.read_file(target)
        assert len(frame) == json.loads(text)["patches"] and "x" not in frame
    assert [str(n) for n, _ in pyogrio.list_layers(gpkg)] == ["p"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a.tif",
        "b.tif",
        "mask.tif",
        "p.geojson",
        "p.gpkg",
    ]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--patches", "p.xyz", "--patches='{}' has an unknown extension; use one of ['.geojson', '.gpkg']"),
        ("--patches", "p", "--patches='{}' has an unknown extension"),
        ("--patches", "/proc/p.geojson", "--patches='/proc/p.geojson' cannot be written"),
        ("--patches", "nope/p.geojson", "--patches='{}': folder"),
        ("--patches", ".", "'{}' is a directory"),
        ("--out", "", "--out='' is empty"),
        ("--out", "/proc/m.png", "--out='/proc/m.png' cannot be written"),
    ],
)  # fmt: skip
def test_outputs_are_checked_before_the_run(
    tmp_path: Path, option: str, value: str, message: str
) -> None:
    given = value if value in ("", ".") or value.startswith("/") else str(tmp_path / value)
    if value == ".":
        given = str(tmp_path)
    args = {"--out": str(tmp_path / "mask.png"), "--patches": str(tmp_path / "p.geojson")}
    args[option] = given
    flat = [x for pair in args.items() for x in pair]
    code, text = _run("detect", *_pair(tmp_path), *flat)
    assert code == 2, text
    assert "Error: " in text and message.format(given) in text
    assert "Traceback" not in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tif", "b.tif"]


def test_the_mask_never_replaces_an_input_image(tmp_path: Path) -> None:
    args = _pair(tmp_path)
    kept = Path(args[1]).read_bytes()
    code, text = _run("detect", *args, "--out", args[1])
    assert code == 2 and "is the AFTER image" in text
    assert Path(args[1]).read_bytes() == kept


def test_the_mask_gets_the_mode_of_a_new_file(tmp_path: Path) -> None:
    import os

    out = tmp_path / "mask.tif"
    code, text = _run("detect", *_pair(tmp_path), "--out", str(out))
    assert code == 0, text
    mask = os.umask(0o022)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask
