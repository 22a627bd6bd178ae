"""Shared fixtures: stores on both backends, the shared data folder, the default city."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from twin.store import Store, open_store

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
HELSINKI = ROOT / "data" / "helsinki.osm.pbf"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; tests that take it skip where it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"shared data not found at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """URL of a PostgreSQL + PostGIS server: TWIN_TEST_PG_URL, or a throwaway cluster.

    Where it cannot be had the PostGIS tests skip, except under TWIN_REQUIRE_POSTGIS=1
    (CI), where that is an error.
    """
    url = os.environ.get("TWIN_TEST_PG_URL")
    if url:
        yield url
        return
    from twin.testing.pg import PgCluster, find_pg_bindir

    bindir = find_pg_bindir()
    if bindir is None:
        _no_postgis("PostgreSQL is not installed (no initdb found)")
    cluster = PgCluster(bindir)
    try:
        cluster.start()
    except Exception as exc:
        cluster.stop()
        _no_postgis(f"could not start a PostgreSQL cluster: {exc}")
    try:
        import sqlalchemy as sa

        eng = sa.create_engine(cluster.url.replace("postgresql://", "postgresql+psycopg://"))
        try:
            with eng.begin() as conn:
                conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
        except Exception as exc:
            cluster.stop()
            _no_postgis(f"PostGIS is not installed in this PostgreSQL: {exc}")
        finally:
            eng.dispose()
        yield cluster.url
    finally:
        cluster.stop()


def _no_postgis(reason: str) -> None:
    if os.environ.get("TWIN_REQUIRE_POSTGIS") == "1":
        pytest.fail(f"TWIN_REQUIRE_POSTGIS=1 but {reason}")
    pytest.skip(reason)


def _pg_schema_url(server: str) -> str:
    import sqlalchemy as sa

    schema = "t_" + uuid.uuid4().hex[:12]
    eng = sa.create_engine(server.replace("postgresql://", "postgresql+psycopg://"))
    with eng.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    eng.dispose()
    sep = "&" if "?" in server else "?"
    return f"{server}{sep}options=-csearch_path%3D{schema},public"


@pytest.fixture
def pg_url(pg_server: str) -> str:
    """A PostgreSQL URL whose search_path is a fresh, empty schema."""
    return _pg_schema_url(pg_server)


@pytest.fixture(params=["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty store on each backend."""
    if request.param == "gpkg":
        return str(tmp_path / "twin.gpkg")
    return _pg_schema_url(request.getfixturevalue("pg_server"))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An empty store on each backend."""
    s = open_store(store_url)
    yield s
    s.close()


@pytest.fixture(scope="session")
def helsinki_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Helsinki twin built once from the shipped extract (every plugin), read-only.

    A test that writes copies the file first.
    """
    from twin.build import build_twin

    db = tmp_path_factory.mktemp("helsinki-twin") / "helsinki.gpkg"
    build_twin(HELSINKI, str(db))
    return db
