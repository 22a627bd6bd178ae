"""Writes to cases and permits through the service: who is recorded, what is refused."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from change_detection.cases import dismissed_report
from change_detection.store_io import ensure_collections
from tests.service.conftest import EDITOR, settings_for
from twin.service import create_app
from twin.service.features import actor_of
from twin.store import Store

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

BASE = "http://127.0.0.1:5000"
CASES = "/collections/illegal_building_cases/items"
SQUARE = {
    "type": "Polygon",
    "coordinates": [
        [[24.95, 60.17], [24.951, 60.17], [24.951, 60.1705], [24.95, 60.1705], [24.95, 60.17]]
    ],
}
KEY = actor_of(EDITOR["X-API-Key"])


@pytest.fixture
def served(store: Store, tmp_path: Path) -> Iterator[tuple[TestClient, Store]]:
    """An empty twin of each backend with the package's collections, served."""
    ensure_collections(store)
    with TestClient(create_app(store, settings=settings_for(tmp_path)), base_url=BASE) as c:
        yield c, store


def _post_case(client: TestClient, cid: str, **props: Any) -> str:
    body = {
        "type": "Feature",
        "id": cid,
        "geometry": SQUARE,
        "properties": {"status": "new", "area_m2": 50, **props},
    }
    r = client.post(CASES, json=body, headers=EDITOR)
    assert r.status_code == 201, r.text
    return f"{CASES}/{cid}"


def _steps(store: Store, cid: str) -> list[tuple[str, str]]:
    return [
        (fv.properties["status"], fv.properties.get("updated_by"))
        for fv in store.history("illegal_building_cases", cid)
    ]


def test_the_named_analyst_is_kept_on_every_patch(served: tuple[TestClient, Store]) -> None:
    client, store = served
    url = _post_case(client, "UB-1")
    review = {"status": "under_review", "updated_by": "anna"}
    assert client.patch(url, json={"properties": review}, headers=EDITOR).status_code == 204
    dismiss = {"status": "dismissed", "updated_by": "anna", "note": "carport, exempt"}
    assert client.patch(url, json={"properties": dismiss}, headers=EDITOR).status_code == 204
    assert _steps(store, "UB-1") == [("new", KEY), ("under_review", "anna"), ("dismissed", "anna")]
    assert dismissed_report(store)[0]["dismissed_by"] == "anna"
    # a step that names nobody is the key's, not the analyst's of the step before
    r = client.patch(url, json={"properties": {"status": "under_review"}}, headers=EDITOR)
    assert r.status_code == 204, r.text
    assert _steps(store, "UB-1")[-1] == ("under_review", KEY)


def test_the_named_analyst_is_kept_on_every_put(served: tuple[TestClient, Store]) -> None:
    client, store = served
    url = _post_case(client, "UB-2", updated_by="anna")
    props = {"status": "under_review", "area_m2": 50, "case_id": "UB-2", "updated_by": "anna"}
    body = {"type": "Feature", "id": "UB-2", "geometry": SQUARE, "properties": props}
    assert client.put(url, json=body, headers=EDITOR).status_code == 204
    assert _steps(store, "UB-2") == [("new", "anna"), ("under_review", "anna")]
    # a PUT without a name records the key
    props = {k: v for k, v in props.items() if k != "updated_by"}
    props |= {"status": "dismissed", "note": "a shed"}
    r = client.put(url, json={**body, "properties": props}, headers=EDITOR)
    assert r.status_code == 204, r.text
    assert _steps(store, "UB-2")[-1] == ("dismissed", KEY)
    # the key's digest, read and sent back, names nobody: the step is the caller's
    props = {**props, "status": "under_review", "updated_by": KEY, "note": None}
    r = client.put(url, json={**body, "properties": props}, headers=EDITOR)
    assert r.status_code == 204, r.text
    assert _steps(store, "UB-2")[-1] == ("under_review", KEY)


def test_a_case_cannot_be_deleted(served: tuple[TestClient, Store]) -> None:
    client, store = served
    url = _post_case(client, "UB-3")
    r = client.delete(url, headers=EDITOR)
    assert r.status_code == 409, r.text
    assert "case 'UB-3' cannot be deleted" in r.json()["description"]
    assert "'new' now" in r.json()["description"]
    for body in (
        {"status": "under_review", "updated_by": "anna"},
        {"status": "dismissed", "updated_by": "anna", "note": "carport, exempt"},
    ):
        assert client.patch(url, json={"properties": body}, headers=EDITOR).status_code == 204
    for headers in (EDITOR, {**EDITOR, "If-Match": "*"}):
        r = client.delete(url, headers=headers)
        assert r.status_code == 409, r.text
        assert "PATCH status to 'dismissed'" in r.json()["description"]
    assert len(store.history("illegal_building_cases", "UB-3")) == 3
    dismissed = client.get(CASES, params={"status": "dismissed", "f": "json"}).json()
    assert [f["id"] for f in dismissed["features"]] == ["UB-3"]
    assert [d["case_id"] for d in dismissed_report(store)] == ["UB-3"]


# -- permits -----------------------------------------------------------------------------
PERMITS = "/collections/permits/items"
GOOD = {"permit_no": "P-1", "valid_start": "2022-01-01", "valid_end": "2024-01-01"}


def _permit(geometry: Any = SQUARE, **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "id": "P-1", "geometry": geometry, "properties": props}


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (
            _permit(**{**GOOD, "valid_start": "2024-01-01", "valid_end": "2022-01-01"}),
            "permit 'P-1' has valid_end 2022-01-01 before valid_start 2024-01-01",
        ),
        (_permit(valid_start="2022-01-01"), "permit 'P-1' has no permit_no"),
        (_permit(**{**GOOD, "permit_no": "  "}), "permit 'P-1' has no permit_no"),
        (_permit(None, **GOOD), "permit 'P-1' has no area"),
        (_permit({"type": "Polygon", "coordinates": []}, **GOOD), "permit 'P-1' has no area"),
    ],
)
def test_a_bad_permit_is_refused(
    served: tuple[TestClient, Store], body: dict[str, Any], words: str
) -> None:
    client, store = served
    r = client.post(PERMITS, json=body, headers=EDITOR)
    assert r.status_code == 400, r.text
    assert words in r.json()["description"]
    assert store.count("permits") == 0


def test_a_write_that_makes_a_permit_bad_is_refused(served: tuple[TestClient, Store]) -> None:
    client, store = served
    # the same day, whatever the times of day, is a permit of one day
    body = _permit(**{**GOOD, "valid_start": "2022-01-01T12:00:00Z", "valid_end": "2022-01-01"})
    assert client.post(PERMITS, json=body, headers=EDITOR).status_code == 201
    url = f"{PERMITS}/P-1"
    for change, words in (
        ({"valid_end": "2021-12-31T23:00:00Z"}, "valid_end 2021-12-31 before valid_start"),
        ({"valid_start": "2022-01-02"}, "valid_end 2022-01-01 before valid_start 2022-01-02"),
        ({"permit_no": None}, "has no permit_no"),
    ):
        r = client.patch(url, json={"properties": change}, headers=EDITOR)
        assert r.status_code == 400, r.text
        assert words in r.json()["description"]
    r = client.put(url, json=_permit(**{**GOOD, "valid_end": "2020-01-01"}), headers=EDITOR)
    assert r.status_code == 400 and "before valid_start" in r.json()["description"]
    assert len(store.history("permits", "P-1")) == 1
    # a sound change goes through; the number is kept without its blanks
    r = client.patch(url, json={"properties": {"valid_end": "2025-01-01"}}, headers=EDITOR)
    assert r.status_code == 204, r.text
    r = client.put(url, json=_permit(**{**GOOD, "permit_no": " P-1 "}), headers=EDITOR)
    assert r.status_code == 204, r.text
    assert store.get("permits", "P-1").properties["permit_no"] == "P-1"
