"""The graph cache file: a road graph's arrays, safe to read and checked against its use.

The file is a numpy ``.npz`` archive of plain arrays (read with ``allow_pickle=False``,
so reading one runs no code) and a JSON header: the format and its version, the vehicle
profile, the OSM extract the graph was built from (its path, size and modification
time), and the graph's non-array data (street names, turn restrictions, stations).
:func:`read_cache` refuses a file that is not such a cache (:class:`InvalidInput`) and
one written for another profile, extract or version (:class:`StaleGraphCache`).
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from routing._build import Net
from routing._osm import Restriction, Station
from routing.errors import StaleGraphCache
from routing.profiles import Profile
from twin.errors import InvalidInput
from twin.files import write_atomic

__all__ = ["CACHE_FORMAT", "CACHE_VERSION", "read_cache", "source_of", "write_cache"]

#: What the header's ``format`` says.
CACHE_FORMAT = "city-twin-road-graph"
#: The version of the file layout; a cache of another version is stale.
CACHE_VERSION = 2

#: Node arrays, edge arrays and the rest, with the dtype each is read back as.
_NODE_ARRAYS = {
    "osm_ids": np.int64,
    "lon": np.float64,
    "lat": np.float64,
    "cluster": np.int32,
    "signal_nodes": np.bool_,
}
_EDGE_ARRAYS = {
    "tail": np.int32,
    "head": np.int32,
    "length_m": np.float64,
    "time_s": np.float64,
    "signal_delay_s": np.float64,
}
_OTHER_ARRAYS = {
    "coords": np.float64,
    "offsets": np.int64,
    "cluster_ids": np.int64,
    "way_ids": np.int64,
    "way_offsets": np.int64,
}
_ARRAYS = {**_NODE_ARRAYS, **_EDGE_ARRAYS, **_OTHER_ARRAYS}


def source_of(path: str | Path) -> dict[str, Any]:
    """What identifies an OSM extract: its absolute path, size and modification time."""
    p = Path(path).resolve()
    st = p.stat()
    return {"path": str(p), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def write_cache(
    path: str | Path,
    net: Net,
    *,
    snap_limit_m: float,
    turn_rules: bool,
    source: dict[str, Any] | None,
    name: str = "cache",
) -> None:
    """Write ``net`` to the cache file ``path`` (whole or not at all)."""
    ways = [list(w) for w in net.ways]
    header = {
        "format": CACHE_FORMAT,
        "version": CACHE_VERSION,
        "profile": asdict(net.profile) | {"default_kmh": dict(net.profile.default_kmh)},
        "source": source,
        "snap_limit_m": snap_limit_m,
        "turn_rules": turn_rules,
        "names": net.names,
        "highways": net.highways,
        "restrictions": [asdict(r) for r in net.restrictions],
        "unsupported_restrictions": net.unsupported_restrictions,
        "stations": [asdict(s) for s in net.stations],
        "build_s": net.build_s,
    }
    arrays = {k: getattr(net, k) for k in (*_NODE_ARRAYS, *_EDGE_ARRAYS)}
    arrays |= {"coords": net.coords, "offsets": net.offsets, "cluster_ids": net.cluster_ids}
    arrays["way_ids"] = np.asarray([w for way in ways for w in way], dtype=np.int64)
    arrays["way_offsets"] = np.cumsum([0, *map(len, ways)], dtype=np.int64)
    blob = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, header=blob, **arrays)

    write_atomic(path, write, name=name)


def _not_a_cache(path: str | Path, name: str, why: str) -> InvalidInput:
    return InvalidInput(f"{name}={str(path)!r} is not a road graph cache ({why}); delete it")


def read_cache(
    path: str | Path,
    *,
    profile: Profile | None = None,
    source: dict[str, Any] | None = None,
    name: str = "cache",
) -> tuple[Net, float, bool, dict[str, Any] | None]:
    """Read a cache file: the net, the snap limit, the turn rules flag and the source.

    Parameters
    ----------
    path
        The cache file.
    profile, source
        When given, the profile and the extract (:func:`source_of`) the cache must have
        been built for.
    name
        How messages name the file.

    Raises
    ------
    InvalidInput
        The file cannot be read or is not a road graph cache.
    StaleGraphCache
        It is one, but of another format version, profile or extract.
    """
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except OSError as exc:
        msg = f"{name}={str(path)!r} cannot be read: {exc.strerror or exc}"
        raise InvalidInput(msg) from None
    if not magic:
        raise _not_a_cache(path, name, "the file is empty")
    if magic[:1] == b"\x80":
        raise _not_a_cache(path, name, "an old pickle cache, which is no longer read")
    if not magic.startswith(b"PK"):
        raise _not_a_cache(path, name, "not an .npz archive")
    try:
        with np.load(path, allow_pickle=False) as z:
            header = json.loads(bytes(z["header"]).decode())
            if not isinstance(header, dict) or header.get("format") != CACHE_FORMAT:
                raise _not_a_cache(path, name, "no road graph header")
            if header.get("version") != CACHE_VERSION:
                msg = (
                    f"{name}={str(path)!r} is a road graph cache of version "
                    f"{header.get('version')!r}, not {CACHE_VERSION}"
                )
                raise StaleGraphCache(msg)
            prof = _profile(header["profile"])
            _check_use(path, name, prof, header.get("source"), profile, source)
            arrays = {k: np.asarray(z[k], dtype=t) for k, t in _ARRAYS.items()}
    except InvalidInput:  # also a ValueError: let it through as it is
        raise
    except (OSError, EOFError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
        raise _not_a_cache(path, name, f"{type(exc).__name__}: {exc}") from None
    net = _net(path, name, prof, header, arrays)
    return net, float(header["snap_limit_m"]), bool(header["turn_rules"]), header.get("source")


def _profile(data: dict[str, Any]) -> Profile:
    return Profile(**{**data, "access_keys": tuple(data["access_keys"])})


def _check_use(
    path: str | Path,
    name: str,
    got: Profile,
    got_source: Any,
    profile: Profile | None,
    source: dict[str, Any] | None,
) -> None:
    if profile is not None and got != profile:
        msg = (
            f"{name}={str(path)!r} holds the graph of profile {got.name!r}"
            + (" with other settings" if got.name == profile.name else "")
            + f", not {profile.name!r}"
        )
        raise StaleGraphCache(msg)
    if source is not None and got_source != source:
        was = got_source.get("path") if isinstance(got_source, dict) else None
        msg = (
            f"{name}={str(path)!r} was built from "
            + ("another extract" if was is None else f"{was!r}")
            + f", not from {source['path']!r} as it is now (size or modification time differ)"
        )
        raise StaleGraphCache(msg)


def _net(
    path: str | Path, name: str, prof: Profile, header: dict[str, Any], a: dict[str, Any]
) -> Net:
    try:
        nodes, edges = len(a["osm_ids"]), len(a["tail"])
        way_off = a["way_offsets"]
        ok = (
            all(len(a[k]) == nodes and a[k].ndim == 1 for k in _NODE_ARRAYS)
            and all(len(a[k]) == edges and a[k].ndim == 1 for k in _EDGE_ARRAYS)
            and len(header["names"]) == edges
            and len(header["highways"]) == edges
            and a["coords"].ndim == 2
            and a["coords"].shape[1] == 2
            and len(a["offsets"]) == edges + 1
            and len(way_off) == edges + 1
            and (edges == 0 or (a["tail"].min() >= 0 and a["head"].min() >= 0))
            and (edges == 0 or max(a["tail"].max(), a["head"].max()) < nodes)
            and bool(np.all(np.diff(a["offsets"]) >= 0))
            and (a["offsets"][-1] == len(a["coords"]))
            and bool(np.all(np.diff(way_off) >= 0))
            and way_off[-1] == len(a["way_ids"])
        )
        if not ok:
            raise ValueError("its arrays do not fit together")
        ids = a["way_ids"].tolist()
        bounds = way_off.tolist()
        ways = [tuple(ids[bounds[i] : bounds[i + 1]]) for i in range(edges)]
        return Net(
            profile=prof,
            **{k: a[k] for k in (*_NODE_ARRAYS, *_EDGE_ARRAYS)},
            names=[str(v) for v in header["names"]],
            highways=[str(v) for v in header["highways"]],
            ways=ways,
            coords=a["coords"],
            offsets=a["offsets"],
            cluster_ids=a["cluster_ids"],
            restrictions=[Restriction(**r) for r in header["restrictions"]],
            unsupported_restrictions=int(header["unsupported_restrictions"]),
            stations=[Station(**s) for s in header["stations"]],
            build_s={str(k): float(v) for k, v in dict(header["build_s"]).items()},
        )
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise _not_a_cache(path, name, f"damaged: {exc}") from None
