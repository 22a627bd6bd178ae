"""What a write's body and headers may hold: every bad one is a 4xx that changes nothing.

Ids in any script, JSON nesting and duplicate keys, text that is not text, size limits,
``Content-Crs``, malformed ``If-Match`` and writes that change nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from tests.service.conftest import EDITOR, FreshClient
from twin.service.body import MAX_BODY_BYTES, MAX_JSON_DEPTH
from twin.store import Store
from twin.store._validate import MAX_STRING_LENGTH, MAX_VERTICES

GEO = {"Content-Type": "application/geo+json"}
W = {**EDITOR, **GEO}
ITEMS = "/collections/pois/items"


def _feature(fid: object = None, coordinates: object = (24.95, 60.17), **props: object) -> dict:
    doc: dict = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": coordinates},
        "properties": {"name": "New place", "kind": "cafe", **props},
    }
    if fid is not None:
        doc["id"] = fid
    return doc


def _log(store: Store) -> tuple[list[int], int, list[int]]:
    """What a failed write must leave as it was: the change log, the count, p06's history."""
    return (
        [c.seq for c in store.changes()],
        store.count("pois"),
        [v.version for v in store.history("pois", "p06")],
    )


def _refused(
    client, store: Store, body: bytes, fragment: str, *, status: int = 400, **headers: str
) -> None:
    """POST, PUT and PATCH of ``body`` are all refused with ``fragment`` and change nothing."""
    before = _log(store)
    for method, url in (("POST", ITEMS), ("PUT", f"{ITEMS}/p06"), ("PATCH", f"{ITEMS}/p06")):
        r = client.request(method, url, content=body, headers={**W, **headers})
        assert r.status_code == status, (method, r.text)
        doc = r.json()
        assert doc["status"] == status
        assert fragment in doc["description"], (method, doc)
    assert _log(store) == before


# -- ids in URLs -------------------------------------------------------------------------
@pytest.mark.parametrize("fid", ["id-😀", "дом-1", "a b&c=d"])
def test_location_and_links_percent_encode_the_id(fresh_client: FreshClient, fid: str) -> None:
    client, store = fresh_client
    r = client.post(ITEMS, content=json.dumps(_feature(fid)), headers=W)
    assert r.status_code == 201, r.text
    assert r.headers["location"] == f"http://127.0.0.1:5000{ITEMS}/{quote(fid, safe='')}"
    got = client.get(r.headers["location"])
    assert got.status_code == 200
    assert got.json()["id"] == fid
    links = client.get(f"{ITEMS}/{quote(fid, safe='')}/history").json()["links"]
    assert {link["rel"]: link["href"] for link in links}["original"] == r.headers["location"]
    assert [v.version for v in store.history("pois", fid)] == [1]


# -- JSON: nesting, duplicate keys, not an object -----------------------------------------
@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,
        b'{"type": "Feature", "properties": {"kind": '
        + b'{"a": ' * 100_000
        + b"1"
        + b"}" * 100_002,
        json.dumps(_feature(coordinates="@"))
        .replace('"@"', "[" * 100_000 + "]" * 100_000)
        .encode(),
        json.dumps(_feature(coordinates="@"))
        .replace('"@"', "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH)
        .encode(),
    ],
    ids=["array", "properties", "coordinates", "just-too-deep"],
)
def test_deeply_nested_json_is_400(fresh_client: FreshClient, body: bytes) -> None:
    client, store = fresh_client
    _refused(client, store, body, f"nests arrays and objects more than {MAX_JSON_DEPTH} levels")


def test_deeply_nested_execute_request_is_400(fresh_client: FreshClient) -> None:
    client, _ = fresh_client
    r = client.post(
        "/processes/features-in-polygon/execution",
        content=b'{"inputs": ' + b"[" * 100_000,
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert "the execute request nests arrays and objects more than" in r.json()["description"]


@pytest.mark.parametrize(
    ("body", "key"),
    [
        (
            b'{"type": "Feature", "geometry": {"type": "Point", "coordinates": [24.95, 60.17]},'
            b' "geometry": {"type": "Point", "coordinates": [0, 0]}, "properties": {}}',
            "'geometry'",
        ),
        (
            b'{"type": "Feature", "geometry": null,'
            b' "properties": {"kind": "cafe", "kind": "shop"}}',
            "'kind'",
        ),
    ],
)
def test_duplicate_keys_are_400(fresh_client: FreshClient, body: bytes, key: str) -> None:
    client, store = fresh_client
    _refused(client, store, body, f"has the key {key} more than once")


@pytest.mark.parametrize(
    ("literal", "where"),
    [("NaN", "name"), ("Infinity", "coordinates"), ("-Infinity", "kind")],
)
def test_nan_and_infinity_are_not_json(fresh_client: FreshClient, literal: str, where: str) -> None:
    """Python's parser reads NaN and Infinity; a string property would have stored 'nan'."""
    client, store = fresh_client
    doc = json.dumps(
        _feature(
            name="@" if where == "name" else "x",
            kind="@" if where == "kind" else "cafe",
            coordinates=[24.95, "@"] if where == "coordinates" else [24.95, 60.17],
        )
    )
    body = doc.replace('"@"', literal).encode()
    _refused(client, store, body, f"{literal} is not a JSON value")
    r = client.post(
        "/processes/features-in-polygon/execution",
        content=b'{"inputs": {"x": ' + literal.encode() + b"}}",
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert f"{literal} is not a JSON value" in r.json()["description"]
    r = client.post(
        "/routes",
        content=b'{"inputs": {"waypoints": {"value": {"type": "MultiPoint", "coordinates": '
        b"[[24.9384, " + literal.encode() + b"], [24.95, 60.1672]]}}}}",
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert f"{literal} is not a JSON value" in r.json()["description"]


@pytest.mark.parametrize(
    ("body", "kind"), [(b'"x"', "string"), (b"[]", "array"), (b"null", "null"), (b"3", "number")]
)
def test_patch_body_must_be_an_object(fresh_client: FreshClient, body: bytes, kind: str) -> None:
    client, store = fresh_client
    before = _log(store)
    r = client.patch(f"{ITEMS}/p06", content=body, headers=W)
    assert r.status_code == 400
    assert (
        f"PATCH body must be a JSON object (a partial GeoJSON Feature), got a JSON {kind}"
        in (r.json()["description"])
    )
    assert _log(store) == before


# -- ids and text ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fid", "fragment"),
    [
        ("a\x01b", "holds U+0001, a control, format or surrogate character"),
        ("x\u202ey", "holds U+202E"),
        ("..", "cannot be used in a URL path"),
        (".", "cannot be used in a URL path"),
        (True, "feature id true must be a string or an integer"),
        (1.5, "feature id 1.5 must be a string or an integer"),
    ],
)
def test_junk_ids_are_400(fresh_client: FreshClient, fid: object, fragment: str) -> None:
    client, store = fresh_client
    before = _log(store)
    r = client.post(ITEMS, content=json.dumps(_feature(fid)), headers=W)
    assert r.status_code == 400, r.text
    assert fragment in r.json()["description"]
    assert _log(store) == before


def test_integer_ids_become_strings(fresh_client: FreshClient) -> None:
    client, store = fresh_client
    r = client.post(ITEMS, content=json.dumps(_feature(42)), headers=W)
    assert r.status_code == 201
    assert store.get("pois", "42").id == "42"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("\ud800", "property 'name' of 'p06' holds U+D800 at position 0, a surrogate"),
        ("nul\x00", "property 'name' of 'p06' holds U+0000 at position 3, a control character"),
        ("\x1b[2J", "property 'name' of 'p06' holds U+001B"),
        ("abc\u202efdp.exe", "property 'name' of 'p06' holds U+202E"),
        ("x" * (MAX_STRING_LENGTH + 1), f"is {MAX_STRING_LENGTH + 1} characters long; at most"),
    ],
)
def test_property_text_must_be_text(fresh_client: FreshClient, text: str, fragment: str) -> None:
    client, store = fresh_client
    _refused(client, store, json.dumps(_feature("p06", name=text)).encode(), fragment)
    r = client.patch(f"{ITEMS}/p06", content=json.dumps({"properties": {"kind": text}}), headers=W)
    assert r.status_code == 400
    assert "property 'kind' of 'p06'" in r.json()["description"]
    assert [v.version for v in store.history("pois", "p06")] == [1]


def test_text_with_tabs_and_newlines_is_kept(fresh_client: FreshClient) -> None:
    client, store = fresh_client
    name = "Kahvila\tKulma\r\nдом 😀"
    r = client.post(ITEMS, content=json.dumps(_feature("t1", name=name)), headers=W)
    assert r.status_code == 201
    assert store.get("pois", "t1").properties["name"] == name


# -- size limits -------------------------------------------------------------------------
def test_body_over_the_limit_is_413(fresh_client: FreshClient) -> None:
    client, store = fresh_client
    big = json.dumps(_feature("big", name="x" * MAX_BODY_BYTES)).encode()
    _refused(client, store, big, f"at most {MAX_BODY_BYTES} bytes (16 MiB)", status=413)
    assert client.post(ITEMS, content=big, headers=W).json()["code"] == "PayloadTooLarge"


def test_body_over_the_limit_without_content_length_is_413(fresh_client: FreshClient) -> None:
    client, store = fresh_client
    before = _log(store)

    def chunks() -> Iterator[bytes]:
        yield b'{"type": "Feature", "properties": {"name": "'
        for _ in range(17):
            yield b"x" * (1 << 20)
        yield b'"}, "geometry": null}'

    r = client.post(ITEMS, content=chunks(), headers=W)
    assert r.status_code == 413
    assert "more than 16777216 bytes" in r.json()["description"]
    assert _log(store) == before


def test_geometry_over_the_vertex_limit_is_400(fresh_client: FreshClient) -> None:
    client, store = fresh_client
    n = MAX_VERTICES + 1
    line = [[round(24.9 + i * 1e-7, 7), 60.17] for i in range(n)]
    body = {"type": "Feature", "geometry": {"type": "LineString", "coordinates": line}}
    before = [c.seq for c in store.changes()]
    r = client.post("/collections/roads/items", content=json.dumps(body), headers=W)
    assert r.status_code == 400
    assert f"has {n} coordinates; at most {MAX_VERTICES} are accepted" in r.json()["description"]
    assert [c.seq for c in store.changes()] == before


# -- Content-Crs -------------------------------------------------------------------------
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (f"<{EPSG}99999>", f"Content-Crs='{EPSG}99999' is not served"),
        ("garbage", "Content-Crs='garbage' is not served"),
        (f"<{EPSG}2393>", f"Content-Crs='{EPSG}2393' is not served"),
    ],
)
def test_unserved_content_crs_is_400(fresh_client: FreshClient, value: str, fragment: str) -> None:
    client, store = fresh_client
    body = json.dumps(_feature("p06")).encode()
    _refused(client, store, body, fragment, **{"Content-Crs": value})


@pytest.mark.parametrize(
    ("crs", "coordinates"),
    [
        (f"{EPSG}3857", [2777421.2953, 8437684.161]),
        (f"{EPSG}4326", [60.17, 24.95]),
        ("http://www.opengis.net/def/crs/OGC/1.3/CRS84", [24.95, 60.17]),
    ],
)
def test_content_crs_is_transformed_to_crs84(
    fresh_client: FreshClient, crs: str, coordinates: list[float]
) -> None:
    client, store = fresh_client
    headers = {**W, "Content-Crs": f"<{crs}>"}
    body = _feature("c1", coordinates=coordinates)
    assert client.post(ITEMS, content=json.dumps(body), headers=headers).status_code == 201
    point = store.get("pois", "c1").geometry
    assert (round(point.x, 5), round(point.y, 5)) == (24.95, 60.17)
    for method in ("PUT", "PATCH"):
        body = _feature(coordinates=coordinates)
        r = client.request(method, f"{ITEMS}/p06", content=json.dumps(body), headers=headers)
        assert r.status_code == 204, r.text
        point = store.get("pois", "p06").geometry
        assert (round(point.x, 5), round(point.y, 5)) == (24.95, 60.17)


def test_content_crs_in_lat_lon_outside_crs84_is_named(fresh_client: FreshClient) -> None:
    client, store = fresh_client
    before = _log(store)
    r = client.post(
        ITEMS,
        content=json.dumps(_feature("c2", coordinates=[2777421.2953, 8437684.161])),
        headers={**W, "Content-Crs": f"<{EPSG}4326>"},
    )
    assert r.status_code == 400
    assert (
        "cannot be transformed" in r.json()["description"]
        or "outside CRS84" in (r.json()["description"])
    )
    assert _log(store) == before


# -- writes that change nothing, If-Match ------------------------------------------------
@pytest.mark.parametrize(
    "body", [b"{}", b'{"properties": null}', b'{"properties": {"kind": "cafe"}}']
)
def test_patch_that_changes_nothing_adds_no_version(fresh_client: FreshClient, body: bytes) -> None:
    client, store = fresh_client
    etag = client.get(f"{ITEMS}/p06").headers["etag"]
    before = _log(store)
    for _ in range(2):
        r = client.patch(f"{ITEMS}/p06", content=body, headers={**W, "If-Match": etag})
        assert r.status_code == 204
        assert r.headers["etag"] == etag
    assert _log(store) == before
    assert len(client.get(f"{ITEMS}/p06/history").json()["features"]) == 1


def test_put_of_the_same_feature_adds_no_version(fresh_client: FreshClient) -> None:
    client, store = fresh_client
    doc = client.get(f"{ITEMS}/p06").json()
    before = _log(store)
    r = client.put(f"{ITEMS}/p06", content=json.dumps(doc), headers=W)
    assert r.status_code == 204
    assert r.headers["etag"] == client.get(f"{ITEMS}/p06").headers["etag"]
    assert _log(store) == before


@pytest.mark.parametrize("value", ['garbage,,,"', "W/", '"abc', ",", 'W/"a", *x'])
def test_malformed_if_match_is_400(fresh_client: FreshClient, value: str) -> None:
    client, store = fresh_client
    before = _log(store)
    for method in ("PUT", "PATCH", "DELETE"):
        r = client.request(
            method,
            f"{ITEMS}/p06",
            content=json.dumps(_feature("p06", name="Changed")),
            headers={**W, "If-Match": value},
        )
        assert r.status_code == 400, (method, r.text)
        assert r.json()["description"].startswith(f"If-Match {value!r}")
    assert _log(store) == before


def test_well_formed_if_match_lists_still_work(fresh_client: FreshClient) -> None:
    client, _ = fresh_client
    etag = client.get(f"{ITEMS}/p06").headers["etag"]
    r = client.patch(
        f"{ITEMS}/p06",
        content=json.dumps({"properties": {"kind": "shop"}}),
        headers={**W, "If-Match": f' "nope", , W/{etag} '},
    )
    assert r.status_code == 204
    r = client.patch(
        f"{ITEMS}/p06",
        content=json.dumps({"properties": {"kind": "museum"}}),
        headers={**W, "If-Match": '"nope"'},
    )
    assert r.status_code == 412
