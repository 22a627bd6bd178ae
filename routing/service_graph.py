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
"""

from __future__ import annotations

import logging
import threading
import weakref
from dataclasses import dataclass, field

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


@dataclass
class _StoreEntry:
    lock: threading.Lock = field(default_factory=threading.Lock)
    nets: dict[str, tuple[_Revision, Net]] = field(default_factory=dict)


_LOCK = threading.Lock()
_STORES: weakref.WeakKeyDictionary[Store, _StoreEntry] = weakref.WeakKeyDictionary()
#: Per thread: (id of the store, profile) -> (the store, revision, graph). The graphs
#: live and die with their thread, which alone may touch their routing engine.
_THREAD = threading.local()

_Mine = dict[tuple[int, str], tuple["weakref.ref[Store]", _Revision, RoadGraph]]


def _mine() -> _Mine:
    mine: _Mine | None = getattr(_THREAD, "graphs", None)
    if mine is None:
        mine = _THREAD.graphs = {}
    # Graphs of stores that are gone are dropped here, on their own thread.
    for key in [k for k, (ref, _, _) in mine.items() if ref() is None]:
        del mine[key]
    return mine


def _entry(store: Store) -> _StoreEntry:
    with _LOCK:
        entry = _STORES.get(store)
        if entry is None:
            entry = _STORES[store] = _StoreEntry()
        return entry


def road_version(store: Store) -> int:
    """The sequence number of the last change to the store's road graph (0: none yet)."""
    return _WATCH.last_change(store)


def _net(store: Store, entry: _StoreEntry, profile: str) -> tuple[_Revision, Net]:
    with entry.lock:
        rev = _WATCH.revision(store)
        cached = entry.nets.get(profile)
        if cached is None or cached[0] != rev:
            cached = (rev, net_from_store(store, profile))
            entry.nets[profile] = cached
            log.info("read the %s road graph of %s at change %d", profile, store.url, rev[0])
        return cached


def graph_for(store: Store, profile: str | Profile = "car") -> RoadGraph:
    """The road graph the store holds for ``profile``, for the calling thread.

    Parameters
    ----------
    store
        The live twin (the same object on every call: graphs are kept per store object).
    profile
        ``"car"`` or ``"emergency"``.

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
    seq, net = _net(store, entry, name)
    mine = _mine()
    cached = mine.get((id(store), name))
    if cached is not None and cached[0]() is store and cached[1] == seq:
        return cached[2]
    graph = RoadGraph(net)
    mine[(id(store), name)] = (weakref.ref(store), seq, graph)
    return graph


def cached_graphs(store: Store) -> dict[str, RoadGraph]:
    """The calling thread's graphs of a store so far, by profile (for inspection)."""
    return {
        name: graph
        for (sid, name), (ref, _, graph) in _mine().items()
        if sid == id(store) and ref() is store
    }
