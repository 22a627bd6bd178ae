"""The import issues of the restricted pipelines are served only to a key, whatever the way.

An issue gives the object's OSM id, a point on it and what is wrong with it: served to
anyone, it would give away the restricted layer through items, vector tiles and the
features-in-polygon process.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import mapbox_vector_tile
import morecantile
import pytest

from layers.plugin import plugin as layers_plugin
from tests.layers.test_restricted_issues import HIDDEN, PUBLIC, issues_extract
from tests.service.conftest import READER, settings_for
from twin.build import build_twin
from twin.service import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

#: A square around the extract's objects.
AREA = [[[24.935, 60.165], [24.945, 60.165], [24.945, 60.175], [24.935, 60.175], [24.935, 60.165]]]


@pytest.fixture(scope="module")
def issues_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("issues")
    db = str(folder / "twin.gpkg")
    build_twin(issues_extract(folder / "a.osm"), db, plugins=[layers_plugin])
    app = create_app(db, settings=settings_for(folder))
    with TestClient(app, base_url="http://127.0.0.1:5000") as c:
        yield c


def test_items_only_with_a_key(issues_client: TestClient) -> None:
    c = issues_client
    assert c.get("/collections/pipelines/items").status_code == 401
    public = c.get(f"/collections/{PUBLIC}/items", params={"limit": 100}).json()
    assert [f["properties"]["layer"] for f in public["features"]] == ["buildings"]
    leak = c.get(f"/collections/{PUBLIC}/items", params={"layer": "pipelines"}).json()
    assert leak["numberMatched"] == 0 and leak["features"] == []
    assert c.get(f"/collections/{HIDDEN}/items").status_code == 401
    assert HIDDEN not in {x["id"] for x in c.get("/collections").json()["collections"]}
    hidden = c.get(f"/collections/{HIDDEN}/items", headers=READER)
    assert hidden.status_code == 200
    assert [f["id"] for f in hidden.json()["features"]] == ["w8:pipelines"]


def test_vector_tiles_only_with_a_key(issues_client: TestClient) -> None:
    c = issues_client
    t = morecantile.tms.get("WebMercatorQuad").tile(24.9401, 60.1690, 14)
    path = f"WebMercatorQuad/{t.z}/{t.y}/{t.x}"
    r = c.get(f"/collections/{PUBLIC}/tiles/{path}")
    assert r.status_code == 200
    feats = [f for v in mapbox_vector_tile.decode(r.content).values() for f in v["features"]]
    assert [f["properties"]["layer"] for f in feats] == ["buildings"]
    assert c.get(f"/collections/{HIDDEN}/tiles/{path}").status_code == 401
    hidden = c.get(f"/collections/{HIDDEN}/tiles/{path}", headers=READER)
    assert hidden.status_code == 200
    feats = [f for v in mapbox_vector_tile.decode(hidden.content).values() for f in v["features"]]
    assert [f["properties"]["layer"] for f in feats] == ["pipelines"]


def test_features_in_polygon_only_with_a_key(issues_client: TestClient) -> None:
    c = issues_client
    url = "/processes/features-in-polygon/execution"
    polygon = {"type": "Polygon", "coordinates": AREA}
    out = c.post(url, json={"inputs": {"polygon": polygon}}).json()
    assert HIDDEN not in out and "pipelines" not in out
    assert [f["properties"]["layer"] for f in out[PUBLIC]["features"]] == ["buildings"]
    named = {"inputs": {"polygon": polygon, "collections": [HIDDEN]}}
    assert c.post(url, json=named).status_code == 401
    keyed = c.post(url, json=named, headers=READER).json()
    assert [f["id"] for f in keyed[HIDDEN]["features"]] == ["w8:pipelines"]
