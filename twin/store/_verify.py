"""Re-check the hash chain of the change log and every stored version against it.

Finds, and names, the first broken link: an edited or removed log entry, a version row
edited behind the store's back, a version without a log entry, a current row that is
not its feature's last version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from twin.errors import StoreError
from twin.store._hashing import GENESIS, chain_hash, state_hash
from twin.store.base import FeatureVersion, Query, VerifyReport
from twin.temporal import Interval, format_time

if TYPE_CHECKING:
    from twin.store._sql import SqlStore

__all__ = ["verify_store"]

_ALL_VERSIONS = Interval(None, datetime(9999, 12, 31, tzinfo=UTC))
_NO_SEQ = 10**18


@dataclass
class _Expected:
    """What the log says one version must look like."""

    seq: int
    content: str
    valid_from: str
    valid_to: str | None = None


def _check_log(store: SqlStore) -> tuple[VerifyReport | None, dict, dict]:
    rows = store._run(
        "SELECT seq, collection, feature_id, version, op, at, recorded_at, actor, "
        "content_hash, prev_hash, hash FROM twin_changelog ORDER BY seq"
    )
    prev, want = GENESIS, 1
    expect: dict[tuple[str, str, int], _Expected] = {}
    last_of: dict[tuple[str, str], tuple[int, bool]] = {}
    for seq, coll, fid, ver, op, at, rec, actor, content, prev_hash, h in rows:
        seq, ver = int(seq), int(ver)
        at_s, rec_s = format_time(store._time(at)), format_time(store._time(rec))
        where = f"change-log entry seq {seq} ({coll}/{fid} version {ver}, {op})"
        if seq != want:
            text = (
                f"change-log entry seq {want} is missing (the next entry is seq {seq}): "
                "an entry was removed"
            )
            return VerifyReport(False, want - 1, text, want), expect, last_of
        if prev_hash != prev:
            text = (
                f"{where}: its previous-hash is not the hash of seq {seq - 1}: the log was edited"
            )
            return VerifyReport(False, seq - 1, text, seq), expect, last_of
        again = chain_hash(
            seq=seq,
            collection=coll,
            feature_id=fid,
            version=ver,
            op=op,
            at=at_s,
            recorded_at=rec_s,
            actor=actor,
            content_hash=content,
            prev_hash=prev_hash,
        )
        if again != h:
            text = f"{where}: its hash does not match its content: the entry was edited"
            return VerifyReport(False, seq - 1, text, seq), expect, last_of
        prev, want = h, want + 1
        if op in ("create", "update"):
            before = expect.get((coll, fid, ver - 1))
            if before is not None and before.valid_to is None:
                before.valid_to = at_s
            expect[(coll, fid, ver)] = _Expected(seq, content, at_s)
            last_of[(coll, fid)] = (ver, True)
        elif op == "retire":
            e = expect.get((coll, fid, ver))
            if e is not None:
                e.valid_to = at_s
            last_of[(coll, fid)] = (ver, False)
    return None, expect, last_of


def _check_version(v: FeatureVersion, e: _Expected | None, label: str) -> tuple[int, str] | None:
    if e is None:
        return _NO_SEQ, f"{label} has no change-log entry: it was added behind the store's back"
    if state_hash(v.geometry, v.properties) != e.content or v.hash != e.content:
        return (
            e.seq,
            f"{label} does not match its logged hash (change-log seq {e.seq}): the row was edited",
        )
    if format_time(v.valid_from) != e.valid_from:
        return (
            e.seq,
            f"{label} has valid_from {format_time(v.valid_from)}, the log says {e.valid_from} (seq {e.seq})",
        )
    vt = None if v.valid_to is None else format_time(v.valid_to)
    if vt != e.valid_to:
        return e.seq, f"{label} has valid_to {vt}, the log says {e.valid_to} (seq {e.seq})"
    return None


def verify_store(store: SqlStore) -> VerifyReport:
    """Check the whole store; report the first problem in change-log order.

    A store too damaged to read (a dropped table, an unreadable geometry) is a problem
    too: the report names what could not be read.
    """
    unreadable: tuple[type[Exception], ...] = (*store.db_errors, StoreError)
    try:
        return _verify(store)
    except unreadable as exc:
        return VerifyReport(False, 0, f"the twin cannot be read: {exc}")


def _verify(store: SqlStore) -> VerifyReport:
    broken, expect, last_of = _check_log(store)
    if broken is not None:
        return broken
    checked = len(store._run("SELECT seq FROM twin_changelog"))
    problems: list[tuple[int, str]] = []
    for spec in store.collections():
        seen: set[tuple[str, str, int]] = set()
        offset, page = 0, 5000
        while True:
            q = Query(time=_ALL_VERSIONS, limit=page, offset=offset)
            vs = store.query(spec.name, q).features
            if not vs:
                break
            offset += len(vs)
            for v in vs:
                key = (spec.name, v.id, v.version)
                seen.add(key)
                p = _check_version(v, expect.get(key), f"{spec.name}/{v.id} version {v.version}")
                if p:
                    problems.append(p)
        for (coll, fid, ver), e in expect.items():
            if coll == spec.name and (coll, fid, ver) not in seen:
                problems.append(
                    (
                        e.seq,
                        f"{coll}/{fid} version {ver} is logged at seq {e.seq} but missing from the store: it was deleted",
                    )
                )
        current = store.query(spec.name, Query()).features
        live = {v.id: v.version for v in current}
        for v in current:
            label = f"current {spec.name}/{v.id} (version {v.version})"
            p = _check_version(v, expect.get((spec.name, v.id, v.version)), label)
            if p and "valid_to" not in p[1]:
                problems.append(p)
        for (coll, fid), (ver, alive) in last_of.items():
            if coll != spec.name:
                continue
            if alive and live.get(fid) != ver:
                problems.append(
                    (
                        _NO_SEQ - 1,
                        f"{coll}/{fid} should be current at version {ver}; the current layer has {live.get(fid)}",
                    )
                )
            if not alive and fid in live:
                problems.append(
                    (_NO_SEQ - 1, f"{coll}/{fid} was retired but is in the current layer")
                )
    if problems:
        seq, text = min(problems)
        return VerifyReport(False, checked, text, seq if seq < _NO_SEQ - 1 else None)
    return VerifyReport(True, checked)
