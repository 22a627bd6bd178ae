"""Every feature the service returns carries its collection's whole schema.

The store keeps no value for a property that has none; the service writes it back as
``null``, so clients that build their columns from the first features they read (GDAL's
OAPIF driver, QGIS) see every field of the collection.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.service.conftest import LiveServer, _new_store_url, fill_city
from twin.store import Store, open_store

POIS_FIELDS = {"name", "kind", "version", "valid_from", "valid_to"}


def _blank_first_pois(store: Store) -> None:
    """p00 and p01, the first pois by id, lose their kind; p00 its name too."""
    store.patch("pois", "p00", properties={"kind": None, "name": None})
    store.patch("pois", "p01", properties={"kind": None})


def test_items_and_item_carry_every_field(fresh_client: tuple[TestClient, Store]) -> None:
    client, store = fresh_client
    _blank_first_pois(store)
    feats = client.get("/collections/pois/items", params={"limit": 3}).json()["features"]
    assert [f["id"] for f in feats] == ["p00", "p01", "p02"]
    for f in feats:
        assert set(f["properties"]) == POIS_FIELDS
    assert feats[0]["properties"]["kind"] is None and feats[0]["properties"]["name"] is None
    assert feats[2]["properties"]["kind"] == "museum"
    item = client.get("/collections/pois/items/p00").json()
    assert set(item["properties"]) == POIS_FIELDS
    assert item["properties"]["kind"] is None


def test_a_selection_keeps_the_fields_it_names(fresh_client: tuple[TestClient, Store]) -> None:
    client, store = fresh_client
    _blank_first_pois(store)
    r = client.get("/collections/pois/items", params={"limit": 2, "properties": "kind"})
    assert r.status_code == 200
    assert [f["properties"] for f in r.json()["features"]] == [{"kind": None}, {"kind": None}]


def test_history_carries_every_field(fresh_client: tuple[TestClient, Store]) -> None:
    client, store = fresh_client
    _blank_first_pois(store)
    versions = client.get("/collections/pois/items/p00/history").json()["features"]
    assert len(versions) == 2
    assert all(set(v["properties"]) == POIS_FIELDS for v in versions)
    assert versions[0]["properties"]["kind"] == "cafe"
    assert versions[1]["properties"]["kind"] is None


def test_features_in_polygon_carries_every_field(
    fresh_client: tuple[TestClient, Store],
) -> None:
    client, store = fresh_client
    _blank_first_pois(store)
    around_p00 = [[[24.9299, 60.1599], [24.9301, 60.1599], [24.9301, 60.1601], [24.9299, 60.1599]]]
    body = {"inputs": {"polygon": {"type": "Polygon", "coordinates": around_p00}}}
    r = client.post("/processes/features-in-polygon/execution", json=body)
    assert r.status_code == 200
    (p00,) = r.json()["pois"]["features"]
    assert p00["id"] == "p00"
    assert p00["properties"] == {
        **p00["properties"],
        "name": None,
        "kind": None,
        "valid_to": None,
    }
    assert set(p00["properties"]) == POIS_FIELDS


@pytest.fixture
def live_blank_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A live server over the test city whose first pois have no kind."""
    url = _new_store_url(backend, request, tmp_path)
    with open_store(url) as store:
        fill_city(store)
        _blank_first_pois(store)
    with LiveServer(url, tmp_path) as srv:
        yield srv.url


@pytest.mark.slow
def test_gdal_sees_a_field_its_first_features_lack(live_blank_url: str) -> None:
    import pyogrio

    src = f"OAPIF:{live_blank_url}"
    # GDAL builds the layer's columns from its first page: make it a small one
    info = pyogrio.read_info(src, layer="pois", PAGE_SIZE=2)
    assert {"name", "kind"} <= set(info["fields"])
    df = pyogrio.read_dataframe(src, layer="pois", PAGE_SIZE=2)
    kinds = df.set_index("id")["kind"]
    assert kinds[["p00", "p01"]].isna().all()
    assert (kinds["p02"], kinds["p03"]) == ("museum", "cafe")
