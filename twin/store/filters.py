"""A small filter language that every backend compiles into its own query.

CQL2 (OGC API Features Part 3) and the Python API both produce these nodes; the store
translates them into SQL for its backend, so a filter never means fetching everything.
Property names are checked against the collection's schema before any SQL is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from shapely.geometry.base import BaseGeometry

from twin.errors import InvalidInput

__all__ = [
    "And",
    "Compare",
    "CompareOp",
    "Expr",
    "In",
    "IsNull",
    "Like",
    "Not",
    "Or",
    "Spatial",
    "SpatialOp",
    "Temporal",
    "TemporalOp",
    "fields_of",
]


class CompareOp(StrEnum):
    EQ = "="
    NE = "<>"
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="


class SpatialOp(StrEnum):
    INTERSECTS = "intersects"
    DISJOINT = "disjoint"
    CONTAINS = "contains"
    WITHIN = "within"
    TOUCHES = "touches"
    CROSSES = "crosses"
    OVERLAPS = "overlaps"
    EQUALS = "equals"


class TemporalOp(StrEnum):
    """Allen-style relations between a property's instant (or the valid time) and a
    literal instant or interval, reduced to what an instant-valued property can do."""

    AFTER = "after"
    BEFORE = "before"
    EQUALS = "equals"
    DURING = "during"
    INTERSECTS = "intersects"


def _op[E: StrEnum](kind: type[E], op: Any, what: str) -> E:
    """``op`` as a member of ``kind``; InvalidInput naming the allowed operators otherwise."""
    try:
        return kind(op)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in kind)
        msg = f"{what} operator {op!r} is not one of {allowed}"
        raise InvalidInput(msg) from None


@dataclass(frozen=True)
class Compare:
    field: str
    op: CompareOp
    value: Any

    def __post_init__(self) -> None:
        object.__setattr__(self, "op", _op(CompareOp, self.op, "comparison"))


@dataclass(frozen=True)
class In:
    field: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Like:
    field: str
    pattern: str
    case_insensitive: bool = False


@dataclass(frozen=True)
class IsNull:
    field: str


@dataclass(frozen=True)
class Spatial:
    """A spatial predicate between the feature's geometry and a literal (CRS84)."""

    op: SpatialOp
    geometry: BaseGeometry

    def __post_init__(self) -> None:
        object.__setattr__(self, "op", _op(SpatialOp, self.op, "spatial"))


@dataclass(frozen=True)
class Temporal:
    """A temporal predicate between a datetime field and a literal.

    ``field`` may be a schema field of type datetime, or ``"valid_time"``: the version's
    validity ``[valid_from, valid_to)``. ``start == end`` is an instant.
    """

    field: str
    op: TemporalOp
    start: datetime | None
    end: datetime | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "op", _op(TemporalOp, self.op, "temporal"))


@dataclass(frozen=True)
class And:
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Not:
    arg: Expr


Expr = Compare | In | Like | IsNull | Spatial | Temporal | And | Or | Not


def fields_of(expr: Expr | Sequence[Expr] | None) -> set[str]:
    """Return every property name an expression reads."""
    if expr is None:
        return set()
    if isinstance(expr, Sequence):
        out: set[str] = set()
        for e in expr:
            out |= fields_of(e)
        return out
    match expr:
        case Compare(field=f) | In(field=f) | Like(field=f) | IsNull(field=f):
            return {f}
        case Temporal(field=f):
            return {f}
        case Spatial():
            return set()
        case And(args=a) | Or(args=a):
            return fields_of(list(a))
        case Not(arg=a):
            return fields_of(a)
    msg = f"not a filter expression: {expr!r}"
    raise TypeError(msg)
