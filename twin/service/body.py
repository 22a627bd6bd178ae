"""Reading request bodies: a size limit, and JSON that is checked before it is used.

Every JSON body the service reads (items, PUT, PATCH, process execution, plugin
endpoints) goes through :func:`parse_json`, so a malformed one gets the same 400 naming
the problem wherever it is sent: not JSON, nested deeper than :data:`MAX_JSON_DEPTH`, or
an object with a key given twice (which JSON parsers would otherwise resolve silently,
last one wins). :func:`read_body` refuses a body larger than :data:`MAX_BODY_BYTES`
with 413, from its ``Content-Length`` or while it is read.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from twin.errors import InvalidInput
from twin.service.errors import PayloadTooLarge

__all__ = ["MAX_BODY_BYTES", "MAX_JSON_DEPTH", "parse_json", "read_body"]

#: The largest request body a write or an execution accepts, in bytes (16 MiB).
MAX_BODY_BYTES = 16 * 1024 * 1024

#: How deeply arrays and objects may nest in a JSON body. A GeoJSON MultiPolygon's
#: coordinates nest 4 deep inside a Feature's 2; properties may nest the rest.
MAX_JSON_DEPTH = 64


def _too_large(what: str, size: str, limit: int) -> PayloadTooLarge:
    msg = f"{what} has {size} bytes; at most {limit} bytes ({limit / 2**20:g} MiB) are accepted"
    return PayloadTooLarge(msg)


async def read_body(
    request: Request, *, limit: int = MAX_BODY_BYTES, what: str = "the request body"
) -> bytes:
    """The request's body, at most ``limit`` bytes.

    Raises
    ------
    PayloadTooLarge
        When ``Content-Length`` announces more than ``limit`` bytes, or more arrive.
    InvalidInput
        When ``Content-Length`` is not a number.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            msg = f"Content-Length {declared[:40]!r} is not a number of bytes"
            raise InvalidInput(msg)
        if int(declared) > limit:
            raise _too_large(what, declared.strip(), limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(what, f"more than {limit}", limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            msg = f"the JSON object has the key {key[:80]!r} more than once"
            raise InvalidInput(msg)
        out[key] = value
    return out


def _no_constants(name: str) -> Any:
    """Refuse ``NaN``, ``Infinity`` and ``-Infinity``, which Python's parser accepts but
    JSON (RFC 8259) does not have."""
    msg = f"{name} is not a JSON value (JSON numbers are finite)"
    raise InvalidInput(msg)


def _depth_exceeds(doc: Any, limit: int) -> bool:
    """Whether arrays and objects in ``doc`` nest more than ``limit`` deep."""
    todo: list[tuple[Any, int]] = [(doc, 1)]
    while todo:
        node, depth = todo.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        todo.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def parse_json(body: bytes | str, *, what: str = "the request body", hint: str = "") -> Any:
    """Parse a JSON body; 400 naming the problem when it cannot be used.

    Parameters
    ----------
    what
        How the body is named in messages.
    hint
        Appended to the "not JSON" message (what to send instead).

    Raises
    ------
    InvalidInput
        Not UTF-8 JSON, nested deeper than :data:`MAX_JSON_DEPTH`, an object with a
        duplicate key (the message names the key), or ``NaN``/``Infinity``, which are not
        JSON.
    """
    deep = f"{what} nests arrays and objects more than {MAX_JSON_DEPTH} levels deep"
    try:
        doc = json.loads(body, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except RecursionError:
        raise InvalidInput(deep) from None
    except InvalidInput as exc:
        raise InvalidInput(f"{what} is not accepted: {exc.msg}") from None
    except (ValueError, UnicodeDecodeError):
        msg = f"{what} is not JSON" + (f"; {hint}" if hint else "")
        raise InvalidInput(msg) from None
    if isinstance(doc, dict | list) and _depth_exceeds(doc, MAX_JSON_DEPTH):
        raise InvalidInput(deep)
    return doc
