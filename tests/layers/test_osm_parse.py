"""Tag value parsers and tag rules of the OSM importer."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from layers.osm._classify import classify
from layers.osm._parse import (
    parse_diameter_mm,
    parse_int,
    parse_length_m,
    parse_maxspeed,
    parse_number,
    parse_oneway,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("50", 50.0),
        ("50 km/h", 50.0),
        ("50km/h", 50.0),
        ("30 mph", 48.28),
        ("10 knots", 18.52),
        ("FI:urban", 50.0),
        ("FI:rural", 80.0),
        ("PT:rural", 90.0),
        ("DE:zone30", 30.0),
        ("DE:zone:20", 20.0),
        ("GB:nsl_single", 96.56),
        ("none", None),
        ("walk", None),
        ("signals", None),
        ("50;30", None),
        ("XX:rural", None),
        ("", None),
        (None, None),
    ],
)
def test_maxspeed(value: str | None, expected: float | None) -> None:
    assert parse_maxspeed(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("3", 3), ("3.0", 3), (" 12 ", 12), ("2.5", None), ("2;3", None), ("-1", None), (None, None)],
)
def test_int(value: str | None, expected: int | None) -> None:
    assert parse_int(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12", 12.0),
        ("12.5 m", 12.5),
        ("12,5", 12.5),
        ("10 ft", 3.048),
        ("5'6\"", 1.676),
        ("x", None),
    ],
)
def test_length(value: str, expected: float | None) -> None:
    assert parse_length_m(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("300", 300.0),
        ("300 mm", 300.0),
        ("DN300", 300.0),
        ("0.3 m", 300.0),
        ('4"', 101.6),
        ("12''", 304.8),
        ("Ø300", 300.0),
        ("ø 300 mm", 300.0),
        ("1,200", 1200.0),  # thousands
        ("1,200 mm", 1200.0),
        ("1,2 m", 1200.0),  # a decimal comma
        ("12,5", 12.5),
        ("0", None),  # no pipe
        ("20000", None),  # 20 m: a typo
        ("big", None),
    ],
)
def test_diameter(value: str, expected: float | None) -> None:
    assert parse_diameter_mm(value) == expected


def test_number_sign() -> None:
    assert (parse_number("-2.5"), parse_number("+3"), parse_number("3 m")) == (-2.5, 3.0, None)


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"oneway": "yes"}, (True, False)),
        ({"oneway": "-1"}, (True, True)),
        ({"oneway": "no"}, (False, False)),
        ({"oneway": "reversible"}, (None, False)),
        ({"junction": "roundabout"}, (True, False)),
        ({"highway": "motorway"}, (True, False)),
        ({"highway": "residential"}, (False, False)),
    ],
)
def test_oneway(tags: dict[str, str], expected: tuple[bool | None, bool]) -> None:
    assert parse_oneway(tags) == expected


@given(st.integers(min_value=0, max_value=10**6))
def test_whole_numbers_round_trip(n: int) -> None:
    assert parse_int(str(n)) == n
    assert parse_maxspeed(str(n)) == float(n)


@given(st.text(max_size=12))
def test_parsers_never_raise(text: str) -> None:
    for parse in (parse_int, parse_number, parse_length_m, parse_diameter_mm, parse_maxspeed):
        value = parse(text)
        assert value is None or isinstance(value, int | float)


def _layers(tags: dict[str, str], element: str = "node", *, closed: bool = False) -> list[str]:
    return [t.layer for t in classify(tags, element, closed=closed)]  # type: ignore[arg-type]


def test_parking_and_emergency_stations_are_not_pois() -> None:
    assert _layers({"amenity": "parking"}) == ["parking"]
    assert _layers({"amenity": "fire_station"}) == ["emergency_stations"]
    assert _layers({"emergency": "ambulance_station"}) == ["emergency_stations"]
    assert _layers({"amenity": "parking_space"}) == ["pois"]


def test_poi_category_follows_key_order() -> None:
    (target,) = classify({"shop": "bakery", "amenity": "cafe"}, "node")
    assert (target.properties["category"], target.properties["kind"]) == ("amenity", "cafe")
    assert _layers({"shop": "no"}) == []


def test_rules_by_element() -> None:
    assert _layers({"building": "yes"}, "node") == []
    assert _layers({"building": "no"}, "way", closed=True) == []
    assert _layers({"highway": "platform"}, "way") == []
    assert _layers({"highway": "pedestrian", "area": "yes"}, "way", closed=True) == []
    assert _layers({"highway": "traffic_signals"}, "way") == []
    assert _layers({"boundary": "administrative"}, "way", closed=False) == []
    assert _layers({"boundary": "administrative"}, "way", closed=True) == ["admin_boundaries"]
    assert _layers({"boundary": "administrative"}, "area") == ["admin_boundaries"]
    assert _layers({"highway": "residential"}, "area") == []


def test_road_properties() -> None:
    (road,) = classify(
        {"highway": "primary", "oneway": "-1", "maxspeed": "FI:urban", "lanes": "2"}, "way"
    )
    assert road.reverse is True
    assert road.properties["oneway"] is True
    assert road.properties["maxspeed"] == 50.0
    assert road.properties["lanes"] == 2


@pytest.mark.parametrize("module", ["_parse", "_classify", "_geometry"])
def test_docstring_examples(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"layers.osm.{module}"))
    assert result.attempted > 0 and result.failed == 0
