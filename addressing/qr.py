"""QR door plates: a QR code per standard address, and printable sheets of plates.

The payload of a plate's QR code is the URL of the address's item in the service,
``{TWIN_PUBLIC_URL}/collections/{collection}/items/{code}``, where the collection is the
one that holds the code's level (:func:`collection_of`): ``addresses`` for a doorplate,
``sub_addresses`` for a building, unit, floor or room, ``streets`` for a street. The URL
ends with the 35-character code, so a reader that does not follow links still reads the
code, and the plate prints the code under the QR code as well.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from addressing._missing import text_or_none
from addressing._text import _preview
from addressing.codes import InvalidAddressCode, parse_code
from twin.errors import CollectionNotFound, InvalidInput

if TYPE_CHECKING:
    import pandas as pd

    from twin.store import Store

__all__ = [
    "collection_of",
    "item_url",
    "plate_sheet",
    "qr_matrix",
    "qr_png",
    "qr_svg",
    "service_url",
    "write_qr",
]

log = logging.getLogger(__name__)

_FORMATS = (".png", ".svg")


def collection_of(code: str) -> str:
    """Return the name of the collection whose item a standard address code is.

    Parameters
    ----------
    code
        A standard address code, plain or with dashes (checked).

    Returns
    -------
    str
        ``"addresses"`` for a doorplate, ``"sub_addresses"`` for a building, unit, floor
        or room, ``"streets"`` for a street.

    Raises
    ------
    addressing.codes.InvalidAddressCode
        ``code`` is malformed, fails its check character, or names a division only
        (a division is no item of the service).

    Examples
    --------
    >>> collection_of("246091000000-00024-00001-000-00-000-0000-9")
    'addresses'
    >>> collection_of("246091000000-00024-00001-002-00-000-0000-7")
    'sub_addresses'
    """
    from addressing._registry_specs import ADDRESSES, LEVELS_BELOW, STREETS, SUB_ADDRESSES

    level = parse_code(code).level
    if level in LEVELS_BELOW:
        return SUB_ADDRESSES.name
    if level == "doorplate":
        return ADDRESSES.name
    if level == "street":
        return STREETS.name
    msg = (
        f"code={code!r} names a division only; a doorplate, building, unit, floor, room "
        "or street code has an item in the service"
    )
    raise InvalidAddressCode(msg)


def service_url(base_url: str | None = None) -> str:
    """Return the service's public URL without a trailing slash, checked.

    Parameters
    ----------
    base_url
        The URL; default ``TWIN_PUBLIC_URL`` (``http://127.0.0.1:5000``).

    Raises
    ------
    twin.errors.InvalidInput
        ``base_url`` is not an ``http://`` or ``https://`` URL with a host, or has a
        query, a fragment, a bad port, white space or control characters.

    Examples
    --------
    >>> service_url("https://twin.example/city/")
    'https://twin.example/city'
    """
    if base_url is None:
        from addressing._registry_specs import AddressSettings

        base_url = AddressSettings().public_url
    if not isinstance(base_url, str):
        msg = f"base_url must be a str, got {type(base_url).__name__} {base_url!r}"
        raise InvalidInput(msg)
    problem = _url_problem(base_url)
    if problem:
        msg = (
            f"base_url={_preview(base_url, 60)} {problem}; give the service's public URL, "
            "such as 'https://twin.example.org'"
        )
        raise InvalidInput(msg)
    return base_url.rstrip("/")


def _url_problem(url: str) -> str | None:
    """What makes ``url`` unusable as the base of item URLs, or ``None``."""
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        return "holds white space or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a port that is no number raises here
    except ValueError as exc:
        return f"is not a URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return "must start with 'http://' or 'https://'"
    if not parts.hostname:
        return "has no host"
    if "?" in url:
        return "has a query ('?...')"
    if "#" in url:
        return "has a fragment ('#...')"
    return None


def item_url(code: str, *, base_url: str | None = None) -> str:
    """Return the URL of an address's item in the service, the payload of its QR code.

    The item is in the collection of the code's level (:func:`collection_of`).

    Parameters
    ----------
    code
        A standard address code, plain or with dashes (checked).
    base_url
        The service's public URL; default ``TWIN_PUBLIC_URL`` (``http://127.0.0.1:5000``).

    Raises
    ------
    addressing.codes.InvalidAddressCode
        ``code`` is malformed, fails its check character or names a division only.
    twin.errors.InvalidInput
        ``base_url`` is not an http(s) URL.

    Examples
    --------
    >>> item_url("246091000000-00024-00001-000-00-000-0000-9", base_url="https://twin.example/")
    'https://twin.example/collections/addresses/items/24609100000000024000010000000000009'
    >>> item_url("246091000000-00024-00001-002-00-000-0000-7", base_url="https://twin.example")
    'https://twin.example/collections/sub_addresses/items/24609100000000024000010020000000007'
    """
    plain = parse_code(code).code
    collection = collection_of(plain)
    return f"{service_url(base_url)}/collections/{collection}/items/{plain}"


def _make(payload: str, border: int, mask: int | None) -> list[list[bool]]:
    import qrcode
    from qrcode.constants import ERROR_CORRECT_Q

    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_Q, border=border, mask_pattern=mask)
    qr.add_data(payload)
    qr.make(fit=True)
    return [list(row) for row in qr.get_matrix()]


def _scans(dark: list[list[bool]], payload: str, border: int) -> bool:
    """Whether OpenCV's QR detector reads ``payload`` back from the modules, at two sizes."""
    import cv2
    import numpy as np

    pixels = np.where(np.array(dark, dtype=bool), 0, 255).astype(np.uint8)
    pixels = np.pad(pixels, max(0, 4 - border), constant_values=255)
    detector = cv2.QRCodeDetector()
    for scale in (6, 10):
        image = np.kron(pixels, np.ones((scale, scale), dtype=np.uint8))
        if detector.detectAndDecode(image)[0] != payload:
            return False
    return True


def qr_matrix(payload: str, *, border: int = 4) -> list[list[bool]]:
    """Return the modules of the QR code of ``payload`` (``True`` = dark), quiet zone included.

    Error correction is level Q (a quarter of the plate may be soiled). Of the eight
    mask patterns, the one the QR standard's penalty rule prefers is used, unless
    OpenCV's QR detector fails to read it back; then the first pattern it reads is.
    """
    best = _make(payload, border, None)
    try:
        import cv2  # noqa: F401
    except ImportError:  # pragma: no cover - opencv is a dependency of the twin
        return best
    if _scans(best, payload, border):
        return best
    for mask in range(8):
        dark = _make(payload, border, mask)
        if _scans(dark, payload, border):
            return dark
    log.warning("no mask pattern of the QR code of %r reads back with OpenCV", payload)
    return best


def qr_png(code: str, *, base_url: str | None = None, scale: int = 10) -> bytes:
    """Return a PNG image of the QR code of an address (``scale`` pixels per module)."""
    import numpy as np
    from PIL import Image

    if isinstance(scale, bool) or not isinstance(scale, int) or not 1 <= scale <= 100:
        msg = f"scale={scale!r} must be an integer from 1 to 100 (pixels per module)"
        raise InvalidInput(msg)
    dark = np.array(qr_matrix(item_url(code, base_url=base_url)), dtype=bool)
    pixels = np.where(dark, 0, 255).astype(np.uint8)
    pixels = np.kron(pixels, np.ones((scale, scale), dtype=np.uint8))
    buf = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buf, format="PNG")
    return buf.getvalue()


def _path(dark: list[list[bool]], *, x0: float = 0, y0: float = 0, size: float = 1) -> str:
    """An SVG path drawing the dark modules as squares of ``size``."""
    parts = []
    for r, row in enumerate(dark):
        for c, on in enumerate(row):
            if on:
                parts.append(f"M{x0 + c * size:g},{y0 + r * size:g}h{size:g}v{size:g}h{-size:g}z")
    return "".join(parts)


def qr_svg(code: str, *, base_url: str | None = None, module_mm: float = 1.0) -> str:
    """Return an SVG document of the QR code of an address (``module_mm`` per module)."""
    dark = qr_matrix(item_url(code, base_url=base_url))
    n = len(dark)
    side = n * module_mm
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{side:g}mm" height="{side:g}mm" '
        f'viewBox="0 0 {n} {n}" shape-rendering="crispEdges">'
        f'<rect width="{n}" height="{n}" fill="#fff"/>'
        f'<path d="{_path(dark)}" fill="#000"/></svg>\n'
    )


def write_qr(code: str, out: str | Path, *, base_url: str | None = None) -> Path:
    """Write the QR code of an address to ``out``, PNG or SVG by its extension."""
    path = Path(out)
    suffix = path.suffix.lower()
    if suffix not in _FORMATS:
        msg = f"out={str(out)!r} must end with one of {list(_FORMATS)}"
        raise InvalidInput(msg)
    data = (
        qr_png(code, base_url=base_url)
        if suffix == ".png"
        else qr_svg(code, base_url=base_url).encode()
    )
    try:
        path.write_bytes(data)
    except OSError as exc:
        msg = f"out={str(out)!r} cannot be written: {exc.strerror}"
        raise InvalidInput(msg) from None
    return path


# A plate is 90 x 60 mm; an A4 sheet (210 x 297 mm) holds 2 x 4 of them.
_PLATE_W, _PLATE_H, _COLS, _ROWS, _MARGIN_X, _MARGIN_Y = 90.0, 60.0, 2, 4, 12.0, 18.0


def _plate(plate: _PlateText, x: float, y: float, base_url: str | None) -> str:
    dark = qr_matrix(item_url(plate.code, base_url=base_url), border=0)
    module = 40.0 / len(dark)
    return (
        f'<g class="plate">'
        f'<rect x="{x:g}" y="{y:g}" width="{_PLATE_W:g}" height="{_PLATE_H:g}" rx="3" '
        f'fill="#0b3d91" stroke="#fff" stroke-width="1.2"/>'
        f'<text x="{x + 5:g}" y="{y + 26:g}" font-size="20" font-weight="bold" fill="#fff" '
        f'font-family="sans-serif">{escape(plate.number)}</text>'
        f'<text x="{x + 5:g}" y="{y + 36:g}" font-size="5" fill="#fff" font-family="sans-serif">{escape(plate.street)}</text>'
        f'<text x="{x + 5:g}" y="{y + 43:g}" font-size="5" fill="#fff" font-family="sans-serif">{escape(plate.second)}</text>'
        f'<rect x="{x + 44:g}" y="{y + 4:g}" width="42" height="42" fill="#fff"/>'
        f'<path d="{_path(dark, x0=x + 45, y0=y + 5, size=module)}" fill="#000"/>'
        f'<text x="{x + 45:g}" y="{y + 55:g}" font-size="2.6" fill="#fff" '
        f'font-family="monospace">{escape(plate.shown)}</text></g>'
    )


class _PlateText(NamedTuple):
    """What a plate prints: the number, the street in Finnish and (when it differs) in
    Swedish, and the code; a missing part is empty. ``street_code`` finds the plates of
    a street."""

    code: str
    street_code: str
    number: str
    street: str
    second: str
    shown: str


def _plate_texts(frame: pd.DataFrame, names: dict[str, tuple[str, str]]) -> list[_PlateText]:
    """The plate of each address of ``frame``; a street name the address lacks is its
    street's (``names``: street code -> Finnish and Swedish name)."""
    out = []
    for code, street_code, fi, sv, number, shown in zip(
        frame["id"],
        _texts(frame, "street_code"),
        _texts(frame, "street"),
        _texts(frame, "street_sv"),
        _texts(frame, "housenumber"),
        _texts(frame, "code_display"),
        strict=True,
    ):
        of_street = names.get(street_code or "", ("", ""))
        first = fi or of_street[0] or sv or of_street[1]
        second = sv or of_street[1]
        out.append(
            _PlateText(
                str(code),
                street_code or "",
                number or "",
                first,
                second if second != first else "",
                shown or parse_code(str(code)).display(),
            )
        )
    return out


def _texts(frame: pd.DataFrame, name: str) -> list[str | None]:
    """A text column of ``frame``, ``None`` where missing (NaN in a frame) or absent."""
    values = frame[name] if name in frame.columns else [None] * len(frame)
    return [text_or_none(v) for v in values]


def _street_names(store: Store) -> dict[str, tuple[str, str]]:
    """Street code -> (Finnish name, Swedish name) of the twin's streets, ``""`` where missing."""
    try:
        s = store.read_frame("streets")
    except CollectionNotFound:
        return {}
    none = [None] * len(s)
    return {
        str(code): (text_or_none(fi) or "", text_or_none(sv) or "")
        for code, fi, sv in zip(s["id"], s.get("name", none), s.get("name_sv", none), strict=True)
    }


def plate_sheet(
    street: str, *, store: Store | str | None = None, base_url: str | None = None
) -> str:
    """Return a printable SVG of the door plates of one street, A4 pages stacked.

    Parameters
    ----------
    street
        The street's name in Finnish or Swedish (any case) or its code.
    store
        A store, a database URL, or ``None`` for ``TWIN_DB``.
    base_url
        The service's public URL; default ``TWIN_PUBLIC_URL``.

    Returns
    -------
    str
        An SVG document in millimetres; 8 plates (90 x 60 mm) per A4 page, ordered by number.
        An address that lacks its street name prints its street's name (``streets``); a
        missing house number is left blank.

    Raises
    ------
    addressing.registry.AddressNotFound
        No current address is on that street.
    twin.errors.InvalidInput
        ``street`` is not a str, or ``base_url`` is not an http(s) URL.
    """
    from addressing._geocode_text import compact, number_range
    from addressing._store import store_scope
    from addressing.errors import AddressNotFound

    if not isinstance(street, str):
        msg = f"street must be a str, got {type(street).__name__} {_preview(repr(street), 60)}"
        raise InvalidInput(msg)
    base_url = service_url(base_url)
    with store_scope(store) as s:
        frame = s.read_frame("addresses")
        plates = _plate_texts(frame, _street_names(s))
    key = compact(street)
    want = street.replace("-", "").upper()
    rows = [
        p
        for p in plates
        if key and (p.street_code == want or key in (compact(p.street), compact(p.second)))
    ]
    if not rows:
        msg = (
            f"street={_preview(street, 60)} has no standard addresses; give a street name or "
            "street code"
        )
        raise AddressNotFound(msg)
    rows.sort(key=lambda p: (number_range(p.number.lower()), p.number))
    title = next((p.street for p in rows if p.street), street)
    per_page = _COLS * _ROWS
    pages = (len(rows) + per_page - 1) // per_page
    height = 297.0 * pages
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="210mm" height="{height:g}mm" '
        f'viewBox="0 0 210 {height:g}">'
        f"<title>Door plates: {escape(title)}</title>"
        f'<rect width="210" height="{height:g}" fill="#fff"/>'
    ]
    for k in range(len(rows)):
        page, slot = divmod(k, per_page)
        r, c = divmod(slot, _COLS)
        x = _MARGIN_X + c * (_PLATE_W + 6)
        y = page * 297.0 + _MARGIN_Y + r * (_PLATE_H + 6)
        parts.append(_plate(rows[k], x, y, base_url))
    parts.append("</svg>\n")
    return "".join(parts)
