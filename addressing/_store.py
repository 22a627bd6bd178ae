"""Opening the twin for the address functions: a store, a URL, or the configured default."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from twin.store import Store, open_store

__all__ = ["store_scope"]


@contextmanager
def store_scope(store: Store | str | None) -> Iterator[Store]:
    """Yield a store: the one given, or one opened from a URL (default ``TWIN_DB``) and closed after."""
    if isinstance(store, Store):
        yield store
        return
    if store is None:
        from twin.settings import StoreSettings

        store = StoreSettings().db
    opened = open_store(store, create=False)
    try:
        yield opened
    finally:
        opened.close()
