"""The ``twin change`` command group: detect, evaluate, demo.

Heavy imports happen inside the commands, so that ``twin --help`` stays fast.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

__all__ = ["change_group"]

log = logging.getLogger(__name__)


@click.group(name="change")
def change_group() -> None:
    """Change detection between two epochs of imagery."""


@change_group.command()
@click.argument("before", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("after", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Mask to write, 0/255 on BEFORE's grid: .png, .tif or .tiff.",
)
@click.option("--method", default="building", show_default=True, help="Detector name.")
@click.option(
    "--res",
    type=float,
    default=None,
    help="Pixel size in metres for images without georeferencing.",
)
@click.option(
    "--patches",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the change patches (GeoJSON or GeoPackage by extension).",
)
def detect(
    before: Path, after: Path, out: Path, method: str, res: float | None, patches: Path | None
) -> None:
    """Detect change from BEFORE to AFTER and write a mask."""
    from change_detection.detectors import get_detector
    from change_detection.errors import MaskWriteError
    from change_detection.pipeline import detect_paths
    from change_detection.raster import write_mask

    get_detector(method)
    if out.suffix.lower() not in {".png", ".tif", ".tiff"}:
        msg = f"--out={str(out)!r} has an unknown extension; use one of ['.png', '.tif', '.tiff']"
        raise MaskWriteError(msg)
    result = detect_paths(before, after, method=method, res=res)
    write_mask(result.mask, out, transform=result.transform, crs=result.crs)
    summary = {
        "changed_pixels": int(result.mask.sum()),
        "threshold": result.detection.threshold,
        "shift": list(result.shift),
        "mask": str(out),
    }
    if patches is not None:
        from change_detection.objects import mask_to_patches

        frame = mask_to_patches(result)
        frame.to_file(patches)
        summary["patches"] = len(frame)
    click.echo(json.dumps(summary))


@change_group.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--method", default="building", show_default=True, help="Detector name.")
@click.option(
    "--res",
    type=float,
    default=None,
    help="Pixel size in metres of the chips (they carry no georeferencing).",
)
@click.option("--per-image", is_flag=True, help="Also print each image's metrics.")
def evaluate(folder: Path, method: str, res: float | None, per_image: bool) -> None:
    """Score a detector on FOLDER (A/ before, B/ after, label/ change)."""
    from change_detection.evaluate import evaluate as run

    scores = run(method, folder, res=res)
    out: dict[str, object] = {"method": method, **scores.summary()}
    if per_image:
        out["per_image"] = scores.per_image
    click.echo(json.dumps(out))
