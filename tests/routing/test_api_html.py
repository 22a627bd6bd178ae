"""The HTML views of the kept routes: what a dispatcher sees in a browser."""

from __future__ import annotations

import html
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.service.conftest import settings_for
from twin.service.app import create_app

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

A, B = [24.9384, 60.1699], [24.9449, 60.1660]
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.fixture(scope="module")
def client(helsinki_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("routes-html")
    db = folder / "twin.gpkg"
    shutil.copy(helsinki_db, db)
    app = create_app(str(db), settings=settings_for(folder))
    with TestClient(app, base_url="http://127.0.0.1:5000") as c:
        yield c


@pytest.fixture(scope="module")
def kept(client: TestClient) -> dict[str, Any]:
    body = {
        "inputs": {
            "waypoints": {"value": {"type": "MultiPoint", "coordinates": [A, B]}},
            "when": {"timestamp": "2026-12-01T08:00:00Z", "type": "departure"},
            "name": "engine <3> & co",
        }
    }
    r = client.post("/routes", json=body)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _cells(page: str, row_class: str | None = None) -> list[list[str]]:
    """The cells of the table rows (all, or those of a class), their text unescaped."""
    out = []
    for cls, row in re.findall(r'<tr(?: class="([^"]*)")?>(.*?)</tr>', page):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
        if cells and (row_class is None or cls == row_class):
            out.append([html.unescape(c) for c in cells])
    return out


def test_a_route_page_shows_the_steps_the_plan_and_a_map(
    client: TestClient, kept: dict[str, Any]
) -> None:
    r = client.get(f"/routes/{kept['id']}", params={"f": "html"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    segs = [
        f["properties"] for f in kept["features"] if f["properties"]["featureType"] == "segment"
    ]
    # every step, in order, with its length and time as the JSON has them
    steps = [row for row in _cells(page) if len(row) == 4]
    assert [row[1] for row in steps] == [s["instructions"] for s in segs]
    assert [float(row[3]) for row in steps] == [s["duration_s"] for s in segs]
    # the turn against a restriction is marked
    marked = _cells(page, "restricted")
    assert [row[1] for row in marked] == [s["instructions"] for s in segs if s["restriction"]]
    assert len(marked) == 1 and "against the only_straight_on restriction" in marked[0][1]
    assert "1 turn(s) against a turn restriction" in page
    # one row per signal of the plan, with its window
    plan = kept["signalPlan"]
    signal_rows = [row for row in _cells(page) if len(row) == 6]
    assert [row[0] for row in signal_rows] == [str(s["junction_id"]) for s in plan["signals"]]
    assert [row[3] for row in signal_rows] == [s["window"]["start"][11:19] for s in plan["signals"]]
    assert [row[2] for row in signal_rows] == [
        f"{s['eta'][11:19]} (+{s['eta_s']:,.1f} s)" for s in plan["signals"]
    ]
    assert [row[5] for row in signal_rows] == [f"{s['queue_vehicles']:,}" for s in plan["signals"]]
    assert "departure 2026-12-01 08:00:00 UTC+0000" in page
    assert f"{plan['eta_preemption_s']:,.1f} s with the green wave" in page
    # the map: a deck.gl page in an iframe, with the signals and the restricted turn on it
    frame = html.unescape(re.search(r'srcdoc="([^"]*)"', page).group(1))  # type: ignore[union-attr]
    assert "deck" in frame and str(plan["signals"][0]["junction_id"]) in frame
    assert "against the only_straight_on restriction" in frame
    # the name is text, never markup
    assert "engine &lt;3&gt; &amp; co" in page and "<3>" not in page
    assert "<3>" not in frame


def test_the_route_list_links_each_kept_route(client: TestClient, kept: dict[str, Any]) -> None:
    r = client.get("/routes", headers=BROWSER)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert f'href="http://127.0.0.1:5000/routes/{kept["id"]}?f=html"' in r.text
    assert "engine &lt;3&gt; &amp; co</a>" in r.text
    row = next(row for row in _cells(r.text) if kept["id"] in row[0])
    assert row[1] == "emergency" and row[2] == "2026-12-01 08:00:00 UTC+0000"


def test_json_stays_the_default_and_formats_are_checked(
    client: TestClient, kept: dict[str, Any]
) -> None:
    url = f"/routes/{kept['id']}"
    assert client.get(url).json()["id"] == kept["id"]  # no Accept: JSON
    assert client.get(url, headers=BROWSER, params={"f": "json"}).json()["id"] == kept["id"]
    assert client.get(url, headers=BROWSER).headers["content-type"].startswith("text/html")
    assert "links" in client.get("/routes").json()
    for path in ("/routes", url):
        r = client.get(path, params={"f": "xml"})
        assert r.status_code == 400
        assert "f='xml' is not a format of the routes endpoint" in r.json()["description"]
        r = client.get(path, params={"limit": "5"})
        assert r.status_code == 400 and "'limit' is not known" in r.json()["description"]
        r = client.get(f"{path}?f=html&f=json")
        assert r.status_code == 400 and "given 2 times" in r.json()["description"]
    r = client.get("/routes/nosuchroute", params={"f": "html"})
    assert r.status_code == 404 and "is not known" in r.json()["description"]
