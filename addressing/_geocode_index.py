"""The in-memory geocoding index: built once per store, then searched without the store.

The index holds every current standard address (code, labels, entrance position, house
number, building and the building's own code from ``sub_addresses``) and every street
name in both languages in compact form (see
:mod:`addressing._geocode_text`). A search scores all street names at once with
rapidfuzz (the mean of the Indel and OSA edit similarities, and the same against the
names' prefixes for text cut short), then ranks the doorplates of the best streets by house number and postcode.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from addressing._geocode_text import Query, compact, fold, number_key, number_range
from addressing._missing import text_or_none
from twin.errors import CollectionNotFound
from twin.store import Store
from twin.store.watch import ChangeWatch

if TYPE_CHECKING:
    import pyproj
    from scipy.spatial import cKDTree

__all__ = ["Candidate", "Index", "clear_index", "get_index"]

log = logging.getLogger(__name__)

STREET_CUTOFF = 0.6
"""Street names scoring below this are not considered."""
_TOP_STREETS = 4
_PREFIX_WEIGHT = 0.93
_OTHER_LETTER = 0.92
_IN_RANGE = 0.95
_NO_NUMBER = 0.9
_WRONG_POSTCODE = 0.9


@dataclass(frozen=True, slots=True)
class Candidate:
    """One geocoding answer.

    Attributes
    ----------
    code
        The standard address code (a street's code when only the street matched).
    label
        The address in Finnish (``label_sv`` in Swedish).
    lon, lat
        The entrance, CRS84.
    score
        0..1, 1 for an exact match.
    level
        ``"doorplate"`` or ``"street"``.
    """

    code: str
    label: str
    lon: float
    lat: float
    score: float
    label_sv: str = ""
    level: str = "doorplate"

    def to_dict(self) -> dict[str, object]:
        """``{code, label, lon, lat, score}``, for JSON."""
        return {
            "code": self.code,
            "label": self.label,
            "lon": self.lon,
            "lat": self.lat,
            "score": self.score,
        }


@dataclass
class Index:
    """Arrays of the registry, ready for searching (see the module docstring)."""

    codes: NDArray[np.str_]
    labels: list[str]
    labels_sv: list[str]
    lon: NDArray[np.float64]
    lat: NDArray[np.float64]
    keys: list[str]
    lo: NDArray[np.int64]
    hi: NDArray[np.int64]
    postcodes: list[str]
    street_of: NDArray[np.int64]
    names: list[str]
    name_street: NDArray[np.int64]
    streets: list[tuple[str, str, str, float, float]]
    members: list[NDArray[np.int64]]
    cities: frozenset[str]
    building_ids: list[str | None] = field(default_factory=list)
    building_codes: list[str | None] = field(default_factory=list)
    _metric: tuple[Any, Any] | None = None

    def metric(self) -> tuple[pyproj.CRS, cKDTree]:
        """The city's metric CRS and a k-d tree of the entrances in it (built on first use)."""
        if self._metric is None:
            from scipy.spatial import cKDTree

            from twin.crs import local_metric_crs, transform_coords

            if len(self.lon):
                box = (
                    float(self.lon.min()),
                    float(self.lat.min()),
                    float(self.lon.max()),
                    float(self.lat.max()),
                )
            else:
                box = (24.9, 60.1, 25.0, 60.2)
            crs = local_metric_crs(box)
            x, y = transform_coords(self.lon, self.lat, "OGC:CRS84", crs)
            self._metric = (crs, cKDTree(np.column_stack([x, y]).reshape(-1, 2)))
        return self._metric

    @classmethod
    def from_store(cls, store: Store) -> Index:
        """Read the current ``addresses`` and ``streets`` of a twin into an index."""
        a = store.read_frame("addresses")
        s = store.read_frame("streets")
        street_row: dict[str, int] = {}
        streets: list[tuple[str, str, str, float, float]] = []
        names: list[str] = []
        name_street: list[int] = []
        for code, name, name_sv, geom in zip(
            s["id"], s["name"], s.get("name_sv", [None] * len(s)), s.geometry, strict=True
        ):
            p = (
                geom.interpolate(0.5, normalized=True)
                if geom.geom_type.endswith("LineString")
                else geom.representative_point()
            )
            street_row[code] = len(streets)
            # both names are optional: a street without its Finnish name goes by its
            # Swedish one; a street without either is found by no name
            sv = text_or_none(name_sv) or ""
            fi = text_or_none(name) or sv
            streets.append((code, fi, sv, float(p.x), float(p.y)))
            for n in {compact(fi), compact(sv)} - {""}:
                names.append(n)
                name_street.append(street_row[code])
        keys = [number_key(text_or_none(h) or "") for h in a["housenumber"]]
        ranges = np.array([number_range(k) for k in keys], dtype=np.int64).reshape(-1, 2)
        street_of = np.array(
            [street_row.get(sc, -1) if isinstance(sc, str) else -1 for sc in a["street_code"]],
            dtype=np.int64,
        )
        members = [np.flatnonzero(street_of == i) for i in range(len(streets))]
        cities = {
            fold(c) for col in ("city", "city_sv") if col in a for c in a[col].dropna().unique()
        }
        building_ids: list[str | None] = [
            b if isinstance(b, str) else None for b in a.get("building_id", [None] * len(a))
        ]
        of_building = _building_codes(store)
        building_codes = [
            of_building.get((str(code), b)) if b is not None else None
            for code, b in zip(a["id"], building_ids, strict=True)
        ]
        # an address without its label in one language is shown by the other's
        label_fi = [text_or_none(v) for v in a.get("label", [None] * len(a))]
        label_sv = [text_or_none(v) for v in a.get("label_sv", [None] * len(a))]
        return cls(
            codes=a["id"].to_numpy(dtype=str),
            labels=[f or v or "" for f, v in zip(label_fi, label_sv, strict=True)],
            labels_sv=[v or f or "" for f, v in zip(label_fi, label_sv, strict=True)],
            lon=np.round(a.geometry.x.to_numpy(dtype=np.float64), 7),
            lat=np.round(a.geometry.y.to_numpy(dtype=np.float64), 7),
            keys=keys,
            lo=ranges[:, 0],
            hi=ranges[:, 1],
            postcodes=[p if isinstance(p, str) else "" for p in a.get("postcode", [None] * len(a))],
            street_of=street_of,
            names=names,
            name_street=np.array(name_street, dtype=np.int64),
            streets=streets,
            members=members,
            cities=frozenset(cities),
            building_ids=building_ids,
            building_codes=building_codes,
        )

    def __len__(self) -> int:
        return len(self.codes)

    def street_scores(self, street: str) -> NDArray[np.float64]:
        """Score every street (best of its names) against a compact street query, 0..1."""
        from rapidfuzz import process
        from rapidfuzz.distance import OSA, Indel

        out = np.zeros(len(self.streets), dtype=np.float64)
        if not street or not self.names:
            return out

        def similarity(names: list[str]) -> NDArray[np.float64]:
            # the mean of two edit similarities: Indel (insertions and deletions) and
            # OSA, which counts a swap of neighbouring letters as one edit
            a = process.cdist([street], names, scorer=Indel.normalized_similarity)[0]
            b = process.cdist([street], names, scorer=OSA.normalized_similarity)[0]
            return np.asarray((a + b) / 2.0, dtype=np.float64)

        full = similarity(self.names)
        pre = similarity([n[: len(street)] for n in self.names])
        short = np.array([len(n) > len(street) for n in self.names])
        score = np.maximum(full, np.where(short, pre * _PREFIX_WEIGHT, 0))
        np.maximum.at(out, self.name_street, score)
        return out

    def _doorplate(self, i: int, score: float) -> Candidate:
        return Candidate(
            str(self.codes[i]),
            self.labels[i],
            float(self.lon[i]),
            float(self.lat[i]),
            round(score, 4),
            self.labels_sv[i],
        )

    def search(self, q: Query, *, limit: int) -> list[Candidate]:
        """Ranked candidates for a read query."""
        scores = self.street_scores(q.street)
        best_streets = np.argsort(-scores, kind="stable")[:_TOP_STREETS]
        order = [int(i) for i in best_streets if scores[i] >= STREET_CUTOFF]
        out: list[Candidate] = []
        want = number_range(q.number) if q.number else None
        for st in order:
            s_score = float(scores[st])
            rows = self.members[st]
            if want is None:
                code, name, sv, lon, lat = self.streets[st]
                out.append(
                    Candidate(
                        code,
                        name,
                        lon,
                        lat,
                        round(s_score * s_score * _NO_NUMBER, 4),
                        sv or name,
                        "street",
                    )
                )
                if len(rows):
                    nums = self.lo[rows]
                    for i in rows[np.argsort(nums, kind="stable")][:limit]:
                        out.append(self._doorplate(int(i), s_score * s_score * _NO_NUMBER * 0.9))
                continue
            if not len(rows):
                continue
            lo, hi = self.lo[rows], self.hi[rows]
            exact = np.array([self.keys[i] == q.number for i in rows])
            same = (lo == want[0]) | (hi == want[1])
            inside = (lo <= want[0]) & (want[1] <= hi)
            near = np.abs(lo - want[0])
            parity = (lo % 2) == (want[0] % 2)
            n_score = np.where(
                exact,
                1.0,
                np.where(
                    same,
                    _OTHER_LETTER,
                    np.where(
                        inside, _IN_RANGE, np.clip(0.75 - 0.02 * near - 0.1 * ~parity, 0.3, 0.75)
                    ),
                ),
            )
            if q.postcode:
                pcs = np.array([self.postcodes[i] for i in rows])
                n_score = n_score * np.where(
                    (pcs == "") | (pcs == q.postcode), 1.0, _WRONG_POSTCODE
                )
            best = np.argsort(-n_score, kind="stable")[:limit]
            for j in best:
                out.append(self._doorplate(int(rows[j]), s_score * s_score * float(n_score[j])))
        out.sort(key=lambda c: -c.score)
        seen: set[str] = set()
        ranked = []
        for c in out:
            if c.code not in seen:
                seen.add(c.code)
                ranked.append(c)
        return ranked[:limit]


def _building_codes(store: Store) -> dict[tuple[str, str], str]:
    """(doorplate code, building id) -> the code of that building under that doorplate.

    The building codes are the current ``sub_addresses`` of level ``building``; a twin
    built before that collection existed has none (an empty mapping). Should one building
    hold two codes under one doorplate, the lowest serial is taken.
    """
    try:
        sub = store.read_frame("sub_addresses")
    except CollectionNotFound:
        return {}
    if not len(sub) or not {"level", "doorplate_code", "building_id"} <= set(sub.columns):
        return {}
    rows = sub[(sub["level"] == "building").to_numpy(dtype=bool)]
    out: dict[tuple[str, str], str] = {}
    for code, door, bld in sorted(
        zip(rows["id"], rows["doorplate_code"], rows["building_id"], strict=True),
        reverse=True,
    ):
        if isinstance(door, str) and isinstance(bld, str):
            out[(door, bld)] = str(code)
    return out


_LOCK = threading.Lock()
_CACHE: dict[tuple[str, object], Index] = {}
#: The last change to the layers an index is read from, for a server database.
_WATCH = ChangeWatch(("addresses", "streets", "sub_addresses"))


def _stamp(url: str, store: Store | str | None) -> object:
    """What changes when the twin's address layers change: the GeoPackage file's time stamp
    (no query), or the last change to the layers in a server database's change log."""
    from addressing._store import store_scope
    from twin.store import is_postgres_url
    from twin.store.open import gpkg_path

    if is_postgres_url(url):
        with store_scope(store) as s:
            return _WATCH.revision(s)
    path = gpkg_path(url)
    stamp = 0
    for p in (path, Path(f"{path}-wal")):
        if p.exists():
            stamp += p.stat().st_mtime_ns
    return stamp


def get_index(store: Store | str | None) -> Index:
    """Return the index of a store, building it on first use and again after the address
    layers changed.

    Parameters
    ----------
    store
        A store, a database URL, or ``None`` for ``TWIN_DB``. A GeoPackage whose index is
        built already is not even opened (its file's time stamp tells whether it changed);
        a server database is asked for the changes since the last call (one small query;
        a URL is opened for it, so pass the open store when calling often).
    """
    from addressing._store import store_scope

    if store is None:
        from twin.settings import StoreSettings

        store = StoreSettings().db
    url = store.url if isinstance(store, Store) else _url(store)
    key = (url, _stamp(url, store))
    with _LOCK:
        found = _CACHE.get(key)
        if found is None:
            with store_scope(store) as s:
                try:
                    found = Index.from_store(s)
                except CollectionNotFound:
                    msg = (
                        f"the twin at {url} has no address registry; build it with "
                        "'twin build' or 'twin addresses import'"
                    )
                    raise CollectionNotFound(msg) from None
            for old in [k for k in _CACHE if k[0] == url]:
                del _CACHE[old]
            _CACHE[key] = found
            log.info("geocoding index of %s: %d addresses", url, len(found))
        return found


def _url(db: str) -> str:
    """The URL a store opened from ``db`` reports (a GeoPackage's path as given)."""
    from twin.store import is_postgres_url
    from twin.store.open import gpkg_path, shown_url

    return shown_url(db) if is_postgres_url(db) else str(gpkg_path(db))


def clear_index() -> None:
    """Forget every index; the next search rebuilds it (after the registry was rebuilt)."""
    with _LOCK:
        _CACHE.clear()
    _WATCH.forget()
