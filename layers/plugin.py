"""Registration of the layers package with the twin kernel."""

from __future__ import annotations

from collections.abc import Sequence

from twin.build import BuildContext
from twin.plugins import Plugin
from twin.store import CollectionSpec


def _collections() -> Sequence[CollectionSpec]:
    from layers.osm import LAYERS

    return LAYERS


def _build(ctx: BuildContext) -> None:
    from layers._build import build_layers

    build_layers(ctx)


plugin = Plugin(name="layers", collections=_collections, build=_build)
