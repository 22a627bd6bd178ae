"""Quality checks of doorplates: the same number twice on a street, numbers out of sequence."""

from __future__ import annotations

import re
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

__all__ = ["SEQUENCE_TOLERANCE_METRES", "sequence_issues"]

SEQUENCE_TOLERANCE_METRES = 15.0
"""A number may stand this far behind its predecessor before it is out of sequence."""
_MIN_SIDE = 4
_NUM = re.compile(r"\d+")


def _chain(pos: np.ndarray, tol: float) -> np.ndarray:
    """Indices of the longest chain along which ``pos`` never falls back by more than ``tol``."""
    n = len(pos)
    best = np.ones(n, dtype=np.int64)
    prev = np.full(n, -1, dtype=np.int64)
    for i in range(1, n):
        ok = np.flatnonzero(pos[:i] <= pos[i] + tol)
        if len(ok):
            j = ok[np.argmax(best[ok])]
            best[i], prev[i] = best[j] + 1, j
    i = int(np.argmax(best))
    out = []
    while i >= 0:
        out.append(i)
        i = int(prev[i])
    return np.array(out[::-1], dtype=np.int64)


def sequence_issues(d: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    """Find numbers used twice on one street and numbers out of sequence along it.

    Parameters
    ----------
    d
        Doorplates with ``street``, ``housenumber``, ``hn_key``, ``osm_ids``, ``code`` and
        ``point_geom`` (metric CRS).

    Returns
    -------
    list of dict
        One issue per finding (``same_number_twice`` conflicts, ``out_of_sequence``
        warnings). Along each side of a street (odd or even numbers) the doorplates,
        ordered by number, should advance in one direction along the street's main axis;
        those off the longest such chain by more than
        :data:`SEQUENCE_TOLERANCE_METRES` are reported.
    """
    out: list[dict[str, Any]] = []
    named = d[d["street"].notna()]
    for (street, _key), g in named.groupby(["street", "hn_key"], sort=True):
        if len(g) > 1:
            codes = sorted(g["code"])
            out.append(
                {
                    "kind": "same_number_twice",
                    "severity": "conflict",
                    "message": (
                        f"{street} {g['housenumber'].iat[0]} is on the street {len(g)} times, "
                        f"further apart than points of one doorplate can be; registered as {codes}"
                    ),
                    "street": street,
                    "housenumber": g["housenumber"].iat[0],
                    "code": codes[0],
                    "osm_ids": sorted(o for ids in g["osm_ids"] for o in ids),
                    "geometry": g.geometry.iat[0],
                }
            )
    for street, g in named.groupby("street", sort=True):
        nums = np.array([int(m.group()) if (m := _NUM.match(k)) else -1 for k in g["hn_key"]])
        keep = nums >= 0
        if keep.sum() < _MIN_SIDE:
            continue
        xy = shapely.get_coordinates(np.asarray(g["point_geom"].to_numpy()))
        centred = xy - xy.mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        along = centred @ vt[0]
        for parity in (0, 1):
            side = np.flatnonzero(keep & (nums % 2 == parity))
            if len(side) < _MIN_SIDE:
                continue
            side = side[np.lexsort((along[side], nums[side]))]
            pos = along[side]
            up = _chain(pos, SEQUENCE_TOLERANCE_METRES)
            down = _chain(-pos, SEQUENCE_TOLERANCE_METRES)
            chain = up if len(up) >= len(down) else down
            for i in np.setdiff1d(np.arange(len(side)), chain):
                row = g.iloc[side[i]]
                out.append(
                    {
                        "kind": "out_of_sequence",
                        "severity": "warning",
                        "message": (
                            f"{street} {row['housenumber']} stands out of the sequence of the "
                            f"{'even' if parity == 0 else 'odd'} numbers along the street"
                        ),
                        "street": street,
                        "housenumber": row["housenumber"],
                        "code": row["code"],
                        "osm_ids": list(row["osm_ids"]),
                        "geometry": row.geometry,
                    }
                )
    return out
