"""``twin addresses``: geocode, reverse, qr, plates, batch, import, parse, autocomplete.

Every command takes ``--db``. Bad input (empty, white space, over 512 characters,
binary junk, emoji, coordinates outside the CRS, an unknown code) ends with a one-line
``Error: ...`` on standard error and exit code 2, never a traceback.
"""

from __future__ import annotations

import json

import click

from twin.cli import TwinGroup, db_option

__all__ = ["addresses"]


_FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "text"]),
    default="text",
    show_default=True,
    help="Output as JSON or as lines of text.",
)


@click.group(cls=TwinGroup)
def addresses() -> None:
    """Standard addresses: geocoding, reverse geocoding, QR door plates, the registry."""


@addresses.command()
@click.argument("text")
@click.option("--limit", type=click.IntRange(1, 100), default=5, show_default=True)
@_FORMAT
@db_option
def geocode(text: str, limit: int, fmt: str, db: str) -> None:
    """Find the standard addresses that TEXT means (typos and abbreviations welcome)."""
    from addressing.geocode import geocode as run

    found = run(text, limit=limit, store=db)
    if fmt == "json":
        click.echo(json.dumps([c.to_dict() for c in found], ensure_ascii=False))
        return
    if not found:
        click.echo(f"No standard address matches {text!r}.")
    for c in found:
        click.echo(f"{c.score:.3f}  {c.code}  {c.lon:.7f} {c.lat:.7f}  {c.label}")


@addresses.command()
@click.argument("prefix")
@click.option("--limit", type=click.IntRange(1, 100), default=10, show_default=True)
@_FORMAT
@db_option
def autocomplete(prefix: str, limit: int, fmt: str, db: str) -> None:
    """Complete the beginning of an address."""
    from addressing.geocode import autocomplete as run

    found = run(prefix, limit=limit, store=db)
    if fmt == "json":
        click.echo(json.dumps([c.to_dict() for c in found], ensure_ascii=False))
        return
    for c in found:
        click.echo(f"{c.code}  {c.label}")


@addresses.command()
@click.argument("x", metavar="LON", type=float)
@click.argument("y", metavar="LAT", type=float)
@click.option(
    "--crs",
    default="OGC:CRS84",
    show_default=True,
    help="CRS of the position; coordinates in its axis order (EPSG:4326 is LAT LON).",
)
@click.option("--radius", type=float, default=50.0, show_default=True, help="Metres.")
@click.option(
    "--base-url",
    default=None,
    help="The service's public URL, http(s)://HOST[/PATH] (default TWIN_PUBLIC_URL).",
)
@_FORMAT
@db_option
def reverse(
    x: float, y: float, crs: str, radius: float, base_url: str | None, fmt: str, db: str
) -> None:
    """The standard address nearest to a position (LON LAT in CRS84 by default).

    With it come the building it stands in, the building's standard address code and,
    in JSON, the URLs of their items in the service.
    """
    from addressing.reverse import reverse as run

    r = run(x, y, crs=crs, radius=radius, store=db, base_url=base_url)
    if fmt == "json":
        click.echo(json.dumps(r.to_dict(), ensure_ascii=False))
        return
    building = f"  building {r.building_id}" if r.building_id else ""
    if r.building_code:
        building += f" {r.building_code}"
    click.echo(f"{r.code}  {r.label}  {r.distance:.1f} m{building}")


@addresses.command()
@click.argument("code")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False),
    help="The image to write: .png or .svg.",
)
@click.option(
    "--base-url",
    default=None,
    help="The service's public URL, http(s)://HOST[/PATH] (default TWIN_PUBLIC_URL).",
)
@db_option
def qr(code: str, out: str, base_url: str | None, db: str) -> None:
    """Write the QR code of the address CODE (its URL in the service) as PNG or SVG.

    CODE is a doorplate's code or a building's, unit's, floor's or room's; the URL is
    the item in 'addresses' or 'sub_addresses' accordingly.
    """
    from addressing.qr import item_url, write_qr
    from addressing.registry import get_address

    item_url(code, base_url=base_url)  # a code that has an item at all, a usable URL
    found = get_address(code, store=db)
    path = write_qr(found.id, out, base_url=base_url)
    click.echo(f"Wrote {path}: {item_url(found.id, base_url=base_url)}")


@addresses.command()
@click.argument("street")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The .svg sheet.")
@click.option(
    "--base-url",
    default=None,
    help="The service's public URL, http(s)://HOST[/PATH] (default TWIN_PUBLIC_URL).",
)
@db_option
def plates(street: str, out: str, base_url: str | None, db: str) -> None:
    """Write a printable SVG sheet of the door plates of STREET (name or code)."""
    from pathlib import Path

    from addressing.qr import plate_sheet
    from twin.errors import InvalidInput

    if not out.lower().endswith(".svg"):
        msg = f"out={out!r} must end with '.svg'"
        raise InvalidInput(msg)
    svg = plate_sheet(street, store=db, base_url=base_url)
    try:
        Path(out).write_text(svg, encoding="utf-8")
    except OSError as exc:
        msg = f"out={out!r} cannot be written: {exc.strerror}"
        raise InvalidInput(msg) from None
    count = svg.count('class="plate"')
    click.echo(f"Wrote {count} plates to {out}")


@addresses.command()
@click.argument("src", type=click.Path(exists=True, dir_okay=False))
@click.argument("dst", type=click.Path(dir_okay=False))
@click.option(
    "--column", default=None, help="The address column (default: address, or the only one)."
)
@click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
@db_option
def batch(src: str, dst: str, column: str | None, progress: bool, db: str) -> None:
    """Geocode the addresses of a CSV file SRC into DST; bad rows get an error, not dropped.

    DST holds the columns of SRC and code, label, lon, lat, score, error, one row for
    each row of SRC, blank lines included: a blank line, or a row with more or fewer
    fields than the header, is reported in its error (extra fields quoted there), not
    geocoded. A header that names a column twice, or has a column named like one of the
    six added, is refused. DST is replaced only when the whole batch has run.
    """
    from addressing.geocode import geocode_csv

    good, bad = geocode_csv(src, dst, column=column, store=db, progress=progress)
    click.echo(f"Geocoded {good} rows, {bad} without a result (see their 'error'); wrote {dst}")


@addresses.command(name="import")
@db_option
def import_(db: str) -> None:
    """Rebuild the address registry from the map layers already in the twin."""
    from addressing.registry import build_registry
    from twin.store import open_store

    with open_store(db, create=False) as store, store.atomic():
        report = build_registry(store)
    for name, rep in sorted(report.items()):
        click.echo(
            f"  {name:<16} +{rep.created} created  ~{rep.updated} updated  "
            f"-{rep.retired} retired  ={rep.unchanged} unchanged"
        )


@addresses.command()
@click.argument("text")
@db_option
def parse(text: str, db: str) -> None:
    """Parse TEXT into labelled components (JSON lines), Chinese or Latin script."""
    import addressing

    run = getattr(addressing, "parse", None)
    if run is None:  # pragma: no cover - the parser ships with the package
        raise click.ClickException("the address parser is not installed")
    for c in run(text):
        click.echo(json.dumps(c.to_dict(), ensure_ascii=False))
