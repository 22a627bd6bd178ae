"""Feature ids that need percent-encoding, written and read over real HTTP.

Starlette's test client normalises some escapes (``%2F``) before the app sees them, so
these requests go through uvicorn (``twin serve`` on a loopback port) with httpx, which
sends the path as written. Each id is created through the Transactions API, then read,
replaced, and deleted at the URL its ``Location`` names, and the links of the item's
documents lead back to it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest

from tests.service.conftest import EDITOR, LiveServer, _new_store_url, fill_city
from twin.store import open_store

pytestmark = pytest.mark.slow

ITEMS = "/collections/pois/items"
W = {**EDITOR, "Content-Type": "application/geo+json"}

#: Ids whose URL needs escapes, pairs among them that one decoding too many would confuse:
#: ``100%`` and ``100%25``, ``a b`` and ``a%20b``; ``a%2Fb`` once decoded is ``a/b``.
IDS = [
    "100%",
    "100%25",
    "a%2Fb",
    "%",
    "%zz",
    "a b",
    "a%20b",
    "дом 1",
    "id-😀",
    "a+b;c:d~e",
    'q"u\\o',
]


def _feature(fid: str, name: str) -> dict[str, object]:
    return {
        "type": "Feature",
        "id": fid,
        "geometry": {"type": "Point", "coordinates": [24.95, 60.17]},
        "properties": {"name": name, "kind": "cafe"},
    }


@pytest.fixture(scope="module")
def live(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:
    """A client of ``twin serve`` over a store of its own, holding a feature of each id."""
    folder = tmp_path_factory.mktemp("live-ids")
    url = _new_store_url(backend, request, folder)
    with open_store(url) as store:
        fill_city(store)
    with LiveServer(url, folder) as srv, httpx.Client(base_url=srv.url, timeout=30) as client:
        for fid in IDS:
            r = client.post(ITEMS, content=json.dumps(_feature(fid, f"named {fid}")), headers=W)
            assert r.status_code == 201, (fid, r.text)
            assert r.headers["location"] == f"{srv.url}{ITEMS}/{quote(fid, safe='')}", fid
        yield client


def _location(client: httpx.Client, fid: str) -> str:
    return f"{str(client.base_url).rstrip('/')}{ITEMS}/{quote(fid, safe='')}"


@pytest.mark.parametrize("fid", IDS)
def test_an_id_round_trips_through_its_url(live: httpx.Client, fid: str) -> None:
    url = _location(live, fid)
    # httpx sends the escapes as written: the server decodes them once
    assert httpx.URL(url).raw_path.decode().endswith("/" + quote(fid, safe=""))
    got = live.get(url, params={"f": "json"})
    assert got.status_code == 200, got.text
    assert got.json()["id"] == fid and got.json()["properties"]["name"] == f"named {fid}"
    r = live.put(url, content=json.dumps(_feature(fid, f"renamed {fid}")), headers=W)
    assert r.status_code == 204, r.text
    assert live.get(url, params={"f": "json"}).json()["properties"]["name"] == f"renamed {fid}"
    history = live.get(f"{url}/history").json()
    assert [f["properties"]["name"] for f in history["features"]] == [
        f"named {fid}",
        f"renamed {fid}",
    ]
    r = live.delete(url, headers=EDITOR)
    assert r.status_code == 204, r.text
    assert live.get(url, params={"f": "json"}).status_code == 404
    # put back for the other tests of the module
    r = live.post(ITEMS, content=json.dumps(_feature(fid, f"named {fid}")), headers=W)
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("fid", IDS)
@pytest.mark.parametrize("fmt", ["json", "jsonld"])
def test_the_links_of_an_item_lead_back_to_it(live: httpx.Client, fid: str, fmt: str) -> None:
    url = _location(live, fid)
    doc = live.get(url, params={"f": fmt}).json()
    items = [link for link in doc["links"] if f"{ITEMS}/" in link["href"]]
    assert {link["href"].split("?")[0] for link in items} == {url}
    if fmt == "jsonld":
        assert doc["@id"] == url
    for link in items:
        if "f=json" in link["href"].split("?")[1].split("&"):
            assert live.get(link["href"]).json()["id"] == fid


def test_the_json_ld_listing_names_each_item_by_its_url(live: httpx.Client) -> None:
    """The listing is valid JSON whatever the ids hold, its ``@id`` per item is the item's
    URL, and an empty page is valid JSON too."""
    r = live.get(ITEMS, params={"f": "jsonld", "kind": "cafe", "limit": 1000})
    assert r.status_code == 200
    doc = json.loads(r.text)
    urls = {f["@id"] for f in doc["features"]}
    assert {_location(live, fid) for fid in IDS} <= urls
    assert doc["@id"] == f"{str(live.base_url).rstrip('/')}/collections/pois"
    assert doc["@context"] and doc["type"] == "FeatureCollection"
    for fid in ("100%", 'q"u\\o'):
        assert live.get(_location(live, fid), params={"f": "json"}).json()["id"] == fid
    empty = live.get(ITEMS, params={"f": "jsonld", "kind": "no such kind"})
    assert empty.status_code == 200
    assert json.loads(empty.text)["features"] == []


def test_an_id_once_decoded_names_no_other_item(live: httpx.Client) -> None:
    """``a%2Fb`` sent unescaped is the path of ``a/b``, which no id may be; ``100%25`` is
    the URL of ``100%``, not of ``100%25``."""
    assert live.get(f"{ITEMS}/a%2Fb", params={"f": "json"}).status_code == 404
    assert live.get(f"{ITEMS}/100%25", params={"f": "json"}).json()["id"] == "100%"
    r = live.post(ITEMS, content=json.dumps(_feature("a/b", "slash")), headers=W)
    assert r.status_code == 400
    assert "feature id 'a/b' may not contain '/', '?' or '#'" in r.json()["description"]


def test_the_store_holds_each_id_as_written(live: httpx.Client) -> None:
    """Every id is listed once, as written, with the name it was created with."""
    doc = live.get(ITEMS, params={"f": "json", "kind": "cafe", "limit": 1000}).json()
    names = {f["id"]: f["properties"]["name"] for f in doc["features"]}
    for fid in IDS:
        assert names[fid] == f"named {fid}"
