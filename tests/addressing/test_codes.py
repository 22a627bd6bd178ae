"""Standard address codes: structure, check character, levels, parsing."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from addressing.codes import (
    HELSINKI,
    AddressCode,
    InvalidAddressCode,
    check_character,
    division_code,
    floor_label,
    floor_number,
    floor_serial,
    parse_code,
)
from twin.errors import InvalidInput

ROOM = AddressCode(
    "330106001001", street=12, doorplate=900, building=1, unit=2, floor=12, room=1201
)


def test_code_layout() -> None:
    assert ROOM.code == "3301060010010001200900001020121201X"
    assert len(ROOM.code) == 35
    assert ROOM.display() == "330106001001-00012-00900-001-02-012-1201-X"
    assert str(ROOM) == ROOM.code


def test_check_character_matches_iso_7064() -> None:
    # the check of the published sample identity number 11010519491231002X
    assert check_character("11010519491231002") == "X"


def test_levels_and_parents() -> None:
    chain = []
    code: AddressCode | None = ROOM
    while code is not None:
        chain.append(code.level)
        code = code.parent()
    assert chain == ["room", "floor", "unit", "building", "doorplate", "street", "division"]


@given(
    st.from_regex(r"[0-9]{12}", fullmatch=True),
    st.integers(0, 99999),
    st.integers(0, 99999),
    st.integers(0, 999),
    st.integers(0, 99),
    st.integers(0, 999).filter(lambda v: v != 900),
    st.integers(0, 9999),
)
def test_round_trip(
    div: str, street: int, door: int, bld: int, unit: int, floor: int, room: int
) -> None:
    c = AddressCode(div, street, door, bld, unit, floor, room)
    assert parse_code(c.code) == c
    assert parse_code(c.display()) == c


def test_a_changed_digit_is_caught() -> None:
    bad = ROOM.code[:20] + str((int(ROOM.code[20]) + 1) % 10) + ROOM.code[21:]
    with pytest.raises(InvalidAddressCode, match="fails its check character"):
        parse_code(bad)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("12345", "code='12345' is not a standard address code; it has 35 characters"),
        ("A" * 35, "34 digits and a check character (0-9 or X)"),
    ],
)
def test_malformed_codes(text: str, message: str) -> None:
    with pytest.raises(InvalidAddressCode) as info:
        parse_code(text)
    assert message in str(info.value)
    assert isinstance(info.value, InvalidInput)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"division": "3301"}, "division='3301' must be 12 digits"),
        (
            {"division": "330106001001", "room": 10000},
            "room=10000 must be an integer from 0 to 9999",
        ),
        ({"division": "330106001001", "unit": -1}, "unit=-1 must be an integer from 0 to 99"),
    ],
)
def test_bad_parts(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidAddressCode, match=message):
        AddressCode(**kwargs)  # type: ignore[arg-type]


@given(st.from_regex(r"[0-9]{34}", fullmatch=True), st.integers(0, 33), st.integers(1, 9))
def test_every_changed_digit_is_caught(digits: str, pos: int, shift: int) -> None:
    code = digits + check_character(digits)
    bad = code[:pos] + str((int(code[pos]) + shift) % 10) + code[pos + 1 :]
    with pytest.raises(InvalidAddressCode, match="fails its check character"):
        parse_code(bad)


@given(st.from_regex(r"[0-9]{34}", fullmatch=True), st.integers(0, 32))
def test_every_swap_of_neighbouring_digits_is_caught(digits: str, pos: int) -> None:
    code = digits + check_character(digits)
    if code[pos] == code[pos + 1]:
        return
    bad = code[:pos] + code[pos + 1] + code[pos] + code[pos + 2 :]
    with pytest.raises(InvalidAddressCode, match="fails its check character"):
        parse_code(bad)


def test_division_prefix_outside_china() -> None:
    assert division_code(246, 91) == HELSINKI == "246091000000"
    assert division_code(752, 180, 1) == "752180000001"  # Stockholm, district 1
    c = AddressCode(HELSINKI, street=24, doorplate=1)
    assert c.display() == "246091000000-00024-00001-000-00-000-0000-9"
    assert c.level == "doorplate"
    assert c.parent() == AddressCode(HELSINKI, street=24)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0, 91), "country=0 must be an integer from 1 to 999"),
        ((246, 1000), "municipality=1000 must be an integer from 0 to 999"),
        ((246, 91, -1), "district=-1 must be an integer from 0 to 999999"),
        ((True, 91), "country=True must be an integer from 1 to 999"),
    ],
)
def test_bad_division_parts(args: tuple[int, ...], message: str) -> None:
    with pytest.raises(InvalidAddressCode, match=message):
        division_code(*args)


# -- floors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "serial", "label"),
    [(1, 1, "1"), (12, 12, "12"), (899, 899, "899"), (-1, 901, "B1"), (-99, 999, "B99")],
)
def test_floor_number_and_serial(number: int, serial: int, label: str) -> None:
    assert floor_serial(number) == serial
    assert floor_number(serial) == number
    assert floor_label(serial) == label
    code = AddressCode(HELSINKI, street=1, doorplate=1, building=1, floor=serial)
    assert code.floor_number == number
    assert code.level == "floor"
    assert parse_code(code.display()).floor_number == number


def test_no_floor() -> None:
    assert floor_number(0) is None
    assert floor_label(0) == ""
    assert AddressCode(HELSINKI, street=1, doorplate=1).floor_number is None


@given(st.integers(-99, 899).filter(lambda v: v != 0))
def test_floor_round_trip(number: int) -> None:
    serial = floor_serial(number)
    assert 1 <= serial <= 999
    assert serial != 900
    assert floor_number(serial) == number
    assert (serial > 900) == (number < 0)


@pytest.mark.parametrize(
    ("number", "message"),
    [
        (0, "floor=0 is not a floor; floors above ground are 1 to 899 (the ground floor is 1)"),
        (900, "floor=900 is not a floor"),
        (-100, "basements -1 to -99 (B1-B99)"),
        (1.5, "floor=1.5 must be an integer floor number"),
        (True, "floor=True must be an integer floor number"),
    ],
)
def test_bad_floor_numbers(number: int, message: str) -> None:
    with pytest.raises(InvalidAddressCode, match=re.escape(message)) as info:
        floor_serial(number)
    assert isinstance(info.value, InvalidInput)


def test_serial_900_is_refused() -> None:
    message = "floor serial 900 is not a floor: 001-899 are floors above ground, 901-999"
    with pytest.raises(InvalidAddressCode, match=message):
        floor_number(900)
    with pytest.raises(InvalidAddressCode, match=message):
        AddressCode(HELSINKI, street=1, doorplate=1, floor=900)
    digits = HELSINKI + "00001" + "00001" + "001" + "00" + "900" + "0000"
    with pytest.raises(InvalidAddressCode, match="names no floor: floor serial 900 is not a floor"):
        parse_code(digits + check_character(digits))
    with pytest.raises(InvalidAddressCode, match="floor serial 1000 must be an integer from 0"):
        floor_number(1000)
