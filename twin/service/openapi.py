"""The service's OpenAPI document: pygeoapi's, made self-contained and completed.

pygeoapi generates the document from the configuration. Its ``$ref`` s point at
``schemas.opengis.net`` and GitHub, which a closed city network cannot reach, so every
remote reference is replaced by a local component defined here. The operations the
twin adds around pygeoapi are documented too: ``datetime``, ``filter`` and the
queryables as parameters, ``PATCH`` and the history of an item, vector tiles, and the
API key that writes need. Parameters pygeoapi documents but the twin rejects
(``vendorSpecificParameters``) are removed, so the document and the service agree.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Mapping
from typing import Any

from twin.store.base import CollectionSpec, FieldType

__all__ = ["complete_openapi", "remote_refs"]

logger = logging.getLogger(__name__)

_LINK = {
    "type": "object",
    "required": ["href"],
    "properties": {
        "href": {"type": "string"},
        "rel": {"type": "string"},
        "type": {"type": "string"},
        "hreflang": {"type": "string"},
        "title": {"type": "string"},
        "length": {"type": "integer"},
    },
}
_LINKS = {"type": "array", "items": {"$ref": "#/components/schemas/link"}}
_EXCEPTION = {
    "type": "object",
    "required": ["code"],
    "properties": {
        "code": {"type": "string"},
        "type": {"type": "string"},
        "status": {"type": "integer"},
        "description": {"type": "string"},
    },
}
_FEATURE = {
    "type": "object",
    "required": ["type", "geometry", "properties"],
    "properties": {
        "type": {"type": "string", "enum": ["Feature"]},
        "id": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        "geometry": {"nullable": True, "type": "object"},
        "properties": {"nullable": True, "type": "object"},
        "links": _LINKS,
    },
}
_FEATURES = {
    "type": "object",
    "required": ["type", "features"],
    "properties": {
        "type": {"type": "string", "enum": ["FeatureCollection"]},
        "features": {"type": "array", "items": {"$ref": "#/components/schemas/featureGeoJSON"}},
        "links": _LINKS,
        "timeStamp": {"type": "string", "format": "date-time"},
        "numberMatched": {"type": "integer", "minimum": 0},
        "numberReturned": {"type": "integer", "minimum": 0},
    },
}
_JSON_OBJECT = {"type": "object"}


def _json_response(description: str, schema: Mapping[str, Any], media: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {media: {"schema": dict(schema)}, "text/html": {"schema": {"type": "string"}}},
    }


_SCHEMAS: dict[str, Any] = {
    "link": _LINK,
    "exception": _EXCEPTION,
    "featureGeoJSON": _FEATURE,
    "featureCollectionGeoJSON": _FEATURES,
    "cql2": _JSON_OBJECT,
    "execute": {
        "type": "object",
        "properties": {
            "inputs": {"type": "object"},
            "outputs": {"type": "object"},
            "response": {"type": "string", "enum": ["raw", "document"]},
        },
    },
    "landingPage": {
        "type": "object",
        "required": ["links"],
        "properties": {
            "title": {"type": "string"},
            "description": {"type": "string"},
            "links": _LINKS,
        },
    },
    "collection": {
        "type": "object",
        "required": ["id", "links"],
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "description": {"type": "string"},
            "links": _LINKS,
            "extent": {"type": "object"},
            "crs": {"type": "array", "items": {"type": "string"}},
            "storageCrs": {"type": "string"},
        },
    },
}
_ERR = {"$ref": "#/components/schemas/exception"}
_RESPONSES: dict[str, Any] = {
    "LandingPage": _json_response(
        "The landing page", {"$ref": "#/components/schemas/landingPage"}, "application/json"
    ),
    "Collection": _json_response(
        "Metadata of one collection",
        {"$ref": "#/components/schemas/collection"},
        "application/json",
    ),
    "Feature": _json_response(
        "One feature", {"$ref": "#/components/schemas/featureGeoJSON"}, "application/geo+json"
    ),
    "Features": _json_response(
        "A page of features",
        {"$ref": "#/components/schemas/featureCollectionGeoJSON"},
        "application/geo+json",
    ),
    "InvalidParameter": _json_response("A parameter is not valid", _ERR, "application/json"),
    "NotFound": _json_response("The resource does not exist", _ERR, "application/json"),
    "ServerError": _json_response("A server error occurred", _ERR, "application/json"),
    "ProcessList": _json_response("The processes", _JSON_OBJECT, "application/json"),
    "ExecuteAsync": _json_response("The job that was started", _JSON_OBJECT, "application/json"),
    "Unauthorized": _json_response("No or an unknown API key", _ERR, "application/json"),
    "Forbidden": _json_response("The API key's role may not do this", _ERR, "application/json"),
    "PreconditionFailed": _json_response(
        "If-Match names a version that is no longer current", _ERR, "application/json"
    ),
}
_PARAMETERS: dict[str, Any] = {
    "featureId": {
        "name": "featureId",
        "in": "path",
        "required": True,
        "description": "The id of a feature",
        "schema": {"type": "string"},
    },
    "sortby": {
        "name": "sortby",
        "in": "query",
        "required": False,
        "style": "form",
        "explode": False,
        "description": "Comma-separated properties to sort by, each optionally prefixed + or -",
        "schema": {"type": "array", "items": {"type": "string", "pattern": "[+-]?[A-Za-z_].*"}},
    },
    "datetime": {
        "name": "datetime",
        "in": "query",
        "required": False,
        "description": (
            "An instant (the city at that instant) or an interval 'start/end' (versions "
            "whose validity overlaps it); open ends are '..'. No datetime means now."
        ),
        "style": "form",
        "explode": False,
        "schema": {"type": "string"},
    },
    "filter": {
        "name": "filter",
        "in": "query",
        "required": False,
        "description": "A CQL2 filter (text or JSON, see filter-lang)",
        "schema": {"type": "string"},
    },
    "filter-lang": {
        "name": "filter-lang",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": ["cql2-text", "cql2-json"], "default": "cql2-text"},
    },
    "filter-crs": {
        "name": "filter-crs",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "format": "uri"},
    },
}
_REF_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"ogcapi-features-1\.yaml#/components/(responses|parameters)/(\w+)$"), r"\1/\2"),
    (re.compile(r"processes/part1/1\.0/openapi/responses/(\w+)\.yaml$"), r"responses/\1"),
    (re.compile(r"processes/part1/1\.0/openapi/schemas/(\w+)\.yaml$"), r"schemas/\1"),
    (re.compile(r"ogcapi-tiles-1\.yaml#/components/schemas/(\w+)$"), r"schemas/\1"),
    (re.compile(r"cql2/1\.0/cql2\.json$"), "schemas/cql2"),
    (re.compile(r"parameters/sortby\.yaml$"), "parameters/sortby"),
)


def remote_refs(doc: Any) -> set[str]:
    """Every ``$ref`` in a document that does not point inside it."""
    found: set[str] = set()

    def walk(o: Any) -> None:
        if isinstance(o, dict):
            ref = o.get("$ref")
            if isinstance(ref, str) and not ref.startswith("#"):
                found.add(ref)
            for v in o.values():
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)

    walk(doc)
    return found


def _localise(o: Any) -> Any:
    if isinstance(o, dict):
        out = {}
        for k, v in o.items():
            if k == "$ref" and isinstance(v, str) and not v.startswith("#"):
                out[k] = _local_ref(v)
            else:
                out[k] = _localise(v)
        return out
    if isinstance(o, list):
        return [_localise(v) for v in o]
    return o


def _local_ref(ref: str) -> str:
    for pattern, target in _REF_RULES:
        m = pattern.search(ref)
        if m:
            return "#/components/" + m.expand(target)
    logger.warning("OpenAPI reference %s has no local copy; using a free-form schema", ref)
    return "#/components/schemas/cql2"


_PARAM_TYPES = {
    FieldType.STRING: {"type": "string"},
    FieldType.INTEGER: {"type": "integer"},
    FieldType.NUMBER: {"type": "number"},
    FieldType.BOOLEAN: {"type": "boolean"},
    FieldType.DATETIME: {"type": "string", "format": "date-time"},
}
_KEY: list[dict[str, list[str]]] = [{"ApiKey": []}]
_SYSTEM = ("version", "valid_from", "valid_to")


def _item_ops(spec: CollectionSpec) -> dict[str, Any]:
    name = spec.name
    fid = {"$ref": "#/components/parameters/featureId"}
    body = {
        "required": True,
        "content": {
            "application/geo+json": {"schema": {"$ref": "#/components/schemas/featureGeoJSON"}}
        },
    }
    errs = {
        "400": {"$ref": "#/components/responses/InvalidParameter"},
        "401": {"$ref": "#/components/responses/Unauthorized"},
        "403": {"$ref": "#/components/responses/Forbidden"},
        "404": {"$ref": "#/components/responses/NotFound"},
        "412": {"$ref": "#/components/responses/PreconditionFailed"},
    }
    if_match = {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"}}
    return {
        "patch": {
            "summary": f"Change some properties or the geometry of a {spec.title} item",
            "tags": [name],
            "operationId": f"patch{name.title().replace('_', '')}Feature",
            "security": _KEY,
            "parameters": [fid, if_match],
            "requestBody": body,
            "responses": {"204": {"description": "A new version was written"}, **errs},
        },
    }


def _history_path(spec: CollectionSpec) -> dict[str, Any]:
    return {
        "get": {
            "summary": f"Every version of a {spec.title} item, oldest first",
            "tags": [spec.name],
            "operationId": f"get{spec.name.title().replace('_', '')}FeatureHistory",
            "parameters": [
                {"$ref": "#/components/parameters/featureId"},
                {"$ref": "#/components/parameters/f"},
            ],
            "responses": {
                "200": {"$ref": "#/components/responses/Features"},
                "404": {"$ref": "#/components/responses/NotFound"},
            },
        }
    }


def _queryables_path(spec: CollectionSpec) -> dict[str, Any]:
    return {
        "get": {
            "summary": f"The queryable properties of {spec.title}",
            "tags": [spec.name],
            "operationId": f"get{spec.name.title().replace('_', '')}Queryables",
            "parameters": [{"$ref": "#/components/parameters/f"}],
            "responses": {
                "200": _json_response("Queryables", _JSON_OBJECT, "application/schema+json"),
                "404": {"$ref": "#/components/responses/NotFound"},
            },
        }
    }


def _tiles_paths(spec: CollectionSpec) -> dict[str, Any]:
    base = f"/collections/{spec.name}/tiles"
    tag = [spec.name]
    op = spec.name.title().replace("_", "")
    coord = [
        {"name": n, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}
        for n in ("tileMatrix", "tileRow", "tileCol")
    ]
    tms = {
        "name": "tileMatrixSetId",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": ["WebMercatorQuad"]},
    }
    json_ok = _json_response("Tileset list or metadata", _JSON_OBJECT, "application/json")
    return {
        base: {
            "get": {"tags": tag, "operationId": f"get{op}Tilesets", "responses": {"200": json_ok}}
        },
        f"{base}/{{tileMatrixSetId}}": {
            "get": {
                "tags": tag,
                "operationId": f"get{op}Tileset",
                "parameters": [tms],
                "responses": {"200": json_ok, "404": {"$ref": "#/components/responses/NotFound"}},
            }
        },
        f"{base}/{{tileMatrixSetId}}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}": {
            "get": {
                "tags": tag,
                "operationId": f"get{op}Tile",
                "parameters": [tms, *coord],
                "responses": {
                    "200": {
                        "description": "A Mapbox vector tile",
                        "content": {
                            "application/vnd.mapbox-vector-tile": {
                                "schema": {"type": "string", "format": "binary"}
                            }
                        },
                    },
                    "204": {"description": "An empty tile"},
                    "404": {"$ref": "#/components/responses/NotFound"},
                },
            }
        },
    }


def complete_openapi(oas: Mapping[str, Any], specs: Mapping[str, CollectionSpec]) -> dict[str, Any]:
    """Return pygeoapi's document with local references and the twin's additions."""
    doc: dict[str, Any] = _localise(copy.deepcopy(dict(oas)))
    comps = doc.setdefault("components", {})
    for key, table in (
        ("schemas", _SCHEMAS),
        ("responses", _RESPONSES),
        ("parameters", _PARAMETERS),
    ):
        bucket = comps.setdefault(key, {})
        for name, value in table.items():
            bucket.setdefault(name, copy.deepcopy(value))
    comps.setdefault("securitySchemes", {})["ApiKey"] = {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
    }
    paths: dict[str, Any] = doc.setdefault("paths", {})
    for name, spec in specs.items():
        items = paths.get(f"/collections/{name}/items", {})
        get = items.get("get")
        if get is not None:
            params = [
                p
                for p in get.get("parameters", [])
                if p.get("$ref", "").split("/")[-1] not in ("vendorSpecificParameters",)
            ]
            for p in params:
                items_schema = p.get("schema", {}).get("items", {})
                if p.get("name") == "properties" and items_schema.get("enum") == []:
                    items_schema["enum"] = [f.name for f in spec.fields] + list(_SYSTEM)
            params += [
                {"$ref": f"#/components/parameters/{n}"}
                for n in ("datetime", "filter", "filter-lang", "filter-crs")
            ]
            for f in spec.fields:
                if f.type in _PARAM_TYPES:
                    params.append(
                        {
                            "name": f.name,
                            "in": "query",
                            "required": False,
                            "description": f.description
                            or f"Features whose {f.name} equals this value",
                            "schema": dict(_PARAM_TYPES[f.type]),
                        }
                    )
            get["parameters"] = params
        post = items.get("post")
        if post is not None:
            post["summary"] = f"Add a {spec.title} item"
            post["security"] = _KEY
            post["requestBody"] = {
                "required": True,
                "content": {
                    "application/geo+json": {
                        "schema": {"$ref": "#/components/schemas/featureGeoJSON"}
                    }
                },
            }
            post["responses"] = {
                "201": {"description": "Created; Location names the new item"},
                "400": {"$ref": "#/components/responses/InvalidParameter"},
                "401": {"$ref": "#/components/responses/Unauthorized"},
                "403": {"$ref": "#/components/responses/Forbidden"},
            }
        item = paths.get(f"/collections/{name}/items/{{featureId}}")
        if item is not None:
            item.update(_item_ops(spec))
            for method in ("put", "delete"):
                if method in item:
                    item[method]["security"] = _KEY
                    item[method].setdefault("responses", {}).update(
                        {
                            "401": {"$ref": "#/components/responses/Unauthorized"},
                            "403": {"$ref": "#/components/responses/Forbidden"},
                            "412": {"$ref": "#/components/responses/PreconditionFailed"},
                        }
                    )
            if "put" in item:
                item["put"]["requestBody"] = item["patch"]["requestBody"]
        paths[f"/collections/{name}/items/{{featureId}}/history"] = _history_path(spec)
        paths[f"/collections/{name}/queryables"] = _queryables_path(spec)
        paths.update(_tiles_paths(spec))
    for ops in paths.values():
        ops.pop("options", None)  # CORS preflight is answered by the middleware
    left = remote_refs(doc)
    if left:
        logger.warning("OpenAPI document still has remote references: %s", sorted(left))
    return doc
