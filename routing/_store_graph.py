"""The road graph as layers of the twin, and back.

Three collections hold what every profile's :class:`~routing._build.Net` is made of:

- ``road_nodes``: the graph's junctions (points), with the signal flag and, per
  profile, the signalised junction a node belongs to;
- ``road_edges``: the directed edges (lines from tail to head), with OSM ways, name,
  road class and length, and per profile the free-flow travel time in seconds
  (``car_time_s``, ``emergency_time_s``; empty where the profile may not drive) and the
  router's weight in milliseconds, signal wait included (``car_ms``, ``emergency_ms``);
- ``road_turn_restrictions``: via-node turn restrictions (a point at the via node), with
  the profiles they bind.

A rebuild syncs the layers, so a changed road is a new version of its edge and a vanished
one is retired: the graph is versioned like every other layer, and a graph can be read
as the city was at an instant. :func:`net_from_store` rebuilds a profile's ``Net`` from
the layers, deriving what :func:`~routing._build.build_net` derives (signal clusters
and delays) the same way. Emergency stations come from the ``emergency_stations`` layer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from numpy.typing import NDArray

from routing._build import Net, net_from_parts
from routing._osm import Restriction, Station
from routing.profiles import PROFILES, Profile, get_profile
from twin.errors import NotComputable
from twin.store import (
    BUILD_ACTOR,
    CollectionSpec,
    Feature,
    Field,
    FieldType,
    Query,
    Store,
    SyncReport,
    is_missing,
)
from twin.temporal import Instant

if TYPE_CHECKING:
    import pandas as pd

    from twin.build import BuildContext

__all__ = [
    "COLLECTIONS",
    "ROAD_EDGES",
    "ROAD_NODES",
    "ROAD_TURN_RESTRICTIONS",
    "STATIONS_COLLECTION",
    "WATCHED",
    "build_road_layers",
    "graph_features",
    "net_from_store",
]

log = logging.getLogger(__name__)

_S, _I, _N, _B, _J = (
    FieldType.STRING,
    FieldType.INTEGER,
    FieldType.NUMBER,
    FieldType.BOOLEAN,
    FieldType.JSON,
)
_KEYWORDS = ("road graph", "routing", "OpenStreetMap")
_PROFILE_NAMES = tuple(PROFILES)

#: The layer the router takes its default emergency stations from (the map layers' own).
STATIONS_COLLECTION = "emergency_stations"

ROAD_NODES = CollectionSpec(
    name="road_nodes",
    title="Road graph: junctions",
    description=(
        "The nodes of the routing graph: junctions, dead ends, traffic signals and the via "
        "nodes of turn restrictions; the feature id is the OSM node id. Per profile, the "
        "signalised junction (its representative OSM node id) a node belongs to."
    ),
    geometry_type="Point",
    fields=(
        Field("osm_id", _I, "the OSM node id"),
        Field("signal", _B, "the node is tagged highway=traffic_signals"),
        *(
            Field(f"{p}_junction", _I, f"the signalised junction of the node for the {p} graph")
            for p in _PROFILE_NAMES
        ),
    ),
    keywords=_KEYWORDS,
)

ROAD_EDGES = CollectionSpec(
    name="road_edges",
    title="Road graph: directed edges",
    description=(
        "The directed edges of the routing graph, from junction to junction along the "
        "road; the id is '<from>-<to>' in OSM node ids (with '-<n>' for parallel edges). "
        "Per profile the free-flow travel time in seconds and the router's weight in "
        "milliseconds including the expected signal wait; empty where the profile may "
        "not drive (a one-way street against its direction, a bus lane for cars)."
    ),
    geometry_type="LineString",
    fields=(
        Field("from_node", _I, "OSM id of the node the edge leaves"),
        Field("to_node", _I, "OSM id of the node the edge reaches"),
        Field("way_id", _I, "the first OSM way of the edge"),
        Field("ways", _J, "every OSM way the edge runs along, in order"),
        Field("name", _S, "street name (or ref)"),
        Field("highway", _S, "OSM road class"),
        Field("length_m", _N, "length in metres"),
        *(
            f
            for p in _PROFILE_NAMES
            for f in (
                Field(f"{p}_time_s", _N, f"free-flow travel time of the {p} profile (s)"),
                Field(f"{p}_ms", _I, f"router weight of the {p} profile (ms, signal wait in)"),
                Field(f"{p}_kmh", _N, f"driven speed of the {p} profile (km/h)"),
            )
        ),
    ),
    keywords=_KEYWORDS,
)

ROAD_TURN_RESTRICTIONS = CollectionSpec(
    name="road_turn_restrictions",
    title="Road graph: turn restrictions",
    description=(
        "Via-node turn restrictions from OSM relations (no_* forbids the turn, only_* "
        "allows only it), at the via node; the id is the relation id. The profile columns "
        "say which vehicles the restriction binds (emergency vehicles may be exempt); an "
        "emergency vehicle may still turn against one at an extra time when it saves more."
    ),
    geometry_type="Point",
    fields=(
        Field("relation_id", _I, "the OSM relation id"),
        Field("kind", _S, "no or only"),
        Field("restriction", _S, "the restriction value (no_left_turn, only_straight_on, ...)"),
        Field("from_way", _I, "OSM way the turn comes from"),
        Field("via_node", _I, "OSM node the turn is made at"),
        Field("to_way", _I, "OSM way the turn goes onto"),
        *(Field(p, _B, f"the restriction binds the {p} profile") for p in _PROFILE_NAMES),
    ),
    keywords=_KEYWORDS,
)

COLLECTIONS: tuple[CollectionSpec, ...] = (ROAD_NODES, ROAD_EDGES, ROAD_TURN_RESTRICTIONS)

#: The collections a stored graph is made of; a change to any of them changes the graph.
WATCHED: tuple[str, ...] = (*(c.name for c in COLLECTIONS), STATIONS_COLLECTION)


# -- Net -> features ------------------------------------------------------------------
def _edge_ms(net: Net) -> NDArray[np.int64]:
    ms = np.maximum(1, np.rint((net.time_s + net.signal_delay_s) * 1000.0))
    return ms.astype(np.int64)


def graph_features(nets: Mapping[str, Net]) -> dict[str, list[Feature]]:
    """The features of the three road collections for the nets of several profiles.

    An edge the profiles share (same ends, ways, geometry, name and class) is one feature
    with a travel time per profile.
    """
    nodes: dict[int, dict[str, Any]] = {}
    positions: dict[int, tuple[float, float]] = {}
    edges: dict[tuple[Any, ...], dict[str, Any]] = {}
    restrictions: dict[int, dict[str, Any]] = {}
    for pname, net in nets.items():
        ids = net.osm_ids.tolist()
        junction = np.full(len(ids), -1, dtype=np.int64)  # no signal: no junction
        if len(net.cluster_ids):
            signalled = net.cluster >= 0
            junction[signalled] = net.cluster_ids[net.cluster[signalled]]
        for i, osm in enumerate(ids):
            positions.setdefault(osm, (float(net.lon[i]), float(net.lat[i])))
            props = nodes.setdefault(osm, {"osm_id": osm, "signal": bool(net.signal_nodes[i])})
            if junction[i] >= 0:
                props[f"{pname}_junction"] = int(junction[i])
        ms = _edge_ms(net)
        for e in range(net.edge_count):
            u, v = ids[net.tail[e]], ids[net.head[e]]
            coords = net.edge_coords(e)
            key = (
                u,
                v,
                net.ways[e],
                float(net.length_m[e]),
                coords.tobytes(),
                net.names[e],
                net.highways[e],
            )
            rec = edges.get(key)
            if rec is None:
                rec = edges[key] = {
                    "coords": coords,
                    "props": {
                        "from_node": u,
                        "to_node": v,
                        "way_id": net.ways[e][0],
                        "ways": list(net.ways[e]),
                        "name": net.names[e] or None,
                        "highway": net.highways[e],
                        "length_m": float(net.length_m[e]),
                    },
                }
            t = float(net.time_s[e])
            rec["props"][f"{pname}_time_s"] = t
            rec["props"][f"{pname}_ms"] = int(ms[e])
            rec["props"][f"{pname}_kmh"] = round(float(net.length_m[e]) / t * 3.6, 2) if t else None
        for r in net.restrictions:
            rp = restrictions.setdefault(
                r.relation_id,
                {
                    "relation_id": r.relation_id,
                    "kind": r.kind,
                    "restriction": r.value,
                    "from_way": r.from_way,
                    "via_node": r.via_node,
                    "to_way": r.to_way,
                    **{p: False for p in _PROFILE_NAMES},
                },
            )
            rp[pname] = True

    node_feats = [
        Feature(str(osm), shapely.Point(positions[osm]), props)
        for osm, props in sorted(nodes.items())
    ]
    edge_feats: list[Feature] = []
    by_pair: dict[tuple[int, int], list[tuple[Any, ...]]] = {}
    for key in edges:
        by_pair.setdefault((key[0], key[1]), []).append(key)
    for (u, v), keys in sorted(by_pair.items()):
        for n, key in enumerate(sorted(keys, key=lambda k: (k[2], k[3], k[4]))):
            rec = edges[key]
            fid = f"{u}-{v}" if n == 0 else f"{u}-{v}-{n + 1}"
            edge_feats.append(Feature(fid, shapely.LineString(rec["coords"]), rec["props"]))
    restriction_feats = [
        Feature(
            str(rid),
            shapely.Point(positions[rp["via_node"]]) if rp["via_node"] in positions else None,
            rp,
        )
        for rid, rp in sorted(restrictions.items())
    ]
    return {
        ROAD_NODES.name: node_feats,
        ROAD_EDGES.name: edge_feats,
        ROAD_TURN_RESTRICTIONS.name: restriction_feats,
    }


def build_road_layers(ctx: BuildContext, *, profiles: Sequence[str] = _PROFILE_NAMES) -> None:
    """The build step: every profile's graph from ``ctx.osm_path`` into the road layers.

    The layers are synced at ``ctx.valid_from``: new edges are created, changed ones get a
    new version, vanished ones are retired. ``ctx.report`` gets a
    :class:`~twin.store.SyncReport` per collection.
    """
    from routing._build import build_net
    from twin.temporal import now

    t0 = time.perf_counter()
    nets = {p: build_net(ctx.osm_path, get_profile(p)) for p in profiles}
    t1 = time.perf_counter()
    feats = graph_features(nets)
    if ctx.valid_from is None:
        ctx.valid_from = now()
    for spec in COLLECTIONS:
        ctx.store.ensure_collection(spec)
    reports: dict[str, SyncReport] = {}
    with ctx.store.transaction(actor=BUILD_ACTOR, recorded_at=None) as tx:
        for spec in COLLECTIONS:
            reports[spec.name] = tx.sync(spec.name, feats[spec.name], valid_from=ctx.valid_from)
    ctx.report.update(reports)
    log.info(
        "road graph layers: %s in %.1f s (graphs %.1f s, layers %.1f s)",
        ", ".join(f"{k} {len(v)}" for k, v in feats.items()),
        time.perf_counter() - t0,
        t1 - t0,
        time.perf_counter() - t1,
    )


# -- store -> Net ---------------------------------------------------------------------
def _frame(store: Store, name: str, at: datetime | None) -> pd.DataFrame:
    return store.read_frame(name, Query(time=None if at is None else Instant(at)))


def _int_array(values: Any) -> NDArray[np.int64]:
    return np.asarray([int(v) for v in values], dtype=np.int64)


def net_from_store(
    store: Store, profile: str | Profile = "car", *, at: datetime | None = None
) -> Net:
    """Rebuild a profile's :class:`~routing._build.Net` from the road layers.

    Parameters
    ----------
    store
        A twin holding ``road_nodes``, ``road_edges`` (and ``road_turn_restrictions``).
    profile
        ``"car"`` or ``"emergency"``.
    at
        Read the graph as the city was at this instant (``None``: now).

    Raises
    ------
    NotComputable
        The twin holds no road graph, or none the profile may drive on (422).
    """
    prof = get_profile(profile)
    t0 = time.perf_counter()
    have = {c.name for c in store.collections()}
    if ROAD_EDGES.name not in have or ROAD_NODES.name not in have:
        msg = (
            f"the twin at {store.url!r} holds no road graph (collections road_nodes and "
            "road_edges); run `twin build` on an OSM extract first"
        )
        raise NotComputable(msg)
    edges = _frame(store, ROAD_EDGES.name, at)
    col = f"{prof.name}_time_s"
    if col not in edges.columns:
        msg = f"the road graph of the twin has no travel times for profile={prof.name!r}"
        raise NotComputable(msg)
    edges = edges[edges[col].notna()]
    if edges.empty:
        when = "" if at is None else f" at {at.isoformat()}"
        msg = f"the twin holds no road a {prof.name!r} vehicle may drive{when}"
        raise NotComputable(msg)
    frm = _int_array(edges["from_node"])
    to = _int_array(edges["to_node"])
    osm_ids = np.unique(np.concatenate([frm, to]))
    tail_all = np.searchsorted(osm_ids, frm)
    head_all = np.searchsorted(osm_ids, to)
    fids = edges["id"].astype(str).to_numpy()
    order = np.lexsort((fids, head_all, tail_all))

    nodes = _frame(store, ROAD_NODES.name, at)
    node_ids = _int_array(nodes["osm_id"])
    if not len(node_ids):
        msg = "road_nodes is empty while road_edges holds edges; rebuild the twin"
        raise NotComputable(msg)
    sort_nodes = np.argsort(node_ids, kind="stable")
    node_ids = node_ids[sort_nodes]
    pos = np.searchsorted(node_ids, osm_ids)
    found = (pos < len(node_ids)) & (node_ids[np.minimum(pos, len(node_ids) - 1)] == osm_ids)
    if not found.all():
        missing = osm_ids[~found][:5].tolist()
        msg = f"road_edges name the nodes {missing} that road_nodes does not hold"
        raise NotComputable(msg)
    rows = sort_nodes[pos]
    geoms = nodes.geometry.to_numpy()[rows]
    lon = shapely.get_x(geoms).astype(np.float64)
    lat = shapely.get_y(geoms).astype(np.float64)
    signal = nodes["signal"].to_numpy()[rows]
    signal_nodes = np.asarray([bool(s) if s == s and s is not None else False for s in signal])

    lines = edges.geometry.to_numpy()[order]
    coords, which = shapely.get_coordinates(lines, return_index=True)
    offsets = np.zeros(len(lines) + 1, dtype=np.int64)
    np.cumsum(np.bincount(which, minlength=len(lines)), out=offsets[1:])
    names = [n if isinstance(n, str) else "" for n in edges["name"].to_numpy()[order]]
    net = net_from_parts(
        prof,
        osm_ids=osm_ids,
        lon=lon,
        lat=lat,
        signal_nodes=signal_nodes.astype(np.bool_),
        tail=tail_all[order].astype(np.int32),
        head=head_all[order].astype(np.int32),
        length_m=edges["length_m"].to_numpy(dtype=np.float64)[order],
        time_s=edges[col].to_numpy(dtype=np.float64)[order],
        names=names,
        highways=[str(h) for h in edges["highway"].to_numpy()[order]],
        ways=[tuple(int(w) for w in ws) for ws in edges["ways"].to_numpy()[order]],
        coords=np.ascontiguousarray(coords, dtype=np.float64),
        offsets=offsets,
        restrictions=_restrictions(store, prof, at, have),
        stations=_stations(store, at, have),
    )
    net.build_s = {"read_store_s": time.perf_counter() - t0}
    return net


def _restrictions(
    store: Store, prof: Profile, at: datetime | None, have: set[str]
) -> list[Restriction]:
    if ROAD_TURN_RESTRICTIONS.name not in have:
        return []
    df = _frame(store, ROAD_TURN_RESTRICTIONS.name, at)
    if df.empty or prof.name not in df.columns:
        return []
    df = df[df[prof.name].fillna(False).astype(bool)]
    out, skipped = [], []
    for r in df.itertuples(index=False):
        rule = _restriction(r)
        if rule is None:
            skipped.append(str(r.id))
        else:
            out.append(rule)
    if skipped:
        log.warning(
            "road_turn_restrictions %s cannot be used (a way or node missing, or a restriction "
            "that is neither no_* nor only_*); routing ignores them",
            skipped[:10],
        )
    return sorted(out, key=lambda r: r.relation_id)


def _restriction(r: Any) -> Restriction | None:
    """The rule of one stored restriction, or None when it lacks a part the router needs.

    ``kind`` follows the value's prefix when it is not ``no`` or ``only`` (an edit may have
    removed it); a value that names neither is not a rule.
    """
    value = r.restriction if isinstance(r.restriction, str) else ""
    kind = r.kind if r.kind in ("no", "only") else value.partition("_")[0]
    parts = (r.relation_id, r.from_way, r.via_node, r.to_way)
    if kind not in ("no", "only") or any(is_missing(p) for p in parts):
        return None
    return Restriction(
        int(r.relation_id), kind, value, int(r.from_way), int(r.via_node), int(r.to_way)
    )


def _stations(store: Store, at: datetime | None, have: set[str]) -> list[Station]:
    if STATIONS_COLLECTION not in have:
        return []
    df = _frame(store, STATIONS_COLLECTION, at)
    out: list[Station] = []
    for fid, osm_id, name, kind, geom in zip(
        df["id"],
        df["osm_id"] if "osm_id" in df.columns else df["id"],
        df["name"] if "name" in df.columns else [None] * len(df),
        df["amenity"] if "amenity" in df.columns else [None] * len(df),
        df.geometry,
        strict=True,
    ):
        if geom is None or geom.is_empty:
            continue
        pt = geom if geom.geom_type == "Point" else geom.representative_point()
        out.append(
            Station(
                str(osm_id) if isinstance(osm_id, str) and osm_id else str(fid),
                name if isinstance(name, str) else "",
                kind if isinstance(kind, str) else "station",
                float(pt.x),
                float(pt.y),
            )
        )
    return sorted(out, key=lambda s: s.osm_id)
