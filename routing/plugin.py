"""Registration of the routing package with the twin kernel."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from twin.plugins import HttpApi, Plugin, WriteCheck

if TYPE_CHECKING:
    import click

    from twin.build import BuildContext
    from twin.store import CollectionSpec

__all__ = ["plugin"]


def _collections() -> Sequence[CollectionSpec]:
    from routing._store_graph import COLLECTIONS
    from routing.closures import closures_spec

    return (*COLLECTIONS, closures_spec())


def _build(ctx: BuildContext) -> None:
    from routing._store_graph import build_road_layers
    from routing.closures import closures_spec

    build_road_layers(ctx)
    ctx.store.ensure_collection(closures_spec())


def _http() -> HttpApi:
    from routing.api import http_api

    return http_api()


def _write_checks() -> dict[str, WriteCheck]:
    from routing.closures import check_closure_write

    return {"road_closures": check_closure_write}


def _cli() -> Sequence[click.Command]:
    from routing.cli import routing_group

    return [routing_group]


def _processes() -> dict[str, dict[str, Any]]:
    from routing.processes import PROCESSES

    return PROCESSES


plugin = Plugin(
    name="routing",
    requires=("layers",),
    collections=_collections,
    build=_build,
    cli=_cli,
    processes=_processes,
    http=_http,
    write_checks=_write_checks,
)
