"""Where ``twin routing`` takes its road graph from: a twin (``--db``, ``TWIN_DB``) or an
OSM extract (``--osm``, else the embedded Helsinki extract, said on stderr).

The twin's graph is read as the service reads it: as it was at the departure, with the
twin's road closures; the extract's is built (and kept in ``--cache`` when given).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from routing.graph import RoadGraph

__all__ = ["DEFAULT_OSM", "EMBEDDED_NOTE", "GraphSource", "address_points", "graph_of", "source_of"]

#: The embedded extract, used when nothing names the city.
DEFAULT_OSM = Path(__file__).resolve().parents[1] / "data" / "helsinki.osm.pbf"

#: Said on stderr when neither --db, --osm nor TWIN_DB names the city.
EMBEDDED_NOTE = "routing on the embedded Helsinki extract; pass --db or --osm for another city"


@dataclass(frozen=True)
class GraphSource:
    """Where the road graph comes from: an OSM extract, or a twin (and what named it)."""

    osm: Path | None = None
    db: str | None = None
    named_by: str = "--db"


def _env_db() -> str | None:
    """The twin TWIN_DB names (in the environment or ``.env``), None when it is not set."""
    from twin.settings import StoreSettings

    settings = StoreSettings()
    if "db" not in settings.model_fields_set or not settings.db.strip():
        return None
    return settings.db


def source_of(osm: Path | None, db: str | None, cache: Path | None) -> GraphSource:
    """The graph's source from --osm, --db and TWIN_DB; conflicting options are refused."""
    if osm is not None and db is not None:
        msg = (
            f"--osm={str(osm)!r} and --db={db!r} both name the city to route on; give one: "
            "--osm to build the graph from an OSM extract, --db to read a twin's"
        )
        raise click.UsageError(msg)
    if osm is not None:
        return GraphSource(osm=osm)
    src = GraphSource(db=db) if db is not None else None
    if src is None:
        env = _env_db()
        if env is None:
            click.echo(EMBEDDED_NOTE, err=True)
            return GraphSource(osm=DEFAULT_OSM)
        src = GraphSource(db=env, named_by="TWIN_DB")
    if cache is not None:
        msg = (
            f"--cache keeps a graph built from an OSM extract, but the graph is read from "
            f"the twin {src.named_by}={src.db!r}; drop --cache, or give --osm FILE"
        )
        raise click.UsageError(msg)
    return src


def graph_of(
    src: GraphSource,
    profile: str,
    cache: Path | None,
    *,
    closures: bool = False,
    depart: str | None = None,
) -> RoadGraph:
    """The road graph of ``src``; a twin's as it was at ``depart`` (as the service routes a
    past departure), with its ``road_closures`` when ``closures``."""
    if src.db is None:
        assert src.osm is not None
        return _extract_graph(src.osm, profile, cache)
    from routing.closures import sync_store_closures
    from routing.graph import parse_depart
    from routing.service_graph import graph_for
    from twin.store import open_store

    at = None if depart is None else parse_depart(depart, name="--depart")
    with open_store(src.db, create=False) as store:
        g = graph_for(store, profile, at=at)
        if closures:
            sync_store_closures(g, store)
    return g


def _extract_graph(osm: Path, profile: str, cache: Path | None) -> RoadGraph:
    from routing.errors import StaleGraphCache
    from routing.graph import RoadGraph

    if cache is not None and cache.exists():
        try:
            return RoadGraph.load(cache, profile=profile, osm=osm, name="--cache")
        except StaleGraphCache as exc:
            click.echo(f"Warning: {exc}; rebuilding it", err=True)
    g = RoadGraph.from_osm(osm, profile=profile)
    if cache is not None:
        g.save(cache, name="--cache")
    return g


#: The twin's layer of everything with a house number (the points coverage counts).
_ADDRESS_POINTS = "address_points"


def address_points(src: GraphSource) -> list[tuple[float, float]]:
    """The positions coverage counts: everything with a house number in the city."""
    if src.db is None:
        from routing._osm import read_address_points

        assert src.osm is not None
        return read_address_points(src.osm)
    from twin.store import open_store

    with open_store(src.db, create=False) as store:
        if _ADDRESS_POINTS not in {c.name for c in store.collections()}:
            click.echo(
                f"Warning: the twin at {store.url!r} holds no {_ADDRESS_POINTS} layer; "
                "the coverage counts no address",
                err=True,
            )
            return []
        geoms = store.read_frame(_ADDRESS_POINTS).geometry
    pts = []
    for g in geoms:
        if g is None or g.is_empty:
            continue
        pt = g if g.geom_type == "Point" else g.representative_point()
        pts.append((float(pt.x), float(pt.y)))
    return pts
