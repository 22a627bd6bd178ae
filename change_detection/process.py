"""The ``detect-changes`` OGC API process: a detection run on two images of the server.

Inputs name two image files on the server's file system (paths or ``file://`` URLs),
the detector and the dates of the epochs. The run's patches and new cases are written
to the twin in one transaction; the result gives the run id and the counts. It runs
synchronously or as a job (``Prefer: respond-async``). Bad input fails with a message
naming it (HTTP 400) and writes nothing. The process writes, so it needs an editor key.

Images are read only from the image folders (:func:`image_folders`):
``TWIN_IMAGE_DIRS``, folders separated by ``:``, or ``imagery`` in the service's
``TWIN_VAR_DIR`` (``var/imagery``) when it is not set. A path is resolved (symbolic
links and ``..``) before it is checked, and one outside those folders is refused
without saying whether it exists. A file in them is read only if it is a GeoTIFF/COG,
PNG or JPEG (:func:`change_detection.raster.read_raster`): a GDAL VRT there, which could
name a file anywhere, is refused before GDAL reads it. Of the files beside an image only
its world file is read (not a link out of the folder); GDAL opens no mask, overviews or
metadata file there, which it would open with any driver.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from change_detection.large import AUTO_TILED_PIXELS
from twin.errors import InvalidInput
from twin.service._runtime import get_runtime
from twin.service.processes import TwinProcessor

__all__ = [
    "IMAGE_DIRS_ENV",
    "PATH_MAX",
    "PROCESS_METADATA",
    "DetectChangesProcessor",
    "image_folders",
    "image_path",
]

log = logging.getLogger(__name__)

#: The environment variable naming the folders the process reads images from.
IMAGE_DIRS_ENV = "TWIN_IMAGE_DIRS"
#: Longest image path or ``file://`` URL accepted, in characters.
PATH_MAX = 4096


def _input(title: str, description: str, schema: dict[str, Any], required: bool) -> dict[str, Any]:
    return {
        "title": title,
        "description": description,
        "schema": schema,
        "minOccurs": 1 if required else 0,
        "maxOccurs": 1,
    }


PROCESS_METADATA: dict[str, Any] = {
    "version": "1.0.0",
    "id": "detect-changes",
    "title": "Detect changes and raise illegal-building cases",
    "description": (
        "Compares two epochs of imagery of the same area, writes the change patches and "
        "raises a case for each suspected illegal building (new, not on a permit valid at "
        "the later date, not a building standing at the earlier date). A detection over "
        "an open case is linked to it rather than raising it again. Needs an editor key. "
        "The images are files in the server's image folders: those TWIN_IMAGE_DIRS names "
        "(separated by ':'), or var/imagery in the service's TWIN_VAR_DIR when it is not "
        "set; a path elsewhere is refused. Images over "
        f"{AUTO_TILED_PIXELS // 1_000_000} megapixels are detected tile by tile, in bounded memory (on the Dask scheduler TWIN_DASK_SCHEDULER names, if "
        "any)."
    ),
    "jobControlOptions": ["sync-execute", "async-execute"],
    "outputTransmission": ["value"],
    "keywords": ["change detection", "illegal buildings", "imagery"],
    "links": [],
    "inputs": {
        "before": _input(
            "Earlier image",
            "Path or file:// URL of a georeferenced image (GeoTIFF, COG) in one of the "
            "server's image folders (TWIN_IMAGE_DIRS). Images are read only as GeoTIFF/COG, "
            "PNG or JPEG (told by the content, not the name); other formats, a GDAL VRT "
            "among them, are refused, for their content can name other files.",
            {"type": "string"},
            True,
        ),
        "after": _input(
            "Later image",
            "Path or file:// URL of the later image, in one of the image folders too and "
            "in the same formats.",
            {"type": "string"},
            True,
        ),
        "date_before": _input(
            "Date of the earlier image",
            "RFC 3339 date or date-time; the buildings standing then are the registry.",
            {"type": "string", "format": "date"},
            True,
        ),
        "date_after": _input(
            "Date of the later image",
            "RFC 3339 date or date-time; permits valid then make a new building permitted.",
            {"type": "string", "format": "date"},
            True,
        ),
        "method": _input(
            "Detector",
            "The detector's name: building (the default), building_new, cva or siamese "
            "(siamese needs TWIN_SIAMESE_WEIGHTS on the server).",
            {"type": "string", "default": "building"},
            False,
        ),
    },
    "outputs": {
        "run": {
            "title": "The run",
            "description": (
                "run_id, patches, classes (count per class), cases_created, case_ids, "
                "cases_matched, matched (patch -> case) and notes."
            ),
            "schema": {"type": "object", "contentMediaType": "application/json"},
        }
    },
    "example": {
        "inputs": {
            "before": "var/imagery/2021.tif",
            "after": "var/imagery/2023.tif",
            "date_before": "2021-06-15",
            "date_after": "2023-08-20",
            "method": "building",
        }
    },
}


def image_folders(var_dir: str | os.PathLike[str]) -> list[Path]:
    """The folders the process reads images from, resolved: those ``TWIN_IMAGE_DIRS``
    names (separated by :data:`os.pathsep`), or ``imagery`` in the service's ``var_dir``
    when it is unset or blank. Read at each run."""
    named = [p.strip() for p in os.environ.get(IMAGE_DIRS_ENV, "").split(os.pathsep)]
    folders = [Path(p) for p in named if p] or [Path(var_dir) / "imagery"]
    return [f.expanduser().resolve() for f in folders]


def _shown(value: Any) -> str:
    """A value for a message: its repr, cut at 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "..."


def image_path(value: Any, *, name: str, folders: Sequence[Path]) -> Path:
    """A file in one of ``folders`` from a path or a ``file://`` URL, resolved.

    The path is resolved (symbolic links, ``..``, relative to the working directory)
    before it is checked against ``folders`` (themselves resolved); one outside them is
    refused whether or not it exists. GDAL's virtual file systems (``/vsi...``) and URLs
    of other schemes are refused, and so is a path longer than :data:`PATH_MAX`. Messages
    show at most 60 characters of the value.

    Raises
    ------
    InvalidInput
        Anything but a readable file in the image folders.
    """
    if not isinstance(value, str) or not value.strip():
        msg = (
            f"input {name}={_shown(value)} must be the path or file:// URL of an image in "
            "the server's image folders"
        )
        raise InvalidInput(msg)
    text = value.strip()
    if len(text) > PATH_MAX:
        msg = (
            f"input {name} is {len(text)} characters long ({_shown(text)}); a path or "
            f"file:// URL has at most {PATH_MAX}"
        )
        raise InvalidInput(msg)
    try:
        parts = urlsplit(text)
    except ValueError:
        msg = f"input {name}={_shown(value)} is not a path or a file:// URL"
        raise InvalidInput(msg) from None
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            msg = f"input {name}={_shown(value)}: a file:// URL names no other host"
            raise InvalidInput(msg)
        text = unquote(parts.path)
    elif parts.scheme and len(parts.scheme) > 1:
        msg = (
            f"input {name}={_shown(value)}: only paths and file:// URLs on the server are "
            f"read, not {parts.scheme}:// URLs"
        )
        raise InvalidInput(msg)
    if text.startswith("/vsi"):
        msg = (
            f"input {name}={_shown(value)}: GDAL virtual file systems (/vsi...) are not "
            "read; name a file in the image folders"
        )
        raise InvalidInput(msg)
    try:
        path = Path(text).resolve()
    except (OSError, RuntimeError, ValueError):
        msg = f"input {name}={_shown(value)} is not a usable path"
        raise InvalidInput(msg) from None
    if not any(path.is_relative_to(folder) for folder in folders):
        msg = (
            f"input {name}={_shown(value)}: the path is outside the image folders "
            f"{[str(f) for f in folders]} (set by {IMAGE_DIRS_ENV})"
        )
        raise InvalidInput(msg)
    try:
        found = path.is_file()
    except OSError as exc:
        msg = f"input {name}={_shown(value)} cannot be read: {exc.strerror}"
        raise InvalidInput(msg) from None
    if not found:
        msg = f"input {name}={_shown(value)}: no such file in the image folders"
        raise InvalidInput(msg)
    return path


def _caller() -> str:
    """Who sent the request that created the processor."""
    from twin.service._runtime import request_state

    state = request_state.get()
    return "anonymous" if state is None else state.actor


class DetectChangesProcessor(TwinProcessor):
    """Two images on the server to change patches and illegal-building cases.

    Only an editor may run it (``twin_role`` in the plugin's processor definition).
    """

    METADATA = PROCESS_METADATA

    def __init__(self, processor_def: dict[str, Any]) -> None:
        super().__init__(processor_def)
        # pygeoapi builds the processor in the request's thread; an asynchronous job
        # runs in another thread, so who asked is read here.
        self._actor = _caller()

    def run(self, data: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        return "application/json", self._run(data)

    def _run(self, data: Mapping[str, Any]) -> dict[str, Any]:
        from change_detection.detectors import get_detector
        from change_detection.store_io import run_detection

        method = data.get("method") or "building"
        if not isinstance(method, str):
            msg = f"input method={method!r} must be a detector name"
            raise InvalidInput(msg)
        get_detector(method)
        folders = image_folders(get_runtime(str(self._def["twin_runtime"])).settings.var_dir)
        before = image_path(data.get("before"), name="before", folders=folders)
        after = image_path(data.get("after"), name="after", folders=folders)
        for key in ("date_before", "date_after"):
            if not isinstance(data.get(key), str):
                msg = f"input {key}={data.get(key)!r} is required: an RFC 3339 date"
                raise InvalidInput(msg)
        report = run_detection(
            self.store,
            before,
            after,
            actor=self._actor,
            method=method,
            date_before=data["date_before"],
            date_after=data["date_after"],
        )
        return report.to_dict()
