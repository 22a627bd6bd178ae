"""``twin info``: what the twin holds."""

from __future__ import annotations

import click

from twin.cli._common import db_option, echo_counts


@click.command()
@db_option
def info(db: str) -> None:
    """List the twin's collections with their feature counts."""
    from twin.errors import StoreError
    from twin.store import open_store

    with open_store(db, create=False) as store:
        try:
            echo_counts(store)
        except getattr(store, "db_errors", ()) as exc:
            msg = f"db={store.url!r} is not a valid twin: {exc}"
            raise StoreError(msg) from None
