"""Real township and village names for the synthetic address generator.

Drawn from the location tree of ``jionlp`` (:mod:`addressing._townships`) under the
county the generator drew, written as addresses write them: mostly the official name
(``华亭镇``, ``北新村``), sometimes without the type word (``华亭``, ``北新``).
"""

from __future__ import annotations

import random
import re
from functools import cache

from addressing._divisions import prefecture_key
from addressing._townships import (
    gazetteer,
    township_kind,
    township_short_forms,
    village_short_forms,
)

__all__ = ["Place", "local_short_name", "named_after_places", "township", "village", "written"]

type Place = tuple[str, str]
"""A township as ``(county code, official name)``."""


@cache
def _towns(county: str) -> tuple[str, ...]:
    return tuple(t for t in gazetteer().townships.get(county, ()) if township_kind(t) == "town")


@cache
def _counties_with_towns(prefecture: str) -> tuple[str, ...]:
    return tuple(c for c in gazetteer().counties_in(prefecture) if _towns(c))


def township(rng: random.Random, code: str) -> Place | None:
    """Return a real township of the county ``code`` (12 or 6 digits), or of another
    county of its prefecture when the list does not know the county; ``None`` if none."""
    county = code[:6]
    if not _towns(county):
        others = _counties_with_towns(prefecture_key(county))
        if not others:
            return None
        county = rng.choice(others)
    return county, rng.choice(_towns(county))


def village(rng: random.Random, place: Place) -> str | None:
    """Return a real village or community of the township ``place``, if it lists any."""
    names = gazetteer().villages(*place)
    return rng.choice(names) if names else None


def written(rng: random.Random, name: str, *, p_short: float, village_name: bool = False) -> str:
    """Return ``name`` as an address writes it: the official name, or with probability
    ``p_short`` a form without its type word."""
    forms = village_short_forms(name) if village_name else township_short_forms(name)
    if forms and rng.random() < p_short:
        return rng.choice(forms)
    return name


_ROAD_TYPE = re.compile(r"(?:大道|大街|公路|胡同|[路街巷弄线道里])$")


def local_short_name(rng: random.Random, place: Place, *, township_too: bool) -> str | None:
    """Return a village's name of ``place`` without its type word, or (``township_too``)
    sometimes the township's."""
    names = gazetteer().villages(*place)
    if names and (not township_too or rng.random() < 0.7):
        forms = village_short_forms(rng.choice(names))
    elif township_too:
        forms = township_short_forms(place[1])
    else:
        forms = []
    return rng.choice(forms) if forms else None


def named_after_places(
    rng: random.Random, body: list[tuple[str, str]], place: Place | None, *, p: float
) -> list[tuple[str, str]]:
    """Rename some roads and places of ``body`` after villages or the township of
    ``place`` (``华亭路``, ``北新花园``), as streets and estates often are named."""
    if place is None:
        return body
    out: list[tuple[str, str]] = []
    for label, text in body:
        if label in {"road", "poi"} and rng.random() < p:
            # a place named after the township is written as the township and the
            # place (九堡 佳苑), so only roads take the township's name
            short = local_short_name(rng, place, township_too=label == "road")
            m = _ROAD_TYPE.search(text) if label == "road" else None
            if short and m:
                text = short + m.group(0)
            elif short and label == "poi" and len(text) >= 3:
                text = short + text[2:]
        out.append((label, text))
    return out
