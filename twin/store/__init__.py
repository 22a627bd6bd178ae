"""The versioned feature store and its two backends.

Open one with :func:`open_store`; the URL chooses the backend.
"""

from __future__ import annotations

from twin.store._validate import clean_text, is_missing
from twin.store.base import (
    BUILD_ACTOR,
    CollectionSpec,
    Extent,
    Feature,
    FeatureVersion,
    Field,
    FieldType,
    Query,
    QueryResult,
    Store,
    SyncReport,
    Transaction,
    VerifyReport,
)
from twin.store.open import is_postgres_url, open_store

__all__ = [
    "BUILD_ACTOR",
    "CollectionSpec",
    "Extent",
    "Feature",
    "FeatureVersion",
    "Field",
    "FieldType",
    "Query",
    "QueryResult",
    "Store",
    "SyncReport",
    "Transaction",
    "VerifyReport",
    "clean_text",
    "is_missing",
    "is_postgres_url",
    "open_store",
]
