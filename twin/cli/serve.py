"""``twin serve``: the OGC API service on uvicorn."""

from __future__ import annotations

import logging

import click

from twin.cli._common import db_option


@click.command()
@db_option
@click.option("--host", default=None, help="Address to listen on (default TWIN_HOST or 127.0.0.1).")
@click.option(
    "--port", type=int, default=None, help="Port to listen on (default TWIN_PORT or 5000)."
)
@click.option(
    "--base-url", default=None, help="Public URL used in links (default http://host:port)."
)
def serve(db: str, host: str | None, port: int | None, base_url: str | None) -> None:
    """Serve the twin as OGC APIs: Features, Tiles and Processes."""
    import uvicorn

    from twin.service import ServiceSettings, create_app

    settings = ServiceSettings()
    updates: dict[str, object] = {}
    if host is not None:
        updates["host"] = host
    if port is not None:
        updates["port"] = port
    if base_url is not None:
        updates["base_url"] = base_url
    settings = settings.model_copy(update=updates)
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        # pygeoapi logs every 4xx answer as an error with a traceback
        logging.getLogger("pygeoapi").setLevel(logging.CRITICAL)
    app = create_app(db, settings=settings, export_env=True)
    click.echo(f"Serving {db} at {settings.public_url()}/")
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
