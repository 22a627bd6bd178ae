"""OGC API Tiles: Mapbox vector tiles of every collection in WebMercatorQuad.

A tile is one store query by the tile's bounding box (so both backends use their
spatial index), its geometries projected to EPSG:3857, clipped to the tile plus a
small buffer and scaled to the tile's 4096-unit grid in one vectorised step, then
encoded with ``mapbox-vector-tile``. What a map at that zoom could not draw is left
out (see :func:`generalise`), so an overview tile of a whole city stays small and
complete instead of holding an arbitrary part of it. The tileset metadata carries the ``rel=item``
URL template that OpenLayers' ``OGCVectorTile`` source and QGIS follow.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from twin.crs import CRS84, transform_geometry
from twin.errors import FeatureNotFound, InvalidInput
from twin.service.params import Endpoint, check_known
from twin.store.base import FieldType, Query
from twin.temporal import parse_time

if TYPE_CHECKING:
    from morecantile import TileMatrixSet

    from twin.service._runtime import RequestState
    from twin.service.app import TwinService

__all__ = ["MVT", "ROUTES", "TMS_ID", "render_tile"]

logger = logging.getLogger(__name__)

MVT = "application/vnd.mapbox-vector-tile"
TMS_ID = "WebMercatorQuad"
TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
EPSG3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"
EXTENT = 4096
BUFFER = 64
MAX_ZOOM = 22
#: Most features one tile carries; a denser tile keeps the largest (logged).
MAX_FEATURES = 20000
#: Most features read for one tile, before generalisation.
MAX_READ = 250_000
#: A tile is drawn this many pixels wide: a line shorter, or a polygon smaller, than one
#: such pixel is not drawn, and points are thinned to one per pixel (when there are more
#: than :data:`DENSE_POINTS`).
TILE_PIXELS = 256
DENSE_POINTS = 4096
_OGC_REL = "http://www.opengis.net/def/rel/ogc/1.0"


@lru_cache(maxsize=1)
def _tms() -> TileMatrixSet:
    import morecantile

    return morecantile.tms.get(TMS_ID)


def _check_tms(tms_id: str) -> None:
    if tms_id != TMS_ID:
        msg = f"tileMatrixSetId={tms_id!r} is not served; choose one of [{TMS_ID!r}]"
        raise FeatureNotFound(msg)


def _tile_index(z: str, y: str, x: str) -> tuple[int, int, int]:
    msg = f"tile {z}/{y}/{x} is not three integers tileMatrix/tileRow/tileCol (ASCII digits)"
    # int() alone would also take '+1', '1_0', ' 1' and the digits of other scripts
    if not all(part.isascii() and part.isdigit() for part in (z, y, x)):
        raise InvalidInput(msg)
    try:
        zi, yi, xi = int(z), int(y), int(x)
    except ValueError:  # more digits than int() converts
        raise InvalidInput(msg) from None
    if not 0 <= zi <= MAX_ZOOM:
        msg = f"tileMatrix={zi!r} is outside 0..{MAX_ZOOM}"
        raise FeatureNotFound(msg)
    n = 1 << zi
    if not (0 <= yi < n and 0 <= xi < n):
        msg = f"tileRow={yi!r} or tileCol={xi!r} is outside 0..{n - 1} at tileMatrix {zi}"
        raise FeatureNotFound(msg)
    return zi, yi, xi


def _mvt_value(v: Any, ftype: FieldType) -> Any:
    if v is None:
        return None
    if ftype is FieldType.JSON:
        return json.dumps(v, ensure_ascii=False)
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return v


def render_tile(
    svc: TwinService, collection: str, z: int, y: int, x: int, *, time: Any = None
) -> bytes:
    """Encode one tile of a collection; empty bytes when no feature touches it."""
    import mapbox_vector_tile

    tms = _tms()
    import morecantile

    tile = morecantile.Tile(x, y, z)
    west, south, east, north = tms.bounds(tile)
    minx, miny, maxx, maxy = tms.xy_bounds(tile)
    pad = (maxx - minx) * BUFFER / EXTENT
    spec = svc.spec(collection)
    res = svc.store.query(
        collection,
        Query(time=time, bbox=(west, south, east, north), limit=MAX_READ, sort=(("id", True),)),
    )
    if not res.features:
        return b""
    if len(res.features) == MAX_READ:
        logger.warning("tile %s/%d/%d/%d read only %d features", collection, z, y, x, MAX_READ)
    geoms = np.array([fv.geometry for fv in res.features], dtype=object)
    merc = transform_geometry(geoms, CRS84, EPSG3857)
    keep = generalise(merc, (maxx - minx) / TILE_PIXELS)
    if len(keep) < len(merc):
        logger.debug("tile %s/%d/%d/%d: %d of %d drawn", collection, z, y, x, len(keep), len(merc))
    features = [res.features[i] for i in keep]
    merc = merc[keep]
    clipped = shapely.clip_by_rect(merc, minx - pad, miny - pad, maxx + pad, maxy + pad)
    scale_x = EXTENT / (maxx - minx)
    scale_y = EXTENT / (maxy - miny)

    def to_grid(c: np.ndarray) -> np.ndarray:
        out = np.empty_like(c)
        out[:, 0] = (c[:, 0] - minx) * scale_x
        out[:, 1] = (maxy - c[:, 1]) * scale_y
        return out

    grid = shapely.transform(clipped, to_grid)
    types = {f.name: f.type for f in spec.fields}
    feats = []
    for fv, g in zip(features, grid, strict=True):
        if g is None or g.is_empty:
            continue
        props = {k: _mvt_value(v, types.get(k, FieldType.STRING)) for k, v in fv.properties.items()}
        props = {k: v for k, v in props.items() if v is not None}
        props["id"] = fv.id
        feats.append({"geometry": g, "properties": props, "id": _int_id(fv.id)})
    if not feats:
        return b""
    data: bytes = mapbox_vector_tile.encode(
        [{"name": collection, "features": feats}],
        default_options={"y_coord_down": True, "extents": EXTENT},
    )
    return data


def generalise(geoms: np.ndarray, pixel: float) -> np.ndarray:
    """The indices, in their order, of the geometries a map drawn at ``pixel`` (metres)
    shows, at most :data:`MAX_FEATURES`.

    A line shorter than a pixel and a polygon smaller than one are left out; points are
    thinned to the first in each pixel when more than :data:`DENSE_POINTS` fall in the
    tile. If more than :data:`MAX_FEATURES` remain, the longest lines, the largest
    polygons and then the points first in order are kept.

    Examples
    --------
    >>> g = np.array([shapely.LineString([(0, 0), (5, 0)]), shapely.LineString([(0, 0), (0.5, 0)])])
    >>> generalise(g, 1.0).tolist()
    [0]
    """
    dim = shapely.get_dimensions(geoms)
    size = np.where(dim == 1, shapely.length(geoms), shapely.area(geoms))
    shown = np.where(dim == 1, size >= pixel, np.where(dim == 2, size >= pixel * pixel, True))
    shown &= ~shapely.is_empty(geoms) & (dim >= 0)
    points = np.flatnonzero(shown & (dim == 0))
    if len(points) > DENSE_POINTS:
        xy = shapely.get_coordinates(shapely.point_on_surface(geoms[points]))
        cells = np.floor(xy / pixel).astype(np.int64)
        _, first = np.unique(cells, axis=0, return_index=True)
        shown[points] = False
        shown[points[first]] = True
    keep = np.flatnonzero(shown)
    if len(keep) > MAX_FEATURES:
        logger.warning("a tile kept the largest %d of %d features", MAX_FEATURES, len(keep))
        rank = np.lexsort((keep, -np.where(dim[keep] == 0, -1.0, size[keep])))
        keep = np.sort(keep[rank[:MAX_FEATURES]])
    return keep


def _int_id(fid: str) -> int | None:
    return int(fid) if fid.isdigit() and len(fid) < 19 else None


def _tileset(svc: TwinService, collection: str) -> dict[str, Any]:
    spec = svc.spec(collection)
    ext = svc.extent(collection)
    base = f"{svc.base_url}/collections/{collection}/tiles/{TMS_ID}"
    doc: dict[str, Any] = {
        "title": f"{spec.title} ({TMS_ID})",
        "dataType": "vector",
        "crs": EPSG3857,
        "tileMatrixSetURI": TMS_URI,
        "links": [
            {"rel": "self", "type": "application/json", "href": base},
            {
                "rel": f"{_OGC_REL}/tiling-scheme",
                "type": "application/json",
                "href": f"{svc.base_url}/tileMatrixSets/{TMS_ID}",
            },
            {
                "rel": "item",
                "type": MVT,
                "title": f"{spec.title} vector tiles",
                "href": f"{base}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}",
                "templated": True,
            },
            {
                "rel": f"{_OGC_REL}/geodata",
                "type": "application/json",
                "href": f"{svc.base_url}/collections/{collection}",
            },
        ],
        "layers": [
            {
                "id": collection,
                "dataType": "vector",
                "geometryDimension": _dimension(spec.geometry_type),
                "minTileMatrix": "0",
                "maxTileMatrix": str(MAX_ZOOM),
                "propertiesSchema": {
                    "type": "object",
                    "properties": {f.name: {"type": _json_type(f.type)} for f in spec.fields},
                },
            }
        ],
    }
    if ext.bbox is not None:
        doc["boundingBox"] = {
            "lowerLeft": [ext.bbox[0], ext.bbox[1]],
            "upperRight": [ext.bbox[2], ext.bbox[3]],
            "crs": CRS84,
        }
    return doc


def _dimension(gtype: str) -> int | None:
    return {"Point": 0, "MultiPoint": 0, "LineString": 1, "MultiLineString": 1}.get(
        gtype, 2 if "Polygon" in gtype else None
    )


def _json_type(ftype: FieldType) -> str:
    return {
        FieldType.INTEGER: "integer",
        FieldType.NUMBER: "number",
        FieldType.BOOLEAN: "boolean",
    }.get(ftype, "string")


def _json(doc: Any) -> Response:
    return Response(json.dumps(doc), media_type="application/json")


async def _tilesets(request: Request, svc: TwinService, state: RequestState) -> Response:
    name = request.path_params["collection_id"]
    svc.check_read(svc.spec(name), state)
    check_known(request.query_params, Endpoint.TILESETS)
    ts = _tileset(svc, name)
    summary = {k: ts[k] for k in ("title", "dataType", "crs", "tileMatrixSetURI")}
    summary["links"] = [ts["links"][0] | {"rel": "self"}, ts["links"][1]]
    return _json(
        {
            "tilesets": [summary],
            "links": [
                {
                    "rel": "self",
                    "type": "application/json",
                    "href": f"{svc.base_url}/collections/{name}/tiles",
                },
            ],
        }
    )


async def _tileset_route(request: Request, svc: TwinService, state: RequestState) -> Response:
    name = request.path_params["collection_id"]
    svc.check_read(svc.spec(name), state)
    check_known(request.query_params, Endpoint.TILESETS)
    _check_tms(request.path_params["tms"])
    return _json(_tileset(svc, name))


async def _tile(request: Request, svc: TwinService, state: RequestState) -> Response:
    p = request.path_params
    name = p["collection_id"]
    svc.check_read(svc.spec(name), state)
    check_known(request.query_params, Endpoint.TILE)
    _check_tms(p["tms"])
    z, y, x = _tile_index(p["z"], p["y"], p["x"])
    when = request.query_params.get("datetime")
    time = parse_time(when) if when else None
    data = await run_in_threadpool(render_tile, svc, name, z, y, x, time=time)
    if not data:
        return Response(status_code=204)
    return Response(data, media_type=MVT)


async def _tms_list(request: Request, svc: TwinService, state: RequestState) -> Response:
    check_known(request.query_params, Endpoint.TILESETS)
    return _json(
        {
            "tileMatrixSets": [
                {
                    "id": TMS_ID,
                    "title": _tms().title,
                    "uri": TMS_URI,
                    "links": [
                        {
                            "rel": "self",
                            "type": "application/json",
                            "href": f"{svc.base_url}/tileMatrixSets/{TMS_ID}",
                        }
                    ],
                }
            ]
        }
    )


async def _tms_doc(request: Request, svc: TwinService, state: RequestState) -> Response:
    check_known(request.query_params, Endpoint.TILESETS)
    _check_tms(request.path_params["tms"])
    return Response(_tms().model_dump_json(exclude_none=True), media_type="application/json")


_C = "/collections/{collection_id}/tiles"
ROUTES = (
    (_C, _tilesets),
    (f"{_C}/{{tms}}", _tileset_route),
    (f"{_C}/{{tms}}/{{z}}/{{y}}/{{x}}", _tile),
    ("/tileMatrixSets", _tms_list),
    ("/tileMatrixSets/{tms}", _tms_doc),
)
