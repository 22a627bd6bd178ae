"""Reading units, floors and doors from OSM tags, for the levels below the doorplate.

Pure functions of tag values; each returns ``None`` for a value it cannot read, and the
caller reports it as an issue.

Floors are numbered as signposted in Finland and China: the ground floor is 1, the first
basement -1 (B1). ``addr:floor`` is read that way (``0`` is taken as the ground floor, as
some countries number it). ``level`` follows the OSM convention, 0 for the ground floor,
so ``level=0`` is floor 1 and ``level=2`` floor 3; negative levels are basements as they
are. An object on several levels (``level=1;2``) is on the lowest.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_FLATS",
    "UnitText",
    "door_key",
    "expand_flats",
    "floor_from_tags",
    "floor_in_text",
    "natural_key",
    "read_unit",
    "ref_key",
]

MAX_FLATS = 500
"""A range in ``addr:flats`` (``1-12``) longer than this is not expanded."""

_REF = re.compile(r"^(?:[A-Za-zÅÄÖåäö]|\d{1,3}[A-Za-z]?)$")
_UNIT = re.compile(
    r"^(?P<ref>[A-ZÅÄÖ]|[a-zåäö]|\d{1,3}[A-Z]?)(?:\s+(?P<door>\d{1,4}(?:\s?[a-z])?))?$"
)
_FLOOR_WORD = re.compile(
    r"(?:(?<![\d-])(?P<a>-?\d{1,3})\s*\.?\s*(?:krs|kerros|vån(?:ing(?:en)?)?|floor)\b"
    r"|\b(?:floor|krs|kerros|vån(?:ing(?:en)?)?)\.?\s*(?P<b>-?\d{1,3})(?!\d))",
    re.IGNORECASE,
)
_INT = re.compile(r"^\s*(-?\d{1,3})\s*$")
_DOOR = re.compile(r"^[0-9A-Za-zÅÄÖåäö][0-9A-Za-zÅÄÖåäö ./-]{0,11}$")
_FLAT_RANGE = re.compile(r"^\s*(\d{1,4})\s*-\s*(\d{1,4})\s*$")


@dataclass(frozen=True, slots=True)
class UnitText:
    """What an ``addr:unit`` value names: a staircase, a door on it, or a floor."""

    ref: str | None = None
    door: str | None = None
    floor: int | None = None


def natural_key(text: str) -> tuple[tuple[int, int, str], ...]:
    """Sort key that orders digits as numbers: ``A, B, 2, 10`` -> ``2, 10, A, B``.

    Examples
    --------
    >>> sorted(["10", "B", "2", "A"], key=natural_key)
    ['2', '10', 'A', 'B']
    """
    return tuple(
        (0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.findall(r"\d+|\D+", text)
    )


def ref_key(text: Any) -> str | None:
    """Return a staircase letter or number as a key (``b`` -> ``B``), ``None`` if unreadable.

    Examples
    --------
    >>> ref_key(" b "), ref_key("45H"), ref_key("Metro A")
    ('B', '45H', None)
    """
    if not isinstance(text, str):
        return None
    t = text.strip()
    return t.upper() if _REF.fullmatch(t) else None


def door_key(text: Any) -> str | None:
    """Return a door or flat number as a key (``12 a`` -> ``12A``), ``None`` if unreadable.

    Examples
    --------
    >>> door_key("12 a"), door_key(""), door_key("c/o somebody, 3rd floor")
    ('12A', None, None)
    """
    if not isinstance(text, str):
        return None
    t = " ".join(text.split())
    if not _DOOR.fullmatch(t):
        return None
    return re.sub(r"\s+", "", t).upper()


def read_unit(text: Any) -> UnitText | None:
    """Read an ``addr:unit`` value: ``B``, ``A 260`` (staircase and flat), ``6. krs``.

    Examples
    --------
    >>> read_unit("A 260")
    UnitText(ref='A', door='260', floor=None)
    >>> read_unit("6. krs")
    UnitText(ref=None, door=None, floor=6)
    >>> read_unit("c/o Business Park") is None
    True
    """
    if not isinstance(text, str) or not text.strip():
        return None
    t = " ".join(text.split())
    m = _UNIT.fullmatch(t)
    if m:
        return UnitText(ref=m["ref"].upper(), door=m["door"])
    floor = floor_in_text(t)
    if floor is not None and _FLOOR_WORD.sub("", t).strip(" .,;/") == "":
        return UnitText(floor=floor)
    return None


def floor_in_text(text: Any) -> int | None:
    """The floor named in free text: ``2. krs``, ``Floor 2``, ``3 vån`` (``None`` if none).

    Examples
    --------
    >>> floor_in_text("2. krs./Floor 2"), floor_in_text("krs 0"), floor_in_text("B-rappu")
    (2, 1, None)
    """
    if not isinstance(text, str):
        return None
    m = _FLOOR_WORD.search(text)
    if m is None:
        return None
    return _signposted(int(m["a"] if m["a"] is not None else m["b"]))


def _signposted(n: int) -> int:
    """A floor as signposted, 0 read as the ground floor (1)."""
    return 1 if n == 0 else n


def floor_from_tags(tags: Mapping[str, Any]) -> tuple[int | None, str | None, str | None]:
    """The floor of an object from ``addr:floor`` or ``level``.

    Returns
    -------
    tuple
        ``(floor, source tag, unread value)``: the floor number and the tag it comes
        from, or ``(None, None, value)`` when a tag is there but cannot be read, or
        ``(None, None, None)`` when the object names no floor.

    Examples
    --------
    >>> floor_from_tags({"level": "0"}), floor_from_tags({"level": "1;2"})
    ((1, 'level', None), (2, 'level', None))
    >>> floor_from_tags({"addr:floor": "4"}), floor_from_tags({"level": "-1"})
    ((4, 'addr:floor', None), (-1, 'level', None))
    >>> floor_from_tags({"level": "M"})
    (None, None, 'level=M')
    """
    raw = tags.get("addr:floor")
    if isinstance(raw, str) and raw.strip():
        m = _INT.match(raw)
        if m:
            return _signposted(int(m[1])), "addr:floor", None
        floor = floor_in_text(raw)
        if floor is not None:
            return floor, "addr:floor", None
        return None, None, f"addr:floor={raw}"
    raw = tags.get("level")
    if isinstance(raw, str) and raw.strip():
        values = [_INT.match(v) for v in raw.split(";")]
        if all(values):
            lowest = min(int(v[1]) for v in values if v)
            return (lowest + 1 if lowest >= 0 else lowest), "level", None
        return None, None, f"level={raw}"
    return None, None, None


def expand_flats(text: Any) -> list[str] | None:
    """The flats of an ``addr:flats`` value: ``1-3;5`` -> ``['1', '2', '3', '5']``.

    ``None`` when a part cannot be read or a range holds more than :data:`MAX_FLATS`.

    Examples
    --------
    >>> expand_flats("1-3;5"), expand_flats("7-1"), expand_flats("A1-A9")
    (['1', '2', '3', '5'], None, None)
    """
    if not isinstance(text, str) or not text.strip():
        return None
    out: list[str] = []
    for part in text.replace(",", ";").split(";"):
        part = part.strip()
        if not part:
            continue
        m = _FLAT_RANGE.match(part)
        if m:
            lo, hi = int(m[1]), int(m[2])
            if not lo <= hi or hi - lo + 1 > MAX_FLATS:
                return None
            out.extend(str(n) for n in range(lo, hi + 1))
        elif "-" not in part and door_key(part) is not None:
            out.append(" ".join(part.split()))
        else:
            return None
    return sorted(set(out), key=natural_key) or None
