"""The handlers of features: a collection's items, one item and its history.

Items and an item are read through pygeoapi, the query checked first and the twin's own
parameters taken out (and put back into the paging links); an item's history is read
from the store. Writes (``POST``, ``PUT``, ``PATCH``, ``DELETE``) go to the store
directly: they need the editor role and are held to ``If-Match`` and the plugins'
write checks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import Response

from twin.crs import CRS84
from twin.service import features as feat
from twin.service._bridge import answer_doc, call_pygeoapi, to_response
from twin.service._runtime import RequestState, request_state
from twin.service._service import TwinService
from twin.service.auth import Role, require
from twin.service.body import read_body
from twin.service.errors import MethodNotAllowed
from twin.service.params import Endpoint, check_known, parse_items_params, served_crs_uri

__all__ = ["history", "item", "items"]


def _is_geojson(headers: Mapping[str, str], status: int, fmt: str | None) -> bool:
    """Whether pygeoapi's answer to an items or item request is its GeoJSON.

    pygeoapi writes GeoJSON for any ``Accept`` it has no other answer for, but labels it
    with the type asked for (``image/png``); the service labels it as what it is.
    """
    if status != 200 or fmt in ("jsonld", "html", "csv"):
        return False
    ctype = headers.get("Content-Type", "")
    return not any(t in ctype for t in ("html", "ld+json", "csv"))


def _restore_links(doc: dict[str, Any], stripped: Mapping[str, str]) -> None:
    """Put back into paging links the parameters the twin handled itself."""
    for link in doc.get("links", []):
        parts = urlsplit(link.get("href", ""))
        if not parts.path.endswith("/items"):
            continue
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        query.update(stripped)
        link["href"] = urlunsplit(parts._replace(query=urlencode(query)))


def _with_restored_links(content: Any, stripped: Mapping[str, str]) -> str:
    """The items document with the twin's parameters back in its links.

    pygeoapi writes ``links`` and ``timeStamp`` after the features, so only that tail is
    parsed and rewritten; a document of another shape is rewritten whole.
    """
    text = content.decode("utf-8") if isinstance(content, bytes) else str(content)
    cut = text.rfind('"links": [')
    if cut > 0:
        try:
            tail = json.loads("{" + text[cut:])
        except ValueError:
            tail = None
        if isinstance(tail, dict) and set(tail) <= {"links", "timeStamp"}:
            _restore_links(tail, stripped)
            return text[:cut] + json.dumps(tail)[1:]
    doc = answer_doc(text)
    _restore_links(doc, stripped)
    return json.dumps(doc)


async def items(request: Request, svc: TwinService, state: RequestState) -> Response:
    spec = svc.spec(request.path_params["collection_id"])
    if request.method == "POST":
        require(state.role, Role.EDITOR, action=f"adding items to {spec.name!r}")
        feat.check_body_type(request.headers.get("content-type"))
        svc.check_read(spec, state)
        crs = _content_crs(request, svc)
        fv = feat.create_item(
            svc.store,
            spec.name,
            await read_body(request),
            actor=state.actor,
            check=_write_check(svc, spec.name),
            crs=crs,
        )
        href = f"{svc.base_url}/collections/{spec.name}/items/{quote(fv.id, safe='')}"
        return Response(status_code=201, headers={"Location": href, "ETag": fv.etag})
    from pygeoapi.api.itemtypes import get_collection_items

    svc.check_read(spec, state)
    parsed = parse_items_params(request.query_params, spec, city_bbox=svc.runtime.city_bbox)
    state.where = parsed.where
    if parsed.bbox is not None:
        state.extra["bbox"] = parsed.bbox
    headers, status, content = await call_pygeoapi(
        svc.api, get_collection_items, request, spec.name, params=parsed.forward, body=b""
    )
    if _is_geojson(headers, status, request.query_params.get("f")):
        headers["Content-Type"] = feat.GEOJSON
        if parsed.stripped:
            content = _with_restored_links(content, parsed.stripped)
    headers.setdefault("Content-Crs", f"<{parsed.crs}>")
    if status == 200:
        headers["Link"] = _items_link_header(svc.base_url, spec.name, request)
    return to_response(headers, status, content)


def _items_link_header(base_url: str, name: str, request: Request) -> str:
    """RFC 8288 links of an items response: itself, its HTML twin and the queryables."""
    items = f"{base_url}/collections/{name}/items"
    query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "f"])
    sep = "&" if query else ""
    html = request.query_params.get("f") == "html"
    return ", ".join(
        [
            f'<{items}?{query}{sep}f=json>; rel="{"alternate" if html else "self"}"; type="{feat.GEOJSON}"',
            f'<{items}?{query}{sep}f=html>; rel="{"self" if html else "alternate"}"; type="text/html"',
            f"<{base_url}/collections/{name}/queryables>; "
            'rel="http://www.opengis.net/def/rel/ogc/1.0/queryables"; type="application/schema+json"',
        ]
    )


def _content_crs(request: Request, svc: TwinService) -> str:
    """The URI of the CRS a write's body is in: its ``Content-Crs`` (OGC API Features
    Part 2), CRS84 without one; 400 for a CRS the service does not serve."""
    value = request.headers.get("content-crs")
    if value is None:
        return CRS84
    text = value.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    return served_crs_uri(text, svc.runtime.city_bbox, name="Content-Crs")


def _crs_param(request: Request, svc: TwinService) -> dict[str, str]:
    params = dict(request.query_params)
    if "crs" in params:
        params["crs"] = served_crs_uri(params["crs"], svc.runtime.city_bbox, name="crs")
    return params


async def item(request: Request, svc: TwinService, state: RequestState) -> Response:
    spec = svc.spec(request.path_params["collection_id"])
    fid = request.path_params["item_id"]
    method = request.method
    if method in ("PUT", "PATCH", "DELETE"):
        require(state.role, Role.EDITOR, action=f"changing items of {spec.name!r}")
        if_match = request.headers.get("if-match")
        if method == "DELETE":
            feat.delete_item(
                svc.store,
                spec.name,
                fid,
                if_match=if_match,
                actor=state.actor,
                check=_write_check(svc, spec.name),
            )
            return Response(status_code=204)
        feat.check_body_type(request.headers.get("content-type"))
        crs = _content_crs(request, svc)
        body = await read_body(request)
        write = feat.replace_item if method == "PUT" else feat.patch_item
        fv = write(
            svc.store,
            spec.name,
            fid,
            body,
            if_match=if_match,
            actor=state.actor,
            check=_write_check(svc, spec.name),
            crs=crs,
        )
        return Response(status_code=204, headers={"ETag": fv.etag})
    if method != "GET":
        msg = f"method {method} is not allowed on an item; use GET, PUT, PATCH or DELETE"
        raise MethodNotAllowed(msg)
    from pygeoapi.api.itemtypes import get_collection_item

    svc.check_read(spec, state)
    check_known(request.query_params, Endpoint.ITEM)
    params = _crs_param(request, svc)
    # pygeoapi writes the identifier it is given into the item's URLs (its links, the
    # JSON-LD @id) as it is: it gets the id percent-encoded, and the provider decodes it.
    headers, status, content = await call_pygeoapi(
        svc.api,
        get_collection_item,
        request,
        spec.name,
        quote(fid, safe=""),
        params=params,
        body=b"",
    )
    if _is_geojson(headers, status, params.get("f")):
        headers["Content-Type"] = feat.GEOJSON
    if status == 200 and state.etag:
        headers["ETag"] = state.etag
    headers.setdefault("Content-Crs", f"<{params.get('crs', CRS84)}>")
    return to_response(headers, status, content)


def _write_check(svc: TwinService, collection: str) -> feat.Check | None:
    if collection not in svc.write_checks:
        return None
    actor = request_state.get()
    who = actor.actor if actor is not None else "anonymous"
    return lambda old, new: svc.check_write(collection, old, new, who)


async def history(request: Request, svc: TwinService, state: RequestState) -> Response:
    spec = svc.spec(request.path_params["collection_id"])
    svc.check_read(spec, state)
    check_known(request.query_params, Endpoint.HISTORY)
    params = _crs_param(request, svc)
    return feat.history(
        svc.store,
        spec.name,
        request.path_params["item_id"],
        base_url=svc.base_url,
        crs=params.get("crs", CRS84),
    )
