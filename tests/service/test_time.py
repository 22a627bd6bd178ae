"""datetime as the city at an instant or the versions in an interval; item history."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.service.conftest import N_BUILDINGS


def _heights(client: TestClient, query: str) -> dict[str, list[float]]:
    doc = client.get(f"/collections/buildings/items?limit=1000&{query}").json()
    out: dict[str, list[float]] = {}
    for f in doc["features"]:
        out.setdefault(f["id"], []).append(f["properties"]["height"])
    return out


def test_instant_is_the_city_then(client: TestClient) -> None:
    then = _heights(client, "datetime=2021-01-01T00:00:00Z")
    assert then["b00"] == [6.0]
    assert "b29" in then  # retired later
    assert len(then) == N_BUILDINGS
    now = _heights(client, "")
    assert now["b00"] == [50.0]
    assert "b29" not in now


def test_before_the_first_version_is_empty(client: TestClient) -> None:
    doc = client.get("/collections/buildings/items?datetime=1999-01-01").json()
    assert doc["numberMatched"] == 0
    assert doc["features"] == []


def test_interval_returns_overlapping_versions(client: TestClient) -> None:
    both = _heights(client, "datetime=2021-01-01T00:00:00Z/..")
    assert sorted(both["b00"]) == [6.0, 50.0]
    after = _heights(client, "datetime=2023-01-01T00:00:00Z/2024-01-01T00:00:00Z")
    assert after["b00"] == [50.0]
    assert "b29" not in after


def test_datetime_is_kept_in_paging_links(client: TestClient) -> None:
    doc = client.get("/collections/buildings/items?limit=5&datetime=2021-01-01T00:00:00Z").json()
    nxt = next(link["href"] for link in doc["links"] if link["rel"] == "next")
    assert "datetime=2021-01-01T00%3A00%3A00Z" in nxt


def test_bad_interval_is_400(client: TestClient) -> None:
    r = client.get("/collections/buildings/items?datetime=2024-01-01/2020-01-01")
    assert r.status_code == 400
    assert "precedes its start" in r.json()["description"]


def test_history_lists_every_version(client: TestClient) -> None:
    r = client.get("/collections/buildings/items/b01/history")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/geo+json"
    feats = r.json()["features"]
    assert [f["properties"]["version"] for f in feats] == [1, 2]
    assert [f["properties"]["height"] for f in feats] == [7.0, 51.0]
    assert feats[0]["properties"]["valid_to"] == feats[1]["properties"]["valid_from"]
    assert feats[1]["properties"]["valid_to"] is None


def test_history_of_a_retired_feature(client: TestClient) -> None:
    feats = client.get("/collections/buildings/items/b29/history").json()["features"]
    assert len(feats) == 1
    assert feats[0]["properties"]["valid_to"] == "2022-06-01T00:00:00.000Z"


def test_history_of_unknown_feature_is_404(client: TestClient) -> None:
    assert client.get("/collections/buildings/items/zz/history").status_code == 404


def test_datetime_beyond_the_utc_calendar_is_400(client: TestClient) -> None:
    # legal RFC 3339 text whose UTC instant falls before year 1 or after year 9999
    for value in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00/.."):
        r = client.get("/collections/buildings/items", params={"datetime": value})
        assert r.status_code == 400, r.text
        start = value.split("/")[0]
        assert f"datetime={start!r} is out of range" in r.json()["description"]
    ok = client.get("/collections/buildings/items?datetime=0001-01-01T00:00:00-14:00")
    assert ok.status_code == 200
