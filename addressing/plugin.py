"""Registration of the addressing package with the twin kernel."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from twin.plugins import Plugin

if TYPE_CHECKING:
    import click

    from twin.build import BuildContext
    from twin.store import CollectionSpec

__all__ = ["plugin"]


def _collections() -> Sequence[CollectionSpec]:
    from addressing._registry_specs import COLLECTIONS

    return COLLECTIONS


def _build(ctx: BuildContext) -> None:
    from addressing._build import build_addresses

    build_addresses(ctx)


def _processes() -> dict[str, dict[str, Any]]:
    from addressing.processes import PROCESSES

    return {name: {"processor": dict(p["processor"])} for name, p in PROCESSES.items()}


def _cli() -> Sequence[click.Command]:
    from addressing.cli import addresses

    return (addresses,)


plugin = Plugin(
    name="addressing",
    requires=("layers",),
    collections=_collections,
    build=_build,
    cli=_cli,
    processes=_processes,
)
