"""Fixtures of the kernel's tests: the store contract's ``things`` collection."""

from __future__ import annotations

import pytest

from tests.twin.store_helpers import SPEC, T0, grid
from twin.store import Store


@pytest.fixture
def things(store: Store) -> Store:
    store.ensure_collection(SPEC)
    store.create("things", grid(), valid_from=T0)
    return store
