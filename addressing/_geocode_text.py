"""Folding names and reading a free-text query into street, number and postcode.

Names and queries are folded the same way before they are compared: lower case,
Finnish and Swedish letters without their marks (``ä`` -> ``a``), abbreviations of
street words written out (``k.`` -> ``katu``, ``t.`` -> ``tie``, ``v.`` -> ``vagen``,
``g.`` -> ``gatan``), and spaces, dashes and dots removed (``Fredrikin k.`` and
``Fredrikinkatu`` are one name).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["Query", "compact", "fold", "number_key", "number_range", "read_query"]

_MARKS = str.maketrans({"ß": "ss", "æ": "ae", "ø": "o", "œ": "oe", "ð": "d", "þ": "th"})
# abbreviation at the end of a word (after folding) -> the word ending it stands for
_ABBREVIATIONS = (
    ("k.", "katu"),
    ("t.", "tie"),
    ("v.", "vagen"),
    ("g.", "gatan"),
    ("p.", "polku"),
    ("esp.", "esplanadi"),
    ("pl.", "plan"),
)
_POSTCODE = re.compile(r"^(?:fi-?)?(\d{5})$")
_NUMBER = re.compile(r"^(\d{1,4}(?:-\d{1,4})?)([a-z]?)$")
_LETTER = re.compile(r"^[a-z]$")
_SPLIT = re.compile(r"[\s,;:]+")
_DROP = re.compile(r"[\s\-'.’´`\"()/]+")


def fold(text: str) -> str:
    """Lower-case ``text`` and drop accents (``Säästöpankinranta`` -> ``saastopankinranta``).

    Examples
    --------
    >>> fold("Töölöntori, Bulevardi")
    'toolontori, bulevardi'
    """
    lowered = unicodedata.normalize("NFKD", text.lower().translate(_MARKS))
    return "".join(ch for ch in lowered if not unicodedata.combining(ch))


def _expand(token: str) -> str:
    for short, word in _ABBREVIATIONS:
        if token.endswith(short) and (len(token) == len(short) or token[-len(short) - 1].isalpha()):
            return token[: -len(short)] + word
    return token


def compact(name: str) -> str:
    """Return the comparison form of a street name: folded, abbreviations out, no spaces.

    Examples
    --------
    >>> compact("Mannerheimint.") == compact("Mannerheimintie")
    True
    >>> compact("Fredrikin k.")
    'fredrikinkatu'
    """
    tokens = [_expand(t) for t in _SPLIT.split(fold(name)) if t]
    return _DROP.sub("", "".join(tokens))


def number_key(number: str) -> str:
    """Return the comparison form of a house number (``14 B`` -> ``14b``, ``1 - 5`` -> ``1-5``)."""
    return re.sub(r"[\s.]+", "", fold(number))


def number_range(key: str) -> tuple[int, int]:
    """``(low, high)`` of a house number key; ``(-1, -1)`` when it has no number.

    Examples
    --------
    >>> number_range("2-4b"), number_range("7")
    ((2, 4), (7, 7))
    """
    m = re.match(r"^(\d+)(?:-(\d+))?", key)
    if m is None:
        return (-1, -1)
    lo = int(m[1])
    hi = int(m[2]) if m[2] else lo
    return (min(lo, hi), max(lo, hi))


@dataclass(frozen=True, slots=True)
class Query:
    """A query read into parts; ``street`` is compact, ``number`` a number key or ``""``."""

    street: str
    number: str
    postcode: str
    words: tuple[str, ...]


def read_query(text: str, *, cities: frozenset[str] = frozenset()) -> Query:
    """Read free text into a street, a house number, a postcode.

    Parameters
    ----------
    text
        The query, checked already.
    cities
        Folded city names to drop from the street words (``helsinki``, ``helsingfors``).

    Returns
    -------
    Query
        The parts; any may be empty.

    Examples
    --------
    >>> read_query("Mannerheimint. 5 b 12, 00100 HELSINKI", cities=frozenset({"helsinki"}))
    Query(street='mannerheimintie', number='5b', postcode='00100', words=('mannerheimint.',))
    """
    tokens = [t for t in _SPLIT.split(fold(text)) if t]
    postcode = ""
    kept: list[str] = []
    for t in tokens:
        m = _POSTCODE.match(t)
        if m and not postcode:
            postcode = m[1]
        else:
            kept.append(t)
    number, at = "", -1
    for i, t in enumerate(kept):
        m = _NUMBER.match(t)
        if m:
            number, at = m[1] + m[2], i
            if not m[2] and i + 1 < len(kept) and _LETTER.match(kept[i + 1]):
                number += kept[i + 1]
            break
    if at > 0:
        words = kept[:at]
    elif at == 0:
        words = [t for t in kept[1:] if not _NUMBER.match(t) and not _LETTER.match(t)]
    else:
        words = kept
    while len(words) > 1 and words[-1].strip(".") in cities:
        words = words[:-1]
    if len(words) == 1 and words[0].strip(".") in cities:
        words = []
    street = compact(" ".join(words))
    return Query(street, number, postcode, tuple(words))
