"""Parsing of Chinese addresses into the 21 labels of the Chinese address corpus."""

from __future__ import annotations

from addressing._types import Component
from addressing._zh_model import tag
from addressing._zh_rules import apply_rules
from addressing.normalise import normalise_value

__all__ = ["ZH_LABELS", "later_poi_is_subpoi", "parse_zh"]

ZH_LABELS: tuple[str, ...] = (
    "country", "prov", "city", "district", "devzone", "town", "community", "road",
    "subroad", "roadno", "subroadno", "poi", "subpoi", "houseno", "cellno", "floorno",
    "roomno", "person", "assist", "redundant", "otherinfo",
)  # fmt: skip
"""The labels of Chinese address components, in their usual order."""


def parse_zh(text: str) -> list[Component]:
    """Return the components of a Chinese address (``text`` already checked)."""
    spans, tags = tag(text)
    phrases: list[tuple[str, int, int]] = []
    label, start, end = "", 0, 0
    for (s, e), t in zip(spans, tags, strict=True):
        lab = t[2:]
        if t[0] == "B" or lab != label:
            if label:
                phrases.append((label, start, end))
            label, start = lab, s
        end = e
    if label:
        phrases.append((label, start, end))
    phrases = apply_rules(text, later_poi_is_subpoi(phrases))
    return [_component(text, lab, s, e) for lab, s, e in phrases]


def later_poi_is_subpoi(phrases: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """Relabel every place of interest after the first one as a ``subpoi``.

    The corpus convention: a second place of interest in an address is part of the
    first, wherever it is written (``万达广场 5号楼 星巴克``).

    Examples
    --------
    >>> later_poi_is_subpoi([("poi", 0, 4), ("houseno", 4, 7), ("poi", 7, 10)])
    [('poi', 0, 4), ('houseno', 4, 7), ('subpoi', 7, 10)]
    """
    out: list[tuple[str, int, int]] = []
    seen = False
    for label, s, e in phrases:
        if label == "poi":
            if seen:
                label = "subpoi"
            seen = True
        out.append((label, s, e))
    return out


def _component(text: str, label: str, start: int, end: int) -> Component:
    piece = text[start:end]
    return Component(label, start, end, piece, normalise_value(label, piece))
