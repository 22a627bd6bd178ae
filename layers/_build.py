"""The map layers' build step: an OSM extract into the twin's layers."""

from __future__ import annotations

import logging

from twin.build import BuildContext
from twin.store import BUILD_ACTOR
from twin.temporal import now

__all__ = ["build_layers"]

log = logging.getLogger(__name__)


def build_layers(ctx: BuildContext) -> None:
    """Import (or re-import) every map layer from ``ctx.osm_path``.

    New objects become features, changed ones new versions, vanished ones are retired;
    unchanged ones are left alone. A feature last created, edited or retired through the
    service (by anyone but the build) is the operators' now: a re-import leaves it as
    they made it, and warns when the extract changed it too. The import issues of
    restricted layers go to a restricted collection of their own, made when there are
    some (a twin built before had them in the public ``osm_import_issues``: a re-import
    retires them there). The valid time is the caller's, else the extract's newest
    timestamp, else now.
    """
    from tqdm import tqdm

    from layers.osm import LAYERS, read_osm
    from layers.osm.specs import RESTRICTED_IMPORT_ISSUES

    extract = read_osm(ctx.osm_path, progress=ctx.progress)
    if ctx.valid_from is None:
        ctx.valid_from = extract.timestamp or now()
    # A layer the extract has nothing for (no boundaries in a city-centre cut, say) is not
    # created: the twin lists what the city has. One that exists already stays, and a
    # re-import may retire its features.
    have = {c.name for c in ctx.store.collections()}
    specs = [s for s in LAYERS if extract.layers.get(s.name) or s.name in have]
    for spec in specs:
        ctx.store.ensure_collection(spec)
    with ctx.store.transaction(actor=BUILD_ACTOR, recorded_at=None) as tx:
        for spec in tqdm(specs, desc="writing layers", unit="layer", disable=not ctx.progress):
            rep = tx.sync(
                spec.name,
                extract.layers.get(spec.name, []),
                valid_from=ctx.valid_from,
                keep_edits=True,
            )
            ctx.report[spec.name] = rep
            if rep.conflicts:
                shown = ", ".join(rep.conflicts[:10]) + (" ..." if len(rep.conflicts) > 10 else "")
                log.warning(
                    "%s: %d features edited through the service changed in the extract too; "
                    "the edits are kept (%s)",
                    spec.name,
                    len(rep.conflicts),
                    shown,
                )
    if extract.issues:
        hidden = len(extract.layers.get(RESTRICTED_IMPORT_ISSUES.name, []))
        log.warning(
            "%d OSM objects were repaired or skipped; see osm_import_issues%s",
            len(extract.issues),
            f" and, for the {hidden} of restricted layers, {RESTRICTED_IMPORT_ISSUES.name}"
            if hidden
            else "",
        )
