"""Instants and intervals of valid time.

The twin keeps every time in UTC with millisecond precision, the precision of a
GeoPackage ``DATETIME``. Parsing follows RFC 3339 and the OGC API ``datetime``
parameter: an instant, or an interval ``start/end`` whose ends may be open (``..`` or
empty).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from twin.errors import InvalidInterval

__all__ = [
    "Instant",
    "Interval",
    "TimeSpec",
    "check_datetime",
    "format_time",
    "now",
    "parse_datetime",
    "parse_time",
]

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: RFC 3339 ``date-time`` (a missing offset means UTC); fromisoformat alone also takes
#: ISO 8601 forms such as ``20240101`` or ``2024-W01`` that RFC 3339 does not allow.
_DATETIME_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?$", re.ASCII
)


def now() -> datetime:
    """The current UTC time, truncated to milliseconds."""
    return truncate(datetime.now(UTC))


def truncate(t: datetime) -> datetime:
    """Return ``t`` in UTC with its microseconds cut to whole milliseconds."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    t = t.astimezone(UTC)
    return t.replace(microsecond=(t.microsecond // 1000) * 1000)


def format_time(t: datetime) -> str:
    """Format a time as the fixed-width ``YYYY-MM-DDTHH:MM:SS.sssZ`` the store keeps.

    Fixed width makes the text order the time order.

    Examples
    --------
    >>> format_time(datetime(2024, 5, 1, 12, 0, tzinfo=UTC))
    '2024-05-01T12:00:00.000Z'
    """
    t = truncate(t)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def parse_datetime(text: str | datetime, *, name: str = "datetime") -> datetime:
    """Parse one RFC 3339 date-time (or a bare date, meaning its midnight UTC).

    Raises
    ------
    InvalidInterval
        When ``text`` is not a date-time, or is one whose UTC time falls outside the
        years 1..9999 (``0001-01-01T00:00:00+14:00``); the message names ``name`` and
        the value.
    """
    if isinstance(text, datetime):
        return _in_utc(text, text, name)
    s = str(text).strip()
    try:
        if _DATE_RE.match(s) and s.isascii():
            d = date.fromisoformat(s)
            return datetime(d.year, d.month, d.day, tzinfo=UTC)
        if not _DATETIME_RE.match(s):
            raise ValueError(s)
        t = datetime.fromisoformat(s.replace("z", "Z"))
    except ValueError:
        msg = f"{name}={text!r} is not an RFC 3339 date-time such as '2024-05-01T12:00:00Z'"
        raise InvalidInterval(msg) from None
    return _in_utc(t, text, name)


def _in_utc(t: datetime, text: str | datetime, name: str) -> datetime:
    """``truncate(t)``, or InvalidInterval naming ``name`` when UTC cannot hold it."""
    try:
        return truncate(t)
    except OverflowError:
        msg = f"{name}={str(text)!r} is out of range: in UTC it falls outside the years 1..9999"
        raise InvalidInterval(msg) from None


def check_datetime(value: object, what: str, *, optional: bool = False) -> datetime | None:
    """``value`` in UTC (ms) if it is a datetime (or an allowed None); InvalidInterval otherwise.

    For times handed to the Python API, where text is not parsed: ``what`` names the value.
    """
    if value is None and optional:
        return None
    if not isinstance(value, datetime):
        msg = (
            f"{what}={value!r} must be a datetime{' or None' if optional else ''} "
            "(twin.temporal.parse_datetime makes one from text)"
        )
        raise InvalidInterval(msg)
    return _in_utc(value, value, what)


@dataclass(frozen=True)
class Instant:
    """One moment: 'the city at that instant'."""

    at: datetime

    def __post_init__(self) -> None:
        check_datetime(self.at, "instant", optional=False)


@dataclass(frozen=True)
class Interval:
    """A closed interval of time; ``None`` at an end means open on that side."""

    start: datetime | None
    end: datetime | None

    def __post_init__(self) -> None:
        # naive ends are UTC, as everywhere in the twin; compare them in UTC
        start = check_datetime(self.start, "interval start", optional=True)
        end = check_datetime(self.end, "interval end", optional=True)
        if start is not None and end is not None and end < start:
            msg = f"interval end {format_time(end)!r} precedes its start {format_time(start)!r}"
            raise InvalidInterval(msg)

    @property
    def duration(self) -> timedelta | None:
        if self.start is None or self.end is None:
            return None
        return truncate(self.end) - truncate(self.start)


TimeSpec = Instant | Interval | None
"""What a read asks for: ``None`` is now (current state)."""


def parse_time(text: str | None, *, name: str = "datetime") -> TimeSpec:
    """Parse the OGC API ``datetime`` parameter.

    Examples
    --------
    >>> parse_time("2024-01-01/..")
    Interval(start=datetime.datetime(2024, 1, 1, 0, 0, tzinfo=datetime.timezone.utc), end=None)
    >>> parse_time(None) is None
    True
    """
    if text is None:
        return None
    s = str(text).strip()
    if not s:
        msg = f"{name}={text!r} is empty; give an instant or an interval 'start/end'"
        raise InvalidInterval(msg)
    if "/" not in s:
        return Instant(parse_datetime(s, name=name))
    parts = s.split("/")
    if len(parts) != 2:
        msg = f"{name}={text!r} has {len(parts) - 1} '/'; an interval is 'start/end'"
        raise InvalidInterval(msg)
    a, b = (p.strip() for p in parts)
    start = None if a in ("", "..") else parse_datetime(a, name=name)
    end = None if b in ("", "..") else parse_datetime(b, name=name)
    if start is None and end is None:
        msg = f"{name}={text!r} is open at both ends; close at least one"
        raise InvalidInterval(msg)
    return Interval(start, end)
