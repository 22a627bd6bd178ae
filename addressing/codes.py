"""Standard address codes.

Every standard address has one code that never changes meaning. The code follows the
hierarchy of the address, in the manner of GB/T 23705 and GA/T 2000.32: a 12-digit
division code (GB/T 2260 county, township, community) followed by the street, the
doorplate, the building, the unit, the floor and the room, and one check character.

=========  ======  ==================================================================
part       digits  meaning
=========  ======  ==================================================================
division   12      GB/T 2260 county (6), township or street office (3), community (3)
street     5       serial of the street or road within the division, 00000 = none
doorplate  5       serial of the doorplate (house number) on its street, 00000 = none
building   3       building within the doorplate, 000 = the doorplate itself
unit       2       unit (单元, staircase) within the building, 00 = none
floor      3       000 none, 001-899 floors above ground, 901-999 basements B1-B99
room       4       room on the floor, 0000 = none
check      1       ISO 7064 MOD 11-2 over the 34 digits (0-9 or X)
=========  ======  ==================================================================

The division is the GB/T 2260 code of the county (6 digits), the township or street
office (3) and the community (3) in Chinese cities. Elsewhere it is a configured
12-digit prefix built by :func:`division_code`: the ISO 3166-1 numeric code of the
country (3 digits), the national code of the municipality (3), and six digits of a
district inside it, zeros when the city is not divided. Helsinki is ``246091000000``
(Finland 246, Helsinki municipality 091), :data:`HELSINKI`.

The street and doorplate parts are serials, not the street's or the house's number:
the registry issues them in order (``00001``, ``00002``...) and never issues one twice,
so a house renumbered from 5 to 7 keeps its code and a retired address keeps its code
for ever. The house number itself is a property of the address.

The check character is ISO 7064 MOD 11-2 (the one of the Chinese identity number): it
catches every single changed digit and every swap of two neighbouring digits.

Written plainly the code is 35 characters; :meth:`AddressCode.display` groups them
with dashes: ``330106001001-00012-00900-001-02-012-1201-X``. The *level* of a code is
its deepest non-zero part (a doorplate code has zeros below the doorplate); the code of
the level above is :meth:`AddressCode.parent`.

The floor part is not a serial but the floor itself: ``001``-``899`` are the floors
above ground counted from the ground floor (1), ``901``-``999`` the basements B1-B99,
``000`` no floor; ``900`` is not a floor. :func:`floor_serial` and :func:`floor_number`
convert between the floor number (negative below ground) and the serial.

Codes are issued by the address registry: a code is never reused, a renamed street or a
renumbered house gets a new version of the address with the old one kept and linked,
and a retired address keeps its code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace

from twin.errors import InvalidInput

__all__ = [
    "HELSINKI",
    "LEVELS",
    "AddressCode",
    "InvalidAddressCode",
    "check_character",
    "division_code",
    "floor_label",
    "floor_number",
    "floor_serial",
    "parse_code",
]

LEVELS: tuple[str, ...] = ("division", "street", "doorplate", "building", "unit", "floor", "room")
"""The levels of a standard address, from the widest to the narrowest."""

_WIDTHS = {
    "division": 12,
    "street": 5,
    "doorplate": 5,
    "building": 3,
    "unit": 2,
    "floor": 3,
    "room": 4,
}
_LENGTH = sum(_WIDTHS.values()) + 1

HELSINKI = "246091000000"
"""The division prefix of Helsinki: Finland (ISO 3166-1 numeric 246), municipality 091."""
_PLAIN = re.compile(r"[0-9]{34}[0-9X]")
_NOT_A_FLOOR = 900
_TOP_FLOOR = 899
_DEEPEST_BASEMENT = 99


class InvalidAddressCode(InvalidInput):
    """A standard address code that is malformed or fails its check character."""


def check_character(digits: str) -> str:
    """Return the ISO 7064 MOD 11-2 check character of a string of digits.

    Examples
    --------
    >>> check_character("11010519491231002")
    'X'
    """
    total = 0
    for ch in digits:
        total = (total + int(ch)) * 2 % 11
    value = (12 - total) % 11
    return "X" if value == 10 else str(value)


@dataclass(frozen=True, slots=True)
class AddressCode:
    """The parts of a standard address code.

    Attributes
    ----------
    division
        The 12-digit division code, such as ``"330106001001"``.
    street, doorplate, building, unit, floor, room
        The serials of the lower levels, 0 where the level is absent.
    """

    division: str
    street: int = 0
    doorplate: int = 0
    building: int = 0
    unit: int = 0
    floor: int = 0
    room: int = 0

    def __post_init__(self) -> None:
        if not (len(self.division) == 12 and self.division.isdigit()):
            msg = f"division={self.division!r} must be 12 digits (GB/T 2260 + township + community)"
            raise InvalidAddressCode(msg)
        for f in fields(self)[1:]:
            value = getattr(self, f.name)
            top = 10 ** _WIDTHS[f.name] - 1
            if not isinstance(value, int) or not 0 <= value <= top:
                msg = f"{f.name}={value!r} must be an integer from 0 to {top}"
                raise InvalidAddressCode(msg)
        if self.floor == _NOT_A_FLOOR:
            raise InvalidAddressCode(_floor_900())

    @property
    def digits(self) -> str:
        """The 34 digits of the code, without the check character."""
        return self.division + "".join(
            f"{getattr(self, name):0{_WIDTHS[name]}d}" for name in LEVELS[1:]
        )

    @property
    def code(self) -> str:
        """The code: 34 digits and the check character."""
        d = self.digits
        return d + check_character(d)

    @property
    def level(self) -> str:
        """The deepest level the code names (``"doorplate"``, ``"room"``...)."""
        deepest = "division"
        for name in LEVELS[1:]:
            if getattr(self, name):
                deepest = name
        return deepest

    @property
    def floor_number(self) -> int | None:
        """The floor as a number (``-1`` for B1), ``None`` when the code names no floor."""
        return floor_number(self.floor)

    def parent(self) -> AddressCode | None:
        """Return the code of the level above, or ``None`` for a division."""
        level = self.level
        if level == "division":
            return None
        changes: dict[str, int] = {level: 0}
        return replace(self, **changes)  # type: ignore[arg-type]

    def display(self) -> str:
        """Return the code with its parts separated by dashes."""
        d = self.digits
        parts, pos = [], 0
        for name in LEVELS:
            parts.append(d[pos : pos + _WIDTHS[name]])
            pos += _WIDTHS[name]
        return "-".join([*parts, check_character(d)])

    def __str__(self) -> str:
        return self.code


def _floor_900() -> str:
    return (
        f"floor serial {_NOT_A_FLOOR} is not a floor: 001-{_TOP_FLOOR} are floors above "
        f"ground, 901-999 basements B1-B{_DEEPEST_BASEMENT}, 000 no floor"
    )


def floor_serial(number: int) -> int:
    """Return the 3-digit floor serial of a floor number.

    Parameters
    ----------
    number
        The floor counted from the ground floor (1) upward, 1-899; basements are
        negative, -1 (B1) to -99 (B99). There is no floor 0.

    Returns
    -------
    int
        1-899 above ground, 901-999 below.

    Raises
    ------
    InvalidAddressCode
        ``number`` is 0, out of range or not an integer.

    Examples
    --------
    >>> floor_serial(12), floor_serial(-1), floor_serial(-99)
    (12, 901, 999)
    """
    if isinstance(number, bool) or not isinstance(number, int):
        msg = f"floor={number!r} must be an integer floor number (1-{_TOP_FLOOR}, or -1 to -99)"
        raise InvalidAddressCode(msg)
    if 1 <= number <= _TOP_FLOOR:
        return number
    if -_DEEPEST_BASEMENT <= number <= -1:
        return _NOT_A_FLOOR - number
    msg = (
        f"floor={number!r} is not a floor; floors above ground are 1 to {_TOP_FLOOR} (the "
        f"ground floor is 1) and basements -1 to -{_DEEPEST_BASEMENT} (B1-B{_DEEPEST_BASEMENT})"
    )
    raise InvalidAddressCode(msg)


def floor_number(serial: int) -> int | None:
    """Return the floor number of a 3-digit floor serial (``None`` for ``000``, no floor).

    Raises
    ------
    InvalidAddressCode
        ``serial`` is 900 or outside 0-999.

    Examples
    --------
    >>> floor_number(12), floor_number(901), floor_number(0)
    (12, -1, None)
    """
    if isinstance(serial, bool) or not isinstance(serial, int) or not 0 <= serial <= 999:
        msg = f"floor serial {serial!r} must be an integer from 0 to 999"
        raise InvalidAddressCode(msg)
    if serial == _NOT_A_FLOOR:
        raise InvalidAddressCode(_floor_900())
    if serial == 0:
        return None
    return serial if serial < _NOT_A_FLOOR else _NOT_A_FLOOR - serial


def floor_label(serial: int) -> str:
    """Return the floor of a serial as written on a plan: ``"12"``, ``"B1"``, ``""`` for none.

    Examples
    --------
    >>> floor_label(12), floor_label(903)
    ('12', 'B3')
    """
    number = floor_number(serial)
    if number is None:
        return ""
    return str(number) if number > 0 else f"B{-number}"


def division_code(country: int, municipality: int, district: int = 0) -> str:
    """Return the 12-digit division prefix of a city outside China.

    Parameters
    ----------
    country
        ISO 3166-1 numeric code of the country (Finland 246), 1-999.
    municipality
        The national code of the municipality (Helsinki 091), 0-999.
    district
        A district inside the municipality, 0-999999; 0 when it is not divided.

    Returns
    -------
    str
        12 digits.

    Raises
    ------
    InvalidAddressCode
        A part out of its range.

    Examples
    --------
    >>> division_code(246, 91)
    '246091000000'
    """
    for name, value, top, low in (
        ("country", country, 999, 1),
        ("municipality", municipality, 999, 0),
        ("district", district, 999999, 0),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= top:
            msg = f"{name}={value!r} must be an integer from {low} to {top}"
            raise InvalidAddressCode(msg)
    return f"{country:03d}{municipality:03d}{district:06d}"


def parse_code(text: str) -> AddressCode:
    """Parse a standard address code, plain or with dashes.

    Parameters
    ----------
    text
        35 characters (34 digits and a check character), dashes and spaces allowed.

    Returns
    -------
    AddressCode
        The parts.

    Raises
    ------
    InvalidAddressCode
        Wrong length or characters, or a check character that does not match.

    Examples
    --------
    >>> c = AddressCode("330106001001", street=12, doorplate=900)
    >>> parse_code(c.display()) == c
    True
    """
    plain = re.sub(r"[\s-]", "", str(text)).upper()
    if not _PLAIN.fullmatch(plain):
        msg = (
            f"code={text!r} is not a standard address code; it has {_LENGTH} characters: "
            f"34 digits and a check character (0-9 or X)"
        )
        raise InvalidAddressCode(msg)
    digits, check = plain[:-1], plain[-1]
    if check_character(digits) != check:
        msg = f"code={text!r} fails its check character: expected {check_character(digits)!r}, got {check!r}"
        raise InvalidAddressCode(msg)
    values: dict[str, int] = {}
    pos = 12
    for name in LEVELS[1:]:
        values[name] = int(digits[pos : pos + _WIDTHS[name]])
        pos += _WIDTHS[name]
    if values["floor"] == _NOT_A_FLOOR:
        msg = f"code={text!r} names no floor: {_floor_900()}"
        raise InvalidAddressCode(msg)
    return AddressCode(digits[:12], **values)
