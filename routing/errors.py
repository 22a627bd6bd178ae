"""Errors of the routing package, each in the twin's exception tree."""

from __future__ import annotations

from twin.errors import InvalidInput, NotComputable

__all__ = ["NoRoute", "PointNotOnNetwork", "StaleGraphCache", "UnknownNode"]


class PointNotOnNetwork(NotComputable):
    """A point farther from every usable road than the snap limit (HTTP 422)."""


class NoRoute(NotComputable):
    """Origin and destination are not connected, or every way is closed (HTTP 422)."""


class UnknownNode(InvalidInput):
    """An OSM node id that is not a node of the road graph (HTTP 400)."""


class StaleGraphCache(InvalidInput):
    """A graph cache written for another profile, another extract or another format version."""
