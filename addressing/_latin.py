"""Parsing of Latin-script addresses (Finnish, Swedish and the like).

The shape is ``street housenumber [unit], [postcode] city``, as in
``Mannerheimintie 5 A 12, 00100 Helsinki`` or ``Mannerheimvägen 5``. Labels:
``street``, ``housenumber``, ``unit``, ``postcode``, ``city``.
"""

from __future__ import annotations

import re

from addressing._types import Component
from addressing.normalise import normalise_value

__all__ = ["LATIN_LABELS", "parse_latin"]

LATIN_LABELS: tuple[str, ...] = ("street", "housenumber", "unit", "postcode", "city")
"""The labels of Latin-script address components."""

_WORD = re.compile(r"[^\s,;]+")
#: Finnish, Åland and Swedish postcodes (``00100``, ``FI-00100``, ``114 55``), and
#: Portuguese ones (``4000-034``).
_POSTCODE = re.compile(
    r"(?<![\w-])(?:(?:(?:FI|SE|AX)-)?(?:\d{5}|\d{3} \d{2})|(?:PT-)?\d{4}-\d{3})(?![\w-])",
    re.IGNORECASE,
)
_HOUSE = re.compile(r"\d+[a-zA-Z]?(?:-\d+[a-zA-Z]?)?")
_STAIR = re.compile(r"[A-Za-z]")
_APARTMENT = re.compile(r"\d+[a-zA-Z]?")
_UNIT_WORDS = frozenset({"as", "as.", "asunto", "lgh", "lgh.", "apt", "apt.", "bst", "bst."})
_STREET_TYPES = re.compile(
    r"(katu|tie|kuja|polku|väylä|kaari|ranta|puistikko|tori|aukio|rinne|raitti|vägen|gatan|"
    r"gränd|stigen|backen|kajen|esplanadi|bulevardi|k\.|t\.|v\.|g\.)$",
    re.IGNORECASE,
)


def _component(text: str, label: str, start: int, end: int) -> Component:
    piece = text[start:end]
    return Component(label, start, end, piece, normalise_value(label, piece, script="latin"))


def _street_part(text: str, start: int, end: int) -> list[Component]:
    words = [(m.start() + start, m.end() + start) for m in _WORD.finditer(text[start:end])]
    if not words:
        return []
    first_num = next(
        (i for i, (s, e) in enumerate(words) if i and _HOUSE.fullmatch(text[s:e])), None
    )
    if first_num is None:
        label = "street" if _STREET_TYPES.search(text[words[-1][0] : words[-1][1]]) else "city"
        return [_component(text, label, words[0][0], words[-1][1])]
    out = [_component(text, "street", words[0][0], words[first_num - 1][1])]
    hs, he = words[first_num]
    out.append(_component(text, "housenumber", hs, he))
    rest = words[first_num + 1 :]
    if rest:
        s0, e0 = rest[0]
        tok = text[s0:e0]
        unit_end = None
        if _STAIR.fullmatch(tok) or tok.lower() in _UNIT_WORDS:
            unit_end = e0
            if len(rest) > 1 and _APARTMENT.fullmatch(text[rest[1][0] : rest[1][1]]):
                unit_end = rest[1][1]
        elif re.fullmatch(r"[A-Za-z]\d+", tok) or _APARTMENT.fullmatch(tok):
            unit_end = e0
        if unit_end is not None:
            out.append(_component(text, "unit", s0, unit_end))
    return out


def parse_latin(text: str) -> list[Component]:
    """Return the components of a Latin-script address (``text`` already checked)."""
    out: list[Component] = []
    post = None
    for m in _POSTCODE.finditer(text):
        post = m
    if post is not None:
        out.append(_component(text, "postcode", post.start(), post.end()))
        city = _WORD.search(text, post.end())
        tail = text[post.end() :]
        cm = re.match(r"[\s,]*([^\d,;]+?)\s*(?:[,;]|$)", tail)
        if city is not None and cm is not None and cm.group(1).strip():
            out.append(_component(text, "city", post.end() + cm.start(1), post.end() + cm.end(1)))
        out.extend(_street_part(text, 0, post.start()))
    else:
        parts = [m.span() for m in re.finditer(r"[^,;]+", text) if m.group(0).strip()]
        if len(parts) > 1 and not re.search(r"\d", text[parts[-1][0] : parts[-1][1]]):
            s, e = parts[-1]
            seg = text[s:e]
            out.append(
                _component(text, "city", s + len(seg) - len(seg.lstrip()), s + len(seg.rstrip()))
            )
            parts = parts[:-1]
        for s, e in parts:
            out.extend(_street_part(text, s, e))
    # a city written in front of a street ("Helsinki, Mannerheimintie 5") stays a city
    return sorted(out, key=lambda c: c.start)
