"""Parsing of Chinese addresses: offsets, coverage, labels, values.

The tagger is trained on first use from synthetic addresses only (a few tens of
seconds), then cached; see :mod:`addressing._zh_model`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from addressing import parse
from addressing._zh import ZH_LABELS, later_poi_is_subpoi
from addressing._zh_model import TRAINING, model_path
from addressing._zh_rules import apply_rules
from addressing._zh_synth import generate


def _check_offsets(text: str) -> None:
    comps = parse(text)
    assert comps, text
    pos = 0
    for c in comps:
        assert c.start == pos, (text, comps)  # contiguous cover, in reading order
        assert c.end > c.start
        assert text[c.start : c.end] == c.text
        assert c.label in ZH_LABELS
        pos = c.end
    assert pos == len(text)


@pytest.mark.parametrize(
    "text",
    [
        "浙江省杭州市西湖区文三路90号东部软件园B座12层1201室",
        "浙江省 杭州市 滨江区 六和路 ---- 东信大道自行车租赁点",
        "ＡＢＣ大厦１２３４室",  # full width
        "上海市静安区共和新路街道柳营路669弄14号1102",
        "竹海水韵春风里12-3-1001",
        "  杭州市文三路90号  ",
        "杭州市\t文三路\n90号",
    ],
)
def test_offsets_slice_the_original_input(text: str) -> None:
    _check_offsets(text)


_HAN = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
_OTHER = st.sampled_from(list("0123456789-_ ()（）ABab１２Ａ号路幢单元室楼层、，"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_HAN, _OTHER), min_size=1, max_size=60).map("".join))
def test_offsets_hold_for_any_chinese_text(body: str) -> None:
    text = "杭" + body
    _check_offsets(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "浙江省杭州市西湖区文三路90号",
            [("prov", "浙江省"), ("city", "杭州市"), ("district", "西湖区"), ("road", "文三路"), ("roadno", "90号")],
        ),
        (
            "江苏省南京市鼓楼区中山北路105号",
            [("prov", "江苏省"), ("city", "南京市"), ("district", "鼓楼区"), ("road", "中山北路"), ("roadno", "105号")],
        ),
        (
            "广东省深圳市南山区桃源街道学苑大道1001号",
            [("prov", "广东省"), ("city", "深圳市"), ("district", "南山区"), ("town", "桃源街道"),
             ("road", "学苑大道"), ("roadno", "1001号")],
        ),
    ],
)  # fmt: skip
def test_clear_addresses_get_their_labels(text: str, expected: list[tuple[str, str]]) -> None:
    assert [(c.label, c.text) for c in parse(text)] == expected


def test_building_unit_floor_room() -> None:
    got = {c.label: c for c in parse("浙江省杭州市西湖区文三路90号6幢二单元七楼1201室")}
    assert got["houseno"].value == "6幢"
    assert got["cellno"].text == "二单元"
    assert got["cellno"].value == "2单元"
    assert got["floorno"].value == "7楼"
    assert got["roomno"].value == "1201室"


def test_full_width_input_keeps_offsets_and_folds_values() -> None:
    text = "杭州市文三路９０号"
    comps = parse(text)
    roadno = [c for c in comps if c.label == "roadno"]
    assert roadno
    assert roadno[0].text == "９０号"
    assert roadno[0].value == "90号"


def test_short_division_names_are_expanded() -> None:
    comps = parse("浙江杭州西湖区文三路90号")
    values = {c.label: c.value for c in comps}
    assert values.get("prov") == "浙江省"
    assert values.get("city") == "杭州市"


def test_dashed_numbers_split_with_redundant_dashes() -> None:
    comps = parse("杭州市滨江区缤纷北苑47-2-301")
    tail = [(c.label, c.text) for c in comps][-5:]
    assert [t for _, t in tail] == ["47", "-", "2", "-", "301"]
    assert tail[1][0] == tail[3][0] == "redundant"


def test_generator_is_deterministic_and_uses_the_corpus_labels() -> None:
    a = generate(200, seed=7)
    assert a == generate(200, seed=7)
    assert a != generate(200, seed=8)
    labels = {label for addr in a for label, _ in addr}
    assert labels <= set(ZH_LABELS)
    assert {"prov", "city", "district", "road", "roadno", "poi"} <= labels


def test_model_name_follows_the_training_settings() -> None:
    other = dict(TRAINING, seed=int(TRAINING["seed"]) + 1)
    assert model_path(other) != model_path()
    assert model_path(dict(TRAINING)) == model_path()


def test_generator_does_not_depend_on_string_hashing() -> None:
    # Python salts str hashes per process: a set's order must never reach the
    # generated addresses, else every machine would train a different tagger
    code = "from addressing._zh_synth import generate\nprint(repr(generate(300, seed=3)))"
    outs = set()
    for salt in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=salt)
        run = subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            cwd=Path(__file__).resolve().parents[2],
            capture_output=True,
            text=True,
            check=True,
        )
        outs.add(run.stdout)
    assert len(outs) == 1


def test_a_later_place_of_interest_is_a_subpoi() -> None:
    phrases = [("road", 0, 3), ("poi", 3, 7), ("houseno", 7, 9), ("poi", 9, 12), ("poi", 12, 14)]
    got = later_poi_is_subpoi(phrases)
    assert [p[0] for p in got] == ["road", "poi", "houseno", "subpoi", "subpoi"]
    assert [p[1:] for p in got] == [p[1:] for p in phrases]
    # and the parser applies it: never two poi components in one address
    for text in (
        "杭州市西湖区文三路90号东部软件园3号楼星巴克咖啡店",
        "义乌国际商贸城5区沃尔玛超市",
    ):
        assert sum(c.label == "poi" for c in parse(text)) <= 1


def test_generated_second_places_of_interest_are_subpois() -> None:
    for segs in generate(2000, seed=11):
        assert sum(label == "poi" for label, _ in segs) <= 1


def _cover(text: str, phrases: list[tuple[str, int, int]]) -> None:
    pos = 0
    for _, s, e in phrases:
        assert s == pos and e > s, phrases
        pos = e
    assert pos == len(text)


@pytest.mark.parametrize(
    ("text", "tagged", "expected"),
    [
        # a bare number right after the road is the door number
        ("双燕路1783", [("road", 0, 3), ("roomno", 3, 7)], [("road", "双燕路"), ("roadno", "1783")]),
        # ... but not when building parts follow it
        ("双燕路17-3-301", [("road", 0, 3), ("houseno", 3, 5), ("redundant", 5, 6),
                            ("cellno", 6, 7), ("redundant", 7, 8), ("roomno", 8, 11)],
         [("road", "双燕路"), ("houseno", "17"), ("redundant", "-"), ("cellno", "3"),
          ("redundant", "-"), ("roomno", "301")]),
        # a name written twice in a row: one name and a redundant copy
        ("杭州江干区彭埠镇彭埠镇", [("city", 0, 2), ("district", 2, 5), ("town", 5, 11)],
         [("city", "杭州"), ("district", "江干区"), ("town", "彭埠镇"), ("redundant", "彭埠镇")]),
        # a city name after the street part begins the company name that follows it
        ("西园路10号1071室杭州逸翔化工有限公司",
         [("road", 0, 3), ("roadno", 3, 6), ("roomno", 6, 11), ("city", 11, 13), ("poi", 13, 21)],
         [("road", "西园路"), ("roadno", "10号"), ("roomno", "1071室"),
          ("poi", "杭州逸翔化工有限公司")]),
        # ... while one before the street part stays a division
        ("杭州逸翔化工有限公司", [("city", 0, 2), ("poi", 2, 10)],
         [("city", "杭州"), ("poi", "逸翔化工有限公司")]),
        # 收 after a name is a delivery note
        ("老市场三楼谢某某收", [("poi", 0, 3), ("floorno", 3, 5), ("person", 5, 9)],
         [("poi", "老市场"), ("floorno", "三楼"), ("person", "谢某某"), ("redundant", "收")]),
        # a township does not end on its type word twice
        ("新降镇镇前大道129号", [("town", 0, 4), ("road", 4, 7), ("roadno", 7, 11)],
         [("town", "新降镇"), ("road", "镇前大道"), ("roadno", "129号")]),
        # a company name cut on no place word is one name
        ("顶塘工业园鑫龙水准仪器有限公司",
         [("poi", 0, 5), ("subpoi", 5, 8), ("person", 8, 15)],
         [("poi", "顶塘工业园"), ("subpoi", "鑫龙水准仪器有限公司")]),
        # ... while a sub-place that ends on one (东区, 北门) keeps the company apart
        ("金泽大厦东区长风机械厂",
         [("poi", 0, 4), ("subpoi", 4, 6), ("person", 6, 11)],
         [("poi", "金泽大厦"), ("subpoi", "东区"), ("person", "长风机械厂")]),
    ],
)  # fmt: skip
def test_rules_fix_systematic_slips(
    text: str, tagged: list[tuple[str, int, int]], expected: list[tuple[str, str]]
) -> None:
    _cover(text, tagged)
    got = apply_rules(text, tagged)
    _cover(text, got)
    assert [(label, text[s:e]) for label, s, e in got] == expected


def test_rules_leave_a_road_number_alone() -> None:
    text = "文三路90号1201"
    tagged = [("road", 0, 3), ("roadno", 3, 6), ("roomno", 6, 10)]
    assert apply_rules(text, tagged) == tagged


def test_generator_writes_sections_directions_and_postcodes() -> None:
    segs = [seg for addr in generate(6000, seed=5) for seg in addr]
    subroads = {t for label, t in segs if label == "subroad"}
    assert any(t.endswith("段") for t in subroads)
    assists = {t for label, t in segs if label == "assist"}
    assert any(t.endswith("米") for t in assists)
    assert any(label == "redundant" and t.isdigit() and len(t) == 6 for label, t in segs)


def test_an_abolished_county_is_still_a_county() -> None:
    from addressing._divisions import divisions

    shaoxing = [d for d in divisions() if d.name == "绍兴县"]
    assert [(d.code, d.level, d.parent) for d in shaoxing] == [
        ("330621000000", "district", "330600000000")
    ]
    # 绍兴县 (now 柯桥区) holds 兴县, a county in Shanxi: the whole name is the county
    got = [(c.label, c.text) for c in parse("浙江省绍兴市绍兴县钱清镇")]
    assert got == [
        ("prov", "浙江省"),
        ("city", "绍兴市"),
        ("district", "绍兴县"),
        ("town", "钱清镇"),
    ]
