"""detect-changes over images too large to hold: tile by tile, with windowed evidence."""

from __future__ import annotations

import base64
import io
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from change_detection import large
from change_detection.synth import DemoScene
from tests.change_detection.test_cases import fill_registry, scene  # noqa: F401
from tests.change_detection.test_process import EXECUTE, _inputs
from tests.service.conftest import EDITOR, settings_for
from twin.service import create_app
from twin.store import Store, open_store

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


def _serve(folder: Path, scene: DemoScene) -> Iterator[tuple[TestClient, Store]]:  # noqa: F811
    store = open_store(str(folder / "svc.gpkg"))
    fill_registry(store, scene)
    app = create_app(store, settings=settings_for(folder))
    with TestClient(app, base_url="http://127.0.0.1:5000") as client:
        yield client, store
    store.close()


def _run(folder: Path, scene: DemoScene) -> tuple[dict, list]:  # noqa: F811
    for client, store in _serve(folder, scene):
        r = client.post(EXECUTE, json=_inputs(scene), headers=EDITOR)
        assert r.status_code == 200, r.text
        return r.json(), list(store.query("illegal_building_cases").features)
    raise AssertionError("not served")


def _png(uri: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


def test_a_large_pair_runs_tile_by_tile_and_finds_the_same_cases(
    tmp_path: Path,
    scene: DemoScene,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TWIN_IMAGE_DIRS", os.pathsep.join([str(scene.before.parent)]))
    (tmp_path / "whole").mkdir()
    (tmp_path / "tiled").mkdir()
    whole, whole_cases = _run(tmp_path / "whole", scene)
    import rasterio

    with rasterio.open(scene.before) as ds:
        pixels = ds.width * ds.height
    monkeypatch.setattr(large, "AUTO_TILED_PIXELS", pixels - 1)  # this pair is "large"
    monkeypatch.setattr(large, "AUTO_TILE", 256)
    calls: list[int] = []
    import change_detection.tiled as tiled

    real = tiled.detect_tiled

    def counted(*a: object, **k: object) -> object:
        calls.append(int(k["tile"]))  # type: ignore[call-overload]
        return real(*a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(tiled, "detect_tiled", counted)
    out, cases = _run(tmp_path / "tiled", scene)
    assert calls == [256]
    assert out["cases_created"] == whole["cases_created"] >= 1
    # each case of the tiled run lies on one of the whole run's
    for case in cases:
        assert any(case.geometry.intersects(w.geometry) for w in whole_cases)
        before, after = _png(case.properties["before_png"]), _png(case.properties["after_png"])
        assert before.size == after.size and min(before.size) >= 16
        assert before.tobytes() != after.tobytes()  # the new building is in the after chip
