"""Input checks and the script detector."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from addressing import detect_script, parse
from addressing._text import MAX_CHARS, check_text, fold_width
from addressing.errors import (
    AddressTooLong,
    EmptyAddress,
    InvalidAddress,
    NotText,
    UnsupportedCharacters,
    UnsupportedScript,
)
from twin.errors import InvalidInput, http_status


@pytest.mark.parametrize(
    ("text", "script"),
    [
        ("杭州市文三路90号", "zh"),
        ("浙江省杭州市西湖区B座12层KTV", "zh"),
        ("Mannerheimintie 5 A 12, 00100 Helsinki", "latin"),
        ("Mannerheimvägen 5", "latin"),
        ("ＭＡＮＮＥＲＨＥＩＭＩＮＴＩＥ ５", "latin"),
    ],
)
def test_detect_script(text: str, script: str) -> None:
    assert detect_script(text) == script


@pytest.mark.parametrize(
    ("bad", "cls", "message"),
    [
        ("", EmptyAddress, "text='' is empty"),
        ("   \t ", EmptyAddress, "text='   \\t ' is empty"),
        (
            "a" * (MAX_CHARS + 1),
            AddressTooLong,
            f"has {MAX_CHARS + 1} characters; an address has at most 512",
        ),
        (b"\x00\x01abc", NotText, "text must be a str, got bytes"),
        (None, NotText, "text must be a str, got NoneType"),
        ("abc\x00\x07def", NotText, "holds control characters; it looks like binary data"),
        ("杭州市\ufffd\ufffd", NotText, "looks like binary data"),
        ("杭州市文三路90号🏠", UnsupportedCharacters, "holds the character '🏠' (U+1F3E0)"),
        (
            "Mannerheimintie 5 👍🏽",
            UnsupportedCharacters,
            "emoji, symbols and private-use characters",
        ),
        ("Невский проспект 28", UnsupportedScript, "holds letters of the CYRILLIC script"),
        ("杭州市とうきょう", UnsupportedScript, "HIRAGANA"),
        ("12-3-1001", InvalidAddress, "holds no letters"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(bad: object, cls: type, message: str) -> None:
    with pytest.raises(cls) as info:
        parse(bad)  # type: ignore[arg-type]
    assert message in str(info.value)
    assert isinstance(info.value, InvalidInput)
    assert isinstance(info.value, ValueError)
    assert http_status(info.value) == 400


def test_long_text_is_cut_in_the_message() -> None:
    with pytest.raises(AddressTooLong) as info:
        check_text("路" * 600)
    assert len(str(info.value)) < 200


def test_the_limit_itself_is_accepted() -> None:
    text = "Mannerheimintie 5, " + "a" * (MAX_CHARS - 19)
    assert check_text(text) == text


@given(st.text(max_size=60))
def test_fold_width_keeps_length(text: str) -> None:
    assert len(fold_width(text)) == len(text)


@given(st.text(alphabet=st.sampled_from("Ａ１　ｚ～！A1 z~!号座\uff5f\uff00"), max_size=30))
def test_fold_width_folds_each_full_width_form_and_nothing_else(text: str) -> None:
    folded = fold_width(text)
    for a, b in zip(text, folded, strict=True):
        if "\uff01" <= a <= "\uff5e":
            assert b == chr(ord(a) - 0xFEE0)
        elif a == "\u3000":
            assert b == " "
        else:
            assert b == a


@given(st.binary(min_size=1, max_size=64))
def test_binary_junk_never_escapes_as_a_foreign_error(data: bytes) -> None:
    text = data.decode("latin-1")
    with contextlib.suppress(InvalidAddress):
        parse(text)
