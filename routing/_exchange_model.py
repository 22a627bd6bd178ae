"""The Route Exchange Model (draft OGC 21-001): a computed route as GeoJSON.

:func:`exchange_model` writes the answer of ``POST /routes``: a FeatureCollection of an
``overview``, a ``start``, one ``segment`` per manoeuvre and an ``end``, with the
green wave's ``signalPlan`` when the route has one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, mapping

from routing.route import Route

__all__ = ["GEOJSON", "exchange_model"]

GEOJSON = "application/geo+json"


def _segments(leg: Route) -> list[tuple[Any, Any]]:
    """Each step with its stretch of the leg's line.

    The line is measured once in the city's metric CRS; each step's stretch is cut by
    its share of the length, interpolating between the original CRS84 vertices.
    """
    from twin.crs import local_metric_crs, transform_geometry

    line = leg.geometry
    if line.is_empty or line.length == 0:
        return [(s, line) for s in leg.steps]
    lonlat = np.asarray(line.coords)[:, :2]
    xy = np.asarray(transform_geometry(line, "OGC:CRS84", local_metric_crs(line.bounds)).coords)[
        :, :2
    ]
    cum = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
    total = sum(s.length_m for s in leg.steps) or 1.0
    scale = float(cum[-1]) / total

    def at(d: float) -> list[float]:
        return [float(np.interp(d, cum, lonlat[:, 0])), float(np.interp(d, cum, lonlat[:, 1]))]

    out = []
    pos = 0.0
    for s in leg.steps:
        end = min(pos + s.length_m * scale, float(cum[-1]))
        if end - pos <= 1e-6:
            geom: Any = shapely.Point(s.location)
        else:
            inner = lonlat[(cum > pos) & (cum < end)].tolist()
            geom = LineString([at(pos), *inner, at(end)])
        out.append((s, geom))
        pos = end
    return out


def _round_line(geom: Any) -> dict[str, Any]:
    return mapping(shapely.set_precision(geom, 1e-7)) if not geom.is_empty else mapping(geom)


def exchange_model(
    name: str,
    legs: list[Route],
    depart: datetime,
    plans: list[Any],
    *,
    route_id: str,
    base_url: str,
    mode: str,
) -> dict[str, Any]:
    """A computed route as the Route Exchange Model (GeoJSON FeatureCollection)."""
    coords: list[Any] = []
    for leg in legs:
        part = list(leg.geometry.coords)
        coords.extend(part[1:] if coords and part and coords[-1] == part[0] else part)
    overview_geom = LineString(coords) if len(coords) >= 2 else shapely.Point(coords[0])
    length = sum(leg.length_m for leg in legs)
    duration = sum(leg.travel_time_s for leg in legs)
    arrival = depart + timedelta(seconds=duration)
    fid = iter(range(1, 1_000_000))
    features: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "id": next(fid),
            "geometry": _round_line(overview_geom),
            "properties": {
                "featureType": "overview",
                "length_m": round(length, 1),
                "duration_s": round(duration, 1),
                "departure": depart.isoformat(),
                "arrival": arrival.isoformat(),
                "mode": mode,
                "nodeIds": [n for leg in legs for n in leg.node_ids],
                "closures": sorted({c for leg in legs for c in leg.closures}),
            },
        },
        {
            "type": "Feature",
            "id": next(fid),
            "geometry": mapping(shapely.Point(legs[0].origin.point)),
            "properties": {
                "featureType": "start",
                "name": legs[0].origin.road_name,
                "snap": legs[0].origin.to_dict(),
            },
        },
    ]
    for i, leg in enumerate(legs):
        for step, geom in _segments(leg):
            features.append(
                {
                    "type": "Feature",
                    "id": next(fid),
                    "geometry": _round_line(geom),
                    "properties": {
                        "featureType": "segment",
                        "leg": i,
                        "length_m": round(step.length_m, 1),
                        "duration_s": round(step.duration_s, 1),
                        "roadName": step.road_name,
                        "instructions": step.instruction,
                        "maneuver": step.maneuver,
                        "modifier": step.modifier,
                        "nodeId": step.node_id,
                        "restriction": step.restriction,
                    },
                }
            )
    features.append(
        {
            "type": "Feature",
            "id": next(fid),
            "geometry": mapping(shapely.Point(legs[-1].destination.point)),
            "properties": {
                "featureType": "end",
                "name": legs[-1].destination.road_name,
                "snap": legs[-1].destination.to_dict(),
            },
        }
    )
    doc: dict[str, Any] = {
        "type": "FeatureCollection",
        "name": name,
        "status": "successful",
        "id": route_id,
        "features": features,
        "links": [
            {"rel": "self", "type": GEOJSON, "href": f"{base_url}/routes/{route_id}"},
        ],
    }
    if plans:
        signals = [s for p in plans for s in p.to_dict()["signals"]]
        no_pre = sum(p.eta_no_preemption_s for p in plans)
        pre = sum(p.eta_preemption_s for p in plans)
        doc["signalPlan"] = {
            "departure": depart.isoformat(),
            "eta_no_preemption_s": round(no_pre, 2),
            "eta_preemption_s": round(pre, 2),
            "time_saved_s": round(no_pre - pre, 2),
            "arrival_no_preemption": (depart + timedelta(seconds=no_pre)).isoformat(),
            "arrival_preemption": (depart + timedelta(seconds=pre)).isoformat(),
            "signals": signals,
            "plan_ids": [p.plan_id for p in plans],
        }
    return doc
