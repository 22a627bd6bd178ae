"""Small rasters made in the tests, and the shared change data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.change_detection.cd_helpers import texture, write_tif

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
HELSINKI = Path(__file__).resolve().parents[2] / "data" / "helsinki.osm.pbf"


@pytest.fixture(scope="session")
def change_data() -> Path:
    """``../shared/data/change``; tests that take it skip where it is absent."""
    path = SHARED / "change"
    if not path.is_dir():
        pytest.skip(f"shared change data not found at {path}")
    return path


@pytest.fixture
def tif() -> Callable[..., Path]:
    """The :func:`write_tif` helper."""
    return write_tif


@pytest.fixture
def square_pair(tmp_path: Path) -> tuple[Path, Path, tuple[slice, slice]]:
    """Two GeoTIFFs of one texture; the later one has a bright 30x40 px roof."""
    before = texture((160, 200), seed=1)
    after = before.copy()
    roof = (slice(60, 90), slice(80, 120))
    after[:, roof[0], roof[1]] = 235.0
    return (
        write_tif(tmp_path / "before.tif", before),
        write_tif(tmp_path / "after.tif", after),
        roof,
    )
