"""Parsing of OSM tag values into numbers: counts, lengths, diameters, speed limits.

Every parser returns ``None`` for a value it cannot read with confidence rather than
guessing; the raw value always stays in the feature's ``tags``.
"""

from __future__ import annotations

import re

__all__ = [
    "parse_diameter_mm",
    "parse_int",
    "parse_length_m",
    "parse_maxspeed",
    "parse_number",
    "parse_oneway",
]

_NUM = r"(\d+(?:[.,]\d+)?)"
_INT_RE = re.compile(r"^\+?(\d+)(?:\.0*)?$")
_NUMBER_RE = re.compile(rf"^[+-]?{_NUM}$")
_LENGTH_RE = re.compile(rf"^{_NUM}\s*(m|metres?|meters?|ft|feet|'|cm|km)?$")
_FEET_INCHES_RE = re.compile(r"^(\d+)\s*'\s*(\d+(?:\.\d+)?)\s*\"$")
_DIAMETER_RE = re.compile(rf"^(?:dn\s*|[øØ⌀]\s*)?{_NUM}\s*(mm|cm|m|in|inch|inches|\"|'')?$")
#: "1,200" (mm): a comma before three digits groups thousands.
_THOUSANDS_RE = re.compile(r"^[1-9]\d{0,2},\d{3}$")
#: The widest pipe taken at its word, in millimetres; a wider one is a typo.
MAX_DIAMETER_MM = 10_000.0
_SPEED_RE = re.compile(rf"^{_NUM}\s*(km/h|kmh|kph|mph|knots)?$")
_ZONE_RE = re.compile(r"^([a-z]{2}):zone:?(\d+)$")

_MPH = 1.609344
_KNOT = 1.852

#: Implicit limits (km/h) of ``maxspeed=<country>:<type>`` values; urban is 50 in every
#: country listed, so only the exceptions are spelled out per country.
_IMPLICIT: dict[str, dict[str, float]] = {
    "AT": {"rural": 100, "trunk": 100, "motorway": 130},
    "BE": {"rural": 70, "trunk": 120, "motorway": 120},
    "CH": {"rural": 80, "trunk": 100, "motorway": 120},
    "CZ": {"rural": 90, "trunk": 110, "motorway": 130},
    "DE": {"rural": 100, "living_street": 7, "bicycle_road": 30},
    "DK": {"rural": 80, "motorway": 130},
    "EE": {"rural": 90, "motorway": 110},
    "ES": {"rural": 90, "trunk": 100, "motorway": 120},
    "FI": {"rural": 80, "trunk": 100, "motorway": 120, "living_street": 20},
    "FR": {"rural": 80, "trunk": 110, "motorway": 130, "zone30": 30},
    "GB": {"nsl_single": 60 * _MPH, "nsl_dual": 70 * _MPH, "motorway": 70 * _MPH},
    "IT": {"rural": 90, "trunk": 110, "motorway": 130},
    "NL": {"rural": 80, "trunk": 100, "motorway": 130},
    "NO": {"rural": 80, "motorway": 110},
    "PL": {"rural": 90, "trunk": 120, "motorway": 140},
    "PT": {"rural": 90, "trunk": 100, "motorway": 120},
    "RU": {"rural": 90, "motorway": 110, "living_street": 20},
    "SE": {"rural": 70, "motorway": 110},
}


def _float(text: str) -> float:
    return float(text.replace(",", "."))


def parse_int(value: str | None) -> int | None:
    """Read a non-negative whole number (``"4"``, ``"4.0"``); anything else is ``None``.

    Examples
    --------
    >>> parse_int("4"), parse_int(" 12 "), parse_int("2.5"), parse_int("2;3")
    (4, 12, None, None)
    """
    if value is None:
        return None
    m = _INT_RE.match(value.strip())
    return int(m.group(1)) if m else None


def parse_number(value: str | None) -> float | None:
    """Read a plain decimal number (``"2.5"``, ``"2,5"``); anything else is ``None``.

    Examples
    --------
    >>> parse_number("2,5"), parse_number("-3"), parse_number("high")
    (2.5, -3.0, None)
    """
    if value is None:
        return None
    text = value.strip()
    m = _NUMBER_RE.match(text)
    if not m:
        return None
    number = _float(m.group(1))
    return -number if text.startswith("-") else number


def parse_length_m(value: str | None) -> float | None:
    """Read a length (a height, say) in metres: ``"12"``, ``"12.5 m"``, ``"40 ft"``, ``5'6"``.

    Examples
    --------
    >>> parse_length_m("12.5 m"), parse_length_m("10 ft"), parse_length_m("tall")
    (12.5, 3.048, None)
    """
    if value is None:
        return None
    text = value.strip().lower()
    m = _FEET_INCHES_RE.match(text)
    if m:
        return round(int(m.group(1)) * 0.3048 + float(m.group(2)) * 0.0254, 3)
    m = _LENGTH_RE.match(text)
    if not m:
        return None
    number = _float(m.group(1))
    unit = m.group(2) or "m"
    scale = {"ft": 0.3048, "feet": 0.3048, "'": 0.3048, "cm": 0.01, "km": 1000.0}.get(unit, 1.0)
    return round(number * scale, 3)


def parse_diameter_mm(value: str | None) -> float | None:
    """Read a pipe diameter in millimetres: ``"300"``, ``"DN300"``, ``"Ø300"``, ``"0.3 m"``,
    ``'12"'``.

    A bare number is taken as millimetres, as OSM documents; in millimetres a comma before
    three digits groups thousands (``"1,200"``). No diameter, or one over
    :data:`MAX_DIAMETER_MM`, is ``None``.

    Examples
    --------
    >>> parse_diameter_mm("DN 150"), parse_diameter_mm("0.3 m"), parse_diameter_mm('4"')
    (150.0, 300.0, 101.6)
    >>> parse_diameter_mm("1,200"), parse_diameter_mm("1,2 m"), parse_diameter_mm("0")
    (1200.0, 1200.0, None)
    """
    if value is None:
        return None
    m = _DIAMETER_RE.match(value.strip().lower())
    if not m:
        return None
    unit = m.group(2) or "mm"
    text = m.group(1)
    if unit == "mm" and _THOUSANDS_RE.match(text):
        text = text.replace(",", "")
    scale = {"mm": 1.0, "cm": 10.0, "m": 1000.0}.get(unit, 25.4)
    mm = round(_float(text) * scale, 3)
    return mm if 0 < mm <= MAX_DIAMETER_MM else None


def parse_maxspeed(value: str | None) -> float | None:
    """Read a speed limit in km/h.

    Understands numbers (``"50"``, ``"50 km/h"``), other units (``"30 mph"``,
    ``"10 knots"``), zones (``"DE:zone30"``, ``"DE:zone:30"``) and the implicit limits of
    common countries (``"FI:urban"``, ``"PT:rural"``, ``"GB:nsl_single"``). ``"none"``
    (no limit), ``"walk"``, ``"signals"``, several values and unknown codes are ``None``.

    Examples
    --------
    >>> parse_maxspeed("50"), parse_maxspeed("30 mph"), parse_maxspeed("FI:urban")
    (50.0, 48.28, 50.0)
    >>> parse_maxspeed("none") is None, parse_maxspeed("XX:rural") is None
    (True, True)
    """
    if value is None:
        return None
    text = value.strip().lower()
    m = _SPEED_RE.match(text)
    if m:
        number = _float(m.group(1))
        unit = m.group(2) or "km/h"
        factor = {"mph": _MPH, "knots": _KNOT}.get(unit, 1.0)
        return round(number * factor, 2)
    m = _ZONE_RE.match(text)
    if m:
        return float(m.group(2))
    country, sep, kind = text.partition(":")
    if not sep or len(country) != 2:
        return None
    table = _IMPLICIT.get(country.upper())
    if table is None:
        return None
    if kind == "urban":
        return 50.0
    speed = table.get(kind)
    return None if speed is None else round(float(speed), 2)


def parse_oneway(tags: dict[str, str]) -> tuple[bool | None, bool]:
    """Return ``(oneway, reverse)`` for a highway's tags.

    ``reverse`` is true for ``oneway=-1``: the way is one-way against its drawing
    direction. Without a ``oneway`` tag, roundabouts and motorways are one-way and
    other ways are not; ``reversible`` and ``alternating`` give ``None``.

    Examples
    --------
    >>> parse_oneway({"oneway": "yes"}), parse_oneway({"oneway": "-1"})
    ((True, False), (True, True))
    >>> parse_oneway({"junction": "roundabout"}), parse_oneway({})
    ((True, False), (False, False))
    """
    value = tags.get("oneway")
    if value is None:
        implied = tags.get("junction") in ("roundabout", "circular") or tags.get("highway") in (
            "motorway",
            "motorway_link",
        )
        return implied, False
    value = value.strip().lower()
    if value in ("yes", "true", "1"):
        return True, False
    if value in ("-1", "reverse"):
        return True, True
    if value in ("no", "false", "0"):
        return False, False
    return None, False
