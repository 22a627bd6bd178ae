"""What a running service shares with the pygeoapi plugins it loads.

pygeoapi builds a provider or processor per request from its configuration only, so
the configuration names a *runtime token*; the plugin looks the live store up here.
Runtimes are registered when an app starts and removed when it stops, never at import.
Per-request state (the parsed filter, the caller's role, the ETag of what was read)
travels in a context variable that the app copies into the worker thread.
"""

from __future__ import annotations

import threading
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from twin.errors import StoreError

if TYPE_CHECKING:
    from twin.service.auth import KeyRing, Role
    from twin.service.settings import ServiceSettings
    from twin.store.base import CollectionSpec, Store
    from twin.store.filters import Expr

__all__ = ["RequestState", "Runtime", "get_runtime", "register", "request_state", "unregister"]

_LOCK = threading.Lock()
_RUNTIMES: dict[str, Runtime] = {}


@dataclass
class Runtime:
    """A running service: its store, catalog, settings and keys."""

    store: Store
    settings: ServiceSettings
    keys: KeyRing
    specs: dict[str, CollectionSpec]
    city_bbox: tuple[float, float, float, float]
    served_crs: list[str]
    token: str = field(default_factory=lambda: uuid.uuid4().hex)

    def spec(self, name: str) -> CollectionSpec:
        return self.specs[name]


@dataclass
class RequestState:
    """What the app learnt about a request before pygeoapi sees it, and what it learns back."""

    role: Role | None = None
    actor: str = "anonymous"
    where: Expr | None = None
    etag: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


request_state: ContextVar[RequestState | None] = ContextVar("twin_request_state", default=None)


def register(runtime: Runtime) -> str:
    with _LOCK:
        _RUNTIMES[runtime.token] = runtime
    return runtime.token


def unregister(token: str) -> None:
    with _LOCK:
        _RUNTIMES.pop(token, None)


def get_runtime(token: str) -> Runtime:
    """The runtime a pygeoapi plugin's ``data`` names."""
    rt = _RUNTIMES.get(token)
    if rt is None:
        msg = "the twin service that this plugin belongs to is not running"
        raise StoreError(msg)
    return rt
