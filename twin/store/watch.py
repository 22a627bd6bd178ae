"""The last change to some collections of a store, read from its change log incrementally.

A cache of something derived from a few layers (a routing graph, a geocoding index) is
valid while none of those layers changed. :class:`ChangeWatch` answers "what is the last
change to these collections?" by reading only the change log entries recorded since its
previous call for the same database, so asking on every request costs one small query.
State is kept per store URL, so every store object opened on one database shares what was
read. A database made anew at the same URL (a rebuilt GeoPackage) is noticed: the entry
read last is read again each time, and when its hash differs (the log is hash-chained) the
log is read again from its start.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from twin.store.base import Store

__all__ = ["ChangeWatch"]


@dataclass
class _Seen:
    seq: int = 0  # the last change log entry read
    hash: str = ""  # its hash
    last: int = 0  # the last entry that touched a watched collection
    last_hash: str = ""  # its hash


class ChangeWatch:
    """The sequence number of the last change to ``collections``, per store URL.

    Parameters
    ----------
    collections
        The collections whose changes count.
    page
        Change log entries read per round trip while catching up.
    """

    def __init__(self, collections: Iterable[str], *, page: int = 50_000) -> None:
        self.collections = frozenset(collections)
        if not self.collections:
            msg = "a change watch needs at least one collection"
            raise ValueError(msg)
        if page < 2:
            msg = f"page={page!r} must be at least 2 (the entry read last is read again)"
            raise ValueError(msg)
        self._page = page
        self._lock = threading.Lock()
        self._state: dict[str, _Seen] = {}

    def last_change(self, store: Store) -> int:
        """The sequence number of the last change to the watched collections (0: none)."""
        return self.revision(store)[0]

    def revision(self, store: Store) -> tuple[int, str]:
        """The sequence number and hash of the last change to the watched collections
        (``(0, "")``: none); unlike the number alone, it also tells two databases made one
        after the other at the same URL apart."""
        with self._lock:
            seen = self._state.setdefault(store.url, _Seen())
            while True:
                changes = store.changes(since=max(seen.seq - 1, 0), limit=self._page)
                fetched = len(changes)
                if seen.seq:
                    head = changes[0] if changes else None
                    if head is None or head.seq != seen.seq or head.hash != seen.hash:
                        seen = self._state[store.url] = _Seen()  # a new log at this URL
                        continue
                    changes = changes[1:]
                for c in changes:
                    if c.collection in self.collections and c.seq > seen.last:
                        seen.last, seen.last_hash = c.seq, c.hash
                if changes:
                    seen.seq, seen.hash = changes[-1].seq, changes[-1].hash
                if fetched < self._page:
                    return seen.last, seen.last_hash

    def forget(self) -> None:
        """Drop what was read (the next call reads each change log from its start)."""
        with self._lock:
            self._state.clear()
