"""The embedded backend: one GeoPackage file, with nothing but Python's sqlite3.

The file is an ordinary GeoPackage 1.4: every collection's current state is a feature
table with the standard R-tree spatial index, readable by GDAL and QGIS. Its history,
``<name>__versions``, is a feature table too (so QGIS's temporal controller can play it),
with a second R-tree over (x, y, valid time) that answers as-of queries. Spatial
predicates run through the R-trees and then shapely, registered as SQL functions.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import sqlite3
import struct
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

from twin.errors import StoreError
from twin.store._compile import SqlBuilder
from twin.store._sql import SqlStore
from twin.store.base import CollectionSpec, FieldType
from twin.store.filters import SpatialOp
from twin.temporal import Instant, Interval, TimeSpec, format_time

__all__ = ["GpkgStore", "decode_gpkg_geometry", "encode_gpkg_geometry"]

log = logging.getLogger(__name__)

SRS_ID = 4326
GPKG_APPLICATION_ID = 0x47504B47  # 'GPKG'
_OPEN_END = 1.0e11  # seconds since the epoch standing for "still valid"
_ENV_SIZE = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}
_SQL_TYPE = {
    FieldType.STRING: "TEXT",
    FieldType.INTEGER: "INTEGER",
    FieldType.NUMBER: "REAL",
    FieldType.BOOLEAN: "BOOLEAN",
    FieldType.DATETIME: "DATETIME",
    FieldType.JSON: "TEXT",
}
_GPKG_GEOM = {
    "Geometry": "GEOMETRY",
    "Point": "POINT",
    "LineString": "LINESTRING",
    "Polygon": "POLYGON",
    "MultiPoint": "MULTIPOINT",
    "MultiLineString": "MULTILINESTRING",
    "MultiPolygon": "MULTIPOLYGON",
}


def encode_gpkg_geometry(geoms: Sequence[BaseGeometry | None]) -> list[bytes | None]:
    """Encode geometries as GeoPackage binary blobs (little endian, xy envelope)."""
    arr = list(geoms)
    out: list[bytes | None] = [None] * len(arr)
    idx = [i for i, g in enumerate(arr) if g is not None]
    if not idx:
        return out
    sub = [arr[i] for i in idx]
    wkbs = shapely.to_wkb(sub, byte_order=1, flavor="iso")
    bounds = shapely.bounds(sub)
    empty = shapely.is_empty(sub)
    for j, i in enumerate(idx):
        if empty[j]:
            out[i] = struct.pack("<2sBBi", b"GP", 0, 0b10001, SRS_ID) + wkbs[j]
        else:
            x0, y0, x1, y1 = bounds[j]
            out[i] = struct.pack("<2sBBi4d", b"GP", 0, 0b11, SRS_ID, x0, x1, y0, y1) + wkbs[j]
    return out


def _wkb_of(blob: bytes) -> bytes:
    flags = blob[3]
    return blob[8 + _ENV_SIZE[(flags >> 1) & 7] :]


def decode_gpkg_geometry(blobs: Sequence[bytes | None]) -> list[BaseGeometry | None]:
    """Decode GeoPackage binary blobs (any envelope kind) to shapely geometries.

    Raises
    ------
    StoreError
        When a blob is not a GeoPackage geometry (a damaged file).
    """
    try:
        wkbs = [None if b is None else _wkb_of(b) for b in blobs]
        return list(shapely.from_wkb(wkbs))
    except (shapely.errors.GEOSException, IndexError, KeyError, TypeError, ValueError) as exc:
        msg = f"a stored geometry is not a GeoPackage geometry: {exc}"
        raise StoreError(msg) from None


@functools.lru_cache(maxsize=64)
def _literal(wkb: bytes) -> BaseGeometry:
    g = shapely.from_wkb(wkb)
    shapely.prepare(g)
    return g


def _st(op: str, blob: bytes | None, wkb: bytes) -> int:
    if blob is None:
        return 0
    g = shapely.from_wkb(_wkb_of(blob))
    lit = _literal(wkb)
    match op:
        case "intersects":
            return int(shapely.intersects(lit, g))
        case "disjoint":
            return int(shapely.disjoint(lit, g))
        case "within":
            return int(shapely.contains(lit, g))
        case "contains":
            return int(shapely.within(lit, g))
        case "touches":
            return int(shapely.touches(lit, g))
        case "crosses":
            return int(shapely.crosses(lit, g))
        case "overlaps":
            return int(shapely.overlaps(lit, g))
        case "equals":
            return int(shapely.equals(lit, g))
    return 0


def _epoch(t: datetime) -> float:
    return t.timestamp()


_CORE_DDL = """
CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
CREATE TABLE IF NOT EXISTS gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '',
  last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
CREATE TABLE IF NOT EXISTS gpkg_extensions (
  table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL,
  definition TEXT NOT NULL, scope TEXT NOT NULL,
  CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name));
CREATE TABLE IF NOT EXISTS twin_collections (name TEXT PRIMARY KEY, spec TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS twin_changelog (
  seq INTEGER PRIMARY KEY, collection TEXT NOT NULL, feature_id TEXT NOT NULL,
  version INTEGER NOT NULL, op TEXT NOT NULL, at TEXT NOT NULL, recorded_at TEXT NOT NULL,
  actor TEXT NOT NULL, content_hash TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS twin_changelog_feature ON twin_changelog (collection, feature_id);
"""

_WGS84_WKT = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,'
    'AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,'
    'AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],'
    'AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]'
)


class GpkgStore(SqlStore):
    """A twin store in one GeoPackage file.

    Parameters
    ----------
    path
        The ``.gpkg`` file.
    create
        Create an empty twin there when the file does not exist.
    """

    db_errors = (sqlite3.Error,)

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        super().__init__()
        self.path = Path(path)
        self.url = str(self.path)
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._touched: set[str] = set()
        if not self.path.exists():
            if not create:
                msg = f"db={str(self.path)!r} does not exist; run 'twin build' first"
                raise StoreError(msg)
            self._create_file()
        else:
            self._check_file()

    # ------------------------------------------------------------------ connection
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA case_sensitive_like=ON")
            conn.execute("PRAGMA cache_size=-65536")
            conn.execute("PRAGMA mmap_size=1073741824")  # read pages from the OS cache
            conn.create_function("twin_st", 3, _st, deterministic=True)
            self._local.conn = conn
            with self._conns_lock:
                self._conns.append(conn)
        return conn

    def _init_file(self) -> None:
        conn = self._conn()
        conn.execute(f"PRAGMA application_id = {GPKG_APPLICATION_ID}")
        conn.execute("PRAGMA user_version = 10400")
        conn.executescript(_CORE_DDL)
        for table, desc in (
            ("twin_collections", "The twin's catalog: one row per collection and its schema"),
            ("twin_changelog", "Every change, hash-chained: seq, feature, version, op, time"),
        ):
            conn.execute(
                "INSERT INTO gpkg_contents (table_name, data_type, identifier, description) "
                "VALUES (?, 'attributes', ?, ?)",
                (table, table, desc),
            )
        conn.executemany(
            "INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)",
            [
                ("Undefined cartesian SRS", -1, "NONE", -1, "undefined", "undefined cartesian"),
                ("Undefined geographic SRS", 0, "NONE", 0, "undefined", "undefined geographic"),
                (
                    "WGS 84 geodetic",
                    4326,
                    "EPSG",
                    4326,
                    _WGS84_WKT,
                    "longitude/latitude in degrees",
                ),
            ],
        )

    def _create_file(self) -> None:
        """Create the file (StoreError naming the OS reason when it cannot be) and a twin in it."""
        parent = self.path.parent
        if parent.exists() and not parent.is_dir():
            msg = f"db={str(self.path)!r} cannot be created: {str(parent)!r} is not a directory"
            raise StoreError(msg)
        try:
            parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("xb"):
                pass
        except OSError as exc:
            msg = f"db={str(self.path)!r} cannot be created: {exc.strerror or exc}"
            raise StoreError(msg) from None
        try:
            self._init_file()
        except sqlite3.Error as exc:
            self.close()
            for p in (self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm")):
                p.unlink(missing_ok=True)
            msg = f"db={str(self.path)!r} cannot be created: {exc}"
            raise StoreError(msg) from None

    def _check_file(self) -> None:
        """StoreError unless the file is a twin GeoPackage; looks without writing to it.

        The read-write connection (which switches the file to WAL) is only opened after.
        """
        where = f"db={str(self.path)!r}"
        try:
            with self.path.open("rb") as fh:
                head = fh.read(100)
        except OSError as exc:
            msg = f"{where} cannot be read: {exc.strerror or exc}"
            raise StoreError(msg) from None
        if not head:
            msg = f"{where} is an empty file, not a twin GeoPackage"
            raise StoreError(msg)
        if len(head) < 100 or not head.startswith(b"SQLite format 3\x00"):
            msg = f"{where} is not a GeoPackage: it is not an SQLite database"
            raise StoreError(msg)
        (app,) = struct.unpack_from(">I", head, 68)
        if app != GPKG_APPLICATION_ID:
            msg = f"{where} is an SQLite database but not a twin GeoPackage"
            raise StoreError(msg)
        try:
            ro = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
            try:
                tables = {
                    r[0] for r in ro.execute("SELECT name FROM sqlite_master WHERE type='table'")
                }
            finally:
                ro.close()
        except sqlite3.DatabaseError as exc:
            msg = f"{where} is not a GeoPackage: {exc}"
            raise StoreError(msg) from None
        if "twin_changelog" not in tables:
            msg = f"{where} is a GeoPackage but not a twin (it has no change log)"
            raise StoreError(msg)

    def close(self) -> None:
        with self._conns_lock:
            for c in self._conns:
                with contextlib.suppress(sqlite3.Error):
                    c.close()
            self._conns.clear()
        self._local = threading.local()

    # ------------------------------------------------------------------ execution
    def _run(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return self._conn().execute(sql, params or {}).fetchall()

    def _runmany(self, sql: str, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            self._conn().executemany(sql, rows)

    def _begin(self, nested: bool) -> None:
        c = self._conn()
        if nested:
            c.execute(f"SAVEPOINT sp{self._depth}")
        else:
            c.execute("BEGIN IMMEDIATE")
            self._touched = set()

    def _commit(self, nested: bool) -> None:
        c = self._conn()
        if nested:
            c.execute(f"RELEASE sp{self._depth}")
            return
        for name in self._touched:
            self._update_contents(name)
        c.execute("COMMIT")

    def _rollback(self, nested: bool) -> None:
        c = self._conn()
        if nested:
            c.execute(f"ROLLBACK TO sp{self._depth}")
            c.execute(f"RELEASE sp{self._depth}")
        else:
            c.execute("ROLLBACK")

    def _lock_log(self) -> None:
        """BEGIN IMMEDIATE already holds the write lock."""

    # ------------------------------------------------------------------ DDL
    def _create_tables(self, spec: CollectionSpec) -> None:
        cols = "".join(f', "{f.name}" {_SQL_TYPE[f.type]}' for f in spec.fields)
        gtype = _GPKG_GEOM[spec.geometry_type]
        name, vname = spec.name, f"{spec.name}__versions"
        self._run(
            f'CREATE TABLE "{name}" (fid INTEGER PRIMARY KEY AUTOINCREMENT, '
            f"geom {gtype}, feature_id TEXT NOT NULL UNIQUE, version INTEGER NOT NULL, "
            f"valid_from DATETIME NOT NULL, recorded_at DATETIME NOT NULL, hash TEXT NOT NULL{cols})"
        )
        self._run(
            f'CREATE TABLE "{vname}" (vid INTEGER PRIMARY KEY AUTOINCREMENT, '
            f"geom {gtype}, feature_id TEXT NOT NULL, version INTEGER NOT NULL, "
            f"valid_from DATETIME NOT NULL, valid_to DATETIME, recorded_at DATETIME NOT NULL, "
            f"actor TEXT NOT NULL, hash TEXT NOT NULL{cols}, UNIQUE (feature_id, version))"
        )
        self._run(f'CREATE INDEX "{vname}_time" ON "{vname}" (valid_from, valid_to)')
        for table, ident, desc in (
            (name, name, spec.description or spec.title),
            (vname, f"{name} (history)", f"Every version of {name}, with valid_from/valid_to"),
        ):
            self._run(
                "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, "
                "srs_id, last_change) VALUES (:t, 'features', :i, :d, 4326, :now)",
                {"t": table, "i": ident, "d": desc, "now": format_time(datetime.now(UTC))},
            )
            self._run(
                "INSERT INTO gpkg_geometry_columns VALUES (:t, 'geom', :g, 4326, 0, 0)",
                {"t": table, "g": gtype},
            )
            self._run(
                f'CREATE VIRTUAL TABLE "rtree_{table}_geom" USING rtree(id, minx, maxx, miny, maxy)'
            )
            self._run(
                "INSERT INTO gpkg_extensions VALUES (:t, 'geom', 'gpkg_rtree_index', "
                "'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')",
                {"t": table},
            )
        self._run(
            f'CREATE VIRTUAL TABLE "{name}__vtime" USING rtree(id, minx, maxx, miny, maxy, t0, t1)'
        )

    def _add_column(self, spec: CollectionSpec, name: str, ftype: FieldType) -> None:
        for table in (spec.name, f"{spec.name}__versions"):
            self._run(f'ALTER TABLE "{table}" ADD COLUMN "{name}" {_SQL_TYPE[ftype]}')

    # ------------------------------------------------------------------ values
    def _encode_geoms(self, geoms: Sequence[BaseGeometry | None]) -> list[Any]:
        return encode_gpkg_geometry(geoms)

    def _decode_geoms(self, values: Sequence[Any]) -> list[BaseGeometry | None]:
        return decode_gpkg_geometry(values)

    def _geom_select(self, alias: str) -> str:
        return f"{alias}.geom"

    def _geom_insert(self, param: str) -> str:
        return param

    def _to_db(self, value: Any, ftype: FieldType) -> Any:
        if ftype is FieldType.DATETIME:
            return format_time(value) if isinstance(value, datetime) else value
        if ftype is FieldType.BOOLEAN:
            return int(bool(value))
        if ftype is FieldType.JSON:
            return json.dumps(value, sort_keys=True, ensure_ascii=False)
        return value

    def _from_db(self, value: Any, ftype: FieldType) -> Any:
        if ftype is FieldType.BOOLEAN:
            return bool(value)
        if ftype is FieldType.JSON:
            return json.loads(value)
        if ftype is FieldType.NUMBER:
            return float(value)
        if ftype is FieldType.INTEGER:
            return int(value)
        return value

    def _limit_sql(self, limit: int | None, offset: int) -> str:
        if limit is None and offset:
            return f" LIMIT -1 OFFSET {int(offset)}"
        return super()._limit_sql(limit, offset)

    # ------------------------------------------------------------------ indexes
    def _insert_rows(self, table: str, rows: list[dict[str, Any]], *, versions: bool) -> None:
        if not rows:
            return
        pk = "vid" if versions else "fid"
        (start,) = self._run(f'SELECT coalesce(max({pk}), 0) FROM "{table}"')[0]
        for i, row in enumerate(rows, start=int(start) + 1):
            row[pk] = i
        super()._insert_rows(table, rows, versions=versions)
        env = [(r[pk], e) for r in rows if (e := _envelope(r["geom"])) is not None]
        self._runmany(
            f'INSERT INTO "rtree_{table}_geom" VALUES (:id, :x0, :x1, :y0, :y1)',
            [{"id": i, "x0": e[0], "x1": e[1], "y0": e[2], "y1": e[3]} for i, e in env],
        )
        if versions:
            base = table[: -len("__versions")]
            times = {r[pk]: _epoch(self._time(r["valid_from"])) for r in rows}
            self._runmany(
                f'INSERT INTO "{base}__vtime" VALUES (:id, :x0, :x1, :y0, :y1, :t0, :t1)',
                [
                    {
                        "id": i,
                        "x0": e[0],
                        "x1": e[1],
                        "y0": e[2],
                        "y1": e[3],
                        "t0": times[i],
                        "t1": _OPEN_END,
                    }
                    for i, e in env
                ],
            )
        self._touched.add(table)

    def _update_current(self, table: str, rows: list[dict[str, Any]]) -> None:
        super()._update_current(table, rows)
        rt = f"rtree_{table}_geom"
        sel = f'(SELECT fid FROM "{table}" WHERE feature_id = :feature_id)'
        self._runmany(
            f'DELETE FROM "{rt}" WHERE id = {sel}', [{"feature_id": r["feature_id"]} for r in rows]
        )
        env = [(r["feature_id"], e) for r in rows if (e := _envelope(r["geom"])) is not None]
        self._runmany(
            f'INSERT INTO "{rt}" VALUES ({sel}, :x0, :x1, :y0, :y1)',
            [{"feature_id": f, "x0": e[0], "x1": e[1], "y0": e[2], "y1": e[3]} for f, e in env],
        )
        self._touched.add(table)

    def _delete_current(self, table: str, ids: list[str]) -> None:
        self._runmany(
            f'DELETE FROM "rtree_{table}_geom" WHERE id = '
            f'(SELECT fid FROM "{table}" WHERE feature_id = :id)',
            [{"id": i} for i in ids],
        )
        super()._delete_current(table, ids)
        self._touched.add(table)

    def _close_versions(self, table: str, rows: list[dict[str, Any]]) -> None:
        super()._close_versions(table, rows)
        base = table[: -len("__versions")]
        self._runmany(
            f'UPDATE "{base}__vtime" SET t1 = :t1 WHERE id = (SELECT vid FROM "{table}" '
            "WHERE feature_id = :feature_id AND version = :version)",
            [
                {
                    "feature_id": r["feature_id"],
                    "version": r["version"],
                    "t1": _epoch(self._time(r["valid_to"])),
                }
                for r in rows
            ],
        )

    def _update_contents(self, table: str) -> None:
        row = self._run(
            f'SELECT min(minx), min(miny), max(maxx), max(maxy) FROM "rtree_{table}_geom"'
        )[0]
        self._run(
            "UPDATE gpkg_contents SET min_x = :a, min_y = :b, max_x = :c, max_y = :d, "
            "last_change = :now WHERE table_name = :t",
            {
                "a": row[0],
                "b": row[1],
                "c": row[2],
                "d": row[3],
                "t": table,
                "now": format_time(datetime.now(UTC)),
            },
        )

    def _extent_bbox(self, spec: CollectionSpec) -> tuple[float, float, float, float] | None:
        row = self._run(
            f'SELECT min(minx), min(miny), max(maxx), max(maxy) FROM "rtree_{spec.name}_geom"'
        )[0]
        if row[0] is None:
            return None
        return (float(row[0]), float(row[1]), float(row[2]), float(row[3]))

    # ------------------------------------------------------------------ spatial SQL
    def _spatial_sql(
        self, op: SpatialOp, geom: BaseGeometry, b: SqlBuilder, *, time: TimeSpec = None
    ) -> str:
        wkb = b.param(shapely.to_wkb(geom, byte_order=1, flavor="iso"))
        exact = f"twin_st('{op.value}', {b.alias}.geom, {wkb})"
        if op is SpatialOp.DISJOINT or geom.is_empty:
            return exact
        x0, y0, x1, y1 = geom.bounds
        box = (
            f"minx <= {b.param(x1)} AND maxx >= {b.param(x0)} AND "
            f"miny <= {b.param(y1)} AND maxy >= {b.param(y0)}"
        )
        name = b.spec.name
        if not b.versions:
            pre = f'{b.alias}.fid IN (SELECT id FROM "rtree_{name}_geom" WHERE {box})'
        else:
            t0, t1 = _time_range(time)
            pre = (
                f'{b.alias}.vid IN (SELECT id FROM "{name}__vtime" WHERE {box} '
                f"AND t0 <= {b.param(t1)} AND t1 >= {b.param(t0)})"
            )
        return f"({pre} AND {exact})"


def _envelope(blob: bytes | None) -> tuple[float, ...] | None:
    """(minx, maxx, miny, maxy) from a blob's header, or None when it has none."""
    if blob is None or ((blob[3] >> 1) & 7) == 0:
        return None
    return struct.unpack_from("<4d", blob, 8)


def _time_range(time: TimeSpec) -> tuple[float, float]:
    if isinstance(time, Instant):
        t = _epoch(time.at)
        return t, t
    if isinstance(time, Interval):
        return (
            -_OPEN_END if time.start is None else _epoch(time.start),
            _OPEN_END if time.end is None else _epoch(time.end),
        )
    return -_OPEN_END, _OPEN_END
