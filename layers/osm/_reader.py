"""Reading an OSM extract (``.osm.pbf``, ``.osm``, ``.osm.gz``, ``.osm.bz2``) into layers.

One pyosmium :class:`~osmium.FileProcessor` run does it: a first pass over relations
picks the multipolygon and boundary relations to assemble, the second pass streams
every object through a node location index, and osmium's area assembler turns the
relations into areas. A tag filter in C++ keeps untagged nodes (most of a file) out of
Python; no Python object outlives its callback except what the layers need. Polygons
of closed ways, repairs and points on areas are then built on arrays with shapely.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import osmium
import osmium.filter
import osmium.io
import shapely
from tqdm import tqdm

from layers.osm._build import build_layers
from layers.osm._classify import INTERESTING_KEYS
from layers.osm._collect import Collector
from layers.osm._model import OsmExtract
from twin.errors import OSMFileError
from twin.store.base import Feature

__all__ = ["read_osm"]

log = logging.getLogger(__name__)

_FORMATS = ".osm.pbf, .pbf, .osm, .osm.gz, .osm.bz2"
#: Bytes per node, roughly, by format: to size the node location index.
_BYTES_PER_NODE = {"pbf": 9, "osm": 90, "osm.gz": 12, "osm.bz2": 9}
#: Above this many (estimated) nodes the location index goes to a temporary file.
_IN_MEMORY_NODES = 60_000_000


def _sniff(path: Path) -> str:
    """Return the osmium format of ``path`` from its first bytes (and its name)."""
    with path.open("rb") as fh:
        head = fh.read(4096)
    name = path.name.lower()
    if head[:2] == b"\x1f\x8b":
        return "osm.gz"
    if head[:3] == b"BZh":
        return "osm.bz2"
    if len(head) > 14 and b"OSMHeader" in head[4:24]:
        return "pbf"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"<") and b"<osm" in head:
        return "osm"
    msg = (
        f"path={str(path)!r} is not an OSM extract: its content is neither OSM PBF nor "
        f"OSM XML (expected one of {_FORMATS})"
    )
    if name.endswith((".pbf", ".osm")):
        msg += ", whatever its name says"
    raise OSMFileError(msg)


def _check(path: Path) -> str:
    if not path.exists():
        msg = f"path={str(path)!r} does not exist; give an OSM extract ({_FORMATS})"
        raise OSMFileError(msg)
    if not path.is_file():
        msg = f"path={str(path)!r} is not a file; give an OSM extract ({_FORMATS})"
        raise OSMFileError(msg)
    if path.stat().st_size == 0:
        msg = f"path={str(path)!r} is empty; give an OSM extract ({_FORMATS})"
        raise OSMFileError(msg)
    return _sniff(path)


def _location_index(path: Path, fmt: str, stack: ExitStack) -> str:
    """Choose the node location index: in memory for ordinary extracts, a sparse
    temporary file for files too large to index in memory."""
    nodes = path.stat().st_size // _BYTES_PER_NODE[fmt]
    if nodes <= _IN_MEMORY_NODES:
        return "flex_mem"
    tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="twin-osm-"))
    return f"sparse_file_array,{os.path.join(tmp, 'locations.bin')}"


Bounds = tuple[float, float, float, float]


def _header(source: osmium.io.File) -> tuple[Bounds | None, datetime | None]:
    """The header's bounding box and replication timestamp, where it has them."""
    with osmium.io.Reader(source, osmium.osm.NOTHING) as reader:
        header = reader.header()
    box = header.box()
    bounds: Bounds | None = None
    if box.valid():
        ll, ur = box.bottom_left, box.top_right
        bounds = (float(ll.lon), float(ll.lat), float(ur.lon), float(ur.lat))
    for key in ("osmosis_replication_timestamp", "timestamp"):
        text = header.get(key, "")
        try:
            return bounds, datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
        except ValueError:
            continue
    return bounds, None


def _data_bounds(layers: dict[str, list[Feature]]) -> Bounds | None:
    geoms = [f.geometry for feats in layers.values() for f in feats if f.geometry is not None]
    if not geoms:
        return None
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    return float(minx), float(miny), float(maxx), float(maxy)


def read_osm(
    path: str | Path, *, progress: bool = False, location_index: str | None = None
) -> OsmExtract:
    """Read an OSM extract into the twin's map layers.

    Parameters
    ----------
    path
        An ``.osm.pbf``, ``.osm`` (XML), ``.osm.gz`` or ``.osm.bz2`` file. The format is
        told from the content, not the name.
    progress
        Show a progress bar on stderr, counting the objects of interest read (untagged
        nodes are not counted: osmium skips them before Python sees them).
    location_index
        An osmium node location index (``"flex_mem"``, ``"sparse_file_array,<file>"``,
        ...); by default one suited to the file's size.

    Returns
    -------
    OsmExtract
        Features of every layer in :data:`layers.osm.LAYERS`, the import issues, the
        bounds and the timestamp of the extract.

    Raises
    ------
    OSMFileError
        When ``path`` is missing, empty, not OSM, or corrupt; the message names it.

    Notes
    -----
    Feature ids are ``n<id>``, ``w<id>`` and ``r<id>``. Properties hold no value that
    changes between imports of the same data, so re-reading an unchanged object gives
    an equal feature. Polygons that are invalid are repaired with
    :func:`shapely.make_valid`; objects whose geometry cannot be built (nodes missing
    from a cut extract, broken or incomplete multipolygons) are left out; both are
    listed in ``issues`` and in the ``osm_import_issues`` layer, or, for a restricted
    layer's objects, in the restricted ``osm_import_issues_restricted``. A line that lost
    nodes at the edge of a cut extract keeps its longest located run and is listed as
    repaired.

    Examples
    --------
    >>> extract = read_osm("data/helsinki.osm.pbf")  # doctest: +SKIP
    >>> len(extract.layers["traffic_signals"])  # doctest: +SKIP
    135
    """
    path = Path(path)
    fmt = _check(path)

    collector = Collector()
    with ExitStack() as stack:
        index = location_index or _location_index(path, fmt, stack)
        keys = osmium.filter.KeyFilter(*INTERESTING_KEYS)
        bar = stack.enter_context(
            tqdm(
                desc=f"reading {path.name}",
                unit=" objects",
                disable=not progress,
                file=sys.stderr,
                leave=False,
            )
        )
        try:
            source = osmium.io.File(str(path), fmt)
            bounds, stamp = _header(source)
            processor = (
                osmium.FileProcessor(source)
                .with_locations(index)
                .with_areas(osmium.filter.KeyFilter(*INTERESTING_KEYS))
                .with_filter(keys)
            )
            step = 0
            for obj in processor:
                collector.add(obj)
                step += 1
                if step == 2000:
                    bar.update(step)
                    step = 0
            bar.update(step)
        except (RuntimeError, osmium.InvalidLocationError) as exc:
            msg = f"path={str(path)!r} is not a readable OSM extract: {exc}"
            raise OSMFileError(msg) from None
    layers, issues = build_layers(collector)
    if bounds is None:
        bounds = _data_bounds(layers)
    log.info("read %s: %s", path.name, ", ".join(f"{k}={len(v)}" for k, v in layers.items()))
    return OsmExtract(
        layers=layers,
        issues=issues,
        bounds=bounds,
        timestamp=stamp or collector.newest,
    )
