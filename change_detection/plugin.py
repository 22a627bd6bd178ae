"""Registration of the change_detection package with the twin kernel.

It owns the ``permits``, ``change_patches`` and ``illegal_building_cases`` collections,
fills them in the build with a demo run over generated epochs of the city, adds the
``twin change`` commands and the ``detect-changes`` process.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from twin.plugins import Plugin, WriteCheck, patched_properties

if TYPE_CHECKING:
    import click

    from twin.build import BuildContext
    from twin.store import CollectionSpec

__all__ = ["plugin"]


def _collections() -> Sequence[CollectionSpec]:
    from change_detection._collections import COLLECTIONS

    return COLLECTIONS


def _build(ctx: BuildContext) -> None:
    from change_detection.demo import build_demo

    build_demo(ctx)


def _cli() -> Sequence[click.Command]:
    from change_detection.cli import change_group

    return (change_group,)


def _check_case(old: Any, new: Any, actor: str) -> Any:
    """The case workflow, for writes through the service (POST, PUT or PATCH of a case):
    see :func:`change_detection.cases.check_case_write`; the footprint stays as detected.

    ``updated_by`` is named by the write when its body gives it (a PUT's body is the
    whole case, so the name it holds counts as given, even the name of the version
    before); a write that names nobody records a change of status or note as made by
    ``actor`` (the API key's digest).
    """
    from change_detection.cases import check_case_geometry, check_case_write
    from twin.store import Feature

    if new is None:
        _refuse_retiring(old)
    given = dict(new.properties)
    if old is not None and _names_nobody(old.properties, given):
        given.pop("updated_by", None)
    props = check_case_write(
        None if old is None else old.properties, given, actor=actor, case_id=new.id
    )
    if old is not None:
        check_case_geometry(old.geometry, new.geometry, case_id=new.id)
    return Feature(new.id, new.geometry, props)


def _refuse_retiring(current: Any) -> NoReturn:
    """A case is never retired (DELETE): it would vanish from the lists and the report, and
    the next detection over the same ground would raise it again. It ends in the workflow.
    """
    from change_detection.cases import CaseStatus
    from twin.errors import ConflictError

    msg = (
        f"case {current.id!r} cannot be deleted: cases are kept, "
        "with their history, and stay reportable; end it through its status instead "
        f"(PATCH status to {CaseStatus.DISMISSED.value!r} after a review, with a note "
        f"saying why, or to {CaseStatus.CLOSED.value!r} after enforcement; it is "
        f"{current.properties.get('status')!r} now)"
    )
    raise ConflictError(msg)


def _names_nobody(current: Any, given: Any) -> bool:
    """Whether a write to a case that holds ``current`` names nobody in ``updated_by``: a
    PATCH that leaves it out (its merge carries over the name of the version before), or
    a PUT that sends back, as read, the key digest recorded for a write that named nobody
    (a name no body may give)."""
    from change_detection.cases import check_by
    from twin.errors import InvalidInput

    named = patched_properties.get()
    if named is not None:
        return "updated_by" not in named
    value = given.get("updated_by")
    if value is None or value != current.get("updated_by"):
        return False
    try:
        check_by(value)
    except InvalidInput:
        return True
    return False


def _check_permit(old: Any, new: Any, actor: str) -> Any:
    """A permit written through the service keeps its number, area and a valid interval:
    see :func:`change_detection.permits.check_permit_write`."""
    from change_detection.permits import check_permit_write

    return check_permit_write(old, new, actor)


def _write_checks() -> dict[str, WriteCheck]:
    return {"illegal_building_cases": _check_case, "permits": _check_permit}


def _processes() -> dict[str, dict[str, Any]]:
    return {
        "detect-changes": {
            "processor": {
                "name": "change_detection.process.DetectChangesProcessor",
                "twin_role": "editor",
            }
        }
    }


plugin = Plugin(
    name="change_detection",
    requires=("layers", "addressing"),
    collections=_collections,
    build=_build,
    cli=_cli,
    processes=_processes,
    write_checks=_write_checks,
)
