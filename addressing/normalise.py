"""Normalisation of address components: width, numerals, abbreviations and case.

Each parsed component keeps the text as written and gains a normalised ``value``:

- full-width forms become half width (``１２号`` -> ``12号``);
- Chinese numerals become digits where the label is a number (``二单元`` -> ``2单元``,
  ``一百零五室`` -> ``105室``);
- abbreviations are expanded: short division names to their official name
  (``杭州`` -> ``杭州市``) and Finnish/Swedish street abbreviations
  (``Fredrikink.`` -> ``Fredrikinkatu``, ``Mannerheimv.`` -> ``Mannerheimvägen``);
- case is made regular (``b座`` -> ``B座``, ``MANNERHEIMINTIE`` -> ``Mannerheimintie``).
"""

from __future__ import annotations

import re

from addressing._divisions import expand_division
from addressing._text import fold_width

__all__ = [
    "NUMBER_LABELS",
    "chinese_to_int",
    "expand_street",
    "normalise_value",
    "numerals_to_digits",
]

NUMBER_LABELS = frozenset({"roadno", "subroadno", "houseno", "cellno", "floorno", "roomno"})
"""Chinese labels whose value is a number; their numerals become digits."""

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6}
_DIGITS |= {"七": 7, "八": 8, "九": 9, "幺": 1}
_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}
_NUMERAL_RUN = re.compile("[零〇一二两三四五六七八九十百千万幺]+")
_SPACES = re.compile(r"\s+")


def chinese_to_int(text: str) -> int | None:
    """Return the value of a Chinese numeral, or ``None`` if ``text`` is not one.

    Both counting (``二十三``) and digit-by-digit (``一零四``) readings are understood.

    Examples
    --------
    >>> chinese_to_int("一百零五"), chinese_to_int("十二"), chinese_to_int("一零四")
    (105, 12, 104)
    """
    if not text or any(ch not in _DIGITS and ch not in _UNITS for ch in text):
        return None
    if not any(ch in _UNITS for ch in text):
        return int("".join(str(_DIGITS[ch]) for ch in text))
    total, section, digit = 0, 0, None
    for ch in text:
        if ch in _DIGITS:
            if digit is not None:  # two digits in a row ("一零五") are not counting form
                return None
            digit = _DIGITS[ch]
        elif ch == "万":
            section += digit or 0
            total += (section or 1) * 10000
            section, digit = 0, None
        else:
            section += (1 if digit is None else digit) * _UNITS[ch]
            digit = None
        if digit == 0:
            digit = None
    return total + section + (digit or 0)


def numerals_to_digits(text: str) -> str:
    """Replace each run of Chinese numerals in ``text`` by its value in digits.

    Examples
    --------
    >>> numerals_to_digits("十二幢二单元")
    '12幢2单元'
    """

    def _one(m: re.Match[str]) -> str:
        value = chinese_to_int(m.group(0))
        return m.group(0) if value is None else str(value)

    return _NUMERAL_RUN.sub(_one, text)


# Finnish and Swedish street-type abbreviations, checked at the end of a street name.
_STREET_ABBREVIATIONS: tuple[tuple[str, str], ...] = (
    ("k.", "katu"),
    ("t.", "tie"),
    ("v.", "vägen"),
    ("g.", "gatan"),
    ("kj.", "kuja"),
    ("p.", "polku"),
    ("pl.", "plan"),
    ("str.", "strand"),
)
_STREET_ABBREV = re.compile(
    r"(?<=\w)(" + "|".join(re.escape(a) for a, _ in _STREET_ABBREVIATIONS) + r")$",
    re.IGNORECASE,
)
_ABBREV_TO_WORD = {a: w for a, w in _STREET_ABBREVIATIONS}


#: Words that stay in lower case inside a street name (Portuguese, Spanish, French,
#: Italian, Dutch and German particles).
_PARTICLES = frozenset(
    {
        "da",
        "das",
        "de",
        "del",
        "della",
        "des",
        "di",
        "do",
        "dos",
        "du",
        "la",
        "le",
        "van",
        "von",
        "der",
        "den",
        "e",
    }
)


def _regular_case(word: str) -> str:
    if word.isupper() or word.islower():
        return "-".join(p[:1].upper() + p[1:].lower() for p in word.split("-"))
    return word


def expand_street(text: str) -> str:
    """Expand a Finnish or Swedish street abbreviation and make the case regular.

    Examples
    --------
    >>> expand_street("Fredrikink.")
    'Fredrikinkatu'
    >>> expand_street("MANNERHEIMV.")
    'Mannerheimvägen'
    """
    raw = _SPACES.sub(" ", fold_width(text)).strip().split(" ")
    # "Rua da Alegria", "Avenida dos Aliados": a particle inside a name stays lower case.
    words = [
        w.lower() if i and w.lower() in _PARTICLES else _regular_case(w) for i, w in enumerate(raw)
    ]
    last = words[-1]
    m = _STREET_ABBREV.search(last)
    if m is not None:
        last = last[: m.start()] + _ABBREV_TO_WORD[m.group(1).lower()]
    elif len(words) > 1 and words[-1].lower().rstrip(".") in {"k", "t", "v", "g"}:
        words.pop()
        last = words.pop() + _ABBREV_TO_WORD[last.lower().rstrip(".") + "."]
        words.append(last)
    words[-1] = last
    return " ".join(words)


def normalise_value(label: str, text: str, *, script: str = "zh") -> str:
    """Return the normalised value of a component with ``label`` written as ``text``.

    Parameters
    ----------
    label
        A Chinese label (``"roadno"``...) or a Latin one (``"street"``...).
    text
        The component as written.
    script
        ``"zh"`` for a Chinese address, ``"latin"`` for a Latin-script one.

    Returns
    -------
    str
        The value; see the module docstring for the rules.

    Examples
    --------
    >>> normalise_value("cellno", "二单元")
    '2单元'
    >>> normalise_value("city", "杭州")
    '杭州市'
    >>> normalise_value("city", "HELSINKI", script="latin")
    'Helsinki'
    """
    folded = fold_width(text)
    if not folded.isalnum():  # only then is there space to collapse or strip
        folded = _SPACES.sub(" ", folded).strip()
    if script == "zh":
        if label in NUMBER_LABELS:
            return numerals_to_digits(folded.replace(" ", "")).upper()
        if label in {"prov", "city", "district"}:
            return expand_division(label, folded) or folded
        return folded
    if label == "street":
        return expand_street(folded)
    if label == "postcode":
        bare = re.sub(r"^[A-Za-z]{2}-", "", folded)
        if re.fullmatch(r"\d{4}-\d{3}", bare):  # Portuguese: the hyphen is part of it
            return bare
        return re.sub(r"[^0-9]", "", bare)
    if label == "housenumber":
        return folded.replace(" ", "").lower()
    if label == "unit":
        m = re.fullmatch(r"([A-Za-z])\s*(\d*)", folded)
        if m is not None:
            return f"{m.group(1).upper()} {m.group(2)}".strip()
        m = re.fullmatch(r"([A-Za-z]+)\.?\s*(\d*[A-Za-z]?)", folded)
        if m is not None:
            return f"{m.group(1).lower()} {m.group(2)}".strip()
        return folded
    return " ".join(_regular_case(w) for w in folded.split(" "))
