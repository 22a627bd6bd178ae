"""Errors of the service and their OGC exception documents.

Every error the service answers with is an OGC API exception document
(``{"code", "type", "description"}``) carrying the status of its
:class:`~twin.errors.TwinError` class; this module is the one place that mapping is
applied to HTTP responses. A foreign exception becomes a 500 whose description says
nothing about the data or the code.
"""

from __future__ import annotations

import json
import logging

from starlette.responses import Response

from twin.errors import InvalidInput, TwinError, http_status

__all__ = [
    "Forbidden",
    "MethodNotAllowed",
    "NoSuchJob",
    "NotAcceptable",
    "NotFound",
    "PayloadTooLarge",
    "Unauthorized",
    "UnknownParameter",
    "error_response",
    "exception_document",
]

logger = logging.getLogger(__name__)

#: The OGC exception document's media type (RFC 7807 problem details are JSON too).
EXCEPTION_MEDIA_TYPE = "application/json"


class UnknownParameter(InvalidInput):
    """A query parameter the endpoint does not define."""


class Unauthorized(TwinError, PermissionError):
    """No API key, or a key the service does not know."""

    status = 401
    code = "Unauthorized"


class Forbidden(TwinError, PermissionError):
    """A known key whose role may not do this."""

    status = 403
    code = "Forbidden"


class MethodNotAllowed(TwinError, ValueError):
    """An HTTP method the resource does not support."""

    status = 405
    code = "MethodNotAllowed"


class NotFound(TwinError, LookupError):
    """A path the service does not have."""

    status = 404
    code = "NotFound"


class NoSuchJob(TwinError, LookupError):
    """A job id the service does not know (OGC API Processes' ``no-such-job``)."""

    status = 404
    code = "NoSuchJob"


class NotAcceptable(TwinError, ValueError):
    """A representation (``f`` or ``Accept``) the resource cannot give."""

    status = 406
    code = "NotAcceptable"


class PayloadTooLarge(TwinError, ValueError):
    """A request body over the service's size limit."""

    status = 413
    code = "PayloadTooLarge"


def exception_document(status: int, code: str, description: str) -> bytes:
    """Return the JSON bytes of an OGC API exception document.

    Examples
    --------
    >>> exception_document(404, "NotFound", "no such thing")
    b'{"code": "NotFound", "type": "NotFound", "status": 404, "description": "no such thing"}'
    """
    doc = {"code": code, "type": code, "status": status, "description": description}
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def error_response(exc: BaseException, *, headers: dict[str, str] | None = None) -> Response:
    """Turn an exception into an OGC exception response.

    A :class:`~twin.errors.TwinError` keeps its status, code and message (messages are
    written to name the parameter and the bad value, never stored data). Anything else
    is logged with its traceback and answered with a bare 500.
    """
    status = http_status(exc)
    if isinstance(exc, TwinError):
        code, description = exc.code, exc.msg
    else:
        logger.error("unhandled error in the service", exc_info=exc)
        code, description = "NoApplicableCode", "internal server error"
    extra = dict(headers or {})
    if status == 401:
        extra.setdefault("WWW-Authenticate", 'ApiKey realm="twin", header="X-API-Key"')
    return Response(
        exception_document(status, code, description),
        status_code=status,
        media_type=EXCEPTION_MEDIA_TYPE,
        headers=extra,
    )
