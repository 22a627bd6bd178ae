"""Registration of the routing package with the twin kernel."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from twin.plugins import Plugin

if TYPE_CHECKING:
    import click


def _cli() -> Sequence[click.Command]:
    from routing.cli import routing_group

    return [routing_group]


plugin = Plugin(name="routing", requires=("layers",), cli=_cli)
