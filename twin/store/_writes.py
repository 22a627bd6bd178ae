"""Writes: every change opens or closes versions and appends to the hash-chained log."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shapely.geometry.base import BaseGeometry

from twin.errors import (
    ConflictError,
    FeatureNotFound,
    InvalidInterval,
    PreconditionFailed,
    SchemaError,
)
from twin.store._hashing import GENESIS, chain_hash, state_hash
from twin.store._validate import check_feature
from twin.store.base import (
    CollectionSpec,
    Feature,
    FeatureVersion,
    FieldType,
    SyncReport,
    Transaction,
)
from twin.temporal import check_datetime, format_time, now

if TYPE_CHECKING:
    from twin.store._sql import SqlStore

__all__ = ["SqlTransaction"]

_CHUNK = 500


class SqlTransaction(Transaction):
    """A write batch inside one database transaction of a :class:`SqlStore`."""

    def __init__(self, store: SqlStore, *, actor: str, recorded_at: datetime | None) -> None:
        if not isinstance(actor, str) or not actor or len(actor) > 128:
            msg = f"actor={actor!r} must be a non-empty string of at most 128 characters"
            raise SchemaError(msg)
        self.s = store
        self.actor = actor
        last = store._run(
            "SELECT seq, hash, recorded_at FROM twin_changelog ORDER BY seq DESC LIMIT 1"
        )
        self.seq: int = int(last[0][0]) if last else 0
        self.prev: str = str(last[0][1]) if last else GENESIS
        given = check_datetime(recorded_at, "recorded_at", optional=True)
        self.recorded_at = given or _tick(store._time(last[0][2]) if last else None)
        self.log: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ helpers
    def _current(
        self, spec: CollectionSpec, ids: list[str]
    ) -> dict[str, tuple[int, datetime, str]]:
        """Current (version, valid_from, hash) of the given ids that are live."""
        out: dict[str, tuple[int, datetime, str]] = {}
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            marks = ", ".join(f":i{j}" for j in range(len(chunk)))
            rows = self.s._run(
                f'SELECT feature_id, version, valid_from, hash FROM "{spec.name}" '
                f"WHERE feature_id IN ({marks})",
                {f"i{j}": v for j, v in enumerate(chunk)},
            )
            for fid, ver, vf, h in rows:
                out[fid] = (int(ver), self.s._time(vf), h)
        return out

    def _retired(self, spec: CollectionSpec, ids: list[str]) -> dict[str, tuple[int, datetime]]:
        """Last (version, valid_to) of ids that exist only in history."""
        out: dict[str, tuple[int, datetime]] = {}
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            marks = ", ".join(f":i{j}" for j in range(len(chunk)))
            rows = self.s._run(
                f'SELECT feature_id, max(version), max(valid_to) FROM "{spec.name}__versions" '
                f"WHERE feature_id IN ({marks}) GROUP BY feature_id",
                {f"i{j}": v for j, v in enumerate(chunk)},
            )
            for fid, ver, vt in rows:
                out[fid] = (int(ver), self.s._time(vt))
        return out

    def _row(
        self, spec: CollectionSpec, f: Feature, version: int, valid_from: datetime, h: str
    ) -> dict[str, Any]:
        row: dict[str, Any] = {
            "feature_id": f.id,
            "version": version,
            "valid_from": self.s._to_db(valid_from, FieldType.DATETIME),
            "recorded_at": self.s._to_db(self.recorded_at, FieldType.DATETIME),
            "hash": h,
        }
        for fld in spec.fields:
            v = f.properties.get(fld.name)
            row[fld.name] = None if v is None else self.s._to_db(v, fld.type)
        return row

    def _append(
        self, spec: CollectionSpec, fid: str, version: int, op: str, at: datetime, h: str
    ) -> None:
        self.seq += 1
        entry: dict[str, Any] = {
            "seq": self.seq,
            "collection": spec.name,
            "feature_id": fid,
            "version": version,
            "op": op,
            "at": format_time(at),
            "recorded_at": format_time(self.recorded_at),
            "actor": self.actor,
            "content_hash": h,
            "prev_hash": self.prev,
        }
        entry["hash"] = chain_hash(**entry)
        self.prev = entry["hash"]
        self.log.append(entry)

    def _flush_log(self) -> None:
        if self.log:
            self.s._runmany(
                "INSERT INTO twin_changelog (seq, collection, feature_id, version, op, at, "
                "recorded_at, actor, content_hash, prev_hash, hash) VALUES (:seq, :collection, "
                ":feature_id, :version, :op, :at, :recorded_at, :actor, :content_hash, "
                ":prev_hash, :hash)",
                self.log,
            )
            self.log = []

    def _version(
        self, spec: CollectionSpec, f: Feature, version: int, vf: datetime, h: str
    ) -> FeatureVersion:
        return FeatureVersion(
            collection=spec.name,
            id=f.id,
            version=version,
            geometry=f.geometry,
            properties=dict(f.properties),
            valid_from=vf,
            valid_to=None,
            recorded_at=self.recorded_at,
            hash=h,
        )

    def _write(
        self,
        spec: CollectionSpec,
        opened: list[tuple[Feature, int, str, bool]],
        closed: list[tuple[str, int, datetime]],
        retired_ids: list[str],
        valid_from: datetime,
    ) -> list[FeatureVersion]:
        """Close versions, open new ones, and update the current table, in that order.

        ``opened`` holds (feature, version, state hash, is it live already).
        """
        s = self.s
        if closed:
            s._close_versions(
                f"{spec.name}__versions",
                [
                    {"feature_id": fid, "version": v, "valid_to": s._to_db(t, FieldType.DATETIME)}
                    for fid, v, t in closed
                ],
            )
        if retired_ids:
            s._delete_current(spec.name, retired_ids)
        out: list[FeatureVersion] = []
        if opened:
            geoms = s._encode_geoms([f.geometry for f, *_ in opened])
            vrows: list[dict[str, Any]] = []
            new_rows: list[dict[str, Any]] = []
            upd_rows: list[dict[str, Any]] = []
            for (f, version, h, live), g in zip(opened, geoms, strict=True):
                row = self._row(spec, f, version, valid_from, h)
                row["geom"] = g
                (upd_rows if live else new_rows).append(row)
                vrow = dict(row)
                vrow["valid_to"] = None
                vrow["actor"] = self.actor
                vrows.append(vrow)
                out.append(self._version(spec, f, version, valid_from, h))
            s._insert_rows(f"{spec.name}__versions", vrows, versions=True)
            s._insert_rows(spec.name, new_rows, versions=False)
            s._update_current(spec.name, upd_rows)
        self._flush_log()
        return out

    def _check_time(
        self,
        spec: CollectionSpec,
        fid: str,
        last: datetime,
        t: datetime,
        *,
        replaces: bool = True,
    ) -> None:
        """Refuse a version of ``fid`` starting at ``t`` before ``last``.

        ``last`` is the start of the current version when ``replaces``: a new version
        must start after it, or the current one would begin and end at one instant and
        never be current. Otherwise it is the end of a retired feature's last version,
        where the feature may come back.
        """
        where = f"valid_from {format_time(t)!r} of {spec.name}/{fid}"
        if not replaces:
            if t < last:
                msg = (
                    f"{where} precedes the end {format_time(last)!r} of its last version "
                    "(it was retired then)"
                )
                raise InvalidInterval(msg)
            return
        if t < last:
            msg = f"{where} precedes the start {format_time(last)!r} of its current version"
            raise InvalidInterval(msg)
        if t == last:
            msg = (
                f"{where} is the start of its current version: a new version must start "
                "after it, or the current one would begin and end at that instant"
            )
            raise InvalidInterval(msg)

    # ------------------------------------------------------------------ operations
    def create(
        self, collection: str, features: Iterable[Feature], *, valid_from: datetime | None = None
    ) -> list[FeatureVersion]:
        spec = self.s.collection(collection)
        t = check_datetime(valid_from, "valid_from", optional=True) or self.recorded_at
        feats = _checked_batch(spec, features)
        ids = [f.id for f in feats]
        live = self._current(spec, ids)
        if live:
            msg = (
                f"features {sorted(live)[:5]} exist in {collection!r} already; "
                "replace, patch or retire them instead"
            )
            raise ConflictError(msg)
        old = self._retired(spec, ids)
        opened = []
        for f in feats:
            version = 1
            if f.id in old:
                version = old[f.id][0] + 1
                self._check_time(spec, f.id, old[f.id][1], t, replaces=False)
            h = state_hash(f.geometry, dict(f.properties))
            opened.append((f, version, h, False))
            self._append(spec, f.id, version, "create", t, h)
        return self._write(spec, opened, [], [], t)

    def _replace_many(
        self,
        spec: CollectionSpec,
        feats: list[Feature],
        live: Mapping[str, tuple[int, datetime, str]],
        t: datetime,
    ) -> list[FeatureVersion]:
        opened, closed = [], []
        for f in feats:
            ver, vf, _ = live[f.id]
            self._check_time(spec, f.id, vf, t)
            h = state_hash(f.geometry, dict(f.properties))
            closed.append((f.id, ver, t))
            opened.append((f, ver + 1, h, True))
            self._append(spec, f.id, ver + 1, "update", t, h)
        return self._write(spec, opened, closed, [], t)

    def _live_one(
        self, spec: CollectionSpec, fid: str, expected_version: int | None
    ) -> tuple[int, datetime, str]:
        live = self._current(spec, [fid])
        if fid not in live:
            msg = f"feature {fid!r} is not a current feature of {spec.name!r}"
            raise FeatureNotFound(msg)
        cur = live[fid]
        if expected_version is not None and cur[0] != expected_version:
            msg = (
                f"feature {spec.name}/{fid} is at version {cur[0]}, not the expected "
                f"version {expected_version}; read it again and retry"
            )
            raise PreconditionFailed(msg)
        return cur

    def replace(
        self,
        collection: str,
        feature: Feature,
        *,
        valid_from: datetime | None = None,
        expected_version: int | None = None,
    ) -> FeatureVersion:
        spec = self.s.collection(collection)
        f = check_feature(feature, spec)
        cur = self._live_one(spec, f.id, expected_version)
        t = check_datetime(valid_from, "valid_from", optional=True) or self.recorded_at
        if t < cur[1]:
            self._check_time(spec, f.id, cur[1], t)
        if state_hash(f.geometry, dict(f.properties)) == cur[2]:
            # Nothing changes: no version, no log entry; the current version stands (also
            # at the instant it started).
            return self.s.get(collection, f.id)
        return self._replace_many(spec, [f], {f.id: cur}, t)[0]

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
        spec = self.s.collection(collection)
        self._live_one(spec, feature_id, expected_version)
        old = self.s.get(collection, feature_id)
        props = dict(old.properties)
        for k, v in (properties or {}).items():
            if v is None:
                props.pop(k, None)
            else:
                props[k] = v
        new = Feature(feature_id, old.geometry if geometry is None else geometry, props)
        return self.replace(
            collection, new, valid_from=valid_from, expected_version=expected_version
        )

    def retire(
        self,
        collection: str,
        feature_id: str,
        *,
        valid_to: datetime | None = None,
        expected_version: int | None = None,
    ) -> FeatureVersion:
        spec = self.s.collection(collection)
        old = self.s.get(collection, feature_id)
        ver, vf, h = self._live_one(spec, feature_id, expected_version)
        t = check_datetime(valid_to, "valid_to", optional=True) or self.recorded_at
        if t <= vf:
            msg = (
                f"valid_to {format_time(t)!r} of {collection}/{feature_id} must come after "
                f"its current version's start {format_time(vf)!r}"
            )
            raise InvalidInterval(msg)
        self._append(spec, feature_id, ver, "retire", t, h)
        self._write(spec, [], [(feature_id, ver, t)], [feature_id], t)
        return FeatureVersion(
            collection=old.collection,
            id=old.id,
            version=old.version,
            geometry=old.geometry,
            properties=old.properties,
            valid_from=old.valid_from,
            valid_to=t,
            recorded_at=old.recorded_at,
            hash=old.hash,
        )

    def sync(
        self,
        collection: str,
        features: Iterable[Feature],
        *,
        valid_from: datetime | None = None,
        keep_edits: bool = False,
    ) -> SyncReport:
        spec = self.s.collection(collection)
        t = check_datetime(valid_from, "valid_from", optional=True) or self.recorded_at
        feats = _checked_batch(spec, features)
        live = {
            fid: (int(v), self.s._time(vf), h)
            for fid, v, vf, h in self.s._run(
                f'SELECT feature_id, version, valid_from, hash FROM "{spec.name}"'
            )
        }
        hashes = {f.id: state_hash(f.geometry, dict(f.properties)) for f in feats}
        edited, conflicts = self._edits_of_others(spec.name, hashes) if keep_edits else ({}, [])
        # a source that now says what the edit says is no conflict
        conflicts = [c for c in conflicts if not (c in live and hashes[c] == live[c][2])]
        incoming = {f.id for f in feats}
        new = [f for f in feats if f.id not in live and f.id not in edited]
        changed = [
            f
            for f in feats
            if f.id in live and f.id not in edited and hashes[f.id] != live[f.id][2]
        ]
        gone = sorted(set(live) - incoming - set(edited))
        kept = len((incoming | set(live)) & set(edited))
        after = self.s.reimport_after
        if after is not None and t <= after and (new or changed or gone):
            raise InvalidInterval(_not_after_import(collection, t, after, new, changed, gone))
        if new:
            self.create(collection, new, valid_from=t)
        if changed:
            self._replace_many(spec, changed, live, t)
        if gone:
            for fid in gone:
                ver, vf, h = live[fid]
                if t <= vf:
                    msg = (
                        f"re-import time {format_time(t)!r} does not come after the start "
                        f"{format_time(vf)!r} of {collection}/{fid}"
                    )
                    raise InvalidInterval(msg)
                self._append(spec, fid, ver, "retire", t, h)
            self._write(spec, [], [(fid, live[fid][0], t) for fid in gone], gone, t)
        return SyncReport(
            created=len(new),
            updated=len(changed),
            retired=len(gone),
            unchanged=len(feats) - len(new) - len(changed) - len(incoming & set(edited)),
            kept=kept,
            conflicts=tuple(conflicts),
        )

    def _edits_of_others(
        self, collection: str, incoming: dict[str, str]
    ) -> tuple[dict[str, str], list[str]]:
        """The features whose last change another actor made (id -> that actor), and
        those of them whose ``incoming`` state hash differs from the last state this actor
        wrote (the source changed them too)."""
        last = """SELECT feature_id, actor, content_hash FROM twin_changelog
            WHERE collection = :c AND seq IN (
                SELECT max(seq) FROM twin_changelog WHERE collection = :c {mine}
                GROUP BY feature_id)"""
        edited = {
            str(fid): str(actor)
            for fid, actor, _ in self.s._run(last.format(mine=""), {"c": collection})
            if actor != self.actor
        }
        if not edited:
            return {}, []
        wrote = {
            str(fid): str(h)
            for fid, _, h in self.s._run(
                last.format(mine="AND actor = :a"), {"c": collection, "a": self.actor}
            )
        }
        conflicts = sorted(
            fid for fid in edited if fid in incoming and incoming[fid] != wrote.get(fid)
        )
        return edited, conflicts


def _not_after_import(
    collection: str,
    t: datetime,
    after: datetime,
    new: list[Feature],
    changed: list[Feature],
    gone: list[str],
) -> str:
    """Why a re-import at ``t`` that changes ``collection`` is refused."""
    if t < after:
        when = f"precedes the last import of this twin, valid from {format_time(after)}"
    else:
        when = "is the valid time of the last import of this twin"
    counts = ((len(new), "new"), (len(changed), "changed"), (len(gone), "retired"))
    what = ", ".join(f"{n} {word}" for n, word in counts if n)
    return (
        f"valid_from {format_time(t)} {when}; a re-import that changes the twin must "
        f"describe the city after it, and this one changes {collection} ({what})"
    )


def _tick(previous: datetime | None) -> datetime:
    """The time of a new transaction: now, or a millisecond after the log's last entry.

    The clock counts milliseconds, so two writes in quick succession (two PATCHes of one
    feature through the service, say) could otherwise get the same time; the second would
    then start a version at the instant the first one started. Transactions are serialised
    by the log's lock, so their times strictly increase along the log.
    """
    t = now()
    if previous is not None and t <= previous:
        return previous + timedelta(milliseconds=1)
    return t


def _checked_batch(spec: CollectionSpec, features: Iterable[Feature]) -> list[Feature]:
    """Check every feature of a batch, and that no id comes twice, before any write."""
    feats = [check_feature(f, spec) for f in features]
    seen: set[str] = set()
    dup: set[str] = set()
    for f in feats:
        (dup if f.id in seen else seen).add(f.id)
    if dup:
        msg = f"the batch for {spec.name!r} holds the ids {sorted(dup)[:5]} more than once"
        raise SchemaError(msg)
    return feats
