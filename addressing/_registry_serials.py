"""Stable serials below the doorplate: the history, matching and allocation of codes.

A child (a building, unit or room) is matched to the code it had under the same parent
by its OSM objects first, then by its key (building id, staircase letter, door). A new
child gets a serial above every serial its parent ever issued at that level, read from
the whole history of ``sub_addresses``, so a retired code is never issued again.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from addressing._registry_prepare import _issue
from addressing._registry_tags import door_key, natural_key, ref_key
from addressing.codes import AddressCode, InvalidAddressCode, parse_code
from twin.errors import InvalidInput

__all__ = ["Item", "Old", "allocate", "clean", "merge", "old_state", "osm_order"]

_SERIAL_PART = {"building": "building", "unit": "unit", "room": "room"}


@dataclass
class Item:
    """One address below a doorplate, before (or after) its code is known."""

    level: str
    row: int
    parent: AddressCode
    key: str
    geometry: Any
    osm_ids: list[str]
    source: str
    building_id: str | None = None
    name: str | None = None
    unit_ref: str | None = None
    floor: int | None = None
    door: str | None = None
    code: AddressCode | None = None


@dataclass
class Old:
    """The history of ``sub_addresses``: live children and serials ever issued, per parent
    and level (a building numbers its units and its rooms without a unit apart)."""

    latest: dict[str, dict[str, Any]] = field(default_factory=dict)
    live: set[str] = field(default_factory=set)
    children: dict[tuple[str, str], list[tuple[str, str | None, list[str]]]] = field(
        default_factory=dict
    )
    taken: Counter[tuple[str, str]] = field(default_factory=Counter)


def old_state(frame: pd.DataFrame) -> Old:
    """Read every version of ``sub_addresses`` (a frame of all time) into :class:`Old`."""
    old = Old()
    if not len(frame):
        return old
    frame = frame.sort_values(["id", "version"])
    rows = frame.drop(columns="geometry").to_dict("records")
    for fid, row in zip(frame["id"], rows, strict=True):
        old.latest[fid] = row
    for fid, row in old.latest.items():
        try:
            code = parse_code(fid)
        except InvalidInput:
            continue
        level, parent = code.level, code.parent()
        if level in _SERIAL_PART and parent is not None:
            key = (parent.code, level)
            old.taken[key] = max(old.taken[key], getattr(code, level))
        if clean(row.get("valid_to")) is not None or parent is None:
            continue
        old.live.add(fid)
        mine = {
            "building": clean(row.get("building_id")),
            "unit": ref_key(row.get("unit_ref")),
            "room": door_key(row.get("door")),
        }.get(level)
        ids = [o for o in (row.get("osm_ids") or []) if isinstance(o, str)]
        old.children.setdefault((parent.code, level), []).append((fid, mine, ids))
    return old


def clean(value: Any) -> Any:
    """``None`` for a missing value (``None``, NaN, NaT), else the value."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if value is pd.NaT:
        return None
    return value


def osm_order(osm_id: str) -> tuple[str, int, str]:
    """Sort key of an OSM id: by type, then by number (``w9`` before ``w10``)."""
    head, tail = osm_id[:1], osm_id[1:]
    return (head, int(tail), "") if tail.isdigit() else (head, 0, tail)


def merge(items: list[Item]) -> list[Item]:
    """One item per (parent, level, key); the first (entrances, then lowest id) places it."""
    items = sorted(
        items,
        key=lambda it: (it.source != "entrance", [osm_order(o) for o in it.osm_ids]),
    )
    out: dict[tuple[str, str, str], Item] = {}
    for it in items:
        k = (it.parent.code, it.level, it.key)
        if k not in out:
            out[k] = replace(it, osm_ids=list(it.osm_ids))
            continue
        kept = out[k]
        kept.osm_ids = sorted({*kept.osm_ids, *it.osm_ids}, key=osm_order)
        if it.source not in kept.source.split(","):
            kept.source = f"{kept.source},{it.source}"
    return list(out.values())


def allocate(items: list[Item], old: Old, issues: list[dict[str, Any]]) -> list[Item]:
    """Give each item its code: the one it had under its parent, else a new serial."""
    groups: dict[str, list[Item]] = {}
    for it in items:
        groups.setdefault(it.parent.code, []).append(it)
    done: list[Item] = []
    for parent_code in sorted(groups):
        group = groups[parent_code]
        level = group[0].level
        olds = old.children.get((parent_code, level), [])
        owner: dict[str, list[str]] = {}
        for fid, _key, ids in olds:
            for o in ids:
                owner.setdefault(o, []).append(fid)
        claimed: set[str] = set()
        proposals: list[tuple[int, int, str]] = []
        for i, it in enumerate(group):
            votes = Counter(f for o in it.osm_ids for f in owner.get(o, []))
            proposals.extend((-k, i, fid) for fid, k in votes.items())
        for _k, i, fid in sorted(proposals):
            if group[i].code is None and fid not in claimed:
                group[i].code = parse_code(fid)
                claimed.add(fid)
        by_key = {key: fid for fid, key, _ids in olds if key is not None}
        for it in group:
            same = by_key.get(it.key)
            if it.code is None and same is not None and same not in claimed:
                it.code = parse_code(same)
                claimed.add(same)
        fresh = sorted(
            (it for it in group if it.code is None),
            key=lambda it: (natural_key(it.key), [osm_order(o) for o in it.osm_ids]),
        )
        for it in fresh:
            serial = old.taken[(parent_code, level)] + 1
            try:
                it.code = replace(it.parent, **{_SERIAL_PART[level]: serial})  # type: ignore[arg-type]
            except InvalidAddressCode:
                issues.append(
                    _issue(
                        "serials_exhausted",
                        "conflict",
                        f"{parent_code} has issued every {level} serial; {it.key!r} left out",
                        code=parent_code,
                        osm_ids=it.osm_ids,
                        geometry=it.geometry,
                    )
                )
                continue
            old.taken[(parent_code, level)] = serial
        done.extend(it for it in group if it.code is not None)
    return done
