"""Building a twin all-or-nothing, and the kernel's CLI error handling."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import Path

import pytest
import shapely
from click.testing import CliRunner

from twin.build import BuildContext, build_twin
from twin.cli import cli
from twin.errors import InvalidInterval, OSMFileError
from twin.plugins import Plugin
from twin.store import BUILD_ACTOR, CollectionSpec, Feature, Field, SyncReport, open_store
from twin.temporal import Instant

SPEC = CollectionSpec("spots", "Spots", geometry_type="Point", fields=(Field("n", "integer"),))


def writer(n: int, *, fail: bool = False) -> Plugin:
    """A plugin that writes ``n`` spots, then fails when asked to."""

    def build(ctx: BuildContext) -> None:
        ctx.store.ensure_collection(SPEC)
        feats = [Feature(f"s{i}", shapely.Point(24.9 + i * 1e-3, 60.1), {"n": i}) for i in range(n)]
        ctx.report["spots"] = ctx.store.sync("spots", feats)
        if fail:
            msg = "the second step failed"
            raise RuntimeError(msg)

    return Plugin(name="spots", build=build)


def importer(n: int, *, bumped: Collection[int] = ()) -> Plugin:
    """A step that imports ``n`` spots at the build's valid time, as the map layers do; the
    spots numbered in ``bumped`` carry another number."""

    def build(ctx: BuildContext) -> None:
        ctx.store.ensure_collection(SPEC)
        feats = [
            Feature(f"s{i}", shapely.Point(24.9 + i * 1e-3, 60.1), {"n": i + 100 * (i in bumped)})
            for i in range(n)
        ]
        with ctx.store.transaction(actor=BUILD_ACTOR) as tx:
            ctx.report["spots"] = tx.sync("spots", feats, valid_from=ctx.valid_from)

    return Plugin(name="spots", build=build)


EARLIER, T1, T2, LATER = (
    datetime(y, m, 1, tzinfo=UTC) for y, m in ((2023, 1), (2024, 1), (2025, 1), (2025, 6))
)


@pytest.fixture
def osm_file(tmp_path: Path) -> Path:
    p = tmp_path / "tiny.osm"
    p.write_text("<?xml version='1.0'?><osm version='0.6'></osm>")
    return p


def test_failed_build_leaves_the_old_twin(tmp_path: Path, osm_file: Path) -> None:
    db = str(tmp_path / "twin.gpkg")
    build_twin(osm_file, db, plugins=[writer(3)])
    with open_store(db, create=False) as s:
        before = s.changes()
    with pytest.raises(RuntimeError, match="second step failed"):
        build_twin(osm_file, db, plugins=[writer(5, fail=True)])
    with open_store(db, create=False) as s:
        assert s.changes() == before
        assert s.count("spots") == 3 and s.verify().ok
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.osm", "twin.gpkg"]


def test_failed_first_build_leaves_no_twin(tmp_path: Path, osm_file: Path) -> None:
    db = tmp_path / "twin.gpkg"
    with pytest.raises(RuntimeError):
        build_twin(osm_file, str(db), plugins=[writer(5, fail=True)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.osm"]


@pytest.mark.postgis
def test_failed_build_on_postgis_leaves_nothing(pg_url: str, osm_file: Path) -> None:
    with pytest.raises(RuntimeError):
        build_twin(osm_file, pg_url, plugins=[writer(5, fail=True)])
    with open_store(pg_url) as s:
        assert s.collections() == [] and s.changes() == []
    build_twin(osm_file, pg_url, plugins=[writer(2)])
    with open_store(pg_url) as s:
        assert s.count("spots") == 2


@pytest.mark.parametrize(
    ("name", "content", "text"),
    [
        ("missing.osm.pbf", None, "does not exist"),
        ("empty.osm.pbf", b"", "is empty"),
        ("notes.txt", b"hello", "is not an OSM extract"),
    ],
)
def test_not_osm_is_named(tmp_path: Path, name: str, content: bytes | None, text: str) -> None:
    p = tmp_path / name
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(OSMFileError, match=text) as info:
        build_twin(p, str(tmp_path / "t.gpkg"), plugins=[])
    assert name in str(info.value)
    assert not (tmp_path / "t.gpkg").exists()


def test_build_refuses_to_replace_a_file_that_is_not_a_twin(tmp_path: Path, osm_file: Path) -> None:
    db = tmp_path / "precious.gpkg"
    db.write_bytes(b"not a geopackage at all")
    result = CliRunner().invoke(cli, ["build", "--osm", str(osm_file), "--db", str(db)])
    assert result.exit_code == 2
    assert "is not a GeoPackage" in result.output or "not a twin" in result.output
    assert db.read_bytes() == b"not a geopackage at all"


def test_cli_errors_name_the_input_without_traceback(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        cli, ["build", "--osm", str(tmp_path / "nope.osm.pbf"), "--db", str(tmp_path / "t.gpkg")]
    )
    assert result.exit_code == 2
    assert "Error: osm=" in result.output and "nope.osm.pbf' does not exist" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(cli, ["info", "--db", str(tmp_path / "absent.gpkg")])
    assert result.exit_code == 2 and "does not exist; run 'twin build' first" in result.output
    result = runner.invoke(cli, ["info", "--db", "mysql://x"])
    assert result.exit_code == 2 and "neither a PostgreSQL URL nor a .gpkg" in result.output
    result = runner.invoke(
        cli, ["build", "--valid-from", "last tuesday", "--db", str(tmp_path / "t.gpkg")]
    )
    assert (
        result.exit_code == 2 and "--valid-from='last tuesday' is not an RFC 3339" in result.output
    )


def test_verify_cli_names_a_row_edited_behind_the_store(tmp_path: Path, osm_file: Path) -> None:
    db = tmp_path / "twin.gpkg"
    build_twin(osm_file, str(db), plugins=[writer(4)])
    runner = CliRunner()
    ok = runner.invoke(cli, ["verify", "--db", str(db)])
    assert ok.exit_code == 0 and "OK: 4 changes verified" in ok.output
    conn = sqlite3.connect(db)
    conn.execute("UPDATE spots SET n = 99 WHERE feature_id = 's2'")
    conn.commit()
    conn.close()
    bad = runner.invoke(cli, ["verify", "--db", str(db)])
    assert bad.exit_code == 1
    assert "spots/s2" in bad.output and "change-log seq 3" in bad.output and "edited" in bad.output


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_failed_rebuild_with_a_junk_extract_leaves_the_twin_file_as_it_was(
    tmp_path: Path, osm_file: Path
) -> None:
    db = tmp_path / "twin.gpkg"
    build_twin(osm_file, str(db), plugins=[writer(3)])
    open_store(str(db), create=False).close()  # a read leaves the file in WAL mode
    junk = tmp_path / "junk.osm.pbf"
    junk.write_bytes(bytes(range(256)) * 20)
    before = _sha(db)
    result = CliRunner().invoke(cli, ["build", "--osm", str(junk), "--db", str(db)])
    assert result.exit_code == 2
    assert "is not an OSM extract: its content is neither OSM PBF nor OSM XML" in result.output
    assert _sha(db) == before
    # a re-import copies the twin without writing to it, and fails without touching it
    with pytest.raises(RuntimeError, match="the second step failed"):
        build_twin(osm_file, str(db), plugins=[writer(5, fail=True)])
    assert _sha(db) == before
    build_twin(osm_file, str(db), plugins=[writer(4)])
    with open_store(str(db), create=False) as store:
        assert store.count("spots") == 4
        assert store.verify().ok


@pytest.mark.parametrize("kind", ["empty", "plain sqlite", "text"])
def test_read_only_commands_leave_a_file_that_is_not_a_twin_unchanged(
    tmp_path: Path, kind: str
) -> None:
    db = tmp_path / "x.gpkg"
    if kind == "empty":
        db.write_bytes(b"")
    elif kind == "text":
        db.write_text("hello")
    else:
        conn = sqlite3.connect(db)
        conn.execute("CREATE TABLE a (x)")
        conn.commit()
        conn.close()
    before = _sha(db)
    for command in ("info", "verify"):
        result = CliRunner().invoke(cli, [command, "--db", str(db)])
        assert result.exit_code == 2, result.output
        assert result.output.startswith(f"Error: db={str(db)!r} ")
        assert "Traceback" not in result.output
    assert _sha(db) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.gpkg"]


def test_a_twin_where_none_can_be_created_is_a_store_error(tmp_path: Path) -> None:
    from twin.errors import StoreError

    with pytest.raises(StoreError, match=r"db='/proc/x\.gpkg' cannot be created: "):
        open_store("/proc/x.gpkg")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match=r"cannot be created: .*file. is not a directory"):
        open_store(str(blocker / "t.gpkg"))
    result = CliRunner().invoke(cli, ["build", "--db", "/proc/x.gpkg"])
    assert result.exit_code == 2
    assert "Error: db='/proc/x.gpkg' cannot be built: " in result.output
    assert "Traceback" not in result.output


def _damage(db: Path, sql: str) -> None:
    conn = sqlite3.connect(db)
    conn.execute(sql)
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    ("sql", "info_text", "verify_text"),
    [
        (
            "DROP TABLE twin_collections",
            "is not a valid twin: its catalog (twin_collections) cannot be read: no such table",
            "BROKEN: the twin cannot be read: ",
        ),
        (
            "DROP TABLE spots__versions",
            "is not a valid twin: no such table: spots__versions",
            "BROKEN: the twin cannot be read: no such table: spots__versions",
        ),
        (
            "UPDATE spots__versions SET geom = x'4750000100000000deadbeef' WHERE feature_id = 's1'",
            None,
            "BROKEN: the twin cannot be read: spots/s1 version 1: a stored geometry is not a "
            "GeoPackage geometry",
        ),
    ],
)
def test_info_and_verify_on_a_damaged_twin(
    tmp_path: Path, osm_file: Path, sql: str, info_text: str | None, verify_text: str
) -> None:
    db = tmp_path / "twin.gpkg"
    build_twin(osm_file, str(db), plugins=[writer(3)])
    _damage(db, sql)
    info = CliRunner().invoke(cli, ["info", "--db", str(db)])
    if info_text is None:
        assert info.exit_code == 0
    else:
        assert info.exit_code == 2
        assert info.output.startswith(f"Error: db={str(db)!r} ")
        assert info_text in info.output
    verify = CliRunner().invoke(cli, ["verify", "--db", str(db)])
    assert verify.exit_code == 1
    assert verify.output.startswith(verify_text)
    assert "Traceback" not in info.output + verify.output


def test_a_reimport_that_changes_the_twin_must_come_after_the_last_import(
    store_url: str, osm_file: Path
) -> None:
    """Imported at T1 and at T2: an extract dated before them that only adds a spot would
    make it there as of T1 and T2 too, where both imports found none; one dated T2 that
    changes a spot would say otherwise than the T2 import. Both are refused, whole."""
    build_twin(osm_file, store_url, valid_from=T1, plugins=[importer(3)])
    build_twin(osm_file, store_url, valid_from=T2, plugins=[importer(3, bumped={0})])
    with open_store(store_url, create=False) as s:
        before = s.changes()
        assert s.last_import() == T2
    with pytest.raises(
        InvalidInterval,
        match=r"^valid_from 2023-01-01T00:00:00.000Z precedes the last import of this twin, "
        r"valid from 2025-01-01T00:00:00.000Z; a re-import that changes the twin must "
        r"describe the city after it, and this one changes spots \(1 new\)$",
    ):
        build_twin(osm_file, store_url, valid_from=EARLIER, plugins=[importer(4, bumped={0})])
    with pytest.raises(
        InvalidInterval,
        match=r"^valid_from 2025-01-01T00:00:00.000Z is the valid time of the last import of "
        r"this twin; a re-import .* changes spots \(1 changed\)$",
    ):
        build_twin(osm_file, store_url, valid_from=T2, plugins=[importer(3, bumped={0, 1})])
    with open_store(store_url, create=False) as s:
        assert s.changes() == before
        assert s.count("spots", time=Instant(datetime(2024, 6, 1, tzinfo=UTC))) == 3
        assert [(v.valid_from, v.valid_to) for v in s.history("spots", "s0")] == [
            (T1, T2),
            (T2, None),
        ]
    # the same extract again changes nothing, whatever its time
    ctx = build_twin(osm_file, store_url, valid_from=EARLIER, plugins=[importer(3, bumped={0})])
    assert ctx.last_import == T2 and ctx.report["spots"] == SyncReport(unchanged=3)
    # a newer extract may change anything
    ctx = build_twin(osm_file, store_url, valid_from=LATER, plugins=[importer(4, bumped={1})])
    assert ctx.report["spots"] == SyncReport(created=1, updated=2, unchanged=1)
    with open_store(store_url, create=False) as s:
        assert s.last_import() == LATER
        assert s.count("spots", time=Instant(T2)) == 3 and s.count("spots") == 4
        assert s.verify().ok


def test_writes_at_their_own_time_are_no_import(tmp_path: Path, osm_file: Path) -> None:
    """Twins built before the change demo wrote as 'twin change demo' hold its patches under
    the build's actor, valid from the time they were written: not the time of an import."""
    notes = CollectionSpec("notes", "Notes", geometry_type="Point")

    def demo(ctx: BuildContext) -> None:
        ctx.store.ensure_collection(notes)
        with ctx.store.transaction(actor=BUILD_ACTOR) as tx:
            tx.create("notes", [Feature("x", shapely.Point(24.9, 60.1), {})])

    db = str(tmp_path / "twin.gpkg")
    build_twin(osm_file, db, valid_from=T1, plugins=[importer(3), Plugin("demo", build=demo)])
    with open_store(db, create=False) as s:
        assert s.last_import() == T1
    build_twin(osm_file, db, valid_from=T2, plugins=[importer(4)])
    with open_store(db, create=False) as s:
        assert s.last_import() == T2 and s.count("spots") == 4


def test_cli_refuses_an_earlier_reimport_naming_both_times(
    tmp_path: Path, osm_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "twin.gpkg"
    build_twin(osm_file, str(db), valid_from=T2, plugins=[importer(3)])
    before = _sha(db)
    monkeypatch.setattr("twin.build.load_plugins", lambda: [importer(4)])
    args = ["build", "--osm", str(osm_file), "--db", str(db), "--no-progress"]
    result = CliRunner().invoke(cli, [*args, "--valid-from", "2023-01-01T00:00:00Z"])
    assert result.exit_code == 2
    assert result.output.startswith(
        "Error: valid_from 2023-01-01T00:00:00.000Z precedes the last import of this twin, "
        "valid from 2025-01-01T00:00:00.000Z; "
    )
    assert "Traceback" not in result.output
    assert _sha(db) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.osm", "twin.gpkg"]
    result = CliRunner().invoke(cli, [*args, "--valid-from", "2025-06-01T00:00:00Z"])
    assert result.exit_code == 0 and "+1 created" in result.output
