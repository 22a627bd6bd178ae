"""Registration of the change_detection package with the twin kernel.

It owns the ``permits``, ``change_patches`` and ``illegal_building_cases`` collections,
fills them in the build with a demo run over generated epochs of the city, adds the
``twin change`` commands and the ``detect-changes`` process.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from twin.plugins import Plugin, WriteCheck

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
    see :func:`change_detection.cases.check_case_write`; the footprint stays as detected."""
    from change_detection.cases import check_case_geometry, check_case_write
    from twin.store import Feature

    if new is None:
        return None  # retiring a case is an editor's decision, kept in its history
    given = dict(new.properties)
    if old is not None and given.get("updated_by") == old.properties.get("updated_by"):
        given.pop("updated_by", None)  # carried over, not named by this write
    props = check_case_write(
        None if old is None else old.properties, given, actor=actor, case_id=new.id
    )
    if old is not None:
        check_case_geometry(old.geometry, new.geometry, case_id=new.id)
    return Feature(new.id, new.geometry, props)


def _write_checks() -> dict[str, WriteCheck]:
    return {"illegal_building_cases": _check_case}


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
