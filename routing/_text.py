"""Checks on the free-text inputs of the routing API and processes: names and ids.

A **name** (a route's ``name``) is text of 1 to :data:`MAX_NAME_CHARS` characters that is
not blank: letters, marks and digits of any script, punctuation, spaces and the
mathematical and currency signs. Control and format characters (line breaks, tabs,
zero-width joiners), emoji and other pictographs, and private-use code points are
refused.

An **id** (a vehicle's or a station's id) is stricter, 1 to :data:`MAX_ID_CHARS`
characters: letters and digits (of any script), space and ``- _ . : /``, not starting or
ending with a space.

>>> check_id("ev-1", name="input vehicle_id")
'ev-1'
>>> check_id(" ", name="input vehicle_id")  # doctest: +ELLIPSIS
Traceback (most recent call last):
    ...
twin.errors.InvalidInput: input vehicle_id=' ' is blank; ...
"""

from __future__ import annotations

import unicodedata
from typing import Any

from twin.errors import InvalidInput

__all__ = ["ID_RULE", "MAX_ID_CHARS", "MAX_NAME_CHARS", "NAME_RULE", "check_id", "check_name"]

#: The longest name, in characters.
MAX_NAME_CHARS = 200
#: The longest id, in characters.
MAX_ID_CHARS = 64
#: The name rule, as the messages and the process descriptions state it.
NAME_RULE = (
    f"text of 1 to {MAX_NAME_CHARS} characters, not blank, without control characters or emoji"
)
#: The id rule, as the messages and the process descriptions state it.
ID_RULE = (
    f"1 to {MAX_ID_CHARS} characters: letters, digits, space and - _ . : /, "
    "not starting or ending with a space"
)
_NAME_CATEGORIES = ("L", "M", "N", "P", "Zs", "Sm", "Sc")
_ID_PUNCTUATION = frozenset(" -_.:/")


def _preview(value: str) -> str:
    return repr(value) if len(value) <= 40 else f"{value[:40]!r}... ({len(value)} characters)"


def _length(value: Any, *, name: str, rule: str, most: int) -> str:
    if not isinstance(value, str):
        msg = f"{name}={value!r} must be {rule}"
        raise InvalidInput(msg)
    if not value.strip():
        msg = f"{name}={value!r} is blank; it must be {rule}"
        raise InvalidInput(msg)
    if len(value) > most:
        msg = f"{name}={_preview(value)} is too long; it must be {rule}"
        raise InvalidInput(msg)
    return value


def _refuse(value: str, ch: str, *, name: str, rule: str) -> InvalidInput:
    msg = (
        f"{name}={_preview(value)} holds the character {ch!r} (U+{ord(ch):04X}); it must be {rule}"
    )
    return InvalidInput(msg)


def check_name(value: Any, *, name: str) -> str:
    """Return ``value`` when it is a good name; else :class:`InvalidInput` naming ``name``.

    Parameters
    ----------
    value
        The input as decoded from JSON.
    name
        How the message names the input, e.g. ``"inputs.name"``.
    """
    text = _length(value, name=name, rule=NAME_RULE, most=MAX_NAME_CHARS)
    for ch in text:
        if " " <= ch <= "~":
            continue
        if not unicodedata.category(ch).startswith(_NAME_CATEGORIES):
            raise _refuse(text, ch, name=name, rule=NAME_RULE)
    return text


def check_id(value: Any, *, name: str) -> str:
    """Return ``value`` when it is a good id; else :class:`InvalidInput` naming ``name``.

    Parameters
    ----------
    value
        The input as decoded from JSON.
    name
        How the message names the input, e.g. ``"input vehicle_id"``.
    """
    text = _length(value, name=name, rule=ID_RULE, most=MAX_ID_CHARS)
    for ch in text:
        if not (ch.isalnum() or ch in _ID_PUNCTUATION):
            raise _refuse(text, ch, name=name, rule=ID_RULE)
    if text != text.strip(" "):
        msg = f"{name}={_preview(text)} starts or ends with a space; it must be {ID_RULE}"
        raise InvalidInput(msg)
    return text
