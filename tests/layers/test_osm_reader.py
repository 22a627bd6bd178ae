"""The OSM importer on a tiny OSM XML extract written here, and on files that are not OSM."""

from __future__ import annotations

import bz2
import gzip
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import shapely

from layers.osm import LAYERS, ImportIssue, OsmExtract, read_osm
from twin.errors import OSMFileError

ROOT = Path(__file__).resolve().parents[2]
HELSINKI = ROOT / "data" / "helsinki.osm.pbf"
FORMATS = ".osm.pbf, .pbf, .osm, .osm.gz, .osm.bz2"

# A 0.02 x 0.02 degree square near Helsinki. Node 999 and way 555 are referenced but
# missing, as at the edge of a cut extract.
_NODES = {
    1: (24.001, 60.001), 2: (24.003, 60.001), 3: (24.001, 60.003), 4: (24.003, 60.003),
    11: (24.005, 60.005), 12: (24.009, 60.005), 13: (24.009, 60.009), 14: (24.005, 60.009),
    21: (24.006, 60.006), 22: (24.007, 60.006), 23: (24.007, 60.007), 24: (24.006, 60.007),
    41: (24.010, 60.010), 42: (24.012, 60.010), 43: (24.012, 60.012), 44: (24.010, 60.012),
    51: (24.013, 60.013), 52: (24.015, 60.015), 53: (24.016, 60.013),
    61: (24.000, 60.000), 62: (24.020, 60.000), 63: (24.020, 60.020), 64: (24.000, 60.020),
}  # fmt: skip
_TAGGED_NODES = {
    30: ((24.004, 60.004), {"highway": "traffic_signals", "crossing": "traffic_signals"}),
    31: ((24.0041, 60.004), {"emergency": "fire_hydrant", "fire_hydrant:diameter": "100"}),
    32: ((24.0042, 60.004), {"amenity": "cafe", "name": "Kahvila", "name:sv": "Kafé"}),
    33: ((24.0043, 60.004), {"amenity": "parking", "capacity": "12"}),
    34: ((24.0044, 60.004), {"amenity": "fire_station", "name": "Asema"}),
    35: ((24.0045, 60.004), {"shop": "no"}),
    36: ((24.0046, 60.004), {"addr:housenumber": "5", "addr:street": "Katu", "addr:street:sv": "Gatan"}),
}  # fmt: skip
_WAYS = {
    100: ([1, 2, 3, 4, 1], {"building": "yes", "addr:housenumber": "1", "addr:street": "Katu"}),
    101: ([11, 12, 13, 14, 11], {}),
    102: ([21, 22, 23, 24, 21], {}),
    103: ([1, 2, 999, 4], {"highway": "residential", "oneway": "-1", "maxspeed": "30 mph"}),
    104: ([11, 12, 13], {}),
    105: ([41, 42, 43, 44, 41], {"amenity": "parking", "parking": "surface", "fee": "yes"}),
    106: ([51, 52, 53], {"man_made": "pipeline", "substance": "water", "diameter": "DN300",
                         "location": "underground"}),
    107: ([51, 52, 53], {"building": "yes"}),
    108: ([61, 62, 63, 64, 61], {"boundary": "administrative", "admin_level": "10", "name": "Alue"}),
    109: ([51, 53], {"power": "cable", "voltage": "110000", "depth": "1.2 m", "operator": "Helen"}),
    110: ([51, 52], {"power": "cable", "location": "overhead"}),
    111: ([52, 53], {"communication": "line", "location": "underground"}),
    112: ([52, 51], {"telecom": "line"}),
    113: ([53, 52], {"man_made": "pipeline", "type": "cold", "material": "PE",
                     "pressure": "6 bar"}),
    114: ([41, 42, 999, 44, 41], {"amenity": "parking", "name": "Cut by the edge"}),
    115: ([41, 42, 43], {"amenity": "parking", "name": "Never closed"}),
}  # fmt: skip
_RELATIONS = {
    200: ([101, 102], ["outer", "inner"], {"type": "multipolygon", "building": "yes"}),
    201: ([104], ["outer"], {"type": "multipolygon", "building": "yes"}),
    202: ([104, 555], ["outer", "outer"], {"type": "multipolygon", "building": "yes"}),
}
_STAMP = {32: "2021-05-01T12:00:00Z", 100: "2020-01-01T00:00:00Z"}


def _tags(tags: dict[str, str]) -> str:
    return "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())


def _meta(oid: int) -> str:
    return f' version="1" timestamp="{_STAMP[oid]}"' if oid in _STAMP else ""


def osm_xml() -> str:
    """The test extract as OSM XML."""
    lines = [
        "<?xml version='1.0' encoding='UTF-8'?>",
        '<osm version="0.6" generator="city-twin tests">',
        ' <bounds minlat="60.0" minlon="24.0" maxlat="60.02" maxlon="24.02"/>',
    ]
    for nid, (lon, lat) in _NODES.items():
        lines.append(f' <node id="{nid}" lat="{lat}" lon="{lon}"/>')
    for nid, ((lon, lat), tags) in _TAGGED_NODES.items():
        lines.append(f' <node id="{nid}" lat="{lat}" lon="{lon}"{_meta(nid)}>{_tags(tags)}</node>')
    for wid, (refs, tags) in _WAYS.items():
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        lines.append(f' <way id="{wid}"{_meta(wid)}>{nds}{_tags(tags)}</way>')
    for rid, (refs, roles, tags) in _RELATIONS.items():
        members = "".join(
            f'<member type="way" ref="{r}" role="{role}"/>'
            for r, role in zip(refs, roles, strict=True)
        )
        lines.append(f' <relation id="{rid}">{members}{_tags(tags)}</relation>')
    lines.append("</osm>")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def xml_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("osm") / "tiny.osm"
    path.write_text(osm_xml(), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tiny(xml_path: Path) -> OsmExtract:
    return read_osm(xml_path)


def _by_id(extract: OsmExtract, layer: str) -> dict[str, object]:
    return {f.id: f for f in extract.layers[layer]}


def _issue(extract: OsmExtract, layer: str, osm_id: str) -> ImportIssue:
    (issue,) = [i for i in extract.issues if i.layer == layer and i.osm_id == osm_id]
    return issue


def test_every_layer_is_present(tiny: OsmExtract) -> None:
    assert list(tiny.layers) == [spec.name for spec in LAYERS]


def test_bowtie_building_is_repaired_and_reported(tiny: OsmExtract) -> None:
    building = _by_id(tiny, "buildings")["w100"]
    geom = building.geometry  # type: ignore[attr-defined]
    assert geom.geom_type == "MultiPolygon" and geom.is_valid
    assert len(geom.geoms) == 2  # the two triangles of the bow tie
    bowtie_area = 2 * 0.5 * 0.002 * 0.001  # two triangles, base 0.002, height 0.001
    assert geom.area == pytest.approx(bowtie_area)
    issue = _issue(tiny, "buildings", "w100")
    assert issue.action == "repaired"
    assert "Self-intersection" in issue.problem
    assert issue.geometry is not None and geom.buffer(1e-9).contains(issue.geometry)


def test_multipolygon_with_inner_ring(tiny: OsmExtract) -> None:
    geom = _by_id(tiny, "buildings")["r200"].geometry  # type: ignore[attr-defined]
    assert geom.geom_type == "MultiPolygon" and len(geom.geoms) == 1
    (poly,) = geom.geoms
    assert len(poly.interiors) == 1
    assert geom.area == pytest.approx(0.004 * 0.004 - 0.001 * 0.001)
    assert not any(i.osm_id == "r200" for i in tiny.issues)


def test_broken_and_incomplete_multipolygons_are_skipped_and_reported(tiny: OsmExtract) -> None:
    buildings = _by_id(tiny, "buildings")
    assert "r201" not in buildings and "r202" not in buildings
    broken = _issue(tiny, "buildings", "r201")
    incomplete = _issue(tiny, "buildings", "r202")
    assert (broken.action, incomplete.action) == ("skipped", "skipped")
    assert "could not be assembled" in broken.problem
    assert "member ways are missing" in incomplete.problem


def test_unclosed_building_is_skipped_at_a_point_of_it(tiny: OsmExtract) -> None:
    assert "w107" not in _by_id(tiny, "buildings")
    issue = _issue(tiny, "buildings", "w107")
    assert (issue.action, issue.problem) == ("skipped", "the way is not closed, so it has no area")
    assert issue.geometry is not None and issue.geometry.geom_type == "Point"


def test_road_cut_at_the_edge_keeps_its_located_part_reversed(tiny: OsmExtract) -> None:
    road = _by_id(tiny, "roads")["w103"]
    # nodes 1, 2 are located, 999 is missing, 4 is alone: the run 1-2, reversed (oneway=-1)
    assert list(road.geometry.coords) == [_NODES[2], _NODES[1]]  # type: ignore[attr-defined]
    props = road.properties  # type: ignore[attr-defined]
    assert props["oneway"] is True and props["maxspeed"] == 48.28
    issue = _issue(tiny, "roads", "w103")
    assert issue.action == "repaired"
    assert issue.problem.startswith("1 of 4 node locations are missing from the extract")


def test_point_layers(tiny: OsmExtract) -> None:
    assert _by_id(tiny, "traffic_signals")["n30"].properties == {  # type: ignore[attr-defined]
        "osm_id": "n30",
        "crossing": "traffic_signals",
        "tags": {"crossing": "traffic_signals", "highway": "traffic_signals"},
    }
    hydrant = _by_id(tiny, "fire_hydrants")["n31"]
    assert hydrant.properties["diameter"] == 100.0  # type: ignore[attr-defined]
    assert list(_by_id(tiny, "pois")) == ["n32"]  # not the car park, station or shop=no
    cafe = _by_id(tiny, "pois")["n32"].properties  # type: ignore[attr-defined]
    assert (cafe["category"], cafe["kind"], cafe["name_sv"]) == ("amenity", "cafe", "Kafé")
    assert list(_by_id(tiny, "emergency_stations")) == ["n34"]
    station = _by_id(tiny, "emergency_stations")["n34"]
    assert station.geometry.coords[0] == (24.0044, 60.004)  # type: ignore[attr-defined]


def test_parking_nodes_are_points_and_areas_polygons(tiny: OsmExtract) -> None:
    parking = _by_id(tiny, "parking")
    assert list(parking) == ["n33", "w105", "w114", "w115"]
    assert parking["n33"].geometry.geom_type == "Point"  # type: ignore[attr-defined]
    assert parking["n33"].properties["capacity"] == 12  # type: ignore[attr-defined]
    assert parking["w105"].geometry.geom_type == "MultiPolygon"  # type: ignore[attr-defined]
    assert parking["w105"].properties["fee"] == "yes"  # type: ignore[attr-defined]


def test_address_points_from_nodes_and_areas(tiny: OsmExtract) -> None:
    addresses = _by_id(tiny, "address_points")
    assert list(addresses) == ["n36", "w100"]
    node = addresses["n36"].properties  # type: ignore[attr-defined]
    assert (node["osm_type"], node["street"], node["street_sv"]) == ("node", "Katu", "Gatan")
    way = addresses["w100"]
    assert way.properties["osm_type"] == "way"  # type: ignore[attr-defined]
    building = _by_id(tiny, "buildings")["w100"].geometry  # type: ignore[attr-defined]
    assert building.buffer(1e-9).contains(way.geometry)  # type: ignore[attr-defined]


def test_pipeline_and_admin_boundary(tiny: OsmExtract) -> None:
    pipe = _by_id(tiny, "pipelines")["w106"].properties  # type: ignore[attr-defined]
    assert (pipe["substance"], pipe["diameter"], pipe["location"]) == (
        "water",
        300.0,
        "underground",
    )
    area = _by_id(tiny, "admin_boundaries")["w108"]
    assert area.properties["admin_level"] == 10  # type: ignore[attr-defined]
    assert area.geometry.geom_type == "MultiPolygon"  # type: ignore[attr-defined]


def test_the_registry_of_underground_lines_holds_buried_cables(tiny: OsmExtract) -> None:
    lines = _by_id(tiny, "pipelines")
    assert sorted(lines) == ["w106", "w109", "w111", "w113"]  # not the overhead ones
    power = lines["w109"].properties  # type: ignore[attr-defined]
    assert (power["utility"], power["voltage"], power["depth"], power["location"]) == (
        "power",
        110000,
        1.2,
        "underground",
    )
    assert lines["w111"].properties["utility"] == "telecom"  # type: ignore[attr-defined]
    cooling = lines["w113"].properties  # type: ignore[attr-defined]
    assert (cooling["utility"], cooling["material"], cooling["pressure"]) == (
        "cooling",
        "PE",
        "6 bar",
    )
    assert lines["w106"].properties["utility"] == "water"  # type: ignore[attr-defined]


def test_a_car_park_without_an_outline_is_kept_as_a_point(tiny: OsmExtract) -> None:
    parking = _by_id(tiny, "parking")
    issues = {i.osm_id: i for i in tiny.issues}
    for wid, why in (("w114", "node locations are missing"), ("w115", "the way is not closed")):
        geom = parking[wid].geometry  # type: ignore[attr-defined]
        assert geom.geom_type == "Point"
        assert shapely.box(24.010, 60.010, 24.012, 60.012).buffer(1e-9).contains(geom)
        assert issues[wid].action == "repaired"
        assert why in issues[wid].problem and "kept as a point" in issues[wid].problem
    # a building still needs its outline
    assert "w114" not in _by_id(tiny, "buildings")


def test_issues_are_a_layer_too(tiny: OsmExtract) -> None:
    features = tiny.layers["osm_import_issues"]
    assert [(i.layer, i.osm_id, i.action) for i in tiny.issues] == [
        ("buildings", "w100", "repaired"),
        ("buildings", "w107", "skipped"),
        ("buildings", "r201", "skipped"),
        ("buildings", "r202", "skipped"),
        ("roads", "w103", "repaired"),
        ("address_points", "w100", "repaired"),  # the point of the repaired outline
        ("parking", "w114", "repaired"),  # kept as points
        ("parking", "w115", "repaired"),
    ]
    assert len(features) == len(tiny.issues)
    assert {f.properties["action"] for f in features} == {"repaired", "skipped"}
    assert len({f.id for f in features}) == len(features)
    first = tiny.issues[0]
    assert features[0].properties == {
        "layer": first.layer,
        "osm_id": first.osm_id,
        "problem": first.problem,
        "action": first.action,
    }


def test_bounds_from_header_and_timestamp_from_objects(tiny: OsmExtract) -> None:
    assert tiny.bounds == (24.0, 60.0, 24.02, 60.02)
    assert tiny.timestamp == datetime(2021, 5, 1, 12, tzinfo=UTC)


def test_feature_ids_and_osm_ids(tiny: OsmExtract) -> None:
    for spec in LAYERS[:-2]:  # the last two are the import issues
        for f in tiny.layers[spec.name]:
            assert re.fullmatch(r"[nwr]\d+", f.id)
            assert f.properties["osm_id"] == f.id


def test_reading_again_gives_equal_features(xml_path: Path, tiny: OsmExtract) -> None:
    again = read_osm(xml_path)
    for name, features in tiny.layers.items():
        other = again.layers[name]
        assert [f.id for f in features] == [f.id for f in other]
        assert [f.properties for f in features] == [f.properties for f in other]
        assert all(
            shapely.equals_exact(a.geometry, b.geometry, tolerance=0)
            for a, b in zip(features, other, strict=True)
            if a.geometry is not None
        )


def test_format_is_told_by_content(tmp_path: Path, tiny: OsmExtract) -> None:
    text = osm_xml().encode()
    named = tmp_path / "extract.data"
    named.write_bytes(text)
    (tmp_path / "extract.osm.gz").write_bytes(gzip.compress(text))
    (tmp_path / "extract.osm.bz2").write_bytes(bz2.compress(text))
    for name in ("extract.data", "extract.osm.gz", "extract.osm.bz2"):
        assert read_osm(tmp_path / name).counts() == tiny.counts()


def _message(path: Path, what: str) -> str:
    return re.escape(f"path={str(path)!r} {what}")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.osm.pbf"
    with pytest.raises(
        OSMFileError, match=_message(path, f"does not exist; give an OSM extract ({FORMATS})")
    ):
        read_osm(path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.osm.pbf"
    path.touch()
    with pytest.raises(
        OSMFileError, match=_message(path, f"is empty; give an OSM extract ({FORMATS})")
    ):
        read_osm(path)


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(OSMFileError, match=_message(tmp_path, "is not a file")):
        read_osm(tmp_path)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("notes.txt", b"hello world\n"),
        ("notes.osm", b"hello world\n"),
        ("page.osm", b"<html><body>not osm</body></html>\n"),
        ("random.osm.pbf", bytes(range(256)) * 8),
    ],
)
def test_not_osm(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(
        OSMFileError, match=_message(path, "is not an OSM extract: its content is neither")
    ):
        read_osm(path)


def test_truncated_pbf(tmp_path: Path) -> None:
    path = tmp_path / "cut.osm.pbf"
    data = HELSINKI.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        OSMFileError, match=_message(path, "is not a readable OSM extract: PBF error")
    ):
        read_osm(path)


def test_osm_file_error_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        read_osm(tmp_path / "x.osm")


def test_progress_bar_on_stderr(xml_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    read_osm(xml_path, progress=True)
    out, err = capfd.readouterr()
    assert "reading tiny.osm" in err
    assert out == ""
    read_osm(xml_path)
    assert capfd.readouterr().err == ""


def test_without_header_bounds_or_timestamps_the_data_decides(tmp_path: Path) -> None:
    text = re.sub(r"\s*<bounds [^>]*/>", "", osm_xml())
    text = re.sub(r' version="1" timestamp="[^"]*"', "", text)
    path = tmp_path / "bare.osm"
    path.write_text(text, encoding="utf-8")
    extract = read_osm(path)
    assert extract.timestamp is None
    geoms = [f.geometry for fs in extract.layers.values() for f in fs if f.geometry is not None]
    assert extract.bounds == tuple(shapely.total_bounds(geoms).tolist())


def test_node_without_a_valid_location_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "bad.osm"
    path.write_text(
        "<?xml version='1.0' encoding='UTF-8'?>\n<osm version=\"0.6\">\n"
        ' <node id="1" lat="95.0" lon="24.0"><tag k="amenity" v="cafe"/></node>\n'
        ' <node id="2" lat="60.0" lon="24.0"><tag k="amenity" v="cafe"/></node>\n'
        "</osm>\n",
        encoding="utf-8",
    )
    extract = read_osm(path)
    assert [f.id for f in extract.layers["pois"]] == ["n2"]
    assert extract.issues == [
        ImportIssue("pois", "n1", "the node has no valid location", "skipped", None)
    ]


@pytest.mark.parametrize(("lat", "lon"), [("nan", "24.001"), ("60.001", "500")])
def test_bad_coordinate(tmp_path: Path, lat: str, lon: str) -> None:
    path = tmp_path / "bad.osm"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="test">\n'
        f'<node id="1" version="1" lat="{lat}" lon="{lon}"/>\n</osm>\n'
    )
    with pytest.raises(
        OSMFileError, match=_message(path, "is not a readable OSM extract: wrong format")
    ):
        read_osm(path)


def test_control_and_bidi_characters_are_dropped_from_tags(tmp_path: Path) -> None:
    from twin.store import Feature, open_store

    path = tmp_path / "odd.osm"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="test">\n'
        '<node id="1" version="1" lat="60.001" lon="24.001">'
        '<tag k="amenity" v="cafe"/><tag k="name" v="Kahvila&#x202E; &#x7F;Kulma"/>'
        "</node>\n</osm>\n",
        encoding="utf-8",
    )
    cafe = next(f for f in read_osm(path).layers["pois"] if f.id == "n1")
    assert cafe.properties["name"] == "Kahvila Kulma"  # type: ignore[attr-defined]
    assert cafe.properties["tags"]["name"] == "Kahvila Kulma"  # type: ignore[attr-defined]
    with open_store(str(tmp_path / "t.gpkg")) as store:  # the store takes what is left
        spec = next(s for s in LAYERS if s.name == "pois")
        store.ensure_collection(spec)
        store.create("pois", [Feature(cafe.id, cafe.geometry, cafe.properties)])  # type: ignore[attr-defined]
        assert store.get("pois", "n1").properties["name"] == "Kahvila Kulma"
