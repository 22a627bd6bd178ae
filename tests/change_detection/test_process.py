"""The detect-changes process and case updates through the real service."""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
import shapely.affinity
import shapely.geometry

from change_detection.store_io import PreparedRun, write_run
from change_detection.synth import DemoScene
from tests.change_detection.cd_helpers import write_tif, write_vrt
from tests.change_detection.test_cases import fill_registry, prepared, scene  # noqa: F401
from tests.service.conftest import EDITOR, READER, settings_for, wait_for_job
from twin.service import create_app
from twin.service.features import actor_of
from twin.store import Store, open_store

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

BASE = "http://127.0.0.1:5000"
EXECUTE = "/processes/detect-changes/execution"
CASES = "/collections/illegal_building_cases/items"


@pytest.fixture
def served(
    tmp_path: Path,
    scene: DemoScene,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[TestClient, Store]]:
    """A registry with buildings and permits and no case yet, served; images are read
    from the scene's folder and the test's."""
    folders = (str(scene.before.parent), str(tmp_path))
    monkeypatch.setenv("TWIN_IMAGE_DIRS", os.pathsep.join(folders))
    store = open_store(str(tmp_path / "svc.gpkg"))
    fill_registry(store, scene)
    app = create_app(store, settings=settings_for(tmp_path))
    with TestClient(app, base_url=BASE) as client:
        yield client, store
    store.close()


def _inputs(scene: DemoScene, **change: Any) -> dict[str, Any]:  # noqa: F811
    base = {
        "before": str(scene.before),
        "after": scene.after.as_uri(),
        "date_before": scene.dates[0],
        "date_after": scene.dates[1],
        "method": "building",
    }
    return {"inputs": {k: v for k, v in (base | change).items() if v is not None}}


def _counts(store: Store) -> tuple[int, int]:
    return store.count("change_patches"), store.count("illegal_building_cases")


def test_process_is_listed(served: tuple[TestClient, Store]) -> None:
    client, _ = served
    desc = client.get("/processes/detect-changes").json()
    assert set(desc["inputs"]) == {"before", "after", "date_before", "date_after", "method"}
    assert "async-execute" in desc["jobControlOptions"]


def test_sync_run_writes_patches_and_cases(
    served: tuple[TestClient, Store],
    scene: DemoScene,  # noqa: F811
) -> None:
    client, store = served
    r = client.post(EXECUTE, json=_inputs(scene), headers=EDITOR)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["run_id"].startswith("run-")
    assert (out["patches"], out["cases_created"]) == _counts(store)
    assert out["cases_created"] == out["classes"]["new_unpermitted"] >= 1
    assert out["classes"]["new_permitted"] >= 1
    assert sorted(out["case_ids"]) == sorted(fv.id for fv in store.query("illegal_building_cases"))
    actors = {c.actor for c in store.changes() if c.collection == "illegal_building_cases"}
    assert actors == {actor_of(EDITOR["X-API-Key"])}
    # the cases are served with their evidence
    doc = client.get(CASES, params={"f": "json"}).json()
    assert len(doc["features"]) == out["cases_created"]
    props = doc["features"][0]["properties"]
    assert props["status"] == "new" and props["before_png"].startswith("data:image/png;base64,")


def test_async_job_writes_and_a_second_run_matches(
    served: tuple[TestClient, Store],
    scene: DemoScene,  # noqa: F811
) -> None:
    client, store = served
    r = client.post(EXECUTE, json=_inputs(scene), headers={**EDITOR, "Prefer": "respond-async"})
    assert r.status_code == 201, r.text
    status = wait_for_job(client, r.headers["location"], timeout=120)
    assert status["status"] == "successful", status
    results = next(link["href"] for link in status["links"] if link["rel"].endswith("/results"))
    first = client.get(results, params={"f": "json"}).json()
    assert first["cases_created"] == store.count("illegal_building_cases") >= 1
    again = client.post(EXECUTE, json=_inputs(scene), headers=EDITOR).json()
    assert again["cases_created"] == 0
    assert sorted(set(again["matched"].values())) == sorted(first["case_ids"])
    assert store.count("illegal_building_cases") == first["cases_created"]


def _far_copy(scene: DemoScene, folder: Path) -> Path:  # noqa: F811
    import rasterio
    from affine import Affine

    far = folder / "far.tif"
    with rasterio.open(scene.after) as src:
        t = src.transform
        profile = src.profile | {"transform": Affine(t.a, t.b, t.c + 5000.0, t.d, t.e, t.f)}
        with rasterio.open(far, "w", **profile) as dst:
            dst.write(src.read())
    return far


def _local_copy(scene: DemoScene, folder: Path) -> Path:  # noqa: F811
    """The later epoch in an engineering CRS (LOCAL_CS), which has no transformation to
    the earlier one's: it answered 500."""
    import rasterio
    from rasterio.crs import CRS

    local = folder / "local.tif"
    with rasterio.open(scene.after) as src:
        profile = src.profile | {"crs": CRS.from_wkt('LOCAL_CS["site grid",UNIT["metre",1]]')}
        with rasterio.open(local, "w", **profile) as dst:
            dst.write(src.read())
    return local


def _png_copy(scene: DemoScene, folder: Path, *, world: bool) -> Path:  # noqa: F811
    """The later epoch as a PNG, with a world file (a grid, no CRS) or without one."""
    import rasterio
    from PIL import Image

    png = folder / ("world.png" if world else "plain.png")
    with rasterio.open(scene.after) as src:
        rgb = np.clip(src.read()[:3], 0, 255).astype(np.uint8).transpose(1, 2, 0)
        t = src.transform
    Image.fromarray(rgb).save(png)
    if world:
        lines = (t.a, t.d, t.b, t.e, t.c + t.a / 2, t.f + t.e / 2)
        png.with_suffix(".pgw").write_text("\n".join(f"{v!r}" for v in lines) + "\n")
    return png


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"after": "WORLD"}, "has a grid (from its world file) but no CRS"),
        ({"after": "PLAIN"}, "carries no georeferencing"),
        ({"before": "/no/such/image.tif"}, "the path is outside the image folders"),
        ({"before": "HERE/no-such-image.tif"}, "no such file in the image folders"),
        ({"after": "https://example.org/a.tif"}, "not https:// URLs"),
        ({"after": "file://example.org/a.tif"}, "a file:// URL names no other host"),
        ({"after": "file:///a%00.tif"}, "is not a usable path"),
        ({"after": "zip+file:///a.zip!/a.tif"}, "not zip+file:// URLs"),
        ({"method": "magic"}, "method='magic' is not a detector"),
        ({"date_after": None}, "date_after=None is required"),
        ({"date_after": "2019-01-01"}, "must be later than date_before"),
        ({"colour": "red"}, "['colour'] are not inputs"),
        ({"after": "FAR"}, "do not overlap"),
        ({"after": "LOCAL"}, "cannot be transformed to the earlier image's CRS"),
    ],
)
def test_bad_input_is_a_client_error_and_writes_nothing(
    served: tuple[TestClient, Store],
    scene: DemoScene,  # noqa: F811
    tmp_path: Path,
    change: dict[str, Any],
    words: str,
) -> None:
    client, store = served
    if change.get("after") == "FAR":
        change = {"after": str(_far_copy(scene, tmp_path))}
    if change.get("after") == "LOCAL":
        change = {"after": str(_local_copy(scene, tmp_path))}
    if change.get("after") in ("WORLD", "PLAIN"):
        change = {"after": str(_png_copy(scene, tmp_path, world=change["after"] == "WORLD"))}
    if str(change.get("before", "")).startswith("HERE/"):
        change = {"before": str(tmp_path / change["before"][5:])}
    r = client.post(EXECUTE, json=_inputs(scene, **change), headers=EDITOR)
    # images that do not overlap are well-formed input that cannot be compared (422)
    assert r.status_code == (422 if words == "do not overlap" else 400), r.text
    assert words in r.json()["description"]
    assert _counts(store) == (0, 0)


@pytest.mark.parametrize(
    "path",
    [
        "/etc/shadow",
        "/etc/passwd",
        "/proc/self/environ",
        "~/.bashrc",
        "/nope/x.tif",
        "file:///etc/passwd",
        "SVC",  # the twin's own GeoPackage, in the test's folder's parent
        "SCENE/../../../../../etc/passwd",
        "LINK",  # a symbolic link in an image folder to a file outside
        "/vsicurl/https://example.org/a.tif",
        "/vsizip//etc/x.zip/a.tif",
    ],
)
def test_images_are_read_only_from_the_image_folders(
    served: tuple[TestClient, Store],
    scene: DemoScene,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
) -> None:
    client, store = served
    if path == "SVC":
        # only the scene's folder is an image folder here
        monkeypatch.setenv("TWIN_IMAGE_DIRS", str(scene.before.parent))
        path = str(tmp_path / "svc.gpkg")
    elif path.startswith("SCENE/"):
        path = str(scene.before.parent / path[6:])
    elif path == "LINK":
        (tmp_path / "link.tif").symlink_to("/etc/passwd")
        path = str(tmp_path / "link.tif")
    r = client.post(EXECUTE, json=_inputs(scene, before=path), headers=EDITOR)
    assert r.status_code == 400, r.text
    text = r.json()["description"]
    refused = "GDAL virtual file systems" if "/vsi" in path else "outside the image folders"
    assert refused in text
    # the answer is the same whether the file exists or not, and GDAL never saw it
    assert "no such file" not in text and "raster" not in text
    assert _counts(store) == (0, 0)


@pytest.mark.parametrize("name", ["after.vrt", "after.tif"])
@pytest.mark.parametrize("target", ["outside", "missing"])
def test_an_image_that_names_other_files_is_refused(
    served: tuple[TestClient, Store],
    scene: DemoScene,  # noqa: F811
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    target: str,
) -> None:
    """A GDAL VRT in an image folder that reads a GeoTIFF outside the folders is refused
    for its format, with the same answer whether or not that file exists."""
    client, store = served
    outside = tmp_path_factory.mktemp("outside")
    shutil.copy(scene.after, outside / "after.tif")
    source = outside / ("after.tif" if target == "outside" else "gone.tif")
    vrt = write_vrt(tmp_path / name, scene.after, source=source)
    r = client.post(EXECUTE, json=_inputs(scene, after=str(vrt)), headers=EDITOR)
    assert r.status_code == 400, r.text
    assert r.json()["description"].endswith(
        f"image path={str(vrt.resolve())!r} is not a GeoTIFF/COG, PNG or JPEG file: images "
        "are read only in these formats, whose content cannot make GDAL read other files "
        "(a VRT's can)"
    )
    assert _counts(store) == (0, 0)


@pytest.mark.parametrize("target", ["outside", "missing"])
def test_files_beside_an_image_are_not_read(
    served: tuple[TestClient, Store],
    scene: DemoScene,  # noqa: F811
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    target: str,
) -> None:
    """GDAL would take ``after.tif.msk`` for the image's mask and open it with any driver:
    here a VRT that reads an all-zero mask outside the image folders. It is not read, so
    the run is the same whether or not the file it names exists."""
    import rasterio

    client, store = served
    after = Path(shutil.copy(scene.after, tmp_path / "after.tif"))
    with rasterio.open(after) as ds:
        shape, count = (1, ds.height, ds.width), ds.count
    outside = tmp_path_factory.mktemp("outside")
    zeros = write_tif(outside / "zeros.tif", np.zeros(shape))
    flags = {f"INTERNAL_MASK_FLAGS_{i}": "2" for i in range(1, count + 1)}
    source = zeros if target == "outside" else outside / "gone.tif"
    write_vrt(tmp_path / "after.tif.msk", zeros, source=source, metadata=flags)
    r = client.post(EXECUTE, json=_inputs(scene, after=str(after)), headers=EDITOR)
    assert r.status_code == 200, r.text
    assert r.json()["cases_created"] == store.count("illegal_building_cases") >= 1


def test_a_long_path_is_refused_without_echoing_it(
    served: tuple[TestClient, Store],
    scene: DemoScene,  # noqa: F811
) -> None:
    client, store = served
    path = str(scene.before.parent / ("a" * 100_000))
    r = client.post(EXECUTE, json=_inputs(scene, before=path), headers=EDITOR)
    assert r.status_code == 400, r.text
    text = r.json()["description"]
    assert "is 100" in text and "at most 4096" in text and len(text) < 300
    # a name too long for the file system inside an image folder says so, briefly
    path = str(scene.before.parent / ("b" * 1000))
    r = client.post(EXECUTE, json=_inputs(scene, after=path), headers=EDITOR)
    assert r.status_code == 400, r.text
    assert "File name too long" in r.json()["description"]
    assert len(r.json()["description"]) < 300
    assert _counts(store) == (0, 0)


def test_images_in_the_default_folder_are_read(
    served: tuple[TestClient, Store],
    scene: DemoScene,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without TWIN_IMAGE_DIRS the image folder is var/imagery of the service."""
    client, store = served
    monkeypatch.delenv("TWIN_IMAGE_DIRS")
    r = client.post(EXECUTE, json=_inputs(scene), headers=EDITOR)
    assert r.status_code == 400, r.text
    assert str(tmp_path / "var" / "imagery") in r.json()["description"]
    folder = tmp_path / "var" / "imagery"
    folder.mkdir(parents=True)
    before = shutil.copy(scene.before, folder / "before.tif")
    after = shutil.copy(scene.after, folder / "after.tif")
    r = client.post(
        EXECUTE, json=_inputs(scene, before=str(before), after=Path(after).as_uri()), headers=EDITOR
    )
    assert r.status_code == 200, r.text
    assert r.json()["cases_created"] == store.count("illegal_building_cases") >= 1


@pytest.mark.parametrize(("headers", "status"), [({}, 401), (READER, 403)])
def test_running_needs_an_editor_key(
    served: tuple[TestClient, Store],
    scene: DemoScene,  # noqa: F811
    headers: dict[str, str],
    status: int,
) -> None:
    client, store = served
    r = client.post(EXECUTE, json=_inputs(scene), headers=headers)
    assert r.status_code == status and "detect-changes" in r.json()["description"]
    assert _counts(store) == (0, 0)


@pytest.fixture
def case_client(
    store: Store,
    scene: DemoScene,  # noqa: F811
    prepared: PreparedRun,  # noqa: F811
    tmp_path: Path,
) -> Iterator[tuple[TestClient, Store]]:
    """Cases of a prepared run in a store of each backend, served."""
    fill_registry(store, scene)
    write_run(store, prepared)
    with TestClient(create_app(store, settings=settings_for(tmp_path)), base_url=BASE) as c:
        yield c, store


def test_status_change_by_patch_needs_an_editor(case_client: tuple[TestClient, Store]) -> None:
    client, store = case_client
    case = store.query("illegal_building_cases").features[0].id
    body = {
        "properties": {"status": "under_review", "updated_by": "anna", "note": "on site Monday"}
    }
    url = f"{CASES}/{case}"
    assert client.patch(url, json=body).status_code == 401
    assert client.patch(url, json=body, headers=READER).status_code == 403
    assert len(store.history("illegal_building_cases", case)) == 1
    r = client.patch(url, json=body, headers=EDITOR)
    assert r.status_code == 204, r.text
    history = client.get(f"{url}/history", params={"f": "json"}).json()["features"]
    assert [f["properties"]["status"] for f in history] == ["new", "under_review"]
    assert history[-1]["properties"]["updated_by"] == "anna"
    assert history[-1]["properties"]["before_png"] == history[0]["properties"]["before_png"]
    item = client.get(url, params={"f": "json"})
    assert item.json()["properties"]["status"] == "under_review"
    assert item.headers["etag"] == r.headers["etag"]


def test_patch_follows_the_workflow(case_client: tuple[TestClient, Store]) -> None:
    client, store = case_client
    case = store.query("illegal_building_cases").features[0].id
    url = f"{CASES}/{case}"
    r = client.patch(url, json={"properties": {"status": "closed"}}, headers=EDITOR)
    assert r.status_code == 409, r.text
    assert "new" in r.json()["description"] and "closed" in r.json()["description"]
    assert len(store.history("illegal_building_cases", case)) == 1
    r = client.patch(url, json={"properties": {"status": "bogus"}}, headers=EDITOR)
    assert r.status_code == 400
    # A legal step with nobody named records the caller's key digest as the author.
    r = client.patch(url, json={"properties": {"status": "under_review"}}, headers=EDITOR)
    assert r.status_code == 204, r.text
    now = store.get("illegal_building_cases", case)
    assert now.properties["status"] == "under_review"
    assert str(now.properties["updated_by"]).startswith("key:")


def test_patch_follows_the_rules_of_who_and_why(case_client: tuple[TestClient, Store]) -> None:
    client, store = case_client
    case = store.query("illegal_building_cases").features[0].id
    url = f"{CASES}/{case}"
    review = {"status": "under_review", "note": "on site Monday"}
    for bad in ({"updated_by": "🏠"}, {"note": "x" * 2001}, {"note": "bell\x07"}):
        r = client.patch(url, json={"properties": {**review, **bad}}, headers=EDITOR)
        assert r.status_code == 400, r.text
    assert len(store.history("illegal_building_cases", case)) == 1
    assert client.patch(url, json={"properties": review}, headers=EDITOR).status_code == 204
    # the note of the version before does not say why the case is dismissed
    r = client.patch(url, json={"properties": {"status": "dismissed"}}, headers=EDITOR)
    assert r.status_code == 400 and "needs a note saying why" in r.json()["description"]
    assert store.get("illegal_building_cases", case).properties["status"] == "under_review"
    body = {"properties": {"status": "dismissed", "note": "a parked lorry"}}
    assert client.patch(url, json=body, headers=EDITOR).status_code == 204
    assert store.get("illegal_building_cases", case).properties["note"] == "a parked lorry"


def _versions(store: Store, case: str) -> int:
    return len(store.history("illegal_building_cases", case))


@pytest.mark.parametrize(
    ("properties", "words"),
    [
        ({"status": None}, "status is required"),
        ({"case_id": "OTHER-ID"}, "case_id is evidence of the detection"),
        ({"area_m2": -5}, "area_m2 is evidence of the detection"),
        ({"confidence": 7.5}, "confidence is evidence of the detection"),
        ({"before_png": None}, "before_png is evidence of the detection"),
        ({"updated_by": "Mallory"}, "updated_by='Mallory' names who made the last change"),
        ({"note": "paid \u202eyad"}, "note holds invisible format characters"),
        ({"status": "under_review", "updated_by": "Mal\u202elory"}, "updated_by="),
    ],
)
def test_patch_cannot_bypass_the_workflow_or_change_the_evidence(
    case_client: tuple[TestClient, Store], properties: dict[str, Any], words: str
) -> None:
    client, store = case_client
    case = store.query("illegal_building_cases").features[0].id
    url = f"{CASES}/{case}"
    r = client.patch(url, json={"properties": properties}, headers=EDITOR)
    assert r.status_code == 400, r.text
    assert words in r.json()["description"]
    assert _versions(store, case) == 1
    # the case is not stuck: the workflow goes on
    r = client.patch(url, json={"properties": {"status": "under_review"}}, headers=EDITOR)
    assert r.status_code == 204, r.text
    assert store.get("illegal_building_cases", case).properties["status"] == "under_review"


def test_put_keeps_the_status_the_evidence_and_the_footprint(
    case_client: tuple[TestClient, Store],
) -> None:
    client, store = case_client
    case = store.query("illegal_building_cases").features[0].id
    url = f"{CASES}/{case}"
    doc = client.get(url, params={"f": "json"}).json()
    body = {"type": "Feature", "geometry": doc["geometry"], "properties": doc["properties"]}
    for k in ("version", "valid_from", "valid_to"):
        body["properties"].pop(k, None)
    no_status = {k: v for k, v in body["properties"].items() if k != "status"}
    r = client.put(url, json={**body, "properties": no_status}, headers=EDITOR)
    assert r.status_code == 400 and "status is required" in r.json()["description"]
    moved = shapely.affinity.translate(shapely.geometry.shape(doc["geometry"]), 0.001)
    r = client.put(url, json={**body, "geometry": moved.__geo_interface__}, headers=EDITOR)
    assert r.status_code == 400 and "geometry of case" in r.json()["description"], r.text
    r = client.patch(url, json={"geometry": None}, headers=EDITOR)
    assert r.status_code == 400 and "geometry of case" in r.json()["description"], r.text
    assert _versions(store, case) == 1
    # the same feature, read and sent back with the next status, is a step of the workflow;
    # a PUT's body is the whole case, so a name it holds is who makes the step: without
    # one, the key is recorded
    sent = {k: v for k, v in body["properties"].items() if k != "updated_by"}
    step = {**body, "properties": {**sent, "status": "under_review"}}
    r = client.put(url, json=step, headers=EDITOR)
    assert r.status_code == 204, r.text
    now = store.get("illegal_building_cases", case)
    assert now.properties["status"] == "under_review"
    assert now.properties["updated_by"] == actor_of(EDITOR["X-API-Key"])
    # a PUT that changes nothing keeps the author of the last change
    again = {
        **step,
        "properties": {**step["properties"], "updated_by": now.properties["updated_by"]},
    }
    r = client.put(url, json=again, headers=EDITOR)
    assert r.status_code == 204, r.text
    assert (
        store.get("illegal_building_cases", case).properties["updated_by"]
        == (now.properties["updated_by"])
    )


@pytest.mark.parametrize(
    ("properties", "status", "words"),
    [
        ({}, 400, "status is required"),
        ({"status": "confirmed"}, 409, "starts with status 'new'"),
        ({"status": "new", "case_id": "OTHER-ID"}, 400, "must be the feature id 'IB-2099-0001'"),
        ({"status": "new", "area_m2": -5}, 400, "area_m2=-5 must be a number at least 0"),
        ({"status": "new", "confidence": 7.5}, 400, "confidence=7.5 must be a number from 0 to 1"),
    ],
)
def test_a_posted_case_starts_new_with_sound_evidence(
    case_client: tuple[TestClient, Store], properties: dict[str, Any], status: int, words: str
) -> None:
    client, store = case_client
    n = store.count("illegal_building_cases")
    body = {"type": "Feature", "id": "IB-2099-0001", "geometry": None, "properties": properties}
    r = client.post(CASES, json=body, headers=EDITOR)
    assert r.status_code == status, r.text
    assert words in r.json()["description"]
    assert store.count("illegal_building_cases") == n


def test_a_posted_case_gets_its_number_and_author(case_client: tuple[TestClient, Store]) -> None:
    client, store = case_client
    body = {
        "type": "Feature",
        "id": "IB-2099-0001",
        "geometry": None,
        "properties": {"status": "new", "area_m2": 12.5, "confidence": 0.5},
    }
    r = client.post(CASES, json=body, headers=EDITOR)
    assert r.status_code == 201, r.text
    props = store.get("illegal_building_cases", "IB-2099-0001").properties
    assert props["case_id"] == "IB-2099-0001" and props["status"] == "new"
    assert props["updated_by"] == actor_of(EDITOR["X-API-Key"])
