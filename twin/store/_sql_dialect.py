"""What a SQL backend supplies to the shared store logic: its dialect.

:class:`SqlDialect` declares the hooks a backend implements (running statements and
transactions, the DDL of a collection's tables, how geometries, values and times travel,
spatial predicates that use its index, the change log's lock) and writes rows to the two
tables of a collection with them; a backend that keeps its own indexes overrides those
writers.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from shapely.geometry.base import BaseGeometry

from twin.store._compile import SqlBuilder
from twin.store.base import CollectionSpec, FieldType, Store
from twin.store.filters import SpatialOp
from twin.temporal import TimeSpec, parse_datetime

__all__ = ["SqlDialect"]


class SqlDialect(Store):
    """The hooks of a SQL backend and the row writers built on them."""

    # ---------------------------------------------------------------- dialect hooks
    @abstractmethod
    def _run(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Execute one statement and return its rows (empty for no result set)."""

    @abstractmethod
    def _runmany(self, sql: str, rows: Sequence[dict[str, Any]]) -> None: ...

    @abstractmethod
    def _begin(self, nested: bool) -> None: ...

    @abstractmethod
    def _commit(self, nested: bool) -> None: ...

    @abstractmethod
    def _rollback(self, nested: bool) -> None: ...

    @abstractmethod
    def _create_tables(self, spec: CollectionSpec) -> None: ...

    @abstractmethod
    def _add_column(self, spec: CollectionSpec, name: str, ftype: FieldType) -> None: ...

    @abstractmethod
    def _encode_geoms(self, geoms: Sequence[BaseGeometry | None]) -> list[Any]: ...

    @abstractmethod
    def _decode_geoms(self, values: Sequence[Any]) -> list[BaseGeometry | None]: ...

    @abstractmethod
    def _geom_select(self, alias: str) -> str:
        """SQL expression selecting the geometry column in the form _decode_geoms reads."""

    @abstractmethod
    def _geom_insert(self, param: str) -> str:
        """SQL expression turning an encoded geometry parameter into a stored value."""

    @abstractmethod
    def _to_db(self, value: Any, ftype: FieldType) -> Any:
        """Convert a canonical property value (or a datetime) to a bound parameter."""

    @abstractmethod
    def _from_db(self, value: Any, ftype: FieldType) -> Any:
        """Convert a stored value back to its canonical property value."""

    @abstractmethod
    def _spatial_sql(
        self, op: SpatialOp, geom: BaseGeometry, b: SqlBuilder, *, time: TimeSpec = None
    ) -> str:
        """SQL for a spatial predicate on ``b.alias``'s geometry, using the index."""

    @abstractmethod
    def _extent_bbox(self, spec: CollectionSpec) -> tuple[float, float, float, float] | None: ...

    @abstractmethod
    def _lock_log(self) -> None:
        """Serialise writers of the change log inside the current transaction."""

    # rows written to the two tables; backends that keep their own indexes override
    def _insert_rows(self, table: str, rows: list[dict[str, Any]], *, versions: bool) -> None:
        if not rows:
            return
        cols = list(rows[0])
        values = [self._geom_insert(":geom") if c == "geom" else f":{c}" for c in cols]
        quoted = ", ".join(f'"{c}"' for c in cols)
        self._runmany(f'INSERT INTO "{table}" ({quoted}) VALUES ({", ".join(values)})', rows)

    def _update_current(self, table: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        cols = [c for c in rows[0] if c != "feature_id"]
        sets = ", ".join(
            f'"{c}" = ' + (self._geom_insert(":geom") if c == "geom" else f":{c}") for c in cols
        )
        self._runmany(f'UPDATE "{table}" SET {sets} WHERE feature_id = :feature_id', rows)

    def _delete_current(self, table: str, ids: list[str]) -> None:
        self._runmany(f'DELETE FROM "{table}" WHERE feature_id = :id', [{"id": i} for i in ids])

    def _close_versions(self, table: str, rows: list[dict[str, Any]]) -> None:
        self._runmany(
            f'UPDATE "{table}" SET valid_to = :valid_to '
            "WHERE feature_id = :feature_id AND version = :version",
            rows,
        )

    def _time(self, v: Any) -> datetime:
        """A stored time as a datetime, from the text or datetime the driver returns."""
        return parse_datetime(v if isinstance(v, str) else v.isoformat(), name="stored time")
