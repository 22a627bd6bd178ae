"""The twin's ASGI app: pygeoapi's core, wrapped in what it lacks.

pygeoapi answers the OGC API requests through the twin's provider. Around it this app
adds, without patching pygeoapi: API keys and roles, restricted collections, strict
query parameters, CRS and filter handling, ``PATCH``, ``ETag``/``If-Match``, item
history, vector tiles, a self-contained OpenAPI document, and collection extents read
from the store at every request. Everything is assembled when the app starts, from
the store's catalog and the registered plugins.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from twin.crs import CRS84
from twin.errors import InvalidInput, TwinError
from twin.plugins import Plugin
from twin.service import _metadata as meta
from twin.service import features as feat
from twin.service._bridge import call_pygeoapi, to_response
from twin.service._runtime import RequestState, request_state
from twin.service._service import TwinService, plugin_extensions
from twin.service.auth import Role, require
from twin.service.body import parse_json, read_body
from twin.service.errors import (
    MethodNotAllowed,
    NoSuchJob,
    NotFound,
    error_response,
    exception_document,
)
from twin.service.jobs import job_failure
from twin.service.params import Endpoint, check_known, parse_items_params, served_crs_uri
from twin.service.settings import ServiceSettings
from twin.store.base import Store

__all__ = ["TwinService", "create_app"]

logger = logging.getLogger(__name__)

_WORLD = (-180.0, -90.0, 180.0, 90.0)
_EXECUTE_SHAPE = 'a JSON object with an "inputs" object'
Handler = Callable[[Request], Awaitable[Response]]


def _service(request: Request) -> TwinService:
    svc: TwinService = request.app.state.twin
    return svc


def _json_body(content: Any) -> Any:
    return json.loads(content if isinstance(content, str | bytes) else "{}")


def _is_json(headers: Mapping[str, str], status: int) -> bool:
    ctype = headers.get("Content-Type", "")
    return status == 200 and ("json" in ctype)


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
    doc = _json_body(text)
    _restore_links(doc, stripped)
    return json.dumps(doc)


def _guard(fn: Callable[[Request, TwinService, RequestState], Awaitable[Response]]) -> Handler:
    async def handler(request: Request) -> Response:
        svc = _service(request)
        try:
            state = svc.state_for(request)
            token = request_state.set(state)
            try:
                return await fn(request, svc, state)
            finally:
                request_state.reset(token)
        except TwinError as exc:
            return error_response(exc)
        except Exception as exc:
            return error_response(exc)

    return handler


# -- core documents ----------------------------------------------------------------------
async def _landing(request: Request, svc: TwinService, state: RequestState) -> Response:
    from pygeoapi.api import landing_page

    check_known(request.query_params, Endpoint.LANDING)
    headers, status, content = await call_pygeoapi(svc.api, landing_page, request)
    if _is_json(headers, status) and svc.extensions:
        doc = _json_body(content)
        for ext in svc.extensions:
            doc.setdefault("links", []).extend(
                {**link, "href": svc.base_url + link["href"]} for link in ext.links
            )
        content = json.dumps(doc)
    return to_response(headers, status, content)


async def _openapi(request: Request, svc: TwinService, state: RequestState) -> Response:
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


async def _conformance(request: Request, svc: TwinService, state: RequestState) -> Response:
    from pygeoapi.api import conformance

    check_known(request.query_params, Endpoint.CONFORMANCE)
    headers, status, content = await call_pygeoapi(svc.api, conformance, request)
    if _is_json(headers, status):
        doc = meta.complete_conformance(_json_body(content))
        extra = [c for ext in svc.extensions for c in ext.conformance]
        doc["conformsTo"] = list(dict.fromkeys([*doc.get("conformsTo", []), *extra]))
        content = json.dumps(doc)
    return to_response(headers, status, content)


async def _collections(request: Request, svc: TwinService, state: RequestState) -> Response:
    from pygeoapi.api import describe_collections

    check_known(request.query_params, Endpoint.COLLECTIONS)
    headers, status, content = await call_pygeoapi(svc.api, describe_collections, request)
    if _is_json(headers, status):
        doc = meta.complete_collections(
            _json_body(content),
            svc.runtime.specs,
            svc.extent,
            visible=lambda s: svc.readable(s, state),
            base_url=svc.base_url,
            served_crs=svc.runtime.served_crs,
        )
        content = json.dumps(doc)
    return to_response(headers, status, content)


async def _collection(request: Request, svc: TwinService, state: RequestState) -> Response:
    from pygeoapi.api import describe_collections

    spec = svc.spec(request.path_params["collection_id"])
    svc.check_read(spec, state)
    check_known(request.query_params, Endpoint.COLLECTION)
    ext = svc.extent(spec.name)
    headers, status, content = await call_pygeoapi(
        svc.api, describe_collections, request, spec.name
    )
    if _is_json(headers, status):
        doc = meta.complete_collection(
            _json_body(content),
            spec,
            ext,
            base_url=svc.base_url,
            served_crs=svc.runtime.served_crs,
        )
        content = json.dumps(doc)
    return to_response(headers, status, content)


async def _queryables(request: Request, svc: TwinService, state: RequestState) -> Response:
    from pygeoapi.api.itemtypes import get_collection_queryables

    spec = svc.spec(request.path_params["collection_id"])
    svc.check_read(spec, state)
    check_known(request.query_params, Endpoint.QUERYABLES)
    headers, status, content = await call_pygeoapi(
        svc.api, get_collection_queryables, request, spec.name
    )
    if _is_json(headers, status):
        content = json.dumps(meta.complete_queryables(_json_body(content)))
    return to_response(headers, status, content)


async def _schema(request: Request, svc: TwinService, state: RequestState) -> Response:
    from pygeoapi.api import get_collection_schema

    spec = svc.spec(request.path_params["collection_id"])
    svc.check_read(spec, state)
    check_known(request.query_params, Endpoint.QUERYABLES)
    return to_response(
        *await call_pygeoapi(svc.api, get_collection_schema, request, spec.name, body=b"")
    )


# -- features ----------------------------------------------------------------------------
async def _items(request: Request, svc: TwinService, state: RequestState) -> Response:
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


async def _item(request: Request, svc: TwinService, state: RequestState) -> Response:
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


async def _history(request: Request, svc: TwinService, state: RequestState) -> Response:
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


# -- processes ---------------------------------------------------------------------------
async def _processes(request: Request, svc: TwinService, state: RequestState) -> Response:
    from pygeoapi.api.processes import describe_processes

    pid = request.path_params.get("process_id")
    check_known(request.query_params, Endpoint.PROCESSES)
    return to_response(*await call_pygeoapi(svc.api, describe_processes, request, pid))


async def _execute(request: Request, svc: TwinService, state: RequestState) -> Response:
    from pygeoapi.api.processes import execute_process

    from twin.service.processes import requested_collections

    body = await read_body(request)
    restricted = False
    doc = (
        parse_json(body, what="the execute request", hint=f"send {_EXECUTE_SHAPE}")
        if body.strip()
        else None
    )
    inputs = doc.get("inputs", {}) if isinstance(doc, dict) else None
    if not isinstance(inputs, dict):
        msg = f"the execute request must be {_EXECUTE_SHAPE}"
        raise InvalidInput(msg)
    res = svc.config["resources"].get(request.path_params["process_id"], {})
    needed = res.get("processor", {}).get("twin_role") if res.get("type") == "process" else None
    if needed:
        pid = request.path_params["process_id"]
        require(state.role, Role.parse(str(needed)), action=f"executing process {pid!r}")
    names = requested_collections(inputs)
    for name in names or ():
        spec = svc.runtime.specs.get(name)
        if spec is not None and spec.restricted:
            svc.check_read(spec, state)
            restricted = True
    headers, status, content = await call_pygeoapi(
        svc.api, execute_process, request, request.path_params["process_id"], body=body
    )
    if status != 201:
        # Only an accepted asynchronous job is kept; a synchronous run leaves no job.
        headers.pop("Location", None)
    if restricted:
        loc = headers.get("Location", "")
        job_id = loc.rstrip("/").rsplit("/", 1)[-1] if "/jobs/" in loc else None
        if job_id:
            svc.restricted_jobs.add(job_id)
    return to_response(headers, status, content)


def _json_unless_html(request: Request) -> dict[str, str] | None:
    """The query with ``f=json`` when neither ``f`` nor the ``Accept`` header asks for HTML.

    pygeoapi answers a request that names no format (``Accept: */*``, curl's default) with
    HTML; an API client expects JSON. A browser asks for ``text/html`` and still gets it.
    """
    if "f" in request.query_params or "text/html" in request.headers.get("accept", ""):
        return None
    return {**request.query_params, "f": "json"}


def _job(svc: TwinService, job_id: str) -> dict[str, Any]:
    from pygeoapi.process.base import JobNotFoundError

    try:
        job: dict[str, Any] = svc.api.manager.get_job(job_id)
    except JobNotFoundError:
        msg = f"no job {job_id!r} on this service (it may have been dismissed)"
        raise NoSuchJob(msg) from None
    return job


async def _jobs(request: Request, svc: TwinService, state: RequestState) -> Response:
    from pygeoapi.api.processes import delete_job, get_job_result, get_jobs

    job_id = request.path_params.get("job_id")
    check_known(request.query_params, Endpoint.JOBS)
    params = _json_unless_html(request)
    if job_id is not None and job_id in svc.restricted_jobs.ids:
        require(state.role, Role.READER, action="reading a job over restricted collections")
    if job_id is None:
        headers, status, content = await call_pygeoapi(svc.api, get_jobs, request, params=params)
        if _is_json(headers, status) and state.role is None and svc.restricted_jobs.ids:
            doc = _json_body(content)
            doc["jobs"] = [
                j for j in doc.get("jobs", []) if j.get("jobID") not in svc.restricted_jobs.ids
            ]
            content = json.dumps(doc)
        return to_response(headers, status, content)
    job = _job(svc, job_id)
    if request.url.path.endswith("/results"):
        if job.get("status") == "failed":
            code_status, code, reason = job_failure(job)
            return Response(
                exception_document(code_status, code, f"job {job_id!r} failed: {reason}"),
                status_code=code_status,
                media_type="application/json",
            )
        return to_response(
            *await call_pygeoapi(svc.api, get_job_result, request, job_id, params=params)
        )
    if request.method == "DELETE":
        require(state.role, Role.EDITOR, action="dismissing a job")
        return to_response(
            *await call_pygeoapi(svc.api, delete_job, request, job_id, params=params)
        )
    return to_response(*await call_pygeoapi(svc.api, get_jobs, request, job_id, params=params))


def _routes() -> list[BaseRoute]:
    from pygeoapi.util import TEMPLATESDIR

    from twin.service import tiles

    c = "/collections/{collection_id}"
    return [
        Route("/", _guard(_landing)),
        Route("/openapi", _guard(_openapi)),
        Route("/conformance", _guard(_conformance)),
        Route("/collections", _guard(_collections)),
        Route(c, _guard(_collection)),
        Route(f"{c}/queryables", _guard(_queryables)),
        Route(f"{c}/schema", _guard(_schema)),
        Route(f"{c}/items", _guard(_items), methods=["GET", "POST"]),
        Route(
            f"{c}/items/{{item_id}}",
            _guard(_item),
            methods=["GET", "PUT", "PATCH", "DELETE"],
        ),
        Route(f"{c}/items/{{item_id}}/history", _guard(_history)),
        *[Route(path, _guard(fn)) for path, fn in tiles.ROUTES],
        Route("/processes", _guard(_processes)),
        Route("/processes/{process_id}", _guard(_processes)),
        Route("/processes/{process_id}/execution", _guard(_execute), methods=["POST"]),
        Route("/jobs", _guard(_jobs)),
        Route("/jobs/{job_id}", _guard(_jobs), methods=["GET", "DELETE"]),
        Route("/jobs/{job_id}/results", _guard(_jobs)),
        Mount("/static", StaticFiles(directory=str(Path(TEMPLATESDIR).parent / "static"))),
    ]


async def _no_route(request: Request, exc: Exception) -> Response:
    """A path or method no route answers, as an exception document like every other error."""
    if getattr(exc, "status_code", 404) == 405:
        msg = f"method {request.method} is not allowed on {request.url.path}"
        return error_response(
            MethodNotAllowed(msg), headers=dict(getattr(exc, "headers", {}) or {})
        )
    return error_response(NotFound(f"{request.url.path} is not a resource of this service"))


def create_app(
    db: str | Path | Store,
    *,
    settings: ServiceSettings | None = None,
    processes: Mapping[str, Mapping[str, Any]] | None = None,
    plugins: Sequence[Plugin] | None = None,
    export_env: bool = False,
) -> Starlette:
    """Build the service's ASGI app; it opens the store and starts when served.

    Parameters
    ----------
    db
        A store, or the URL of one (opened in the app's lifespan and closed after).
    settings
        Listening address, keys and folders; read from ``TWIN_*`` when not given.
    processes
        Process name -> pygeoapi processor definition; by default the kernel's own and
        every plugin's.
    plugins
        The plugins whose HTTP endpoints, write rules and processes are served; every
        registered one by default.
    export_env
        Point ``PYGEOAPI_CONFIG`` and ``PYGEOAPI_OPENAPI`` at the generated files, for
        pygeoapi tools run in the same process (only ``twin serve`` does this).
    """
    cfg = settings or ServiceSettings()
    extensions, checks = plugin_extensions(plugins)
    if processes is None and plugins is not None:
        from twin.service.config import KERNEL_PROCESSES

        processes = dict(KERNEL_PROCESSES)
        for plugin in plugins:
            processes.update(plugin.processes())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        from twin.store import open_store

        owned = not isinstance(db, Store)
        store = open_store(db, create=False) if not isinstance(db, Store) else db
        with tempfile.TemporaryDirectory(prefix="twin-service-") as tmp:
            svc = TwinService(
                store,
                cfg,
                processes=processes,
                workdir=Path(tmp),
                extensions=extensions,
                write_checks=checks,
            )
            app.state.twin = svc
            if export_env:
                os.environ["PYGEOAPI_CONFIG"] = str(svc.config_path)
                os.environ["PYGEOAPI_OPENAPI"] = str(svc.openapi_path)
            logger.info("serving %d collections", len(svc.runtime.specs))
            try:
                yield
            finally:
                svc.close()
                if owned:
                    store.close()

    return Starlette(
        routes=[*_routes(), *[r for ext in extensions for r in ext.routes]],
        lifespan=lifespan,
        exception_handlers={404: _no_route, 405: _no_route},
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=["*"],
                allow_methods=["*"],
                allow_headers=["*"],
                expose_headers=["ETag", "Location", "Content-Crs", "Link"],
            )
        ],
    )
