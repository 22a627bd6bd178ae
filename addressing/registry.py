"""The standard address registry: codes issued from the map layers, kept stable over rebuilds.

:func:`build_registry` reads the ``address_points``, ``buildings`` and ``roads`` layers
of a twin (and the entrance nodes in ``address_entrances``) and writes four collections:

- ``addresses``: one feature per doorplate at its entrance, the feature id being the
  standard address code (:mod:`addressing.codes`);
- ``sub_addresses``: the buildings, units (staircases), floors and rooms below the
  doorplates, each with its code and ``parent_code`` (:mod:`addressing._registry_levels`);
- ``streets``: one feature per street, the id being the street's code;
- ``address_issues``: duplicates and conflicts, never dropped silently.

Re-running it keeps codes stable. A doorplate is matched to the code it had by its OSM
objects first, then by street, number and position; a renamed street or a renumbered
house becomes a new version of the same code, whose ``previous_label`` (``previous_name``
for a street) keeps the old one. A doorplate that vanished is retired; serials are
allocated above every serial in the history, so a retired code is never issued again.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from addressing._missing import text_or_none
from addressing._registry_levels import below_doorplates
from addressing._registry_prepare import Prepared, housenumber_key, prepare
from addressing._registry_quality import sequence_issues
from addressing._registry_specs import (
    ADDRESS_ENTRANCES,
    ADDRESS_ISSUES,
    ADDRESSES,
    COLLECTIONS,
    LEVELS_BELOW,
    STREETS,
    SUB_ADDRESSES,
    AddressSettings,
)
from addressing._store import store_scope
from addressing.codes import HELSINKI, AddressCode, parse_code
from addressing.errors import AddressNotFound
from twin.errors import CollectionNotFound, FeatureNotFound, InvalidInput
from twin.store import Feature, FeatureVersion, Query, Store, SyncReport
from twin.temporal import Interval, TimeSpec

__all__ = [
    "ADDRESSES",
    "ADDRESS_ENTRANCES",
    "ADDRESS_ISSUES",
    "COLLECTIONS",
    "STREETS",
    "SUB_ADDRESSES",
    "AddressNotFound",
    "AddressSettings",
    "build_registry",
    "get_address",
    "store_scope",
]

log = logging.getLogger(__name__)

MATCH_METRES = 50.0
"""A doorplate with a new OSM object matches an old code of its street and number this close."""

_CRS84 = "OGC:CRS84"
_ALL_TIME = Interval(None, None)


def get_address(
    code: str, *, store: Store | str | None = None, time: TimeSpec = None
) -> FeatureVersion:
    """Return the standard address with ``code`` (plain or with dashes).

    A doorplate comes from ``addresses``; a building, unit, floor or room from
    ``sub_addresses``.

    Raises
    ------
    addressing.codes.InvalidAddressCode
        ``code`` is malformed or fails its check character.
    AddressNotFound
        No address has that code (at that time).
    """
    parsed = parse_code(code)
    plain = parsed.code
    name = SUB_ADDRESSES.name if parsed.level in LEVELS_BELOW else ADDRESSES.name
    with store_scope(store) as s:
        try:
            return s.get(name, plain, time=time)
        except (FeatureNotFound, CollectionNotFound):
            msg = f"code={code!r} is a valid code but no standard address has it in {s.url}"
            raise AddressNotFound(msg) from None


@dataclass
class _Old:
    """What the history holds: current features and every serial ever issued."""

    current: pd.DataFrame
    latest: dict[str, dict[str, Any]]
    taken: Counter[tuple[str, int]]


def _history(store: Store, name: str) -> _Old:
    frame = store.read_frame(name, Query(time=_ALL_TIME))
    taken: Counter[tuple[str, int]] = Counter()
    latest: dict[str, dict[str, Any]] = {}
    if len(frame):
        frame = frame.sort_values(["id", "version"])
        for fid, row in zip(
            frame["id"], frame.drop(columns="geometry").to_dict("records"), strict=True
        ):
            latest[fid] = row
        for fid in latest:
            try:
                c = parse_code(fid)
            except InvalidInput:
                continue
            taken[(c.division, c.street)] = max(taken[(c.division, c.street)], c.doorplate)
            taken[(c.division, -1)] = max(taken[(c.division, -1)], c.street)
    current = frame[frame["valid_to"].isna()] if len(frame) else frame
    return _Old(current, latest, taken)


def _street_codes(
    prep: Prepared, old_streets: _Old, old_addr: _Old, division: str
) -> tuple[dict[str, AddressCode], dict[str, str]]:
    """Street name -> code, and code -> previous name for renamed streets."""
    live = set(old_streets.current.get("id", []))
    by_name = {row["name"]: fid for fid, row in old_streets.latest.items() if fid in live}
    names = list(prep.streets["name"])
    osm_to_street: dict[str, str] = {}
    for ids, sc in zip(
        old_addr.current.get("osm_ids", []), old_addr.current.get("street_code", []), strict=True
    ):
        for o in ids or []:
            if isinstance(sc, str):
                osm_to_street[o] = sc
    claimed = {by_name[n] for n in names if n in by_name}
    out: dict[str, AddressCode] = {}
    renamed: dict[str, str] = {}
    top = old_addr.taken[(division, -1)]
    top = max(top, old_streets.taken[(division, -1)])
    for name in names:
        if name in by_name:
            out[name] = parse_code(by_name[name])
            continue
        votes = Counter(
            osm_to_street[o]
            for ids in prep.doorplates.loc[prep.doorplates["street"] == name, "osm_ids"]
            for o in ids
            if o in osm_to_street
        )
        reuse = next((sc for sc, _n in votes.most_common() if sc not in claimed), None)
        if reuse is not None:
            claimed.add(reuse)
            out[name] = parse_code(reuse)
            renamed[reuse] = str(old_streets.latest.get(reuse, {}).get("name"))
            continue
        top += 1
        out[name] = AddressCode(division, street=top)
    return out, renamed


def _match_addresses(d: gpd.GeoDataFrame, old: _Old, division: str, crs: Any) -> list[AddressCode]:
    """One code per doorplate row: the old one it matches, else a new serial."""
    n = len(d)
    codes: list[AddressCode | None] = [None] * n
    cur = old.current
    owner: dict[str, list[str]] = {}
    for fid, ids in zip(cur.get("id", []), cur.get("osm_ids", []), strict=True):
        for o in ids or []:
            owner.setdefault(o, []).append(fid)
    proposals = []
    for i, ids in enumerate(d["osm_ids"]):
        votes = Counter(f for o in ids for f in owner.get(o, []))
        for fid, k in votes.items():
            proposals.append((-k, i, fid))
    claimed: set[str] = set()
    for _k, i, fid in sorted(proposals):
        if codes[i] is None and fid not in claimed:
            codes[i] = parse_code(fid)
            claimed.add(fid)
    if len(cur):
        rest = cur[~cur["id"].isin(claimed)]
        if len(rest):
            xy = gpd.GeoSeries(
                gpd.points_from_xy(rest["point_lon"], rest["point_lat"]), crs=_CRS84
            ).to_crs(crs)
            old_xy = shapely.get_coordinates(xy.to_numpy())
            old_key = [
                f"{s}\x00{housenumber_key(h)}"
                for s, h in zip(rest["street_code"], rest["housenumber"], strict=True)
            ]
            new_xy = shapely.get_coordinates(np.asarray(d["point_geom"].to_numpy()))
            for i in range(n):
                if codes[i] is not None:
                    continue
                key = f"{d['street_code'].iat[i]}\x00{d['hn_key'].iat[i]}"
                cand = [
                    j
                    for j, k in enumerate(old_key)
                    if k == key and rest["id"].iat[j] not in claimed
                ]
                if not cand:
                    continue
                dist = np.hypot(*(old_xy[cand] - new_xy[i]).T)
                j = int(np.argmin(dist))
                if dist[j] <= MATCH_METRES:
                    fid = rest["id"].iat[cand[j]]
                    codes[i] = parse_code(fid)
                    claimed.add(fid)
    order = sorted(
        range(n),
        key=lambda i: (
            d["street_part"].iat[i],
            _number(d["hn_key"].iat[i]),
            d["hn_key"].iat[i],
            d["osm_id"].iat[i],
        ),
    )
    for i in order:
        if codes[i] is None:
            st = int(d["street_part"].iat[i])
            old.taken[(division, st)] += 1
            codes[i] = AddressCode(division, street=st, doorplate=old.taken[(division, st)])
    return [c for c in codes if c is not None]


def _number(key: str) -> int:
    digits = ""
    for ch in key:
        if not ch.isdigit():
            break
        digits += ch
    return int(digits) if digits else 10**9


def _label(street: str | None, number: str, postcode: str | None, city: str | None) -> str:
    head = f"{street} {number}" if street else str(number)
    tail = " ".join(p for p in (postcode, city) if p)
    return f"{head}, {tail}" if tail else head


def _clean(value: Any) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return value


def _issue_id(issue: dict[str, Any]) -> str:
    key = "|".join(
        [
            issue["kind"],
            text_or_none(issue.get("street")) or "",
            text_or_none(issue.get("housenumber")) or "",
            ",".join(sorted(issue.get("osm_ids") or [])),
        ]
    )
    return f"{issue['kind']}-{hashlib.sha1(key.encode()).hexdigest()[:12]}"


def build_registry(
    store: Store,
    *,
    valid_from: datetime | None = None,
    division: str | None = None,
) -> dict[str, SyncReport]:
    """Build (or rebuild) the address registry from the twin's map layers.

    Parameters
    ----------
    store
        A twin whose ``address_points``, ``buildings`` and ``roads`` layers are filled.
    valid_from
        The valid time of the new versions (default: now).
    division
        The 12-digit division prefix of the codes (default: ``TWIN_ADDRESS_DIVISION``,
        Helsinki ``246091000000``).

    Returns
    -------
    dict
        Collection name -> what the rebuild changed.

    A map layer the twin does not have (the extract had nothing for it, so the build
    made none) counts as empty. Without address points the registry is empty: a rebuild
    retires the addresses, streets and issues it held.
    """
    division = division or AddressSettings().address_division
    AddressCode(division)  # checks the prefix
    for spec in COLLECTIONS:
        store.ensure_collection(spec)
    points = _read_layer(store, "address_points")
    if not len(points):
        return _write_registry(store, [], [], [], [], valid_from)
    buildings = _read_layer(store, "buildings")
    roads = _read_layer(store, "roads")
    from twin.crs import local_metric_crs

    box = points.total_bounds if len(points) else (24.9, 60.1, 25.0, 60.2)
    _warn_if_elsewhere(division, box)
    crs = local_metric_crs(tuple(float(v) for v in box))
    prep = prepare(points, buildings, roads, crs=crs)
    old_addr = _history(store, ADDRESSES.name)
    old_streets = _history(store, STREETS.name)
    street_codes, renamed = _street_codes(prep, old_streets, old_addr, division)
    d = prep.doorplates
    d["street_code"] = [street_codes[s].code if s else None for s in d["street"]]
    d["street_part"] = [street_codes[s].street if s else 0 for s in d["street"]]
    codes = _match_addresses(d, old_addr, division, crs)
    d["code"] = [c.code for c in codes]

    entrance84 = d.geometry.to_crs(_CRS84).to_numpy()
    point84 = shapely.get_coordinates(
        gpd.GeoSeries(d["point_geom"].to_numpy(), crs=crs).to_crs(_CRS84).to_numpy()
    )
    live = set(old_addr.current.get("id", []))
    features = []
    for i, row in enumerate(d.itertuples()):
        label = _label(row.street, row.housenumber, row.postcode, row.city)
        prev = old_addr.latest.get(row.code) if row.code in live else None
        previous = None
        if prev is not None:
            previous = (
                prev.get("label") if prev.get("label") != label else prev.get("previous_label")
            )
        props = {
            "code_display": codes[i].display(),
            "level": codes[i].level,
            "division": division,
            "street_code": _clean(row.street_code),
            "street": row.street,
            "street_sv": _clean(row.street_sv),
            "housenumber": row.housenumber,
            "postcode": _clean(row.postcode),
            "city": row.city,
            "city_sv": row.city_sv,
            "label": label,
            "label_sv": _label(
                _clean(row.street_sv) or row.street,
                row.housenumber,
                _clean(row.postcode),
                row.city_sv,
            ),
            "name": _clean(row.name),
            "building_id": _clean(row.building_id),
            "building_match": row.building_match,
            "entrance": row.entrance,
            "point_lon": round(float(point84[i, 0]), 8),
            "point_lat": round(float(point84[i, 1]), 8),
            "osm_id": row.osm_id,
            "osm_ids": list(row.osm_ids),
            "previous_label": _clean(previous),
        }
        features.append(
            Feature(row.code, entrance84[i], {k: v for k, v in props.items() if v is not None})
        )

    streets = []
    geoms84 = gpd.GeoSeries(prep.streets["geometry"].to_numpy(), crs=crs).to_crs(_CRS84).to_numpy()
    counts = Counter(d["street"])
    for name, name_sv, geom in zip(
        prep.streets["name"], prep.streets["name_sv"], geoms84, strict=True
    ):
        code = street_codes[name]
        if geom is None:
            geom = shapely.multipoints(entrance84[(d["street"] == name).to_numpy()])
        old_name = renamed.get(code.code)
        if old_name is None and code.code in old_streets.latest:
            old_name = old_streets.latest[code.code].get("previous_name")
        props = {
            "code_display": code.display(),
            "division": division,
            "name": name,
            "name_sv": _clean(name_sv),
            "previous_name": _clean(old_name),
            "address_count": int(counts[name]),
        }
        streets.append(Feature(code.code, geom, {k: v for k, v in props.items() if v is not None}))

    assert prep.points is not None and prep.buildings is not None
    levels = below_doorplates(
        d,
        prep.points,
        prep.buildings,
        store.read_frame(ADDRESS_ENTRANCES.name),
        store.read_frame(SUB_ADDRESSES.name, Query(time=_ALL_TIME)),
        crs=crs,
    )

    by_osm = {o: c for c, ids in zip(d["code"], d["osm_ids"], strict=True) for o in ids}
    found = prep.issues + sequence_issues(d) + levels.issues
    unique: dict[str, dict[str, Any]] = {}
    for issue in found:
        unique.setdefault(_issue_id(issue), issue)
    ids = list(unique)
    geoms84 = gpd.GeoSeries([unique[fid].get("geometry") for fid in ids], crs=crs).to_crs(_CRS84)
    issues: dict[str, Feature] = {}
    for fid, geom84 in zip(ids, geoms84.to_numpy(), strict=True):
        issue = unique[fid]
        issue_code = issue.get("code") or next(
            (by_osm[o] for o in issue.get("osm_ids", []) if o in by_osm), None
        )
        props = {
            "kind": issue["kind"],
            "severity": issue["severity"],
            "code": issue_code,
            "street": issue.get("street"),
            "housenumber": issue.get("housenumber"),
            "osm_ids": sorted(issue.get("osm_ids") or []),
            "message": issue["message"],
        }
        issues[fid] = Feature(fid, geom84, {k: v for k, v in props.items() if v is not None})

    report = _write_registry(
        store, features, levels.features, streets, list(issues.values()), valid_from
    )
    log.info(
        "address registry: %d doorplates, %s below them, %d streets, %d issues",
        len(features),
        ", ".join(f"{levels.counts[k]} {k}s" for k in LEVELS_BELOW),
        len(streets),
        len(issues),
    )
    return report


#: Helsinki's municipality, roughly (lon, lat): the area the default division codes.
_HELSINKI_AREA = (24.78, 60.03, 25.27, 60.30)


def _warn_if_elsewhere(division: str, box: Any) -> None:
    """Warn when Helsinki's division (the default) codes addresses that lie elsewhere."""
    if division != HELSINKI:
        return
    lon, lat = (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0
    w, s, e, n = _HELSINKI_AREA
    if not (w <= lon <= e and s <= lat <= n):
        log.warning(
            "the addresses (around %.4f, %.4f) are coded under Helsinki's division %s, the "
            "default; set TWIN_ADDRESS_DIVISION to this city's 12-digit division code",
            lon,
            lat,
            HELSINKI,
        )


def _read_layer(store: Store, name: str) -> gpd.GeoDataFrame:
    """A map layer as a frame; an empty one with the layer's columns if the twin has none."""
    try:
        return store.read_frame(name)
    except CollectionNotFound:
        from layers import LAYERS

    spec = next(s for s in LAYERS if s.name == name)
    columns = ["id", "version", "valid_from", "valid_to", *(f.name for f in spec.fields)]
    return gpd.GeoDataFrame(
        {c: pd.Series([], dtype=object) for c in columns},
        geometry=gpd.GeoSeries([], crs=_CRS84),
    )


def _write_registry(
    store: Store,
    addresses: list[Feature],
    sub_addresses: list[Feature],
    streets: list[Feature],
    issues: list[Feature],
    valid_from: datetime | None,
) -> dict[str, SyncReport]:
    """Sync the registry's collections to these features (one transaction)."""
    report: dict[str, SyncReport] = {}
    with store.transaction(actor="twin addresses") as tx:
        report[ADDRESSES.name] = tx.sync(ADDRESSES.name, addresses, valid_from=valid_from)
        report[SUB_ADDRESSES.name] = tx.sync(
            SUB_ADDRESSES.name, sub_addresses, valid_from=valid_from
        )
        report[STREETS.name] = tx.sync(STREETS.name, streets, valid_from=valid_from)
        report[ADDRESS_ISSUES.name] = tx.sync(ADDRESS_ISSUES.name, issues, valid_from=valid_from)
    from addressing._geocode_index import clear_index

    clear_index()
    return report
