"""The SUMO side of a validation: the road extract, netconvert, and the network read back.

:func:`write_roads` keeps the drivable ways of an OSM extract (optionally clipped to a
bounding box) in one ``.osm`` file that both the twin's road graph and netconvert read,
so the plan and the simulation see the same streets. :func:`build_network` runs
netconvert with options that keep OSM node ids in junction and traffic-light ids;
:func:`read_network` reads the result into arrays: edges, lane permissions, the
connections between edges and which traffic-light link each connection is.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from routing.profiles import _CAR_ROADS
from twin.errors import OSMFileError, TwinError

__all__ = [
    "NETCONVERT_OPTIONS",
    "SimulationError",
    "SumoNet",
    "build_network",
    "read_network",
    "sumo_home",
    "write_roads",
]

log = logging.getLogger(__name__)

_ROADS = _CAR_ROADS | {"busway", "bus_guideway"}

#: netconvert options: OSM signals placed at the junction they surround and joined into
#: one controller per intersection, junction ids listing every OSM node they join.
NETCONVERT_OPTIONS: tuple[str, ...] = (
    "--geometry.remove",
    "--roundabouts.guess",
    "--ramps.guess",
    "--junctions.join",
    "--tls.guess-signals",
    "--tls.join",
    "--tls.discard-simple",
    "--max-join-ids",
    "10000",
    "--output.original-names",
    "--no-turnarounds.except-deadend",
    "--remove-edges.isolated",
    "--keep-edges.by-vclass",
    "passenger,emergency,bus",
    "--no-warnings",
)

_INT = re.compile(r"\d+")


class SimulationError(TwinError, RuntimeError):
    """SUMO is missing, or netconvert or the simulation failed (HTTP 503)."""

    status = 503
    code = "ServiceUnavailable"


_PROJ_VARS = ("PROJ_LIB", "PROJ_DATA")


def sumo_home() -> Path:
    """The SUMO installation of the ``eclipse-sumo`` package.

    Importing ``sumo`` points PROJ_LIB/PROJ_DATA at SUMO's own PROJ database, which
    breaks pyproj and rasterio in this process; the variables are put back, and SUMO's
    programs get theirs through :func:`sumo_env`.
    """
    try:
        with keep_proj_env():
            import sumo
    except ImportError as exc:
        msg = "SUMO is not installed; install the 'eclipse-sumo' package"
        raise SimulationError(msg) from exc
    return Path(sumo.SUMO_HOME)


@contextlib.contextmanager
def keep_proj_env() -> Iterator[None]:
    """Undo what SUMO's Python packages do to PROJ_LIB/PROJ_DATA when they are imported."""
    saved = {k: os.environ.get(k) for k in _PROJ_VARS}
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def sumo_env() -> dict[str, str]:
    """The environment for SUMO's programs: SUMO_HOME and SUMO's PROJ database."""
    home = sumo_home()
    proj = str(home / "data" / "proj")
    return {**os.environ, "SUMO_HOME": str(home), "PROJ_LIB": proj, "PROJ_DATA": proj}


def _read(path: Path, kind: Any) -> Iterator[Any]:
    """The objects of one kind in an extract."""
    import osmium

    yield from osmium.FileProcessor(str(path), kind)


def write_roads(
    src: str | Path,
    dst: Path,
    *,
    bbox: tuple[float, float, float, float] | None = None,
) -> int:
    """Write the drivable ways of ``src`` (and turn restrictions) to the ``.osm`` file ``dst``.

    Parameters
    ----------
    src
        An ``.osm.pbf`` or ``.osm`` extract.
    dst
        The ``.osm`` XML file written.
    bbox
        ``(west, south, east, north)`` in degrees: keep only nodes inside; a way keeps
        its longest run of kept nodes.

    Returns
    -------
    int
        The number of ways written.
    """
    import osmium

    path = Path(src)
    if not path.is_file():
        msg = f"osm={str(src)!r} is not a file"
        raise OSMFileError(msg)
    need: set[int] = set()
    try:
        for w in _read(path, osmium.osm.WAY):
            if w.tags.get("highway") in _ROADS and w.tags.get("area") != "yes":
                need.update(n.ref for n in w.nodes)
        keep: dict[int, Any] = {}
        for n in _read(path, osmium.osm.NODE):
            if n.id not in need or not n.location.valid():
                continue
            lon, lat = n.location.lon, n.location.lat
            if bbox is None or (bbox[0] <= lon <= bbox[2] and bbox[1] <= lat <= bbox[3]):
                keep[n.id] = osmium.osm.mutable.Node(
                    id=n.id, location=(lon, lat), tags={t.k: t.v for t in n.tags}
                )
    except RuntimeError as exc:
        msg = f"osm={str(src)!r} cannot be read as an OSM extract: {exc}"
        raise OSMFileError(msg) from exc
    ways: list[Any] = []
    used: set[int] = set()
    for w in _read(path, osmium.osm.WAY):
        if w.tags.get("highway") not in _ROADS or w.tags.get("area") == "yes":
            continue
        best: list[int] = []
        run: list[int] = []
        for ref in [*(n.ref for n in w.nodes), None]:
            if ref is not None and ref in keep:
                run.append(ref)
                continue
            if len(run) > len(best):
                best = run
            run = []
        if len(best) >= 2:
            tags = {t.k: t.v for t in w.tags}
            ways.append(osmium.osm.mutable.Way(id=w.id, nodes=best, tags=tags))
            used.update(best)
    if not ways:
        msg = f"osm={str(src)!r} holds no drivable road" + (
            f" inside bbox={bbox!r}" if bbox else ""
        )
        raise OSMFileError(msg)
    rels = [
        osmium.osm.mutable.Relation(
            id=r.id,
            members=[(m.type, m.ref, m.role) for m in r.members],
            tags={t.k: t.v for t in r.tags},
        )
        for r in _read(path, osmium.osm.RELATION)
        if r.tags.get("type") == "restriction"
    ]
    if dst.exists():
        dst.unlink()
    with osmium.SimpleWriter(str(dst)) as writer:
        for nid in sorted(used):
            writer.add_node(keep[nid])
        for way in ways:
            writer.add_way(way)
        for rel in rels:
            writer.add_relation(rel)
    log.info("%s: %d drivable ways, %d nodes written to %s", path.name, len(ways), len(used), dst)
    return len(ways)


def build_network(roads: Path, out: Path, *, seed: int = 0) -> Path:
    """Run netconvert on an ``.osm`` file written by :func:`write_roads`."""
    exe = sumo_home() / "bin" / "netconvert"
    cmd = [str(exe), "--osm-files", str(roads), "-o", str(out), "--seed", str(seed)]
    cmd += list(NETCONVERT_OPTIONS)
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=sumo_env())
    if done.returncode != 0 or not out.is_file():
        msg = f"netconvert failed on {roads.name!r}: {done.stderr.strip()[-500:]}"
        raise SimulationError(msg)
    return out


@dataclass
class SumoNet:
    """A SUMO network as arrays; edge ``i`` is ``edge_ids[i]`` (internal edges left out).

    ``arcs`` lists the connections ``(from edge, to edge)`` an emergency vehicle may take;
    ``links`` maps a connection to the ``(tls id, link index)`` pairs that control it,
    ``approach`` a ``(tls id, from edge)`` to every link index of that approach and
    ``next_links`` an edge to its controlled ``(to edge, tls id, link index)`` triples.
    """

    path: Path
    edge_ids: list[str]
    from_j: list[str]
    to_j: list[str]
    length_m: NDArray[np.float64]
    speed_ms: NDArray[np.float64]
    lanes: NDArray[np.int64]
    ev_ok: NDArray[np.bool_]
    car_ok: NDArray[np.bool_]
    verts: NDArray[np.float64]
    offsets: NDArray[np.int64]
    arcs: NDArray[np.int64]
    junction_xy: dict[str, tuple[float, float]]
    junction_tls: dict[str, str]
    links: dict[tuple[int, int], list[tuple[str, int]]]
    approach: dict[tuple[str, int], list[int]]
    proj: str
    offset: tuple[float, float]
    index: dict[str, int] = field(default_factory=dict)
    next_links: dict[int, list[tuple[int, str, int]]] = field(default_factory=dict)

    @property
    def edge_count(self) -> int:
        return len(self.edge_ids)

    @property
    def tls_ids(self) -> list[str]:
        return sorted(set(self.junction_tls.values()))

    def to_xy(self, lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.float64]:
        """Network coordinates (metres) of CRS84 points."""
        from pyproj import Transformer

        t = Transformer.from_crs("EPSG:4326", self.proj, always_xy=True)
        x, y = t.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        return np.column_stack([np.asarray(x) + self.offset[0], np.asarray(y) + self.offset[1]])

    def junction_tokens(self, junction: str) -> list[int]:
        """The OSM node ids a junction id names (a joined junction names several)."""
        return [int(t) for t in _INT.findall(junction)]


def _allows(lane: ET.Element, vclass: str) -> bool:
    """Whether a lane (or a connection) lets ``vclass`` through."""
    allow = lane.get("allow")
    if allow is not None:
        return vclass in allow.split() or "all" in allow.split()
    disallow = lane.get("disallow")
    return disallow is None or vclass not in disallow.split()


def read_network(path: Path) -> SumoNet:
    """Read a ``.net.xml`` file into a :class:`SumoNet`."""
    edge_ids: list[str] = []
    from_j: list[str] = []
    to_j: list[str] = []
    lengths: list[float] = []
    speeds: list[float] = []
    lanes: list[int] = []
    ev_ok: list[bool] = []
    car_ok: list[bool] = []
    shapes: list[NDArray[np.float64]] = []
    lane_ev: dict[tuple[str, int], bool] = {}
    junction_xy: dict[str, tuple[float, float]] = {}
    conns: list[tuple[str, str, int, int, str | None, int, bool]] = []
    proj, offset = "", (0.0, 0.0)
    for _, el in ET.iterparse(path, events=("end",)):
        tag = el.tag
        if tag == "location":
            proj = el.get("projParameter", "")
            dx, dy = (float(v) for v in el.get("netOffset", "0,0").split(","))
            offset = (dx, dy)
        elif tag == "edge":
            if el.get("function") is None:
                ls = el.findall("lane")
                edge_ids.append(el.get("id", ""))
                from_j.append(el.get("from", ""))
                to_j.append(el.get("to", ""))
                lengths.append(float(ls[0].get("length", "0")))
                speeds.append(max(float(ls[0].get("speed", "13.89")), 1.0))
                lanes.append(len(ls))
                evs = [_allows(ln, "emergency") for ln in ls]
                for i, ok in enumerate(evs):
                    lane_ev[(edge_ids[-1], i)] = ok
                ev_ok.append(any(evs))
                car_ok.append(any(_allows(ln, "passenger") for ln in ls))
                shape = ls[len(ls) // 2].get("shape", "")
                shapes.append(
                    np.array([[float(v) for v in p.split(",")[:2]] for p in shape.split()])
                )
            el.clear()
        elif tag == "junction":
            if el.get("type") != "internal":
                junction_xy[el.get("id", "")] = (float(el.get("x", "0")), float(el.get("y", "0")))
            el.clear()
        elif tag == "connection":
            src = el.get("from", "")
            if not src.startswith(":"):
                conns.append(
                    (
                        src,
                        el.get("to", ""),
                        int(el.get("fromLane", "0")),
                        int(el.get("toLane", "0")),
                        el.get("tl"),
                        int(el.get("linkIndex", "-1")),
                        # a connection may restrict its lanes' classes (a bus-only turn)
                        _allows(el, "emergency"),
                    )
                )
            el.clear()
    if not proj:
        msg = f"{str(path)!r} is not a geo-referenced SUMO network"
        raise SimulationError(msg)
    index = {e: i for i, e in enumerate(edge_ids)}
    arcs: set[tuple[int, int]] = set()
    links: dict[tuple[int, int], list[tuple[str, int]]] = {}
    approach: dict[tuple[str, int], list[int]] = {}
    junction_tls: dict[str, str] = {}
    next_links: dict[int, list[tuple[int, str, int]]] = {}
    for a, b, la, lb, tl, li, conn_ev in conns:
        if a not in index or b not in index:
            continue
        ia, ib = index[a], index[b]
        if conn_ev and lane_ev.get((a, la), False) and lane_ev.get((b, lb), False):
            arcs.add((ia, ib))
        if tl is not None and li >= 0:
            links.setdefault((ia, ib), []).append((tl, li))
            approach.setdefault((tl, ia), []).append(li)
            next_links.setdefault(ia, []).append((ib, tl, li))
            junction_tls[to_j[ia]] = tl
    sizes = np.fromiter((len(s) for s in shapes), dtype=np.int64, count=len(shapes))
    offsets = np.zeros(len(shapes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    return SumoNet(
        path=path,
        edge_ids=edge_ids,
        from_j=from_j,
        to_j=to_j,
        length_m=np.asarray(lengths),
        speed_ms=np.asarray(speeds),
        lanes=np.asarray(lanes, dtype=np.int64),
        ev_ok=np.asarray(ev_ok, dtype=np.bool_),
        car_ok=np.asarray(car_ok, dtype=np.bool_),
        verts=np.concatenate(shapes) if shapes else np.zeros((0, 2)),
        offsets=offsets,
        arcs=np.asarray(sorted(arcs), dtype=np.int64).reshape(-1, 2),
        junction_xy=junction_xy,
        junction_tls=junction_tls,
        links=links,
        approach={k: sorted(set(v)) for k, v in approach.items()},
        proj=proj,
        offset=offset,
        index=index,
        next_links=next_links,
    )
