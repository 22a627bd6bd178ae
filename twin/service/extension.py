"""What a plugin's own HTTP endpoints get from the service.

A plugin lists Starlette routes in its :class:`~twin.plugins.HttpApi`; each handler is
wrapped with :func:`endpoint`, which hands it a :class:`ServiceContext` (the store, the
caller's role, the public base URL and a per-service cache) and turns any
:class:`~twin.errors.TwinError` into the service's JSON error with the right status, as
for the OGC API core.

>>> from twin.service.extension import endpoint
>>> async def hello(request, ctx):
...     from starlette.responses import JSONResponse
...     return JSONResponse({"collections": len(ctx.store.collections())})
>>> handler = endpoint(hello)
>>> callable(handler)
True
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from twin.service.auth import Role, require
from twin.service.body import parse_json, read_body
from twin.service.errors import error_response

if TYPE_CHECKING:
    from twin.service._runtime import Runtime
    from twin.store.base import Store

__all__ = ["ServiceContext", "endpoint", "json_body"]

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class ServiceContext:
    """The running service as a plugin's handler sees it for one request."""

    runtime: Runtime
    role: Role | None
    actor: str
    base_url: str
    cache: dict[str, Any]
    lock: threading.Lock

    @property
    def store(self) -> Store:
        return self.runtime.store

    def require(self, role: Role, *, action: str) -> None:
        """Refuse the request (401/403) unless the caller holds ``role``."""
        require(self.role, role, action=action)


async def json_body(request: Request, *, limit: int = 1 << 20) -> Any:
    """The request's JSON body, read as the service reads its own.

    413 when it has more than ``limit`` bytes; 400 naming the problem when it is not
    JSON, nests too deeply or repeats a key (see :func:`twin.service.body.parse_json`).
    """
    return parse_json(await read_body(request, limit=limit))


def endpoint(fn: Callable[[Request, ServiceContext], Awaitable[Response]]) -> Handler:
    """Wrap a plugin handler: give it the service context, map errors to responses."""

    async def handler(request: Request) -> Response:
        from twin.service._runtime import request_state

        try:
            svc = request.app.state.twin
            state = svc.state_for(request)
            ctx = ServiceContext(
                runtime=svc.runtime,
                role=state.role,
                actor=state.actor,
                base_url=svc.base_url,
                cache=svc.plugin_cache,
                lock=svc.plugin_lock,
            )
            token = request_state.set(state)
            try:
                return await fn(request, ctx)
            finally:
                request_state.reset(token)
        except Exception as exc:
            return error_response(exc)

    return handler
