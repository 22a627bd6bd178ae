"""The embedded Helsinki twin, built from the shipped extract and served, read with GDAL.

This is what a GIS analyst sees on adding the service URL in QGIS: every layer, each
declaring an extent inside central Helsinki, with all its features readable.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.service.conftest import HELSINKI_BOX, LiveServer

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def helsinki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    folder = tmp_path_factory.mktemp("helsinki")
    db = str(folder / "helsinki.gpkg")
    code = "from twin.cli import main; main()"
    subprocess.run(
        [sys.executable, "-c", code, "build", "--db", db, "--no-progress"],
        check=True,
        capture_output=True,
        cwd=ROOT,
        timeout=600,
    )
    with LiveServer(db, folder) as srv:
        yield srv.url, db


def test_every_layer_declares_a_helsinki_extent(helsinki: tuple[str, str]) -> None:
    from twin.store import open_store

    url, db = helsinki
    with open_store(db, create=False) as store:
        public = {s.name for s in store.collections() if not s.restricted}
        restricted = {s.name for s in store.collections() if s.restricted}
    assert "buildings" in public and "pipelines" in restricted
    cols = httpx.get(f"{url}/collections").json()["collections"]
    assert {c["id"] for c in cols} == public
    x0, y0, x1, y1 = HELSINKI_BOX
    for c in cols:
        ((bx0, by0, bx1, by1),) = c["extent"]["spatial"]["bbox"]
        assert x0 <= bx0 <= bx1 <= x1 and y0 <= by0 <= by1 <= y1, c["id"]


def test_gdal_reads_the_layers(helsinki: tuple[str, str]) -> None:
    import pyogrio

    from twin.store import open_store

    url, db = helsinki
    layers = {name for name, _ in pyogrio.list_layers(f"OAPIF:{url}")}
    with open_store(db, create=False) as store:
        for name in ("buildings", "roads", "traffic_signals"):
            assert name in layers
            df = pyogrio.read_dataframe(f"OAPIF:{url}", layer=name)
            assert len(df) == store.count(name) > 0
            x0, y0, x1, y1 = df.total_bounds
            assert HELSINKI_BOX[0] <= x0 and x1 <= HELSINKI_BOX[2]
            assert HELSINKI_BOX[1] <= y0 and y1 <= HELSINKI_BOX[3]


_QGIS_SCRIPT = """
import os, sys, json
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from qgis.core import QgsApplication, QgsVectorLayer
app = QgsApplication([], False)
app.initQgis()
out = {}
for name in sys.argv[2:]:
    layer = QgsVectorLayer(f"url='{sys.argv[1]}' typename='{name}'", name, "OAPIF")
    if not layer.isValid():
        out[name] = None
        continue
    e = layer.extent()
    out[name] = {
        "count": layer.featureCount(),
        "read": sum(1 for _ in layer.getFeatures()),
        "crs": layer.crs().authid(),
        "extent": [e.xMinimum(), e.yMinimum(), e.xMaximum(), e.yMaximum()],
    }
app.exitQgis()
print(json.dumps(out))
"""


def _system_python_with_qgis() -> str | None:
    for exe in ("/usr/bin/python3",):
        if Path(exe).exists():
            probe = subprocess.run(
                [exe, "-c", "import qgis.core"], capture_output=True, check=False, timeout=60
            )
            if probe.returncode == 0:
                return exe
    return None


def test_qgis_opens_the_layers(helsinki: tuple[str, str]) -> None:
    """QGIS's own OGC API - Features provider (PyQGIS, headless) loads the Helsinki layers
    as an analyst's 'Add WFS / OGC API - Features layer' does; the restricted pipelines
    stay closed to it without a key."""
    exe = _system_python_with_qgis()
    if exe is None:
        pytest.skip("QGIS is not installed (apt-get install python3-qgis qgis-providers)")
    from twin.store import open_store

    url, db = helsinki
    names = ["buildings", "roads", "traffic_signals", "addresses", "pipelines"]
    proc = subprocess.run(
        [exe, "-c", _QGIS_SCRIPT, url, *names],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen["pipelines"] is None
    with open_store(db, create=False) as store:
        for name in names[:-1]:
            layer = seen[name]
            assert layer is not None, name
            assert layer["count"] == layer["read"] == store.count(name) > 0, name
            assert layer["crs"] == "EPSG:4326"
            x0, y0, x1, y1 = layer["extent"]
            assert HELSINKI_BOX[0] <= x0 < x1 <= HELSINKI_BOX[2], name
            assert HELSINKI_BOX[1] <= y0 < y1 <= HELSINKI_BOX[3], name
