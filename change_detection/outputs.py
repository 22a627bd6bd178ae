"""Output files of the commands: checked before any work is done, written whole or not at all.

A command checks every path it will write first (:func:`check_output`), so that a run
that cannot write its results fails before it starts and leaves nothing behind. Files are
written to a temporary file beside the target and renamed over it (:func:`write_patches`).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from collections.abc import Collection
from pathlib import Path
from typing import Any

from change_detection.errors import MaskWriteError

__all__ = ["PATCH_DRIVERS", "check_output", "check_patches_path", "is_twin_store", "write_patches"]

#: The formats of a patches file, by extension.
PATCH_DRIVERS = {".geojson": "GeoJSON", ".gpkg": "GPKG"}

#: Tables every twin GeoPackage holds (see :mod:`twin.store.gpkg`).
_TWIN_TABLES = frozenset({"twin_collections", "twin_changelog"})


def check_output(
    path: str | os.PathLike[str], *, name: str, suffixes: Collection[str] | None = None
) -> Path:
    """Check that a file can be written at ``path`` (by a temporary file renamed over it).

    The path must not be empty or a folder, its folder must exist, and a file must be
    creatable there (probed with a temporary file, removed at once). ``name`` is how
    the messages call the path (``--out``, say); the path is reported as given.

    Raises
    ------
    MaskWriteError
        What stands in the way.
    """
    given = os.fspath(path)
    if not given.strip():
        msg = f"{name}={given!r} is empty; give the path of a file to write"
        raise MaskWriteError(msg)
    out = Path(given)
    if suffixes is not None and out.suffix.lower() not in suffixes:
        msg = f"{name}={given!r} has an unknown extension; use one of {sorted(suffixes)}"
        raise MaskWriteError(msg)
    if out.is_dir():
        msg = f"{name}={given!r} is a folder, not a file"
        raise MaskWriteError(msg)
    if not out.parent.is_dir():
        msg = f"{name}={given!r}: folder {str(out.parent)!r} does not exist"
        raise MaskWriteError(msg)
    if out.exists() and not out.is_file():
        msg = f"{name}={given!r} exists and is not a regular file"
        raise MaskWriteError(msg)
    try:
        fd, probe = tempfile.mkstemp(prefix=".twin-probe-", dir=out.parent)
    except OSError as exc:
        msg = f"{name}={given!r} cannot be written: {exc.strerror or exc}"
        raise MaskWriteError(msg) from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)
    return out


def is_twin_store(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a twin GeoPackage (an SQLite file holding the twin's tables)."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            if f.read(16) != b"SQLite format 3\x00":
                return False
    except OSError:
        return False
    try:
        conn = sqlite3.connect(f"{p.resolve().as_uri()}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return False
    return bool(_TWIN_TABLES & {r[0] for r in rows})


def check_patches_path(path: str | os.PathLike[str], *, name: str = "patches") -> Path:
    """Check a path to write change patches to: ``.geojson`` or ``.gpkg``, writable, and
    not a twin GeoPackage (another existing file is replaced whole).

    Raises
    ------
    MaskWriteError
        An unknown extension, a path that cannot be written, or a twin.
    """
    out = check_output(path, name=name, suffixes=PATCH_DRIVERS)
    if is_twin_store(out):
        msg = (
            f"{name}={os.fspath(path)!r} is a twin GeoPackage; patches are never written into "
            "a twin (use 'twin change demo' or the detect-changes process for that), "
            "give another file"
        )
        raise MaskWriteError(msg)
    return out


def write_patches(frame: Any, path: str | os.PathLike[str], *, name: str = "patches") -> Path:
    """Write a frame of patches to ``path`` (format by extension), replacing the file whole.

    The frame is written to a temporary file beside the target and renamed over it, so a
    failed write leaves the target as it was and no temporary file behind.
    """
    out = check_patches_path(path, name=name)
    driver = PATCH_DRIVERS[out.suffix.lower()]
    fd, tmp = tempfile.mkstemp(prefix=".patches-", suffix=out.suffix, dir=out.parent)
    os.close(fd)
    os.unlink(tmp)  # the driver creates the file; an empty one is not a GeoPackage
    # a GeoPackage's layer is named after the file, as if it had been written in place
    layer = {"layer": out.stem} if driver == "GPKG" else {}
    try:
        frame.to_file(tmp, driver=driver, **layer)
        os.replace(tmp, out)
    except Exception as exc:
        msg = f"{name}={os.fspath(path)!r} cannot be written: {exc}"
        raise MaskWriteError(msg) from exc
    finally:
        for leftover in (Path(tmp), Path(f"{tmp}-journal"), Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            with contextlib.suppress(OSError):
                leftover.unlink()
    return out
