"""The township and village list read from ``jionlp``, its tags, and its use by the parser.

The list is the real one of the installed package; the reader is also run on small
trees written here. The parse tests train the tagger on first use (see
``test_parse_zh.py``).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from addressing import parse
from addressing._townships import (
    gazetteer,
    location_zip,
    read_gazetteer,
    township_kind,
    township_short_forms,
    village_short_forms,
)
from addressing._zh_features import _matches
from addressing._zh_places import context_of
from addressing._zh_synth import generate
from twin.errors import StoreError

_TREE = (
    "上海市\t310000\t上海\r\n"
    "\t上海市\t310000\t上海\r\n"
    "\t\t嘉定区\t310114\t嘉定\r\n"
    "\t\t\t华亭镇\r\n"
    "\t\t\t\t北新村\r\n"
    "\t\t\t\t华旺社区\r\n"
    "\t\t\t嘉定工业区\r\n"
    "\t\t\t嘉定镇街道\r\n"
    "\t\t\t\t州桥社区\r\n"
)


def _write_zip(path: Path, text: str, member: str = "china_location.txt") -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(member, text.encode("utf-8"))
    return path


def test_the_installed_list_is_read_by_county() -> None:
    g = gazetteer()
    assert len(g.townships) > 2800  # counties
    assert sum(len(v) for v in g.townships.values()) > 40000
    assert g.county_names["310114"] == "嘉定区"
    assert "华亭镇" in g.townships["310114"]
    assert "华亭镇" not in g.townships["330106"]  # not in Hangzhou's Xihu district
    assert {"北新村", "华旺社区"} <= set(g.villages("310114", "华亭镇"))
    assert g.villages("310114", "no such township") == ()
    assert g.villages("310114000000", "华亭镇") == g.villages("310114", "华亭镇")
    assert "3301" in {c[:4] for c in g.counties_in("3301")}
    assert all(c.startswith("3301") for c in g.counties_in("3301"))


def test_a_small_tree_is_read(tmp_path: Path) -> None:
    g = read_gazetteer(_write_zip(tmp_path / "loc.zip", _TREE))
    assert g.townships == {"310114": ("华亭镇", "嘉定工业区", "嘉定镇街道")}
    assert g.villages("310114", "华亭镇") == ("北新村", "华旺社区")
    assert g.villages("310114", "嘉定工业区") == ()
    assert g.village_block("310114", "嘉定镇街道") == "\t州桥社区\t"


def test_a_broken_file_is_a_clear_error(tmp_path: Path) -> None:
    not_zip = tmp_path / "loc.zip"
    not_zip.write_text("not a zip")
    with pytest.raises(StoreError, match="cannot read the township list"):
        read_gazetteer(not_zip)
    other = _write_zip(tmp_path / "other.zip", _TREE, member="other.txt")
    with pytest.raises(StoreError, match=r"china_location\.txt"):
        read_gazetteer(other)
    empty = _write_zip(tmp_path / "empty.zip", "上海市\t310000\t上海\r\n")
    with pytest.raises(StoreError, match="holds no county"):
        read_gazetteer(empty)


def test_a_missing_package_is_a_clear_error() -> None:
    with pytest.raises(StoreError, match=r"'no_such_package_k7' is not installed.*pip install"):
        location_zip("no_such_package_k7")
    # installed, but without the tree
    with pytest.raises(StoreError, match=r"'json' has no dictionary/china_location\.zip"):
        location_zip("json")
    assert location_zip().name == "china_location.zip"


@pytest.mark.parametrize(
    ("name", "short"),
    [
        ("华亭镇", ["华亭"]),
        ("九堡街道", ["九堡"]),
        ("嘉定镇街道", ["嘉定镇", "嘉定"]),
        ("新镇街道", ["新镇"]),
        ("南美拉祜族乡", ["南美"]),
        ("大雪山彝族拉祜族傣族乡", ["大雪山"]),
        ("和平地区办事处", ["和平"]),
        ("唐镇", []),  # one character is no name
        ("嘉定工业区", []),
    ],
)
def test_township_short_forms(name: str, short: list[str]) -> None:
    assert township_short_forms(name) == short


def test_kinds_and_village_short_forms() -> None:
    assert township_kind("华亭镇") == "town"
    assert township_kind("嘉定工业区") == "zone"
    assert township_kind("前卫农场") == "other"
    assert township_kind("街道") == "other"
    assert village_short_forms("北新村") == ["北新"]
    assert village_short_forms("华旺社区") == ["华旺"]
    assert village_short_forms("张村") == []


def test_context_follows_the_named_divisions() -> None:
    ctx = context_of([("prov:浙江省",), ("city:杭州市",), ("district:西湖区",)])
    assert ctx.counties == ("330106",)
    assert ctx.prefectures == ("3301",)
    # 鼓楼区 is in four prefectures; the named city picks one
    assert context_of([("district:鼓楼区",)]).counties != ("350102",)
    assert context_of([("city:福州市",), ("district:鼓楼区",)]).counties == ("350102",)
    # a county the list no longer knows stands for its prefecture
    old = context_of([("district:江干区",)])
    assert old.counties == ()
    assert old.near == ("3301",)
    assert context_of([]).prefectures == ()


def _tags_of(text: str, piece: str) -> list[str]:
    start = text.index(piece)
    return _matches(text)[start]


def test_township_and_village_tags_follow_the_county() -> None:
    text = "上海市嘉定区华亭北新村12号"
    assert "tcs:B" in _tags_of(text, "华亭")  # a township of the county named, short
    assert "vt:B" in _tags_of(text, "北新村")  # a village of that township
    full = "上海市嘉定区华亭镇北新村12号"
    assert "tc:B" in _tags_of(full, "华亭镇")
    assert "tc:E" in _matches(full)[full.index("镇")]
    # the same name under a county that has no such township: no county tag
    other = "浙江省杭州市西湖区华亭镇北新村12号"
    assert not any(t.startswith("tc") for t in _tags_of(other, "华亭镇"))
    assert not any(t.startswith("vt") for t in _tags_of(other, "北新村"))
    # written twice: the copies are marked
    twice = "华亭镇上海市嘉定区华亭镇北新村"
    tags = _matches(twice)
    assert "dupL:town" in tags[0]
    assert "dupE:town" in tags[twice.index("华亭镇", 1)]
    assert "dupE:town" not in tags[0]


def test_the_generator_draws_real_townships_and_villages() -> None:
    g = gazetteer()
    towns = {t for names in g.townships.values() for t in names}
    towns |= {s for t in towns for s in township_short_forms(t)}
    addresses = generate(3000, seed=5)
    written = [text for a in addresses for label, text in a if label == "town"]
    real = [t for t in written if t in towns]
    assert len(real) > len(written) / 3
    assert any(t not in towns for t in written)  # invented ones too
    suffixless = [t for t in real if not t.endswith(("镇", "乡", "街道"))]
    assert suffixless  # written without the type word as well


@pytest.mark.parametrize(
    ("text", "town", "after"),
    [
        ("上海市嘉定区华亭北新村12号", "华亭", ("community", "北新村")),
        ("杭州市萧山区瓜沥东灵路100号", "瓜沥", ("road", "东灵路")),
    ],
)
def test_a_township_without_its_type_word_is_parsed_as_town(
    text: str, town: str, after: tuple[str, str]
) -> None:
    got = [(c.label, c.text) for c in parse(text)]
    assert ("town", town) in got, got
    assert got[got.index(("town", town)) + 1] == after
