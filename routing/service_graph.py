"""The road graph of a live twin, loaded once and reloaded when its layers change.

The service's routing endpoints and processes ask :func:`graph_for` for the graph of a
store and profile. The graph's arrays (:class:`~routing._build.Net`) are read from the
store's road layers on first use and kept per store object and profile; every call reads
only the change log entries recorded since the last call, and a change to
``road_nodes``, ``road_edges``, ``road_turn_restrictions`` or ``emergency_stations``
makes the next call read them again.

The router's contraction hierarchy may only be used on the thread that made it, so each
thread gets a :class:`~routing.graph.RoadGraph` of its own over the shared arrays (a
fraction of a second to prepare on a city centre); a thread asking again gets the same
object while the layers are unchanged. Closures added to one thread's graph are that
graph's own: shared closures belong in the store.

Asked for a time (``at``) before the last change to the road layers' valid time, it
answers with the graph as the twin recorded it then (the roads, turn restrictions and
stations valid at that instant), kept for the few past states asked for last; a time
before the twin's first road graph gets that first graph, the earliest the twin knows.
"""

from __future__ import annotations

import bisect
import logging
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime

from routing._build import Net
from routing._store_graph import WATCHED, net_from_store
from routing.graph import RoadGraph
from routing.profiles import Profile, get_profile
from twin.store import Store
from twin.store.watch import ChangeWatch

__all__ = ["cached_graphs", "graph_for", "road_version"]

log = logging.getLogger(__name__)

#: The last change to the road layers, per database.
_WATCH = ChangeWatch(WATCHED)


#: The sequence number and hash of the last change to the road layers.
_Revision = tuple[int, str]


#: How many past states of the road graph are kept (per store).
PAST_KEPT = 4


@dataclass
class _StoreEntry:
    lock: threading.Lock = field(default_factory=threading.Lock)
    nets: dict[str, tuple[_Revision, Net]] = field(default_factory=dict)
    #: The valid times at which the road layers changed, sorted, read up to change ``seq``.
    times_seq: int = 0
    times: list[datetime] = field(default_factory=list)
    #: (profile, revision, epoch) -> the net valid in that epoch.
    past: OrderedDict[tuple[str, _Revision, datetime], Net] = field(default_factory=OrderedDict)


_LOCK = threading.Lock()
_STORES: weakref.WeakKeyDictionary[Store, _StoreEntry] = weakref.WeakKeyDictionary()
#: Per thread, (id of the store, profile) -> (the store, state, graph): the current graph
#: (state: the revision) in ``graphs``, the last past one asked for (state: revision and
#: epoch) in ``past``. The graphs live and die with their thread, which alone may touch
#: their routing engine.
_THREAD = threading.local()

_Mine = dict[tuple[int, str], tuple["weakref.ref[Store]", object, RoadGraph]]


def _mine(table: str = "graphs") -> _Mine:
    mine: _Mine | None = getattr(_THREAD, table, None)
    if mine is None:
        mine = {}
        setattr(_THREAD, table, mine)
    # Graphs of stores that are gone are dropped here, on their own thread.
    for key in [k for k, (ref, _, _) in mine.items() if ref() is None]:
        del mine[key]
    return mine


def _thread_graph(table: str, store: Store, profile: str, state: object, net: Net) -> RoadGraph:
    """The calling thread's graph over ``net``: the same object while ``state`` holds."""
    mine = _mine(table)
    cached = mine.get((id(store), profile))
    if cached is not None and cached[0]() is store and cached[1] == state:
        return cached[2]
    graph = RoadGraph(net)
    mine[(id(store), profile)] = (weakref.ref(store), state, graph)
    return graph


def _entry(store: Store) -> _StoreEntry:
    with _LOCK:
        entry = _STORES.get(store)
        if entry is None:
            entry = _STORES[store] = _StoreEntry()
        return entry


def road_version(store: Store) -> int:
    """The sequence number of the last change to the store's road graph (0: none yet)."""
    return _WATCH.last_change(store)


def _net(store: Store, entry: _StoreEntry, profile: str, rev: _Revision) -> Net:
    with entry.lock:
        cached = entry.nets.get(profile)
        if cached is None or cached[0] != rev:
            cached = (rev, net_from_store(store, profile))
            entry.nets[profile] = cached
            log.info("read the %s road graph of %s at change %d", profile, store.url, rev[0])
        return cached[1]


def _epoch(store: Store, entry: _StoreEntry, rev: _Revision, at: datetime) -> datetime | None:
    """The valid time of the last road-layer change at or before ``at`` (the first one if
    ``at`` precedes them all), or None when no change came after ``at``."""
    with entry.lock:
        changes = store.changes(since=entry.times_seq) if rev[0] > entry.times_seq else []
        if changes:
            entry.times_seq = changes[-1].seq
            new = {c.at for c in changes if c.collection in WATCHED}
            if new:
                entry.times = sorted(set(entry.times) | new)
        times = entry.times
    k = bisect.bisect_right(times, at)
    if k >= len(times):
        return None
    return times[max(k - 1, 0)]


def _past_net(
    store: Store, entry: _StoreEntry, profile: str, rev: _Revision, at: datetime
) -> tuple[datetime, Net] | None:
    """The epoch and net of the state valid at ``at`` if the road layers changed after it."""
    epoch = _epoch(store, entry, rev, at)
    if epoch is None:
        return None
    key = (profile, rev, epoch)
    with entry.lock:
        net = entry.past.get(key)
        if net is None:
            net = net_from_store(store, profile, at=max(at, epoch))
            entry.past[key] = net
            while len(entry.past) > PAST_KEPT:
                entry.past.popitem(last=False)
            log.info("read the %s road graph of %s as of %s", profile, store.url, epoch)
        entry.past.move_to_end(key)
        return epoch, net


def graph_for(
    store: Store, profile: str | Profile = "car", *, at: datetime | None = None
) -> RoadGraph:
    """The road graph the store holds for ``profile``, for the calling thread.

    Parameters
    ----------
    store
        The live twin (the same object on every call: graphs are kept per store object).
    profile
        ``"car"`` or ``"emergency"``.
    at
        The instant whose road network to use (a departure): ``None`` or any time after
        the last change to the road layers is the current graph; an earlier time the
        graph valid then.

    Returns
    -------
    RoadGraph
        The same object for the same thread until the road layers change; every thread's
        graph shares one set of arrays, read from the store once per change.

    Raises
    ------
    InvalidInput
        An unknown profile (400).
    NotComputable
        The twin holds no road graph for the profile (422).
    """
    name = get_profile(profile).name
    entry = _entry(store)
    rev = _WATCH.revision(store)
    if at is not None:
        past = _past_net(store, entry, name, rev, at)
        if past is not None:
            epoch, net = past
            return _thread_graph("past", store, name, (rev, epoch), net)
    return _thread_graph("graphs", store, name, rev, _net(store, entry, name, rev))


def cached_graphs(store: Store) -> dict[str, RoadGraph]:
    """The calling thread's graphs of a store so far, by profile (for inspection)."""
    return {
        name: graph
        for (sid, name), (ref, _, graph) in _mine().items()
        if sid == id(store) and ref() is store
    }
