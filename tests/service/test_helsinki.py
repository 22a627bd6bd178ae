"""The embedded Helsinki twin, built from the shipped extract and served, read with GDAL.

This is what a GIS analyst sees on adding the service URL in QGIS: every layer, each
declaring an extent inside central Helsinki, with all its features readable.
"""

from __future__ import annotations

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
