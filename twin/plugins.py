"""Discovery of the domain packages that plug into the kernel.

A domain package declares one :class:`Plugin` object under the entry-point group
``twin.plugins`` in ``pyproject.toml``. The kernel never names a domain package: the
CLI, the build and the service are assembled from what is registered here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import click

    from twin.build import BuildContext
    from twin.store.base import CollectionSpec, Feature, FeatureVersion

__all__ = [
    "ENTRY_POINT_GROUP",
    "HttpApi",
    "Plugin",
    "WriteCheck",
    "load_plugins",
    "ordered",
    "patched_properties",
]

#: Called before a write through the service reaches a collection, with the current
#: version (None for a new feature), the feature as it would be after the write (None
#: when it is retired) and who writes. It raises a :class:`~twin.errors.TwinError` to
#: refuse, and may return the feature to write instead (None keeps it as it is).
WriteCheck = Callable[["FeatureVersion | None", "Feature | None", str], "Feature | None"]

#: While the write checks of a PATCH run, the names of the properties its body gives
#: (``None`` in the checks of a POST, PUT or DELETE, whose body is the whole feature or
#: none). A check's ``new`` feature holds a PATCH merged onto the current version, so a
#: property the body leaves out is there with its current value as if it had been sent
#: again; this tells the two apart.
patched_properties: ContextVar[frozenset[str] | None] = ContextVar(
    "patched_properties", default=None
)


@dataclass(frozen=True)
class HttpApi:
    """HTTP endpoints a plugin adds to the service, beside the OGC API core.

    Parameters
    ----------
    routes
        Starlette routes; wrap handlers with :func:`twin.service.extension.endpoint` to get
        the store, the caller's role and the service's error responses.
    conformance
        Conformance class URIs added to ``/conformance``.
    links
        Links added to the landing page (``href`` relative to the service root).
    openapi_paths
        OpenAPI path items merged into the service's OpenAPI document.
    """

    routes: Sequence[Any] = ()
    conformance: Sequence[str] = ()
    links: Sequence[dict[str, str]] = ()
    openapi_paths: dict[str, Any] = field(default_factory=dict)


log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "twin.plugins"


@dataclass(frozen=True)
class Plugin:
    """What a domain package contributes to the twin.

    Parameters
    ----------
    name
        The package's name, unique among plugins.
    requires
        Names of plugins whose build step must run before this one's.
    collections
        Returns the collections the package owns.
    build
        Fills the package's collections from a build context (an OSM extract and the
        store); ``None`` when the package has nothing to build.
    cli
        Returns click commands or groups added to the ``twin`` CLI.
    processes
        Returns pygeoapi processor definitions, name -> {"processor": {"name": dotted}};
        ``"twin_role": "editor"`` in the processor definition lets only that role (or a
        higher one) execute it (401/403 otherwise).
    http
        Returns the package's own HTTP endpoints (:class:`HttpApi`), or None.
    write_checks
        Returns collection name -> :data:`WriteCheck`: rules that writes through the
        service must pass (a workflow, for example).
    """

    name: str
    requires: tuple[str, ...] = ()
    collections: Callable[[], Sequence[CollectionSpec]] = field(default=lambda: ())
    build: Callable[[BuildContext], None] | None = None
    cli: Callable[[], Sequence[click.Command]] = field(default=lambda: ())
    processes: Callable[[], dict[str, dict[str, Any]]] = field(default=lambda: {})
    http: Callable[[], HttpApi | None] = field(default=lambda: None)
    write_checks: Callable[[], dict[str, WriteCheck]] = field(default=lambda: {})


def load_plugins() -> list[Plugin]:
    """Load every registered plugin, in build order (dependencies first)."""
    found: list[Plugin] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        obj = ep.load()
        if not isinstance(obj, Plugin):
            msg = f"entry point {ep.name!r} in {ENTRY_POINT_GROUP!r} is not a twin Plugin"
            raise TypeError(msg)
        found.append(obj)
    return ordered(found)


def ordered(plugins: Sequence[Plugin]) -> list[Plugin]:
    """Sort plugins so that each comes after the plugins it requires."""
    by_name = {p.name: p for p in plugins}
    out: list[Plugin] = []
    state: dict[str, int] = {}

    def visit(p: Plugin) -> None:
        if state.get(p.name) == 2:
            return
        if state.get(p.name) == 1:
            msg = f"plugin {p.name!r} is part of a dependency cycle"
            raise ValueError(msg)
        state[p.name] = 1
        for dep in p.requires:
            if dep in by_name:
                visit(by_name[dep])
            else:
                log.warning("plugin %r requires %r, which is not installed", p.name, dep)
        state[p.name] = 2
        out.append(p)

    for p in sorted(plugins, key=lambda p: p.name):
        visit(p)
    return out
