"""Units and features of the Chinese address tagger.

A Chinese address is cut into *units*: a run of digits, a run of Latin letters, or one
other character. The tagger gives each unit a label; the features of a unit are its
neighbourhood of units, the character classes around it, and the dictionary words
(divisions from ``cpca``, townships and villages from ``jionlp``, the hand-written
keywords of :mod:`addressing._zh_lexicon`) that cover it.
"""

from __future__ import annotations

import re
from functools import cache
from itertools import accumulate

from addressing._divisions import divisions, short_forms
from addressing._text import fold_width
from addressing._zh_lexicon import keyword_table
from addressing._zh_places import add_place_tags

__all__ = ["featurise", "units"]

_UNIT = re.compile(r"[0-9]+|[A-Za-z]+|.", re.DOTALL)
_ZH_DIGITS = frozenset("零〇一二两三四五六七八九十百千")
_DASHED = re.compile(r"[0-9A-Za-z]+(?:-+[0-9A-Za-z]+)+")
_GROUP = re.compile(r"[0-9A-Za-z]+")


@cache
def _canonical() -> dict[str, tuple[str, ...]]:
    """Map each written form of a division to the ``level:official name`` it may stand for."""
    table: dict[str, set[str]] = {}
    for d in divisions():
        for form in (d.name, *short_forms(d.name, d.level)):
            table.setdefault(form, set()).add(f"{d.level}:{d.name}")
    return {k: tuple(sorted(v)) for k, v in table.items()}


@cache
def _dictionary() -> tuple[dict[str, tuple[tuple[str, ...], ...]], frozenset[str]]:
    """Map each dictionary word to its tags written as a one-character match (``:S``),
    and as the first, middle and last character of a longer one (``:B``, ``:M``, ``:E``),
    with the set of all word prefixes."""
    table: dict[str, set[str]] = {}
    for d in divisions():
        table.setdefault(d.name, set()).add(f"{d.level}F")
        for form in short_forms(d.name, d.level):
            table.setdefault(form, set()).add(f"{d.level}S")
    for word, families in keyword_table().items():
        table.setdefault(word, set()).update(f"k{f}" for f in families)
    frozen = {
        w: tuple(tuple(f"{t}:{pos}" for t in sorted(tags)) for pos in "SBME")
        for w, tags in table.items()
    }
    prefixes = frozenset(w[:k] for w in frozen for k in range(1, len(w) + 1))
    return frozen, prefixes


def units(text: str) -> list[tuple[int, int]]:
    """Return the ``(start, end)`` spans of the units of ``text``.

    Examples
    --------
    >>> units("B座12室")
    [(0, 1), (1, 2), (2, 4), (4, 5)]
    """
    return [m.span() for m in _UNIT.finditer(fold_width(text))]


def _kind(tok: str) -> str:
    c = tok[0]
    if c.isdigit():
        return "N"
    if c.isascii() and c.isalpha():
        return "L"
    if c in _ZH_DIGITS:
        return "Z"
    if c.isspace():
        return "S"
    if "\u4e00" <= c <= "\u9fff" or "\u3400" <= c <= "\u4dbf":
        return "H"
    return "P"


def _shape(tok: str, kind: str) -> str:
    if kind == "N":
        return f"<N{min(len(tok), 5)}>"
    if kind == "L":
        return f"<L{min(len(tok), 3)}>"
    if kind == "S":
        return "<S>"
    return tok


_TOKENS: dict[str, tuple[str, bytes, bytes | None]] = {}


def _token(tok: str) -> tuple[str, bytes, bytes | None]:
    """The kind of a unit, its shape and its ``lw=`` feature (Latin units only), both
    in UTF-8; remembered in a bounded memo (units are mostly single characters)."""
    kind = _kind(tok)
    info = (
        kind,
        _shape(tok, kind).encode(),
        b"lw=" + tok.lower().encode() if kind == "L" else None,
    )
    if len(_TOKENS) < 50_000:
        _TOKENS[tok] = info
    return info


_TAGS: dict[str, tuple[bytes, bytes | None, bytes | None]] = {}


def _tag_features(tag: str) -> tuple[bytes, bytes | None, bytes | None]:
    """The features a dictionary tag gives the unit it is on (``d=``), the unit after
    it when the tag ends a word (``d-1=``, for ``:E`` and ``:S``) and the unit before it
    when the tag begins one (``d+1=``, for ``:B`` and ``:S``), in UTF-8; remembered."""
    last = tag[-1]
    out = (
        ("d=" + tag).encode(),
        ("d-1=" + tag).encode() if last in "ES" else None,
        ("d+1=" + tag).encode() if last in "BS" else None,
    )
    _TAGS[tag] = out  # the tags are a closed set: dictionary, place and number tags
    return out


def _matches(text: str) -> list[list[str]]:
    """Return, for each character, the dictionary tags covering it (``city:B``...).

    Divisions written twice (``浙江省杭州市浙江杭州市``) also get ``dup`` tags saying
    whether the same division is written again later or was written earlier. Township
    and village names get the tags of :func:`addressing._zh_places.add_place_tags`,
    looked for under the divisions found.
    """
    table, prefixes = _dictionary()
    canonical = _canonical()
    n = len(text)
    out: list[list[str]] = [[] for _ in range(n)]
    found: list[tuple[int, int, tuple[str, ...]]] = []
    for i in range(n):
        j = i + 1
        while j <= n:
            piece = text[i:j]
            if piece not in prefixes:
                break
            tags = table.get(piece)
            if tags is not None:
                if j - i == 1:
                    out[i].extend(tags[0])
                else:
                    out[i].extend(tags[1])
                    out[j - 1].extend(tags[3])
                    for k in range(i + 1, j - 1):
                        out[k].extend(tags[2])
                    names = canonical.get(piece)
                    if names:
                        found.append((i, j, names))
            j += 1
    if len(found) > 1:
        sets = [frozenset(names) for _, _, names in found]
        for x, (a, b, _) in enumerate(found):
            dup: set[str] = set()
            for y, (c, d, _) in enumerate(found):
                if c < b and a < d:  # the same span, or overlapping
                    continue
                shared = sets[x] & sets[y]
                if not shared:
                    continue
                level = min(shared).split(":")[0]
                side = "dupL:" if c >= b else "dupE:"
                size = (b - a) - (d - c)
                cmp = "+" if size > 0 else "-" if size < 0 else "="
                dup.add(side + level)
                dup.add(side + cmp)
                if c == b or d == a:
                    dup.add(side + "adj")
            if dup:
                marks = sorted(dup)
                for k in range(a, b):
                    out[k].extend(marks)
    add_place_tags(text, found, out)
    return out


def _merged(char_tags: list[list[str]], start: int, end: int) -> list[str]:
    """The tags of the characters of a unit of several characters, once each, sorted."""
    seen: list[str] = []
    for k in range(start, end):
        seen.extend(char_tags[k])
    return sorted(set(seen))


def featurise(text: str) -> tuple[list[tuple[int, int]], list[list[bytes]]]:
    """Return the unit spans of ``text`` and the feature list of each unit.

    Parameters
    ----------
    text
        The address as written (full-width forms are folded here).

    Returns
    -------
    spans, features
        ``spans[i]`` is the ``(start, end)`` of unit ``i`` in ``text``; ``features[i]``
        its feature strings, UTF-8 encoded (the tagger takes them so without encoding
        each one again).
    """
    folded = fold_width(text)
    toks: list[str] = _UNIT.findall(folded)  # every character is in one unit
    ends = list(accumulate(map(len, toks)))
    spans = list(zip([0, *ends], ends, strict=False))
    infos = [_TOKENS.get(t) or _token(t) for t in toks]
    shapes = [i[1] for i in infos]
    char_tags = _matches(folded)
    # numbers written with dashes (12-3-1001): which group of how many
    if "-" in folded:
        for m in _DASHED.finditer(folded):
            groups = list(_GROUP.finditer(m.group(0)))
            for k, g in enumerate(groups, 1):
                tag = f"grp{k}/{min(len(groups), 4)}"
                for c in range(m.start() + g.start(), m.start() + g.end()):
                    char_tags[c].append(tag)
    # per unit, the features of each dictionary tag on it (see _tag_features)
    tag_feats = [
        [
            _TAGS.get(t) or _tag_features(t)
            for t in (char_tags[s] if e - s == 1 else _merged(char_tags, s, e))
        ]
        for s, e in spans
    ]
    n = len(toks)
    pad = [b"<s>", *shapes, b"</s>"]
    kinds = ("^" + "".join(i[0] for i in infos) + "$").encode()
    # the unit and its neighbours (two units away told the tagger nothing more: dev F1
    # 86.01/85.78 with them, 85.96/85.79 without, over two training seeds)
    feats = [
        [
            b"b",
            b"w=" + w0,
            b"w-1=" + w_1,
            b"w+1=" + w1,
            b"w-1w=" + w_1 + w0,
            b"ww+1=" + w0 + w1,
            b"k=" + kinds[i : i + 3],
        ]
        for i, (w_1, w0, w1) in enumerate(zip(pad, shapes, pad[2:], strict=False))
    ]
    # the unit's dictionary tags; those that end at the unit before and that begin at
    # the unit after
    for i, f in enumerate(feats):
        lw = infos[i][2]
        if lw is not None:
            f.append(lw)
        here = tag_feats[i]
        if here:
            f.extend([t[0] for t in here])
        if i and tag_feats[i - 1]:
            f.extend([x for t in tag_feats[i - 1] if (x := t[1]) is not None])
        if i + 1 < n and tag_feats[i + 1]:
            f.extend([x for t in tag_feats[i + 1] if (x := t[2]) is not None])
    return spans, feats
