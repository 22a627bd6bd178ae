"""Calling pygeoapi's framework-free core from the twin's Starlette app; reading its answers.

pygeoapi's API functions take an ``APIRequest`` and return ``(headers, status,
content)``. They run in a worker thread with a copy of the request's context, so that
the twin's provider sees the :class:`~twin.service._runtime.RequestState` the app set.
The app may hand pygeoapi rewritten query parameters (a ``bbox`` moved to CRS84, a
``filter`` taken out); the original request is left as it was.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from pygeoapi.api import API, APIRequest
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, QueryParams
from starlette.requests import Request
from starlette.responses import Response

__all__ = ["answer_doc", "call_pygeoapi", "is_json_answer", "to_response"]


@dataclass
class _RequestView:
    """What ``APIRequest`` reads from a Starlette request, with our own query string."""

    scope: MutableMapping[str, Any]
    query_params: QueryParams
    headers: Headers


def _view(request: Request, params: Mapping[str, str] | None) -> _RequestView:
    query = request.query_params if params is None else QueryParams(urlencode(dict(params)))
    return _RequestView(scope=request.scope, query_params=query, headers=request.headers)


def _call_in_thread(
    loop: asyncio.AbstractEventLoop, fn: Callable[..., Any], *args: Any
) -> tuple[dict[str, str], int, Any]:
    asyncio.set_event_loop(loop)
    result: tuple[dict[str, str], int, Any] = fn(*args)
    return result


async def call_pygeoapi(
    api: API,
    fn: Callable[..., tuple[dict[str, str], int, Any]],
    request: Request,
    *args: Any,
    params: Mapping[str, str] | None = None,
    body: bytes | None = None,
) -> tuple[dict[str, str], int, Any]:
    """Run one pygeoapi API function for ``request``; return its raw answer."""
    api_request = APIRequest(_view(request, params), api.locales)
    api_request._data = body if body is not None else await request.body()
    loop = asyncio.get_running_loop()
    ctx = contextvars.copy_context()
    return await run_in_threadpool(ctx.run, _call_in_thread, loop, fn, api, api_request, *args)


def to_response(headers: Mapping[str, str], status: int, content: Any) -> Response:
    """A Starlette response from pygeoapi's answer."""
    body = content if isinstance(content, bytes) else str(content or "").encode("utf-8")
    if status == 204:
        body = b""
    resp = Response(body, status_code=int(status))
    for k, v in headers.items():
        resp.headers[k] = str(v)
    return resp


def answer_doc(content: Any) -> Any:
    """The JSON document of pygeoapi's answer (an empty object when the content is not text)."""
    return json.loads(content if isinstance(content, str | bytes) else "{}")


def is_json_answer(headers: Mapping[str, str], status: int) -> bool:
    """Whether pygeoapi's answer is a successful JSON document."""
    ctype = headers.get("Content-Type", "")
    return status == 200 and ("json" in ctype)
