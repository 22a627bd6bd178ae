"""Entrance nodes from an OSM extract: the staircases and flats behind the doorplates.

The map layers keep only the objects that carry an address; an entrance node tagged
``entrance=staircase`` and ``ref=B`` usually carries none, so the address build step
reads the entrances from the extract itself (one pass over its nodes, filtered in C++
by the ``entrance`` key) into the ``address_entrances`` collection, which the registry
then reads like the other layers.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import osmium
import osmium.filter
import shapely

from addressing._registry_specs import ADDRESS_ENTRANCES
from twin.store import Feature, Store, SyncReport

__all__ = ["read_entrances", "write_entrances"]

log = logging.getLogger(__name__)

_FIELDS = {
    "entrance": "entrance",
    "ref": "ref",
    "unit": "addr:unit",
    "street": "addr:street",
    "housenumber": "addr:housenumber",
    "flats": "addr:flats",
    "door": "addr:door",
    "level": "level",
    "railway": "railway",
}


def read_entrances(path: str | Path) -> list[Feature]:
    """Return every node tagged ``entrance=*`` of an OSM extract, as features (CRS84).

    Parameters
    ----------
    path
        An OSM extract that :func:`twin.build.build_twin` accepted.

    Returns
    -------
    list of Feature
        Id ``n<osm id>``; the tags of :data:`_FIELDS` as properties, and all in ``tags``.
    """
    out: list[Feature] = []
    processor = osmium.FileProcessor(str(path), osmium.osm.NODE).with_filter(
        osmium.filter.KeyFilter("entrance")
    )
    for node in processor:
        if not isinstance(node, osmium.osm.Node) or not node.location.valid():
            continue
        tags = dict(sorted((t.k, t.v) for t in node.tags))
        ident = f"n{node.id}"
        props: dict[str, object] = {"osm_id": ident}
        for name, key in _FIELDS.items():
            if tags.get(key):
                props[name] = tags[key]
        props["tags"] = tags
        out.append(Feature(ident, shapely.Point(node.location.lon, node.location.lat), props))
    out.sort(key=lambda f: f.id)
    log.info("%d entrance nodes in %s", len(out), path)
    return out


def write_entrances(
    store: Store, path: str | Path, *, valid_from: datetime | None = None
) -> SyncReport:
    """Read the entrances of ``path`` into the ``address_entrances`` collection of ``store``."""
    store.ensure_collection(ADDRESS_ENTRANCES)
    features = read_entrances(path)
    with store.transaction(actor="twin addresses") as tx:
        return tx.sync(ADDRESS_ENTRANCES.name, features, valid_from=valid_from)
