"""QR door plates, read back with OpenCV's QR detector."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from addressing.codes import HELSINKI, AddressCode, InvalidAddressCode
from addressing.errors import AddressNotFound
from addressing.qr import item_url, plate_sheet, qr_png, qr_svg, write_qr
from twin.build import build_twin
from twin.errors import InvalidInput
from twin.plugins import load_plugins
from twin.store import Store, open_store

ROOT = Path(__file__).resolve().parents[2]
OSM = ROOT / "data" / "helsinki.osm.pbf"
CODE = AddressCode(HELSINKI, street=24, doorplate=1).code
_SQUARE = re.compile(r"M([\d.]+),([\d.]+)h([\d.]+)v[\d.]+h-[\d.]+z")


def decode(pixels: np.ndarray) -> str:
    text, _points, _ = cv2.QRCodeDetector().detectAndDecode(pixels)
    return str(text)


def read_png(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    assert image is not None
    return image


def rasterise(
    path: str, x0: float, y0: float, n: int, quiet: int = 4, scale: int = 8
) -> np.ndarray:
    """Paint the squares of an SVG path (module grid at x0, y0) into a grey image."""
    squares = [tuple(float(v) for v in m) for m in _SQUARE.findall(path)]
    size = squares[0][2]
    grid = np.full((n + 2 * quiet, n + 2 * quiet), 255, dtype=np.uint8)
    for x, y, _s in squares:
        c, r = round((x - x0) / size), round((y - y0) / size)
        grid[r + quiet, c + quiet] = 0
    return np.kron(grid, np.ones((scale, scale), dtype=np.uint8))


def test_png_reads_back_as_the_item_url() -> None:
    image = read_png(qr_png(CODE))
    assert decode(image) == f"http://127.0.0.1:5000/collections/addresses/items/{CODE}"


def test_base_url_from_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWIN_PUBLIC_URL", "https://twin.example.org/helsinki/")
    assert decode(read_png(qr_png(CODE))) == (
        f"https://twin.example.org/helsinki/collections/addresses/items/{CODE}"
    )


@settings(max_examples=15, deadline=None)
@given(
    st.integers(1, 99999),
    st.integers(1, 99999),
    st.sampled_from(["http://127.0.0.1:5000", "https://a.example"]),
)
def test_any_code_reads_back(street: int, door: int, base: str) -> None:
    code = AddressCode(HELSINKI, street=street, doorplate=door)
    assert decode(read_png(qr_png(code.display(), base_url=base, scale=6))) == item_url(
        code.code, base_url=base
    )


def test_svg_reads_back() -> None:
    svg = qr_svg(CODE)
    root = ET.fromstring(svg.split("\n", 1)[1])
    n = int(root.attrib["viewBox"].split()[2])
    path = root.find("{http://www.w3.org/2000/svg}path")
    assert path is not None
    image = rasterise(path.attrib["d"], 0, 0, n, quiet=0)
    assert decode(image) == item_url(CODE)


def test_write_by_extension(tmp_path: Path) -> None:
    png = write_qr(CODE, tmp_path / "plate.PNG")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = write_qr(CODE, tmp_path / "plate.svg")
    assert svg.read_text().startswith("<?xml")
    with pytest.raises(
        InvalidInput, match=r"out='.*plate.jpg' must end with one of \['.png', '.svg'\]"
    ):
        write_qr(CODE, tmp_path / "plate.jpg")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"code": CODE[:-1] + ("0" if CODE[-1] != "0" else "1")},
            InvalidAddressCode,
            "fails its check character",
        ),
        ({"code": "not a code"}, InvalidAddressCode, "is not a standard address code"),
        ({"code": CODE, "base_url": "ftp://x"}, InvalidInput, "base_url='ftp://x' must start with"),
    ],
)
def test_bad_codes_and_urls(kwargs: dict[str, str], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        item_url(**kwargs)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path = tmp_path_factory.mktemp("qr") / "helsinki.gpkg"
    plugins = [p for p in load_plugins() if p.name in ("layers", "addressing")]
    build_twin(OSM, str(path), plugins=plugins)
    with open_store(str(path), create=False) as s:
        yield s


def test_plate_sheet_of_a_street(store: Store) -> None:
    a = store.read_frame("addresses")
    codes = set(a.loc[a["street"] == "Kaivokatu", "id"])
    svg = plate_sheet("Brunngatan", store=store)
    root = ET.fromstring(svg.split("\n", 1)[1])
    ns = "{http://www.w3.org/2000/svg}"
    plates = [g for g in root.iter(f"{ns}g") if g.attrib.get("class") == "plate"]
    assert len(plates) == len(codes) > 0
    pages = -(-len(plates) // 8)
    assert root.attrib["height"] == f"{297 * pages}mm"
    read = set()
    for g in plates:
        texts = [t.text for t in g.iter(f"{ns}text")]
        assert texts[1] == "Kaivokatu" and texts[2] == "Brunngatan"
        d = g.find(f"{ns}path").attrib["d"]  # type: ignore[union-attr]
        first = _SQUARE.search(d)
        assert first is not None
        x0, y0 = float(first[1]), float(first[2])  # the top-left finder pattern
        size = float(first[3])
        n = round(40.0 / size)
        url = decode(rasterise(d, x0, y0, n))
        assert url.startswith("http://127.0.0.1:5000/collections/addresses/items/")
        read.add(url.rsplit("/", 1)[1])
        assert str(texts[3]).replace("-", "") == url.rsplit("/", 1)[1]
    assert read == codes


def test_plate_sheet_of_an_unknown_street(store: Store) -> None:
    with pytest.raises(AddressNotFound, match=r"street='Nowhere' has no standard addresses"):
        plate_sheet("Nowhere", store=store)
