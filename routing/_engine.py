"""The routing engine: an edge-based (turn-expanded) graph and a CCH over it.

Each directed edge of the road graph is a node of the routing graph; an arc ``e -> f``
is a turn from edge ``e`` onto edge ``f`` at their shared junction and costs ``f``'s
travel time plus the turn's own time. U-turns are banned except at dead ends, where
turning round takes the profile's ``uturn_s``. Turn restrictions (``no_*`` and
``only_*`` via a node) remove the turns they forbid, or, for a profile with a
``restricted_turn_s`` (the emergency vehicle), keep them at that extra time. With
``turn_rules=False`` every turn is kept at no cost of its own, which gives the same
costs as a plain node-based Dijkstra on the road graph. Weights are whole
milliseconds.

Queries run on a customizable contraction hierarchy (``routingkit_cch``): exact, with
closures applied as a partial re-customisation of the metric (the turns onto a closed
edge get an infinite weight), so a closure counts from the next query on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from numpy.typing import NDArray

from routing._build import Net

__all__ = ["INF", "Engine", "Seed"]

log = logging.getLogger(__name__)

#: The weight of a closed arc (RoutingKit's infinity).
INF = 2**31 - 1

#: A routing node (an edge) with the cost (ms) already spent (a source) or still to
#: spend (a target).
Seed = tuple[int, int]


@dataclass
class _Turns:
    a_tail: NDArray[np.int64]  # from edge
    a_head: NDArray[np.int64]  # onto edge
    turn_ms: NDArray[np.int64]  # the turn's own time, on top of the onto edge's
    restricted: dict[tuple[int, int], str]  # kept turns a restriction forbids: its value
    restricted_arcs: NDArray[np.int64]  # their arcs (indices into a_tail/a_head)
    ignored: int
    banned: int


def _forbidden_turns(net: Net) -> tuple[dict[tuple[int, int], str], int]:
    """Turns (e, f) the restrictions forbid (with the restriction's value), and how many
    restrictions matched no edge."""
    index = {int(o): i for i, o in enumerate(net.osm_ids)}
    forbidden: dict[tuple[int, int], str] = {}
    ignored = 0
    for r in net.restrictions:
        v = index.get(r.via_node)
        if v is None:
            ignored += 1
            continue
        ins = np.flatnonzero(net.head == v).tolist()
        outs = np.flatnonzero(net.tail == v).tolist()
        froms = [e for e in ins if r.from_way in net.ways[e]]
        tos = {f for f in outs if r.to_way in net.ways[f]}
        if not froms or not tos:
            ignored += 1
            continue
        for e in froms:
            for f in outs:
                if (r.kind == "no") == (f in tos):
                    forbidden.setdefault((e, f), r.value)
    return forbidden, ignored


def _turns(net: Net, *, turn_rules: bool) -> _Turns:
    """Every turn e -> f at a shared node, less the banned ones, with their own times."""
    tail, head = net.tail.astype(np.int64), net.head.astype(np.int64)
    order = np.argsort(tail, kind="stable")
    start = np.searchsorted(tail[order], np.arange(net.node_count + 1))
    counts = start[head + 1] - start[head]  # turns possible after each edge
    a_tail = np.repeat(np.arange(net.edge_count), counts)
    first = np.repeat(start[head], counts)
    within = np.arange(len(a_tail)) - np.repeat(np.cumsum(counts) - counts, counts)
    a_head = order[first + within]
    turn_ms = np.zeros(len(a_tail), dtype=np.int64)
    restricted: dict[tuple[int, int], str] = {}
    hit = np.zeros(len(a_tail), dtype=np.bool_)  # turns kept open against a restriction
    ignored = banned = 0
    if turn_rules:
        prof = net.profile
        keep = np.ones(len(a_tail), dtype=np.bool_)
        # No U-turn back along the same street, except at a dead end, where it takes time.
        uturn = (head[a_head] == tail[a_tail]) & (
            np.abs(net.length_m[a_head] - net.length_m[a_tail]) < 1.0
        )
        dead_end = counts[a_tail] <= 1
        keep &= ~(uturn & ~dead_end)
        turn_ms[uturn & dead_end] = round(prof.uturn_s * 1000.0)
        forbidden, ignored = _forbidden_turns(net)
        if forbidden:
            codes = a_tail * net.edge_count + a_head
            bad = np.fromiter((e * net.edge_count + f for e, f in forbidden), dtype=np.int64)
            forbids = np.isin(codes, bad)
            if prof.restricted_turn_s is None:
                keep &= ~forbids
            else:
                hit = forbids & keep
                turn_ms[hit] += round(prof.restricted_turn_s * 1000.0)
                restricted = {
                    (e, f): forbidden[(e, f)]
                    for e, f in zip(a_tail[hit].tolist(), a_head[hit].tolist(), strict=True)
                }
        banned = int((~keep).sum())
        a_tail, a_head, turn_ms, hit = a_tail[keep], a_head[keep], turn_ms[keep], hit[keep]
    return _Turns(a_tail, a_head, turn_ms, restricted, np.flatnonzero(hit), ignored, banned)


class Engine:
    """Exact shortest paths on the turn-expanded graph of a :class:`Net`."""

    def __init__(self, net: Net, *, turn_rules: bool = True) -> None:
        import routingkit_cch as rk

        t0 = time.perf_counter()
        self.net = net
        x = _turns(net, turn_rules=turn_rules)
        self.a_tail, self.a_head, self.turn_ms = x.a_tail, x.a_head, x.turn_ms
        self.ignored_restrictions, self.banned_turns = x.ignored, x.banned
        #: Turns a restriction forbids that this profile may still make, with its value.
        self.restricted_turns = x.restricted
        # Their arcs, banned while the engine obeys every restriction (obey_restrictions).
        self._restricted_arcs: frozenset[int] = frozenset(x.restricted_arcs.tolist())
        self.obeying = False
        costly = np.flatnonzero(x.turn_ms)
        self._turn_cost = dict(
            zip(
                zip(x.a_tail[costly].tolist(), x.a_head[costly].tolist(), strict=True),
                x.turn_ms[costly].tolist(),
                strict=True,
            )
        )
        self.size = net.edge_count
        self.edge_ms = np.maximum(1, np.rint((net.time_s + net.signal_delay_s) * 1000.0)).astype(
            np.int64
        )
        self.free_ms = np.maximum(1, np.rint(net.time_s * 1000.0)).astype(np.int64)
        order = np.argsort(self.a_head, kind="stable")
        self._arcs_into = order
        self._into_start = np.searchsorted(self.a_head[order], np.arange(self.size + 1))
        t_order = np.argsort(net.tail, kind="stable")
        self._out_edges = t_order
        self._out_start = np.searchsorted(net.tail[t_order], np.arange(net.node_count + 1))
        self._in_edges = np.argsort(net.head, kind="stable")
        self._in_start = np.searchsorted(net.head[self._in_edges], np.arange(net.node_count + 1))
        tails, heads = self.a_tail.tolist(), self.a_head.tolist()
        t1 = time.perf_counter()
        lat = ((net.lat[net.tail] + net.lat[net.head]) / 2).tolist()
        lon = ((net.lon[net.tail] + net.lon[net.head]) / 2).tolist()
        rk_order = rk.compute_order_inertial(self.size, tails, heads, lat, lon)
        self._cch = rk.CCH(rk_order, tails, heads, False)
        t2 = time.perf_counter()
        self._metric = rk.CCHMetric(self._cch, (self.edge_ms[self.a_head] + self.turn_ms).tolist())
        self._updater = rk.CCHMetricPartialUpdater(self._cch)
        self._query: object | None = None
        self.blocked: frozenset[int] = frozenset()
        t3 = time.perf_counter()
        self.timings = {
            "turns_s": t1 - t0,
            "cch_order_and_contract_s": t2 - t1,
            "cch_customize_s": t3 - t2,
        }
        log.info(
            "engine: %d edges, %d turns (%d banned), CCH in %.2f s",
            self.size,
            len(self.a_tail),
            self.banned_turns,
            t3 - t0,
        )

    # -- seeds ------------------------------------------------------------------
    def out_edges(self, v: int) -> NDArray[np.int64]:
        return self._out_edges[self._out_start[v] : self._out_start[v + 1]]

    def in_edges(self, v: int) -> NDArray[np.int64]:
        return self._in_edges[self._in_start[v] : self._in_start[v + 1]]

    def node_sources(self, v: int, *, preempted: bool = False) -> list[Seed]:
        """Sources for a route starting at graph node ``v``: its outgoing edges, driven."""
        w = self.free_ms if preempted else self.edge_ms
        return [(int(f), int(w[f])) for f in self.out_edges(v) if int(f) not in self.blocked]

    def node_targets(self, v: int) -> list[Seed]:
        """Targets for a route ending at graph node ``v``: its incoming edges."""
        return [(int(e), 0) for e in self.in_edges(v)]

    def edge_sources(self, e: int, fraction: float, *, preempted: bool = False) -> list[Seed]:
        """Sources for a route starting ``fraction`` of the way along edge ``e``."""
        if e in self.blocked:
            return []
        w = self.free_ms if preempted else self.edge_ms
        return [(int(e), round((1.0 - fraction) * int(w[e])))]

    def edge_targets(self, e: int, fraction: float, *, preempted: bool = False) -> list[Seed]:
        """Targets for a route ending ``fraction`` of the way along edge ``e``."""
        if e in self.blocked:
            return []
        w = self.free_ms if preempted else self.edge_ms
        arcs = self._arcs_into[self._into_start[e] : self._into_start[e + 1]]
        cost = round(fraction * int(w[e]))
        return [
            (int(self.a_tail[a]), cost + int(self.turn_ms[a]))
            for a in arcs.tolist()
            if not (self.obeying and a in self._restricted_arcs)
        ]

    def turn_ms_along(self, edges: Sequence[int]) -> list[int]:
        """The time (ms) of the turn onto each edge of a path from the one before (0 first)."""
        cost = self._turn_cost
        if not edges:
            return []
        return [0] + [cost.get((int(e), int(f)), 0) for e, f in pairwise(edges)]

    # -- closures -----------------------------------------------------------------
    def _arc_weight(self, a: int) -> int:
        """The metric's weight of arc ``a`` now: closures and obedience applied."""
        e = int(self.a_head[a])
        if e in self.blocked or (self.obeying and a in self._restricted_arcs):
            return INF
        return int(self.edge_ms[e] + self.turn_ms[a])

    def _update(self, arcs: Iterable[int]) -> None:
        updates = {a: self._arc_weight(a) for a in arcs}
        if updates:
            self._query = None  # RoutingKit refuses updates while a query holds the metric
            self._updater.apply(self._metric, updates)

    def set_blocked(self, edges: Iterable[int]) -> None:
        """Make exactly these edges impassable (a partial re-customisation)."""
        new = frozenset(int(e) for e in edges)
        if new == self.blocked:
            return
        changed = (new - self.blocked) | (self.blocked - new)
        self.blocked = new
        self._update(
            a
            for e in changed
            for a in self._arcs_into[self._into_start[e] : self._into_start[e + 1]].tolist()
        )

    def obey_restrictions(self, obey: bool) -> None:
        """Ban (``True``) or reopen (``False``) the turns against a restriction that the
        profile keeps open at a cost (a partial re-customisation of those arcs only)."""
        if obey == self.obeying:
            return
        self.obeying = obey
        self._update(self._restricted_arcs)

    # -- queries ------------------------------------------------------------------
    def shortest(
        self, sources: Sequence[Seed], targets: Sequence[Seed]
    ) -> tuple[int | None, list[int]]:
        """Cost (ms) and the edges (routing nodes) of the best path, sources to targets."""
        import routingkit_cch as rk

        if not sources or not targets:
            return None, []
        if self._query is None:
            self._query = rk.CCHQuery(self._metric)
        res = self._query.run_multi(list(sources), list(targets))  # type: ignore[attr-defined]
        dist, nodes = res.distance, res.node_path
        del res  # RoutingKit needs the result dropped before the next run
        if dist is None or dist >= INF:
            return None, []
        return int(dist), list(nodes)

    def csgraph(self, *, preempted: bool = False, extra_node: bool = False) -> object:
        """The turn graph as a scipy CSR matrix (closed edges, and restricted turns while
        obeying, left out)."""
        from scipy.sparse import csr_matrix

        w = (self.free_ms if preempted else self.edge_ms)[self.a_head] + self.turn_ms
        w = w.astype(np.float64)
        keep = ~np.isin(self.a_head, np.fromiter(self.blocked, dtype=np.int64))
        if self.obeying and self._restricted_arcs:
            keep[np.fromiter(self._restricted_arcs, dtype=np.int64)] = False
        n = self.size + (1 if extra_node else 0)
        return csr_matrix((w[keep], (self.a_tail[keep], self.a_head[keep])), shape=(n, n))

    def distances(
        self,
        sources: Sequence[Seed],
        *,
        preempted: bool = False,
        limit_ms: float = np.inf,
    ) -> NDArray[np.float64]:
        """Plain Dijkstra (scipy) from seeds to the end of every edge, in ms (inf if not)."""
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import dijkstra

        g = self.csgraph(preempted=preempted, extra_node=True)
        src = self.size
        best: dict[int, int] = {}
        for node, cost in sources:
            best[node] = min(cost, best.get(node, cost))
        rows = np.full(len(best), src)
        cols = np.fromiter(best.keys(), dtype=np.int64, count=len(best))
        vals = np.fromiter(best.values(), dtype=np.float64, count=len(best)) + 1.0
        seed = csr_matrix((vals, (rows, cols)), shape=g.shape)  # type: ignore[attr-defined]
        dist = dijkstra(g + seed, indices=src, limit=limit_ms + 1.0)
        return np.asarray(dist[: self.size]) - 1.0
