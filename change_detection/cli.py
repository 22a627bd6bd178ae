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

from change_detection.large import AUTO_TILE, AUTO_TILED_PIXELS, header
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


#: The smallest tile side --tile takes.
MIN_TILE = 64


def _tile_size(before: Path, tile: int | None) -> int:
    """The tile side of the run (0: whole images), from --tile or BEFORE's size."""
    if tile is not None:
        if 0 < tile < MIN_TILE:
            msg = f"--tile={tile} is too small: give 0 (whole images) or at least {MIN_TILE}"
            raise click.BadParameter(msg, param_hint="--tile")
        return tile
    from change_detection import large

    return large.AUTO_TILE if header(before).pixels > large.AUTO_TILED_PIXELS else 0


def _count_set(mask: Path) -> int:
    """The set pixels of a 0/255 mask file, read block by block."""
    import numpy as np

    from change_detection.raster import _open_image

    with _open_image(mask) as (src, _):
        return sum(int(np.count_nonzero(src.read(1, window=w))) for _, w in src.block_windows(1))


def _detect_tiled(
    before: Path,
    after: Path,
    out: str,
    method: str,
    res: float | None,
    patches: str | None,
    weights: Path | None,
    tile: int,
    scheduler: str | None,
    workers: int,
    progress: bool,
) -> None:
    """``detect`` tile by tile on Dask: the mask and the patches, both or neither."""
    from change_detection.outputs import write_patches
    from change_detection.raster import discard_mask, move_mask
    from change_detection.tiled import detect_tiled, tile_windows

    if weights is not None:
        if scheduler not in (None, "sync"):
            msg = (
                "--weights cannot reach the workers of another Dask cluster; set "
                "TWIN_SIAMESE_WEIGHTS on them instead"
            )
            raise click.BadParameter(msg, param_hint="--weights")
        # the local workers start from this environment
        os.environ["TWIN_SIAMESE_WEIGHTS"] = str(weights)
    target = Path(out)
    fd, pending = tempfile.mkstemp(prefix=".mask-", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    try:
        frame = detect_tiled(
            before,
            after,
            method=method,
            tile=tile,
            scheduler=scheduler,
            n_workers=workers,
            progress=progress,
            mask_path=pending,
            res=res,
        )
        if patches is not None:
            write_patches(frame, patches, name="--patches")
        move_mask(pending, target)
    finally:
        discard_mask(pending)
    head = header(target)
    rows, cols = head.rows, head.cols
    summary: dict[str, Any] = {
        "changed_pixels": _count_set(target),
        "tiles": len(tile_windows(rows, cols, tile)),
        "mask": out,
    }
    if patches is not None:
        summary["patches"] = len(frame)
    click.echo(json.dumps(summary))


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
@_res_option("Pixel size in metres; by default from BEFORE's grid (1 m without georeferencing).")
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
@click.option(
    "--tile",
    type=click.IntRange(min=0),
    default=None,
    help=(
        "Run tile by tile, with windowed reads in bounded memory, on Dask: tiles of this "
        f"many pixels a side (at least {MIN_TILE}); 0 reads both images whole. By default "
        f"an image over {AUTO_TILED_PIXELS // 1_000_000} megapixels runs in tiles of "
        f"{AUTO_TILE} px, a smaller one whole."
    ),
)
@click.option(
    "--scheduler",
    default=None,
    help=(
        "Tiled runs: the address of a Dask scheduler (tcp://host:8786) to run on, or "
        "'sync' to run in this process; a local cluster by default."
    ),
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Tiled runs: worker processes of the local Dask cluster.",
)
@click.option("--progress/--no-progress", default=True, help="Tiled runs: show a progress bar.")
def detect(
    before: Path,
    after: Path,
    out: str,
    method: str,
    res: float | None,
    patches: str | None,
    weights: Path | None,
    tile: int | None,
    scheduler: str | None,
    workers: int,
    progress: bool,
) -> None:
    """Detect change from BEFORE to AFTER and write a mask.

    BEFORE and AFTER are GeoTIFF/COG, PNG or JPEG files, with or without a world file;
    other formats, a GDAL VRT among them, are refused, for their content can name other
    files. Both outputs are checked before the detection runs, and written whole or not
    at all. A large image runs tile by tile on Dask (see --tile); its summary gives the
    number of tiles instead of the shift.
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
    tile = _tile_size(before, tile)
    if tile:
        _detect_tiled(
            before, after, out, method, res, patches, weights, tile, scheduler, workers, progress
        )
        return
    if scheduler is not None:
        msg = "--scheduler applies to tiled runs; give --tile too (or leave --scheduler out)"
        raise click.BadParameter(msg, param_hint="--scheduler")
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
