"""Building the Helsinki twin from the embedded extract, and re-importing a newer one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import osmium
import pyogrio
import pytest

from layers.plugin import plugin as layers_plugin
from twin.build import build_twin
from twin.errors import InvalidInterval
from twin.store import Query, SyncReport, open_store
from twin.store.filters import Compare, CompareOp
from twin.temporal import Instant

ROOT = Path(__file__).resolve().parents[2]
HELSINKI = ROOT / "data" / "helsinki.osm.pbf"
LATER = datetime(2024, 5, 1, tzinfo=UTC)


def modified_copy(src: Path, dst: Path) -> dict[str, str]:
    """Write a 'newer' extract: one building renamed, one signal removed, one hydrant
    moved, one café added, all stamped LATER. Returns the ids it touched."""
    touched: dict[str, str] = {}
    in_ways = {n.ref for w in osmium.FileProcessor(str(src), osmium.osm.WAY) for n in w.nodes}
    writer = osmium.SimpleWriter(str(dst))
    max_node = 0
    try:
        for o in osmium.FileProcessor(str(src)):
            tags = dict(o.tags)
            if o.is_node():
                max_node = max(max_node, o.id)
                if tags.get("highway") == "traffic_signals" and "signal" not in touched:
                    touched["signal"] = f"n{o.id}"
                    del tags["highway"]
                    writer.add_node(o.replace(tags=tags, timestamp=LATER, version=o.version + 1))
                    continue
                free = o.id not in in_ways
                if tags.get("emergency") == "fire_hydrant" and free and "hydrant" not in touched:
                    touched["hydrant"] = f"n{o.id}"
                    loc = osmium.osm.Location(o.location.lon + 0.0002, o.location.lat)
                    writer.add_node(o.replace(location=loc, timestamp=LATER, version=o.version + 1))
                    continue
                writer.add_node(o)
            elif o.is_way():
                if "building" in tags and "name" in tags and "building" not in touched:
                    touched["building"] = f"w{o.id}"
                    tags["name"] = tags["name"] + " (renamed)"
                    writer.add_way(o.replace(tags=tags, timestamp=LATER, version=o.version + 1))
                    continue
                writer.add_way(o)
            else:
                writer.add_relation(o)
        cafe = osmium.osm.mutable.Node(
            id=max_node + 1,
            location=(24.945, 60.170),
            tags={"amenity": "cafe", "name": "Uusi"},
            timestamp=LATER,
            version=1,
        )
        writer.add_node(cafe)
        touched["cafe"] = f"n{max_node + 1}"
    finally:
        writer.close()
    return touched


def test_helsinki_twin_holds_the_expected_layers(helsinki_db: Path) -> None:
    with open_store(str(helsinki_db), create=False) as s:
        counts = {c.name: s.count(c.name) for c in s.collections()}
        assert s.collection("pipelines").restricted
        assert s.verify().ok
    assert counts["buildings"] >= 433
    assert counts["traffic_signals"] == 135
    # 79 pipeline ways: one is cut by the extract's edge and reported, not dropped
    assert counts["pipelines"] == 78
    with open_store(str(helsinki_db), create=False) as s:
        # ... and reported where only who may read the pipelines may read it
        pipe = Query(where=Compare("osm_id", CompareOp.EQ, "w83604137"))
        assert list(s.query("osm_import_issues", pipe)) == []
        assert s.collection("osm_import_issues_restricted").restricted
        issues = s.query("osm_import_issues_restricted", pipe)
        assert [f.properties["layer"] for f in issues] == ["pipelines"]
        public = s.query("osm_import_issues")
        assert public and all(f.properties["layer"] != "pipelines" for f in public)
        # the boundary relations lack member ways in this extract: reported, not dropped
        skipped = s.query(
            "osm_import_issues", Query(where=Compare("layer", CompareOp.EQ, "admin_boundaries"))
        )
        assert len(skipped) == 14
    assert "admin_boundaries" not in counts  # so no empty layer is listed
    assert 1400 <= counts["address_points"] <= 1600
    assert counts["roads"] > 1000
    for name in ("pois", "parking", "fire_hydrants", "emergency_stations"):
        assert counts[name] > 0, name


def test_gdal_reads_every_current_layer_as_a_geopackage(helsinki_db: Path) -> None:
    listed = {name for name, _ in pyogrio.list_layers(helsinki_db)}
    with open_store(str(helsinki_db), create=False) as s:
        for spec in s.collections():
            assert spec.name in listed
            info = pyogrio.read_info(helsinki_db, layer=spec.name)
            assert info["features"] == s.count(spec.name), spec.name
            assert info["crs"] == "EPSG:4326"
            ext = s.extent(spec.name).bbox
            if ext is not None:
                # GDAL's own spatial filter through the twin's R-tree finds the same features
                located = (
                    pyogrio.read_dataframe(helsinki_db, layer=spec.name).geometry.notna().sum()
                )
                df = pyogrio.read_dataframe(helsinki_db, layer=spec.name, bbox=ext)
                assert len(df) == located > 0, spec.name


def test_reimport_of_a_newer_extract_makes_versions(helsinki_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "twin.gpkg"
    db.write_bytes(helsinki_db.read_bytes())
    newer = tmp_path / "helsinki-newer.osm.pbf"
    touched = modified_copy(HELSINKI, newer)
    with open_store(str(db), create=False) as s:
        before = {c.name: s.count(c.name) for c in s.collections()}
        old_name = s.get("buildings", touched["building"]).properties["name"]
    ctx = build_twin(newer, str(db), progress=False)
    rep = ctx.report
    assert ctx.valid_from == LATER
    assert (rep["buildings"].updated, rep["buildings"].created, rep["buildings"].retired) == (
        1,
        0,
        0,
    )
    assert (rep["traffic_signals"].retired, rep["traffic_signals"].updated) == (1, 0)
    assert rep["fire_hydrants"].updated == 1
    assert rep["pois"].created == 1
    assert "admin_boundaries" not in rep  # the extract has none: no empty layer is made
    for name in ("roads", "pipelines", "parking", "emergency_stations"):
        r = rep[name]
        assert (r.created, r.updated, r.retired) == (0, 0, 0), name
    with open_store(str(db), create=False) as s:
        assert s.count("traffic_signals") == before["traffic_signals"] - 1
        hist = s.history("buildings", touched["building"])
        assert [v.version for v in hist] == [1, 2]
        assert hist[0].valid_to == LATER and hist[1].properties["name"] == old_name + " (renamed)"
        then = s.get(
            "buildings", touched["building"], time=Instant(datetime(2020, 1, 1, tzinfo=UTC))
        )
        assert then.properties["name"] == old_name
        gone = s.query("traffic_signals", Query(time=Instant(datetime(2020, 1, 1, tzinfo=UTC))))
        assert touched["signal"] in {f.id for f in gone}
        assert s.verify().ok


def tiny_extract(path: Path, *, hydrants: int, height: int) -> Path:
    """A tiny extract: ``hydrants`` fire hydrants and one building ``height`` metres tall."""
    meta = 'version="1" timestamp="2022-12-01T00:00:00Z"'
    corners = [(60.1700, 24.9400), (60.1700, 24.9410), (60.1705, 24.9410), (60.1705, 24.9400)]
    lines = ["<?xml version='1.0' encoding='UTF-8'?>", "<osm version='0.6'>"]
    lines += [
        f'<node id="{i + 1}" {meta} lat="{lat}" lon="{lon}"/>'
        for i, (lat, lon) in enumerate(corners)
    ]
    lines += [
        f'<node id="{100 + i}" {meta} lat="60.1690" lon="{24.9400 + i / 1000}">'
        '<tag k="emergency" v="fire_hydrant"/></node>'
        for i in range(hydrants)
    ]
    lines += [
        f'<way id="7" {meta}><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="1"/>'
        f'<tag k="building" v="yes"/><tag k="height" v="{height}"/></way>',
        "</osm>",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_a_reimport_not_after_the_last_import_must_change_nothing(tmp_path: Path) -> None:
    """Imported at the start of 2024 and of 2025: an extract with one more hydrant dated 2023
    would show it in the city of mid-2024, where both imports found two; another height
    dated 2025 would give the building a version that begins and ends at 2025. Both are
    refused, naming both times, and leave the twin file as it was."""
    t2023, t2024, t2025 = (datetime(y, 1, 1, tzinfo=UTC) for y in (2023, 2024, 2025))
    db = tmp_path / "twin.gpkg"
    steps = [layers_plugin]
    build_twin(
        tiny_extract(tmp_path / "a.osm", hydrants=2, height=70),
        str(db),
        valid_from=t2024,
        plugins=steps,
    )
    latest = tiny_extract(tmp_path / "b.osm", hydrants=2, height=72)
    build_twin(latest, str(db), valid_from=t2025, plugins=steps)
    before = db.read_bytes()
    with pytest.raises(
        InvalidInterval,
        match=r"^valid_from 2023-01-01T00:00:00.000Z precedes the last import of this twin, "
        r"valid from 2025-01-01T00:00:00.000Z; a re-import that changes the twin must "
        r"describe the city after it, and this one changes fire_hydrants \(1 new\)$",
    ):
        more = tiny_extract(tmp_path / "c.osm", hydrants=3, height=72)
        build_twin(more, str(db), valid_from=t2023, plugins=steps)
    with pytest.raises(
        InvalidInterval,
        match=r"^valid_from 2025-01-01T00:00:00.000Z is the valid time of the last import of "
        r"this twin; .* changes buildings \(1 changed\)$",
    ):
        taller = tiny_extract(tmp_path / "d.osm", hydrants=2, height=74)
        build_twin(taller, str(db), valid_from=t2025, plugins=steps)
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix != ".osm") == ["twin.gpkg"]
    with open_store(str(db), create=False) as s:
        assert s.count("fire_hydrants", time=Instant(datetime(2024, 6, 1, tzinfo=UTC))) == 2
        assert [v.properties["height"] for v in s.history("buildings", "w7")] == [70, 72]
    # the extract the twin holds, again: nothing changes, whatever the time
    ctx = build_twin(latest, str(db), valid_from=t2023, plugins=steps)
    assert ctx.report["fire_hydrants"] == SyncReport(unchanged=2)
    assert ctx.report["buildings"] == SyncReport(unchanged=1)
    # after the last import, the same changes are a re-import like any other
    later = datetime(2025, 6, 1, tzinfo=UTC)
    ctx = build_twin(
        tiny_extract(tmp_path / "e.osm", hydrants=3, height=74),
        str(db),
        valid_from=later,
        plugins=steps,
    )
    assert ctx.report["fire_hydrants"].created == 1 and ctx.report["buildings"].updated == 1
    with open_store(str(db), create=False) as s:
        assert s.count("fire_hydrants", time=Instant(datetime(2024, 6, 1, tzinfo=UTC))) == 2
        assert s.count("fire_hydrants") == 3 and s.verify().ok


def _parking_extract(path: Path, capacity: str) -> Path:
    from tests.routing.osm_helpers import grid_node, write_osm

    ways = [
        (10, [grid_node(0, 0), grid_node(3, 0)], {"highway": "residential"}),
        (
            20,
            [grid_node(0, 1), grid_node(1, 1), grid_node(1, 2), grid_node(0, 2), grid_node(0, 1)],
            {"amenity": "parking", "capacity": capacity, "name": "Torikatu"},
        ),
    ]
    return write_osm(path, ways)


def test_a_reimport_keeps_what_operators_edited(tmp_path: Path, caplog) -> None:
    """An operator's edit, creation and retirement through the service survive a re-import
    (it overwrote the edit, retired the creation and brought the retired back, or refused
    the whole build when the extract's date came before the edit)."""
    db = str(tmp_path / "twin.gpkg")
    plugins = [layers_plugin]
    build_twin(
        _parking_extract(tmp_path / "v1.osm", "120"),
        db,
        plugins=plugins,
        valid_from=datetime(2024, 1, 1, tzinfo=UTC),
    )
    with open_store(db) as store:
        store.patch(
            "parking",
            "w20",
            properties={"capacity": 130},
            actor="key:anna",
            valid_from=datetime(2025, 1, 1, tzinfo=UTC),
        )
    later = datetime(2024, 6, 1, tzinfo=UTC)  # an extract dated before the edit
    ctx = build_twin(
        _parking_extract(tmp_path / "v2.osm", "120"), db, plugins=plugins, valid_from=later
    )
    assert ctx.report["parking"].kept == 1 and not ctx.report["parking"].conflicts
    with open_store(db) as store:
        assert store.get("parking", "w20").properties["capacity"] == 130
    # the extract now changes the car park too: the edit stays, the build says so
    ctx = build_twin(
        _parking_extract(tmp_path / "v3.osm", "150"),
        db,
        plugins=plugins,
        valid_from=datetime(2024, 9, 1, tzinfo=UTC),
    )
    assert ctx.report["parking"].conflicts == ("w20",)
    assert "parking: 1 features edited through the service changed in the extract" in caplog.text
    with open_store(db) as store:
        assert store.get("parking", "w20").properties["capacity"] == 130
