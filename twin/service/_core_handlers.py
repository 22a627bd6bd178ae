"""The handlers of the core documents: landing page, OpenAPI, conformance, collections.

pygeoapi writes these documents (and a collection's queryables and schema); the handlers
complete them with what it does not know: the plugins' links and conformance classes,
the served CRSs, collection extents read from the store at every request, and only the
collections the caller may read. The OpenAPI document in JSON is the service's own.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

from twin.service import _metadata as meta
from twin.service._bridge import answer_doc, call_pygeoapi, is_json_answer, to_response
from twin.service._runtime import RequestState
from twin.service._service import TwinService
from twin.service.params import Endpoint, check_known

__all__ = [
    "collection",
    "collections",
    "conformance",
    "landing",
    "openapi",
    "queryables",
    "schema",
]


async def landing(request: Request, svc: TwinService, state: RequestState) -> Response:
    from pygeoapi.api import landing_page

    check_known(request.query_params, Endpoint.LANDING)
    headers, status, content = await call_pygeoapi(svc.api, landing_page, request)
    if is_json_answer(headers, status) and svc.extensions:
        doc = answer_doc(content)
        for ext in svc.extensions:
            doc.setdefault("links", []).extend(
                {**link, "href": svc.base_url + link["href"]} for link in ext.links
            )
        content = json.dumps(doc)
    return to_response(headers, status, content)


async def openapi(request: Request, svc: TwinService, state: RequestState) -> Response:
    from pygeoapi.api import openapi_

    check_known(request.query_params, Endpoint.OPENAPI)
    fmt = request.query_params.get("f")
    accept = request.headers.get("accept", "")
    if fmt == "json" or (fmt is None and "text/html" not in accept):
        return Response(
            json.dumps(svc.openapi),
            media_type="application/vnd.oai.openapi+json;version=3.0",
        )
    return to_response(*await call_pygeoapi(svc.api, openapi_, request))


async def conformance(request: Request, svc: TwinService, state: RequestState) -> Response:
    from pygeoapi.api import conformance

    check_known(request.query_params, Endpoint.CONFORMANCE)
    headers, status, content = await call_pygeoapi(svc.api, conformance, request)
    if is_json_answer(headers, status):
        doc = meta.complete_conformance(answer_doc(content))
        extra = [c for ext in svc.extensions for c in ext.conformance]
        doc["conformsTo"] = list(dict.fromkeys([*doc.get("conformsTo", []), *extra]))
        content = json.dumps(doc)
    return to_response(headers, status, content)


async def collections(request: Request, svc: TwinService, state: RequestState) -> Response:
    from pygeoapi.api import describe_collections

    check_known(request.query_params, Endpoint.COLLECTIONS)
    headers, status, content = await call_pygeoapi(svc.api, describe_collections, request)
    if is_json_answer(headers, status):
        doc = meta.complete_collections(
            answer_doc(content),
            svc.runtime.specs,
            svc.extent,
            visible=lambda s: svc.readable(s, state),
            base_url=svc.base_url,
            served_crs=svc.runtime.served_crs,
        )
        content = json.dumps(doc)
    return to_response(headers, status, content)


async def collection(request: Request, svc: TwinService, state: RequestState) -> Response:
    from pygeoapi.api import describe_collections

    spec = svc.spec(request.path_params["collection_id"])
    svc.check_read(spec, state)
    check_known(request.query_params, Endpoint.COLLECTION)
    ext = svc.extent(spec.name)
    headers, status, content = await call_pygeoapi(
        svc.api, describe_collections, request, spec.name
    )
    if is_json_answer(headers, status):
        doc = meta.complete_collection(
            answer_doc(content),
            spec,
            ext,
            base_url=svc.base_url,
            served_crs=svc.runtime.served_crs,
        )
        content = json.dumps(doc)
    return to_response(headers, status, content)


async def queryables(request: Request, svc: TwinService, state: RequestState) -> Response:
    from pygeoapi.api.itemtypes import get_collection_queryables

    spec = svc.spec(request.path_params["collection_id"])
    svc.check_read(spec, state)
    check_known(request.query_params, Endpoint.QUERYABLES)
    headers, status, content = await call_pygeoapi(
        svc.api, get_collection_queryables, request, spec.name
    )
    if is_json_answer(headers, status):
        content = json.dumps(meta.complete_queryables(answer_doc(content)))
    return to_response(headers, status, content)


async def schema(request: Request, svc: TwinService, state: RequestState) -> Response:
    from pygeoapi.api import get_collection_schema

    spec = svc.spec(request.path_params["collection_id"])
    svc.check_read(spec, state)
    check_known(request.query_params, Endpoint.QUERYABLES)
    return to_response(
        *await call_pygeoapi(svc.api, get_collection_schema, request, spec.name, body=b"")
    )
