"""Strict query parameters: what each endpoint accepts, checked before pygeoapi runs.

OGC API Features asks a server to reject a query parameter it does not know (400);
pygeoapi ignores them. The service therefore checks every request's parameters here,
with messages that name the parameter, show the bad value and list the valid choices,
and normalises what pygeoapi would get wrong: ``bbox-crs`` boxes are moved to CRS84
with the CRS's own axis order, ``crs`` spellings become OGC URIs, and the ``filter``
is parsed by the twin (see :mod:`twin.service.cql`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from typing import Any

import shapely

from twin.crs import CRS84, check_bounds, check_served, crs_uri, to_crs84, transform_bbox
from twin.errors import InvalidInput
from twin.service.cql import parse_filter, queryable_names
from twin.service.errors import UnknownParameter
from twin.store.base import INT64_MAX, CollectionSpec
from twin.store.filters import Expr
from twin.temporal import TimeSpec, parse_time

__all__ = ["FORMATS", "Endpoint", "ItemsParams", "check_known", "parse_items_params"]

COMMON = frozenset({"f", "lang"})
_ITEMS = frozenset(
    {
        "bbox",
        "bbox-crs",
        "limit",
        "offset",
        "datetime",
        "crs",
        "properties",
        "skipGeometry",
        "sortby",
        "filter",
        "filter-lang",
        "filter-crs",
        "resulttype",
    }
)
_SYSTEM_SORT = ("id", "version", "valid_from", "valid_to")


class Endpoint(StrEnum):
    LANDING = "landing page"
    CONFORMANCE = "conformance"
    COLLECTIONS = "collections"
    COLLECTION = "collection"
    QUERYABLES = "queryables"
    ITEMS = "items"
    ITEM = "item"
    HISTORY = "history"
    OPENAPI = "openapi"
    TILESETS = "tilesets"
    TILE = "tile"
    PROCESSES = "processes"
    JOBS = "jobs"


_ALLOWED: dict[Endpoint, frozenset[str]] = {
    Endpoint.LANDING: COMMON,
    Endpoint.CONFORMANCE: COMMON,
    Endpoint.COLLECTIONS: COMMON,
    Endpoint.COLLECTION: COMMON,
    Endpoint.QUERYABLES: COMMON | {"profile"},
    Endpoint.ITEM: COMMON | {"crs"},
    Endpoint.HISTORY: COMMON | {"crs"},
    Endpoint.OPENAPI: COMMON | {"ui"},
    Endpoint.TILESETS: COMMON,
    Endpoint.TILE: COMMON | {"datetime"},
    Endpoint.PROCESSES: COMMON | {"limit"},
    Endpoint.JOBS: COMMON | {"limit", "offset"},
}

_PAGES = ("json", "html", "jsonld")
#: The values of ``f`` each endpoint answers (the first is its default).
FORMATS: dict[Endpoint, tuple[str, ...]] = {
    Endpoint.LANDING: _PAGES,
    Endpoint.CONFORMANCE: _PAGES,
    Endpoint.COLLECTIONS: _PAGES,
    Endpoint.COLLECTION: _PAGES,
    Endpoint.QUERYABLES: ("json", "html"),
    Endpoint.ITEMS: ("json", "html", "jsonld", "csv"),
    Endpoint.ITEM: _PAGES,
    Endpoint.HISTORY: ("json",),
    Endpoint.OPENAPI: ("json", "html"),
    Endpoint.TILESETS: ("json",),
    Endpoint.TILE: ("mvt",),
    Endpoint.PROCESSES: _PAGES,
    Endpoint.JOBS: _PAGES,
}


def check_known(
    params: Mapping[str, str], endpoint: Endpoint, *, extra: Sequence[str] = ()
) -> None:
    """Raise :class:`UnknownParameter` for the first parameter the endpoint does not define,
    and :class:`~twin.errors.InvalidInput` for an ``f`` it does not answer."""
    allowed = _ALLOWED.get(endpoint, COMMON | _ITEMS) | set(extra)
    if endpoint is Endpoint.ITEMS:
        allowed = COMMON | _ITEMS | set(extra)
    repeated = getattr(params, "getlist", None)
    for name in params:
        if repeated is not None and len(repeated(name)) > 1:
            msg = f"query parameter {name!r} is given {len(repeated(name))} times; give it once"
            raise InvalidInput(msg)
        if name not in allowed:
            msg = (
                f"query parameter {name!r} is not known to the {endpoint} endpoint; "
                f"choose from {sorted(allowed)}"
            )
            raise UnknownParameter(msg)
    fmt = params.get("f")
    if fmt is not None and fmt not in FORMATS[endpoint]:
        msg = f"f={fmt!r} is not a format of the {endpoint} endpoint; choose from {list(FORMATS[endpoint])}"
        raise InvalidInput(msg)


@dataclass
class ItemsParams:
    """An items request after checking: what pygeoapi gets and what the twin keeps."""

    forward: dict[str, str]
    where: Expr | None = None
    time: TimeSpec = None
    crs: str = CRS84
    bbox: tuple[float, float, float, float] | None = None
    stripped: dict[str, str] = field(default_factory=dict)


def _number_list(value: str, name: str) -> list[float]:
    try:
        nums = [float(v) for v in value.split(",")]
    except ValueError:
        msg = f"{name}={value!r} is not a comma-separated list of numbers"
        raise InvalidInput(msg) from None
    if len(nums) not in (4, 6) or not all(math.isfinite(v) for v in nums):
        msg = f"{name}={value!r} must be 4 or 6 finite numbers (minx,miny[,minz],maxx,maxy[,maxz])"
        raise InvalidInput(msg)
    return nums


def _int(value: str, name: str, *, minimum: int, maximum: int = INT64_MAX) -> int:
    try:
        n = int(value)
    except ValueError:
        msg = f"{name}={value!r} is not an integer"
        raise InvalidInput(msg) from None
    if n < minimum:
        msg = f"{name}={value!r} must be at least {minimum}"
        raise InvalidInput(msg)
    if n > maximum:
        msg = f"{name}={value!r} must be at most {maximum}"
        raise InvalidInput(msg)
    return n


def served_crs_uri(value: str, city_bbox: Sequence[float], *, name: str) -> str:
    """The OGC URI of a served CRS, from any accepted spelling (UnknownCRS otherwise)."""
    return crs_uri(check_served(value, city_bbox, name=name))


def parse_items_params(
    params: Mapping[str, str],
    spec: CollectionSpec,
    *,
    city_bbox: Sequence[float],
) -> ItemsParams:
    """Check an items request and prepare what pygeoapi receives.

    Raises
    ------
    InvalidInput
        For any unknown or malformed parameter (a 400 naming it).
    """
    fields = [f.name for f in spec.fields]
    check_known(params, Endpoint.ITEMS, extra=fields)
    fwd = dict(params)
    out = ItemsParams(forward=fwd)
    if "limit" in params:
        _int(params["limit"], "limit", minimum=1)
    if "offset" in params:
        _int(params["offset"], "offset", minimum=0)
    if "resulttype" in params and params["resulttype"] not in ("results", "hits"):
        msg = f"resulttype={params['resulttype']!r} is not one of ['hits', 'results']"
        raise InvalidInput(msg)
    if "skipGeometry" in params and params["skipGeometry"].lower() not in ("true", "false"):
        msg = f"skipGeometry={params['skipGeometry']!r} is not one of ['false', 'true']"
        raise InvalidInput(msg)
    if "datetime" in params:
        out.time = parse_time(params["datetime"], name="datetime")
    if "crs" in params:
        out.crs = served_crs_uri(params["crs"], city_bbox, name="crs")
        fwd["crs"] = out.crs
    if "bbox-crs" in params and "bbox" not in params:
        msg = f"bbox-crs={params['bbox-crs']!r} is given without bbox"
        raise InvalidInput(msg)
    if "bbox" in params:
        box = _number_list(params["bbox"], "bbox")
        src = CRS84
        if "bbox-crs" in params:
            src = served_crs_uri(params["bbox-crs"], city_bbox, name="bbox-crs")
        flat = box[:2] + box[3:5] if len(box) == 6 else box
        corners = shapely.MultiPoint([flat[:2], flat[2:]])
        check_bounds(corners, src, name=f"bbox={params['bbox']!r}", world=True)
        if src != CRS84:
            flat = list(transform_bbox(flat, src, CRS84))
        if flat[1] > flat[3]:
            msg = f"bbox={params['bbox']!r} has its lower corner above its upper corner"
            raise InvalidInput(msg)
        if flat[0] > flat[2]:
            msg = f"bbox={params['bbox']!r} crosses the antimeridian, which this service does not support"
            raise InvalidInput(msg)
        out.bbox = (flat[0], flat[1], flat[2], flat[3])
        # the twin applies the bbox itself: pygeoapi's own bbox handling costs more than
        # the query (it identifies the CRS by a catalogue search on every request)
        for name in ("bbox", "bbox-crs"):
            if name in fwd:
                out.stripped[name] = fwd.pop(name)
    if "sortby" in params:
        fwd["sortby"] = _check_sortby(params["sortby"], spec, set(fields) | set(_SYSTEM_SORT))
    if "properties" in params:
        selectable = set(fields) | {"version", "valid_from", "valid_to"}
        _check_properties(params["properties"], spec, selectable)
    if "filter" in params:
        lang = params.get("filter-lang")
        to84: Any = None
        fcrs = CRS84
        if "filter-crs" in params:
            fcrs = served_crs_uri(params["filter-crs"], city_bbox, name="filter-crs")
            if fcrs != CRS84:
                to84 = partial(to_crs84, src=fcrs)
        out.where = parse_filter(params["filter"], spec, lang=lang, to_crs84=to84, crs=fcrs)
    elif "filter-lang" in params or "filter-crs" in params:
        name = "filter-lang" if "filter-lang" in params else "filter-crs"
        msg = f"{name}={params[name]!r} is given without filter"
        raise InvalidInput(msg)
    for name in ("filter", "filter-lang", "filter-crs"):
        if name in fwd:
            out.stripped[name] = fwd.pop(name)
    return out


def _check_sortby(value: str, spec: CollectionSpec, sortable: set[str]) -> str:
    """Check a sortby: sortable names, each with at most one leading + or -.

    Returns the sortby without blanks around its items (an unencoded ``+`` in a URL
    arrives as a blank).
    """
    items = []
    for item in value.split(","):
        item = item.strip()
        name = item[1:] if item[:1] in ("+", "-") else item
        if not name:
            msg = f"sortby={value!r} has an empty item; give property names, e.g. 'height,-name'"
            raise InvalidInput(msg)
        if name[:1] in ("+", "-"):
            msg = f"sortby={value!r} has {item!r}; give one + or - before a property name"
            raise InvalidInput(msg)
        if name not in sortable:
            msg = (
                f"sortby names the property {name!r}, which {spec.name!r} does not have; "
                f"choose from {sorted(sortable)}"
            )
            raise InvalidInput(msg)
        items.append(item)
    return ",".join(items)


def _check_properties(value: str, spec: CollectionSpec, selectable: set[str]) -> None:
    """A non-empty comma-separated list of the collection's property names."""
    for name in value.split(","):
        if not name:
            msg = f"properties={value!r} has an empty name; give property names, e.g. 'name,height'"
            raise InvalidInput(msg)
        if name not in selectable:
            msg = (
                f"properties names {name!r}, which {spec.name!r} does not have; "
                f"choose from {sorted(selectable)}"
            )
            raise InvalidInput(msg)


def queryables(spec: CollectionSpec) -> list[str]:
    """The names a filter on ``spec`` may use (re-exported for the app)."""
    return queryable_names(spec)
