"""Completing pygeoapi's metadata documents with what the twin knows.

pygeoapi writes the collection documents from its configuration; the twin replaces
their extents with the store's current ones (spatial and temporal), adds the links of
its own resources (vector tiles, queryables, item history), hides restricted
collections from callers without a role, and lists the conformance classes of what
it adds around pygeoapi.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from twin.crs import CRS84
from twin.store.base import CollectionSpec, Extent
from twin.temporal import format_time

__all__ = ["CONFORMANCE", "complete_collection", "complete_conformance", "complete_queryables"]

_OGC_REL = "http://www.opengis.net/def/rel/ogc/1.0"
TRS = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"

CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/features",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/temporal-functions",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/tms/2.0/conf/tilematrixset",
    "http://www.opengis.net/spec/tms/2.0/conf/json-tilematrixset",
)
_DROP_PREFIXES = (
    "http://www.opengis.net/spec/ogcapi-records",
    "http://www.opengis.net/spec/ogcapi-common-3",
)


def complete_conformance(doc: dict[str, Any]) -> dict[str, Any]:
    """pygeoapi's conformance classes, minus what the twin does not do, plus what it adds."""
    classes = [c for c in doc.get("conformsTo", []) if not c.startswith(_DROP_PREFIXES)]
    for c in CONFORMANCE:
        if c not in classes:
            classes.append(c)
    doc["conformsTo"] = classes
    return doc


def temporal_interval(extent: Extent) -> list[list[str | None]]:
    start = None if extent.valid_from is None else format_time(extent.valid_from)
    end = None if extent.valid_to is None else format_time(extent.valid_to)
    return [[start, end]]


def complete_collection(
    doc: dict[str, Any],
    spec: CollectionSpec,
    extent: Extent,
    *,
    base_url: str,
    served_crs: list[str],
) -> dict[str, Any]:
    """One collection document with the store's extents and the twin's links."""
    spatial: dict[str, Any] = {"crs": CRS84}
    if extent.bbox is not None:
        spatial["bbox"] = [list(extent.bbox)]
    else:
        spatial["bbox"] = doc.get("extent", {}).get("spatial", {}).get("bbox", [])
    ext: dict[str, Any] = {"spatial": spatial}
    if extent.valid_from is not None:
        ext["temporal"] = {"interval": temporal_interval(extent), "trs": TRS}
    doc["extent"] = ext
    doc["itemType"] = "feature"
    doc["crs"] = list(served_crs)
    doc["storageCrs"] = CRS84
    doc["x-twin-versions"] = {
        "featuresNow": extent.count,
        "restricted": spec.restricted,
        "history": f"{base_url}/collections/{spec.name}/items/{{featureId}}/history",
    }
    coll = f"{base_url}/collections/{spec.name}"
    links = [
        link
        for link in doc.get("links", [])
        if not str(link.get("rel", "")).endswith(("tilesets-vector", "/queryables"))
    ]
    links += [
        {
            "rel": f"{_OGC_REL}/tilesets-vector",
            "type": "application/json",
            "title": "Vector tilesets of this collection",
            "href": f"{coll}/tiles",
        },
        {
            "rel": f"{_OGC_REL}/queryables",
            "type": "application/schema+json",
            "title": "Queryables of this collection",
            "href": f"{coll}/queryables",
        },
    ]
    doc["links"] = links
    return doc


def complete_collections(
    doc: dict[str, Any],
    specs: Mapping[str, CollectionSpec],
    extent_of: Callable[[str], Extent],
    *,
    visible: Callable[[CollectionSpec], bool],
    base_url: str,
    served_crs: list[str],
) -> dict[str, Any]:
    """The collection list: visible collections only, each completed."""
    out = []
    for c in doc.get("collections", []):
        spec = specs.get(c.get("id"))
        if spec is None or not visible(spec):
            continue
        out.append(
            complete_collection(
                c, spec, extent_of(spec.name), base_url=base_url, served_crs=served_crs
            )
        )
    doc["collections"] = out
    return doc


def complete_queryables(doc: dict[str, Any]) -> dict[str, Any]:
    """Queryables declared as JSON Schema 2019-09 (the https URI Part 3 names)."""
    doc["$schema"] = "https://json-schema.org/draft/2019-09/schema"
    props = doc.setdefault("properties", {})
    props.setdefault("geometry", {"format": "geometry-any", "x-ogc-role": "primary-geometry"})
    props.setdefault("id", {"title": "id", "type": "string", "x-ogc-role": "id"})
    return doc
