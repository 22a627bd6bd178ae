"""Options and output shared by the kernel's commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from twin.store import Store

__all__ = ["db_option", "echo_counts"]


def _default_db() -> str:
    from twin.settings import StoreSettings

    return StoreSettings().db


def db_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--db URL``: a .gpkg path or a PostgreSQL URL (default: TWIN_DB or var/helsinki.gpkg)."""
    return click.option(
        "--db",
        default=_default_db,
        show_default="TWIN_DB or var/helsinki.gpkg",
        help="The twin: a GeoPackage path or a postgresql:// URL.",
    )(f)


def echo_counts(store: Store) -> None:
    """Print each collection with its current feature count and temporal extent."""
    specs = store.collections()
    extents = [store.extent(spec.name) for spec in specs]  # read all before printing any
    click.echo(f"The twin at {store.url} holds {len(specs)} collections:")
    width = max([22, *(len(spec.name) for spec in specs)])
    for spec, ext in zip(specs, extents, strict=True):
        since = "" if ext.valid_from is None else f" since {ext.valid_from:%Y-%m-%d}"
        lock = "  (restricted)" if spec.restricted else ""
        click.echo(f"  {spec.name:<{width}} {ext.count:>7} features{since}{lock}")
