"""The workflow of suspected illegal building cases.

A case starts ``new``. An analyst takes it ``under_review``; the review ends ``confirmed``
or ``dismissed``. A confirmed case is ``enforced`` and finally ``closed``; a dismissed one
may be reopened (back to ``under_review``) when new evidence comes. Every change of status
is a new version of the case feature, written with the name of who made it (also the
actor of the change log) and when; nothing is deleted, so dismissed cases stay reportable.

::

    new -> under_review -> confirmed -> enforced -> closed
                      \\-> dismissed -> (reopened) under_review

Writes through the service (:func:`check_case_write`) change only the workflow's
properties: the evidence the detection gave a case, and its footprint, stay as found.
"""

from __future__ import annotations

import logging
import math
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from change_detection._collections import CASES
from twin.errors import ConflictError, InvalidInput
from twin.store import FieldType, Query, Store
from twin.store.base import FeatureVersion
from twin.store.filters import Compare, CompareOp
from twin.temporal import format_time, parse_datetime

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

__all__ = [
    "EVIDENCE",
    "OPEN_STATUSES",
    "TRANSITIONS",
    "WORKFLOW_FIELDS",
    "CaseStatus",
    "StatusChange",
    "case_history",
    "check_by",
    "check_case_geometry",
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
#: The only invisible format characters (Unicode category Cf) kept, and only between two
#: letters: the zero-width non-joiner and joiner that some scripts (Persian, the Indic
#: ones) need to spell words. Any other (bidirectional overrides and isolates, zero-width
#: spaces, soft hyphens, byte order marks) can make a name or a note read other than it is.
_JOINERS = frozenset("\u200c\u200d")


def check_by(by: Any, *, name: str = "by") -> str:
    """Check who makes a change and return it stripped: 1-128 characters, each a letter
    (with its combining marks), a digit, a space or one of ``. _ - @`` (no control or
    format character, no emoji; a zero-width joiner or non-joiner only between two
    letters, as some scripts spell names with them).

    Raises
    ------
    InvalidInput
        Anything else.
    """
    what = f"{name}={by!r} must name who makes the change"
    if not isinstance(by, str) or not by.strip() or len(by.strip()) > BY_MAX:
        msg = f"{what} (1-{BY_MAX} characters)"
        raise InvalidInput(msg)
    text = by.strip()
    bad = sorted(
        {
            c
            for i, c in enumerate(text)
            if not (
                c.isalnum() or c in _BY_EXTRA or _marks_letter(text, i) or _joins_letters(text, i)
            )
        }
    )
    if bad:
        msg = f"{what} in letters, digits, spaces and . _ - @ only, not {''.join(bad)!r}"
        raise InvalidInput(msg)
    return by.strip()


def check_note(note: Any, *, name: str = "note") -> str | None:
    """Check a note: ``None``, or text of at most 2000 characters with no control
    character but line breaks and tabs, and no invisible format character (Unicode
    category Cf) but a zero-width joiner or non-joiner between two letters. Returns it as
    given, ``None`` when blank.

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
    hidden = sorted(
        {
            c
            for i, c in enumerate(note)
            if unicodedata.category(c) == "Cf" and not _joins_letters(note, i)
        }
    )
    if hidden:
        msg = (
            f"{name} holds invisible format characters {''.join(hidden)!r} (such as "
            "bidirectional overrides); only a zero-width joiner or non-joiner between "
            "two letters is kept"
        )
        raise InvalidInput(msg)
    return note if note.strip() else None


def _marks_letter(text: str, i: int) -> bool:
    """Whether ``text[i]`` is a combining mark (a vowel sign, a virama, an accent) on a
    letter: one after a letter or after another mark."""
    return (
        i > 0
        and unicodedata.category(text[i])[0] == "M"
        and unicodedata.category(text[i - 1])[0] in "LM"
    )


def _joins_letters(text: str, i: int) -> bool:
    """Whether ``text[i]`` is a zero-width joiner or non-joiner between two letters (a
    letter's combining marks count as part of it)."""
    if text[i] not in _JOINERS or i == 0 or i == len(text) - 1:
        return False
    return all(unicodedata.category(c)[0] in "LM" for c in (text[i - 1], text[i + 1]))


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


#: The properties a write through the service may change: the workflow's. Every other
#: property of a case is evidence of the detection that raised it (:data:`EVIDENCE`).
WORKFLOW_FIELDS: frozenset[str] = frozenset({"status", "updated_by", "note"})
#: The properties a detection gives a case (its number, area, confidence, patch, run,
#: method, epochs, nearest address, image chips, when it was raised): a write through the
#: service keeps them, and the footprint, as they are.
EVIDENCE: tuple[str, ...] = tuple(f.name for f in CASES.fields if f.name not in WORKFLOW_FIELDS)
#: The ranges of a new case's numbers (lowest, highest; ``None``: unbounded).
_RANGES: dict[str, tuple[float, float | None]] = {
    "area_m2": (0.0, None),
    "confidence": (0.0, 1.0),
    "address_distance_m": (0.0, None),
}


def check_case_write(
    current: Mapping[str, Any] | None,
    new: Mapping[str, Any],
    *,
    actor: str,
    case_id: str | None = None,
) -> dict[str, Any]:
    """Check a write of a case's properties from outside (an HTTP PATCH, PUT or POST).

    ``new`` holds every property of the version to write (a PATCH merged onto
    ``current``), ``current`` those of the version before (``None`` for a POST) and
    ``case_id`` the feature id. Returns the properties to write. Meant for a write hook
    of the service.

    - ``status`` is required and must be a case status (it is written by its name).
    - A new case starts ``new``; its ``case_id`` is its feature id (filled in when not
      given), ``area_m2`` and ``address_distance_m`` are not negative and
      ``confidence`` lies in [0, 1].
    - A write to a case keeps its evidence (:data:`EVIDENCE`) as it is; only the
      workflow's properties change. A status change follows the workflow and the rules
      of :func:`set_status` (a dismissal needs a note; the note of the version before is
      not carried over).
    - ``updated_by`` names who made the last change of status or note, as
      :func:`set_status` records it: a write that changes either records the name its
      body gives, or ``actor`` when it names nobody; a write that changes neither keeps
      the name of the version before and may not name another. (The change log records
      the key of every write, whatever the body says.)
    - A name in ``updated_by`` and a ``note`` are checked as :func:`set_status` checks
      them.

    Raises
    ------
    InvalidInput
        A missing or unknown status, a changed piece of evidence, a number out of range,
        a ``case_id`` that is not the feature id, a bad name or note, a dismissal
        without a note, or a new ``updated_by`` without a change of status or note.
    ConflictError
        The workflow does not allow the change of status, or a new case that does not
        start ``new``.
    """
    props = dict(new)
    if props.get("updated_by") is not None:
        props["updated_by"] = check_by(props["updated_by"], name="updated_by")
    if "note" in props:
        props["note"] = check_note(props["note"])
    status = props.get("status")
    if status is None:
        msg = (
            "status is required: a case is always in one of "
            f"{[s.value for s in CaseStatus]} (a new one in 'new')"
        )
        raise InvalidInput(msg)
    target = parse_status(status)
    props["status"] = target.value
    if current is None:
        if target is not CaseStatus.NEW:
            msg = f"a new case starts with status 'new', not {status!r}"
            raise ConflictError(msg)
        _check_new_evidence(props, case_id)
        if not props.get("updated_by"):
            props["updated_by"] = actor
        return props
    label = str(current.get("case_id") or case_id or "")
    _check_evidence_kept(current, props, case_id=label)
    before = current.get("status")
    if target.value != before:
        check_transition(before, target, case_id=label)
        if "note" in props and props["note"] == current.get("note"):
            props["note"] = None  # the note of the version before, not one for this change
        check_status_change(target, props.get("note"), case_id=label)
    elif props.get("note") == current.get("note"):
        named = props.get("updated_by")
        if named is not None and named != current.get("updated_by"):
            msg = (
                f"updated_by={named!r} names who made the last change of status or note of "
                f"case {label!r}; it changes only with one of them"
            )
            raise InvalidInput(msg)
        props.pop("updated_by", None)
        if current.get("updated_by") is not None:
            props["updated_by"] = current["updated_by"]
        return props
    if not props.get("updated_by"):
        props["updated_by"] = actor
    return props


def check_case_geometry(
    current: BaseGeometry | None, new: BaseGeometry | None, *, case_id: str
) -> None:
    """A write to a case keeps its footprint, the detected outline its area is measured on
    (equal within 1e-9 degrees, about 0.1 mm, in any vertex order).

    Raises
    ------
    InvalidInput
        Another geometry, or none.
    """
    if current is None and new is None:
        return
    if (
        current is not None
        and new is not None
        and current.normalize().equals_exact(new.normalize(), 1e-9)
    ):
        return
    msg = (
        f"the geometry of case {case_id!r} is the footprint its detection found and "
        "cannot be changed through a write; send it as it is, or leave it out of a PATCH"
    )
    raise InvalidInput(msg)


def _shown(value: Any) -> str:
    """A value for a message: its repr, cut at 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "..."


def _same(kind: FieldType, a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if kind is FieldType.DATETIME:
        try:
            return parse_datetime(a) == parse_datetime(b)
        except (InvalidInput, TypeError):
            return bool(a == b)
    return bool(a == b)


def _check_evidence_kept(
    current: Mapping[str, Any], props: Mapping[str, Any], *, case_id: str
) -> None:
    for f in CASES.fields:
        if f.name in WORKFLOW_FIELDS:
            continue
        was, now = current.get(f.name), props.get(f.name)
        if not _same(f.type, was, now):
            msg = (
                f"{f.name} is evidence of the detection that raised case {case_id!r} and "
                f"cannot be changed through a write (it is {_shown(was)}, the write gives "
                f"{_shown(now)}); only status, updated_by and note change"
            )
            raise InvalidInput(msg)


def _check_new_evidence(props: dict[str, Any], case_id: str | None) -> None:
    given = props.get("case_id")
    if case_id is not None:
        if given is None:
            props["case_id"] = case_id
        elif given != case_id:
            msg = f"case_id={_shown(given)} must be the feature id {case_id!r}"
            raise InvalidInput(msg)
    for name, (low, high) in _RANGES.items():
        value = props.get(name)
        if value is None:
            continue
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if (
            not number
            or not math.isfinite(value)
            or value < low
            or (high is not None and value > high)
        ):
            span = f"from {low:g} to {high:g}" if high is not None else f"at least {low:g}"
            msg = f"{name}={_shown(value)} must be a number {span}"
            raise InvalidInput(msg)


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
