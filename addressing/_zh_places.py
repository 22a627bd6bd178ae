"""Township and village names in a Chinese address, as dictionary tags for the tagger.

The names come from the location tree of ``jionlp`` (:mod:`addressing._townships`).
A township name is tagged at the narrowest level that knows it: a township of a county
the address names (tag ``tc``), of a prefecture it names (``tp``), or of anywhere in
China (``tg``, official names only). A county the tree no longer lists (merged or
renamed since) stands for its prefecture at county level. A name written without its
type word (``华亭`` for ``华亭镇``) gets the tag with an ``s`` (``tcs``); a development
zone of township rank gets ``z`` for ``t``. The villages and communities of a township
found under the address's divisions are looked for right after it (``vt``, ``vts``).
A township name is looked for where one is written: at the start of the address,
after a division or after another township, the longest one there; an official name
(``华亭镇``) anywhere, found from its type word.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache, lru_cache
from typing import NamedTuple

from addressing._divisions import divisions, prefecture_key
from addressing._townships import VILLAGE_TYPES, gazetteer, township_kind, township_short_forms

__all__ = ["Context", "add_place_tags", "context_of"]

type Tags = tuple[tuple[str, ...], ...]
"""Tags as written at the first, middle and last character of a name (``tc:B``...)."""

# how far after its township a village may begin (a space, a dash, 的)
_VILLAGE_GAP = 2
_VILLAGE_MAX = 12


class Context(NamedTuple):
    """Where the divisions named in an address point to.

    Attributes
    ----------
    counties
        Six-digit codes of the counties named that the township list knows.
    near
        Prefectures (code prefixes) standing for a named county that the list does not
        know: their townships count as the county's.
    prefectures
        Code prefixes of the prefectures named or holding a named county: four digits,
        or two for the municipalities (``"3301"``, ``"31"``).
    """

    counties: tuple[str, ...]
    near: tuple[str, ...]
    prefectures: tuple[str, ...]


@cache
def _codes() -> dict[str, tuple[str, ...]]:
    """Map ``level:official name`` of each division to its codes."""
    table: dict[str, list[str]] = {}
    for d in divisions():
        table.setdefault(f"{d.level}:{d.name}", []).append(d.code)
    return {k: tuple(v) for k, v in table.items()}


@cache
def _group_codes(group: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The codes of the counties and of the prefectures a division name may stand for."""
    codes = _codes()
    counties = [c for n in group if n.startswith("district:") for c in codes.get(n, ())]
    cities = [c for n in group if n.startswith("city:") for c in codes.get(n, ())]
    return tuple(counties), tuple(cities)


def context_of(names: Iterable[tuple[str, ...]]) -> Context:
    """Return the counties and prefectures that the divisions named in an address point to.

    Parameters
    ----------
    names
        For each division name found in the address, the ``level:official name`` it may
        stand for (``("district:西湖区",)``).

    Returns
    -------
    Context
        Each part sorted. A county is kept only if it lies in a named prefecture, when
        the address names one that holds any of them.

    Examples
    --------
    >>> context_of([("city:杭州市",), ("district:西湖区",)]).counties
    ('330106',)
    >>> context_of([("district:江干区",)]).near  # merged into other districts in 2021
    ('3301',)
    """
    counties: set[str] = set()
    cities: set[str] = set()
    for group in names:
        county_codes, city_codes = _group_codes(group)
        counties.update(county_codes)
        cities.update(city_codes)
    prefs = {prefecture_key(c) for c in cities}
    if prefs and counties:
        inside = {c for c in counties if prefecture_key(c) in prefs}
        if inside:
            counties = inside
    prefs |= {prefecture_key(c) for c in counties}
    known = gazetteer().townships
    return Context(
        tuple(sorted({c[:6] for c in counties if c[:6] in known})),
        tuple(sorted({prefecture_key(c) for c in counties if c[:6] not in known})),
        tuple(sorted(prefs)),
    )


@lru_cache(maxsize=4096)
def _context(names: tuple[tuple[str, ...], ...]) -> Context:
    return context_of(names)


def _positional(tags: Iterable[str]) -> Tags:
    tags = tuple(tags)
    return tuple(tuple(f"{t}:{pos}" for t in tags) for pos in "BME")


@cache
def _level_tags(kinds: frozenset[str], level: str) -> Tags:
    """``kinds`` (``t``, ``ts``, ``z``) at ``level`` (``c``, ``p``, ``g``): ``tc``..."""
    return _positional(sorted({k[0] + level + k[1:] for k in kinds}))


_VT = _positional(["vt"])
_VTS = _positional(["vts"])


type Hit = tuple[str, str, str]
"""A township written with some form: ``(county code, official name, kind)``; kind ``t``
for the official name, ``ts`` for a form without its type word, ``z`` for a zone."""


def _starts(words: Iterable[str]) -> dict[str, tuple[int, ...]]:
    lengths: dict[str, set[int]] = {}
    for w in words:
        lengths.setdefault(w[:2], set()).add(len(w))
    return {k: tuple(sorted(v, reverse=True)) for k, v in lengths.items()}


@cache
def _town_index() -> tuple[
    dict[str, tuple[Hit, ...]], dict[str, tuple[int, ...]], dict[str, frozenset[str]]
]:
    """Every written form of a township and the townships written so; for each first
    two characters of a form the lengths of the forms, longest first; and for each form
    the prefectures where it names a township."""
    table: dict[str, list[Hit]] = {}
    for county, names in gazetteer().townships.items():
        for name in names:
            kind = township_kind(name)
            if kind == "other":
                continue
            if kind == "zone":
                table.setdefault(name, []).append((county, name, "z"))
                continue
            table.setdefault(name, []).append((county, name, "t"))
            for form in township_short_forms(name):
                table.setdefault(form, []).append((county, name, "ts"))
    index = {k: tuple(v) for k, v in table.items()}
    areas = {k: frozenset(prefecture_key(c) for c, _, _ in v) for k, v in index.items()}
    return index, _starts(index), areas


@cache
def _full_ends() -> tuple[dict[str, tuple[int, ...]], re.Pattern[str]]:
    """For the last two characters of an official township name (桥镇, 街道...), the
    lengths of the written forms that end so, longest first; and a pattern that finds
    the last characters of official names (镇, 乡, 道...)."""
    index = _town_index()[0]
    lengths: dict[str, set[int]] = {}
    for form, hits in index.items():
        if any(kind != "ts" for *_, kind in hits):
            lengths.setdefault(form[-1], set()).add(len(form))
    # any written form of one of those lengths may be found from its last characters
    pairs: dict[str, set[int]] = {}
    for form in index:
        if len(form) >= 2 and len(form) in lengths.get(form[-1], ()):
            pairs.setdefault(form[-2:], set()).add(len(form))
    ends = {k: tuple(sorted(v, reverse=True)) for k, v in pairs.items()}
    return ends, re.compile("[" + "".join(sorted(lengths)) + "]")


@lru_cache(maxsize=1 << 16)
def _in_county(form: str, county: str) -> tuple[Tags, tuple[tuple[str, str], ...]] | None:
    """The county-level tags of a township form in ``county``, and the townships it
    stands for there; ``None`` if the county has none written so."""
    here = [h for h in _town_index()[0][form] if h[0] == county]
    if not here:
        return None
    return _level_tags(frozenset(k for *_, k in here), "c"), tuple((c, n) for c, n, _ in here)


@lru_cache(maxsize=1 << 16)
def _in_prefecture(form: str, pref: str) -> tuple[Tags, Tags, tuple[tuple[str, str], ...]] | None:
    """The county-level and prefecture-level tags of a township form in the prefecture
    ``pref``, and the townships it stands for there; ``None`` if it has none."""
    here = [h for h in _town_index()[0][form] if prefecture_key(h[0]) == pref]
    if not here:
        return None
    kinds = frozenset(k for *_, k in here)
    return (
        _level_tags(kinds, "c"),
        _level_tags(kinds, "p"),
        tuple((c, n) for c, n, _ in here),
    )


@lru_cache(maxsize=1 << 16)
def _anywhere(form: str) -> Tags | None:
    """The tags of a township form at the level of China: none for a form without its
    type word, as too many words are one somewhere."""
    kinds = frozenset(k for *_, k in _town_index()[0][form])
    return _level_tags(kinds, "g") if kinds != {"ts"} else None


def _resolve(form: str, ctx: Context) -> tuple[Tags | None, tuple[tuple[str, str], ...]]:
    """The tags of a township form in an address of context ``ctx``, at the narrowest
    level that knows it, and the ``(county, official name)`` townships it stands for
    there (none at the level of China)."""
    for county in ctx.counties:
        hit = _in_county(form, county)
        if hit is not None:
            return hit
    for pref in ctx.near:
        near = _in_prefecture(form, pref)
        if near is not None:
            return near[0], near[2]
    for pref in ctx.prefectures:
        near = _in_prefecture(form, pref)
        if near is not None:
            return near[1], (() if ctx.counties else near[2])
    return _anywhere(form), ()


@lru_cache(maxsize=1 << 16)
def _names(form: str) -> frozenset[str]:
    return frozenset(n for _, n, _ in _town_index()[0][form])


def _mark(out: list[list[str]], s: int, e: int, tags: Tags) -> None:
    out[s].extend(tags[0])
    out[e - 1].extend(tags[2])
    for k in range(s + 1, e - 1):
        out[k].extend(tags[1])


def _village_at(text: str, i: int, block: str) -> tuple[int, Tags] | None:
    """The longest village of ``block`` (tab-separated names) written at ``i``."""
    if "\t" + text[i : i + 2] not in block:
        return None
    for end in range(min(len(text), i + _VILLAGE_MAX), i + 1, -1):
        piece = "\t" + text[i:end]
        if piece not in block:
            continue
        if piece + "\t" in block:
            return end, _VT
        if any(piece + t + "\t" in block for t in VILLAGE_TYPES):
            return end, _VTS
    return None


def add_place_tags(
    text: str, divisions_found: list[tuple[int, int, tuple[str, ...]]], out: list[list[str]]
) -> None:
    """Add the township and village tags of ``text`` to the tags of its characters.

    Parameters
    ----------
    text
        The address (width folded).
    divisions_found
        The divisions found in it: ``(start, end, names)``, ``names`` the
        ``level:official name`` each may stand for (see :func:`context_of`). Township
        names are looked for at the start, after a division and after a township.
    out
        The tags of each character of ``text``, extended in place.
    """
    index, starts, areas = _town_index()
    n = len(text)
    # a township is written first, or after a division, or after another township;
    # an official name (华亭镇) anywhere is found from its type word, its last character
    spans: dict[int, int] = {}
    todo = [0]
    todo += [e for _, e, _ in divisions_found]
    for i in todo:  # grows while read: a township found adds the place after it
        if i in spans or i >= n - 1:
            continue
        lengths = starts.get(text[i : i + 2])
        if lengths is None:
            continue
        for size in lengths:
            if i + size <= n and text[i : i + size] in index:
                spans[i] = i + size
                todo.append(i + size)
                break
    ends, type_chars = _full_ends()
    for m in type_chars.finditer(text, 1):
        e = m.end()
        for size in ends.get(text[e - 2 : e], ()):
            i = e - size
            if i >= 0 and text[i:e] in index:
                if spans.get(i, 0) < e:
                    spans[i] = e
                break
    if not spans:
        return
    ctx = _context(tuple(names for _, _, names in divisions_found))
    homes: list[tuple[int, str, str]] = []
    seen = sorted(spans.items())
    for i, e in seen:
        form = text[i:e]
        towns: tuple[tuple[str, str], ...]
        if areas[form].isdisjoint(ctx.prefectures):  # named nowhere near: the quick way
            tags, towns = _anywhere(form), ()
        else:
            tags, towns = _resolve(form, ctx)
        for county, name in towns:
            homes.append((e, county, name))
        if tags is not None:
            _mark(out, i, e, tags)
    if len(seen) > 1:
        _mark_doubles(text, seen, out)
    if not homes:
        return
    g = gazetteer()
    for start, county, name in homes:
        block = g.village_block(county, name)
        if not block:
            continue
        for i in range(start, min(start + _VILLAGE_GAP + 1, n - 1)):
            found = _village_at(text, i, block)
            if found is not None:
                _mark(out, i, found[0], found[1])
                break


def _mark_doubles(text: str, seen: list[tuple[int, int]], out: list[list[str]]) -> None:
    """Tag a township written twice (``伦教街道佛山市顺德区伦教街道``): ``dupL:town``
    on a copy written again later, ``dupE:town`` on one written earlier."""
    # every form of a township begins its official name: two forms of one township
    # begin with the same two characters
    for x, (a, b) in enumerate(seen):
        head = text[a : a + 2]
        for c, d in seen[x + 1 :]:
            if c < b or text[c : c + 2] != head:
                continue
            if not _names(text[a:b]).isdisjoint(_names(text[c:d])):
                for k in range(a, b):
                    out[k].append("dupL:town")
                for k in range(c, d):
                    out[k].append("dupE:town")
