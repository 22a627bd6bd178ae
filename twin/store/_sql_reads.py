"""Reads of the SQL store: queries, frames, nearest look-ups, versions, counts, extents.

:class:`SqlReads` answers a :class:`~twin.store.base.Query` from a collection's current
table, or from its versions table when the query names a time; the rows come back as
feature versions through the backend's dialect.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

from twin.errors import FeatureNotFound, InvalidInput, StoreError
from twin.store._compile import SqlBuilder
from twin.store._sql_dialect import SqlDialect
from twin.store.base import (
    CollectionSpec,
    Extent,
    FeatureVersion,
    FieldType,
    Query,
    QueryResult,
    check_name,
    check_query,
)
from twin.store.filters import Spatial, SpatialOp
from twin.temporal import Instant, Interval, TimeSpec, format_time

__all__ = ["META_COLUMNS", "SqlReads"]

META_COLUMNS = ("feature_id", "version", "valid_from", "valid_to", "recorded_at", "hash")


class SqlReads(SqlDialect):
    """The reads both SQL backends share, written against the dialect's hooks."""

    # ---------------------------------------------------------------- reads
    def _select_list(self, spec: CollectionSpec, alias: str, q: Query, versions: bool) -> list[str]:
        cols = [f'{alias}."{c}"' for c in META_COLUMNS if versions or c != "valid_to"]
        if not versions:
            cols.insert(3, "NULL")
        cols.append("NULL" if q.skip_geometry else self._geom_select(alias))
        wanted = self._fields_for(spec, q.properties)
        cols.extend(f'{alias}."{f}"' for f in wanted)
        return cols

    def _fields_for(self, spec: CollectionSpec, props: Sequence[str] | None) -> list[str]:
        names = [f.name for f in spec.fields]
        if props is None:
            return names
        unknown = [p for p in props if p not in names]
        if unknown:
            msg = (
                f"properties={list(props)!r} names {unknown}, which {spec.name!r} does not "
                f"have; choose from {names}"
            )
            raise InvalidInput(msg)
        return [n for n in names if n in props]

    def _rows_to_features(
        self, spec: CollectionSpec, rows: list[tuple[Any, ...]], fields: list[str]
    ) -> list[FeatureVersion]:
        if not rows:
            return []
        types = spec.field_map()
        geoms = self._geoms_of(spec, rows)
        out = []
        for r, g in zip(rows, geoms, strict=True):
            props = {}
            for name, v in zip(fields, r[7:], strict=True):
                if v is not None:
                    props[name] = self._from_db(v, types[name].type)
            out.append(
                FeatureVersion(
                    collection=spec.name,
                    id=r[0],
                    version=int(r[1]),
                    geometry=g,
                    properties=props,
                    valid_from=self._time(r[2]),
                    valid_to=None if r[3] is None else self._time(r[3]),
                    recorded_at=self._time(r[4]),
                    hash=r[5],
                )
            )
        return out

    def _geoms_of(
        self, spec: CollectionSpec, rows: Sequence[tuple[Any, ...]]
    ) -> list[BaseGeometry | None]:
        """The geometries of selected rows; StoreError naming the first damaged one."""
        try:
            return self._decode_geoms([r[6] for r in rows])
        except StoreError:
            for r in rows:
                try:
                    self._decode_geoms([r[6]])
                except StoreError as exc:
                    msg = f"{spec.name}/{r[0]} version {r[1]}: {exc}"
                    raise StoreError(msg) from None
            raise

    def _time_clause(self, b: SqlBuilder, time: TimeSpec) -> str | None:
        a = b.alias
        if isinstance(time, Instant):
            t = b.param(self._to_db(time.at, FieldType.DATETIME))
            return f"{a}.valid_from <= {t} AND ({a}.valid_to IS NULL OR {a}.valid_to > {t})"
        if isinstance(time, Interval):
            parts = []
            if time.end is not None:
                parts.append(
                    f"{a}.valid_from <= {b.param(self._to_db(time.end, FieldType.DATETIME))}"
                )
            if time.start is not None:
                s = b.param(self._to_db(time.start, FieldType.DATETIME))
                parts.append(f"({a}.valid_to IS NULL OR {a}.valid_to > {s})")
            return " AND ".join(parts) if parts else None
        return None

    def _builder(self, spec: CollectionSpec, time: TimeSpec) -> SqlBuilder:
        if time is not None and not isinstance(time, Instant | Interval):
            msg = (
                f"time={time!r} must be None, an Instant or an Interval "
                "(twin.temporal.parse_time makes one from text)"
            )
            raise InvalidInput(msg)
        versions = time is not None
        return SqlBuilder(
            spec=spec,
            alias="t",
            spatial=lambda op, g, b: self._spatial_sql(op, g, b, time=time),
            value=self._to_db,
            versions=versions,
        )

    def _where(self, spec: CollectionSpec, q: Query, b: SqlBuilder) -> list[str]:
        where: list[str] = []
        tc = self._time_clause(b, q.time)
        if tc:
            where.append(tc)
        if q.bbox is not None:
            where.append(b.compile(Spatial(SpatialOp.INTERSECTS, _bbox_polygon(q.bbox))))
        if q.intersects is not None:
            where.append(b.compile(Spatial(SpatialOp.INTERSECTS, q.intersects)))
        if q.where is not None:
            where.append(b.compile(q.where))
        return where

    def _order(self, spec: CollectionSpec, q: Query, b: SqlBuilder) -> str:
        parts = []
        for name, asc in q.sort:
            col, _ = b.column(name, purpose="sort")
            # a feature without the value comes last either way, on both backends (SQLite
            # puts NULL first ascending, PostgreSQL last)
            parts.append(f"{col} {'ASC' if asc else 'DESC'} NULLS LAST")
        parts.append("t.vid" if b.versions else "t.fid")
        return ", ".join(parts)

    def query(
        self, collection: str, query: Query | None = None, *, count: bool = False
    ) -> QueryResult:
        q = check_query(Query() if query is None else query)
        spec = self.collection(collection)
        if q.nearest is not None:
            return self._nearest(spec, q)
        b = self._builder(spec, q.time)
        table = _table(spec.name, b.versions)
        fields = self._fields_for(spec, q.properties)
        where = self._where(spec, q, b)
        where_sql = (" WHERE " + " AND ".join(where)) if where else ""
        sql = (
            f"SELECT {', '.join(self._select_list(spec, 't', q, b.versions))} "
            f'FROM "{table}" t{where_sql} ORDER BY {self._order(spec, q, b)}'
        )
        sql += self._limit_sql(q.limit, q.offset)
        rows = self._run(sql, b.params)
        matched = None
        if count:
            matched = int(self._run(f'SELECT count(*) FROM "{table}" t{where_sql}', b.params)[0][0])
        return QueryResult(self._rows_to_features(spec, rows, fields), matched)

    def _limit_sql(self, limit: int | None, offset: int) -> str:
        out = "" if limit is None else f" LIMIT {int(limit)}"
        return out + (f" OFFSET {int(offset)}" if offset else "")

    def read_frame(self, collection: str, query: Query | None = None) -> Any:
        import geopandas as gpd
        import pandas as pd

        q = check_query(Query() if query is None else query)
        spec = self.collection(collection)
        fields = self._fields_for(spec, q.properties)
        if q.nearest is not None:
            feats = self.query(collection, q).features
            rows = [
                (
                    f.id,
                    f.version,
                    f.valid_from,
                    f.valid_to,
                    f.geometry,
                    *[f.properties.get(n) for n in fields],
                )
                for f in feats
            ]
            geoms = [r[4] for r in rows]
        else:
            b = self._builder(spec, q.time)
            table = _table(spec.name, b.versions)
            where = self._where(spec, q, b)
            where_sql = (" WHERE " + " AND ".join(where)) if where else ""
            sql = (
                f"SELECT {', '.join(self._select_list(spec, 't', q, b.versions))} "
                f'FROM "{table}" t{where_sql} ORDER BY {self._order(spec, q, b)}'
                + self._limit_sql(q.limit, q.offset)
            )
            raw = self._run(sql, b.params)
            geoms = self._geoms_of(spec, raw)
            types = spec.field_map()
            rows = [
                (
                    r[0],
                    int(r[1]),
                    self._time(r[2]),
                    None if r[3] is None else self._time(r[3]),
                    None,
                    *[
                        None if v is None else self._from_db(v, types[n].type)
                        for n, v in zip(fields, r[7:], strict=True)
                    ],
                )
                for r in raw
            ]
        cols = ["id", "version", "valid_from", "valid_to", "_g", *fields]
        df = pd.DataFrame(rows, columns=cols).drop(columns="_g")
        return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, index=df.index, crs="OGC:CRS84"))

    def _nearest(self, spec: CollectionSpec, q: Query) -> QueryResult:
        assert q.nearest is not None
        point, k = q.nearest
        if k <= 0:
            msg = f"nearest k={k!r} must be positive"
            raise InvalidInput(msg)
        c = point.centroid
        x0, y0 = float(c.x), float(c.y)
        cos = max(math.cos(math.radians(y0)), 1e-6)
        radius = 0.0005  # degrees of latitude
        total = self.count(spec.name, time=q.time)
        want = min(k, total)
        found: list[FeatureVersion] = []
        if want == 0:
            return QueryResult(found, None)
        while True:
            box = (
                max(x0 - radius / cos, -180.0),
                max(y0 - radius, -90.0),
                min(x0 + radius / cos, 180.0),
                min(y0 + radius, 90.0),
            )
            sub = Query(
                time=q.time,
                bbox=box,
                intersects=q.intersects,
                where=q.where,
                properties=q.properties,
                skip_geometry=False,
            )
            found = self.query(spec.name, sub).features
            if len(found) >= want:
                dists = _metric_distances(found, x0, y0, cos)
                kth = sorted(dists)[want - 1] if want else 0.0
                if kth <= radius or radius > 360:
                    order = sorted(range(len(found)), key=lambda i: (dists[i], found[i].id))
                    found = [found[i] for i in order[:want]]
                    break
                radius = kth * 1.0001
            else:
                if radius > 360:
                    break
                radius *= 4
        return QueryResult(found[q.offset :] if q.offset else found, None)

    def get(self, collection: str, feature_id: str, *, time: TimeSpec = None) -> FeatureVersion:
        spec = self.collection(collection)
        from twin.store.filters import Compare, CompareOp

        if isinstance(time, Interval):
            msg = "get() takes an instant, not an interval; use history() for a span"
            raise InvalidInput(msg)
        res = self.query(
            collection, Query(time=time, where=Compare("id", CompareOp.EQ, feature_id), limit=1)
        )
        if not res.features:
            when = "" if time is None else f" at {format_time(time.at)}"
            msg = f"feature {feature_id!r} is not in collection {spec.name!r}{when}"
            raise FeatureNotFound(msg)
        return res.features[0]

    def history(self, collection: str, feature_id: str) -> list[FeatureVersion]:
        spec = self.collection(collection)
        q = Query()
        fields = self._fields_for(spec, None)
        cols = self._select_list(spec, "t", q, True)
        rows = self._run(
            f'SELECT {", ".join(cols)} FROM "{_table(spec.name, True)}" t '
            "WHERE t.feature_id = :id ORDER BY t.version",
            {"id": feature_id},
        )
        if not rows:
            msg = f"feature {feature_id!r} was never in collection {spec.name!r}"
            raise FeatureNotFound(msg)
        return self._rows_to_features(spec, rows, fields)

    def count(self, collection: str, *, time: TimeSpec = None) -> int:
        spec = self.collection(collection)
        b = self._builder(spec, time)
        tc = self._time_clause(b, time)
        where = f" WHERE {tc}" if tc else ""
        return int(
            self._run(f'SELECT count(*) FROM "{_table(spec.name, b.versions)}" t{where}', b.params)[
                0
            ][0]
        )

    def extent(self, collection: str) -> Extent:
        spec = self.collection(collection)
        n = self.count(collection)
        lo, hi, open_ = self._run(
            f"SELECT min(valid_from), max(valid_to), "
            f"sum(CASE WHEN valid_to IS NULL THEN 1 ELSE 0 END) "
            f'FROM "{_table(spec.name, True)}"'
        )[0]
        return Extent(
            bbox=self._extent_bbox(spec) if n else None,
            valid_from=None if lo is None else self._time(lo),
            valid_to=None if (hi is None or (open_ or 0) > 0) else self._time(hi),
            count=n,
        )


def _table(name: str, versions: bool) -> str:
    check_name(name)
    return f"{name}__versions" if versions else name


def _bbox_polygon(bbox: tuple[float, float, float, float]) -> BaseGeometry:
    """The polygon of a bbox that Query has checked already."""
    return shapely.box(*bbox)


def _metric_distances(feats: list[FeatureVersion], x0: float, y0: float, cos: float) -> list[float]:
    """Distances in degrees of latitude on a local equirectangular plane around (x0, y0)."""
    geoms = [f.geometry for f in feats]
    scaled = shapely.transform(
        geoms if geoms else shapely.GeometryCollection(),
        lambda xy: (xy - [x0, y0]) * [cos, 1.0],
    )
    origin = shapely.Point(0.0, 0.0)
    return [float(d) for d in shapely.distance(scaled, origin)]
