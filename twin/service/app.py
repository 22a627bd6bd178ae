"""The twin's ASGI app: pygeoapi's core, wrapped in what it lacks.

pygeoapi answers the OGC API requests through the twin's provider. Around it this app
adds, without patching pygeoapi: API keys and roles, restricted collections, strict
query parameters, CRS and filter handling, ``PATCH``, ``ETag``/``If-Match``, item
history, vector tiles, a self-contained OpenAPI document, and collection extents read
from the store at every request. Everything is assembled when the app starts, from
the store's catalog and the registered plugins.

This module builds the app and routes each request to its handler: the core documents
are answered in :mod:`twin.service._core_handlers`, features in
:mod:`twin.service._item_handlers`, processes and jobs in
:mod:`twin.service._process_handlers`, tiles in :mod:`twin.service.tiles`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from twin.errors import TwinError
from twin.plugins import Plugin
from twin.service import _core_handlers as core_handlers
from twin.service import _item_handlers as item_handlers
from twin.service import _process_handlers as process_handlers
from twin.service._runtime import RequestState, request_state
from twin.service._service import TwinService, plugin_extensions
from twin.service.errors import MethodNotAllowed, NotFound, error_response
from twin.service.settings import ServiceSettings
from twin.store.base import Store

__all__ = ["TwinService", "create_app"]

logger = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]


def _service(request: Request) -> TwinService:
    svc: TwinService = request.app.state.twin
    return svc


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


def _routes() -> list[BaseRoute]:
    from pygeoapi.util import TEMPLATESDIR

    from twin.service import tiles

    c = "/collections/{collection_id}"
    return [
        Route("/", _guard(core_handlers.landing)),
        Route("/openapi", _guard(core_handlers.openapi)),
        Route("/conformance", _guard(core_handlers.conformance)),
        Route("/collections", _guard(core_handlers.collections)),
        Route(c, _guard(core_handlers.collection)),
        Route(f"{c}/queryables", _guard(core_handlers.queryables)),
        Route(f"{c}/schema", _guard(core_handlers.schema)),
        Route(f"{c}/items", _guard(item_handlers.items), methods=["GET", "POST"]),
        Route(
            f"{c}/items/{{item_id}}",
            _guard(item_handlers.item),
            methods=["GET", "PUT", "PATCH", "DELETE"],
        ),
        Route(f"{c}/items/{{item_id}}/history", _guard(item_handlers.history)),
        *[Route(path, _guard(fn)) for path, fn in tiles.ROUTES],
        Route("/processes", _guard(process_handlers.processes)),
        Route("/processes/{process_id}", _guard(process_handlers.processes)),
        Route(
            "/processes/{process_id}/execution", _guard(process_handlers.execute), methods=["POST"]
        ),
        Route("/jobs", _guard(process_handlers.jobs)),
        Route("/jobs/{job_id}", _guard(process_handlers.jobs), methods=["GET", "DELETE"]),
        Route("/jobs/{job_id}/results", _guard(process_handlers.jobs)),
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
