"""The store logic both SQL backends share: catalog, reads, writes, the change log.

A backend subclasses :class:`SqlStore` and supplies the dialect: how geometries, times
and JSON travel, the DDL of a collection's tables, and how spatial predicates use its
index. Per collection there are two tables:

``<name>``
    the current state, one row per live feature (an ordinary layer for GIS clients);
``<name>__versions``
    every version ever valid, with ``valid_from`` / ``valid_to``.

This module holds transactions, the catalog and the change log; the dialect's hooks are
declared in :mod:`twin.store._sql_dialect`, the reads are in :mod:`twin.store._sql_reads`
and the writes in :mod:`twin.store._writes`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from twin.errors import CollectionExists, CollectionNotFound, StoreError
from twin.store._sql_reads import SqlReads
from twin.store.base import BUILD_ACTOR, Change, CollectionSpec, Transaction, VerifyReport
from twin.temporal import check_datetime

__all__ = ["SqlStore"]


class SqlStore(SqlReads):
    """Shared implementation over a DB-API-like connection with ``:name`` parameters."""

    #: The driver's errors: what a damaged database (a dropped table, say) raises.
    db_errors: tuple[type[Exception], ...] = ()

    def __init__(self) -> None:
        self._specs: dict[str, CollectionSpec] | None = None
        self._local = threading.local()

    @property
    def _depth(self) -> int:
        return int(getattr(self._local, "depth", 0))

    @_depth.setter
    def _depth(self, value: int) -> None:
        self._local.depth = value

    # ---------------------------------------------------------------- transactions
    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Everything inside lands whole or not at all (nested blocks are savepoints)."""
        nested = self._depth > 0
        self._begin(nested)
        self._depth += 1
        try:
            yield
        except BaseException:
            self._depth -= 1
            self._rollback(nested)
            self._specs = None
            raise
        else:
            self._depth -= 1
            self._commit(nested)

    @contextmanager
    def reimport(self, after: datetime | None) -> Iterator[None]:
        after = check_datetime(after, "after", optional=True)
        outer = self.reimport_after
        self._local.reimport_after = after
        try:
            yield
        finally:
            self._local.reimport_after = outer

    @property
    def reimport_after(self) -> datetime | None:
        """The last import's valid time inside :meth:`reimport`; None outside."""
        return getattr(self._local, "reimport_after", None)

    @contextmanager
    def transaction(
        self, *, actor: str = "twin", recorded_at: datetime | None = None
    ) -> Iterator[Transaction]:
        from twin.store._writes import SqlTransaction

        with self.atomic():
            self._lock_log()
            yield SqlTransaction(self, actor=actor, recorded_at=recorded_at)

    # ---------------------------------------------------------------- catalog
    def _load_specs(self) -> dict[str, CollectionSpec]:
        if self._specs is None:
            damaged: tuple[type[Exception], ...] = (
                *self.db_errors,
                ValueError,
                KeyError,
                TypeError,
            )
            try:
                rows = self._run("SELECT name, spec FROM twin_collections ORDER BY name")
                specs = {name: CollectionSpec.from_dict(json.loads(spec)) for name, spec in rows}
            except damaged as exc:
                msg = (
                    f"db={self.url!r} is not a valid twin: its catalog (twin_collections) "
                    f"cannot be read: {exc}"
                )
                raise StoreError(msg) from None
            self._specs = specs
        return self._specs

    def collections(self) -> list[CollectionSpec]:
        return list(self._load_specs().values())

    def collection(self, name: str) -> CollectionSpec:
        spec = self._load_specs().get(name)
        if spec is None:
            msg = f"collection {name!r} does not exist; choose one of {sorted(self._load_specs())}"
            raise CollectionNotFound(msg)
        return spec

    def ensure_collection(self, spec: CollectionSpec) -> CollectionSpec:
        with self.atomic():
            old = self._load_specs().get(spec.name)
            if old is None:
                self._create_tables(spec)
                self._run(
                    "INSERT INTO twin_collections (name, spec) VALUES (:name, :spec)",
                    {"name": spec.name, "spec": json.dumps(spec.to_dict())},
                )
                self._specs = None
                return spec
            if old.geometry_type != spec.geometry_type:
                msg = (
                    f"collection {spec.name!r} holds {old.geometry_type}; it cannot become "
                    f"{spec.geometry_type}"
                )
                raise CollectionExists(msg)
            have = old.field_map()
            merged = list(old.fields)
            for f in spec.fields:
                if f.name in have:
                    if have[f.name].type != f.type:
                        msg = (
                            f"field {f.name!r} of {spec.name!r} is {have[f.name].type}; "
                            f"it cannot become {f.type}"
                        )
                        raise CollectionExists(msg)
                    # its description and minimum are the code's of today
                    merged[[g.name for g in merged].index(f.name)] = f
                    continue
                self._add_column(old, f.name, f.type)
                merged.append(f)
            new = CollectionSpec(
                name=spec.name,
                title=spec.title,
                description=spec.description,
                geometry_type=spec.geometry_type,
                fields=tuple(merged),
                restricted=spec.restricted,
                keywords=spec.keywords,
            )
            if new != old:
                self._run(
                    "UPDATE twin_collections SET spec = :spec WHERE name = :name",
                    {"name": spec.name, "spec": json.dumps(new.to_dict())},
                )
                self._specs = None
            return new

    # ---------------------------------------------------------------- change log
    def changes(self, *, since: int = 0, limit: int | None = None) -> list[Change]:
        sql = (
            "SELECT seq, collection, feature_id, version, op, at, recorded_at, actor, "
            "content_hash, prev_hash, hash FROM twin_changelog WHERE seq > :since ORDER BY seq"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [
            Change(
                seq=int(r[0]),
                collection=r[1],
                feature_id=r[2],
                version=int(r[3]),
                op=r[4],
                at=self._time(r[5]),
                recorded_at=self._time(r[6]),
                actor=r[7],
                content_hash=r[8],
                prev_hash=r[9],
                hash=r[10],
            )
            for r in self._run(sql, {"since": since})
        ]

    def last_import(self) -> datetime | None:
        # An entry whose valid time is the time it was recorded was written at 'now' (the
        # change demo's patches and cases, in twins built before it wrote as 'twin change
        # demo'); an import's valid time is the extract's, fixed before it is written.
        rows = self._run(
            "SELECT max(at) FROM twin_changelog WHERE actor = :actor AND at <> recorded_at",
            {"actor": BUILD_ACTOR},
        )
        return self._time(rows[0][0]) if rows and rows[0][0] is not None else None

    def verify(self) -> VerifyReport:
        from twin.store._verify import verify_store

        return verify_store(self)
