"""The streaming pass: what the importer keeps of each OSM object osmium hands over.

Only objects with a tag some rule looks at reach Python (osmium filters the rest in
C++). For each, the tag rules pick the layers; the collector keeps the properties and
the raw material of the geometry (a node's location, a way's line and a relation's
assembled area as hex WKB). Geometry is built afterwards, on whole arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import osmium
import osmium.geom
import shapely

from layers.osm._classify import Shape, Target, classify
from twin.store import clean_text

__all__ = ["Collector", "Record", "WayShape"]

_EPOCH = datetime(1970, 1, 2, tzinfo=UTC)
_AREA_RELATION_TYPES = ("multipolygon", "boundary")


def _clean_tags(tags: Any) -> dict[str, str]:
    """An object's tags without characters the store refuses (a stray control or
    bidi-override character in a name drops that character, not the build)."""
    return {clean_text(t.k): clean_text(t.v) for t in tags}


@dataclass(slots=True)
class Record:
    """One feature to be: the layer, which object and which shape of it, its properties."""

    layer: str
    kind: str  # "n", "w" or "r"
    osm_id: int
    slot: int  # index into the collector's node, way or relation lists
    shape: Shape
    reverse: bool
    properties: dict[str, Any]


@dataclass(slots=True)
class WayShape:
    """The line of a way, as far as it could be built.

    ``wkb`` is None when no line could be built; ``problem`` says why, or which part of
    the way is missing when the line is only a part of it; ``anchor`` is a node location
    of the way to report a failure at.
    """

    wkb: str | None
    closed: bool
    problem: str | None = None
    anchor: tuple[float, float] | None = None


@dataclass
class Collector:
    """Receives the objects of the second pass and keeps what the layers need."""

    node_xy: list[tuple[float, float]] = field(default_factory=list)
    ways: list[WayShape] = field(default_factory=list)
    relations: list[int] = field(default_factory=list)
    relation_areas: dict[int, str | None] = field(default_factory=dict)
    records: list[Record] = field(default_factory=list)
    unlocated: list[tuple[str, int]] = field(default_factory=list)  # (layer, node id)
    newest: datetime | None = None

    def __post_init__(self) -> None:
        self._factory = osmium.geom.WKBFactory()

    # -- dispatch ----------------------------------------------------------------------
    def add(self, obj: Any) -> None:
        """Take one object from the osmium iterator."""
        if obj.is_area():
            if not obj.from_way():
                self._area(obj)
            return
        ts = obj.timestamp
        if ts >= _EPOCH and (self.newest is None or ts > self.newest):
            self.newest = ts
        if obj.is_node():
            self._node(obj)
        elif obj.is_way():
            self._way(obj)
        elif obj.is_relation():
            self._relation(obj)

    # -- per type ----------------------------------------------------------------------
    def _node(self, node: Any) -> None:
        tags = _clean_tags(node.tags)
        targets = classify(tags, "node")
        if not targets:
            return
        loc = node.location
        if not loc.valid():
            self.unlocated.extend((t.layer, node.id) for t in targets)
            return
        slot = len(self.node_xy)
        self.node_xy.append((loc.lon, loc.lat))
        self._keep(targets, "n", node.id, slot, tags)

    def _way(self, way: Any) -> None:
        tags = _clean_tags(way.tags)
        closed = len(way.nodes) > 1 and way.is_closed()
        targets = classify(tags, "way", closed=closed)
        if not targets:
            return
        slot = len(self.ways)
        self.ways.append(self._way_shape(way, closed))
        self._keep(targets, "w", way.id, slot, tags)

    def _relation(self, rel: Any) -> None:
        tags = _clean_tags(rel.tags)
        if tags.get("type") not in _AREA_RELATION_TYPES:
            return
        targets = classify(tags, "area")
        if not targets:
            return
        slot = len(self.relations)
        self.relations.append(rel.id)
        self._keep(targets, "r", rel.id, slot, tags)

    def _area(self, area: Any) -> None:
        """An area assembled from a relation; kept as hex WKB, None when assembly failed."""
        wkb: str | None = None
        if area.num_rings()[0] > 0:
            try:
                wkb = self._factory.create_multipolygon(area)
            except RuntimeError:
                wkb = None
        self.relation_areas[area.orig_id()] = wkb

    # -- helpers -----------------------------------------------------------------------
    def _keep(
        self, targets: list[Target], kind: str, osm_id: int, slot: int, tags: dict[str, str]
    ) -> None:
        tags_json = dict(sorted(tags.items()))
        ident = f"{kind}{osm_id}"
        for t in targets:
            props: dict[str, Any] = {"osm_id": ident}
            if t.layer == "address_points":
                props["osm_type"] = {"n": "node", "w": "way", "r": "relation"}[kind]
            props.update((k, v) for k, v in t.properties.items() if v is not None)
            props["tags"] = tags_json
            self.records.append(Record(t.layer, kind, osm_id, slot, t.shape, t.reverse, props))

    def _way_shape(self, way: Any, closed: bool) -> WayShape:
        try:
            return WayShape(self._factory.create_linestring(way), closed)
        except (osmium.InvalidLocationError, RuntimeError):
            pass
        # Nodes outside a cut extract have no location: keep the longest located run.
        total = len(way.nodes)
        best: list[tuple[float, float]] = []
        run: list[tuple[float, float]] = []
        for n in way.nodes:
            if n.location.valid():
                xy = (n.lon, n.lat)
                if not run or run[-1] != xy:
                    run.append(xy)
                if len(run) > len(best):
                    best = run
            else:
                run = []
        missing = sum(1 for n in way.nodes if not n.location.valid())
        if missing:
            what = f"{missing} of {total} node locations are missing from the extract"
        else:
            what = "the way has fewer than two distinct locations"
        anchor = best[0] if best else None
        if len(best) < 2:
            return WayShape(None, closed, what, anchor)
        line = shapely.to_wkb(shapely.linestrings(best), hex=True)
        kept = f"{what}; kept the longest located run of {len(best)} nodes"
        return WayShape(line, closed, kept, anchor)
