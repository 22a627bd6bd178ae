"""API keys and roles: who may read restricted collections and who may write.

pygeoapi has no access control, so it lives here, in the service's own ASGI app. A
request names its key in the ``X-API-Key`` header (or ``Authorization: Bearer <key>``).
No key or an unknown key on a protected resource is 401; a known key whose role is too
low is 403. Keys are compared in constant time and never logged.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path

from twin.errors import InvalidInput
from twin.service.errors import Forbidden, Unauthorized

__all__ = ["KeyRing", "Role", "parse_keys"]

logger = logging.getLogger(__name__)


class Role(IntEnum):
    """Roles in increasing power; each can do what the ones below it can."""

    READER = 1
    EDITOR = 2
    ADMIN = 3

    @classmethod
    def parse(cls, value: str, *, name: str = "role") -> Role:
        try:
            return cls[value.strip().upper()]
        except KeyError:
            choices = [r.name.lower() for r in cls]
            msg = f"{name}={value!r} is not a role; choose one of {choices}"
            raise InvalidInput(msg) from None


def parse_keys(text: str, *, name: str = "TWIN_API_KEYS") -> dict[str, Role]:
    """Read ``key -> role`` from ``"k:role,k:role"``, JSON ``{"k": "role"}`` or lines ``k role``.

    Examples
    --------
    >>> parse_keys("s3cret:editor, r0:reader") == {"s3cret": Role.EDITOR, "r0": Role.READER}
    True
    """
    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            raw = json.loads(text)
        except ValueError:
            msg = f"{name} starts with '{{' but is not a JSON object of key -> role"
            raise InvalidInput(msg) from None
        if not isinstance(raw, Mapping):
            msg = f"{name} is not a JSON object of key -> role"
            raise InvalidInput(msg)
        return {str(k): Role.parse(str(v), name=f"{name} role") for k, v in raw.items()}
    out: dict[str, Role] = {}
    for part in text.replace("\n", ",").split(","):
        part = part.strip()
        if not part or part.startswith("#"):
            continue
        sep = ":" if ":" in part else None
        bits = part.rsplit(sep, 1) if sep else part.split()
        if len(bits) != 2 or not bits[0].strip():
            msg = f"{name} entry number {len(out) + 1} is not 'key:role' or 'key role'"
            raise InvalidInput(msg)
        out[bits[0].strip()] = Role.parse(bits[1], name=f"{name} role")
    return out


@dataclass(frozen=True)
class KeyRing:
    """The service's API keys and their roles."""

    keys: Mapping[str, Role] = field(default_factory=dict)

    @classmethod
    def load(cls, text: str = "", path: Path | None = None) -> KeyRing:
        """Keys from a settings string and, optionally, a key file (the file wins)."""
        keys = parse_keys(text)
        if path is not None:
            try:
                content = Path(path).read_text(encoding="utf-8")
            except OSError as exc:
                msg = f"api_key_file={str(path)!r} cannot be read: {exc.strerror}"
                raise InvalidInput(msg) from None
            keys.update(parse_keys(content, name="api_key_file"))
        return cls(keys)

    def role_of(self, key: str | None) -> Role | None:
        """The role of ``key``; None for no key. An unknown key is :class:`Unauthorized`."""
        if key is None:
            return None
        found: Role | None = None
        given = key.encode("utf-8")
        for known, role in self.keys.items():
            if hmac.compare_digest(known.encode("utf-8"), given):
                found = role
        if found is None:
            msg = "the API key is not known to this service"
            raise Unauthorized(msg)
        return found

    @staticmethod
    def key_from_headers(headers: Mapping[str, str]) -> str | None:
        """The key a request carries, from ``X-API-Key`` or a bearer ``Authorization``."""
        key = headers.get("x-api-key")
        if key:
            return key.strip()
        auth = headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        return None


def require(role: Role | None, needed: Role, *, action: str) -> None:
    """Raise 401 when there is no role and 403 when it is below ``needed``."""
    if role is None:
        msg = f"{action} needs an API key with the {needed.name.lower()} role (X-API-Key header)"
        raise Unauthorized(msg)
    if role < needed:
        msg = f"{action} needs the {needed.name.lower()} role; this key has {role.name.lower()}"
        raise Forbidden(msg)
