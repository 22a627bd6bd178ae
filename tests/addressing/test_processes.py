"""The address processes over HTTP: parse, geocode (one text, a batch, async), reverse, qr.

Every request goes through the real service (pygeoapi's process manager included) over
a Helsinki twin built from the shipped extract; bad input must come back as a 400 whose
message names the problem, never as a 500.
"""

from __future__ import annotations

import importlib
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from addressing import geocode, parse, reverse
from addressing._geocode_index import _CACHE
from addressing.codes import HELSINKI, AddressCode, parse_code
from addressing.plugin import plugin
from addressing.processes import MAX_BATCH
from addressing.qr import item_url
from tests.addressing.test_qr import decode, rasterise, read_png
from tests.service.conftest import settings_for, wait_for_job
from twin.crs import local_metric_crs, transform_coords, utm_epsg
from twin.plugins import load_plugins
from twin.service import create_app
from twin.service.config import KERNEL_PROCESSES
from twin.store import Store, open_store

BASE = "https://twin.example.org/helsinki"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"


@pytest.fixture(scope="module")
def db(helsinki_db: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A copy of the Helsinki twin: the service writes jobs next to what it serves."""
    path = tmp_path_factory.mktemp("processes") / "helsinki.gpkg"
    shutil.copy(helsinki_db, path)
    return str(path)


@pytest.fixture(scope="module")
def store(db: str) -> Iterator[Store]:
    with open_store(db, create=False) as s:
        yield s


@pytest.fixture(scope="module")
def client(db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = settings_for(tmp_path_factory.mktemp("svc"), base_url=BASE)
    # the kernel's processes and this package's, as registered by its plugin
    processes = {**KERNEL_PROCESSES, **plugin.processes()}
    app = create_app(db, settings=settings, processes=processes)
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def kaivokatu(store: Store) -> dict[str, Any]:
    a = store.read_frame("addresses")
    row = a[(a["street"] == "Kaivokatu") & (a["housenumber"] == "1")].iloc[0]
    return {
        "code": str(row["id"]),
        "lon": float(row.geometry.x),
        "lat": float(row.geometry.y),
        "building": row["building_id"],
        "label": row["label"],
    }


def local(url: str) -> str:
    """The path of a URL of the service (links carry its public base URL)."""
    assert url.startswith(BASE + "/"), url
    return url.removeprefix(BASE)


def run(client: TestClient, process: str, inputs: Any, **kw: Any) -> Any:
    return client.post(f"/processes/{process}/execution", json={"inputs": inputs}, **kw)


# -- description ------------------------------------------------------------------------
def test_the_plugin_registers_the_processes() -> None:
    (found,) = [p for p in load_plugins() if p.name == "addressing"]
    procs = found.processes()
    assert sorted(procs) == ["address-geocode", "address-parse", "address-qr", "address-reverse"]
    for definition in procs.values():
        module, name = definition["processor"]["name"].rsplit(".", 1)
        assert module == "addressing.processes"
        assert hasattr(importlib.import_module(module), name)


def test_the_four_processes_are_listed(client: TestClient) -> None:
    ids = {p["id"] for p in client.get("/processes").json()["processes"]}
    assert {"address-parse", "address-geocode", "address-reverse", "address-qr"} <= ids
    inputs = {
        pid: set(client.get(f"/processes/{pid}").json()["inputs"])
        for pid in ("address-parse", "address-geocode", "address-reverse", "address-qr")
    }
    assert inputs == {
        "address-parse": {"text"},
        "address-geocode": {"text", "texts", "limit"},
        "address-reverse": {"point", "x", "y", "crs", "radius_m"},
        "address-qr": {"code", "format"},
    }


# -- parse ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "language"),
    [("Fredrikink. 5 b 12, 00120 HELSINKI", "latin"), ("浙江杭州西湖区文三路90号6幢二单元", "zh")],
)
def test_parse(client: TestClient, text: str, language: str) -> None:
    r = run(client, "address-parse", {"text": text})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["text"] == text and out["language"] == language
    assert out["components"] == [c.to_dict() for c in parse(text)]
    for c in out["components"]:
        assert text[c["start"] : c["end"]] == c["text"]
    if language == "latin":
        assert [c["label"] for c in out["components"]] == [
            "street",
            "housenumber",
            "unit",
            "postcode",
            "city",
        ]


# -- geocode ----------------------------------------------------------------------------
def test_geocode_one_text(client: TestClient, store: Store, kaivokatu: dict[str, Any]) -> None:
    r = run(client, "address-geocode", {"text": "Brunngatan 1, Helsingfors", "limit": 3})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["text"] == "Brunngatan 1, Helsingfors"
    cands = out["candidates"]
    assert 1 <= len(cands) <= 3
    best = cands[0]
    assert best["code"] == kaivokatu["code"] and best["label"] == kaivokatu["label"]
    assert best["lon"] == pytest.approx(kaivokatu["lon"]) and best["level"] == "doorplate"
    assert [c["score"] for c in cands] == sorted((c["score"] for c in cands), reverse=True)
    local = geocode("Brunngatan 1, Helsingfors", limit=3, store=store)
    assert [c["code"] for c in cands] == [c.code for c in local]


def test_the_index_is_built_once_per_store(client: TestClient, store: Store) -> None:
    run(client, "address-geocode", {"text": "Kaivokatu 1"})
    mine = [k for k in _CACHE if k[0] == store.url]
    assert len(mine) == 1
    index = _CACHE[mine[0]]
    for text in ("Mannerheimintie 5", "Aleksanterinkatu 2"):
        assert run(client, "address-geocode", {"text": text}).status_code == 200
        run(client, "address-reverse", {"x": 24.9412, "y": 60.1708, "radius_m": 200})
    assert [k for k in _CACHE if k[0] == store.url] == mine
    assert _CACHE[mine[0]] is index


def test_geocode_batch_reports_bad_rows_and_geocodes_the_rest(
    client: TestClient, kaivokatu: dict[str, Any]
) -> None:
    texts = ["Kaivokatu 1", "", "   ", "x" * 513, "Kaivokatu 1 😀", 42, None, "Brunngatan 1"]
    r = run(client, "address-geocode", {"texts": texts})
    assert r.status_code == 200, r.text
    out = r.json()
    rows = out["rows"]
    assert [row["row"] for row in rows] == list(range(1, len(texts) + 1))
    assert out["geocoded"] == 2 and out["failed"] == len(texts) - 2
    for i in (0, 7):
        assert rows[i]["code"] == kaivokatu["code"] and rows[i]["error"] is None
    errors = [rows[i]["error"] for i in range(1, 7)]
    assert all(rows[i]["code"] is None for i in range(1, 7))
    assert "is empty" in errors[0] and "is empty" in errors[1]
    assert "has 513 characters" in errors[2]
    assert "emoji" in errors[3]
    assert "must be a str, got int" in errors[4] and "got NoneType" in errors[5]


def test_geocode_async_job(client: TestClient) -> None:
    inputs = {"text": "Mannerheimv. 5, Helsingfors", "limit": 4}
    sync = run(client, "address-geocode", inputs).json()
    r = run(client, "address-geocode", inputs, headers={"Prefer": "respond-async"})
    assert r.status_code == 201, r.text
    assert r.headers["preference-applied"] == "respond-async"
    status = wait_for_job(client, local(r.headers["location"]))
    assert status["status"] == "successful", status
    results = next(link["href"] for link in status["links"] if link["rel"].endswith("/results"))
    assert results.startswith(BASE)
    got = client.get(local(results), params={"f": "json"})
    assert got.status_code == 200
    assert got.json() == sync
    assert sync["candidates"][0]["label"].startswith("Mannerheimintie 5")


def test_a_failed_async_job_says_why(client: TestClient) -> None:
    r = run(client, "address-geocode", {"text": "   "}, headers={"Prefer": "respond-async"})
    assert r.status_code == 201
    status = wait_for_job(client, local(r.headers["location"]))
    assert status["status"] == "failed"
    assert "is empty" in status["message"]
    # the error's own message, not pygeoapi's "InvalidParameterValue: Error executing ..."
    assert status["message"].startswith("text="), status["message"]


# -- reverse ----------------------------------------------------------------------------
def _offset(lon: float, lat: float, crs: str, south_m: float) -> tuple[float, float]:
    """A point ``south_m`` metres south of (lon, lat), in ``crs``'s axis order."""
    utm = local_metric_crs((lon, lat, lon, lat))
    (e,), (n,) = transform_coords([lon], [lat], "OGC:CRS84", utm)
    (x,), (y,) = transform_coords([e], [n - south_m], utm, crs)
    return float(x), float(y)


@pytest.mark.parametrize("crs", ["CRS84", "EPSG:4326", "EPSG:3857", "UTM"])
def test_reverse_in_every_served_crs(
    client: TestClient, kaivokatu: dict[str, Any], crs: str
) -> None:
    lon, lat = kaivokatu["lon"], kaivokatu["lat"]
    uri = {
        "CRS84": CRS84,
        "EPSG:4326": EPSG.format(4326),
        "EPSG:3857": EPSG.format(3857),
        "UTM": EPSG.format(utm_epsg(lon, lat)),
    }[crs]
    x, y = _offset(lon, lat, uri, 3.0)
    inputs: dict[str, Any] = {"crs": uri, "radius_m": 25}
    if crs == "CRS84":
        inputs["point"] = {"type": "Point", "coordinates": [x, y]}
    else:
        inputs |= {"x": x, "y": y}
    r = run(client, "address-reverse", inputs)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["code"] == kaivokatu["code"]
    assert out["building_id"] == kaivokatu["building"]
    assert out["distance"] == pytest.approx(3.0, abs=0.05)
    assert out["crs"] == uri
    assert out["url"] == f"{BASE}/collections/addresses/items/{kaivokatu['code']}"
    assert out["building_url"] == f"{BASE}/collections/buildings/items/{kaivokatu['building']}"
    item = client.get(local(out["url"]))
    assert item.status_code == 200 and item.json()["id"] == kaivokatu["code"]
    code = out["building_code"]
    assert out["building_code_url"] == f"{BASE}/collections/sub_addresses/items/{code}"


def test_reverse_answers_the_building_code(
    client: TestClient, store: Store, kaivokatu: dict[str, Any]
) -> None:
    point = {"type": "Point", "coordinates": [kaivokatu["lon"], kaivokatu["lat"]]}
    r = run(client, "address-reverse", {"point": point, "radius_m": 5})
    assert r.status_code == 200, r.text
    out = r.json()
    sub = store.read_frame("sub_addresses")
    mine = sub[(sub["level"] == "building") & (sub["doorplate_code"] == kaivokatu["code"])]
    assert len(mine) >= 2  # Kaivokatu 1 stands on two buildings
    (expected,) = mine.loc[mine["building_id"] == kaivokatu["building"], "id"]
    assert out["building_code"] == expected
    assert out["building_code_url"] == f"{BASE}/collections/sub_addresses/items/{expected}"
    assert out == {
        **reverse(
            kaivokatu["lon"], kaivokatu["lat"], radius=5, store=store, base_url=BASE
        ).to_dict(),
        "crs": CRS84,
    }
    item = client.get(local(out["building_code_url"]))
    assert item.status_code == 200, item.text
    props = item.json()["properties"]
    assert item.json()["id"] == expected
    assert props["level"] == "building"
    assert props["doorplate_code"] == props["parent_code"] == kaivokatu["code"]
    assert props["building_id"] == out["building_id"]


def test_reverse_matches_the_function(client: TestClient, store: Store) -> None:
    r = run(client, "address-reverse", {"x": 24.95, "y": 60.168, "radius_m": 500})
    assert r.status_code == 200, r.text
    local = reverse(24.95, 60.168, radius=500, store=store)
    assert r.json()["code"] == local.code and r.json()["distance"] == local.distance


# -- qr ---------------------------------------------------------------------------------
def test_qr_png_is_an_image_of_the_served_item_url(
    client: TestClient, kaivokatu: dict[str, Any]
) -> None:
    code = kaivokatu["code"]
    r = run(client, "address-qr", {"code": code})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    payload = decode(read_png(r.content))
    assert payload == f"{BASE}/collections/addresses/items/{code}"
    assert (
        client.get(payload.removeprefix(BASE)).json()["properties"]["label"] == (kaivokatu["label"])
    )


def test_qr_svg_reads_back(client: TestClient, kaivokatu: dict[str, Any]) -> None:
    code = kaivokatu["code"]
    display = parse_code(code).display()
    assert "-" in display
    r = run(client, "address-qr", {"code": display, "format": "svg"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(r.text.split("\n", 1)[1])
    n = int(root.attrib["viewBox"].split()[2])
    path = root.find("{http://www.w3.org/2000/svg}path")
    assert path is not None
    assert decode(rasterise(path.attrib["d"], 0, 0, n, quiet=0)) == item_url(code, base_url=BASE)


@pytest.fixture(scope="module")
def unit(store: Store) -> dict[str, Any]:
    """A unit (staircase) of the Helsinki twin."""
    sub = store.read_frame("sub_addresses")
    row = sub[sub["level"] == "unit"].iloc[0]
    return {"code": str(row["id"]), "label": row["label"], "parent": row["parent_code"]}


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_qr_of_a_unit_is_its_item_in_sub_addresses(
    client: TestClient, unit: dict[str, Any], fmt: str
) -> None:
    code = unit["code"]
    r = run(client, "address-qr", {"code": parse_code(code).display(), "format": fmt})
    assert r.status_code == 200, r.text
    if fmt == "png":
        assert r.headers["content-type"] == "image/png"
        payload = decode(read_png(r.content))
    else:
        assert r.headers["content-type"].startswith("image/svg+xml")
        root = ET.fromstring(r.text.split("\n", 1)[1])
        n = int(root.attrib["viewBox"].split()[2])
        path = root.find("{http://www.w3.org/2000/svg}path")
        assert path is not None
        payload = decode(rasterise(path.attrib["d"], 0, 0, n, quiet=0))
    assert payload == f"{BASE}/collections/sub_addresses/items/{code}"
    assert payload == item_url(code, base_url=BASE)
    item = client.get(local(payload))
    assert item.status_code == 200, item.text
    props = item.json()["properties"]
    assert (props["level"], props["label"], props["parent_code"]) == (
        "unit",
        unit["label"],
        unit["parent"],
    )


def test_qr_has_no_json_document_form(client: TestClient, kaivokatu: dict[str, Any]) -> None:
    body = {"inputs": {"code": kaivokatu["code"]}, "response": "document"}
    r = client.post("/processes/address-qr/execution", json=body)
    assert r.status_code == 400
    assert r.json()["description"].startswith("Error executing process")


# -- bad input --------------------------------------------------------------------------
UNKNOWN_CODE = AddressCode(HELSINKI, street=99999, doorplate=99999).code
BAD_CHECK = UNKNOWN_CODE[:-1] + ("0" if UNKNOWN_CODE[-1] != "0" else "1")

BAD: list[tuple[str, dict[str, Any], str]] = [
    # text, for parse and geocode alike
    ("address-parse", {}, "input text is required"),
    ("address-parse", {"text": ""}, "text='' is empty"),
    ("address-parse", {"text": " \t\n "}, "is empty"),
    (
        "address-parse",
        {"text": "Kaivokatu 1 " + "x" * 600},
        "has 612 characters; an address has at most 512",
    ),
    ("address-parse", {"text": "Kaivo\x00\x01\x02katu 1"}, "holds control characters"),
    ("address-parse", {"text": "\ufffd\ufffdPNG\ufffd"}, "looks like binary data"),
    ("address-parse", {"text": "Kaivokatu 1 🏠"}, "emoji"),
    ("address-parse", {"text": "Kaivokatu 1 Москва"}, "holds letters of the CYRILLIC script"),
    ("address-parse", {"text": "12-3-1001"}, "holds no letters"),
    ("address-parse", {"text": 12}, "text must be a str, got int"),
    (
        "address-parse",
        {"text": "Kaivokatu 1", "lang": "fi"},
        "inputs ['lang'] are not inputs of address-parse",
    ),
    ("address-geocode", {"text": ""}, "is empty"),
    ("address-geocode", {"text": "Kaivokatu 1 😀"}, "emoji"),
    ("address-geocode", {"text": "Kaivokatu 1 Κέντρο"}, "GREEK script"),
    ("address-geocode", {"text": "x" * 513}, "has 513 characters"),
    (
        "address-geocode",
        {"text": "Kaivokatu 1", "limit": 0},
        "limit=0 must be an integer from 1 to 100",
    ),
    ("address-geocode", {"text": "Kaivokatu 1", "limit": "5"}, "limit='5' must be an integer"),
    ("address-geocode", {"text": "Kaivokatu 1", "limit": 1000}, "limit=1000 must be"),
    ("address-geocode", {}, "give exactly one of the inputs text"),
    ("address-geocode", {"text": "a", "texts": ["b"]}, "give exactly one of the inputs text"),
    ("address-geocode", {"texts": "Kaivokatu 1"}, "input texts must be a list"),
    ("address-geocode", {"texts": []}, "input texts is an empty list"),
    ("address-geocode", {"texts": ["a"] * (MAX_BATCH + 1)}, f"a batch holds at most {MAX_BATCH}"),
    ("address-geocode", {"texts": ["a"], "limit": 3}, "input limit applies to text only"),
    # positions, CRSs and radii
    ("address-reverse", {}, "give the position as the input point"),
    ("address-reverse", {"x": 24.94}, "input y is required"),
    ("address-reverse", {"x": "24.94", "y": 60.17}, "input x='24.94' must be a number"),
    ("address-reverse", {"point": [24.94, 60.17]}, "must be a GeoJSON Point"),
    ("address-reverse", {"point": {"type": "Point", "coordinates": ["a", 1]}}, "must be numbers"),
    (
        "address-reverse",
        {"point": {"type": "Point", "coordinates": [1, 2]}, "x": 1, "y": 2},
        "not both",
    ),
    ("address-reverse", {"x": 200.0, "y": 60.17}, "outside the area of use of OGC:CRS84"),
    ("address-reverse", {"x": 24.94, "y": -95.0}, "outside the area of use"),
    (
        "address-reverse",
        {"x": 60.17, "y": 200.0, "crs": EPSG.format(4326)},
        "outside the area of use",
    ),
    ("address-reverse", {"x": 1e9, "y": 1e9, "crs": EPSG.format(3857)}, "outside the area of use"),
    (
        "address-reverse",
        {"x": 24.94, "y": 60.17, "crs": "EPSG:999999"},
        "crs='EPSG:999999' is not served",
    ),
    (
        "address-reverse",
        {"x": 24.94, "y": 60.17, "crs": "EPSG:3067"},
        "crs='EPSG:3067' is not served; choose one of",
    ),
    ("address-reverse", {"x": 24.94, "y": 60.17, "crs": "not a crs"}, "is not served"),
    (
        "address-reverse",
        {"x": 24.94, "y": 60.17, "radius_m": 0},
        "radius=0.0 must be greater than 0",
    ),
    (
        "address-reverse",
        {"x": 24.94, "y": 60.17, "radius_m": -5},
        "radius=-5.0 must be greater than 0",
    ),
    ("address-reverse", {"x": 24.94, "y": 60.17, "radius_m": 1e9}, "at most 5000 metres"),
    (
        "address-reverse",
        {"x": 24.94, "y": 60.17, "radius_m": "50"},
        "input radius_m='50' must be a number",
    ),
    ("address-reverse", {"x": 24.94, "y": 60.17, "radius": 5}, "inputs ['radius'] are not inputs"),
    # codes
    ("address-qr", {}, "input code is required"),
    ("address-qr", {"code": BAD_CHECK}, "fails its check character"),
    ("address-qr", {"code": AddressCode(HELSINKI).code}, "names a division only"),
    ("address-qr", {"code": "Kaivokatu 1"}, "is not a standard address code"),
    ("address-qr", {"code": 246091}, "input code=246091 must be a string"),
    (
        "address-qr",
        {"code": UNKNOWN_CODE, "format": "gif"},
        "input format='gif' is not one of ['png', 'svg']",
    ),
]

# well-formed requests for something that is not there: 404, with the problem named
NOT_FOUND: list[tuple[str, dict[str, Any], str]] = [
    ("address-reverse", {"x": 24.90, "y": 60.10, "radius_m": 10}, "nothing within 10 m of"),
    ("address-qr", {"code": UNKNOWN_CODE}, "no standard address of this twin has it"),
    (
        "address-qr",
        {"code": AddressCode(HELSINKI, street=99999, doorplate=1, building=1, unit=9).code},
        "no standard address of this twin has it",
    ),
]


CASES = [(*case, 400) for case in BAD] + [(*case, 404) for case in NOT_FOUND]


@pytest.mark.parametrize(
    ("process", "inputs", "message", "status"),
    CASES,
    ids=[f"{p}-{i}-{st}" for i, (p, _, _, st) in enumerate(CASES)],
)
def test_bad_input_is_a_client_error_naming_the_problem(
    client: TestClient, process: str, inputs: dict[str, Any], message: str, status: int
) -> None:
    r = run(client, process, inputs)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert message in r.json()["description"]
    assert ".gpkg" not in r.json()["description"]  # the server's files are not named
    assert r.json()["code"] == ("NotFound" if status == 404 else "InvalidParameterValue")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\x89PNG\r\n\x1a\n\x00\xff",
        b'{"inputs": {"text": "\xff\xfe"}}',
        b"[1, 2]",
        b'{"inputs": 5}',
    ],
)
def test_a_body_that_is_not_an_execute_request_is_a_400(client: TestClient, body: bytes) -> None:
    for process in ("address-parse", "address-geocode", "address-reverse", "address-qr"):
        r = client.post(f"/processes/{process}/execution", content=body)
        assert r.status_code == 400, (process, r.text)
        assert "inputs" in r.json()["description"]


def test_mixed_chinese_and_latin_is_read_as_chinese(client: TestClient) -> None:
    r = run(client, "address-geocode", {"text": "杭州市文三路90号B座"})
    assert r.status_code == 200, r.text
    assert r.json()["candidates"] == []
