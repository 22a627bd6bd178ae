"""QR door plates, read back with OpenCV's QR detector."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from addressing.codes import HELSINKI, AddressCode, InvalidAddressCode, parse_code
from addressing.errors import AddressNotFound
from addressing.qr import collection_of, item_url, plate_sheet, qr_png, qr_svg, write_qr
from twin.cli import cli
from twin.errors import InvalidInput, http_status
from twin.store import Store, open_store

CODE = AddressCode(HELSINKI, street=24, doorplate=1).code
BELOW = ("building", "unit", "floor", "room")
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


@pytest.mark.parametrize(
    ("base_url", "message"),
    [
        ("http://", "base_url='http://' has no host"),
        ("https://", "base_url='https://' has no host"),
        ("http:/twin.example", "base_url='http:/twin.example' has no host"),
        ("http://:5000", "has no host"),
        ("twin.example", "must start with 'http://' or 'https://'"),
        ("", "base_url='' must start with 'http://' or 'https://'"),
        ("http://twin.example/?city=1", r"has a query \('\?...'\)"),
        ("http://twin.example?", r"has a query"),
        ("http://twin.example/#top", r"has a fragment \('#...'\)"),
        ("http://twin.example:port", "is not a URL"),
        ("http://twin.example:70000", "is not a URL"),
        ("http://twin example", "holds white space or control characters"),
        ("http://twin.example\n", "holds white space or control characters"),
        ("http://" + "x" * 600 + "?", "base_url='http://xxxx*…' has a query"),
    ],
)
def test_base_urls_that_make_no_item_url(base_url: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as info:
        item_url(CODE, base_url=base_url)
    assert str(info.value).endswith(
        "give the service's public URL, such as 'https://twin.example.org'"
    )
    assert len(str(info.value)) < 200
    with pytest.raises(InvalidInput, match=message):
        qr_png(CODE, base_url=base_url)
    with pytest.raises(InvalidInput, match=message):
        plate_sheet("Kaivokatu", store="unused.gpkg", base_url=base_url)  # before the store


def test_base_urls_that_are_kept() -> None:
    assert item_url(CODE, base_url="HTTPS://Twin.Example:8443/city/") == (
        f"HTTPS://Twin.Example:8443/city/collections/addresses/items/{CODE}"
    )
    assert item_url(CODE, base_url="http://[::1]:5000") == (
        f"http://[::1]:5000/collections/addresses/items/{CODE}"
    )
    with pytest.raises(InvalidInput, match="base_url must be a str, got int 5"):
        item_url(CODE, base_url=5)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def store(helsinki_db: Path) -> Iterator[Store]:
    with open_store(str(helsinki_db), create=False) as s:
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


def test_plates_of_addresses_with_missing_parts(helsinki_db: Path, tmp_path: Path) -> None:
    # street, housenumber and code_display are optional: an edit can take them away
    path = tmp_path / "edited.gpkg"
    shutil.copy(helsinki_db, path)
    with open_store(str(path), create=False) as s:
        a = s.read_frame("addresses")
        kaivokatu = a[a["street"] == "Kaivokatu"].set_index("housenumber")
        codes = set(kaivokatu["id"])
        street_code = str(kaivokatu["street_code"].iat[0])
        edits = {"1": {"street": None}, "2": {"code_display": None}, "3": {"housenumber": None}}
        with s.transaction() as tx:
            for number, props in edits.items():
                tx.patch("addresses", str(kaivokatu.at[number, "id"]), properties=props)
        ns = "{http://www.w3.org/2000/svg}"
        for asked in ("Kaivokatu", "Brunngatan", street_code):
            svg = plate_sheet(asked, store=s)
            assert "nan" not in svg.replace("Brunngatan", "")
            root = ET.fromstring(svg.split("\n", 1)[1])
            assert root.find(f"{ns}title").text == "Door plates: Kaivokatu"  # type: ignore[union-attr]
            plates = [g for g in root.iter(f"{ns}g") if g.attrib.get("class") == "plate"]
            texts = [[t.text for t in g.iter(f"{ns}text")] for g in plates]
            assert sorted(t[0] or "" for t in texts) == sorted(["", *set(kaivokatu.index) - {"3"}])
            assert all(t[1:3] == ["Kaivokatu", "Brunngatan"] for t in texts), asked
            assert {str(t[3]).replace("-", "") for t in texts} == codes


def test_plate_sheet_of_an_unknown_street(store: Store) -> None:
    with pytest.raises(AddressNotFound, match=r"street='Nowhere' has no standard addresses"):
        plate_sheet("Nowhere", store=store)


def test_plate_sheet_shortens_a_long_street_in_its_message(store: Store) -> None:
    with pytest.raises(AddressNotFound) as info:
        plate_sheet("Kaivokatu" * 70, store=store)
    shown = ("Kaivokatu" * 70)[:60] + "…"
    assert str(info.value) == (
        f"street={shown!r} has no standard addresses; give a street name or street code"
    )
    with pytest.raises(InvalidInput, match=r"street must be a str, got int '5'"):
        plate_sheet(5, store=store)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "args",
    [
        ["qr", CODE, "--out", "{tmp}/x.png", "--base-url", "http://"],
        ["plates", "Kaivokatu", "--out", "{tmp}/x.svg", "--base-url", "http://"],
        ["plates", "Kaivokatu", "--out", "{tmp}/x.svg", "--base-url", "https://t.example/#a"],
    ],
)
def test_cli_refuses_a_base_url_without_host(
    helsinki_db: Path, tmp_path: Path, args: list[str]
) -> None:
    argv = ["addresses", *(a.format(tmp=tmp_path) for a in args), "--db", str(helsinki_db)]
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("Error: base_url=")
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_cli_plates_shortens_a_long_street(helsinki_db: Path, tmp_path: Path) -> None:
    argv = ["addresses", "plates", "K" * 600, "--out", str(tmp_path / "x.svg")]
    result = CliRunner().invoke(cli, [*argv, "--db", str(helsinki_db)])
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: street={'K' * 60 + '…'!r} has no standard addresses; give a street name or "
        "street code\n"
    )


# -- codes below the doorplate --------------------------------------------------------------
_LEVEL_CODES = {
    "street": AddressCode(HELSINKI, street=24),
    "doorplate": AddressCode(HELSINKI, street=24, doorplate=1),
    "building": AddressCode(HELSINKI, street=24, doorplate=1, building=2),
    "unit": AddressCode(HELSINKI, street=24, doorplate=1, building=1, unit=3),
    "floor": AddressCode(HELSINKI, street=24, doorplate=1, building=1, unit=3, floor=904),
    "room": AddressCode(HELSINKI, street=24, doorplate=1, building=1, floor=2, room=1201),
}
_COLLECTION = {
    "street": "streets",
    "doorplate": "addresses",
    **dict.fromkeys(BELOW, "sub_addresses"),
}


@pytest.mark.parametrize("level", sorted(_LEVEL_CODES))
def test_item_url_is_in_the_collection_of_the_level(level: str) -> None:
    code = _LEVEL_CODES[level]
    assert code.level == level
    assert collection_of(code.display()) == _COLLECTION[level]
    assert item_url(code.display(), base_url="https://a.example/twin/") == (
        f"https://a.example/twin/collections/{_COLLECTION[level]}/items/{code.code}"
    )


def test_a_division_has_no_item() -> None:
    code = AddressCode(HELSINKI).code
    with pytest.raises(InvalidAddressCode, match=r"names a division only") as info:
        item_url(code)
    assert http_status(info.value) == 400
    with pytest.raises(InvalidAddressCode, match=r"names a division only"):
        qr_png(code)


@settings(max_examples=12, deadline=None)
@given(
    st.integers(1, 999),
    st.integers(0, 99),
    st.sampled_from([0, 1, 12, 899, 901, 999]),
    st.integers(0, 9999),
)
def test_any_code_below_the_doorplate_reads_back(
    building: int, unit: int, floor: int, room: int
) -> None:
    code = AddressCode(
        HELSINKI, street=7, doorplate=3, building=building, unit=unit, floor=floor, room=room
    )
    payload = decode(read_png(qr_png(code.display(), base_url="https://a.example", scale=6)))
    assert payload == f"https://a.example/collections/sub_addresses/items/{code.code}"


@pytest.fixture(scope="module")
def levels(store: Store) -> dict[str, str]:
    """One current code of each level below the doorplate, from the Helsinki twin."""
    sub = store.read_frame("sub_addresses")
    return {level: str(sub.loc[sub["level"] == level, "id"].iat[0]) for level in BELOW}


@pytest.mark.parametrize("level", BELOW)
def test_png_and_svg_of_a_helsinki_code_below_the_doorplate(
    levels: dict[str, str], level: str
) -> None:
    code = levels[level]
    assert parse_code(code).level == level
    expected = f"http://127.0.0.1:5000/collections/sub_addresses/items/{code}"
    assert decode(read_png(qr_png(parse_code(code).display()))) == expected
    svg = qr_svg(code)
    root = ET.fromstring(svg.split("\n", 1)[1])
    n = int(root.attrib["viewBox"].split()[2])
    path = root.find("{http://www.w3.org/2000/svg}path")
    assert path is not None
    assert decode(rasterise(path.attrib["d"], 0, 0, n, quiet=0)) == expected


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_cli_qr_of_a_unit_code(
    helsinki_db: Path, levels: dict[str, str], tmp_path: Path, suffix: str
) -> None:
    code = levels["unit"]
    out = tmp_path / f"unit{suffix}"
    display = parse_code(code).display()
    base = "https://twin.example.org/helsinki"
    args = ["addresses", "qr", display, "--out", str(out), "--base-url", base]
    result = CliRunner().invoke(cli, [*args, "--db", str(helsinki_db)])
    assert result.exit_code == 0, result.output
    expected = f"{base}/collections/sub_addresses/items/{code}"
    assert result.stdout.strip() == f"Wrote {out}: {expected}"
    if suffix == ".png":
        image = cv2.imread(str(out), cv2.IMREAD_GRAYSCALE)
        assert image is not None
        assert decode(image) == expected
    else:
        root = ET.fromstring(out.read_text().split("\n", 1)[1])
        n = int(root.attrib["viewBox"].split()[2])
        path = root.find("{http://www.w3.org/2000/svg}path")
        assert path is not None
        assert decode(rasterise(path.attrib["d"], 0, 0, n, quiet=0)) == expected


def test_cli_qr_of_an_unknown_unit_code(helsinki_db: Path, tmp_path: Path) -> None:
    unknown = AddressCode(HELSINKI, street=99999, doorplate=1, building=1, unit=9).code
    out = tmp_path / "x.png"
    result = CliRunner().invoke(
        cli, ["addresses", "qr", unknown, "--out", str(out), "--db", str(helsinki_db)]
    )
    assert result.exit_code == 2
    assert f"Error: code={unknown!r} is a valid code but no standard address has it" in (
        result.stderr
    )
    assert "Traceback" not in result.output and not out.exists()
