"""``twin verify``: check the hash chain of the change log."""

from __future__ import annotations

import sys

import click

from twin.cli._common import db_option


@click.command()
@db_option
def verify(db: str) -> None:
    """Check the change log's hash chain and every stored version against it.

    Exits 0 when the history is intact; otherwise names the first broken link and
    exits 1.
    """
    from twin.store import open_store

    with open_store(db, create=False) as store:
        report = store.verify()
    if report.ok:
        click.echo(f"OK: {report.checked} changes verified, the history is intact.")
        return
    click.echo(f"BROKEN: {report.problem}", err=True)
    sys.exit(1)
