"""From what the streaming pass collected to features: geometry on whole arrays, then
one feature (or one issue) per record."""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from layers.osm._classify import Shape
from layers.osm._collect import Collector, Record, WayShape
from layers.osm._geometry import (
    GeomArray,
    as_multipolygons,
    polygons_from_closed_lines,
    representative_points,
)
from layers.osm._model import ImportIssue
from layers.osm.specs import IMPORT_ISSUES, LAYERS, RESTRICTED_IMPORT_ISSUES
from twin.store.base import Feature

__all__ = ["build_layers"]

log = logging.getLogger(__name__)

_KIND_RANK = {"n": 0, "w": 1, "r": 2}
_INCOMPLETE = "multipolygon is incomplete: member ways are missing from the extract"
_BROKEN = (
    "multipolygon could not be assembled: its rings do not close or they cross, or some "
    "of their nodes are missing from the extract"
)


def _objects(items: list[str | None]) -> GeomArray:
    """A 1-D object array of ``items`` (numpy would make fixed-width strings of them)."""
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


class _Geometries:
    """Every geometry the records can ask for, built on arrays."""

    def __init__(self, col: Collector, records: list[Record]) -> None:
        xy = np.asarray(col.node_xy, dtype=float).reshape(-1, 2)
        self.nodes: GeomArray = shapely.points(xy) if len(xy) else np.empty(0, dtype=object)

        ways = col.ways
        self.lines: GeomArray = shapely.from_wkb(_objects([w.wkb for w in ways]))
        areal = np.zeros(len(ways), dtype=bool)
        for r in records:
            if r.kind == "w" and r.shape is not Shape.LINE:
                areal[r.slot] = True
        buildable = np.array(
            [w.closed and w.wkb is not None and w.problem is None for w in ways], dtype=bool
        ).reshape(-1)
        todo = areal & buildable
        self.way_raw: GeomArray = np.full(len(ways), None, dtype=object)
        self.way_raw[todo] = polygons_from_closed_lines(self.lines[todo])
        self.way_polys, self.way_repaired = as_multipolygons(self.way_raw)
        surface = np.where(shapely.is_missing(self.way_polys), self.lines, self.way_polys)
        self.way_points = representative_points(surface)

        rel_wkb = [col.relation_areas.get(rid) for rid in col.relations]
        self.rel_raw: GeomArray = shapely.from_wkb(_objects(rel_wkb))
        self.rel_polys, self.rel_repaired = as_multipolygons(self.rel_raw)
        self.rel_points = representative_points(self.rel_polys)

    @staticmethod
    def reason(raw: BaseGeometry) -> str:
        return f"invalid polygon ({shapely.is_valid_reason(raw)}); repaired with make_valid"


def _issue(
    r: Record,
    problem: str,
    action: Literal["repaired", "skipped"],
    at: BaseGeometry | tuple[float, float] | None,
) -> ImportIssue:
    point: BaseGeometry | None
    if isinstance(at, tuple):
        point = shapely.Point(at)
    elif at is None or at.geom_type == "Point":
        point = at
    else:
        point = shapely.point_on_surface(at)
    return ImportIssue(r.layer, f"{r.kind}{r.osm_id}", problem, action, point)


def _way_geometry(
    g: _Geometries, col: Collector, r: Record
) -> tuple[BaseGeometry | None, ImportIssue | None]:
    way = col.ways[r.slot]
    line = g.lines[r.slot]
    if r.shape is Shape.LINE:
        if line is None:
            return None, _issue(r, way.problem or "no line", "skipped", way.anchor)
        if r.reverse:
            line = shapely.reverse(line)
        return line, _issue(r, way.problem, "repaired", line) if way.problem else None
    poly = g.way_polys[r.slot]
    areal = r.shape in (Shape.POLYGON, Shape.AREA_OR_POINT)
    if poly is not None:
        point = g.way_points[r.slot]
        if not g.way_repaired[r.slot]:
            return (poly if areal else point), None
        issue = _issue(r, g.reason(g.way_raw[r.slot]), "repaired", point)
        return (poly if areal else point), issue
    if r.shape is Shape.AREA_OR_POINT and line is not None:
        # an area cut by the extract's edge (or never closed) is kept where it is known
        point = g.way_points[r.slot]
        problem = f"{_no_area(g, way, r)}; kept as a point on the located part of the way"
        return point, _issue(r, problem, "repaired", point)
    if r.shape is Shape.POINT and line is not None:
        point = g.way_points[r.slot]
        if way.problem:
            problem = f"{way.problem}; the point lies on the located part of the way"
            return point, _issue(r, problem, "repaired", point)
        return point, None
    if r.shape is not Shape.POLYGON and way.anchor is not None:
        point = shapely.Point(way.anchor)
        why = _no_area(g, way, r) if areal else way.problem
        problem = f"{why}; the point is the one located node of the way"
        return point, _issue(r, problem, "repaired", point)
    where = line if line is not None else way.anchor
    return None, _issue(r, _no_area(g, way, r), "skipped", where)


def _no_area(g: _Geometries, way: WayShape, r: Record) -> str:
    """Why a way that should outline an area has none."""
    if not way.closed:
        return "the way is not closed, so it has no area"
    if way.problem:
        return f"{way.problem}; the outline cannot be closed"
    if g.way_raw[r.slot] is None:
        return "the closed way has fewer than three distinct locations"
    return f"{g.reason(g.way_raw[r.slot])} left no area"


def _relation_geometry(
    g: _Geometries, col: Collector, r: Record
) -> tuple[BaseGeometry | None, ImportIssue | None]:
    poly = g.rel_polys[r.slot]
    if poly is None:
        rid = col.relations[r.slot]
        if rid not in col.relation_areas:
            problem = _INCOMPLETE
        elif col.relation_areas[rid] is None:
            problem = _BROKEN
        else:
            problem = f"{g.reason(g.rel_raw[r.slot])} left no area"
        return None, _issue(r, problem, "skipped", None)
    geom = poly if r.shape in (Shape.POLYGON, Shape.AREA_OR_POINT) else g.rel_points[r.slot]
    if g.rel_repaired[r.slot]:
        return geom, _issue(r, g.reason(g.rel_raw[r.slot]), "repaired", g.rel_points[r.slot])
    return geom, None


def build_layers(col: Collector) -> tuple[dict[str, list[Feature]], list[ImportIssue]]:
    """Build the features of every layer, and the issues, from a finished collector.

    The issues are features of ``osm_import_issues``, those of a restricted layer of
    ``osm_import_issues_restricted``; the list returned holds them all. Features come
    sorted by layer, then nodes, ways, relations, each by id, so the same extract always
    gives the same lists.
    """
    order = {spec.name: i for i, spec in enumerate(LAYERS)}
    records = sorted(col.records, key=lambda r: (order[r.layer], _KIND_RANK[r.kind], r.osm_id))
    g = _Geometries(col, records)
    layers: dict[str, list[Feature]] = {spec.name: [] for spec in LAYERS}
    issues: list[ImportIssue] = []
    for r in records:
        issue: ImportIssue | None = None
        geom: BaseGeometry | None
        if r.kind == "n":
            geom = g.nodes[r.slot]
        elif r.kind == "w":
            geom, issue = _way_geometry(g, col, r)
        else:
            geom, issue = _relation_geometry(g, col, r)
        if issue is not None:
            issues.append(issue)
        if geom is not None:
            layers[r.layer].append(Feature(f"{r.kind}{r.osm_id}", geom, r.properties))
    issues.extend(
        ImportIssue(layer, f"n{nid}", "the node has no valid location", "skipped")
        for layer, nid in sorted(col.unlocated, key=lambda u: (order[u[0]], u[1]))
    )
    issues.sort(key=lambda i: (order[i.layer], _KIND_RANK[i.osm_id[0]], int(i.osm_id[1:])))
    # An issue shows where an object is and what is wrong with it: those of a restricted
    # layer go to a restricted collection, for those who may read that layer only.
    restricted = {spec.name for spec in LAYERS if spec.restricted}
    for i in issues:
        where = RESTRICTED_IMPORT_ISSUES if i.layer in restricted else IMPORT_ISSUES
        layers[where.name].append(i.to_feature())
    skipped = sum(1 for i in issues if i.action == "skipped")
    log.info("%d objects repaired, %d skipped", len(issues) - skipped, skipped)
    return layers, issues
