"""Import issues of a restricted layer stay as restricted as the layer.

An issue locates its object and says what is wrong with it: those of the pipelines go to
``osm_import_issues_restricted`` (made only when there are some), never to the public
``osm_import_issues``; a re-import of a twin built before moves them there.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from layers.osm import read_osm
from layers.osm.specs import IMPORT_ISSUES, RESTRICTED_IMPORT_ISSUES
from layers.plugin import plugin as layers_plugin
from twin.build import build_twin
from twin.errors import InvalidInterval
from twin.store import BUILD_ACTOR, Query, open_store
from twin.temporal import Instant

T2024, T2025 = (datetime(y, 1, 1, tzinfo=UTC) for y in (2024, 2025))
PUBLIC, HIDDEN = IMPORT_ISSUES.name, RESTRICTED_IMPORT_ISSUES.name


def issues_extract(path: Path, *, pipeline: bool = True) -> Path:
    """A building, a building way that does not close (an issue of the public buildings)
    and, with ``pipeline``, a pipeline one of whose nodes is missing (an issue of the
    restricted pipelines)."""
    meta = 'version="1" timestamp="2022-12-01T00:00:00Z"'
    corners = [(60.1700, 24.9400), (60.1700, 24.9410), (60.1705, 24.9410), (60.1705, 24.9400)]
    lines = ["<?xml version='1.0' encoding='UTF-8'?>", "<osm version='0.6'>"]
    lines += [
        f'<node id="{i + 1}" {meta} lat="{lat}" lon="{lon}"/>'
        for i, (lat, lon) in enumerate(corners)
    ]
    lines += [
        f'<node id="{20 + i}" {meta} lat="60.1690" lon="{24.9400 + i / 1000}"/>' for i in range(3)
    ]
    lines.append(
        f'<way id="7" {meta}><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="1"/>'
        '<tag k="building" v="yes"/></way>'
    )
    if pipeline:
        lines.append(
            f'<way id="8" {meta}><nd ref="20"/><nd ref="21"/><nd ref="22"/><nd ref="999"/>'
            '<tag k="man_made" v="pipeline"/><tag k="substance" v="water"/></way>'
        )
    lines.append(
        f'<way id="9" {meta}><nd ref="1"/><nd ref="3"/><nd ref="4"/><tag k="building" v="yes"/>'
        "</way>"
    )
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_the_issues_of_a_restricted_layer_are_restricted(tmp_path: Path) -> None:
    db = tmp_path / "twin.gpkg"
    ctx = build_twin(issues_extract(tmp_path / "a.osm"), str(db), plugins=[layers_plugin])
    assert ctx.report[PUBLIC].created == 1 and ctx.report[HIDDEN].created == 1
    with open_store(str(db), create=False) as s:
        assert s.collection("pipelines").restricted and s.collection(HIDDEN).restricted
        assert not s.collection(PUBLIC).restricted
        assert [(f.id, f.properties["layer"]) for f in s.query(PUBLIC)] == [
            ("w9:buildings", "buildings")
        ]
        (hidden,) = s.query(HIDDEN)
        assert (hidden.id, hidden.properties["layer"]) == ("w8:pipelines", "pipelines")
        assert hidden.geometry is not None


def test_no_restricted_issues_no_restricted_collection(tmp_path: Path) -> None:
    db = tmp_path / "twin.gpkg"
    extract = issues_extract(tmp_path / "a.osm", pipeline=False)
    ctx = build_twin(extract, str(db), plugins=[layers_plugin])
    assert HIDDEN not in ctx.report
    with open_store(str(db), create=False) as s:
        assert HIDDEN not in {c.name for c in s.collections()}
        assert s.count(PUBLIC) == 1


def test_a_reimport_moves_them_out_of_the_public_layer(tmp_path: Path) -> None:
    """A twin built before the issues were split holds the pipeline's in the public layer;
    the next import retires it there (a version: its history stays) and writes it to the
    restricted collection."""
    extract = issues_extract(tmp_path / "a.osm")
    db = tmp_path / "twin.gpkg"
    with open_store(str(db)) as s:  # what an import wrote before: every issue public
        s.ensure_collection(IMPORT_ISSUES)
        with s.transaction(actor=BUILD_ACTOR) as tx:
            old = [i.to_feature() for i in read_osm(extract).issues]
            tx.sync(PUBLIC, old, valid_from=T2024)
        assert {f.id for f in s.query(PUBLIC)} == {"w8:pipelines", "w9:buildings"}
    # a move is a change: dated at the extract's time, before the last import, it is refused
    with pytest.raises(InvalidInterval, match="precedes the last import of this twin"):
        build_twin(extract, str(db), plugins=[layers_plugin])
    ctx = build_twin(extract, str(db), valid_from=T2025, plugins=[layers_plugin])
    assert (ctx.report[PUBLIC].retired, ctx.report[PUBLIC].unchanged) == (1, 1)
    assert ctx.report[HIDDEN].created == 1
    with open_store(str(db), create=False) as s:
        assert [f.id for f in s.query(PUBLIC)] == ["w9:buildings"]
        assert [f.id for f in s.query(HIDDEN)] == ["w8:pipelines"]
        (gone,) = s.history(PUBLIC, "w8:pipelines")
        assert gone.valid_to == T2025
        then = s.query(PUBLIC, Query(time=Instant(datetime(2024, 6, 1, tzinfo=UTC))))
        assert len(then) == 2
        assert s.verify().ok
