"""The ``twin`` command line.

Kernel commands live in this package, one module per command; domain packages add their
commands and groups through their plugin (see :mod:`twin.plugins`). Logging handlers are
configured here, in the entry point, and nowhere else.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from twin.cli._common import db_option
from twin.errors import TwinError

__all__ = ["TwinGroup", "cli", "db_option", "main"]


class TwinGroup(click.Group):
    """A command group that turns the twin's errors into ``Error: ...`` and exit code 2.

    Plugins use it for their groups (``@click.group(cls=TwinGroup)``) so that their
    commands report bad input the same way, also when run on their own.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TwinError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(2)


class _TwinGroup(TwinGroup):
    """The top-level group: adds the plugins' commands lazily."""

    _loaded = False

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        from twin.plugins import load_plugins

        for plugin in load_plugins():
            for cmd in plugin.cli():
                if cmd.name and cmd.name not in self.commands:
                    self.add_command(cmd)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._load()
        return super().get_command(ctx, cmd_name)


@click.group(cls=_TwinGroup)
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """City Twin: a versioned geospatial twin of a city, served as OGC APIs."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def _register() -> None:
    from twin.cli import build, info, serve, verify

    cli.add_command(build.build)
    cli.add_command(serve.serve)
    cli.add_command(verify.verify)
    cli.add_command(info.info)


_register()


def main() -> None:
    cli()
