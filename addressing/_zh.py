"""Parsing of Chinese addresses into the 21 labels of the Chinese address corpus."""

from __future__ import annotations

from addressing._types import Component
from addressing._zh_model import tag
from addressing.normalise import normalise_value

__all__ = ["ZH_LABELS", "parse_zh"]

ZH_LABELS: tuple[str, ...] = (
    "country", "prov", "city", "district", "devzone", "town", "community", "road",
    "subroad", "roadno", "subroadno", "poi", "subpoi", "houseno", "cellno", "floorno",
    "roomno", "person", "assist", "redundant", "otherinfo",
)  # fmt: skip
"""The labels of Chinese address components, in their usual order."""


def parse_zh(text: str) -> list[Component]:
    """Return the components of a Chinese address (``text`` already checked)."""
    spans, tags = tag(text)
    out: list[Component] = []
    label, start, end = "", 0, 0
    for (s, e), t in zip(spans, tags, strict=True):
        lab = t[2:]
        if t[0] == "B" or lab != label:
            if label:
                out.append(_component(text, label, start, end))
            label, start = lab, s
        end = e
    if label:
        out.append(_component(text, label, start, end))
    return out


def _component(text: str, label: str, start: int, end: int) -> Component:
    piece = text[start:end]
    return Component(label, start, end, piece, normalise_value(label, piece))
