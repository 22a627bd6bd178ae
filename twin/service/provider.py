"""The twin's pygeoapi feature provider: pygeoapi's queries become store queries.

pygeoapi builds one provider per request from the collection's configuration; the
configuration's ``data`` is the running service's token (see
:mod:`twin.service._runtime`), through which the provider reaches the live store.
Everything is translated into one :class:`~twin.store.base.Query`, so the store's
indexes and SQL do the work: bbox, filter, sort, paging and counting.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any
from urllib.parse import unquote

from pygeoapi.provider.base import (
    BaseProvider,
    ProviderGenericError,
    ProviderItemNotFoundError,
)
from shapely.geometry.base import BaseGeometry

from twin.crs import CRS84, from_crs84
from twin.errors import FeatureNotFound, InvalidInput, TwinError
from twin.service._runtime import RequestState, Runtime, get_runtime, request_state
from twin.service.geojson import feature_from_body, field_names, page_to_geojson, to_geojson
from twin.store.base import INT64_MAX, INT64_MIN, Feature, FieldType, Query
from twin.store.filters import And, Compare, CompareOp, Expr
from twin.temporal import parse_datetime, parse_time

__all__ = ["TwinProvider", "field_schema"]

logger = logging.getLogger(__name__)

_PYGEOAPI_TYPE = {
    FieldType.STRING: {"type": "string"},
    FieldType.INTEGER: {"type": "integer"},
    FieldType.NUMBER: {"type": "number"},
    FieldType.BOOLEAN: {"type": "boolean"},
    FieldType.DATETIME: {"type": "string", "format": "date-time"},
    FieldType.JSON: {"type": "object"},
}
_SYSTEM_FIELDS = {
    "version": {"type": "integer"},
    "valid_from": {"type": "string", "format": "date-time"},
    "valid_to": {"type": "string", "format": "date-time"},
}


def field_schema(fields: Sequence[Any]) -> dict[str, dict[str, str]]:
    """pygeoapi's ``fields`` mapping for a schema, with the store's system fields."""
    out = {f.name: dict(_PYGEOAPI_TYPE[FieldType(f.type)]) for f in fields}
    out.update({k: dict(v) for k, v in _SYSTEM_FIELDS.items()})
    return out


def provider_error(exc: TwinError) -> ProviderGenericError:
    """A pygeoapi provider error carrying a TwinError's status, code and message."""
    err = ProviderGenericError(user_msg=exc.msg)
    err.http_status_code = exc.status
    err.ogc_exception_code = exc.code
    return err


class TwinProvider(BaseProvider):
    """pygeoapi provider over one collection of the twin's store."""

    def __init__(self, provider_def: dict[str, Any]) -> None:
        super().__init__(provider_def)
        self.collection: str = provider_def["collection"]
        self.id_field = "id"
        self.time_field = None
        self._fields = dict(provider_def.get("twin_fields", {}))

    # -- plumbing --------------------------------------------------------------------
    @property
    def runtime(self) -> Runtime:
        return get_runtime(self.data)

    @property
    def state(self) -> RequestState:
        return request_state.get() or RequestState()

    def get_fields(self) -> dict[str, dict[str, str]]:
        return dict(self._fields)

    # -- reads -----------------------------------------------------------------------
    def query(
        self,
        offset: int = 0,
        limit: int = 10,
        resulttype: str = "results",
        bbox: Sequence[float] | None = None,
        datetime_: str | None = None,
        properties: Sequence[tuple[str, str]] | None = None,
        sortby: Sequence[dict[str, str]] | None = None,
        select_properties: Sequence[str] | None = None,
        skip_geometry: bool = False,
        q: str | None = None,
        filterq: Any = None,
        crs_transform_spec: Any = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Features of one page, with ``numberMatched`` and ``numberReturned``."""
        try:
            query, select = self._build_query(
                offset=offset,
                limit=limit,
                bbox=bbox,
                datetime_=datetime_,
                properties=properties or (),
                sortby=sortby or (),
                select_properties=select_properties,
                skip_geometry=skip_geometry,
                filterq=filterq,
            )
            if resulttype == "hits":
                query = Query(
                    time=query.time, bbox=query.bbox, where=query.where, limit=0, offset=0
                )
            result = self.runtime.store.query(self.collection, query, count=True)
        except TwinError as exc:
            raise provider_error(exc) from None
        feats = page_to_geojson(
            result.features,
            properties=select,
            skip_geometry=query.skip_geometry,
            crs=getattr(crs_transform_spec, "target_crs_uri", None),
            fields=field_names(self.runtime.spec(self.collection)),
        )
        return {
            "type": "FeatureCollection",
            "features": feats,
            "numberMatched": result.number_matched,
            "numberReturned": len(feats),
        }

    def _build_query(
        self,
        *,
        offset: int,
        limit: int,
        bbox: Sequence[float] | None,
        datetime_: str | None,
        properties: Sequence[tuple[str, str]],
        sortby: Sequence[dict[str, str]],
        select_properties: Sequence[str] | None,
        skip_geometry: bool,
        filterq: Any,
    ) -> tuple[Query, tuple[str, ...] | None]:
        state = self.state
        if filterq is not None and state.where is None:
            msg = "filter must be given through the twin service"
            raise InvalidInput(msg)
        parts: list[Expr] = []
        if state.where is not None:
            parts.append(state.where)
        spec = self.runtime.spec(self.collection)
        types = {f.name: f.type for f in spec.fields}
        for name, raw in properties:
            parts.append(Compare(name, CompareOp.EQ, _coerce(raw, types.get(name), name)))
        where: Expr | None = None
        if len(parts) == 1:
            where = parts[0]
        elif parts:
            where = And(tuple(parts))
        box = state.extra.get("bbox")
        if box is None and bbox:
            b = [float(v) for v in bbox]
            box = (b[0], b[1], b[3], b[4]) if len(b) == 6 else (b[0], b[1], b[2], b[3])
        sort = tuple((s["property"], s.get("order", "+") != "-") for s in sortby)
        select = tuple(select_properties) if select_properties else None
        stored = None if select is None else tuple(p for p in select if p in types)
        query = Query(
            time=parse_time(datetime_) if datetime_ else None,
            bbox=box,
            where=where,
            sort=sort or (("id", True),),
            limit=int(limit),
            offset=int(offset),
            properties=stored,
            skip_geometry=bool(skip_geometry),
        )
        return query, select

    def get(self, identifier: str, crs_transform_spec: Any = None, **kwargs: Any) -> dict[str, Any]:
        """One feature: the current version, or the one valid at the request's instant.

        ``identifier`` is the id percent-encoded, as in the item's URL: the service hands
        pygeoapi that form, which pygeoapi writes into the links of the item.
        """
        state = self.state
        fid = unquote(str(identifier))
        try:
            fv = self.runtime.store.get(self.collection, fid, time=state.extra.get("time"))
        except FeatureNotFound:
            msg = f"feature {fid!r} not found in {self.collection!r}"
            raise ProviderItemNotFoundError(user_msg=msg) from None
        except TwinError as exc:
            raise provider_error(exc) from None
        state.etag = fv.etag
        return to_geojson(
            fv,
            transform=_transformer(crs_transform_spec),
            fields=field_names(self.runtime.spec(self.collection)),
        )

    # -- writes (pygeoapi's own transaction path) --------------------------------------
    def create(self, item: bytes | str | dict[str, Any]) -> str:
        """Create a feature from a GeoJSON body; returns its id."""
        spec = self.runtime.spec(self.collection)
        try:
            fid, geom, props, _ = feature_from_body(item, spec)
            fid = fid or uuid.uuid4().hex
            self.runtime.store.create(
                self.collection, [Feature(fid, geom, props)], actor=self.state.actor
            )
        except TwinError as exc:
            raise provider_error(exc) from None
        return fid

    def update(self, identifier: str, item: bytes | str | dict[str, Any]) -> bool:
        """Replace a feature with a new version."""
        spec = self.runtime.spec(self.collection)
        try:
            fid, geom, props, _ = feature_from_body(item, spec, feature_id=str(identifier))
            assert fid is not None
            self.runtime.store.replace(
                self.collection, Feature(fid, geom, props), actor=self.state.actor
            )
        except TwinError as exc:
            raise provider_error(exc) from None
        return True

    def delete(self, identifier: str) -> bool:
        """Retire a feature: its last version is closed, its history stays."""
        try:
            self.runtime.store.retire(self.collection, str(identifier), actor=self.state.actor)
        except TwinError as exc:
            raise provider_error(exc) from None
        return True

    def __repr__(self) -> str:
        return f"<TwinProvider {self.collection}>"


def _transformer(spec: Any) -> Callable[[BaseGeometry], BaseGeometry] | None:
    target = getattr(spec, "target_crs_uri", None)
    if not target or target == CRS84:
        return None
    return partial(from_crs84, dst=target)


def _coerce(raw: str, ftype: FieldType | None, name: str) -> Any:
    """A query-parameter value as the field's type (Part 1 property equality)."""
    if ftype is FieldType.INTEGER:
        return _int64(raw, name)
    try:
        match ftype:
            case FieldType.NUMBER:
                x = float(raw)
                if not math.isfinite(x):
                    raise ValueError
                return x
            case FieldType.BOOLEAN:
                low = raw.lower()
                if low not in ("true", "false"):
                    raise ValueError
                return low == "true"
            case FieldType.DATETIME:
                return parse_datetime(raw, name=name)
    except ValueError:
        msg = f"{name}={raw!r} is not a valid {ftype}"
        raise InvalidInput(msg) from None
    return raw


def _int64(raw: str, name: str) -> int:
    """An INTEGER field's query-parameter value; 400 unless it fits 64 bits."""
    try:
        n = int(raw)
    except ValueError:
        msg = f"{name}={raw!r} is not a valid {FieldType.INTEGER}"
        raise InvalidInput(msg) from None
    if not INT64_MIN <= n <= INT64_MAX:
        msg = f"{name}={raw!r} is outside the 64-bit integer range {INT64_MIN}..{INT64_MAX}"
        raise InvalidInput(msg)
    return n
