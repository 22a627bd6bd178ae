"""``twin build``: import an OSM extract into the twin."""

from __future__ import annotations

import click

from twin.cli._common import db_option, echo_counts


@click.command()
@click.option(
    "--osm",
    "osm",
    type=click.Path(dir_okay=False),
    default=None,
    help="OSM extract (.osm.pbf or .osm); default: the embedded central Helsinki extract.",
)
@db_option
@click.option(
    "--valid-from",
    default=None,
    help="Valid time of the extract (RFC 3339); default: its newest object timestamp.",
)
@click.option("--progress/--no-progress", default=True, help="Show progress bars.")
@click.option("--if-missing", is_flag=True, help="Do nothing when the twin at --db exists already.")
def build(
    osm: str | None, db: str, valid_from: str | None, progress: bool, if_missing: bool
) -> None:
    """Build the twin from an OSM extract, or re-import a newer extract into it.

    Re-importing turns the differences into new versions and retirements and leaves
    unchanged features alone. A re-import that changes anything must be valid after the
    last one (an identical extract is fine at any time). A failed build leaves the old
    twin (or none).
    """
    from twin.build import build_twin
    from twin.settings import default_osm_path
    from twin.store import open_store
    from twin.temporal import parse_datetime

    if if_missing and _exists(db):
        click.echo(f"The twin at {db} exists; not rebuilding it (drop --if-missing to re-import).")
        with open_store(db, create=False) as store:
            echo_counts(store)
        return
    when = None if valid_from is None else parse_datetime(valid_from, name="--valid-from")
    ctx = build_twin(osm or default_osm_path(), db, valid_from=when, progress=progress)
    click.echo(f"Built the twin at {db} from {ctx.osm_path.name}:")
    width = max([22, *(len(name) for name in ctx.report)])
    for name, rep in sorted(ctx.report.items()):
        kept = f"  {rep.kept} kept as edited" if rep.kept else ""
        click.echo(
            f"  {name:<{width}} +{rep.created} created  ~{rep.updated} updated  "
            f"-{rep.retired} retired  ={rep.unchanged} unchanged{kept}"
        )
    with open_store(db, create=False) as store:
        echo_counts(store)


def _exists(db: str) -> bool:
    from twin.errors import StoreError
    from twin.store import open_store

    try:
        open_store(db, create=False).close()
    except StoreError:
        return False
    return True
