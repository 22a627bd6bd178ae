"""Vector tiles from both backends, decoded with mapbox_vector_tile."""

from __future__ import annotations

from datetime import UTC, datetime

import mapbox_vector_tile
import pytest
import shapely

from twin.errors import InvalidInput
from twin.store import CollectionSpec, Feature, Field, Store
from twin.temporal import Instant
from twin.tiles import encode_tile, lonlat_to_tile, tile_bounds

T0 = datetime(2020, 1, 1, tzinfo=UTC)
T1 = datetime(2022, 1, 1, tzinfo=UTC)
Z = 16


@pytest.fixture
def city(store: Store) -> Store:
    store.ensure_collection(
        CollectionSpec(
            "blocks",
            "Blocks",
            geometry_type="Polygon",
            fields=(Field("name"), Field("tags", "json")),
        )
    )
    store.ensure_collection(CollectionSpec("spots", "Spots", geometry_type="Point"))
    store.create(
        "blocks",
        [
            Feature(
                "b1",
                shapely.box(24.9400, 60.1700, 24.9405, 60.1702),
                {"name": "one", "tags": {"a": 1}},
            ),
            Feature("far", shapely.box(25.5, 60.5, 25.51, 60.51), {"name": "far away"}),
        ],
        valid_from=T0,
    )
    store.create("spots", [Feature("s1", shapely.Point(24.9402, 60.1701), {})], valid_from=T0)
    return store


def test_tile_holds_the_features_inside_it(city: Store) -> None:
    x, y = lonlat_to_tile(24.9402, 60.1701, Z)
    data = encode_tile(city, ["blocks", "spots"], Z, x, y)
    tile = mapbox_vector_tile.decode(data)
    assert set(tile) == {"blocks", "spots"}
    blocks = tile["blocks"]["features"]
    assert [f["properties"]["id"] for f in blocks] == ["b1"]
    assert blocks[0]["properties"]["name"] == "one"
    assert blocks[0]["properties"]["tags"] == '{"a": 1}'
    assert blocks[0]["geometry"]["type"] == "Polygon"
    # the point sits where it should in tile coordinates (y up, extent 4096)
    (px, py) = tile["spots"]["features"][0]["geometry"]["coordinates"]
    b = tile_bounds(Z, x, y).crs84
    assert px == pytest.approx((24.9402 - b[0]) / (b[2] - b[0]) * 4096, abs=3)
    assert 0 <= py <= 4096


def test_tile_follows_valid_time_and_empty_tiles_are_empty(city: Store) -> None:
    city.replace("spots", Feature("s1", shapely.Point(25.505, 60.505), {}), valid_from=T1)
    x, y = lonlat_to_tile(24.9402, 60.1701, Z)
    now = mapbox_vector_tile.decode(encode_tile(city, ["spots"], Z, x, y))
    then = mapbox_vector_tile.decode(encode_tile(city, ["spots"], Z, x, y, time=Instant(T0)))
    assert now == {} and [f["properties"]["id"] for f in then["spots"]["features"]] == ["s1"]
    assert encode_tile(city, ["blocks"], Z, 0, 0) == b""


@pytest.mark.parametrize(
    ("z", "x", "y", "text"),
    [
        (25, 0, 0, "not a zoom level"),
        (2, 4, 0, "outside the matrix"),
        (3, 0, -1, "outside the matrix"),
    ],
)
def test_bad_tile_address_is_named(z: int, x: int, y: int, text: str) -> None:
    with pytest.raises(InvalidInput, match=text):
        tile_bounds(z, x, y)
