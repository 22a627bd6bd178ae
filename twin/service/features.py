"""Writes (OGC API Features Part 4) and the history of an item.

Every write becomes versions in the store: POST creates, PUT replaces, PATCH changes
part of a feature, DELETE retires it; nothing is overwritten or destroyed. ``ETag`` is
the version's validator and ``If-Match`` makes a write conditional: a stale one gets
412 and changes nothing. The body is checked whole before anything is written, so a
malformed one gets 400 and changes nothing either.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from twin.crs import CRS84, from_crs84
from twin.errors import InvalidInput, PreconditionFailed
from twin.plugins import patched_properties
from twin.service.body import parse_json
from twin.service.geojson import feature_from_body, field_names, to_geojson
from twin.store.base import Feature, FeatureVersion, Store

__all__ = [
    "GEOJSON",
    "actor_of",
    "create_item",
    "delete_item",
    "history",
    "patch_item",
    "replace_item",
]

#: The service's rules for a write: current version and new feature in, the feature to
#: write out (see :data:`twin.plugins.WriteCheck`); they raise to refuse.
Check = Callable[[FeatureVersion | None, Feature | None], Feature | None]

GEOJSON = "application/geo+json"
_BODY_TYPES = ("application/geo+json", "application/json", "application/merge-patch+json")
_JSON_KIND = {
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    list: "array",
    type(None): "null",
}
#: An entity tag's quoted part (RFC 9110 ``opaque-tag``).
_ETAG = re.compile(r'"[\x21\x23-\x7e\x80-\xff]*"')


def actor_of(key: str | None) -> str:
    """How a write's author is recorded: a digest of the key, never the key itself."""
    if key is None:
        return "anonymous"
    return "key:" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]


def check_body_type(content_type: str | None) -> None:
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in _BODY_TYPES:
        msg = f"Content-Type {content_type!r} is not accepted; send one of {list(_BODY_TYPES)}"
        raise InvalidInput(msg)


def _if_match_tags(if_match: str) -> list[str]:
    """The entity tags of an ``If-Match`` header (RFC 9110), ``W/`` dropped; 400 if malformed.

    Empty list elements are allowed, as in every HTTP list; ``*`` stands alone.
    """
    tags = [t.strip() for t in if_match.split(",") if t.strip()]
    if tags == ["*"]:
        return tags
    for tag in tags:
        opaque = tag[2:] if tag.startswith("W/") else tag
        if not _ETAG.fullmatch(opaque):
            msg = (
                f'If-Match {if_match[:80]!r} is malformed: {tag[:40]!r} is not "*" or an '
                'entity tag ("..." or W/"..."); send the ETag of a read'
            )
            raise InvalidInput(msg)
    if not tags:
        msg = f'If-Match {if_match[:80]!r} holds no entity tag; send the ETag of a read or "*"'
        raise InvalidInput(msg)
    return [t[2:] if t.startswith("W/") else t for t in tags]


def _check_if_match(if_match: str | None, current: FeatureVersion) -> int | None:
    """The version a conditional write expects, or None; 412 when the tag is stale."""
    if if_match is None:
        return None
    weakless = _if_match_tags(if_match)
    if weakless == ["*"]:
        return current.version
    if current.etag not in weakless:
        msg = (
            f"If-Match {if_match!r} does not match the current version of "
            f"{current.id!r}; read it again and retry"
        )
        raise PreconditionFailed(msg)
    return current.version


def _checked(
    check: Check | None, current: FeatureVersion, new: Feature | None, expected: int | None
) -> tuple[Feature | None, int | None]:
    """Run the rules; a checked write is pinned to the version the rules saw."""
    if check is None:
        return new, expected
    new = check(current, new)
    return new, (current.version if expected is None else expected)


def create_item(
    store: Store,
    collection: str,
    body: bytes,
    *,
    actor: str,
    check: Check | None = None,
    crs: str = CRS84,
) -> FeatureVersion:
    """Create a feature from a GeoJSON body; a missing id gets a new UUID.

    ``crs`` is the URI of the CRS of the body's coordinates (its ``Content-Crs``).
    """
    spec = store.collection(collection)
    fid, geom, props, _ = feature_from_body(body, spec, crs=crs)
    fid = fid or uuid.uuid4().hex
    new: Feature | None = Feature(fid, geom, props)
    if check is not None:
        new = check(None, new)
    assert new is not None
    return store.create(collection, [new], actor=actor)[0]


def replace_item(
    store: Store,
    collection: str,
    fid: str,
    body: bytes,
    *,
    if_match: str | None,
    actor: str,
    check: Check | None = None,
    crs: str = CRS84,
) -> FeatureVersion:
    """Replace a feature (PUT) with a new version (none when nothing changes)."""
    spec = store.collection(collection)
    _, geom, props, _ = feature_from_body(body, spec, feature_id=fid, crs=crs)
    current = store.get(collection, fid)
    new, expected = _checked(
        check, current, Feature(fid, geom, props), _check_if_match(if_match, current)
    )
    assert new is not None
    return store.replace(collection, new, expected_version=expected, actor=actor)


def patch_item(
    store: Store,
    collection: str,
    fid: str,
    body: bytes,
    *,
    if_match: str | None,
    actor: str,
    check: Check | None = None,
    crs: str = CRS84,
) -> FeatureVersion:
    """Change part of a feature (PATCH, JSON merge-patch semantics on properties).

    A patch that changes nothing (``{}``, say) adds no version: the current one is returned.
    """
    spec = store.collection(collection)
    obj = parse_json(body, hint="send a (partial) GeoJSON Feature")
    if not isinstance(obj, dict):
        msg = (
            "the PATCH body must be a JSON object (a partial GeoJSON Feature), "
            f"got a JSON {_JSON_KIND.get(type(obj), type(obj).__name__)}"
        )
        raise InvalidInput(msg)
    if "type" not in obj:
        obj = {**obj, "type": "Feature"}
    _, geom, props, has_geom = feature_from_body(obj, spec, feature_id=fid, partial=True, crs=crs)
    current = store.get(collection, fid)
    expected = _check_if_match(if_match, current)
    if check is not None:
        merged = {**current.properties, **props}
        after = Feature(
            fid,
            geom if has_geom else current.geometry,
            {k: v for k, v in merged.items() if v is not None},
        )
        token = patched_properties.set(frozenset(props))
        try:
            new, expected = _checked(check, current, after, expected)
        finally:
            patched_properties.reset(token)
        assert new is not None
        # What the rules changed or added is written too.
        props = {**props, **{k: v for k, v in new.properties.items() if v != merged.get(k)}}
        if new.geometry is not after.geometry:
            geom, has_geom = new.geometry, True
    kwargs: dict[str, Any] = {"properties": props, "expected_version": expected, "actor": actor}
    if has_geom:
        kwargs["geometry"] = geom
    return store.patch(collection, fid, **kwargs)


def delete_item(
    store: Store,
    collection: str,
    fid: str,
    *,
    if_match: str | None,
    actor: str,
    check: Check | None = None,
) -> FeatureVersion:
    """Retire a feature; its versions stay in history."""
    current = store.get(collection, fid)
    _, expected = _checked(check, current, None, _check_if_match(if_match, current))
    return store.retire(collection, fid, expected_version=expected, actor=actor)


def history(
    store: Store, collection: str, fid: str, *, base_url: str, crs: str = CRS84
) -> Response:
    """Every version of a feature, oldest first, as a GeoJSON FeatureCollection."""
    versions = store.history(collection, fid)
    fields = field_names(store.collection(collection))
    transform = None if crs == CRS84 else partial(from_crs84, dst=crs)
    item = f"{base_url}/collections/{collection}/items/{quote(fid, safe='')}"
    doc = {
        "type": "FeatureCollection",
        "features": [to_geojson(v, transform=transform, fields=fields) for v in versions],
        "numberMatched": len(versions),
        "numberReturned": len(versions),
        "links": [
            {"rel": "self", "type": GEOJSON, "href": f"{item}/history"},
            {"rel": "original", "type": GEOJSON, "href": item},
            {
                "rel": "collection",
                "type": "application/json",
                "href": f"{base_url}/collections/{collection}",
            },
        ],
    }
    return Response(
        json.dumps(doc, ensure_ascii=False),
        media_type=GEOJSON,
        headers={"Content-Crs": f"<{crs}>"},
    )
