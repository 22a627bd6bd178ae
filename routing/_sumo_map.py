"""Map the twin's plan onto a SUMO network: signals, routes, crossings, background trips.

- :func:`map_signals` finds the SUMO traffic light of each signalised junction of the
  road graph, by the OSM node ids in the traffic light's junction ids, else by position.
- :func:`corridor_route` follows a planned route on the SUMO network: a shortest path
  over SUMO's own connections in which edges away from the planned line cost much more.
- :func:`crossings` lists the traffic-light crossings of a SUMO route and
  :func:`match_windows` pairs them with the plan's signal windows.
- :func:`write_background_trips` writes seeded random trips for the background traffic.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import quoteattr

import numpy as np
import shapely

if TYPE_CHECKING:
    from routing._sumo_net import SumoNet
    from routing.graph import RoadGraph
    from routing.greenwave import GreenWavePlan
    from routing.route import Route

__all__ = [
    "Crossing",
    "SignalMap",
    "corridor_route",
    "crossings",
    "map_signals",
    "match_windows",
    "write_background_trips",
]

log = logging.getLogger(__name__)

#: A planned signal and a SUMO traffic light this close (metres) are the same junction.
MATCH_RADIUS_M = 40.0
#: Edges whose shape strays farther than this (metres) from the planned line are off it.
CORRIDOR_M = 15.0
_OFF_CORRIDOR_COST = 25.0


@dataclass(frozen=True)
class SignalMap:
    """Signalised junctions of the road graph and the SUMO traffic lights they map to."""

    by_id: dict[int, str]
    by_position: dict[int, str]
    unmapped: list[int]

    @property
    def total(self) -> int:
        return len(self.by_id) + len(self.by_position) + len(self.unmapped)

    def tls(self, junction_id: int) -> str | None:
        """The traffic light of a junction, or ``None``."""
        return self.by_id.get(junction_id) or self.by_position.get(junction_id)

    def to_dict(self) -> dict[str, Any]:
        """Counts and the unmapped junctions, for the report."""
        return {
            "plan_signals": self.total,
            "mapped_by_id": len(self.by_id),
            "mapped_by_position": len(self.by_position),
            "unmapped": sorted(self.unmapped),
        }


def map_signals(graph: RoadGraph, net: SumoNet) -> SignalMap:
    """Map every signalised junction of ``graph`` onto a SUMO traffic light."""
    token_tls: dict[int, str] = {}
    for junction, tls in net.junction_tls.items():
        for tok in net.junction_tokens(junction) + net.junction_tokens(tls):
            token_tls.setdefault(tok, tls)
    tls_junctions = sorted(net.junction_tls)
    xy = np.array([net.junction_xy[j] for j in tls_junctions]).reshape(-1, 2)
    by_id: dict[int, str] = {}
    by_pos: dict[int, str] = {}
    unmapped: list[int] = []
    sig = graph.signals()
    pos = net.to_xy(np.array([s["lon"] for s in sig]), np.array([s["lat"] for s in sig]))
    for s, p in zip(sig, pos, strict=True):
        jid = int(s["junction_id"])
        hit = next((token_tls[n] for n in s["node_ids"] if n in token_tls), None)
        if hit is not None:
            by_id[jid] = hit
            continue
        if len(xy):
            d = np.hypot(*(xy - p).T)
            k = int(np.argmin(d))
            if d[k] <= MATCH_RADIUS_M:
                by_pos[jid] = net.junction_tls[tls_junctions[k]]
                continue
        unmapped.append(jid)
    return SignalMap(by_id, by_pos, unmapped)


def _edge_spread(net: SumoNet, line: shapely.LineString) -> np.ndarray:
    """Per edge, the largest distance (metres) of its shape's vertices from ``line``."""
    lo = np.asarray(line.bounds[:2]) - 200.0
    hi = np.asarray(line.bounds[2:]) + 200.0
    v = net.verts
    near = np.all((v >= lo) & (v <= hi), axis=1)
    d = np.full(len(v), np.inf)
    if near.any():
        d[near] = shapely.distance(shapely.points(v[near]), line)
    starts = net.offsets[:-1]
    out = np.maximum.reduceat(d, starts) if len(d) else np.zeros(0)
    out[net.offsets[1:] == starts] = np.inf
    return out


def corridor_route(net: SumoNet, route: Route) -> list[str] | None:
    """SUMO edges following ``route`` from its first node to its last, or ``None``.

    The route's first and last nodes must be SUMO junctions (plain OSM node ids).
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    if len(route.node_ids) < 2:
        return None
    o, d = str(route.node_ids[0]), str(route.node_ids[-1])
    coords = np.asarray(route.geometry.coords)
    line = shapely.LineString(net.to_xy(coords[:, 0], coords[:, 1]))
    spread = _edge_spread(net, line)
    cost = net.length_m / net.speed_ms
    cost = np.where(spread <= CORRIDOR_M, cost, cost * _OFF_CORRIDOR_COST) + 0.01
    cost = np.where(net.ev_ok, cost, np.inf)
    a, b = net.arcs[:, 0], net.arcs[:, 1]
    ok = np.isfinite(cost[b])
    n = net.edge_count
    g = csr_matrix((cost[b][ok], (a[ok], b[ok])), shape=(n, n))
    sources = [i for i, j in enumerate(net.from_j) if j == o and net.ev_ok[i]]
    targets = [i for i, j in enumerate(net.to_j) if j == d and net.ev_ok[i]]
    if not sources or not targets:
        return None
    dist, pred, _ = dijkstra(
        g, directed=True, indices=sources, min_only=True, return_predecessors=True
    )
    dist = dist + np.where(np.isin(np.arange(n), sources), cost, 0.0)
    t = min(targets, key=lambda i: dist[i])
    if not np.isfinite(dist[t]):
        return None
    path = [t]
    while pred[path[-1]] >= 0:
        path.append(int(pred[path[-1]]))
    return [net.edge_ids[i] for i in reversed(path)]


@dataclass(frozen=True)
class Crossing:
    """A traffic light a SUMO route passes: where, and which links serve it.

    ``step`` is the index in the route of the approach edge (``last_step`` of the last
    one, when the light controls several junctions passed in a row); ``approach`` the
    link indices of every lane of those approach edges; ``movement`` those of the move.
    ``stop_m`` is the distance along the route from its start to the stop line and
    ``approach_m`` the length of the approach edge (where a queue can wait).
    """

    tls: str
    step: int
    approach: tuple[int, ...]
    movement: tuple[int, ...]
    xy: tuple[float, float]
    last_step: int
    stop_m: float = 0.0
    approach_m: float = 0.0


def crossings(net: SumoNet, edges: list[str]) -> list[Crossing]:
    """The traffic-light crossings along a route of SUMO edges, in order."""
    out: list[Crossing] = []
    idx = [net.index[e] for e in edges]
    cum = np.cumsum(net.length_m[idx]) if idx else np.zeros(0)
    for k in range(len(idx) - 1):
        ctl = net.links.get((idx[k], idx[k + 1]))
        if not ctl:
            continue
        tls = ctl[0][0]
        move = tuple(sorted({li for t, li in ctl if t == tls}))
        appr = tuple(
            sorted({*net.approach.get((tls, idx[k]), list(move)), *_inner(net, tls, idx[k])})
        )
        xy = net.junction_xy.get(net.to_j[idx[k]], (0.0, 0.0))
        if out and out[-1].tls == tls and out[-1].last_step == k - 1:
            # One controller over a joined intersection: the same hold covers both links.
            prev = out[-1]
            out[-1] = Crossing(
                tls,
                prev.step,
                tuple(sorted({*prev.approach, *appr})),
                tuple(sorted({*prev.movement, *move})),
                prev.xy,
                k,
                prev.stop_m,
                prev.approach_m,
            )
            continue
        out.append(Crossing(tls, k, appr, move, xy, k, float(cum[k]), float(net.length_m[idx[k]])))
    return out


def _inner(net: SumoNet, tls: str, edge: int) -> set[int]:
    """Links of ``tls`` downstream of ``edge`` inside the intersection it controls.

    A controller over a joined intersection also controls the short edges between its
    junctions: a vehicle that entered from the held approach and turns there must find
    green, or it stops inside the intersection and blocks the approach behind it.
    """
    out: set[int] = set()
    todo = [edge]
    seen = {edge}
    while todo:
        e = todo.pop()
        for nxt, t, li in net.next_links.get(e, ()):
            if t != tls:
                continue
            if e != edge:
                out.add(li)
            if nxt not in seen and net.junction_tls.get(net.to_j[nxt]) == tls:
                seen.add(nxt)
                todo.append(nxt)
    return out


def match_windows(
    net: SumoNet, plan: GreenWavePlan, crossed: list[Crossing], signals: SignalMap
) -> dict[float, int]:
    """Pair plan windows (by route time) with crossings (by index), in route order.

    A window pairs with the next crossing whose traffic light its junction maps to, or
    failing that the next crossing within :data:`MATCH_RADIUS_M` of it.
    """
    out: dict[float, int] = {}
    if not plan.signals:
        return out
    pos = net.to_xy(
        np.array([s.lon for s in plan.signals]), np.array([s.lat for s in plan.signals])
    )
    nxt = 0
    for w, p in zip(plan.signals, pos, strict=True):
        want = signals.tls(w.junction_id)
        pick = next((k for k in range(nxt, len(crossed)) if crossed[k].tls == want), None)
        if pick is None:
            pick = next(
                (
                    k
                    for k in range(nxt, len(crossed))
                    if np.hypot(crossed[k].xy[0] - p[0], crossed[k].xy[1] - p[1]) <= MATCH_RADIUS_M
                ),
                None,
            )
        if pick is not None:
            out[w.route_time_s] = pick
            nxt = pick + 1
    return out


def write_background_trips(
    net: SumoNet,
    path: Path,
    *,
    seed: int,
    begin_s: float,
    end_s: float,
    per_km_h: float = 0.0,
    lane_flow_vph: float | None = None,
    min_distance_m: float = 300.0,
) -> dict[str, float]:
    """Write seeded random car trips; SUMO routes them when they depart.

    Origins and destinations are drawn with probability proportional to lane length.
    The number of trips is set by one of two measures of the load:

    - ``lane_flow_vph``: the mean flow per lane (vehicles per hour) the trips put on
      the network, the vehicle-kilometres they drive per hour over its lane-kilometres.
      It is a share of a lane's capacity (about 1,800 vehicles per hour, half that
      through a signal), so one value loads a small and a large network alike;
    - else ``per_km_h`` trips start per hour per kilometre of road (trips are longer on
      a larger network, so the same value loads it more).

    Returns
    -------
    dict
        ``trips`` written, ``trips_per_h``, the sampled ``mean_trip_km`` (shortest
        routes), the network's ``lane_km`` and the resulting ``lane_flow_vph``.
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components, dijkstra

    rng = np.random.default_rng(seed)
    n = net.edge_count
    a, b = net.arcs[:, 0], net.arcs[:, 1]
    ok = net.car_ok[a] & net.car_ok[b]
    g = csr_matrix((np.ones(int(ok.sum())), (a[ok], b[ok])), shape=(n, n))
    _, comp = connected_components(g, directed=True, connection="strong")
    # Only edges of the largest strongly connected part: every trip has a route.
    main = np.bincount(comp[net.car_ok]).argmax() if net.car_ok.any() else -1
    usable = np.flatnonzero(net.car_ok & (net.length_m > 10.0) & (comp == main))
    w = net.length_m[usable] * net.lanes[usable]
    p = w / w.sum()
    lane_km = float(w.sum() / 1000.0)
    mid = net.verts[(net.offsets[:-1] + net.offsets[1:]) // 2]
    # The mean length of a trip: shortest routes of a seeded sample of pairs.
    sample = np.random.default_rng(seed + 1)
    s_src = sample.choice(usable, size=64, p=p)
    s_dst = sample.choice(usable, size=64, p=p)
    keep = np.hypot(*(mid[s_src] - mid[s_dst]).T) >= min_distance_m
    lg = csr_matrix((net.length_m[b[ok]], (a[ok], b[ok])), shape=(n, n))
    dist = dijkstra(lg, directed=True, indices=np.unique(s_src[keep]))
    row = {int(v): i for i, v in enumerate(np.unique(s_src[keep]))}
    legs = [
        float(dist[row[int(x)], int(y)] + net.length_m[x])
        for x, y in zip(s_src[keep], s_dst[keep], strict=True)
        if np.isfinite(dist[row[int(x)], int(y)])
    ]
    trip_km = float(np.mean(legs)) / 1000.0 if legs else 1.0
    share_far = float(keep.mean()) if len(keep) else 1.0
    hours = (end_s - begin_s) / 3600.0
    if lane_flow_vph is not None:
        per_h = lane_flow_vph * lane_km / trip_km
    else:
        per_h = per_km_h * float(net.length_m[usable].sum()) / 1000.0 * share_far
    # Draw enough pairs that, after dropping the short ones, ``per_h`` trips remain.
    count = round(per_h * hours / max(share_far, 1e-3))
    departs = np.sort(rng.uniform(begin_s, end_s, count))
    src = rng.choice(usable, size=count, p=p)
    dst = rng.choice(usable, size=count, p=p)
    far = np.hypot(*(mid[src] - mid[dst]).T) >= min_distance_m
    lines = [
        '<routes>\n  <vType id="car" vClass="passenger"/>\n',
    ]
    n = 0
    for t, a, b, ok in zip(departs, src, dst, far, strict=True):
        if not ok:
            continue
        lines.append(
            f'  <trip id="bg{n}" type="car" depart="{t:.1f}" from={quoteattr(net.edge_ids[a])}'
            f' to={quoteattr(net.edge_ids[b])} departLane="best" departSpeed="max"/>\n'
        )
        n += 1
    lines.append("</routes>\n")
    path.write_text("".join(lines))
    rate = n / hours if hours > 0 else 0.0
    return {
        "trips": n,
        "trips_per_h": round(rate, 1),
        "mean_trip_km": round(trip_km, 3),
        "lane_km": round(lane_km, 2),
        "lane_flow_vph": round(rate * trip_km / max(lane_km, 1e-9), 1),
    }
