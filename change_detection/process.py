"""The ``detect-changes`` OGC API process: a detection run on two images of the server.

Inputs name two image files on the server's file system (paths or ``file://`` URLs),
the detector and the dates of the epochs. The run's patches and new cases are written
to the twin in one transaction; the result gives the run id and the counts. It runs
synchronously or as a job (``Prefer: respond-async``). Bad input fails with a message
naming it (HTTP 400) and writes nothing. The process writes, so it needs an editor key.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from twin.errors import InvalidInput
from twin.service.processes import TwinProcessor

__all__ = ["PROCESS_METADATA", "DetectChangesProcessor", "image_path"]

log = logging.getLogger(__name__)


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
        "an open case is linked to it rather than raising it again. Needs an editor key."
    ),
    "jobControlOptions": ["sync-execute", "async-execute"],
    "outputTransmission": ["value"],
    "keywords": ["change detection", "illegal buildings", "imagery"],
    "links": [],
    "inputs": {
        "before": _input(
            "Earlier image",
            "Path or file:// URL of a georeferenced image (GeoTIFF, COG) on the server.",
            {"type": "string"},
            True,
        ),
        "after": _input(
            "Later image", "Path or file:// URL of the later image.", {"type": "string"}, True
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
            "before": "/data/imagery/2021.tif",
            "after": "/data/imagery/2023.tif",
            "date_before": "2021-06-15",
            "date_after": "2023-08-20",
            "method": "building",
        }
    },
}


def image_path(value: Any, *, name: str) -> Path:
    """A server file from a path or a ``file://`` URL; InvalidInput when it is not one."""
    if not isinstance(value, str) or not value.strip():
        msg = f"input {name}={value!r} must be the path or file:// URL of an image on the server"
        raise InvalidInput(msg)
    text = value.strip()
    parts = urlsplit(text)
    if parts.scheme == "file":
        text = unquote(parts.path)
    elif parts.scheme and len(parts.scheme) > 1:
        msg = (
            f"input {name}={value!r}: only paths and file:// URLs on the server are read, "
            f"not {parts.scheme}:// URLs"
        )
        raise InvalidInput(msg)
    path = Path(text).expanduser()
    if not path.is_file():
        msg = f"input {name}={value!r}: no such file on the server"
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
        before = image_path(data.get("before"), name="before")
        after = image_path(data.get("after"), name="after")
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
