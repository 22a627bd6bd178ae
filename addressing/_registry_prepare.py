"""From the map layers to doorplates: clean names, merge points, find buildings and entrances.

Everything here is plain data work on GeoDataFrames in the city's metric CRS; codes are
issued later, by :mod:`addressing.registry`. Each repair or merge is reported as an
issue (a ``dict``), never made silently.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from addressing._missing import text_or_none

__all__ = ["Prepared", "housenumber_key", "prepare"]

log = logging.getLogger(__name__)

MERGE_METRES = 150.0
"""Points of one street and number closer than this are one doorplate."""
NEAREST_BUILDING_METRES = 5.0
"""An address point outside every building is linked to one this close."""

_CITY_SV = {
    "helsinki": "Helsingfors",
    "espoo": "Esbo",
    "vantaa": "Vanda",
    "kauniainen": "Grankulla",
}
_HN = re.compile(r"^\s*(?P<num>\d+(?:\s*-\s*\d+)?)(?:\s*(?P<letter>[A-Za-z])(?![A-Za-z]))?")
_STREET_AND_NUMBER = re.compile(r"^(?P<street>\D+?)\s+(?P<num>\d+\s*[A-Za-z]?)\s*$")


@dataclass
class Prepared:
    """Doorplates, streets and issues ready for code allocation.

    ``doorplates`` has one row per doorplate (metric CRS), ``streets`` one row per
    street name with its road geometry (CRS84, may be empty), ``issues`` one dict each.
    ``points`` has one row per address point (metric CRS) with the row of its doorplate
    (``doorplate``), its own building, ``unit``, ``tags`` and what the house number
    cleaning left out (``hn_rest``); ``buildings`` is the buildings layer (metric CRS).
    """

    doorplates: gpd.GeoDataFrame
    streets: pd.DataFrame
    crs: pyproj.CRS
    issues: list[dict[str, Any]] = field(default_factory=list)
    points: gpd.GeoDataFrame | None = None
    buildings: gpd.GeoDataFrame | None = None


def housenumber_key(text: str | None) -> str:
    """Return the comparison key of a house number: upper case, no spaces (``14 b`` -> ``14B``).

    Examples
    --------
    >>> housenumber_key(" 14 b ")
    '14B'
    """
    return re.sub(r"\s+", "", str(text or "")).upper()


def _issue(kind: str, severity: str, message: str, **kw: Any) -> dict[str, Any]:
    return {"kind": kind, "severity": severity, "message": message, **kw}


def _clean_housenumber(raw: str) -> tuple[str, str | None, str]:
    """``(housenumber, street found in it or None, what was dropped)``."""
    text = " ".join(str(raw).split())
    street = None
    m = _STREET_AND_NUMBER.match(text)
    if m:
        street, text = m["street"].strip(), m["num"]
    h = _HN.match(text)
    if h is None:
        return text, street, ""
    num = re.sub(r"\s+", "", h["num"])
    letter = h["letter"]
    clean = num if letter is None else (f"{num}{letter}" if letter.islower() else f"{num} {letter}")
    rest = text[h.end() :].strip(" ,;/")
    return clean, street, rest


def _clean_street(raw: str, known: dict[str, str]) -> tuple[str, str | None]:
    """``(street, kind of repair or None)`` for one ``addr:street`` value."""
    text = " ".join(str(raw).split())
    if text.lower() in known:
        clean = known[text.lower()]
        return clean, None if clean == text else "street_spelling"
    if "," in text:
        parts = [p.strip() for p in text.split(",") if p.strip()]
        for p in reversed(parts):
            if p.lower() in known:
                return known[p.lower()], "street_with_place"
        return parts[-1], "street_with_place"
    m = re.match(r"^(?P<street>.*\D)\s+\d+\s*[A-Za-z]?$", text)
    if m and m["street"].strip().lower() in known:
        return known[m["street"].strip().lower()], "street_with_number"
    return text, None


def _mode(values: Iterable[Any]) -> Any:
    vals = [v for v in values if isinstance(v, str) and v]
    if not vals:
        return None
    return pd.Series(vals).value_counts().index[0]


def _road_names(roads: gpd.GeoDataFrame) -> tuple[dict[str, str], dict[str, str], pd.DataFrame]:
    named = roads[roads["name"].notna()]
    # Spellings that differ only in case: the one most ways carry (then the first in order).
    counts = named["name"].value_counts(sort=False)
    known: dict[str, str] = {}
    for name, _ways in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        known.setdefault(str(name).lower(), str(name))
    sv = named.dropna(subset=["name_sv"]).groupby("name")["name_sv"].agg(_mode).to_dict()
    geoms = named.groupby("name")["geometry"].agg(lambda g: shapely.union_all(g.to_numpy()))
    return known, sv, pd.DataFrame({"geometry": geoms})


def _buildings_of(points: np.ndarray, buildings: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Index into ``buildings`` (-1 for none) and the match kind, per point.

    A point inside several buildings takes the smallest; one outside every building the
    nearest within :data:`NEAREST_BUILDING_METRES`. Ties (equal areas, equal distances)
    go to the lowest building id, so the match depends on the buildings alone, not on
    the order of the frame or of the spatial index.
    """
    n = len(points)
    idx = np.full(n, -1, dtype=np.int64)
    kind = np.full(n, "none", dtype=object)
    if len(buildings) == 0 or n == 0:
        return idx, kind
    polys = buildings.geometry.to_numpy()
    ids = buildings["id"].astype(str).to_numpy()
    rank = np.argsort(np.argsort(ids, kind="stable"), kind="stable")  # by id
    tree = shapely.STRtree(polys)
    pi, bi = tree.query(points, predicate="within")
    if len(pi):
        area = shapely.area(polys[bi])
        # per point the last one wins: the smallest building, then the lowest id
        order = np.lexsort((-rank[bi], -area, pi))
        idx[pi[order]] = bi[order]
        kind[pi[order]] = "inside"
    rest = np.flatnonzero(idx < 0)
    if len(rest):
        (qi, bj), _d = tree.query_nearest(
            points[rest], max_distance=NEAREST_BUILDING_METRES, return_distance=True
        )
        order = np.lexsort((-rank[bj], qi))  # equally near: the lowest id last, so it wins
        idx[rest[qi[order]]] = bj[order]
        kind[rest[qi[order]]] = "nearest"
    return idx, kind


def _cluster(keys: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Label points: same key and chained within :data:`MERGE_METRES` -> same label."""
    n = len(keys)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    pairs = cKDTree(xy).query_pairs(MERGE_METRES, output_type="ndarray")
    if len(pairs):
        pairs = pairs[keys[pairs[:, 0]] == keys[pairs[:, 1]]]
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return np.asarray(labels, dtype=np.int64)


def prepare(
    points: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    *,
    crs: pyproj.CRS,
) -> Prepared:
    """Turn address points into doorplates.

    Parameters
    ----------
    points, buildings, roads
        The ``address_points``, ``buildings`` and ``roads`` layers (CRS84).
    crs
        The city's metric CRS.

    Returns
    -------
    Prepared
        One row per doorplate, the streets, and the issues found.
    """
    issues: list[dict[str, Any]] = []
    pts = points.to_crs(crs).reset_index(drop=True)
    blds = buildings.to_crs(crs).reset_index(drop=True)
    rds = roads.to_crs(crs)
    known, street_sv, street_geoms = _road_names(rds)

    # -- house numbers and street names ----------------------------------------------
    hn = [_clean_housenumber(h) for h in pts["housenumber"].fillna("")]
    pts["housenumber"] = [h[0] for h in hn]
    pts["hn_rest"] = [h[2] for h in hn]
    streets = pts["street"].astype(object).where(pts["street"].notna(), None).tolist()
    for i, (num, st, rest) in enumerate(hn):
        osm = pts.at[i, "osm_id"]
        if st is not None:
            streets[i] = streets[i] or st
            issues.append(
                _issue(
                    "street_in_housenumber",
                    "info",
                    f"addr:housenumber {_hn_raw(points, i)!r} holds a street; read as {st!r} {num!r}",
                    housenumber=num,
                    osm_ids=[osm],
                    geometry=pts.geometry.iat[i],
                )
            )
        if rest:
            issues.append(
                _issue(
                    "housenumber_repaired",
                    "info",
                    f"addr:housenumber {_hn_raw(points, i)!r} read as {num!r}; {rest!r} left out",
                    housenumber=num,
                    osm_ids=[osm],
                    geometry=pts.geometry.iat[i],
                )
            )
    cache: dict[str, tuple[str, str | None]] = {}
    for i, raw in enumerate(streets):
        if raw is None:
            continue
        if raw not in cache:
            cache[raw] = _clean_street(raw, known)
        clean, repair = cache[raw]
        if repair is not None:
            issues.append(
                _issue(
                    repair,
                    "info",
                    f"addr:street {raw!r} read as {clean!r}",
                    street=clean,
                    housenumber=pts.at[i, "housenumber"],
                    osm_ids=[pts.at[i, "osm_id"]],
                    geometry=pts.geometry.iat[i],
                )
            )
        streets[i] = clean

    # -- buildings -------------------------------------------------------------------
    geoms = pts.geometry.to_numpy()
    b_idx, b_kind = _buildings_of(geoms, blds)
    b_ids = np.array([*blds["id"], None], dtype=object)[b_idx]  # -1 (no building): None
    for i in map(int, np.flatnonzero(np.array([s is None for s in streets]))):
        from_building = blds.at[int(b_idx[i]), "addr_street"] if b_idx[i] >= 0 else None
        if isinstance(from_building, str) and from_building:
            streets[i] = _clean_street(from_building, known)[0]
            kind, sev, what = "street_from_building", "info", f"taken from building {b_ids[i]}"
        else:
            kind, sev, what = "no_street", "warning", "registered without a street"
        issues.append(
            _issue(
                kind,
                sev,
                f"address point {pts.at[i, 'osm_id']} has no addr:street; {what}",
                street=streets[i],
                housenumber=pts.at[i, "housenumber"],
                osm_ids=[pts.at[i, "osm_id"]],
                geometry=geoms[i],
            )
        )
    pts["street"] = streets
    pts["hn_key"] = [housenumber_key(h) for h in pts["housenumber"]]
    pts["building_id"] = b_ids
    pts["building_match"] = b_kind
    pts["has_entrance"] = [isinstance(t, dict) and "entrance" in t for t in pts["tags"]]

    # -- merge points into doorplates ------------------------------------------------
    keys = (pts["street"].fillna("") + "\x00" + pts["hn_key"]).to_numpy()
    xy = shapely.get_coordinates(geoms)
    pts["cluster"] = _cluster(keys, xy)
    pts["rank"] = np.where(pts["has_entrance"], 0, np.where(pts["osm_type"] == "node", 2, 1))
    pts = pts.sort_values(["cluster", "rank", "osm_id"], kind="stable")
    groups = pts.groupby("cluster", sort=True)
    rep = groups.head(1).set_index("cluster")
    members = groups["osm_id"].agg(list)
    city_ok = pts["city"].where(pts["city"].fillna("").str.contains(r"[^\W\d_]", regex=True))
    default_city = _mode(city_ok) or "Helsinki"
    for osm_id, city, g in zip(pts["osm_id"], pts["city"], pts.geometry, strict=True):
        if isinstance(city, str) and city and not re.search(r"[^\W\d_]", city):
            issues.append(
                _issue(
                    "city_repaired",
                    "info",
                    f"addr:city {city!r} of {osm_id} is not a place name; read as {default_city!r}",
                    osm_ids=[osm_id],
                    geometry=g,
                )
            )
    pts["city_ok"] = city_ok
    postcodes = groups["postcode"].agg(lambda v: sorted({p for p in v if isinstance(p, str)}))
    cities = pts.groupby("cluster")["city_ok"].agg(_mode)
    building_sets = groups["building_id"].agg(
        lambda v: sorted({b for b in v if isinstance(b, str)})
    )

    d = gpd.GeoDataFrame(
        {
            "street": rep["street"],
            "housenumber": rep["housenumber"],
            "hn_key": rep["hn_key"],
            "name": rep["name"],
            "osm_id": rep["osm_id"],
            "osm_ids": members.reindex(rep.index),
            "postcodes": postcodes.reindex(rep.index),
            "city": cities.reindex(rep.index).fillna(default_city),
            "building_id": rep["building_id"],
            "building_match": rep["building_match"],
            "has_entrance": rep["has_entrance"],
        },
        geometry=rep.geometry,
        crs=crs,
    )
    d["building_id"] = [
        b if isinstance(b, str) else (s[0] if s else None)
        for b, s in zip(d["building_id"], building_sets.reindex(d.index), strict=True)
    ]
    d["building_ids"] = [
        sorted({*s, b} if isinstance(b, str) else set(s))
        for b, s in zip(d["building_id"], building_sets.reindex(d.index), strict=True)
    ]
    d.loc[d["building_id"].notna() & (d["building_match"] == "none"), "building_match"] = "nearest"
    d["postcode"] = [p[0] if len(p) == 1 else _mode(p) for p in d["postcodes"]]
    d["city_sv"] = [_CITY_SV.get(str(c).lower(), c) for c in d["city"]]
    d["street_sv"] = [street_sv.get(s) if isinstance(s, str) else None for s in d["street"]]
    # missing values as None (a string column holds NaN there) before anything reads them
    for col in ("street", "street_sv", "name", "postcode", "building_id", "city", "city_sv"):
        d[col] = pd.Series([text_or_none(v) for v in d[col]], index=d.index, dtype=object)
    issues.extend(_merge_issues(d, building_sets.reindex(d.index)))
    d = _entrances(d, blds, street_geoms)
    names = sorted({s for s in d["street"] if s is not None})
    st = pd.DataFrame(
        {
            "name": names,
            "name_sv": [street_sv.get(n) for n in names],
            "geometry": [
                street_geoms["geometry"].get(n) if n in street_geoms.index else None for n in names
            ],
        }
    )
    row_of = pd.Series(np.arange(len(d)), index=d.index)
    members_frame = gpd.GeoDataFrame(
        {
            "osm_id": pts["osm_id"].to_numpy(),
            "doorplate": row_of.reindex(pts["cluster"]).to_numpy(),
            "building_id": pts["building_id"].to_numpy(),
            "unit": _column(pts, "unit"),
            "tags": pts["tags"].to_numpy(),
            "hn_rest": pts["hn_rest"].to_numpy(),
        },
        geometry=pts.geometry.to_numpy(),
        crs=crs,
    ).reset_index(drop=True)
    return Prepared(d.reset_index(drop=True), st, crs, issues, members_frame, blds)


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A column's values as objects, ``None`` where missing or absent."""
    if name not in frame.columns:
        return np.full(len(frame), None, dtype=object)
    return np.array([text_or_none(v) for v in frame[name]], dtype=object)


def _hn_raw(points: gpd.GeoDataFrame, i: int) -> str:
    """The ``addr:housenumber`` of row ``i`` as tagged."""
    return str(points["housenumber"].iat[i])


def _merge_issues(d: gpd.GeoDataFrame, building_sets: pd.Series) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for row, blds in zip(d.itertuples(), building_sets, strict=True):
        label = f"{row.street or '(no street)'} {row.housenumber}"
        if len(row.osm_ids) > 1:
            out.append(
                _issue(
                    "merged_points",
                    "info",
                    f"{len(row.osm_ids)} OSM objects carry {label!r} within {MERGE_METRES:g} m; "
                    "registered as one doorplate",
                    street=row.street,
                    housenumber=row.housenumber,
                    osm_ids=list(row.osm_ids),
                    geometry=row.geometry,
                )
            )
        if len(blds) > 1:
            out.append(
                _issue(
                    "two_buildings",
                    "conflict",
                    f"the doorplate {label!r} stands on {len(blds)} buildings {blds}; linked to "
                    f"{row.building_id}",
                    street=row.street,
                    housenumber=row.housenumber,
                    osm_ids=list(row.osm_ids),
                    geometry=row.geometry,
                )
            )
        if len(row.postcodes) > 1:
            out.append(
                _issue(
                    "postcode_conflict",
                    "warning",
                    f"the doorplate {label!r} has the postcodes {row.postcodes}; kept {row.postcode!r}",
                    street=row.street,
                    housenumber=row.housenumber,
                    osm_ids=list(row.osm_ids),
                    geometry=row.geometry,
                )
            )
    return out


def _entrances(
    d: gpd.GeoDataFrame, blds: gpd.GeoDataFrame, street_geoms: pd.DataFrame
) -> gpd.GeoDataFrame:
    """Set ``entrance`` and the entrance geometry (metric) of every doorplate.

    An OSM entrance node is the entrance; else the point of the building's outline
    nearest to the street point in front of the address; else the address point.
    """
    point = d.geometry.to_numpy()
    by_id = pd.Series(blds.geometry.to_numpy(), index=blds["id"].to_numpy())
    outline = np.array(
        [shapely.boundary(by_id[b]) if isinstance(b, str) else None for b in d["building_id"]],
        dtype=object,
    )
    street = np.array(
        [
            street_geoms["geometry"].get(s)
            if isinstance(s, str) and s in street_geoms.index
            else None
            for s in d["street"]
        ],
        dtype=object,
    )
    has_outline = np.array([g is not None for g in outline])
    has_street = np.array([g is not None for g in street])
    target = point.copy()
    both = has_outline & has_street
    if both.any():
        front = shapely.shortest_line(point[both], street[both])
        target[both] = shapely.get_point(front, 1)
    entrance = point.copy()
    if has_outline.any():
        link = shapely.shortest_line(outline[has_outline], target[has_outline])
        entrance[has_outline] = shapely.get_point(link, 0)
    kind = np.where(has_outline, "outline", "point").astype(object)
    osm = d["has_entrance"].to_numpy(dtype=bool)
    entrance[osm] = point[osm]
    kind[osm] = "osm"
    d = d.copy()
    d["entrance"] = kind
    d["point_geom"] = point
    d = d.set_geometry(gpd.GeoSeries(entrance, index=d.index, crs=d.crs))
    return d
