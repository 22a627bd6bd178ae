"""The production backend: PostgreSQL + PostGIS through SQLAlchemy and GeoAlchemy2.

Tables are declared with GeoAlchemy2's ``Geometry`` type (SRID 4326, lon/lat order as
PostGIS keeps it). Current tables carry a GiST index on the geometry; history tables a
GiST index over (geometry, valid-time range), so as-of reads with a bbox use one index.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

import shapely
import sqlalchemy as sa
from geoalchemy2 import Geometry
from shapely.geometry.base import BaseGeometry
from sqlalchemy.dialects.postgresql import JSONB

from twin.errors import StoreError
from twin.store._compile import SqlBuilder
from twin.store._sql import SqlStore
from twin.store.base import CollectionSpec, FieldType
from twin.store.filters import SpatialOp
from twin.store.open import shown_url
from twin.temporal import Instant, Interval, TimeSpec, format_time, parse_datetime

__all__ = ["PostgisStore"]

log = logging.getLogger(__name__)

_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)")
_SA_TYPE: dict[FieldType, Any] = {
    FieldType.STRING: sa.Text,
    FieldType.INTEGER: sa.BigInteger,
    FieldType.NUMBER: sa.Float(precision=53),
    FieldType.BOOLEAN: sa.Boolean,
    FieldType.DATETIME: sa.DateTime(timezone=True),
    FieldType.JSON: JSONB,
}
_PG_OP = {
    SpatialOp.INTERSECTS: "ST_Intersects",
    SpatialOp.DISJOINT: "ST_Disjoint",
    SpatialOp.CONTAINS: "ST_Contains",
    SpatialOp.WITHIN: "ST_Within",
    SpatialOp.TOUCHES: "ST_Touches",
    SpatialOp.CROSSES: "ST_Crosses",
    SpatialOp.OVERLAPS: "ST_Overlaps",
    SpatialOp.EQUALS: "ST_Equals",
}

_BASE_DDL = [
    "CREATE EXTENSION IF NOT EXISTS postgis",
    "CREATE TABLE IF NOT EXISTS twin_collections (name TEXT PRIMARY KEY, spec TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS twin_changelog (seq BIGINT PRIMARY KEY, collection TEXT NOT "
    "NULL, feature_id TEXT NOT NULL, version INTEGER NOT NULL, op TEXT NOT NULL, "
    "at TIMESTAMPTZ NOT NULL, recorded_at TIMESTAMPTZ NOT NULL, actor TEXT NOT NULL, "
    "content_hash TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS twin_changelog_feature ON twin_changelog (collection, feature_id)",
]


@lru_cache(maxsize=512)
def _pyformat(sql: str) -> str:
    """``:name`` parameters -> psycopg's ``%(name)s`` (and literal ``%`` doubled)."""
    return _PARAM.sub(r"%(\1)s", sql.replace("%", "%%"))


class PostgisStore(SqlStore):
    """A twin store in a PostgreSQL + PostGIS database.

    Parameters
    ----------
    url
        ``postgresql://user:pass@host:port/db``; tables go to the connection's
        ``search_path`` (set it with ``?options=-csearch_path%3Dmyschema,public``).
    create
        Create the twin's base tables when they are missing.
    """

    db_errors = (sa.exc.SQLAlchemyError,)

    def __init__(self, url: str, *, create: bool = True) -> None:
        super().__init__()
        #: The URL without its password (what messages and logs show).
        self.url = shown_url(url)
        sa_url = re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql+psycopg://", url)
        try:
            self._engine = sa.create_engine(sa_url, pool_size=8, max_overflow=8, pool_pre_ping=True)
        except (ValueError, sa.exc.ArgumentError) as exc:
            # the parser's own message may quote any part of the URL, the password too
            reason = "its port is not a number" if "int()" in str(exc) else "it cannot be parsed"
            shown = re.sub(r"://[^/]*@", "://***@", url)
            msg = (
                f"db={shown!r} is not a valid PostgreSQL URL: {reason}; expected "
                "postgresql://user:password@host:port/database"
            )
            raise StoreError(msg) from None
        self._lock = threading.Lock()
        try:
            with self._engine.begin() as conn:
                have = conn.exec_driver_sql(
                    "SELECT to_regclass('twin_changelog') IS NOT NULL"
                ).scalar()
                if not have:
                    if not create:
                        msg = f"db={shown_url(url)!r} holds no twin; run 'twin build' first"
                        raise StoreError(msg)
                    for stmt in _BASE_DDL:
                        conn.exec_driver_sql(stmt)
        except sa.exc.OperationalError as exc:
            msg = (
                f"db={shown_url(url)!r} cannot be reached: {str(exc.orig).strip().splitlines()[0]}"
            )
            raise StoreError(msg) from None

    # ------------------------------------------------------------------ connection
    def _conn(self) -> sa.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = self._engine.connect()
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        self._engine.dispose()
        self._local = threading.local()

    def _run(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        conn = self._conn()
        try:
            res = conn.exec_driver_sql(_pyformat(sql), params or {})
            rows = [tuple(r) for r in res] if res.returns_rows else []
        except BaseException:
            if self._depth == 0:
                conn.rollback()
            raise
        if self._depth == 0:
            conn.commit()
        return rows

    def _runmany(self, sql: str, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            self._conn().exec_driver_sql(_pyformat(sql), list(rows))

    def _begin(self, nested: bool) -> None:
        conn = self._conn()
        if nested:
            conn.exec_driver_sql(f"SAVEPOINT sp{self._depth}")
        else:
            if conn.in_transaction():
                conn.rollback()
            conn.begin()

    def _commit(self, nested: bool) -> None:
        conn = self._conn()
        if nested:
            conn.exec_driver_sql(f"RELEASE SAVEPOINT sp{self._depth}")
        else:
            conn.commit()

    def _rollback(self, nested: bool) -> None:
        conn = self._conn()
        if nested:
            conn.exec_driver_sql(f"ROLLBACK TO SAVEPOINT sp{self._depth}")
            conn.exec_driver_sql(f"RELEASE SAVEPOINT sp{self._depth}")
        else:
            conn.rollback()

    def _lock_log(self) -> None:
        self._conn().exec_driver_sql("SELECT pg_advisory_xact_lock(7312001)")

    # ------------------------------------------------------------------ DDL
    def _tables(self, spec: CollectionSpec) -> tuple[sa.Table, sa.Table]:
        md = sa.MetaData()
        gtype = "GEOMETRY" if spec.geometry_type == "Geometry" else spec.geometry_type.upper()

        def fields() -> list[sa.Column[Any]]:
            return [sa.Column(f.name, _SA_TYPE[f.type]) for f in spec.fields]

        current = sa.Table(
            spec.name,
            md,
            sa.Column("fid", sa.BigInteger, primary_key=True, autoincrement=True),
            sa.Column("geom", Geometry(gtype, srid=4326, spatial_index=True)),
            sa.Column("feature_id", sa.Text, nullable=False, unique=True),
            sa.Column("version", sa.Integer, nullable=False),
            sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
            sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("hash", sa.Text, nullable=False),
            *fields(),
        )
        versions = sa.Table(
            f"{spec.name}__versions",
            md,
            sa.Column("vid", sa.BigInteger, primary_key=True, autoincrement=True),
            sa.Column("geom", Geometry(gtype, srid=4326, spatial_index=False)),
            sa.Column("feature_id", sa.Text, nullable=False),
            sa.Column("version", sa.Integer, nullable=False),
            sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
            sa.Column("valid_to", sa.DateTime(timezone=True)),
            sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("actor", sa.Text, nullable=False),
            sa.Column("hash", sa.Text, nullable=False),
            *fields(),
            sa.UniqueConstraint("feature_id", "version"),
        )
        return current, versions

    def _create_tables(self, spec: CollectionSpec) -> None:
        current, versions = self._tables(spec)
        conn = self._conn()
        current.create(conn)
        versions.create(conn)
        v = f"{spec.name}__versions"
        conn.exec_driver_sql(
            f'CREATE INDEX "{v}_st" ON "{v}" USING gist '
            "(geom, tstzrange(valid_from, valid_to, '[)'))"
        )
        conn.exec_driver_sql(f'CREATE INDEX "{v}_time" ON "{v}" (valid_from, valid_to)')

    def _add_column(self, spec: CollectionSpec, name: str, ftype: FieldType) -> None:
        ddl = sa.Column(name, _SA_TYPE[ftype]).type.compile(dialect=self._engine.dialect)
        for table in (spec.name, f"{spec.name}__versions"):
            self._conn().exec_driver_sql(f'ALTER TABLE "{table}" ADD COLUMN "{name}" {ddl}')

    # ------------------------------------------------------------------ values
    def _encode_geoms(self, geoms: Sequence[BaseGeometry | None]) -> list[Any]:
        arr = list(geoms)
        idx = [i for i, g in enumerate(arr) if g is not None]
        out: list[Any] = [None] * len(arr)
        if idx:
            wkbs = shapely.to_wkb([arr[i] for i in idx], byte_order=1, flavor="iso")
            for j, i in enumerate(idx):
                out[i] = wkbs[j]
        return out

    def _decode_geoms(self, values: Sequence[Any]) -> list[BaseGeometry | None]:
        return list(shapely.from_wkb([None if v is None else bytes(v) for v in values]))

    def _geom_select(self, alias: str) -> str:
        return f"ST_AsBinary({alias}.geom)"

    def _geom_insert(self, param: str) -> str:
        return f"ST_GeomFromWKB({param}, 4326)"

    def _to_db(self, value: Any, ftype: FieldType) -> Any:
        if ftype is FieldType.DATETIME:
            return value if isinstance(value, datetime) else parse_datetime(value)
        if ftype is FieldType.JSON:
            from psycopg.types.json import Jsonb

            return Jsonb(value)
        return value

    def _from_db(self, value: Any, ftype: FieldType) -> Any:
        if ftype is FieldType.DATETIME:
            return format_time(value)
        if ftype is FieldType.JSON:
            return json.loads(value) if isinstance(value, str) else value
        if ftype is FieldType.NUMBER:
            return float(value)
        return value

    def _extent_bbox(self, spec: CollectionSpec) -> tuple[float, float, float, float] | None:
        row = self._run(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
            f'(SELECT ST_Extent(geom) AS e FROM "{spec.name}") s'
        )[0]
        if row[0] is None:
            return None
        return (float(row[0]), float(row[1]), float(row[2]), float(row[3]))

    def _spatial_sql(
        self, op: SpatialOp, geom: BaseGeometry, b: SqlBuilder, *, time: TimeSpec = None
    ) -> str:
        g = f"ST_GeomFromWKB({b.param(shapely.to_wkb(geom, byte_order=1, flavor='iso'))}, 4326)"
        sql = f"{_PG_OP[op]}({b.alias}.geom, {g})"
        if b.versions and op is not SpatialOp.DISJOINT:
            lo, hi = _range(time)
            sql = (
                f"({sql} AND tstzrange({b.alias}.valid_from, {b.alias}.valid_to, '[)') && "
                f"tstzrange({b.param(lo)}, {b.param(hi)}, '[]'))"
            )
        return sql


def _range(time: TimeSpec) -> tuple[datetime | None, datetime | None]:
    if isinstance(time, Instant):
        return time.at, time.at
    if isinstance(time, Interval):
        return time.start, time.end
    return None, None
