"""The demo in the build: permits, one detection run, cases served with addresses."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

from change_detection.cases import list_cases
from change_detection.demo import build_demo, run_demo
from tests.service.conftest import settings_for
from twin.build import BuildContext, build_twin
from twin.crs import transform_geometry
from twin.plugins import load_plugins
from twin.service import create_app
from twin.store import Feature, open_store

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

HELSINKI = Path(__file__).resolve().parents[2] / "data" / "helsinki.osm.pbf"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The Helsinki twin built with the map layers, the addresses and the demo."""
    db = str(tmp_path_factory.mktemp("demo") / "helsinki.gpkg")
    names = ("layers", "addressing", "change_detection")
    build_twin(HELSINKI, db, plugins=[p for p in load_plugins() if p.name in names])
    return db


@pytest.mark.slow
def test_the_build_writes_permits_patches_and_cases(built: str) -> None:
    with open_store(built, create=False) as store:
        names = {c.name for c in store.collections()}
        assert {"permits", "change_patches", "illegal_building_cases"} <= names
        permits = store.query("permits").features
        assert permits and all(p.id.startswith("demo-") for p in permits)
        patches = store.query("change_patches").features
        suspected = [p for p in patches if p.properties["class"] == "new_unpermitted"]
        cases = list_cases(store)
        assert len(cases) == len(suspected) >= 1
        buildings = store.read_frame("buildings")
        for case in cases:
            p = case.properties
            assert p["status"] == "new" and p["run_id"] == "demo-seed0"
            # the nearest standard address, from the registry the build made
            address = store.get("addresses", p["address_code"])
            assert address.properties["label"] == p["address_label"]
            assert 0 <= p["address_distance_m"] <= 150
            # a suspected building stands where the registry has none
            assert not buildings.geometry.intersects(case.geometry).any()
        again = run_demo(store)
        assert "already" in again["skipped"]
        assert store.count("illegal_building_cases") == len(cases)
        # the demo writes as itself, not as the import of the extract
        demo = {"permits", "change_patches", "illegal_building_cases"}
        assert {c.actor for c in store.changes() if c.collection in demo} == {"twin change demo"}
        # so the cases, valid from the time of the build, do not date the last import
        assert store.last_import() == store.history("buildings", buildings["id"][0])[0].valid_from


@pytest.mark.slow
def test_the_served_twin_shows_the_cases(built: str, tmp_path: Path) -> None:
    app = create_app(built, settings=settings_for(tmp_path))
    with TestClient(app, base_url="http://127.0.0.1:5000") as client:
        ids = {
            c["id"] for c in client.get("/collections", params={"f": "json"}).json()["collections"]
        }
        assert {"permits", "change_patches", "illegal_building_cases"} <= ids
        doc = client.get(
            "/collections/illegal_building_cases/items",
            params={"f": "json", "filter": "status = 'new'"},
        ).json()
        assert doc["numberMatched"] >= 1
        assert all(f["properties"]["after_png"] for f in doc["features"])


def test_a_twin_without_buildings_gets_empty_collections(tmp_path: Path) -> None:
    with open_store(str(tmp_path / "t.gpkg")) as store:
        ctx = BuildContext(store, HELSINKI)
        build_demo(ctx)
        names = {c.name for c in store.collections()}
        assert {"permits", "change_patches", "illegal_building_cases"} <= names
        assert store.count("change_patches") == 0 and ctx.report == {}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seed", "-1"], "'--seed': -1 is not in the range 0<=x<=4294967295"),
        (["--size", "inf"], "size=inf must be a side in metres from 100 to 2000"),
        (["--size", "nan"], "size=nan must be a side in metres from 100 to 2000"),
        (["--size", "5000"], "size=5000.0 must be a side in metres from 100 to 2000"),
        (["--size", "10"], "size=10.0 must be a side in metres from 100 to 2000"),
        (["--method", "nope"], "method='nope' is not a detector"),
    ],
)
def test_demo_options_are_checked_before_the_twin_is_opened(
    tmp_path: Path, args: list[str], message: str
) -> None:
    from click.testing import CliRunner

    from twin.cli import cli

    db = tmp_path / "missing.gpkg"
    result = CliRunner().invoke(cli, ["change", "demo", "--db", str(db), *args])
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output and not db.exists()


def test_a_bad_method_is_refused_also_when_the_run_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from change_detection import demo
    from change_detection.errors import UnknownDetector
    from twin.errors import InvalidInput

    monkeypatch.setattr(demo, "_has_demo", lambda store, run_id: True)
    with open_store(str(tmp_path / "t.gpkg")) as store:
        assert "already" in run_demo(store, seed=7)["skipped"]
        with pytest.raises(UnknownDetector, match="method='nope' is not a detector"):
            run_demo(store, method="nope")
        with pytest.raises(InvalidInput, match="seed=-1 must be an integer from 0 to"):
            run_demo(store, seed=-1)
        with pytest.raises(InvalidInput, match="size=inf must be a side in metres"):
            run_demo(store, size=float("inf"), seed=7)


def test_the_demo_finds_the_buildings_of_a_spread_out_twin(built: str, tmp_path: Path) -> None:
    """A twin whose buildings lie far apart (Porto's extract: 11 over 20 km) had no building
    in the square at the middle of their extent, and the demo (so `twin build`) failed with
    'array is read-only'. The demo now goes where the buildings are, or says it cannot."""
    import shapely

    with open_store(built) as src:
        spec = next(c for c in src.collections() if c.name == "buildings")
        feats = src.query("buildings").features[:40]
    far = [
        Feature(f"far{i}", shapely.affinity.translate(f.geometry, 0.2 * (i + 1), 0.1), {})
        for i, f in enumerate(feats[:2])
    ]
    cluster = shapely.union_all([f.geometry for f in feats]).centroid
    with open_store(str(tmp_path / "spread.gpkg")) as store:
        store.ensure_collection(spec)
        store.create("buildings", [Feature(f.id, f.geometry, {}) for f in feats] + far)
        done = run_demo(store)
        assert "skipped" not in done and done["patches"] > 0
        utm = store.read_frame("buildings").estimate_utm_crs()
        square = shapely.box(*done["bounds_utm"])
        centre = transform_geometry(cluster, "OGC:CRS84", utm)
        assert square.contains(centre) and square.area == pytest.approx(500.0**2)
    with open_store(str(tmp_path / "few.gpkg")) as store:
        store.ensure_collection(spec)
        store.create("buildings", [Feature(f.id, f.geometry, {}) for f in feats[:3]] + far)
        skipped = run_demo(store)["skipped"]
        assert re.fullmatch(
            r"the twin's densest 500 m square holds [0-3] buildings; the demo needs at least 10",
            skipped,
        )
        assert "change_patches" not in {c.name for c in store.collections()}
