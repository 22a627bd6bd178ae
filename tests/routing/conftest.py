"""Fixtures of the routing tests: Helsinki graphs and tiny OSM extracts written in the test."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from routing.graph import RoadGraph
from tests.routing.osm_helpers import write_osm

ROOT = Path(__file__).resolve().parents[2]
HELSINKI = ROOT / "data" / "helsinki.osm.pbf"
SHARED = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def helsinki_car() -> RoadGraph:
    return RoadGraph.from_osm(HELSINKI, profile="car")


@pytest.fixture(scope="session")
def helsinki_ev() -> RoadGraph:
    return RoadGraph.from_osm(HELSINKI, profile="emergency")


@pytest.fixture
def osm_file(tmp_path: Path) -> Callable[..., Path]:
    """Write a tiny extract into the test's folder and return its path."""

    def make(ways: Sequence[Any], **kw: object) -> Path:
        return write_osm(tmp_path / "tiny.osm", ways, **kw)  # type: ignore[arg-type]

    return make
