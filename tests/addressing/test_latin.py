"""Parsing of Latin-script (Finnish, Swedish and Portuguese) addresses."""

from __future__ import annotations

import pytest

from addressing import parse

CASES = [
    (
        "Mannerheimintie 5 A 12, 00100 Helsinki",
        [
            ("street", "Mannerheimintie", "Mannerheimintie"),
            ("housenumber", "5", "5"),
            ("unit", "A 12", "A 12"),
            ("postcode", "00100", "00100"),
            ("city", "Helsinki", "Helsinki"),
        ],
    ),
    (
        "Mannerheimvägen 5",
        [("street", "Mannerheimvägen", "Mannerheimvägen"), ("housenumber", "5", "5")],
    ),
    (
        "Fredrikink. 5 b 12, 00120 HELSINKI",
        [
            ("street", "Fredrikink.", "Fredrikinkatu"),
            ("housenumber", "5", "5"),
            ("unit", "b 12", "B 12"),
            ("postcode", "00120", "00120"),
            ("city", "HELSINKI", "Helsinki"),
        ],
    ),
    (
        "Mannerheimint. 13a",
        [("street", "Mannerheimint.", "Mannerheimintie"), ("housenumber", "13a", "13a")],
    ),
    (
        "Pohjoinen Rautatiekatu 21, Helsinki",
        [
            ("street", "Pohjoinen Rautatiekatu", "Pohjoinen Rautatiekatu"),
            ("housenumber", "21", "21"),
            ("city", "Helsinki", "Helsinki"),
        ],
    ),
    (
        "Norra Järnvägsgatan 21 lgh 4, FI-00100 Helsingfors",
        [
            ("street", "Norra Järnvägsgatan", "Norra Järnvägsgatan"),
            ("housenumber", "21", "21"),
            ("unit", "lgh 4", "lgh 4"),
            ("postcode", "FI-00100", "00100"),
            ("city", "Helsingfors", "Helsingfors"),
        ],
    ),
    (
        "Bulevardi 10 C 30 00120 Helsinki",
        [
            ("street", "Bulevardi", "Bulevardi"),
            ("housenumber", "10", "10"),
            ("unit", "C 30", "C 30"),
            ("postcode", "00120", "00120"),
            ("city", "Helsinki", "Helsinki"),
        ],
    ),
    ("00100 Helsinki", [("postcode", "00100", "00100"), ("city", "Helsinki", "Helsinki")]),
    ("Aleksanterinkatu", [("street", "Aleksanterinkatu", "Aleksanterinkatu")]),
    (  # Portuguese: the postcode keeps its hyphen, particles stay in lower case
        "Rua de Santa Catarina, 100, 4000-447 Porto",
        [
            ("street", "Rua de Santa Catarina", "Rua de Santa Catarina"),
            ("housenumber", "100", "100"),
            ("postcode", "4000-447", "4000-447"),
            ("city", "Porto", "Porto"),
        ],
    ),
    (
        "RUA DOS CLERIGOS 5, PT-4050-205 PORTO",
        [
            ("street", "RUA DOS CLERIGOS", "Rua dos Clerigos"),
            ("housenumber", "5", "5"),
            ("postcode", "PT-4050-205", "4050-205"),
            ("city", "PORTO", "Porto"),
        ],
    ),
    (
        "  Mannerheimv.  5 ,  Helsingfors ",
        [
            ("street", "Mannerheimv.", "Mannerheimvägen"),
            ("housenumber", "5", "5"),
            ("city", "Helsingfors", "Helsingfors"),
        ],
    ),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_latin_components(text: str, expected: list[tuple[str, str, str]]) -> None:
    got = parse(text)
    assert [(c.label, c.text, c.value) for c in got] == expected
    for c in got:
        assert text[c.start : c.end] == c.text
    assert [c.start for c in got] == sorted(c.start for c in got)
