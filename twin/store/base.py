"""The store contract: collections of versioned features, valid time and record time.

A **feature version** is (collection, feature id, version, geometry, properties,
valid_from, valid_to, recorded_at, hash). An edit closes the current version
(``valid_to``) and opens the next; nothing is overwritten or deleted. Every change is
appended to a hash-chained change log.

Two backends implement :class:`Store`: the embedded GeoPackage file and PostgreSQL +
PostGIS. One contract test suite runs against both.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from shapely.geometry.base import BaseGeometry

if TYPE_CHECKING:
    import geopandas as gpd

from twin.errors import InvalidInput
from twin.store.query import INT64_MAX, INT64_MIN, Query, check_query
from twin.temporal import TimeSpec

__all__ = [
    "GEOMETRY_TYPES",
    "INT64_MAX",
    "INT64_MIN",
    "Change",
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
    "check_name",
    "check_query",
]

_NAME_RE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")

GEOMETRY_TYPES = (
    "Geometry",
    "Point",
    "LineString",
    "Polygon",
    "MultiPoint",
    "MultiLineString",
    "MultiPolygon",
)

#: Column names the store keeps for itself; no schema field may take them.
RESERVED = frozenset(
    {
        "fid",
        "geom",
        "id",
        "feature_id",
        "version",
        "valid_from",
        "valid_to",
        "recorded_at",
        "hash",
        "actor",
        "valid_time",
    }
)


def check_name(name: str, *, what: str = "collection") -> str:
    """Return ``name`` if it is a safe identifier (lower case, digits, single ``_``).

    Names become table and column names, so nothing else is ever let through.
    """
    if not isinstance(name, str) or not _NAME_RE.match(name) or len(name) > 48:
        msg = (
            f"{what} name {name!r} is not allowed; use 1-48 lower-case letters, digits and "
            "single underscores, starting with a letter"
        )
        raise InvalidInput(msg)
    return name


class FieldType(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    JSON = "json"


@dataclass(frozen=True)
class Field:
    """One property of a collection's schema; a number may have a ``minimum``."""

    name: str
    type: FieldType = FieldType.STRING
    description: str = ""
    minimum: float | None = None

    def __post_init__(self) -> None:
        check_name(self.name, what="field")
        if self.name in RESERVED:
            msg = f"field name {self.name!r} is reserved by the store; choose another"
            raise InvalidInput(msg)
        object.__setattr__(self, "type", FieldType(self.type))
        if self.minimum is not None and (
            self.type not in (FieldType.INTEGER, FieldType.NUMBER)
            or isinstance(self.minimum, bool)
            or not isinstance(self.minimum, int | float)
            or not math.isfinite(self.minimum)
        ):
            msg = f"field {self.name!r}: minimum={self.minimum!r} needs a number field and value"
            raise InvalidInput(msg)


@dataclass(frozen=True)
class CollectionSpec:
    """What a collection is: its name, schema and geometry type.

    ``restricted`` collections need a role to read (underground utilities, say).
    """

    name: str
    title: str
    description: str = ""
    geometry_type: str = "Geometry"
    fields: tuple[Field, ...] = ()
    restricted: bool = False
    keywords: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_name(self.name)
        if "__" in self.name:
            msg = f"collection name {self.name!r} may not contain '__'"
            raise InvalidInput(msg)
        if self.geometry_type not in GEOMETRY_TYPES:
            msg = f"geometry_type={self.geometry_type!r} is not one of {list(GEOMETRY_TYPES)}"
            raise InvalidInput(msg)
        names = [f.name for f in self.fields]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            msg = f"collection {self.name!r} declares fields {sorted(dup)} twice"
            raise InvalidInput(msg)

    def field_map(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields}

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "geometry_type": self.geometry_type,
            "fields": [
                {"name": f.name, "type": str(f.type), "description": f.description}
                | ({} if f.minimum is None else {"minimum": f.minimum})
                for f in self.fields
            ],
            "restricted": self.restricted,
            "keywords": list(self.keywords),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CollectionSpec:
        return cls(
            name=d["name"],
            title=d.get("title", d["name"]),
            description=d.get("description", ""),
            geometry_type=d.get("geometry_type", "Geometry"),
            fields=tuple(Field(**f) for f in d.get("fields", ())),
            restricted=bool(d.get("restricted", False)),
            keywords=tuple(d.get("keywords", ())),
        )


@dataclass(frozen=True)
class Feature:
    """A feature as written: id, geometry (CRS84) and properties."""

    id: str
    geometry: BaseGeometry | None
    properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FeatureVersion:
    """One stored version of a feature."""

    collection: str
    id: str
    version: int
    geometry: BaseGeometry | None
    properties: dict[str, Any]
    valid_from: datetime
    valid_to: datetime | None
    recorded_at: datetime
    hash: str

    @property
    def is_current(self) -> bool:
        return self.valid_to is None

    @property
    def etag(self) -> str:
        """A strong validator of this version, for HTTP ``ETag``."""
        return f'"{self.hash[:32]}"'


@dataclass(frozen=True)
class QueryResult:
    features: list[FeatureVersion]
    number_matched: int | None = None

    def __iter__(self) -> Iterator[FeatureVersion]:
        return iter(self.features)

    def __len__(self) -> int:
        return len(self.features)


@dataclass(frozen=True)
class Extent:
    """Spatial extent (CRS84) of current features and temporal extent of all versions."""

    bbox: tuple[float, float, float, float] | None
    valid_from: datetime | None
    valid_to: datetime | None
    count: int


@dataclass(frozen=True)
class SyncReport:
    """What a re-import changed.

    ``kept`` counts the features left as another actor made them (a sync with
    ``keep_edits``); ``conflicts`` names those of them that the incoming data changed too.
    """

    created: int = 0
    updated: int = 0
    retired: int = 0
    unchanged: int = 0
    kept: int = 0
    conflicts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Change:
    """One entry of the hash-chained change log."""

    seq: int
    collection: str
    feature_id: str
    version: int
    op: str
    at: datetime
    recorded_at: datetime
    actor: str
    content_hash: str
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of checking the change log against the stored versions."""

    ok: bool
    checked: int
    problem: str | None = None
    seq: int | None = None


#: The actor of ``twin build``'s imports (the map layers and the road graph synced from the
#: extract): its entries in the change log tell when the twin was last imported.
BUILD_ACTOR = "twin build"


class Transaction(ABC):
    """A batch of writes that lands whole or not at all."""

    @abstractmethod
    def create(
        self, collection: str, features: Iterable[Feature], *, valid_from: datetime | None = None
    ) -> list[FeatureVersion]:
        """Create new features; an id that exists already is a conflict."""

    @abstractmethod
    def replace(
        self,
        collection: str,
        feature: Feature,
        *,
        valid_from: datetime | None = None,
        expected_version: int | None = None,
    ) -> FeatureVersion:
        """Close the current version and open one with this geometry and properties.

        When they equal the current version's, nothing is written and the current
        version is returned. Otherwise ``valid_from`` must come after the current
        version's start (InvalidInterval), or that version would never be current.
        """

    @abstractmethod
    def patch(
        self,
        collection: str,
        feature_id: str,
        *,
        properties: Mapping[str, Any] | None = None,
        geometry: BaseGeometry | None = None,
        valid_from: datetime | None = None,
        expected_version: int | None = None,
    ) -> FeatureVersion:
        """Like :meth:`replace`, keeping what is not given (a property set to None is removed).

        A patch that changes nothing writes nothing and returns the current version.
        """

    @abstractmethod
    def retire(
        self,
        collection: str,
        feature_id: str,
        *,
        valid_to: datetime | None = None,
        expected_version: int | None = None,
    ) -> FeatureVersion:
        """Close the last version; the feature stays in history."""

    @abstractmethod
    def sync(
        self,
        collection: str,
        features: Iterable[Feature],
        *,
        valid_from: datetime | None = None,
        keep_edits: bool = False,
    ) -> SyncReport:
        """Make the current state equal ``features``: new ids are created, changed ones
        get a new version, missing ones are retired, equal ones are left alone.

        With ``keep_edits`` a feature whose last change another actor made (an edit, a
        creation or a retirement through the service, say) is left as it is: the sync
        owns only what it wrote. Such a feature that ``features`` changes since this
        actor last wrote it is a conflict, named in the report and kept as edited.

        Inside :meth:`Store.reimport` a sync that changes anything must be valid after
        the twin's last import.
        """


class Store(ABC):
    """A versioned feature store. Use as a context manager, or call :meth:`close`."""

    url: str

    # -- catalog ---------------------------------------------------------------------
    @abstractmethod
    def collections(self) -> list[CollectionSpec]:
        """Every collection, sorted by name."""

    @abstractmethod
    def collection(self, name: str) -> CollectionSpec:
        """One collection's spec; raises CollectionNotFound."""

    @abstractmethod
    def ensure_collection(self, spec: CollectionSpec) -> CollectionSpec:
        """Create a collection, or add new fields to an existing one.

        A changed geometry type or a changed field type is a conflict.
        """

    # -- reads -----------------------------------------------------------------------
    @abstractmethod
    def query(
        self, collection: str, query: Query | None = None, *, count: bool = False
    ) -> QueryResult:
        """Features matching ``query``; with ``count`` also ``number_matched``."""

    @abstractmethod
    def read_frame(self, collection: str, query: Query | None = None) -> gpd.GeoDataFrame:
        """Like :meth:`query`, as a GeoDataFrame (CRS84) for bulk work.

        Columns: ``id``, ``version``, ``valid_from``, ``valid_to``, the properties, and
        ``geometry``.
        """

    @abstractmethod
    def get(self, collection: str, feature_id: str, *, time: TimeSpec = None) -> FeatureVersion:
        """The version current now (or valid at an instant); raises FeatureNotFound."""

    @abstractmethod
    def history(self, collection: str, feature_id: str) -> list[FeatureVersion]:
        """Every version of one feature, oldest first; raises FeatureNotFound."""

    @abstractmethod
    def extent(self, collection: str) -> Extent:
        """Spatial extent of current features and temporal extent of all versions."""

    @abstractmethod
    def count(self, collection: str, *, time: TimeSpec = None) -> int:
        """How many features there are now (or at an instant, or over an interval)."""

    # -- writes ----------------------------------------------------------------------
    @abstractmethod
    def atomic(self) -> AbstractContextManager[None]:
        """A block whose writes land whole or not at all; transactions inside it nest."""

    @abstractmethod
    def transaction(
        self, *, actor: str = "twin", recorded_at: datetime | None = None
    ) -> AbstractContextManager[Transaction]:
        """Open a write batch; it commits when the block ends without an error."""

    @abstractmethod
    def last_import(self) -> datetime | None:
        """The valid time of the twin's last import that changed it; None before the first.

        That is the latest valid time of the changes written by :data:`BUILD_ACTOR`,
        leaving out those valid from the very time they were recorded: writes at 'now'
        (the change demo's, in twins built before it wrote as 'twin change demo'), not
        at an extract's time. An import that changed nothing leaves no trace.
        """

    @abstractmethod
    def reimport(self, after: datetime | None) -> AbstractContextManager[None]:
        """A block in which every sync that changes anything must be valid after ``after``.

        ``after`` is the last import's valid time (:meth:`last_import`; None: no import
        yet). An extract describes the whole city at its valid time: a change dated at
        or before the last import would rewrite what that import found. A sync that
        changes nothing is fine at any time. InvalidInterval, naming both times, otherwise.
        """

    def create(
        self, collection: str, features: Iterable[Feature], **kw: Any
    ) -> list[FeatureVersion]:
        with self.transaction(actor=kw.pop("actor", "twin")) as tx:
            return tx.create(collection, features, **kw)

    def replace(self, collection: str, feature: Feature, **kw: Any) -> FeatureVersion:
        with self.transaction(actor=kw.pop("actor", "twin")) as tx:
            return tx.replace(collection, feature, **kw)

    def patch(self, collection: str, feature_id: str, **kw: Any) -> FeatureVersion:
        with self.transaction(actor=kw.pop("actor", "twin")) as tx:
            return tx.patch(collection, feature_id, **kw)

    def retire(self, collection: str, feature_id: str, **kw: Any) -> FeatureVersion:
        with self.transaction(actor=kw.pop("actor", "twin")) as tx:
            return tx.retire(collection, feature_id, **kw)

    def sync(self, collection: str, features: Iterable[Feature], **kw: Any) -> SyncReport:
        with self.transaction(actor=kw.pop("actor", "twin")) as tx:
            return tx.sync(collection, features, **kw)

    # -- integrity -------------------------------------------------------------------
    @abstractmethod
    def changes(self, *, since: int = 0, limit: int | None = None) -> list[Change]:
        """The change log from sequence number ``since`` (exclusive)."""

    @abstractmethod
    def verify(self) -> VerifyReport:
        """Re-check the hash chain and every version against it."""

    # -- lifecycle -------------------------------------------------------------------
    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
