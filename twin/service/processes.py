"""OGC API Processes of the kernel, and how any processor reaches the live store.

Processes run inside pygeoapi's process manager: synchronously, or as jobs
(``Prefer: respond-async``) recorded in a TinyDB file under the service's ``var``
folder, so that jobs and their results survive a restart. The service adds
``twin_runtime`` to every processor definition; :func:`store_for` turns it into the
store.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from pygeoapi.process.base import BaseProcessor, ProcessorExecuteError

from twin.errors import InvalidInput, TwinError
from twin.service import examples as _examples
from twin.service._runtime import Runtime, get_runtime
from twin.service.geojson import field_names, to_geojson
from twin.store.base import Query, Store
from twin.temporal import Instant, parse_datetime

__all__ = ["FeaturesInPolygonProcessor", "TwinProcessor", "requested_collections", "store_for"]

logger = logging.getLogger(__name__)

#: Most features one layer may contribute to a result.
MAX_FEATURES_PER_LAYER = 10000


def store_for(processor_def: Mapping[str, Any]) -> Store:
    """The store of the service that loaded a processor."""
    return get_runtime(str(processor_def["twin_runtime"])).store


def requested_collections(inputs: Mapping[str, Any]) -> list[str] | None:
    """The ``collections`` input of an execute request, or None when not given."""
    value = inputs.get("collections")
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        msg = f"input collections={value!r} must be a list of collection names"
        raise InvalidInput(msg)
    return list(value)


class TwinProcessor(BaseProcessor):
    """Base of a plugin's processors: the live store, checked input names, errors with their
    status.

    A subclass sets ``METADATA`` (pygeoapi's process description) and implements
    :meth:`run`; it may override :meth:`local_example` to offer an example of its own
    twin. An input the description does not name, or a
    :class:`~twin.errors.TwinError` raised by :meth:`run`, fails the execution with the
    error's message; a synchronous execution answers with the error's HTTP status (404 for
    something not there, 422 for what cannot be computed, 400 for malformed input). Any
    other exception is a fault of the server: it is logged and answered as a 500 whose
    message names only the process.
    """

    METADATA: ClassVar[dict[str, Any]] = {}

    def __init__(self, processor_def: dict[str, Any]) -> None:
        super().__init__(processor_def, self.METADATA)
        self._def = processor_def
        token = processor_def.get("twin_runtime")
        runtime = None
        if token is not None:
            try:
                runtime = get_runtime(str(token))
            except TwinError:
                runtime = None
        self.metadata = _examples.described(runtime, self.METADATA, self.local_example)

    def local_example(self, runtime: Runtime) -> dict[str, Any] | None:
        """Example inputs that work on ``runtime``'s twin, or None to keep ``METADATA``'s.

        Called once per service (see :mod:`twin.service._examples`); the default keeps the
        static example.
        """
        return None

    @property
    def store(self) -> Store:
        """The store of the service that runs the process."""
        return store_for(self._def)

    @property
    def base_url(self) -> str:
        """The public URL of the service that runs the process."""
        return get_runtime(str(self._def["twin_runtime"])).settings.public_url()

    def execute(
        self, data: dict[str, Any], outputs: dict[str, Any] | None = None
    ) -> tuple[str, Any]:
        try:
            if not isinstance(data, Mapping):
                msg = "inputs must be a JSON object"
                raise InvalidInput(msg)
            known = self.METADATA["inputs"]
            unknown = sorted(set(data) - set(known))
            if unknown:
                msg = (
                    f"inputs {unknown} are not inputs of {self.METADATA['id']}; "
                    f"choose from {sorted(known)}"
                )
                raise InvalidInput(msg)
            return self.run(data)
        except TwinError as exc:
            err = ProcessorExecuteError(user_msg=exc.msg)
            err.http_status_code = exc.status
            err.ogc_exception_code = exc.code
            raise err from None
        except Exception as exc:
            # a fault of the server, not of the request: logged whole, answered as a 500
            # that says nothing about the code or the files it touched
            logger.exception("process %s failed", self.METADATA.get("id"))
            err = ProcessorExecuteError(
                user_msg=f"the process {self.METADATA.get('id')!r} failed on the server; "
                "the service's log has the details"
            )
            err.http_status_code = 500
            err.ogc_exception_code = "NoApplicableCode"
            raise err from exc

    def run(self, data: Mapping[str, Any]) -> tuple[str, Any]:
        """The media type and the output of the process, for checked input names."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


PROCESS_METADATA: dict[str, Any] = {
    "version": "1.0.0",
    "id": "features-in-polygon",
    "title": "Features inside a polygon, as of a date",
    "description": (
        "Returns the features of several layers that intersect a polygon, as the city "
        "was at an instant (now when no datetime is given)."
    ),
    "jobControlOptions": ["sync-execute", "async-execute"],
    "outputTransmission": ["value"],
    "keywords": ["spatial query", "time travel", "twin"],
    "links": [],
    "inputs": {
        "polygon": {
            "title": "Polygon",
            "description": "A GeoJSON Polygon or MultiPolygon in CRS84 (lon, lat).",
            "schema": {"type": "object", "contentMediaType": "application/geo+json"},
            "minOccurs": 1,
            "maxOccurs": 1,
        },
        "collections": {
            "title": "Layers",
            "description": "Names of the collections to search; all public ones by default.",
            "schema": {"type": "array", "items": {"type": "string"}},
            "minOccurs": 0,
            "maxOccurs": 1,
        },
        "datetime": {
            "title": "As of",
            "description": "An RFC 3339 instant; the city at that instant.",
            "schema": {"type": "string", "format": "date-time"},
            "minOccurs": 0,
            "maxOccurs": 1,
        },
    },
    "outputs": {
        "features": {
            "title": "Features per layer",
            "description": "An object: collection name -> GeoJSON FeatureCollection.",
            "schema": {"type": "object", "contentMediaType": "application/json"},
        }
    },
    "example": {
        "inputs": {
            "polygon": {
                "type": "Polygon",
                "coordinates": [
                    [[24.93, 60.16], [24.96, 60.16], [24.96, 60.18], [24.93, 60.18], [24.93, 60.16]]
                ],
            },
            "collections": ["buildings"],
        }
    },
}


class FeaturesInPolygonProcessor(TwinProcessor):
    """Features of several layers inside a polygon, as of a date."""

    METADATA = PROCESS_METADATA

    def local_example(self, runtime: Runtime) -> dict[str, Any] | None:
        example = self.METADATA["example"]["inputs"]
        if _examples.holds(runtime.city_bbox, example):
            return None
        public = [n for n, s in runtime.specs.items() if not s.restricted]
        middle = None
        for name in ["buildings", *public]:
            if name in public:
                middle = _examples.central_feature(runtime, name)
            if middle is not None:
                break
        if middle is None:
            return None
        names = [name]
        c = _examples.position(middle)
        x0, y0 = _examples.offset(c, -150, -150)
        x1, y1 = _examples.offset(c, 150, 150)
        ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
        return {"polygon": {"type": "Polygon", "coordinates": [ring]}, "collections": names}

    def run(self, data: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        from twin.store._validate import geometry_from_geojson

        store = self.store
        poly = geometry_from_geojson(data.get("polygon"), name="input polygon")
        if poly is None or poly.geom_type not in ("Polygon", "MultiPolygon"):
            got = None if poly is None else poly.geom_type
            msg = f"input polygon must be a GeoJSON Polygon or MultiPolygon, got {got!r}"
            raise InvalidInput(msg)
        if poly.is_empty:
            msg = "input polygon is empty: it has no coordinates"
            raise InvalidInput(msg)
        lon0, lat0, lon1, lat1 = poly.bounds
        if lon0 < -180 or lon1 > 180 or lat0 < -90 or lat1 > 90:
            msg = (
                "input polygon has coordinates outside CRS84 (longitude -180..180, "
                f"latitude -90..90): its bounds are {[lon0, lat0, lon1, lat1]}"
            )
            raise InvalidInput(msg)
        if not poly.is_valid:
            msg = "input polygon is not a valid polygon (it may cross itself)"
            raise InvalidInput(msg)
        specs = {s.name: s for s in store.collections()}
        names = requested_collections(data)
        if names is None:
            names = [n for n, s in specs.items() if not s.restricted]
        unknown = sorted(set(names) - set(specs))
        if unknown:
            msg = f"input collections names {unknown}, not in the catalog; choose from {sorted(specs)}"
            raise InvalidInput(msg)
        time = None
        if "datetime" in data:
            when = data["datetime"]
            if not isinstance(when, str) or not when.strip():
                msg = f"input datetime={when!r} must be an RFC 3339 instant, as a string"
                raise InvalidInput(msg)
            time = Instant(parse_datetime(when, name="input datetime"))
        out: dict[str, Any] = {}
        for name in names:
            res = store.query(
                name,
                Query(
                    time=time, intersects=poly, sort=(("id", True),), limit=MAX_FEATURES_PER_LAYER
                ),
                count=True,
            )
            fields = field_names(specs[name])
            out[name] = {
                "type": "FeatureCollection",
                "features": [to_geojson(fv, fields=fields) for fv in res.features],
                "numberMatched": res.number_matched,
                "numberReturned": len(res.features),
            }
        return "application/json", out
