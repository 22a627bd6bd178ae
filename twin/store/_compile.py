"""Translate filter expressions into SQL for a backend.

Property names are checked against the collection's schema and only ever reach SQL as
quoted identifiers taken from that schema; every value is a bound parameter.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shapely.geometry.base import BaseGeometry

from twin.errors import SchemaError
from twin.store.base import INT64_MAX, INT64_MIN, CollectionSpec, FieldType
from twin.store.filters import (
    And,
    Compare,
    CompareOp,
    Expr,
    In,
    IsNull,
    Like,
    Not,
    Or,
    Spatial,
    SpatialOp,
    Temporal,
    TemporalOp,
)

__all__ = ["SYSTEM_FIELDS", "SqlBuilder"]

#: Names every collection can be filtered and sorted on, besides its schema fields.
SYSTEM_FIELDS: dict[str, tuple[str, FieldType]] = {
    "id": ("feature_id", FieldType.STRING),
    "version": ("version", FieldType.INTEGER),
    "valid_from": ("valid_from", FieldType.DATETIME),
    "valid_to": ("valid_to", FieldType.DATETIME),
    "recorded_at": ("recorded_at", FieldType.DATETIME),
}


@dataclass
class SqlBuilder:
    """Collects SQL fragments and their bound parameters for one query.

    ``spatial`` turns (op, geometry, param-adder) into SQL; ``value`` converts a
    coerced Python value into the backend's parameter for a field type.
    """

    spec: CollectionSpec
    alias: str
    spatial: Callable[[SpatialOp, BaseGeometry, SqlBuilder], str]
    value: Callable[[Any, FieldType], Any]
    versions: bool = False
    params: dict[str, Any] = field(default_factory=dict)

    def param(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def column(self, name: str, *, purpose: str = "filter") -> tuple[str, FieldType]:
        """Quoted column and type of a schema or system field; SchemaError otherwise."""
        if name in SYSTEM_FIELDS:
            col, ftype = SYSTEM_FIELDS[name]
            if col == "valid_to" and not self.versions:
                return "NULL", ftype
            return f'{self.alias}."{col}"', ftype
        f = self.spec.field_map().get(name)
        if f is None:
            choices = sorted([*self.spec.field_map(), *SYSTEM_FIELDS])
            msg = (
                f"{purpose} names the property {name!r}, which collection "
                f"{self.spec.name!r} does not have; choose one of {choices}"
            )
            raise SchemaError(msg)
        if f.type is FieldType.JSON and purpose != "isnull":
            msg = f"property {name!r} of {self.spec.name!r} is JSON and cannot be used to {purpose}"
            raise SchemaError(msg)
        return f'{self.alias}."{name}"', f.type

    def _literal(self, value: Any, ftype: FieldType, name: str) -> str:
        from twin.store._validate import _coerce

        if (
            ftype is FieldType.INTEGER
            and isinstance(value, float)
            and math.isfinite(value)
            and not value.is_integer()
        ):
            ftype = FieldType.NUMBER  # capacity > 10.5 compares numbers; it matches no = 10.5

        if ftype is FieldType.STRING and not isinstance(value, str):
            msg = (
                f"filter compares property {name!r} ({ftype}) with {value!r}, which is not a string"
            )
            raise SchemaError(msg)
        try:
            coerced = _coerce(value, ftype, fid="the filter", key=name)
        except SchemaError as exc:
            msg = f"filter compares property {name!r} ({ftype}) with {value!r}"
            if "64-bit" in str(exc):
                msg += f", outside the 64-bit integer range {INT64_MIN}..{INT64_MAX}"
            raise SchemaError(msg) from None
        return self.param(self.value(coerced, ftype))

    def compile(self, expr: Expr) -> str:
        match expr:
            case Compare(field=name, op=op, value=value):
                col, ftype = self.column(name)
                if value is None:
                    if op is CompareOp.EQ:
                        return f"{col} IS NULL"
                    if op is CompareOp.NE:
                        return f"{col} IS NOT NULL"
                return f"{col} {CompareOp(op).value} {self._literal(value, ftype, name)}"
            case In(field=name, values=values):
                col, ftype = self.column(name)
                if not values:
                    return "1 = 0"
                items = ", ".join(self._literal(v, ftype, name) for v in values)
                return f"{col} IN ({items})"
            case Like(field=name, pattern=pattern, case_insensitive=ci):
                col, ftype = self.column(name, purpose="match a pattern")
                if ftype is not FieldType.STRING:
                    msg = f"LIKE needs a string property; {name!r} is {ftype}"
                    raise SchemaError(msg)
                p = self.param(pattern.lower() if ci else pattern)
                return f"lower({col}) LIKE {p}" if ci else f"{col} LIKE {p}"
            case IsNull(field=name):
                col, _ = self.column(name, purpose="isnull")
                return f"{col} IS NULL"
            case Spatial(op=op, geometry=geom):
                return self.spatial(SpatialOp(op), geom, self)
            case Temporal():
                return self._temporal(expr)
            case And(args=args):
                return "(" + " AND ".join(self.compile(a) for a in args) + ")" if args else "1 = 1"
            case Or(args=args):
                return "(" + " OR ".join(self.compile(a) for a in args) + ")" if args else "1 = 0"
            case Not(arg=arg):
                return f"NOT ({self.compile(arg)})"
        msg = f"not a filter expression: {expr!r}"
        raise SchemaError(msg)

    def _temporal(self, expr: Temporal) -> str:
        if expr.field == "valid_time":
            lo = f'{self.alias}."valid_from"'
            hi = f'{self.alias}."valid_to"' if self.versions else "NULL"
        else:
            col, ftype = self.column(expr.field)
            if ftype is not FieldType.DATETIME:
                msg = f"temporal filter needs a datetime property; {expr.field!r} is {ftype}"
                raise SchemaError(msg)
            lo = hi = col
        start = (
            None if expr.start is None else self.param(self.value(expr.start, FieldType.DATETIME))
        )
        end = None if expr.end is None else self.param(self.value(expr.end, FieldType.DATETIME))
        # [lo, hi] is the feature's time (hi NULL = still open); [start, end] the literal's.
        hi_open = f"({hi} IS NULL)" if hi != lo else "1 = 0"
        match TemporalOp(expr.op):
            case TemporalOp.AFTER:
                ref = end if end is not None else start
                return "1 = 0" if ref is None else f"{lo} > {ref}"
            case TemporalOp.BEFORE:
                ref = start if start is not None else end
                if ref is None:
                    return "1 = 0"
                return f"({hi} < {ref} AND NOT {hi_open})" if hi != lo else f"{lo} < {ref}"
            case TemporalOp.EQUALS:
                if start is None or end is None:
                    return "1 = 0"
                if hi == lo:
                    return f"({lo} = {start} AND {lo} = {end})"
                return f"({lo} = {start} AND {hi} = {end})"
            case TemporalOp.DURING:
                parts = []
                if start is not None:
                    parts.append(f"{lo} >= {start}")
                if end is not None:
                    parts.append(
                        f"({hi} <= {end} AND NOT {hi_open})" if hi != lo else f"{lo} <= {end}"
                    )
                return "(" + " AND ".join(parts) + ")" if parts else "1 = 1"
            case TemporalOp.INTERSECTS:
                parts = []
                if end is not None:
                    parts.append(f"{lo} <= {end}")
                if start is not None:
                    parts.append(
                        f"({hi_open} OR {hi} >= {start})" if hi != lo else f"{lo} >= {start}"
                    )
                return "(" + " AND ".join(parts) + ")" if parts else "1 = 1"
        msg = f"temporal operator {expr.op!r} is not supported"
        raise SchemaError(msg)
