"""The OSM importer on the embedded Helsinki extract (and, when present, on Porto)."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import shapely

from layers.osm import LAYERS, OsmExtract, read_osm
from twin.store import open_store

ROOT = Path(__file__).resolve().parents[2]
HELSINKI = ROOT / "data" / "helsinki.osm.pbf"
PORTO = ROOT.parent / "shared" / "data" / "osm" / "porto_portugal.osm.pbf"
SPECS = {spec.name: spec for spec in LAYERS}


@pytest.fixture(scope="module")
def helsinki() -> OsmExtract:
    return read_osm(HELSINKI)


def _skipped(extract: OsmExtract, layer: str) -> set[str]:
    return {i.osm_id for i in extract.issues if i.layer == layer and i.action == "skipped"}


def test_counts(helsinki: OsmExtract) -> None:
    counts = helsinki.counts()
    assert counts["buildings"] >= 433
    assert counts["traffic_signals"] == 135
    # 79 pipeline ways; one has a single node inside the extract and cannot be a line
    assert counts["pipelines"] + len(_skipped(helsinki, "pipelines")) == 79
    assert counts["pipelines"] >= 78
    kinds = Counter(f.properties["osm_type"] for f in helsinki.layers["address_points"])
    assert kinds["node"] == 1377
    assert 87 <= kinds["way"] <= 89
    assert 1450 <= kinds["node"] + kinds["way"] <= 1470
    assert 35 <= counts["parking"] <= 45
    assert counts["roads"] > 2000
    assert counts["fire_hydrants"] > 0 and counts["pois"] > 0


def test_geometries_are_valid_typed_and_inside_the_bounds(helsinki: OsmExtract) -> None:
    assert helsinki.bounds is not None
    minx, miny, maxx, maxy = helsinki.bounds
    box = shapely.box(minx, miny, maxx, maxy).buffer(1e-9)
    for name, features in helsinki.layers.items():
        geoms = np.array([f.geometry for f in features if f.geometry is not None], dtype=object)
        if not len(geoms):
            continue
        assert shapely.is_valid(geoms).all(), name
        assert shapely.covers(box, geoms).all(), name
        types = set(shapely.get_type_id(geoms).tolist())
        wanted = {
            "MultiPolygon": {6},
            "LineString": {1},
            "Point": {0},
            "Geometry": {0, 6},
        }[SPECS[name].geometry_type]
        assert types <= wanted, name


def test_ids_are_unique_and_match_osm_id(helsinki: OsmExtract) -> None:
    for name, features in helsinki.layers.items():
        ids = [f.id for f in features]
        assert len(ids) == len(set(ids)), name
        if not name.startswith("osm_import_issues"):
            assert all(f.properties["osm_id"] == f.id for f in features), name


def test_issues_are_counted_and_consistent(helsinki: OsmExtract) -> None:
    assert helsinki.issues, "a cut extract always has objects at its edge"
    public, hidden = (
        helsinki.layers["osm_import_issues"],
        helsinki.layers["osm_import_issues_restricted"],
    )
    assert len(public) + len(hidden) == len(helsinki.issues)
    assert {f.properties["layer"] for f in hidden} == {"pipelines"}
    assert all(f.properties["layer"] != "pipelines" for f in public)
    for issue in helsinki.issues:
        ids = {f.id for f in helsinki.layers[issue.layer]}
        assert (issue.osm_id in ids) == (issue.action == "repaired"), issue
        assert issue.problem


def test_timestamp_and_bounds(helsinki: OsmExtract) -> None:
    assert helsinki.timestamp is not None
    assert helsinki.timestamp.tzinfo == UTC
    assert datetime(2005, 1, 1, tzinfo=UTC) < helsinki.timestamp < datetime.now(UTC)
    # the header's box: central Helsinki
    assert helsinki.bounds == pytest.approx((24.935, 60.164, 24.953, 60.179), abs=1e-3)


def test_property_types(helsinki: OsmExtract) -> None:
    roads = helsinki.layers["roads"]
    assert {type(f.properties["oneway"]) for f in roads if "oneway" in f.properties} == {bool}
    speeds = [f.properties["maxspeed"] for f in roads if "maxspeed" in f.properties]
    assert speeds and all(isinstance(s, float) and 0 < s <= 130 for s in speeds)
    levels = [
        f.properties["levels"] for f in helsinki.layers["buildings"] if "levels" in f.properties
    ]
    assert levels and all(isinstance(n, int) for n in levels)
    for f in helsinki.layers["pois"]:
        assert f.properties["tags"][f.properties["category"]] == f.properties["kind"]


def test_reimport_is_identical(helsinki: OsmExtract) -> None:
    again = read_osm(HELSINKI, location_index="sparse_mem_array")
    for name, features in helsinki.layers.items():
        other = again.layers[name]
        assert [(f.id, f.properties) for f in features] == [(f.id, f.properties) for f in other]
        a = np.array([f.geometry for f in features], dtype=object)
        b = np.array([f.geometry for f in other], dtype=object)
        assert shapely.equals_exact(a[~shapely.is_missing(a)], b[~shapely.is_missing(b)], 0).all()
    assert again.issues == helsinki.issues


def test_store_accepts_every_layer(helsinki: OsmExtract, tmp_path: Path) -> None:
    with open_store(str(tmp_path / "twin.gpkg")) as store:
        for spec in LAYERS:
            store.ensure_collection(spec)
        with store.transaction() as tx:
            for spec in LAYERS:
                tx.create(spec.name, helsinki.layers[spec.name])
        assert store.collection("pipelines").restricted
        for spec in LAYERS:
            assert store.count(spec.name) == len(helsinki.layers[spec.name]), spec.name


_CHILD = """
import json, sys
from layers.osm import read_osm
extract = read_osm(sys.argv[1])
print(json.dumps(extract.counts()))
"""


@pytest.mark.slow
@pytest.mark.shared_data
def test_porto_imports_in_bounded_memory() -> None:
    if not PORTO.is_file():
        pytest.skip(f"shared data not found at {PORTO}")
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(PORTO)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert peak_kib < 2 * 1024 * 1024, f"peak RSS {peak_kib / 1024:.0f} MiB"
    counts = json.loads(proc.stdout)
    assert counts["roads"] > 10_000
    assert 300 <= counts["traffic_signals"] <= 320  # the data's README: 309
    assert set(counts) == set(SPECS)


def test_large_files_index_locations_in_a_temporary_file(
    helsinki: OsmExtract, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from layers.osm import _reader

    monkeypatch.setattr(_reader, "_IN_MEMORY_NODES", 1)  # treat Helsinki as a huge file
    monkeypatch.setattr(_reader.tempfile, "tempdir", str(tmp_path))
    on_disk = read_osm(HELSINKI)
    assert on_disk.counts() == helsinki.counts()
    assert list(tmp_path.iterdir()) == []  # the index file is gone afterwards
