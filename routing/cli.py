"""``twin routing``: route, green-wave plan, dispatch and isochrones from the command line.

Every command routes on one city's road graph, read from the first of:

- ``--db URL``: the graph the twin stores (``twin build`` writes it), with the twin's
  emergency stations, address points and its ``road_closures`` (those active at the
  departure count), as the service answers;
- ``--osm FILE``: the graph built from an OSM extract (``--cache FILE`` keeps the built
  graph for the next run);
- the twin ``TWIN_DB`` names, when set;
- the embedded Helsinki extract, said on stderr.

``--db`` and ``--osm`` together are refused, as is ``--cache`` with a twin. Output is
JSON on stdout. Bad input is reported as ``Error: ...`` with exit code 2; files are
written whole or not at all.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from routing._cli_source import DEFAULT_OSM, address_points, graph_of, source_of
from twin.cli import TwinGroup

if TYPE_CHECKING:
    from routing.graph import Endpoint

__all__ = ["routing_group"]


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


def _file_out(ctx: click.Context, param: click.Parameter, value: str | None) -> Path | None:
    """An output file: not empty, not a folder, in a folder that exists."""
    if value is None:
        return None
    if not value.strip():
        msg = f"{value!r} is empty; give a file path"
        raise click.BadParameter(msg, ctx=ctx, param=param)
    path = Path(value)
    if path.is_dir():
        msg = f"{value!r} is a folder; give a file path"
        raise click.BadParameter(msg, ctx=ctx, param=param)
    if not path.parent.is_dir():
        msg = f"{value!r} cannot be written: the folder {str(path.parent)!r} does not exist"
        raise click.BadParameter(msg, ctx=ctx, param=param)
    return path


def _out_option(what: str) -> Any:
    return click.option(
        "--out",
        type=click.Path(),
        callback=_file_out,
        default=None,
        help=f"Also write the {what} here.",
    )


def _html_option() -> Any:
    return click.option(
        "--html",
        type=click.Path(),
        callback=_file_out,
        default=None,
        help="Also render a map to this HTML file.",
    )


def _checked(check: str) -> Any:
    """A callback passing the value through a check of the routing package (by name)."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        from routing import _text, dispatch
        from twin.errors import InvalidInput

        checks: dict[str, Any] = {"check_id": _text.check_id, "check_limit": dispatch.check_limit}
        fn = checks[check]
        try:
            return fn(value, name=param.opts[0])
        except InvalidInput as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param=param) from None

    return callback


def _emit(data: Any, out: Path | None) -> None:
    from twin.files import write_atomic

    text = json.dumps(data, indent=2, default=str)
    if out is not None:
        write_atomic(out, lambda tmp: tmp.write_text(text), name="--out")
    click.echo(text)


def _common(f: Any) -> Any:
    f = click.option(
        "--cache",
        type=click.Path(),
        callback=_file_out,
        default=None,
        help=(
            "Graph cache file, for a graph built from an OSM extract (not with a twin): "
            "read if present, else built and written. A cache built for another "
            "--profile, from another --osm extract (or the same one since changed) or by "
            "another version is rebuilt and rewritten, with a warning; a file that is "
            "not a graph cache is refused (delete it)."
        ),
    )(f)
    f = click.option(
        "--profile",
        type=click.Choice(["car", "emergency"]),
        default="emergency",
        show_default=True,
        help=(
            "emergency: 1.3 times the limit (at most 20 km/h over), bus lanes and roads "
            "for emergency vehicles, and a turn against a turn restriction for 30 s when "
            "that beats going round; car: the limits and every restriction. Turning round "
            "at a dead end takes 20 s in both."
        ),
    )(f)
    f = click.option(
        "--osm",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help=(
            "Build the road graph from this OSM extract (.osm.pbf or .osm) instead of "
            "reading a twin's. Not with --db."
        ),
    )(f)
    f = click.option(
        "--db",
        default=None,
        metavar="URL",
        help=(
            "The twin whose road graph to route on (`twin build` stores it): a GeoPackage "
            "path or a postgresql:// URL. Default: TWIN_DB when set; with neither --db, "
            "--osm nor TWIN_DB, the embedded Helsinki extract."
        ),
    )(f)
    return f


@click.group("routing", cls=TwinGroup)
def routing_group() -> None:
    """Road graph, fast routes, green waves, dispatch and isochrones."""


@routing_group.command("route")
@_common
@click.option("--from", "origin", required=True, help="LON,LAT or an OSM node id.")
@click.option("--to", "destination", required=True, help="LON,LAT or an OSM node id.")
@click.option(
    "--depart",
    default=None,
    help="Departure time, RFC 3339 (default now); a twin's closures active then count.",
)
@click.option(
    "--obey-restrictions",
    is_flag=True,
    help="Obey every turn restriction: no turn against one, even for the emergency profile.",
)
@_html_option()
@_out_option("JSON")
def route_cmd(
    db: str | None,
    osm: Path | None,
    profile: str,
    cache: Path | None,
    origin: str,
    destination: str,
    depart: str | None,
    obey_restrictions: bool,
    html: Path | None,
    out: Path | None,
) -> None:
    """The fastest route between two points.

    With a twin (--db or TWIN_DB), the closures in its road_closures collection count
    for a departure inside their window, as they do for the service's POST /routes.
    """
    g = graph_of(source_of(osm, db, cache), profile, cache, closures=True, depart=depart)
    r = g.route(
        _endpoint(origin, "from"),
        _endpoint(destination, "to"),
        depart=depart,
        obey_restrictions=obey_restrictions,
    )
    if html is not None:
        from routing.render import render_html

        render_html(r, html, name="--html")
    _emit(r.to_dict(), out)


@routing_group.command("greenwave")
@_common
@click.option("--from", "origin", required=True, help="LON,LAT or an OSM node id.")
@click.option("--to", "destination", required=True, help="LON,LAT or an OSM node id.")
@click.option("--depart", default=None, help="Departure time, RFC 3339 (default now).")
@click.option(
    "--vehicle",
    default="ev-1",
    show_default=True,
    callback=_checked("check_id"),
    help="The vehicle's id: letters, digits, space and - _ . : / (at most 64 characters).",
)
@click.option(
    "--priority",
    type=click.IntRange(1, 10),
    default=1,
    show_default=True,
    help="1 (lowest) to 10; a higher priority wins conflicts.",
)
@click.option(
    "--obey-restrictions",
    is_flag=True,
    help="Obey every turn restriction: no turn against one, even for the emergency profile.",
)
@_html_option()
@_out_option("JSON")
def greenwave_cmd(
    db: str | None,
    osm: Path | None,
    profile: str,
    cache: Path | None,
    origin: str,
    destination: str,
    depart: str | None,
    vehicle: str,
    priority: int,
    obey_restrictions: bool,
    html: Path | None,
    out: Path | None,
) -> None:
    """A green-wave signal plan: the route and a preemption window per signal.

    With a twin, the closures in its road_closures collection count for a departure inside
    their window, as they do for the service's greenwave-plan process.
    """
    from routing.greenwave import plan_green_wave

    g = graph_of(source_of(osm, db, cache), profile, cache, closures=True, depart=depart)
    plan = plan_green_wave(
        g,
        _endpoint(origin, "from"),
        _endpoint(destination, "to"),
        depart=depart,
        vehicle_id=vehicle,
        priority=priority,
        obey_restrictions=obey_restrictions,
    )
    if html is not None:
        from routing.render import render_html

        render_html(plan, html, name="--html")
    _emit(plan.to_dict(), out)


def _stations(path: Path | None) -> list[dict[str, Any]] | None:
    """The stations of a ``--stations`` file, each checked; errors name the file and item."""
    from routing._text import check_id, check_name
    from routing.snap import check_lonlat
    from twin.errors import InvalidInput

    if path is None:
        return None
    where = f"--stations={str(path)!r}"
    shape = "a JSON list of {id, name, lon, lat} or a GeoJSON FeatureCollection of Points"

    def bad(what: str) -> InvalidInput:
        return InvalidInput(f"{where}: {what}")

    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise bad(f"cannot be read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise bad(f"is not UTF-8 text (a binary file?); give {shape}") from None
    if not text.strip():
        raise bad(f"is empty; give {shape}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise bad(f"is not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    items: list[tuple[str, Any, Any, Any, Any]] = []  # (where, id, name, lon, lat)
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        feats = data.get("features")
        if not isinstance(feats, list):
            raise bad("the FeatureCollection's features is not a list")
        for i, f in enumerate(feats):
            at = f"features[{i}]"
            if not isinstance(f, dict) or f.get("type") != "Feature":
                raise bad(f"{at} is not a GeoJSON Feature")
            props = f.get("properties")
            if props is None:
                props = {}
            if not isinstance(props, dict):
                raise bad(f"{at}.properties is not an object")
            geom = f.get("geometry")
            if not isinstance(geom, dict) or geom.get("type") != "Point":
                got = geom.get("type") if isinstance(geom, dict) else geom
                raise bad(f"{at}.geometry must be a Point, not {got!r}")
            coords = geom.get("coordinates")
            if not isinstance(coords, list) or len(coords) not in (2, 3):
                raise bad(f"{at}.geometry.coordinates={coords!r} is not [lon, lat]")
            sid = f.get("id") if f.get("id") is not None else props.get("id")
            items.append((at, sid, props.get("name"), coords[0], coords[1]))
    elif isinstance(data, list):
        for i, s in enumerate(data):
            at = f"[{i}]"
            if not isinstance(s, dict):
                raise bad(f"item {at}={s!r} is not an object {{id, name, lon, lat}}")
            items.append((at, s.get("id"), s.get("name"), s.get("lon"), s.get("lat")))
    else:
        raise bad(f"holds a JSON {type(data).__name__}; give {shape}")
    if not items:
        raise bad("lists no station")
    out: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    for at, sid, name, lon, lat in items:
        if sid is None:
            raise bad(f"{at} has no id")
        if isinstance(sid, bool) or not isinstance(sid, str | int):
            raise bad(f"{at}.id={sid!r} must be text or an integer")
        sid = check_id(str(sid), name=f"{where}: {at}.id")
        if sid in seen:
            raise bad(f"{at} repeats the id {sid!r} of {seen[sid]}; station ids must be unique")
        seen[sid] = at
        if name is not None:
            name = check_name(name, name=f"{where}: {at}.name")
        for v in (lon, lat):
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise bad(f"{at} needs numbers lon and lat, got lon={lon!r}, lat={lat!r}")
        lon, lat = check_lonlat((lon, lat), name=f"{where}: {at} (lon, lat)")
        out.append({"id": sid, "name": name or "", "lon": lon, "lat": lat})
    return out


@routing_group.command("dispatch")
@_common
@click.option("--incident", required=True, help="LON,LAT or an OSM node id.")
@click.option(
    "--stations",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help=(
        "JSON list of {id, name, lon, lat} or a GeoJSON FeatureCollection (default: the "
        "twin's emergency_stations, or the extract's stations with --osm)."
    ),
)
@click.option("--depart", default=None, help="Departure time, RFC 3339 (default now).")
@_out_option("JSON")
def dispatch_cmd(
    db: str | None,
    osm: Path | None,
    profile: str,
    cache: Path | None,
    incident: str,
    stations: Path | None,
    depart: str | None,
    out: Path | None,
) -> None:
    """Rank the stations by travel time to an incident.

    The stations are the twin's emergency_stations (the extract's with --osm) unless
    --stations gives others. With a twin, the closures in its road_closures collection
    count for a departure inside their window, as they do for the service's dispatch.
    """
    from routing.dispatch import rank_stations

    g = graph_of(source_of(osm, db, cache), profile, cache, closures=True, depart=depart)
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
    callback=_checked("check_limit"),
    help="Seconds of travel, 0 < limit <= 1800 (NFPA 1710: 240).",
)
@click.option(
    "--stations",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help=(
        "JSON list of {id, name, lon, lat} or a GeoJSON FeatureCollection (default: the "
        "twin's emergency_stations, or the extract's stations with --osm)."
    ),
)
@_out_option("GeoJSON")
def isochrone_cmd(
    db: str | None,
    osm: Path | None,
    profile: str,
    cache: Path | None,
    limit_s: float,
    stations: Path | None,
    out: Path | None,
) -> None:
    """Each station's isochrone with and without preemption, and the address coverage.

    The stations are the twin's emergency_stations (the extract's with --osm) unless
    --stations gives others; the coverage counts the twin's address_points (with --osm:
    everything in the extract with a house number). With a twin, the closures in its
    road_closures collection that are active now count, as for the isochrone process.
    """
    from routing.dispatch import coverage, isochrones

    src = source_of(osm, db, cache)
    g = graph_of(src, profile, cache, closures=True)
    st = _stations(stations)
    feats = []
    cover = {}
    points = address_points(src)
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
    default=DEFAULT_OSM,
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
@_out_option("JSON")
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
