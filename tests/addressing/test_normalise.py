"""Normalisation: width, Chinese numerals, abbreviations, case."""

from __future__ import annotations

import pytest

from addressing.normalise import (
    chinese_to_int,
    expand_street,
    normalise_value,
    numerals_to_digits,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("一", 1),
        ("十", 10),
        ("十二", 12),
        ("二十", 20),
        ("二十一", 21),
        ("一百零五", 105),
        ("两千零一十", 2010),
        ("三万五千", 35000),
        ("一零四", 104),
        ("〇", 0),
        ("幢", None),
        ("", None),
    ],
)
def test_chinese_to_int(text: str, value: int | None) -> None:
    assert chinese_to_int(text) == value


def test_numerals_to_digits_replaces_each_run() -> None:
    assert numerals_to_digits("十二幢二单元三楼") == "12幢2单元3楼"


@pytest.mark.parametrize(
    ("label", "text", "value"),
    [
        ("roomno", "１２０１室", "1201室"),
        ("cellno", "二单元", "2单元"),
        ("floorno", "七楼", "7楼"),
        ("houseno", "六号楼", "6号楼"),
        ("houseno", "b座", "B座"),
        ("roadno", "一百零五号", "105号"),
        ("roomno", "１２ ０１", "1201"),
        ("road", "一零四国道", "一零四国道"),  # not a number label: numerals kept
        ("poi", "万达广场（东区）", "万达广场(东区)"),
        ("prov", "浙江", "浙江省"),
        ("city", "杭州", "杭州市"),
        ("prov", "新疆", "新疆维吾尔自治区"),
        ("district", "柯桥", "柯桥区"),
        ("city", "温州市", "温州市"),
        ("district", "不存在", "不存在"),
    ],
)
def test_chinese_values(label: str, text: str, value: str) -> None:
    assert normalise_value(label, text) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Fredrikink.", "Fredrikinkatu"),
        ("Mannerheimint.", "Mannerheimintie"),
        ("Mannerheimv.", "Mannerheimvägen"),
        ("MANNERHEIMV.", "Mannerheimvägen"),
        ("Fredrikin k.", "Fredrikinkatu"),
        ("Bangatan", "Bangatan"),
        ("Bang.", "Bangatan"),
        ("mannerheimintie", "Mannerheimintie"),
        ("Pohjoinen Rautatiekatu", "Pohjoinen Rautatiekatu"),
        ("ＢＵＬＥＶＡＲＤＩ", "Bulevardi"),
    ],
)
def test_street_abbreviations_and_case(text: str, value: str) -> None:
    assert expand_street(text) == value


@pytest.mark.parametrize(
    ("label", "text", "value"),
    [
        ("postcode", "FI-00100", "00100"),
        ("postcode", "００１００", "00100"),
        ("city", "HELSINKI", "Helsinki"),
        ("city", "helsingfors", "Helsingfors"),
        ("unit", "b 12", "B 12"),
        ("unit", "A12", "A 12"),
        ("unit", "as. 4", "as 4"),
        ("housenumber", "5 A", "5a"),
    ],
)
def test_latin_values(label: str, text: str, value: str) -> None:
    assert normalise_value(label, text, script="latin") == value
