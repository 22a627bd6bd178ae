"""OGC API Processes of the addressing package: parse, geocode, reverse and QR plates.

Each processor is a thin layer over the Python functions: it reads the ``inputs`` of an
execute request, checks them at the edge and calls :func:`addressing.parse`,
:func:`addressing.geocode`, :func:`addressing.geocode.geocode_many`,
:func:`addressing.reverse` or :mod:`addressing.qr`. Bad input raises a
:class:`twin.errors.TwinError` whose message names the input and shows its value;
pygeoapi answers it with a 400 exception document.

The geocoding index is the one of :func:`addressing._geocode_index.get_index`, built once
per store on first use and kept for every later request (rebuilt only when the
GeoPackage file or the registry changes).

========================  ========================================================
process id                what it does
========================  ========================================================
``address-parse``         text -> labelled components and the script read
``address-geocode``       text (or ``texts``, a batch) -> ranked candidates
``address-reverse``       a position in any served CRS -> nearest address, building,
                          the building's code
``address-qr``            any level's code -> the QR image of its item URL (PNG, SVG)
========================  ========================================================
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from twin.errors import InvalidInput
from twin.service import examples as _examples
from twin.service.processes import TwinProcessor

if TYPE_CHECKING:
    from twin.service._runtime import Runtime
    from twin.store.base import FeatureVersion

__all__ = [
    "MAX_BATCH",
    "PROCESSES",
    "AddressGeocodeProcessor",
    "AddressParseProcessor",
    "AddressQrProcessor",
    "AddressReverseProcessor",
]

log = logging.getLogger(__name__)

MAX_BATCH = 10000
"""The most texts one ``address-geocode`` batch may hold."""

_QR_FORMATS = {"png": "image/png", "svg": "image/svg+xml"}

#: Process id -> pygeoapi processor definition (what :class:`twin.plugins.Plugin` lists).
PROCESSES: dict[str, dict[str, Any]] = {
    "address-parse": {"processor": {"name": "addressing.processes.AddressParseProcessor"}},
    "address-geocode": {"processor": {"name": "addressing.processes.AddressGeocodeProcessor"}},
    "address-reverse": {"processor": {"name": "addressing.processes.AddressReverseProcessor"}},
    "address-qr": {"processor": {"name": "addressing.processes.AddressQrProcessor"}},
}


# -- reading inputs ---------------------------------------------------------------------


def _number(data: Mapping[str, Any], name: str, default: float | None = None) -> float:
    value = data.get(name, default)
    if value is None:
        msg = f"input {name} is required: a number"
        raise InvalidInput(msg)
    if isinstance(value, bool) or not isinstance(value, int | float):
        msg = f"input {name}={value!r} must be a number"
        raise InvalidInput(msg)
    return float(value)


def _string(data: Mapping[str, Any], name: str, default: str | None = None) -> str:
    value = data.get(name, default)
    if value is None:
        msg = f"input {name} is required: a string"
        raise InvalidInput(msg)
    if not isinstance(value, str):
        msg = f"input {name}={value!r} must be a string"
        raise InvalidInput(msg)
    return value


def _text(data: Mapping[str, Any]) -> str:
    """The ``text`` input, checked as address text (empty, length, binary, emoji)."""
    from addressing._text import check_text

    if "text" not in data:
        msg = "input text is required: the address as free text, e.g. 'Mannerheimintie 5'"
        raise InvalidInput(msg)
    return check_text(data["text"])


def _input(
    name: str, title: str, description: str, schema: dict[str, Any], *, required: bool
) -> dict[str, Any]:
    return {
        name: {
            "title": title,
            "description": description,
            "schema": schema,
            "minOccurs": 1 if required else 0,
            "maxOccurs": 1,
        }
    }


def _metadata(
    pid: str,
    title: str,
    description: str,
    inputs: dict[str, Any],
    outputs: dict[str, Any],
    example: dict[str, Any],
    *,
    run_async: bool = True,
) -> dict[str, Any]:
    return {
        "version": "1.0.0",
        "id": pid,
        "title": title,
        "description": description,
        "jobControlOptions": ["sync-execute", "async-execute"] if run_async else ["sync-execute"],
        "outputTransmission": ["value"],
        "keywords": ["address", "standard address", "twin"],
        "links": [],
        "inputs": inputs,
        "outputs": outputs,
        "example": {"inputs": example},
    }


_TEXT_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 512}


_ADDRESSES = "addresses"
#: The static examples' place: a doorplate of the embedded Helsinki twin.
_EXAMPLE_POINT = [24.9412, 60.1708]


class _AddressProcessor(TwinProcessor):
    """The address processes' common base."""

    def _example_address(self, runtime: Runtime) -> FeatureVersion | None:
        """The twin's doorplate nearest the middle of the city, when the static examples
        (of central Helsinki) are not about this twin; else None."""
        if _ADDRESSES not in runtime.specs:
            return None
        box = runtime.store.extent(_ADDRESSES).bbox
        if box is None or _examples.holds(box, _EXAMPLE_POINT):
            return None
        return _examples.central_feature(runtime, _ADDRESSES)

    def _example_from(self, runtime: Runtime, make: Any) -> dict[str, Any] | None:
        found = self._example_address(runtime)
        return None if found is None else make(found)


# -- address-parse ----------------------------------------------------------------------
class AddressParseProcessor(_AddressProcessor):
    """``address-parse``: an address as free text into labelled components."""

    METADATA = _metadata(
        "address-parse",
        "Parse an address",
        (
            "Splits an address written as free text, in Chinese or in a Latin script, "
            "into labelled components with character offsets into the input."
        ),
        _input(
            "text",
            "Address",
            "The address, 1-512 characters, Chinese or Latin script.",
            _TEXT_SCHEMA,
            required=True,
        ),
        {
            "parsed": {
                "title": "Components",
                "description": (
                    "An object: text, language ('zh' or 'latin': the script the text was "
                    "read in) and components, a list of {label, start, end, text, value}."
                ),
                "schema": {"type": "object", "contentMediaType": "application/json"},
            }
        },
        {"text": "Fredrikink. 5 b 12, 00120 HELSINKI"},
    )

    def local_example(self, runtime: Runtime) -> dict[str, Any] | None:
        return self._example_from(runtime, lambda a: {"text": a.properties["label"]})

    def run(self, data: Mapping[str, Any]) -> tuple[str, Any]:
        from addressing import detect_script, parse

        text = _text(data)
        language = detect_script(text)
        return "application/json", {
            "text": text,
            "language": language,
            "components": [c.to_dict() for c in parse(text)],
        }


# -- address-geocode --------------------------------------------------------------------
class AddressGeocodeProcessor(_AddressProcessor):
    """``address-geocode``: free text to ranked standard addresses, one text or a batch."""

    METADATA = _metadata(
        "address-geocode",
        "Geocode addresses",
        (
            "Finds the standard addresses that free text most likely means, best first. "
            "Typos, missing parts, abbreviations and the other language's street name "
            "are tolerated. Give 'text' for one address, or 'texts' for a batch: each "
            "row gets its best candidate, or the reason it has none."
        ),
        {
            **_input(
                "text",
                "Address",
                "One address as free text (1-512 characters).",
                _TEXT_SCHEMA,
                required=False,
            ),
            **_input(
                "texts",
                "Addresses",
                f"A batch of addresses (at most {MAX_BATCH}); bad rows are reported, not dropped.",
                {"type": "array", "items": {"type": "string"}, "maxItems": MAX_BATCH},
                required=False,
            ),
            **_input(
                "limit",
                "Candidates",
                "The most candidates for 'text', 1-100 (default 5).",
                {"type": "integer", "minimum": 1, "maximum": 100, "default": 5},
                required=False,
            ),
        },
        {
            "candidates": {
                "title": "Candidates",
                "description": (
                    "For 'text': {text, candidates: [{code, label, label_sv, lon, lat, "
                    "score, level}]}, lon/lat in CRS84. For 'texts': {rows: [{row, text, "
                    "code, label, lon, lat, score, error}], geocoded, failed}."
                ),
                "schema": {"type": "object", "contentMediaType": "application/json"},
            }
        },
        {"text": "Mannerheimint. 5, Helsingfors", "limit": 3},
    )

    def local_example(self, runtime: Runtime) -> dict[str, Any] | None:
        return self._example_from(runtime, lambda a: {"text": a.properties["label"], "limit": 3})

    def run(self, data: Mapping[str, Any]) -> tuple[str, Any]:
        if ("text" in data) == ("texts" in data):
            msg = "give exactly one of the inputs text (one address) and texts (a batch)"
            raise InvalidInput(msg)
        if "texts" in data:
            if "limit" in data:
                msg = "input limit applies to text only; a batch gives each row its best candidate"
                raise InvalidInput(msg)
            return "application/json", self._batch(data["texts"])
        from addressing import geocode

        text = _text(data)
        limit = data.get("limit", 5)
        found = geocode(text, limit=limit, store=self.store)
        return "application/json", {
            "text": text,
            "candidates": [
                {**c.to_dict(), "label_sv": c.label_sv, "level": c.level} for c in found
            ],
        }

    def _batch(self, texts: object) -> dict[str, Any]:
        from addressing.geocode import geocode_many

        if not isinstance(texts, list):
            msg = f"input texts must be a list of address strings, got {type(texts).__name__}"
            raise InvalidInput(msg)
        if not texts:
            msg = "input texts is an empty list; give at least one address"
            raise InvalidInput(msg)
        if len(texts) > MAX_BATCH:
            msg = f"input texts holds {len(texts)} addresses; a batch holds at most {MAX_BATCH}"
            raise InvalidInput(msg)
        rows: list[dict[str, Any]] = []
        failed = 0
        for res in geocode_many(texts, store=self.store):
            c = res.candidate
            row: dict[str, Any] = {"row": res.row, "text": res.text}
            if c is None:
                failed += 1
                row.update(code=None, label=None, lon=None, lat=None, score=None, error=res.error)
            else:
                row.update(c.to_dict(), error=None)
            rows.append(row)
        return {"rows": rows, "geocoded": len(rows) - failed, "failed": failed}


# -- address-reverse --------------------------------------------------------------------
class AddressReverseProcessor(_AddressProcessor):
    """``address-reverse``: the standard address nearest to a position, and its building."""

    METADATA = _metadata(
        "address-reverse",
        "Reverse geocode a position",
        (
            "Finds the standard address whose entrance is nearest to a position, within "
            "a radius, the building it stands in and the building's standard address "
            "code. The position is a GeoJSON Point or "
            "x and y, in any CRS the service serves (axis order of that CRS: EPSG:4326 "
            "is lat, lon)."
        ),
        {
            **_input(
                "point",
                "Position",
                "A GeoJSON Point, coordinates in the axis order of 'crs'.",
                {"type": "object", "contentMediaType": "application/geo+json"},
                required=False,
            ),
            **_input(
                "x",
                "x",
                "First coordinate (instead of 'point').",
                {"type": "number"},
                required=False,
            ),
            **_input(
                "y",
                "y",
                "Second coordinate (instead of 'point').",
                {"type": "number"},
                required=False,
            ),
            **_input(
                "crs",
                "CRS",
                "URI of a served CRS (default CRS84, lon/lat).",
                {"type": "string", "format": "uri"},
                required=False,
            ),
            **_input(
                "radius_m",
                "Radius",
                "Metres; only addresses this close count (default 50, at most 5000).",
                {"type": "number", "exclusiveMinimum": 0, "maximum": 5000, "default": 50},
                required=False,
            ),
        },
        {
            "address": {
                "title": "Nearest address",
                "description": (
                    "{code, label, label_sv, lon, lat (CRS84), distance (metres), "
                    "building_id, building_code, url, building_url, building_code_url, "
                    "crs}: the doorplate, the building it stands in (a feature of "
                    "'buildings') and that building's standard address code (a feature of "
                    "'sub_addresses'), with their items' URLs; building_code and its URL "
                    "are null when the building has no code."
                ),
                "schema": {"type": "object", "contentMediaType": "application/json"},
            }
        },
        {"point": {"type": "Point", "coordinates": _EXAMPLE_POINT}, "radius_m": 50},
    )

    def local_example(self, runtime: Runtime) -> dict[str, Any] | None:
        return self._example_from(
            runtime,
            lambda a: {
                "point": {"type": "Point", "coordinates": list(_examples.position(a))},
                "radius_m": 50,
            },
        )

    def _position(self, data: Mapping[str, Any]) -> tuple[float, float]:
        has_point = "point" in data
        has_xy = "x" in data or "y" in data
        if has_point == has_xy:
            msg = "give the position as the input point (a GeoJSON Point) or as x and y, not both"
            raise InvalidInput(msg)
        if has_xy:
            return _number(data, "x"), _number(data, "y")
        point = data["point"]
        coords = point.get("coordinates") if isinstance(point, dict) else None
        if (
            not isinstance(point, dict)
            or point.get("type") != "Point"
            or not isinstance(coords, list)
            or len(coords) not in (2, 3)
        ):
            msg = (
                f"input point={point!r} must be a GeoJSON Point, "
                "e.g. {'type': 'Point', 'coordinates': [24.94, 60.17]}"
            )
            raise InvalidInput(msg)
        xy = {"x": coords[0], "y": coords[1]}
        try:
            return _number(xy, "x"), _number(xy, "y")
        except InvalidInput:
            msg = f"input point coordinates {coords!r} must be numbers"
            raise InvalidInput(msg) from None

    def run(self, data: Mapping[str, Any]) -> tuple[str, Any]:
        from addressing.reverse import reverse
        from twin.crs import CRS84, check_served, crs_uri
        from twin.service._runtime import get_runtime

        x, y = self._position(data)
        runtime = get_runtime(str(self._def["twin_runtime"]))
        crs_in = _string(data, "crs", CRS84)
        crs = check_served(crs_in, runtime.city_bbox, name="input crs")
        radius = _number(data, "radius_m", 50.0)
        r = reverse(x, y, crs=crs, radius=radius, store=self.store, base_url=self.base_url)
        return "application/json", {**r.to_dict(), "crs": crs_uri(crs)}


# -- address-qr -------------------------------------------------------------------------
class AddressQrProcessor(_AddressProcessor):
    """``address-qr``: the QR code of an address, as a PNG or SVG image."""

    METADATA = _metadata(
        "address-qr",
        "QR code of a door plate",
        (
            "The QR code of a standard address (a doorplate, building, unit, floor or "
            "room): its payload is the URL of the address's item in this service, in "
            "'addresses' for a doorplate and in 'sub_addresses' for the levels below, "
            "which ends with the code. The answer is the image itself, image/png or "
            "image/svg+xml."
        ),
        {
            **_input(
                "code",
                "Address code",
                (
                    "A standard address code of a doorplate, building, unit, floor or "
                    "room, 35 characters, plain or with dashes."
                ),
                {"type": "string"},
                required=True,
            ),
            **_input(
                "format",
                "Image format",
                "png (default) or svg.",
                {"type": "string", "enum": sorted(_QR_FORMATS), "default": "png"},
                required=False,
            ),
        },
        {
            "qr": {
                "title": "QR image",
                "description": "The image, PNG (10 pixels per module) or SVG (1 mm per module).",
                # PNG by default; with format=svg the same output is image/svg+xml.
                "schema": {"type": "string", "format": "binary", "contentMediaType": "image/png"},
            }
        },
        {"code": "246091000000-00024-00001-000-00-000-0000-9", "format": "svg"},
        run_async=False,
    )

    def local_example(self, runtime: Runtime) -> dict[str, Any] | None:
        return self._example_from(
            runtime, lambda a: {"code": a.properties["code_display"], "format": "svg"}
        )

    def run(self, data: Mapping[str, Any]) -> tuple[str, Any]:
        from addressing.errors import AddressNotFound
        from addressing.qr import item_url, qr_png, qr_svg
        from addressing.registry import get_address

        code = _string(data, "code")
        fmt = _string(data, "format", "png")
        if fmt not in _QR_FORMATS:
            msg = f"input format={fmt!r} is not one of {sorted(_QR_FORMATS)}"
            raise InvalidInput(msg)
        item_url(code, base_url=self.base_url)  # a code that has an item at all
        try:
            found = get_address(code, store=self.store)
        except AddressNotFound:
            # the library's message names the twin's file or database: not for the web
            msg = f"code={code!r} is a valid code but no standard address of this twin has it"
            raise AddressNotFound(msg) from None
        if fmt == "png":
            return _QR_FORMATS[fmt], qr_png(found.id, base_url=self.base_url)
        return _QR_FORMATS[fmt], qr_svg(found.id, base_url=self.base_url)
