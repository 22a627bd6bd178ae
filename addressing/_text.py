"""Checks on raw address text and the script detector.

An address is accepted when it is a non-empty ``str`` of at most :data:`MAX_CHARS`
characters, free of control characters, emoji and private-use code points, and written
either in Chinese (Han characters, possibly with Latin letters and digits, as in
``B座`` or ``KTV``) or in a Latin script (Finnish, Swedish, English...).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from addressing.errors import (
    AddressTooLong,
    EmptyAddress,
    InvalidAddress,
    NotText,
    UnsupportedCharacters,
    UnsupportedScript,
)

__all__ = ["MAX_CHARS", "SCRIPTS", "Script", "check_text", "detect_script", "fold_width"]

MAX_CHARS = 512
"""The longest address text, in characters, that the parser accepts."""

Script = Literal["zh", "latin"]
SCRIPTS: tuple[str, ...] = ("zh", "latin")

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3007"
_LATIN = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff\uff21-\uff3a\uff41-\uff5a"
# Everything an address commonly holds: letters of the two scripts, digits, ASCII and
# CJK punctuation, full-width forms, spaces.
_PLAIN = re.compile(
    rf"[{_HAN}{_LATIN}\u0020-\u007e\u00a0-\u00bf\u00d7\u00f7\u2010-\u2027\u2116"
    r"\u3000-\u3006\u3008-\u3011\u3014-\u301f\uff01-\uff5e\t\n\r]*"
)
_HAS_HAN = re.compile(f"[{_HAN}]")
_HAS_LATIN = re.compile(f"[{_LATIN}]")
_BINARY = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")
_EMOJI_RANGES = (
    (0x1F000, 0x1FAFF),
    (0x2600, 0x27BF),
    (0x2B00, 0x2BFF),
    (0xFE00, 0xFE0F),
    (0x200D, 0x200D),
    (0xE0000, 0xE007F),
)

# Full-width ASCII forms map to ASCII by a constant offset; the ideographic space to a
# space. Each character maps to one character, so offsets are kept.
_WIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_HAS_WIDE = re.compile("[" + re.escape("".join(map(chr, _WIDTH))) + "]")  # any key of _WIDTH


def fold_width(text: str) -> str:
    """Return ``text`` with full-width ASCII forms folded to half width.

    The result has the same length as ``text``, so offsets into one are offsets into
    the other.

    Examples
    --------
    >>> fold_width("Ａ座１２３号")
    'A座123号'
    """
    if _HAS_WIDE.search(text) is None:  # the common case, and much quicker than translate
        return text
    return text.translate(_WIDTH)


def _preview(text: str, n: int = 40) -> str:
    return repr(text if len(text) <= n else text[:n] + "…")


def check_text(text: object) -> str:
    """Check that ``text`` is acceptable address text and return it.

    Parameters
    ----------
    text
        The candidate address.

    Returns
    -------
    str
        ``text`` itself, unchanged.

    Raises
    ------
    NotText
        ``text`` is not a ``str`` or holds binary data.
    EmptyAddress
        ``text`` is empty or white space.
    AddressTooLong
        ``text`` has more than :data:`MAX_CHARS` characters.
    UnsupportedCharacters
        ``text`` holds emoji, symbols, private-use or unassigned code points.
    """
    if not isinstance(text, str):
        msg = (
            f"text must be a str, got {type(text).__name__} {_preview(repr(text))}; "
            "decode bytes (UTF-8) before parsing"
        )
        raise NotText(msg)
    if not text.strip():
        msg = f"text={text!r} is empty; give an address such as 'Mannerheimintie 5, 00100 Helsinki'"
        raise EmptyAddress(msg)
    if len(text) > MAX_CHARS:
        msg = (
            f"text={_preview(text)} has {len(text)} characters; an address has at most {MAX_CHARS}"
        )
        raise AddressTooLong(msg)
    if _PLAIN.fullmatch(text) is not None:
        return text
    if _BINARY.search(text) is not None:
        msg = f"text={_preview(text)} holds control characters; it looks like binary data, not an address"
        raise NotText(msg)
    for ch in text:
        cp = ord(ch)
        cat = unicodedata.category(ch)
        if any(lo <= cp <= hi for lo, hi in _EMOJI_RANGES) or cat in {"So", "Sk", "Cs", "Co", "Cn"}:
            msg = (
                f"text={_preview(text)} holds the character {ch!r} (U+{cp:04X}); "
                "emoji, symbols and private-use characters are not allowed in an address"
            )
            raise UnsupportedCharacters(msg)
        if cat.startswith("C") and ch not in "\t\n\r":
            msg = f"text={_preview(text)} holds the control character U+{cp:04X}; it is not an address"
            raise NotText(msg)
    return text


def _script_of(ch: str) -> str:
    try:
        return unicodedata.name(ch).split(" ")[0]
    except ValueError:
        return "UNKNOWN"


def detect_script(text: str) -> Script:
    """Return the script an address is written in: ``"zh"`` or ``"latin"``.

    Chinese addresses may hold Latin letters and digits (``B座``); any Han character
    makes an address Chinese. The text is checked with :func:`check_text` first.

    Parameters
    ----------
    text
        The address.

    Returns
    -------
    {"zh", "latin"}
        The script.

    Raises
    ------
    UnsupportedScript
        Letters of another script (Cyrillic, Greek, Arabic, Kana...), or no letters.

    Examples
    --------
    >>> detect_script("杭州市文三路90号")
    'zh'
    >>> detect_script("Mannerheimintie 5 A 12, 00100 Helsinki")
    'latin'
    """
    check_text(text)
    others: list[str] = []
    if _PLAIN.fullmatch(text) is None:
        others = sorted(
            {
                _script_of(ch)
                for ch in text
                if ch.isalpha() and not _HAS_HAN.match(ch) and not _HAS_LATIN.match(ch)
            }
        )
    has_han = _HAS_HAN.search(text) is not None
    if others:
        found = ", ".join(others)
        msg = (
            f"text={_preview(text)} holds letters of the {found} script; "
            f"the parser reads one of {list(SCRIPTS)} (Chinese, or a Latin script)"
        )
        raise UnsupportedScript(msg)
    if has_han:
        return "zh"
    if _HAS_LATIN.search(text) is not None:
        return "latin"
    msg = (
        f"text={_preview(text)} holds no letters; an address names a street, a place or a "
        "division, not only numbers and punctuation"
    )
    raise InvalidAddress(msg)
