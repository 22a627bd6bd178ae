"""CQL2 (OGC API Features Part 3) into the store's filter language.

Both encodings are parsed by the ``cql2`` library into CQL2-JSON, which is then
translated node by node into :mod:`twin.store.filters`; the store compiles that into
SQL (PostGIS) or its indexed query (GeoPackage), so a filter never means fetching
everything. Every property a filter names is checked against the collection's
queryables here, so an unknown one is a 400 that names it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

from twin.crs import CRS84, check_bounds
from twin.errors import InvalidInput
from twin.service._cql_limits import check_json, check_text, check_tree
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
from twin.temporal import parse_datetime

__all__ = ["FILTER_LANGS", "GEOMETRY_NAMES", "parse_filter", "queryable_names"]

FILTER_LANGS = ("cql2-text", "cql2-json")
#: Names a filter may use for the feature's geometry.
GEOMETRY_NAMES = frozenset({"geometry", "geom"})
#: Names of the store's own fields that every collection can be filtered on.
SYSTEM_QUERYABLES: dict[str, FieldType] = {
    "id": FieldType.STRING,
    "version": FieldType.INTEGER,
    "valid_from": FieldType.DATETIME,
    "valid_to": FieldType.DATETIME,
    "valid_time": FieldType.DATETIME,
}

_COMPARE = {
    "=": CompareOp.EQ,
    "<>": CompareOp.NE,
    "<": CompareOp.LT,
    "<=": CompareOp.LE,
    ">": CompareOp.GT,
    ">=": CompareOp.GE,
}
_FLIP = {
    CompareOp.LT: CompareOp.GT,
    CompareOp.LE: CompareOp.GE,
    CompareOp.GT: CompareOp.LT,
    CompareOp.GE: CompareOp.LE,
}
_SPATIAL = {f"s_{op.value}": op for op in SpatialOp}
_TEMPORAL = {
    "t_after": TemporalOp.AFTER,
    "t_before": TemporalOp.BEFORE,
    "t_equals": TemporalOp.EQUALS,
    "t_during": TemporalOp.DURING,
    "t_intersects": TemporalOp.INTERSECTS,
}


def queryable_names(spec: CollectionSpec) -> list[str]:
    """Every name a filter on ``spec`` may use, sorted."""
    names = {f.name for f in spec.fields if f.type is not FieldType.JSON}
    return sorted(names | set(SYSTEM_QUERYABLES) | {"geometry"})


def parse_filter(
    text: str,
    spec: CollectionSpec,
    *,
    lang: str | None = None,
    to_crs84: Any = None,
    crs: str = CRS84,
) -> Expr:
    """Parse a ``filter`` parameter into a store filter expression.

    Before the native parser sees it, the filter must meet the limits of
    :mod:`twin.service._cql_limits`: at most 64 KiB; in cql2-text brackets nested at most
    12 deep (fewer for long filters: 4 KiB at depth 8) and at most 256 ``NOT`` and
    arithmetic operators; in cql2-json JSON nested at most 64 deep; and in both, logical
    operators nested at most 32 deep.

    Parameters
    ----------
    text
        The filter, CQL2 text or CQL2 JSON.
    spec
        The collection filtered; its schema decides which names are queryable.
    lang
        ``"cql2-text"`` (the default, unless the text looks like JSON) or ``"cql2-json"``.
    to_crs84
        A function moving a literal geometry from ``filter-crs`` to CRS84, or None.
    crs
        The ``filter-crs``: literal geometries must lie within its valid range.

    Raises
    ------
    InvalidInput
        For a filter beyond the limits, a syntax error, an unknown property, a type
        mismatch, an empty or out-of-range geometry or an operator the twin does not
        support; the message names the parameter and the culprit.
    """
    if lang is not None and lang not in FILTER_LANGS:
        msg = f"filter-lang={lang!r} is not supported; choose one of {list(FILTER_LANGS)}"
        raise InvalidInput(msg)
    if lang is None:
        lang = "cql2-json" if text.lstrip().startswith("{") else "cql2-text"
    if lang == "cql2-json":
        check_json(text)
    else:
        check_text(text)
    tree = _parse(text, lang)
    check_tree(tree)
    return _Translator(spec, to_crs84, crs).node(tree)


def _parse(text: str, lang: str) -> Any:
    """The filter as CQL2-JSON objects, or InvalidInput saying what the parser expected."""
    import cql2

    try:
        parsed = cql2.parse_json(text) if lang == "cql2-json" else cql2.parse_text(text)
    except (cql2.ParseError, ValueError) as exc:
        msg = f"filter={text[:200]!r} is not valid {lang}: {_parse_error(str(exc), text)}"
        raise InvalidInput(msg) from None
    try:
        return parsed.to_json()
    except Exception as exc:  # the library raises a bare Exception for bad literals
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "a bad literal"
        if "EMPTY" in text.upper():
            reason += " (empty geometries such as POINT EMPTY are not accepted)"
        msg = f"filter={text[:200]!r} is not valid {lang}: {reason}"
        raise InvalidInput(msg) from None


_POSITION = re.compile(r"-->\s*(\d+):(\d+)")


def _parse_error(error: str, text: str) -> str:
    """The parser's error on one line: where, what it found there and what it expected.

    Examples
    --------
    >>> _parse_error(" --> 1:12\\n  |\\n1 | levels IN ()\\n  |   ^---\\n  |\\n  = expected Expr", "levels IN ()")
    "at line 1, column 12, found ')': expected Expr"
    """
    lines = [line.strip() for line in error.strip().splitlines() if line.strip()]
    if not lines:
        return "syntax error"
    where = _POSITION.search(lines[0])
    if where is None:
        return lines[0]
    row, col = int(where.group(1)), int(where.group(2))
    source = text.splitlines()[row - 1] if row <= len(text.splitlines()) else ""
    found = repr(source[col - 1]) if 0 < col <= len(source) else "the end of the filter"
    expected = [line.lstrip("= ").strip() for line in lines if line.startswith("=")]
    detail = "; ".join(expected) or "syntax error"
    return f"at line {row}, column {col}, found {found}: {detail}"


class _Translator:
    def __init__(self, spec: CollectionSpec, to_crs84: Any, crs: str = CRS84) -> None:
        self.spec = spec
        self.types = {f.name: f.type for f in spec.fields}
        self.to_crs84 = to_crs84
        self.crs = crs

    # -- nodes ---------------------------------------------------------------------
    def node(self, n: Any) -> Expr:
        if isinstance(n, bool):
            return _TRUE if n else Not(_TRUE)
        if not isinstance(n, Mapping) or "op" not in n:
            msg = f"filter has {_show(n)} where a condition was expected"
            raise InvalidInput(msg)
        op = str(n["op"]).lower()
        args = list(n.get("args", []))
        if op in ("and", "or"):
            parts = tuple(self.node(a) for a in args)
            return And(parts) if op == "and" else Or(parts)
        if op == "not":
            return Not(self.node(self._one(op, args)))
        if op in _COMPARE:
            return self.compare(op, args)
        if op == "between":
            self._arity(op, args, 3)
            name = self.prop(args[0])
            ftype = self.ftype(name)
            lo, hi = self.value(args[1], ftype, name), self.value(args[2], ftype, name)
            return And((Compare(name, CompareOp.GE, lo), Compare(name, CompareOp.LE, hi)))
        if op == "in":
            self._arity(op, args, 2)
            name = self.prop(args[0])
            if not isinstance(args[1], list):
                msg = f"filter IN on {name!r} needs a list of values, got {_show(args[1])}"
                raise InvalidInput(msg)
            ftype = self.ftype(name)
            return In(name, tuple(self.value(v, ftype, name) for v in args[1]))
        if op == "like":
            self._arity(op, args, 2)
            nocase = _is_casei(args[0]) or _is_casei(args[1])
            name = self.prop(_strip_casei(args[0]))
            pattern = _strip_casei(args[1])
            if not isinstance(pattern, str):
                msg = f"filter LIKE on {name!r} needs a text pattern, got {_show(pattern)}"
                raise InvalidInput(msg)
            if self.ftype(name) is not FieldType.STRING:
                msg = f"filter LIKE needs a text property; {name!r} is {self.ftype(name)}"
                raise InvalidInput(msg)
            return Like(name, pattern, case_insensitive=nocase)
        if op == "isnull":
            return IsNull(self.prop(self._one(op, args)))
        if op in _SPATIAL:
            return self.spatial(_SPATIAL[op], op, args)
        if op in _TEMPORAL or op.startswith("t_"):
            return self.temporal(op, args)
        msg = (
            f"filter operator {n['op']!r} is not supported; use comparisons, BETWEEN, IN, "
            "LIKE, IS NULL, AND/OR/NOT, S_* spatial and T_AFTER/T_BEFORE/T_EQUALS/"
            "T_DURING/T_INTERSECTS/T_DISJOINT temporal operators"
        )
        raise InvalidInput(msg)

    def compare(self, op: str, args: list[Any]) -> Expr:
        self._arity(op, args, 2)
        left, right = args
        if _is_casei(left) or _is_casei(right):
            return self.casei_compare(op, _strip_casei(left), _strip_casei(right))
        cop = _COMPARE[op]
        if not _is_prop(left) and _is_prop(right):
            left, right = right, left
            cop = _FLIP.get(cop, cop)
        name = self.prop(left)
        if _is_prop(right):
            msg = f"filter compares two properties ({name!r}, {right['property']!r}); compare a property with a value"
            raise InvalidInput(msg)
        return Compare(name, cop, self.value(right, self.ftype(name), name))

    def casei_compare(self, op: str, left: Any, right: Any) -> Expr:
        if not _is_prop(left):
            left, right = right, left
        name = self.prop(left)
        if op not in ("=", "<>") or not isinstance(right, str):
            msg = f"filter CASEI works with = and <> against text; got {op!r} and {_show(right)}"
            raise InvalidInput(msg)
        escaped = right.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = Like(name, escaped, case_insensitive=True)
        return like if op == "=" else Not(like)

    def spatial(self, sop: SpatialOp, op: str, args: list[Any]) -> Expr:
        self._arity(op, args, 2)
        left, right = args
        if not _is_prop(left):
            left, right = right, left
        if not _is_prop(left) or left["property"] not in GEOMETRY_NAMES:
            msg = (
                f"filter {op.upper()} compares {_show(left)}; its first argument must be the "
                "geometry property 'geometry'"
            )
            raise InvalidInput(msg)
        if sop in (SpatialOp.WITHIN, SpatialOp.CONTAINS) and args[0] is not left:
            sop = SpatialOp.CONTAINS if sop is SpatialOp.WITHIN else SpatialOp.WITHIN
        return Spatial(sop, self.geometry(right, op))

    def geometry(self, lit: Any, op: str) -> BaseGeometry:
        try:
            if isinstance(lit, Mapping) and "bbox" in lit:
                b = [float(v) for v in lit["bbox"]]
                b = b[:2] + b[3:5] if len(b) == 6 else b
                geom = shapely.box(*b)
            elif isinstance(lit, Mapping) and "type" in lit:
                geom = shapely.from_geojson(json.dumps(lit))
            else:
                raise ValueError
        except (ValueError, TypeError, shapely.errors.GEOSException):
            msg = f"filter {op.upper()} needs a geometry literal, got {_show(lit)}"
            raise InvalidInput(msg) from None
        if geom.is_empty:
            msg = f"filter {op.upper()} needs a non-empty geometry, got {_show(lit)}"
            raise InvalidInput(msg)
        check_bounds(geom, self.crs, name=f"filter {op.upper()} geometry", world=True)
        if self.to_crs84 is not None:
            geom = self.to_crs84(geom)
        return geom

    def temporal(self, op: str, args: list[Any]) -> Expr:
        self._arity(op, args, 2)
        left, right = args
        if not _is_prop(left):
            left, right = right, left
        name = self.prop(left)
        if self.ftype(name) is not FieldType.DATETIME:
            msg = f"filter {op.upper()} needs a datetime property; {name!r} is {self.ftype(name)}"
            raise InvalidInput(msg)
        start, end = self.time_literal(right, op)
        if op == "t_disjoint":
            return Not(Temporal(name, TemporalOp.INTERSECTS, start, end))
        if op not in _TEMPORAL:
            msg = (
                f"filter operator {op.upper()!r} is not supported; use T_AFTER, T_BEFORE, "
                "T_EQUALS, T_DURING, T_INTERSECTS or T_DISJOINT"
            )
            raise InvalidInput(msg)
        return Temporal(name, _TEMPORAL[op], start, end)

    def time_literal(self, lit: Any, op: str) -> tuple[datetime | None, datetime | None]:
        if isinstance(lit, Mapping):
            if "timestamp" in lit or "date" in lit:
                t = parse_datetime(str(lit.get("timestamp", lit.get("date"))), name="filter")
                return t, t
            if "interval" in lit and len(lit["interval"]) == 2:
                a, b = lit["interval"]
                ends = [
                    None if v in ("..", None) else parse_datetime(_time_text(v), name="filter")
                    for v in (a, b)
                ]
                return ends[0], ends[1]
        msg = f"filter {op.upper()} needs a TIMESTAMP, DATE or INTERVAL literal, got {_show(lit)}"
        raise InvalidInput(msg)

    # -- leaves --------------------------------------------------------------------
    def prop(self, n: Any) -> str:
        if not _is_prop(n):
            msg = f"filter has {_show(n)} where a property name was expected"
            raise InvalidInput(msg)
        name = str(n["property"])
        if name in self.types or name in SYSTEM_QUERYABLES:
            if self.types.get(name) is FieldType.JSON:
                msg = f"filter names the property {name!r}, which holds JSON and is not queryable"
                raise InvalidInput(msg)
            return name
        msg = (
            f"filter names the property {name!r}, which collection {self.spec.name!r} does "
            f"not have; choose one of {queryable_names(self.spec)}"
        )
        raise InvalidInput(msg)

    def ftype(self, name: str) -> FieldType:
        return self.types.get(name) or SYSTEM_QUERYABLES[name]

    def value(self, v: Any, ftype: FieldType, name: str) -> Any:
        if isinstance(v, Mapping) and ("timestamp" in v or "date" in v):
            v = v.get("timestamp", v.get("date"))
        bad = f"filter compares property {name!r} ({ftype}) with {_show(v)}"
        if v is None or isinstance(v, Mapping | list):
            raise InvalidInput(bad)
        match ftype:
            case FieldType.INTEGER:
                if isinstance(v, bool) or not isinstance(v, int | float):
                    raise InvalidInput(bad)
                if not INT64_MIN <= v <= INT64_MAX:
                    msg = f"{bad}, outside the 64-bit integer range {INT64_MIN}..{INT64_MAX}"
                    raise InvalidInput(msg)
                return int(v) if float(v).is_integer() else float(v)
            case FieldType.NUMBER:
                if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                    raise InvalidInput(bad)
                return float(v)
            case FieldType.BOOLEAN:
                if not isinstance(v, bool):
                    raise InvalidInput(bad)
                return v
            case FieldType.DATETIME:
                return parse_datetime(str(v), name=f"filter value for {name!r}")
        if not isinstance(v, str):
            raise InvalidInput(bad)
        return v

    @staticmethod
    def _arity(op: str, args: Sequence[Any], n: int) -> None:
        if len(args) != n:
            msg = f"filter operator {op!r} takes {n} arguments, got {len(args)}"
            raise InvalidInput(msg)

    def _one(self, op: str, args: Sequence[Any]) -> Any:
        self._arity(op, args, 1)
        return args[0]


_TRUE = Not(IsNull("id"))


def _is_prop(n: Any) -> bool:
    return isinstance(n, Mapping) and "property" in n


def _is_casei(n: Any) -> bool:
    return isinstance(n, Mapping) and str(n.get("op", "")).lower() == "casei"


def _strip_casei(n: Any) -> Any:
    return n["args"][0] if _is_casei(n) and n.get("args") else n


def _time_text(v: Any) -> str:
    if isinstance(v, Mapping):
        return str(v.get("timestamp", v.get("date")))
    return str(v)


def _show(v: Any) -> str:
    text = json.dumps(v, default=str) if not isinstance(v, str) else repr(v)
    return text if len(text) <= 80 else text[:77] + "..."
