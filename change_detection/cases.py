"""The workflow of suspected illegal building cases.

A case starts ``new``. An analyst takes it ``under_review``; the review ends ``confirmed``
or ``dismissed``. A confirmed case is ``enforced`` and finally ``closed``; a dismissed one
may be reopened (back to ``under_review``) when new evidence comes. Every change of status
is a new version of the case feature, written with the name of who made it (also the
actor of the change log) and when; nothing is deleted, so dismissed cases stay reportable.

::

    new -> under_review -> confirmed -> enforced -> closed
                      \\-> dismissed -> (reopened) under_review
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from change_detection._collections import CASES
from twin.errors import ConflictError, InvalidInput
from twin.store import Query, Store
from twin.store.base import FeatureVersion
from twin.store.filters import Compare, CompareOp
from twin.temporal import format_time

__all__ = [
    "OPEN_STATUSES",
    "TRANSITIONS",
    "CaseStatus",
    "StatusChange",
    "case_history",
    "check_by",
    "check_case_write",
    "check_note",
    "check_status_change",
    "check_transition",
    "dismissed_report",
    "list_cases",
    "parse_status",
    "set_status",
    "status_counts",
]

log = logging.getLogger(__name__)


class CaseStatus(StrEnum):
    """Where a case stands."""

    NEW = "new"
    UNDER_REVIEW = "under_review"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"
    ENFORCED = "enforced"
    CLOSED = "closed"


#: The statuses each status may move to.
TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.NEW: frozenset({CaseStatus.UNDER_REVIEW}),
    CaseStatus.UNDER_REVIEW: frozenset({CaseStatus.CONFIRMED, CaseStatus.DISMISSED}),
    CaseStatus.CONFIRMED: frozenset({CaseStatus.ENFORCED}),
    CaseStatus.DISMISSED: frozenset({CaseStatus.UNDER_REVIEW}),
    CaseStatus.ENFORCED: frozenset({CaseStatus.CLOSED}),
    CaseStatus.CLOSED: frozenset(),
}

#: Cases a new detection over the same ground is matched to instead of raising a new one.
#: A dismissed case matches too: the same false alarm is not raised again (it stays
#: reportable and can be reopened). A closed case does not: a building found again after
#: a case was closed is a new case.
OPEN_STATUSES: frozenset[CaseStatus] = frozenset(set(CaseStatus) - {CaseStatus.CLOSED})


def parse_status(value: Any, *, name: str = "status") -> CaseStatus:
    """A status from its name; InvalidInput naming the choices otherwise."""
    try:
        return CaseStatus(str(value).strip().lower())
    except ValueError:
        msg = (
            f"{name}={value!r} is not a case status; choose one of {[s.value for s in CaseStatus]}"
        )
        raise InvalidInput(msg) from None


def check_transition(current: Any, target: Any, *, case_id: str = "") -> CaseStatus:
    """Check that a case may move from ``current`` to ``target``; return the target.

    Raises
    ------
    InvalidInput
        ``target`` (or ``current``) is not a status.
    ConflictError
        The workflow does not allow the move (the message names both statuses).
    """
    src = parse_status(current, name="current status")
    dst = parse_status(target)
    allowed = TRANSITIONS[src]
    if dst not in allowed:
        what = f"case {case_id!r}" if case_id else "a case"
        nxt = sorted(s.value for s in allowed)
        tail = f"from {src.value!r} it may go to {nxt}" if nxt else f"{src.value!r} is final"
        msg = f"{what} cannot go from {src.value!r} to {dst.value!r}; {tail}"
        raise ConflictError(msg)
    return dst


#: Longest name of who changes a case, and longest note.
BY_MAX = 128
NOTE_MAX = 2000
#: Besides letters and digits (of any script), the characters a name may hold.
_BY_EXTRA = frozenset(" ._-@")
#: The control characters a note may hold: line breaks and tabs.
_NOTE_CONTROLS = frozenset("\n\t")


def check_by(by: Any, *, name: str = "by") -> str:
    """Check who makes a change and return it stripped: 1-128 characters, each a letter,
    a digit, a space or one of ``. _ - @`` (no control character, no emoji).

    Raises
    ------
    InvalidInput
        Anything else.
    """
    what = f"{name}={by!r} must name who makes the change"
    if not isinstance(by, str) or not by.strip() or len(by.strip()) > BY_MAX:
        msg = f"{what} (1-{BY_MAX} characters)"
        raise InvalidInput(msg)
    bad = sorted({c for c in by.strip() if not (c.isalnum() or c in _BY_EXTRA)})
    if bad:
        msg = f"{what} in letters, digits, spaces and . _ - @ only, not {''.join(bad)!r}"
        raise InvalidInput(msg)
    return by.strip()


def check_note(note: Any, *, name: str = "note") -> str | None:
    """Check a note: ``None``, or text of at most 2000 characters with no control
    character but line breaks and tabs. Returns it as given, ``None`` when blank.

    Raises
    ------
    InvalidInput
        Anything else.
    """
    if note is None:
        return None
    if not isinstance(note, str):
        msg = f"{name}={note!r} must be text"
        raise InvalidInput(msg)
    if len(note) > NOTE_MAX:
        msg = f"{name} holds {len(note)} characters; at most {NOTE_MAX} are kept"
        raise InvalidInput(msg)
    bad = sorted(
        {c for c in note if unicodedata.category(c) in ("Cc", "Cs") and c not in _NOTE_CONTROLS}
    )
    if bad:
        msg = (
            f"{name} holds control characters {''.join(bad)!r}; only line breaks and tabs are kept"
        )
        raise InvalidInput(msg)
    return note if note.strip() else None


def check_status_change(target: CaseStatus, note: str | None, *, case_id: str = "") -> None:
    """The rules of a status change beyond the workflow: a dismissal says why.

    Raises
    ------
    InvalidInput
        A move to ``dismissed`` without a (non-blank) note.
    """
    if target is CaseStatus.DISMISSED and not (note and note.strip()):
        what = f"case {case_id!r}" if case_id else "a case"
        msg = f"dismissing {what} needs a note saying why (the report lists it)"
        raise InvalidInput(msg)


def set_status(
    store: Store,
    case_id: str,
    status: Any,
    *,
    by: str,
    note: str | None = None,
    at: datetime | None = None,
) -> FeatureVersion:
    """Move a case to ``status`` as a new version, recording ``by``, the time and ``note``.

    Parameters
    ----------
    store
        The twin.
    case_id
        The case (its feature id).
    status
        The new status (a :class:`CaseStatus` or its name).
    by
        Who makes the change; written as ``updated_by`` and as the change log's actor
        (see :func:`check_by`).
    note
        Why; kept on this version only (earlier notes stay in the history). At most
        2000 characters (see :func:`check_note`); required to dismiss a case.
    at
        The valid time of the change (now by default).

    Returns
    -------
    FeatureVersion
        The new version.

    Raises
    ------
    twin.errors.FeatureNotFound
        No such case.
    twin.errors.ConflictError
        The workflow does not allow the move, or the case changed meanwhile.
    twin.errors.InvalidInput
        An unknown status, a bad ``by`` or ``note``, or a dismissal without a note.
    """
    who = check_by(by)
    target = parse_status(status)
    note = check_note(note)
    with store.transaction(actor=who) as tx:
        current = store.get(CASES.name, case_id)
        check_transition(current.properties.get("status"), target, case_id=case_id)
        check_status_change(target, note, case_id=case_id)
        fv = tx.patch(
            CASES.name,
            case_id,
            properties={"status": target.value, "updated_by": who, "note": note},
            valid_from=at,
            expected_version=current.version,
        )
    log.info("case %s: %s -> %s by %s", case_id, current.properties.get("status"), target, who)
    return fv


def check_case_write(
    current: Mapping[str, Any] | None, new: Mapping[str, Any], *, actor: str
) -> dict[str, Any]:
    """Check a write of a case's properties from outside (an HTTP PATCH, PUT or POST).

    A new case must start ``new``; a status change must follow the workflow and the
    rules of :func:`set_status` (a dismissal needs a note; the note of the version
    before is not carried over), and records ``actor`` as ``updated_by`` when the body
    names nobody. A name in ``updated_by`` and a ``note`` are checked as
    :func:`set_status` checks them. Returns the properties to write. Meant for a write
    hook of the service.
    """
    props = dict(new)
    if props.get("updated_by") is not None:
        props["updated_by"] = check_by(props["updated_by"], name="updated_by")
    if "note" in props:
        props["note"] = check_note(props["note"])
    status = props.get("status")
    if current is None:
        if status is not None and parse_status(status) is not CaseStatus.NEW:
            msg = f"a new case starts with status 'new', not {status!r}"
            raise ConflictError(msg)
        return props
    before = current.get("status")
    if status is not None and status != before:
        case_id = str(current.get("case_id", ""))
        target = check_transition(before, status, case_id=case_id)
        if "note" in props and props["note"] == current.get("note"):
            props["note"] = None  # the note of the version before, not one for this change
        check_status_change(target, props.get("note"), case_id=case_id)
        if not props.get("updated_by"):
            props["updated_by"] = actor
    return props


@dataclass(frozen=True)
class StatusChange:
    """One version of a case, as a step of its workflow."""

    version: int
    status: str
    by: str | None
    at: datetime
    note: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "status": self.status,
            "by": self.by,
            "at": format_time(self.at),
            "note": self.note,
        }


def case_history(store: Store, case_id: str) -> list[StatusChange]:
    """Every version of a case as (status, who, when, note), oldest first."""
    return [
        StatusChange(
            fv.version,
            str(fv.properties.get("status")),
            fv.properties.get("updated_by"),
            fv.valid_from,
            fv.properties.get("note"),
        )
        for fv in store.history(CASES.name, case_id)
    ]


def list_cases(store: Store, status: Any = None) -> list[FeatureVersion]:
    """The current cases, by case id; only those in ``status`` when given."""
    where = None
    if status is not None:
        where = Compare("status", CompareOp.EQ, parse_status(status).value)
    if CASES.name not in {c.name for c in store.collections()}:
        return []
    return list(store.query(CASES.name, Query(where=where, sort=(("id", True),))))


def status_counts(store: Store) -> dict[str, int]:
    """How many current cases there are in each status (every status listed)."""
    counts = {s.value: 0 for s in CaseStatus}
    for fv in list_cases(store):
        key = str(fv.properties.get("status"))
        counts[key] = counts.get(key, 0) + 1
    return counts


def dismissed_report(store: Store) -> list[dict[str, Any]]:
    """Every dismissed case: who dismissed it, when, why, and its evidence summary.

    Dismissed cases are the false alarms; they are kept and listed here so that they
    can be reviewed (and the detector's settings revisited) rather than forgotten.
    """
    out = []
    for fv in list_cases(store, CaseStatus.DISMISSED):
        p = fv.properties
        out.append(
            {
                "case_id": fv.id,
                "dismissed_by": p.get("updated_by"),
                "dismissed_at": format_time(fv.valid_from),
                "note": p.get("note"),
                "area_m2": p.get("area_m2"),
                "confidence": p.get("confidence"),
                "address_label": p.get("address_label"),
                "run_id": p.get("run_id"),
                "history": [h.to_dict() for h in case_history(store, fv.id)],
            }
        )
    return out
