"""Building a twin: every plugin's build step over one OSM extract, all or nothing.

A GeoPackage twin is built in a copy beside the target and moved into place only when
every step succeeded; a PostGIS twin is built in one database transaction. Either way a
failed build leaves the old twin, or none.

A re-import that changes the twin must be valid after the last import (see
:meth:`~twin.store.Store.reimport`): an extract shows the whole city at its valid time,
so a change dated at or before the last import would rewrite what that import found. One
that changes nothing is fine at any time.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from twin.errors import OSMFileError, StoreError
from twin.plugins import Plugin, load_plugins
from twin.store import Store, is_postgres_url, open_store
from twin.store.open import gpkg_path

__all__ = ["BuildContext", "build_twin"]

log = logging.getLogger(__name__)


@dataclass
class BuildContext:
    """What a plugin's build step gets.

    ``valid_from`` is the valid time of what the extract shows; the first step that
    knows it (the map layers, from the extract's timestamps) sets it when the caller
    did not. ``report`` collects, per collection, what the step changed.
    ``last_import`` is the valid time of the twin's last import (None for a new twin):
    the steps' syncs that change anything must be valid after it.
    """

    store: Store
    osm_path: Path
    valid_from: datetime | None = None
    progress: bool = False
    report: dict[str, Any] = field(default_factory=dict)
    last_import: datetime | None = None


def _check_osm(path: Path) -> Path:
    if not path.exists():
        msg = f"osm={str(path)!r} does not exist"
        raise OSMFileError(msg)
    if not path.is_file() or path.stat().st_size == 0:
        msg = f"osm={str(path)!r} is empty or not a file"
        raise OSMFileError(msg)
    name = path.name.lower()
    if not name.endswith((".osm.pbf", ".pbf", ".osm", ".osm.bz2", ".osm.gz", ".xml")):
        msg = f"osm={str(path)!r} is not an OSM extract (.osm.pbf or .osm)"
        raise OSMFileError(msg)
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        msg = f"osm={str(path)!r} cannot be read: {exc.strerror or exc}"
        raise OSMFileError(msg) from None
    if not _looks_like_osm(head):
        msg = (
            f"osm={str(path)!r} is not an OSM extract: its content is neither OSM PBF nor "
            "OSM XML (plain, gzip or bzip2), whatever its name says"
        )
        raise OSMFileError(msg)
    return path


def _looks_like_osm(head: bytes) -> bool:
    """Whether a file's first bytes are those of OSM PBF, OSM XML or a compressed file."""
    if head[:2] == b"\x1f\x8b" or head[:3] == b"BZh":
        return True
    if len(head) > 14 and b"OSMHeader" in head[4:24]:
        return True
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<") and b"<osm" in head


def _run_steps(ctx: BuildContext, plugins: Sequence[Plugin]) -> None:
    with ctx.store.atomic():
        ctx.last_import = ctx.store.last_import()
        with ctx.store.reimport(ctx.last_import):
            for p in plugins:
                if p.build is not None:
                    log.info("building %s", p.name)
                    p.build(ctx)


def build_twin(
    osm: str | Path,
    db: str,
    *,
    valid_from: datetime | None = None,
    progress: bool = False,
    plugins: Sequence[Plugin] | None = None,
) -> BuildContext:
    """Import ``osm`` into the twin at ``db`` (creating it, or re-importing into it).

    Returns the build context, whose ``report`` says what changed per collection.
    """
    osm_path = _check_osm(Path(osm))
    steps = load_plugins() if plugins is None else list(plugins)
    if is_postgres_url(db):
        store = open_store(db)
        try:
            ctx = BuildContext(store, osm_path, valid_from, progress)
            _run_steps(ctx, steps)
            return ctx
        finally:
            store.close()
    target = gpkg_path(db)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = target.with_name(f".{target.stem}.building.gpkg")
    _remove(work)
    if target.exists():
        open_store(str(target), create=False).close()  # refuse to replace a non-twin file
        _copy(target, work)
    try:
        store = open_store(str(work))
    except StoreError as exc:
        _remove(work)
        msg = f"db={db!r} cannot be built: {exc}"
        raise StoreError(msg) from None
    ctx = BuildContext(store, osm_path, valid_from, progress)
    try:
        _run_steps(ctx, steps)
    except BaseException:
        store.close()
        _remove(work)
        raise
    store.close()
    _checkpoint(work)
    os.replace(work, target)
    _remove(work)
    return ctx


def _checkpoint(path: Path) -> None:
    """Fold a GeoPackage's write-ahead log into the file, so one file is the whole twin."""
    if not path.exists():
        return
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
    finally:
        conn.close()


def _copy(source: Path, dest: Path) -> None:
    """Copy a GeoPackage (with what its write-ahead log holds) without writing to it."""
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(dest)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


def _remove(path: Path) -> None:
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        p.unlink(missing_ok=True)
