"""A generator of synthetic, labelled Chinese addresses.

The tagger of :mod:`addressing._zh_model` learns from these addresses only. They are
assembled from the division list of ``cpca`` (province, prefecture, county, with their
short forms), real township and village names of the location tree of ``jionlp``
(:mod:`addressing._zh_synth_places`), the hand-written keywords of
:mod:`addressing._zh_lexicon`, and names made of random characters, in the orders and
with the noise (duplicated divisions, dashes, spaces, delivery notes) seen in real
address text.
"""

from __future__ import annotations

import random
from functools import cache

from addressing._divisions import Division, divisions, short_forms
from addressing._zh_lexicon import KEYWORDS, former_forms
from addressing._zh_synth_places import Place, named_after_places, township, written
from addressing._zh_synth_places import village as real_village

__all__ = ["Segment", "generate"]

type Segment = tuple[str, str]
"""A labelled piece of an address: ``(label, text)``."""

_COMMON = (
    "华新阳光明金银东西南北中天海山江河湖城龙凤安平和兴盛德福寿康泰宁永长春秋丰利源通达"
    "鑫宏伟国家世纪星月云水林森竹梅兰松柏青绿红黄白紫蓝嘉美佳丽雅景锦绣茂荣昌隆祥瑞吉庆"
    "富贵宝玉珠翠晶石峰岭溪泉港湾洲桥塘坊园亭台楼阁轩居庭府苑家乐德信诚义仁智勇志远航"
    "博文武学科技工商贸农业电子机械纺织服装建材五金塑料化工医药食品汽车物流电器环保能源"
    "万千百一二三四五六七八九十大小上下前后左右新老古今高低联合创业振兴发展开拓益众民生"
)
_ROAD_STEMS = (
    "人民 解放 中山 建设 新华 和平 胜利 文化 工业 环城 滨江 学院 长江 黄河 延安 友谊 朝阳 "
    "光明 幸福 青年 民主 振兴 团结 府前 站前 迎宾 体育场 东风 红旗 世纪 创业 科技 江南 "
    "文一 文二 文三 凤起 庆春 沿江 滨海 湖滨 新城 开发 工农 健康 劳动 公园 车站 交通 商业"
)
_LETTERS = "ABCDEFGH"
_ZH_NUM = "一二三四五六七八九十"


def _weighted(rng: random.Random, pairs: list[tuple[float, str]]) -> str:
    r = rng.random() * sum(w for w, _ in pairs)
    for w, v in pairs:
        r -= w
        if r <= 0:
            return v
    return pairs[-1][1]


@cache
def _pool() -> str:
    chars = set(_COMMON)
    for d in divisions():
        chars.update(ch for ch in d.name[:-1] if "\u4e00" <= ch <= "\u9fff")
    return "".join(sorted(chars))


@cache
def _tree() -> tuple[list[Division], dict[str, list[Division]]]:
    top = [d for d in divisions() if d.parent == ""]
    children: dict[str, list[Division]] = {}
    for d in divisions():
        if d.parent:
            children.setdefault(d.parent, []).append(d)
    return top, children


def _name(rng: random.Random, lo: int = 1, hi: int = 3) -> str:
    pool = _pool()
    n = rng.choices(range(lo, hi + 1), weights=[4 if k == 2 else 2 for k in range(lo, hi + 1)])[0]
    if n == 0:
        return ""
    if n >= 2 and rng.random() < 0.05:
        # a division's name inside another name (龙城 in 宝龙城市广场)
        d = rng.choice(divisions())
        return (short_forms(d.name, d.level) or [d.name])[0][:n]
    common = rng.random() < 0.5
    return "".join(rng.choice(_COMMON if common else pool) for _ in range(n))


def _word(rng: random.Random, family: str) -> str:
    return rng.choice(KEYWORDS[family])


def _number(rng: random.Random, hi: int = 300) -> int:
    if rng.random() < 0.7:
        return rng.randint(1, hi)
    return rng.randint(1, hi * 10)


def _zh_num(rng: random.Random, n: int) -> str:
    if n <= 10:
        return _ZH_NUM[n - 1]
    if n < 20:
        return "十" + (_ZH_NUM[n - 11] if n > 10 else "")
    return str(n)


def _form(rng: random.Random, d: Division, p_short: float = 0.3) -> str:
    shorts = short_forms(d.name, d.level)
    if shorts and rng.random() < p_short:
        return rng.choice(shorts)
    if shorts and d.level == "district" and rng.random() < 0.06:
        # a county under its former name or type: 洞头县 for 洞头区, 石柱县
        return rng.choice(former_forms(d.name))
    return d.name


def _admin(rng: random.Random) -> tuple[list[Segment], Division]:
    """Divisions as an address writes them, and the lowest division drawn (written or
    not), under which the township and village are drawn."""
    top, children = _tree()
    zhejiang = [d for d in top if d.code.startswith("33")]
    prov = zhejiang[0] if zhejiang and rng.random() < 0.45 else rng.choice(top)
    chain: list[Division] = [prov]
    city = prov if prov.level == "city" else None
    if city is None:
        cities = children.get(prov.code, [])
        city = rng.choice(cities) if cities else None
        if city is not None:
            chain.append(city)
    if city is not None:
        counties = children.get(city.code, [])
        if counties:
            chain.append(rng.choice(counties))
    keep = {"prov": 0.5, "city": 0.6, "district": 0.75}
    picked = [d for d in chain if rng.random() < keep[d.level]]
    out: list[Segment] = [(d.level, _form(rng, d)) for d in picked]
    r = rng.random()
    if len(picked) > 1 and r < 0.08:
        # the chain written twice: the fuller copy is labelled, the other is redundant;
        # between equals, mostly the later one is labelled
        other = [(d.level, _form(rng, d, 0.4)) for d in chain if rng.random() < 0.75]
        sep: list[Segment] = []
        if rng.random() < 0.15:
            sep = [("redundant", rng.choice([" ", "null", "-"]))]

        def _fullness(segs: list[Segment]) -> tuple[int, int]:
            return len(segs), sum(len(t) for _, t in segs)

        if (other and _fullness(other) > _fullness(out)) or (
            other and _fullness(other) == _fullness(out) and rng.random() < 0.2
        ):
            out = out[:0] + [("redundant", t) for _, t in out] + sep + other
        elif (other and _fullness(other) == _fullness(out)) or rng.random() < 0.5:
            out = [("redundant", t) for _, t in other] + sep + out
        else:
            out = out + sep + [("redundant", t) for _, t in other]
    elif picked and r < 0.15:
        # one division written twice in a row: mostly the second copy is redundant
        # (a short form next to the official name is the redundant one)
        k = rng.randrange(len(out))
        level, first = out[k]
        d = next(x for x in picked if x.level == level)
        second = _form(rng, d, 0.5)
        if second != first and second == d.name:
            after = rng.random() < 0.5
            if after:
                out[k] = ("redundant", first)
                out.insert(k + 1, (level, second))
            else:
                out.insert(k, ("redundant", second))
        elif second != first:
            out.insert(k + (1 if rng.random() < 0.5 else 0), ("redundant", second))
        else:
            out.insert(k + (1 if rng.random() < 0.75 else 0), ("redundant", second))
    if len(out) > 1 and rng.random() < 0.08:
        mark = rng.choice(["-", " ", " ", ","])
        spaced: list[Segment] = []
        for k, seg in enumerate(out):
            if k:
                spaced.append(("redundant", mark))
            spaced.append(seg)
        out = spaced
    if rng.random() < 0.01:
        out.insert(0, ("country", "中国"))
    return out, chain[-1]


def _road(rng: random.Random) -> str:
    if rng.random() < 0.03:
        return f"{rng.randint(100, 330)}国道"
    stem = rng.choice(_ROAD_STEMS.split()) if rng.random() < 0.3 else _name(rng, 1, 3)
    if rng.random() < 0.1:
        # a place word inside the name: 中关村大街, 西溪镇路, 文化桥路
        stem += rng.choice(["村", "镇", "桥", "港", "山", "湖", "塘", "园", "庄", "城", "门", "坊"])
    if rng.random() < 0.25:
        stem += rng.choice("东西南北中")
    if rng.random() < 0.1:
        stem += rng.choice("一二三四五")
    elif rng.random() < 0.03:
        stem += str(rng.randint(1, 12))
    suffix = _weighted(
        rng,
        [
            (6, "路"),
            (2, "街"),
            (1.5, "大道"),
            (0.8, "大街"),
            (0.8, "巷"),
            (0.4, "弄"),
            (0.3, "公路"),
            (0.2, "线"),
            (0.2, "道"),
            (0.1, "胡同"),
            (0.1, "里"),
        ],
    )
    return stem + suffix


def _town(rng: random.Random) -> str:
    """A township (镇, 乡) or subdistrict (街道), some named after a road or estate."""
    suffix = _weighted(rng, [(4, "镇"), (3, "街道"), (1.2, "乡")])
    if suffix == "街道" and rng.random() < 0.15:
        return (_road(rng) if rng.random() < 0.7 else _name(rng, 2, 2) + "新村") + suffix
    return _name(rng, 2, 3) + suffix


def _roadno(rng: random.Random) -> str:
    n = _number(rng, 400)
    return _weighted(
        rng,
        [
            (8.5, f"{n}号"),
            (1.2, f"{n}"),
            (0.2, f"{n}-{n + rng.randint(1, 6)}号"),
            (0.05, f"{n}-{rng.randint(1, 20)}"),
            (0.3, f"{n}弄"),
            (0.2, f"{_zh_num(rng, rng.randint(1, 20))}号"),
            (0.2, f"{n}号院"),
        ],
    )


def _company(rng: random.Random) -> str:
    out = _name(rng, 2, 4)
    if rng.random() < 0.7:
        out += _word(rng, "industry")
    return out + _word(rng, "company")


def _poi(rng: random.Random, places: tuple[str, ...] = ()) -> str:
    r = rng.random()
    base = _name(rng, 2, 4)
    if rng.random() < 0.15:
        # names often begin with a place: 杭州联谊纸业, 浙江理工大学
        if places and rng.random() < 0.6:
            base = rng.choice(places) + _name(rng, 1, 3)
        else:
            d = rng.choice(divisions())
            base = (short_forms(d.name, d.level) or [d.name[:2]])[0] + _name(rng, 0, 2)
    if r < 0.1:
        return base  # a bare name
    if r < 0.13:
        return base + rng.choice(_LETTERS) + "区"
    if r < 0.2:
        return (
            _name(rng, 1, 2)
            + rng.choice(["", "第"])
            + _zh_num(rng, rng.randint(1, 9))
            + rng.choice("区区期")
        )
    if r < 0.3:
        return _company(rng)
    suffix = _word(rng, "poi")
    if rng.random() < 0.3:
        suffix = _word(rng, rng.choice(["poi", "poi", "industry"])) + suffix
    elif rng.random() < 0.15:
        suffix = _name(rng, 1, 2) + suffix
    return base + suffix


def _subpoi(rng: random.Random) -> str:
    return _weighted(
        rng,
        [
            (3, _word(rng, "subpoi")),
            (2, rng.choice(_LETTERS) + "区"),
            (1, f"{rng.randint(1, 9)}区"),
            (1, _zh_num(rng, rng.randint(1, 9)) + "区"),
            (2, _name(rng, 2, 3) + rng.choice(["苑", "园", "阁", "楼", "区", "轩", "大楼", "馆"])),
            (2, _poi(rng)),
            (0.5, rng.choice("东西南北") + "楼"),
            (0.8, _company(rng)),
        ],
    )


def _house(rng: random.Random) -> str:
    n = _number(rng, 40)
    return _weighted(
        rng,
        [
            (2.5, f"{n}号楼"),
            (4, f"{n}幢"),
            (4, f"{n}栋"),
            (1, f"{rng.choice(_LETTERS)}座"),
            (0.8, f"{rng.choice(_LETTERS + 'abc')}{rng.choice(['栋', '幢', '座'])}"),
            (2, f"{n}号"),
            (0.9, f"{_zh_num(rng, rng.randint(1, 12))}{rng.choice(['号楼', '幢', '栋'])}"),
            (0.3, f"{rng.choice(_LETTERS)}{n}{rng.choice(['幢', '座', '栋'])}"),
            (0.3, rng.choice(_LETTERS)),
            (0.3, f"{rng.choice(_LETTERS)}{n}"),
            (0.15, f"{n}{rng.choice(_LETTERS)}"),
        ],
    )


def _cell(rng: random.Random, house: str) -> str:
    n = rng.randint(1, 9)
    if house[-1:] in {"栋", "幢"} and rng.random() < 0.25:
        return f"{rng.randint(1, 150)}号"
    return _weighted(rng, [(5, f"{n}单元"), (1.5, f"{_zh_num(rng, n)}单元"), (0.5, f"{n}号门")])


def _dash_cell(rng: random.Random) -> str:
    return str(rng.randint(1, 9) if rng.random() < 0.6 else rng.randint(10, 30))


def _dash_room(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.55:
        return str(rng.randint(1, 30) * 100 + rng.randint(1, 20))
    if r < 0.85:
        return str(rng.randint(1, 99))
    return _room(rng)


def _floor(rng: random.Random) -> str:
    n = rng.randint(1, 40)
    return _weighted(
        rng,
        [
            (5.5, f"{n}楼"),
            (0.5, f"{n}层"),
            (3, f"{_zh_num(rng, min(n, 19))}楼"),
            (0.35, f"{_zh_num(rng, min(n, 19))}层"),
            (0.5, f"{n}F"),
            (0.1, f"负{_zh_num(rng, rng.randint(1, 3))}{rng.choice('楼层')}"),
        ],
    )


def _room(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.65:
        n = rng.randint(1, 40) * 100 + rng.randint(1, 30)
    elif r < 0.9:
        n = rng.randint(1, 999)
    else:
        n = rng.randint(1000, 40000)  # shop numbers of the big markets
    return _weighted(
        rng,
        [
            (2.5, f"{n}室"),
            (6, f"{n}"),
            (1.2, f"{n}号"),
            (0.15, f"{n}房"),
            (0.25, f"{rng.choice(_LETTERS)}{n}"),
            (0.15, f"{n}{rng.choice(_LETTERS)}"),
            (0.1, f"{n}-{rng.randint(1, 30)}{rng.choice(['', '号', '室'])}"),
            (0.1, f"{n}号铺"),
        ],
    )


def _person(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.25:
        return _word(rng, "person")
    if r < 0.6:
        return _name(rng, 2, 4) + _word(rng, "person")
    if r < 0.7:
        return _company(rng)
    return _name(rng, 2, 4) + _word(rng, "poi")


def _assist(rng: random.Random) -> str:
    """Words that place an address relative to a landmark (对面, 向东30米, 左转)."""
    r = rng.random()
    if r < 0.55:
        return _word(rng, "assist")
    side = rng.choice(["东", "西", "南", "北", "东南", "西北", "东北", "西南"])
    if r < 0.75:
        metres = f"{rng.choice([10, 20, 30, 50, 80, 100, 150, 200, 300, 500])}米"
        return rng.choice(["向", "往", ""]) + rng.choice([side, "前", side + "侧"]) + metres
    if r < 0.85:
        return rng.choice(["左转", "右转", "往里走", "进去", "直走", "拐弯", "往前走"])
    return side + rng.choice(["侧", "边", "面", "门口", "角", "", ""])


def _bare(rng: random.Random) -> str:
    """A place name written without its type word (临平, 九堡)."""
    return _name(rng, 2, 2)


def _streets(rng: random.Random, village: bool) -> list[Segment]:
    body: list[Segment] = []
    if village and rng.random() < 0.3:
        body.append(
            ("road", f"{rng.choice([str(rng.randint(1, 12)), _zh_num(rng, rng.randint(1, 12))])}组")
        )
        if rng.random() < 0.6:
            body.append(("roadno", f"{rng.randint(1, 120)}号"))
        return body
    if rng.random() < (0.35 if village else 0.6):
        body.append(("road", _road(rng)))
        r = rng.random()
        if r < 0.05:  # a crossing: 昌盛南路与文昌路交叉口
            body.append((rng.choice(["assist", "redundant"]), rng.choice("与和")))
            body.append(("subroad", _road(rng)))
            if rng.random() < 0.8:
                body.append(
                    ("assist", rng.choice(["交叉口", "交汇处", "交口", "路口", "东南角", "西北角"]))
                )
        elif r < 0.1:
            body.append(
                ("subroad", f"{rng.randint(1, 900)}弄" if rng.random() < 0.7 else _road(rng))
            )
            if rng.random() < 0.85:
                body.append(("subroadno", f"{rng.randint(1, 120)}号"))
        elif r < 0.13:  # a section of the road: 鄞县大道西段4号
            body.append(("subroad", rng.choice("东西南北中") + "段"))
            if rng.random() < 0.8:
                body.append(("subroadno", f"{_number(rng, 400)}号"))
        elif r < 0.74:
            body.append(("roadno", _roadno(rng)))
            if body[-1][1].isdigit() and rng.random() < 0.25:
                body.append(("redundant", "-"))
                body.append(("houseno", f"{rng.randint(1, 200)}{rng.choice(['号', '号', ''])}"))
        return body
    if village and rng.random() < 0.5:
        body.append(("roadno", f"{rng.randint(1, 300)}号"))
    return body


def _address(rng: random.Random) -> list[Segment]:
    segs, lowest = _admin(rng)
    industrial = False
    if rng.random() < 0.06:
        r = rng.random()
        if r < 0.3:
            zone = rng.choice(
                ["开发区", "经济开发区", "经济技术开发区", "高新区", "高新技术开发区"]
            )
        elif r < 0.45:
            zone = _name(rng, 2, 3) + rng.choice(["工业区", "工业园", "工业园区", "工业城"])
            industrial = True
            if rng.random() < 0.7:  # mostly labelled as a place of interest
                segs.append(("poi", zone))
                zone = ""
        else:
            zone = _name(rng, 2, 3) + _word(rng, "devzone")
        if zone:
            segs.append(("devzone", zone))
    place: Place | None = None
    if rng.random() < 0.45:
        place = township(rng, lowest.code) if rng.random() < 0.5 else None
        if place is not None:
            segs.append(("town", written(rng, place[1], p_short=0.2)))
            if rng.random() < 0.04:
                # the township written first, then the whole address: the first copy
                # is redundant (伦教街道佛山市顺德区伦教街道...)
                segs.insert(0, ("redundant", written(rng, place[1], p_short=0.1)))
        else:
            segs.append(("town", _bare(rng) if rng.random() < 0.12 else _town(rng)))
        if rng.random() < 0.03:  # a township and a subdistrict of it: 南宾镇万安街道
            segs.append(("town", _town(rng)))
        if rng.random() < 0.04:  # the township's own institutions: 镇政府, 工业园区
            segs.append(("poi", _word(rng, "institution")))
    # villages are mostly written under their township
    town = bool(segs) and segs[-1][0] in {"town", "poi"}
    village = rng.random() < (0.25 if town else 0.07)
    if village:
        real = None
        if rng.random() < 0.35:
            home = place or township(rng, lowest.code)
            real = real_village(rng, home) if home else None
        if real:
            segs.append(("community", written(rng, real, p_short=0.15, village_name=True)))
        else:
            name = _name(rng, 2, 3) + _weighted(rng, [(4, "村"), (2, "社区"), (0.3, "居委会")])
            segs.append(("community", _bare(rng) if rng.random() < 0.12 else name))
    if village and rng.random() < 0.1:
        return segs  # a village is often the whole address
    body = _streets(rng, village)
    if industrial and not body:
        body = [("road", _road(rng)), ("roadno", _roadno(rng))]
    if rng.random() < 0.03 and body:
        body.insert(1, ("assist", _assist(rng)))
    places = tuple(
        form
        for label, text in segs
        if label in {"prov", "city", "district"}
        for form in dict.fromkeys((text, text[:-1] if len(text) > 2 else text))
    )
    if rng.random() < 0.62:
        poi = [("poi", _poi(rng, places))]
        if body and rng.random() < 0.08:
            body = poi + body
        else:
            body += poi
        if rng.random() < 0.22:
            if rng.random() < 0.1:
                body.append(("assist", rng.choice(["院内", "内", "里面", "旁边", "对面"])))
            body.append(("subpoi", _subpoi(rng)))
    elif village and not body and rng.random() < 0.7:
        r = rng.random()
        # a hamlet within the village: 程家村, 张头, or a named place
        hamlet = _name(rng, 1, 2) + "村" if r < 0.3 else _bare(rng) if r < 0.75 else _poi(rng)
        body.append(("poi", hamlet))
        body.append(("roadno", f"{rng.randint(1, 300)}{rng.choice(['号', '号', ''])}"))
    elif not body and segs and segs[-1][0] in {"town", "community"} and rng.random() < 0.4:
        body.append(("roadno", f"{_number(rng, 300)}号"))
    segs += named_after_places(rng, body, place or township(rng, lowest.code), p=0.12)
    _tail(rng, segs)
    return segs


def _tail(rng: random.Random, segs: list[Segment]) -> None:
    dash = rng.random() < 0.3
    parts: list[Segment] = []
    after_poi = bool(segs) and segs[-1][0] in {"poi", "subpoi"}
    if rng.random() < (0.45 if after_poi else 0.2):
        parts.append(("houseno", str(_number(rng, 60)) if dash else _house(rng)))
    if rng.random() < (0.35 if parts else 0.05):
        parts.append(
            ("cellno", _dash_cell(rng) if dash else _cell(rng, parts[0][1] if parts else ""))
        )
    if rng.random() < (0.12 if not dash else 0.03):
        parts.append(("floorno", _floor(rng)))
    floor_last = bool(parts) and parts[-1][0] == "floorno"
    if rng.random() < (0.3 if floor_last else 0.6 if parts else 0.3 if after_poi else 0.15):
        parts.append(("roomno", _dash_room(rng) if dash and parts else _room(rng)))
    mark = _weighted(rng, [(0.9, "-"), (0.05, "--"), (0.05, "一")])
    for i, seg in enumerate(parts):
        if i and dash:
            segs.append(("redundant", mark))
        elif i and rng.random() < 0.03:
            segs.append(("redundant", " "))
        segs.append(seg)
    if rng.random() < 0.03:
        segs.append(("assist", _assist(rng)))
        if rng.random() < 0.7:
            segs.append(("poi" if rng.random() < 0.75 else "person", _poi(rng)))
    # a company, shop or office at the end, mostly after a building or a floor
    last = segs[-1][0] if segs else ""
    p_person = {"floorno": 0.35, "houseno": 0.14, "subpoi": 0.3, "roomno": 0.04}.get(last, 0.08)
    if rng.random() < p_person:
        segs.append(("person", _person(rng)))
    if rng.random() < 0.08:
        if rng.random() < 0.3:
            segs.append(("redundant", " "))
        segs.append(("redundant", _word(rng, "redundant")))
    elif rng.random() < 0.01:  # a postcode at the end
        segs.append(("redundant", f"{rng.randint(10, 85)}{rng.randint(0, 9999):04d}"))


def _later_poi_is_subpoi(segs: list[Segment]) -> list[Segment]:
    """Label every place of interest after the first one ``subpoi``, as the corpus does."""
    out: list[Segment] = []
    seen = False
    for label, text in segs:
        if label == "poi":
            label, seen = ("subpoi" if seen else "poi"), True
        out.append((label, text))
    return out


def generate(n: int, *, seed: int = 0) -> list[list[Segment]]:
    """Return ``n`` synthetic labelled addresses.

    Parameters
    ----------
    n
        How many addresses.
    seed
        The seed of the random generator; the same seed gives the same addresses.

    Returns
    -------
    list of list of Segment
        Each address as its labelled pieces, in reading order.
    """
    rng = random.Random(seed)
    out: list[list[Segment]] = []
    while len(out) < n:
        segs = _later_poi_is_subpoi([s for s in _address(rng) if s[1]])
        if rng.random() < 0.15:
            # a stray space between two pieces
            k = rng.randrange(1, len(segs)) if len(segs) > 1 else 0
            if k and segs[k - 1][0] != "redundant" and segs[k][0] != "redundant":
                segs.insert(k, ("redundant", " "))
        if segs:
            out.append(segs)
    return out
