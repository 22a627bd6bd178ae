"""From an OSM extract to the arrays of the road graph, through osmnx.

osmnx builds the directed graph from the XML that :mod:`routing._osm` writes; it is
simplified to junctions, keeping signals and the via nodes of turn restrictions as nodes.
The result is flattened into numpy arrays (:class:`Net`): nodes, directed edges with
their geometry, travel times, signal delays, and the signalised junction clusters.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from routing._osm import Restriction, RoadData, Station, read_road_data
from routing.profiles import Profile

__all__ = ["SIGNAL_CLUSTER_M", "Net", "build_net", "net_from_parts"]

log = logging.getLogger(__name__)

#: Signals and junction nodes closer than this (metres, along an edge) form one junction.
SIGNAL_CLUSTER_M = 25.0


@dataclass
class Net:
    """The road graph as arrays; edge ``i`` runs from ``tail[i]`` to ``head[i]``."""

    profile: Profile
    osm_ids: NDArray[np.int64]
    lon: NDArray[np.float64]
    lat: NDArray[np.float64]
    tail: NDArray[np.int32]
    head: NDArray[np.int32]
    length_m: NDArray[np.float64]
    time_s: NDArray[np.float64]
    signal_delay_s: NDArray[np.float64]
    names: list[str]
    highways: list[str]
    ways: list[tuple[int, ...]]
    coords: NDArray[np.float64]
    offsets: NDArray[np.int64]
    cluster: NDArray[np.int32]
    cluster_ids: NDArray[np.int64]
    signal_nodes: NDArray[np.bool_]
    restrictions: list[Restriction] = field(default_factory=list)
    unsupported_restrictions: int = 0
    stations: list[Station] = field(default_factory=list)
    build_s: dict[str, float] = field(default_factory=dict)

    @property
    def node_count(self) -> int:
        return len(self.osm_ids)

    @property
    def edge_count(self) -> int:
        return len(self.tail)

    def edge_coords(self, e: int) -> NDArray[np.float64]:
        """The (lon, lat) vertices of edge ``e`` from tail to head."""
        return self.coords[self.offsets[e] : self.offsets[e + 1]]


@contextmanager
def _osmnx_tags() -> Iterator[Any]:
    """osmnx with the tags we write, its settings restored afterwards."""
    import osmnx as ox

    saved = (ox.settings.useful_tags_way, ox.settings.useful_tags_node, ox.settings.log_console)
    ox.settings.useful_tags_way = [
        "highway",
        "name",
        "ref",
        "lanes",
        "maxspeed",
        "junction",
        "oneway",
        "tw_speed",
    ]
    ox.settings.useful_tags_node = []
    try:
        yield ox
    finally:
        ox.settings.useful_tags_way, ox.settings.useful_tags_node, ox.settings.log_console = saved


def _first(value: Any, default: str = "") -> str:
    if isinstance(value, list):
        value = next((v for v in value if v), default)
    return default if value is None or value != value else str(value)


def _ways(value: Any) -> tuple[int, ...]:
    if isinstance(value, list):
        return tuple(int(v) for v in value)
    return (int(value),)


def _unique_in_order(values: list[Any]) -> Any:
    """The distinct values along a merged edge, in driving order (one value: itself).

    osmnx keeps a ``set`` of them, whose order changes from one process to the next; this
    keeps a rebuild of the same extract identical, so the stored graph is not re-versioned.
    """
    out = list(dict.fromkeys(values))
    return out[0] if len(out) == 1 else out


_IN_PATH_ORDER = {"name": _unique_in_order, "ref": _unique_in_order, "highway": _unique_in_order}


def build_net(path: str | Path, profile: Profile) -> Net:
    """Build the :class:`Net` of an OSM extract for a profile."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="twin-roads-") as tmp:
        data = read_road_data(path, profile, workdir=Path(tmp))
        timings["read_osm_s"] = time.perf_counter() - t0
        if data.way_count == 0:
            from twin.errors import OSMFileError

            msg = f"osm={str(path)!r} holds no road a {profile.name!r} vehicle may drive"
            raise OSMFileError(msg)
        with _osmnx_tags() as ox:
            graph = ox.graph_from_xml(data.xml, simplify=False, retain_all=True)
    timings["osmnx_graph_s"] = time.perf_counter() - t0 - timings["read_osm_s"]

    t1 = time.perf_counter()
    merged = _merge_coincident(graph, data)
    if merged:
        log.info("merged %d road nodes lying on another node of the same road", merged)
    for _u, _v, d in graph.edges(data=True):
        d["travel_time"] = d["length"] / (float(d.get("tw_speed", 25.0)) / 3.6)
    keep = {n: True for n in data.signals if n in graph}
    keep.update({r.via_node: True for r in data.restrictions if r.via_node in graph})
    for n in keep:
        graph.nodes[n]["tw_keep"] = True
    with _osmnx_tags() as ox:
        graph = ox.simplify_graph(
            graph,
            node_attrs_include=["tw_keep"],
            remove_rings=False,
            edge_attr_aggs={"length": sum, "travel_time": sum, **_IN_PATH_ORDER},
        )
    timings["simplify_s"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    if graph.number_of_edges() == 0:
        from twin.errors import OSMFileError

        msg = f"osm={str(path)!r} holds no road a {profile.name!r} vehicle may drive"
        raise OSMFileError(msg)
    net = _flatten(graph, data.signals, profile)
    net.restrictions = data.restrictions
    net.unsupported_restrictions = data.unsupported_restrictions
    net.stations = data.stations
    timings["arrays_s"] = time.perf_counter() - t2
    net.build_s = timings
    log.info(
        "road graph (%s): %d nodes, %d edges, %d signal junctions in %.1f s",
        profile.name,
        net.node_count,
        net.edge_count,
        len(net.cluster_ids),
        time.perf_counter() - t0,
    )
    return net


def _merge_coincident(graph: Any, data: RoadData) -> int:
    """Merge the nodes a road joins at one position into one node (the lowest OSM id).

    OSM has duplicate nodes: two nodes at the same coordinates, both on a way. The road
    between them has no length and no drawable line, so its edge would be a line of two
    equal points, which no store accepts. The merged node keeps a signal of either, and
    turn restrictions at a merged node move to the one kept. Returns how many were merged.
    """
    import dataclasses

    import networkx as nx

    xy = graph.nodes
    pairs = [
        (u, v)
        for u, v in graph.edges()
        if u != v and xy[u]["x"] == xy[v]["x"] and xy[u]["y"] == xy[v]["y"]
    ]
    if not pairs:
        return 0
    parent: dict[int, int] = {}

    def root(n: int) -> int:
        while parent.get(n, n) != n:
            n = parent[n]
        return n

    for u, v in pairs:
        a, b = root(u), root(v)
        if a != b:
            parent[max(a, b)] = min(a, b)
    kept = {drop: root(drop) for drop in parent}
    for drop, keep in sorted(kept.items()):
        nx.contracted_nodes(graph, keep, drop, self_loops=False, copy=False)
        graph.nodes[keep].pop("contraction", None)
        if drop in data.signals:
            data.signals.setdefault(keep, data.signals.pop(drop))
    data.restrictions = [
        dataclasses.replace(r, via_node=kept[r.via_node]) if r.via_node in kept else r
        for r in data.restrictions
    ]
    return len(kept)


def _flatten(graph: Any, signals: dict[int, tuple[float, float]], profile: Profile) -> Net:
    nodes = list(graph.nodes)
    index = {n: i for i, n in enumerate(nodes)}
    osm_ids = np.asarray(nodes, dtype=np.int64)
    lon = np.asarray([graph.nodes[n]["x"] for n in nodes], dtype=np.float64)
    lat = np.asarray([graph.nodes[n]["y"] for n in nodes], dtype=np.float64)
    tails: list[int] = []
    heads: list[int] = []
    lengths: list[float] = []
    times: list[float] = []
    names: list[str] = []
    highways: list[str] = []
    ways: list[tuple[int, ...]] = []
    pieces: list[NDArray[np.float64]] = []
    for u, v, d in graph.edges(data=True):
        iu, iv = index[u], index[v]
        tails.append(iu)
        heads.append(iv)
        lengths.append(float(d["length"]))
        times.append(float(d["travel_time"]))
        names.append(_first(d.get("name")) or _first(d.get("ref")))
        highways.append(_first(d.get("highway"), "road"))
        ways.append(_ways(d["osmid"]))
        geom = d.get("geometry")
        if geom is None:
            pieces.append(np.array([[lon[iu], lat[iu]], [lon[iv], lat[iv]]]))
        else:
            pieces.append(np.asarray(geom.coords, dtype=np.float64)[:, :2])
    sizes = np.fromiter((len(p) for p in pieces), dtype=np.int64, count=len(pieces))
    offsets = np.zeros(len(pieces) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    coords = np.concatenate(pieces) if pieces else np.zeros((0, 2))
    tail = np.asarray(tails, dtype=np.int32)
    head = np.asarray(heads, dtype=np.int32)
    length_m = np.asarray(lengths, dtype=np.float64)

    signal_nodes = np.zeros(len(nodes), dtype=np.bool_)
    for n in signals:
        if n in index:
            signal_nodes[index[n]] = True
    return net_from_parts(
        profile,
        osm_ids=osm_ids,
        lon=lon,
        lat=lat,
        signal_nodes=signal_nodes,
        tail=tail,
        head=head,
        length_m=length_m,
        time_s=np.asarray(times, dtype=np.float64),
        names=names,
        highways=highways,
        ways=ways,
        coords=coords,
        offsets=offsets,
    )


def _signal_clusters(
    tail: NDArray[np.int32],
    head: NDArray[np.int32],
    length_m: NDArray[np.float64],
    signal_nodes: NDArray[np.bool_],
    osm_ids: NDArray[np.int64],
) -> tuple[NDArray[np.int32], NDArray[np.int64]]:
    """Group signals with the junction nodes around them into signalised junctions.

    Two nodes join when an edge shorter than :data:`SIGNAL_CLUSTER_M` links them and one
    of them is a signal. A junction's id is the OSM id of its best-connected node.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(osm_ids)
    short = (length_m <= SIGNAL_CLUSTER_M) & (signal_nodes[tail] | signal_nodes[head])
    adj = coo_matrix((np.ones(int(short.sum())), (tail[short], head[short])), shape=(n, n)).tocsr()
    _, labels = connected_components(adj, directed=False)
    has_signal = np.zeros(labels.max() + 1 if n else 0, dtype=np.bool_)
    has_signal[labels[signal_nodes]] = True
    member = has_signal[labels] if n else np.zeros(0, dtype=np.bool_)
    degree = np.bincount(tail, minlength=n) + np.bincount(head, minlength=n)
    cluster = np.full(n, -1, dtype=np.int32)
    reps: list[int] = []
    remap: dict[int, int] = {}
    order = np.lexsort((osm_ids, -degree))
    for i in order[member[order]]:
        lab = int(labels[i])
        if lab not in remap:
            remap[lab] = len(reps)
            reps.append(int(osm_ids[i]))
        cluster[i] = remap[lab]
    return cluster, np.asarray(reps, dtype=np.int64)


def net_from_parts(
    profile: Profile,
    *,
    osm_ids: NDArray[np.int64],
    lon: NDArray[np.float64],
    lat: NDArray[np.float64],
    signal_nodes: NDArray[np.bool_],
    tail: NDArray[np.int32],
    head: NDArray[np.int32],
    length_m: NDArray[np.float64],
    time_s: NDArray[np.float64],
    names: list[str],
    highways: list[str],
    ways: list[tuple[int, ...]],
    coords: NDArray[np.float64],
    offsets: NDArray[np.int64],
    restrictions: list[Restriction] | None = None,
    stations: list[Station] | None = None,
) -> Net:
    """A :class:`Net` from its stored parts; what derives from them is derived as in
    :func:`build_net` (signalised junctions and the signal delays entering them)."""
    cluster, cluster_ids = _signal_clusters(tail, head, length_m, signal_nodes, osm_ids)
    entering = (cluster[head] >= 0) & (cluster[tail] != cluster[head])
    delay = np.where(entering, profile.signal_delay_s, 0.0)
    return Net(
        profile=profile,
        osm_ids=osm_ids,
        lon=lon,
        lat=lat,
        tail=tail,
        head=head,
        length_m=length_m,
        time_s=time_s,
        signal_delay_s=delay,
        names=names,
        highways=highways,
        ways=ways,
        coords=coords,
        offsets=offsets,
        cluster=cluster,
        cluster_ids=cluster_ids,
        signal_nodes=signal_nodes,
        restrictions=list(restrictions or ()),
        stations=list(stations or ()),
    )
