"""Tiny OSM extracts written by the tests: a grid of nodes, ways and relations."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

#: Grid spacing of the tiny extracts, in degrees (about 55 m both ways at 60° N).
STEP_LAT = 0.0005
STEP_LON = 0.001
LON0, LAT0 = 24.90, 60.20


def grid_node(i: int, j: int) -> int:
    """OSM id of grid node (column i, row j)."""
    return 1000 + 10 * j + i


def grid_pos(i: int, j: int) -> tuple[float, float]:
    return (LON0 + i * STEP_LON, LAT0 + j * STEP_LAT)


Way = tuple[int, Sequence[int], dict[str, str]]
Rel = tuple[int, dict[str, str], Sequence[tuple[str, int, str]]]


def write_osm(
    path: Path,
    ways: Sequence[Way],
    *,
    nodes: dict[int, tuple[float, float]] | None = None,
    node_tags: dict[int, dict[str, str]] | None = None,
    relations: Sequence[Rel] = (),
) -> Path:
    """Write a tiny OSM XML file: grid nodes (or the given ones), ways and relations."""
    used = {n for _, refs, _ in ways for n in refs}
    pos = nodes or {grid_node(i, j): grid_pos(i, j) for i in range(10) for j in range(10)}
    node_tags = node_tags or {}
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    for n in sorted(used):
        lon, lat = pos[n]
        ntg = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in node_tags.get(n, {}).items())
        lines.append(f'<node id="{n}" version="1" lat="{lat:.7f}" lon="{lon:.7f}">{ntg}</node>')
    for wid, refs, tags in ways:
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        tg = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
        lines.append(f'<way id="{wid}" version="1">{nds}{tg}</way>')
    for rid, rtags, members in relations:
        ms = "".join(f'<member type="{t}" ref="{r}" role="{role}"/>' for t, r, role in members)
        tg = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in rtags.items())
        lines.append(f'<relation id="{rid}" version="1">{ms}{tg}</relation>')
    lines.append("</osm>")
    path.write_text("\n".join(lines))
    return path
