"""``twin info``: what the twin holds."""

from __future__ import annotations

import click

from twin.cli._common import db_option, echo_counts


@click.command()
@db_option
def info(db: str) -> None:
    """List the twin's collections with their feature counts."""
    from twin.store import open_store

    with open_store(db, create=False) as store:
        echo_counts(store)
