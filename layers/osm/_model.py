"""What the importer returns: the features of every layer and the issues met on the way."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from shapely.geometry import Point

from twin.store.base import Feature

__all__ = ["ImportIssue", "OsmExtract"]


@dataclass(frozen=True)
class ImportIssue:
    """An object whose geometry was repaired, or skipped because it could not be built.

    Parameters
    ----------
    layer
        The collection the object belongs to.
    osm_id
        ``n<id>``, ``w<id>`` or ``r<id>``.
    problem
        What was wrong, in words.
    action
        ``"repaired"`` (the feature is in its layer with a fixed geometry) or
        ``"skipped"`` (it is not).
    geometry
        A point of the object in CRS84, where one is known.
    """

    layer: str
    osm_id: str
    problem: str
    action: Literal["repaired", "skipped"]
    geometry: Point | None = None

    def to_feature(self) -> Feature:
        """The issue as a feature of ``osm_import_issues`` (id ``<osm_id>:<layer>``)."""
        props = {
            "layer": self.layer,
            "osm_id": self.osm_id,
            "problem": self.problem,
            "action": self.action,
        }
        return Feature(f"{self.osm_id}:{self.layer}", self.geometry, props)


@dataclass
class OsmExtract:
    """The map layers read from one OSM extract.

    Attributes
    ----------
    layers
        Collection name -> features, for every collection of
        :data:`layers.osm.LAYERS` (an empty list where the extract has none), sorted
        by feature id (nodes, then ways, then relations, each by number).
    issues
        Every repaired or skipped object, in the same order as ``layers``.
    bounds
        ``(minx, miny, maxx, maxy)`` in CRS84: the bounding box in the file's header,
        or else the bounds of the features read.
    timestamp
        The file header's replication timestamp, or else the newest timestamp (UTC) of
        the objects the importer reads: those with a tag of interest to some layer
        (untagged nodes and ways stay inside osmium and are not looked at). ``None``
        when neither is known.
    """

    layers: dict[str, list[Feature]]
    issues: list[ImportIssue]
    bounds: tuple[float, float, float, float] | None
    timestamp: datetime | None

    def counts(self) -> dict[str, int]:
        """Number of features per layer."""
        return {name: len(features) for name, features in self.layers.items()}
