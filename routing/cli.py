"""``twin routing``: route, green-wave plan, dispatch and isochrones from the command line.

Every command builds the road graph of an OSM extract (``--osm``, the shipped Helsinki
extract by default; ``--cache FILE`` keeps the built graph for the next run) and prints
JSON on stdout.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from routing.graph import Endpoint, RoadGraph

__all__ = ["routing_group"]

_DEFAULT_OSM = Path(__file__).resolve().parents[1] / "data" / "helsinki.osm.pbf"


def _endpoint(text: str, name: str) -> Endpoint:
    from twin.errors import InvalidInput

    parts = text.split(",")
    try:
        if len(parts) == 1:
            return int(parts[0])
        if len(parts) == 2:
            return (float(parts[0]), float(parts[1]))
    except ValueError:
        pass
    msg = f"--{name}={text!r} is neither LON,LAT nor an OSM node id"
    raise InvalidInput(msg)


def _graph(osm: Path, profile: str, cache: Path | None) -> RoadGraph:
    from routing.graph import RoadGraph

    if cache is not None and cache.is_file():
        return RoadGraph.load(cache)
    g = RoadGraph.from_osm(osm, profile=profile)
    if cache is not None:
        g.save(cache)
    return g


def _emit(data: Any, out: Path | None) -> None:
    text = json.dumps(data, indent=2, default=str)
    if out is not None:
        out.write_text(text)
    click.echo(text)


def _common(f: Any) -> Any:
    f = click.option(
        "--cache",
        type=click.Path(path_type=Path),
        default=None,
        help="Graph cache file (read if present, else written).",
    )(f)
    f = click.option(
        "--profile", type=click.Choice(["car", "emergency"]), default="emergency", show_default=True
    )(f)
    f = click.option(
        "--osm",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=_DEFAULT_OSM,
        show_default="the Helsinki extract",
    )(f)
    return f


@click.group("routing")
def routing_group() -> None:
    """Road graph, fast routes, green waves, dispatch and isochrones."""


@routing_group.command("route")
@_common
@click.option("--from", "origin", required=True, help="LON,LAT or an OSM node id.")
@click.option("--to", "destination", required=True, help="LON,LAT or an OSM node id.")
@click.option("--depart", default=None, help="Departure time, RFC 3339 (default now).")
@click.option(
    "--html",
    type=click.Path(path_type=Path),
    default=None,
    help="Also render a map to this HTML file.",
)
@click.option(
    "--out", type=click.Path(path_type=Path), default=None, help="Also write the JSON here."
)
def route_cmd(
    osm: Path,
    profile: str,
    cache: Path | None,
    origin: str,
    destination: str,
    depart: str | None,
    html: Path | None,
    out: Path | None,
) -> None:
    """The fastest route between two points."""
    g = _graph(osm, profile, cache)
    r = g.route(_endpoint(origin, "from"), _endpoint(destination, "to"), depart=depart)
    if html is not None:
        from routing.render import render_html

        render_html(r, html)
    _emit(r.to_dict(), out)


@routing_group.command("greenwave")
@_common
@click.option("--from", "origin", required=True, help="LON,LAT or an OSM node id.")
@click.option("--to", "destination", required=True, help="LON,LAT or an OSM node id.")
@click.option("--depart", default=None, help="Departure time, RFC 3339 (default now).")
@click.option("--vehicle", default="ev-1", show_default=True)
@click.option(
    "--priority",
    type=click.IntRange(1, 10),
    default=1,
    show_default=True,
    help="1 (lowest) to 10; a higher priority wins conflicts.",
)
@click.option(
    "--html",
    type=click.Path(path_type=Path),
    default=None,
    help="Also render a map to this HTML file.",
)
@click.option(
    "--out", type=click.Path(path_type=Path), default=None, help="Also write the JSON here."
)
def greenwave_cmd(
    osm: Path,
    profile: str,
    cache: Path | None,
    origin: str,
    destination: str,
    depart: str | None,
    vehicle: str,
    priority: int,
    html: Path | None,
    out: Path | None,
) -> None:
    """A green-wave signal plan: the route and a preemption window per signal."""
    from routing.greenwave import plan_green_wave

    g = _graph(osm, profile, cache)
    plan = plan_green_wave(
        g,
        _endpoint(origin, "from"),
        _endpoint(destination, "to"),
        depart=depart,
        vehicle_id=vehicle,
        priority=priority,
    )
    if html is not None:
        from routing.render import render_html

        render_html(plan, html)
    _emit(plan.to_dict(), out)


def _stations(path: Path | None) -> list[dict[str, Any]] | None:
    if path is None:
        return None
    data = json.loads(path.read_text())
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        return [
            {
                "id": f.get("id") or f["properties"].get("id"),
                "name": f["properties"].get("name", ""),
                "lon": f["geometry"]["coordinates"][0],
                "lat": f["geometry"]["coordinates"][1],
            }
            for f in data["features"]
        ]
    return list(data)


@routing_group.command("dispatch")
@_common
@click.option("--incident", required=True, help="LON,LAT or an OSM node id.")
@click.option(
    "--stations",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="JSON list of {id, name, lon, lat} or a GeoJSON FeatureCollection (default: the extract's stations).",
)
@click.option("--depart", default=None, help="Departure time, RFC 3339 (default now).")
@click.option(
    "--out", type=click.Path(path_type=Path), default=None, help="Also write the JSON here."
)
def dispatch_cmd(
    osm: Path,
    profile: str,
    cache: Path | None,
    incident: str,
    stations: Path | None,
    depart: str | None,
    out: Path | None,
) -> None:
    """Rank the stations by travel time to an incident."""
    from routing.dispatch import rank_stations

    g = _graph(osm, profile, cache)
    ranked = rank_stations(
        g, _endpoint(incident, "incident"), stations=_stations(stations), depart=depart
    )
    _emit({"incident": incident, "candidates": [c.to_dict() for c in ranked]}, out)


@routing_group.command("isochrone")
@_common
@click.option(
    "--limit",
    "limit_s",
    type=float,
    default=240.0,
    show_default=True,
    help="Seconds of travel (NFPA 1710: 240).",
)
@click.option(
    "--stations",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="JSON list of {id, name, lon, lat} or a GeoJSON FeatureCollection (default: the extract's stations).",
)
@click.option(
    "--out", type=click.Path(path_type=Path), default=None, help="Also write the GeoJSON here."
)
def isochrone_cmd(
    osm: Path,
    profile: str,
    cache: Path | None,
    limit_s: float,
    stations: Path | None,
    out: Path | None,
) -> None:
    """Each station's isochrone with and without preemption, and the address coverage."""
    from routing._osm import read_address_points
    from routing.dispatch import coverage, isochrones

    g = _graph(osm, profile, cache)
    st = _stations(stations)
    feats = []
    cover = {}
    points = read_address_points(osm)
    for pre in (False, True):
        feats += [
            i.to_feature() for i in isochrones(g, stations=st, limit_s=limit_s, preemption=pre)
        ]
        key = "with_preemption" if pre else "without_preemption"
        cover[key] = coverage(g, points, stations=st, limit_s=limit_s, preemption=pre).to_dict()
    _emit({"type": "FeatureCollection", "features": feats, "coverage": cover}, out)


def main() -> None:  # pragma: no cover - for ``python -m routing.cli``
    routing_group(sys.argv[1:])


@routing_group.command("validate")
@click.option(
    "--osm",
    type=click.Path(path_type=Path),
    default=_DEFAULT_OSM,
    show_default="the Helsinki extract",
    help="The OSM extract (.osm.pbf or .osm) to simulate.",
)
@click.option("--seed", type=int, required=True, help="Seeds trips, background traffic, SUMO.")
@click.option("--trips", type=int, default=5, show_default=True, help="Emergency trips.")
@click.option(
    "--lane-flow",
    "lane_flow",
    type=float,
    default=40.0,
    show_default=True,
    help="Background load relative to capacity: mean vehicles per hour per lane.",
)
@click.option(
    "--load",
    "per_km_h",
    type=float,
    default=None,
    help="Background car trips per hour per km of road, instead of --lane-flow.",
)
@click.option(
    "--bbox",
    default=None,
    help="WEST,SOUTH,EAST,NORTH: simulate only this part of the extract.",
)
@click.option(
    "--out", type=click.Path(path_type=Path), default=None, help="Also write the JSON here."
)
def validate_cmd(
    osm: Path,
    seed: int,
    trips: int,
    lane_flow: float,
    per_km_h: float | None,
    bbox: str | None,
    out: Path | None,
) -> None:
    """Drive an emergency vehicle in SUMO without preemption, with the plan, and re-timed live."""
    from routing.sumo import validate
    from twin.errors import InvalidInput, TwinError

    try:
        box = None
        if bbox is not None:
            parts = [float(v) for v in bbox.split(",")]
            if len(parts) != 4 or parts[0] >= parts[2] or parts[1] >= parts[3]:
                raise ValueError
            box = (parts[0], parts[1], parts[2], parts[3])
    except ValueError:
        msg = f"--bbox={bbox!r} is not WEST,SOUTH,EAST,NORTH with west < east, south < north"
        raise click.UsageError(msg) from None
    try:
        if per_km_h is not None:
            result = validate(osm, seed=seed, trips=trips, bbox=box, per_km_h=per_km_h)
        else:
            result = validate(osm, seed=seed, trips=trips, bbox=box, lane_flow_vph=lane_flow)
    except InvalidInput as exc:
        raise click.UsageError(str(exc)) from None
    except TwinError as exc:
        raise click.ClickException(str(exc)) from None
    _emit(result.to_dict(), out)
