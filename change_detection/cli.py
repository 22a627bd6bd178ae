"""The ``twin change`` command group: detect, evaluate, train, demo and cases.

Heavy imports happen inside the commands, so that ``twin --help`` stays fast.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import click

from change_detection.siamese import (
    DEFAULT_EPOCHS,
    DEFAULT_MEMBERS,
    DEFAULT_PASTE,
    DEFAULT_SCALE,
)
from twin.cli import TwinGroup, db_option
from twin.errors import InvalidInput

__all__ = ["change_group"]

log = logging.getLogger(__name__)


@click.group(name="change")
def change_group() -> None:
    """Change detection between two epochs of imagery."""


_WEIGHTS = click.option(
    "--weights",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Weights file of the siamese detector (from 'twin change train').",
)


METHOD_HELP = (
    "Detector: building (building-aware, the default), building_new (new neighbourhoods on "
    "open land), cva (change vector analysis) or siamese (learned; needs --weights)."
)


def _check_res(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    """``--res``: a finite pixel size within the range detection accepts."""
    from change_detection.pipeline import check_res

    try:
        return check_res(value, name=f"--{param.name}")
    except InvalidInput as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


def _res_option(help_: str) -> Any:
    from change_detection.pipeline import RES_RANGE

    low, high = RES_RANGE
    return click.option(
        "--res",
        type=float,
        default=None,
        callback=_check_res,
        help=f"{help_} From {low:g} to {high:g}.",
    )


def _detector(method: str, weights: Path | None) -> Any:
    """The detector named ``method``; ``weights`` goes to the siamese detector only."""
    from change_detection.detectors import get_detector

    if weights is None:
        return get_detector(method)
    if method != "siamese":
        msg = f"--weights applies to --method siamese, not --method {method!r}"
        raise InvalidInput(msg)
    return get_detector(method, weights=weights)


@change_group.command()
@click.argument("before", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("after", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False),
    help=(
        "Mask to write, 0/255 on BEFORE's grid: .png, .tif or .tiff. A GeoTIFF holds "
        "BEFORE's georeferencing; a PNG gets a world file beside it (mask.pgw) when BEFORE "
        "is georeferenced."
    ),
)
@click.option("--method", default="building", show_default=True, help=METHOD_HELP)
@_res_option("Pixel size in metres for images without georeferencing.")
@click.option(
    "--patches",
    type=click.Path(dir_okay=False),
    default=None,
    help=(
        "Also write the change patches: .geojson (GeoJSON) or .gpkg (GeoPackage). An "
        "existing file is replaced whole; a twin's GeoPackage is refused."
    ),
)
@_WEIGHTS
def detect(
    before: Path,
    after: Path,
    out: str,
    method: str,
    res: float | None,
    patches: str | None,
    weights: Path | None,
) -> None:
    """Detect change from BEFORE to AFTER and write a mask.

    BEFORE and AFTER are GeoTIFF/COG, PNG or JPEG files, with or without a world file;
    other formats, a GDAL VRT among them, are refused, for their content can name other
    files. Both outputs are checked before the detection runs, and written whole or not
    at all.
    """
    from change_detection.outputs import check_output, check_patches_path, write_patches
    from change_detection.pipeline import detect_pair
    from change_detection.raster import (
        MASK_SUFFIXES,
        discard_mask,
        move_mask,
        read_raster,
        write_mask,
    )

    detector = _detector(method, weights)
    check_output(out, name="--out", suffixes=MASK_SUFFIXES)
    for name, image in (("BEFORE", before), ("AFTER", after)):
        if Path(out).resolve() == Path(image).resolve():
            msg = f"--out={str(out)!r} is the {name} image; write the mask to another file"
            raise click.BadParameter(msg, param_hint="--out")
    if patches is not None:
        check_patches_path(patches, name="--patches")
    result = detect_pair(read_raster(before), read_raster(after), method=detector, res=res)
    summary: dict[str, Any] = {
        "changed_pixels": int(result.mask.sum()),
        "threshold": result.detection.threshold,
        "shift": list(result.shift),
        "mask": out,
    }
    if patches is None:
        write_mask(result.mask, out, transform=result.transform, crs=result.crs)
        click.echo(json.dumps(summary))
        return
    from change_detection.objects import mask_to_patches

    frame = mask_to_patches(result)
    # The mask waits beside its target until the patches are written: both or neither.
    target = Path(out)
    fd, pending = tempfile.mkstemp(prefix=".mask-", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    try:
        write_mask(result.mask, pending, transform=result.transform, crs=result.crs)
        write_patches(frame, patches, name="--patches")
        move_mask(pending, target)
    finally:
        discard_mask(pending)
    summary["patches"] = len(frame)
    click.echo(json.dumps(summary))


@change_group.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--method", default="building", show_default=True, help=METHOD_HELP)
@_res_option("Pixel size in metres of the chips (they carry no georeferencing).")
@click.option("--per-image", is_flag=True, help="Also print each image's metrics.")
@_WEIGHTS
def evaluate(
    folder: Path, method: str, res: float | None, per_image: bool, weights: Path | None
) -> None:
    """Score a detector on FOLDER (A/ before, B/ after, label/ change)."""
    from change_detection.evaluate import evaluate as run

    scores = run(_detector(method, weights), folder, res=res)
    out: dict[str, object] = {"method": method, **scores.summary()}
    if per_image:
        out["per_image"] = scores.per_image
    click.echo(json.dumps(out))


@change_group.command()
@click.argument("folders", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False),
    help="Weights file to write (checked before training; replaced whole on success).",
)
@click.option(
    "--epochs", type=int, default=DEFAULT_EPOCHS, show_default=True, help="Passes over the data."
)
@click.option("--size", type=int, default=128, show_default=True, help="Training crop side, px.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the run.")
@click.option("--threads", type=int, default=2, show_default=True, help="CPU threads.")
@click.option(
    "--crops",
    type=float,
    default=1.0,
    show_default=True,
    help="Crops per pair and pass, in chip areas.",
)
@click.option(
    "--focus", type=float, default=0.0, show_default=True, help="Share of crops over a change."
)
@click.option(
    "--scale",
    type=(float, float),
    default=DEFAULT_SCALE,
    show_default=True,
    help="Range of the random rescaling of the crops (LOW HIGH).",
)
@click.option("--lr", type=float, default=2e-3, show_default=True, help="Peak learning rate.")
@click.option(
    "--paste",
    type=float,
    default=DEFAULT_PASTE,
    show_default=True,
    help="Share of crops given the changed objects of another pair's crop.",
)
@click.option(
    "--members",
    type=int,
    default=DEFAULT_MEMBERS,
    show_default=True,
    help="Networks trained from successive seeds, their probabilities averaged.",
)
def train(
    folders: tuple[Path, ...],
    out: str,
    epochs: int,
    size: int,
    seed: int,
    threads: int,
    crops: float,
    focus: float,
    scale: tuple[float, float],
    lr: float,
    paste: float,
    members: int,
) -> None:
    """Train the siamese detector on FOLDERS (each A/ before, B/ after, label/ change)."""
    from change_detection.outputs import check_output
    from change_detection.siamese import folder_pairs
    from change_detection.siamese import train as run

    check_output(out, name="--out")
    pairs = [p for folder in folders for p in folder_pairs(folder)]
    summary = run(
        pairs,
        out,
        epochs=epochs,
        size=size,
        seed=seed,
        threads=threads,
        crops=crops,
        focus=focus,
        scale=scale,
        lr=lr,
        paste=paste,
        members=members,
    )
    click.echo(json.dumps(summary))


@change_group.command()
@db_option
@click.option(
    "--size",
    type=float,
    default=500.0,
    show_default=True,
    help="Side in metres, from 100 to 2000.",
)
@click.option(
    "--seed",
    type=click.IntRange(0, 2**32 - 1),
    default=0,
    show_default=True,
    help="Seed of the epochs, from 0 to 4294967295.",
)
@click.option("--method", default="building", show_default=True, help=METHOD_HELP)
def demo(db: str, size: float, seed: int, method: str) -> None:
    """Generated epochs of the twin's city, permits and one detection run into the twin.

    The options are checked before the twin is opened.
    """
    from change_detection.demo import check_demo_options, run_demo
    from twin.store import open_store

    check_demo_options(size=size, seed=seed, method=method)
    with open_store(db, create=False) as store:
        if "buildings" not in {c.name for c in store.collections()}:
            msg = f"the twin at {db} has no buildings to render epochs from; run 'twin build'"
            raise InvalidInput(msg)
        out = run_demo(store, size=size, seed=seed, method=method, actor="twin change demo")
    click.echo(json.dumps(out))


_STATUS = click.Choice(["new", "under_review", "confirmed", "dismissed", "enforced", "closed"])


@change_group.group(cls=TwinGroup)
def cases() -> None:
    """Suspected illegal building cases: list, change status, report."""


def _case_row(fv: Any) -> dict[str, Any]:
    from twin.temporal import format_time

    p = fv.properties
    return {
        "case_id": fv.id,
        "status": p.get("status"),
        "since": format_time(fv.valid_from),
        "version": fv.version,
        "area_m2": p.get("area_m2"),
        "confidence": p.get("confidence"),
        "address_code": p.get("address_code"),
        "address_label": p.get("address_label"),
        "updated_by": p.get("updated_by"),
        "note": p.get("note"),
        "run_id": p.get("run_id"),
    }


@cases.command(name="list")
@click.option("--status", type=_STATUS, default=None, help="Only cases in this status.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "text"]),
    default="text",
    show_default=True,
    help="Output as JSON or as lines of text.",
)
@db_option
def list_(status: str | None, fmt: str, db: str) -> None:
    """List the current cases, by case id."""
    from change_detection.cases import list_cases
    from twin.store import open_store

    with open_store(db, create=False) as store:
        rows = [_case_row(fv) for fv in list_cases(store, status)]
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    if not rows:
        click.echo("No cases." if status is None else f"No cases in status {status!r}.")
    for r in rows:
        area = f"{r['area_m2']:.0f} m²" if r["area_m2"] is not None else "-"
        click.echo(
            f"{r['case_id']}  {r['status']:<12} {area:>8}  conf {r['confidence'] or 0:.2f}  "
            f"{r['address_label'] or '(no address)'}  since {r['since']} by {r['updated_by']}"
        )


@cases.command(name="set")
@click.argument("case_id")
@click.argument("status", type=_STATUS)
@click.option(
    "--by",
    "by",
    required=True,
    help="Who makes the change: 1-128 letters, digits, spaces and . _ - @.",
)
@click.option(
    "--note",
    default=None,
    help=(
        "Why: at most 2000 characters, no control characters but line breaks and tabs. "
        "Needed to move a case to dismissed."
    ),
)
@db_option
def set_(case_id: str, status: str, by: str, note: str | None, db: str) -> None:
    """Move CASE_ID to STATUS (the workflow decides which moves are allowed)."""
    from change_detection.cases import set_status
    from twin.store import open_store

    with open_store(db, create=False) as store:
        fv = set_status(store, case_id, status, by=by, note=note)
        click.echo(json.dumps(_case_row(fv), ensure_ascii=False))


@cases.command()
@db_option
def report(db: str) -> None:
    """Counts by status, and every dismissed case with who dismissed it and why."""
    from change_detection.cases import dismissed_report, status_counts
    from twin.store import open_store

    with open_store(db, create=False) as store:
        out = {"counts": status_counts(store), "dismissed": dismissed_report(store)}
    click.echo(json.dumps(out, ensure_ascii=False))
