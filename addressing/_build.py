"""The addressing package's build step: the address registry from the twin's layers."""

from __future__ import annotations

import logging

from twin.build import BuildContext

__all__ = ["build_addresses"]

log = logging.getLogger(__name__)


def build_addresses(ctx: BuildContext) -> None:
    """Build or rebuild the registry after the map layers were imported.

    Reads the entrance nodes of the extract into ``address_entrances``, then writes
    ``addresses``, ``sub_addresses``, ``streets`` and ``address_issues`` at
    ``ctx.valid_from`` and records what changed in ``ctx.report``.
    """
    from addressing._registry_entrances import write_entrances
    from addressing._registry_specs import ADDRESS_ENTRANCES
    from addressing.registry import build_registry

    ctx.report[ADDRESS_ENTRANCES.name] = write_entrances(
        ctx.store, ctx.osm_path, valid_from=ctx.valid_from
    )
    report = build_registry(ctx.store, valid_from=ctx.valid_from)
    ctx.report.update(report)
