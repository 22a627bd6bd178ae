"""``twin addresses ...``: JSON out, files written, bad input as exit code 2 without a traceback."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import pytest
from click.testing import CliRunner

from addressing.cli import addresses
from twin.build import build_twin
from twin.cli import cli
from twin.plugins import load_plugins

ROOT = Path(__file__).resolve().parents[2]
OSM = ROOT / "data" / "helsinki.osm.pbf"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("cli") / "helsinki.gpkg"
    plugins = [p for p in load_plugins() if p.name in ("layers", "addressing")]
    build_twin(OSM, str(path), plugins=plugins)
    return str(path)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(addresses, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_geocode_json(db: str) -> None:
    code, out, _ = run("geocode", "Mannerheimint. 5", "--format", "json", "--db", db)
    assert code == 0
    found = json.loads(out)
    assert found and all(set(c) == {"code", "label", "lon", "lat", "score"} for c in found)
    assert found[0]["label"] == "Mannerheimintie 5, 00100 Helsinki"
    assert found[0]["score"] == 1.0


def test_through_the_twin_command(db: str) -> None:
    result = CliRunner().invoke(
        cli,
        ["addresses", "geocode", "Brunngatan 1", "--format", "json", "--limit", "1", "--db", db],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["label"] == "Kaivokatu 1, 00100 Helsinki"


def test_reverse_and_qr(db: str, tmp_path: Path) -> None:
    _, out, _ = run("geocode", "Kaivokatu 1", "--format", "json", "--limit", "1", "--db", db)
    best = json.loads(out)[0]
    code, out, _ = run(
        "reverse", str(best["lon"]), str(best["lat"]), "--format", "json", "--db", db
    )
    assert code == 0
    assert json.loads(out)["code"] == best["code"]
    code, out, _ = run(
        "reverse",
        str(best["lat"]),
        str(best["lon"]),
        "--crs",
        "EPSG:4326",
        "--radius",
        "5",
        "--db",
        db,
    )
    assert code == 0 and out.startswith(best["code"])
    png = tmp_path / "plate.png"
    code, out, _ = run("qr", best["code"], "--out", str(png), "--db", db)
    assert code == 0, out
    image = cv2.imread(str(png), cv2.IMREAD_GRAYSCALE)
    assert image is not None
    text = cv2.QRCodeDetector().detectAndDecode(image)[0]
    assert text == f"http://127.0.0.1:5000/collections/addresses/items/{best['code']}"
    svg = tmp_path / "plate.svg"
    assert run("qr", best["code"], "--out", str(svg), "--db", db)[0] == 0
    assert svg.read_text().startswith("<?xml")
    sheet = tmp_path / "sheet.svg"
    code, out, _ = run("plates", "Kaivokatu", "--out", str(sheet), "--db", db)
    assert code == 0 and out.startswith("Wrote ") and sheet.stat().st_size > 0


def test_batch(db: str, tmp_path: Path) -> None:
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_text("address\nKaivokatu 1\n\nMannerheimintie 5\n\x00\x01\n", encoding="utf-8")
    code, out, _ = run("batch", str(src), str(dst), "--no-progress", "--db", db)
    assert code == 0
    assert out.startswith("Geocoded 2 rows, 2 without a result")
    rows = list(csv.DictReader(dst.open(encoding="utf-8")))
    assert len(rows) == 4  # the blank line and the binary row are reported
    assert rows[1] | {"error": ""} == dict.fromkeys(rows[1], "")
    assert rows[1]["error"] == "line 3 is blank; not geocoded"
    assert rows[3]["error"] and not rows[3]["code"]


def test_batch_errors_leave_the_output_alone(db: str, tmp_path: Path) -> None:
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_text("address\nKaivokatu 1\n", encoding="utf-8")
    dst.write_text("kept\n", encoding="utf-8")
    junk = tmp_path / "junk.gpkg"
    junk.write_text("junk")
    dup = tmp_path / "dup.csv"
    dup.write_text("address,address\nKaivokatu 1,x\n", encoding="utf-8")
    cases = [
        ([str(src), str(dst), "--db", str(junk)], "is not a GeoPackage"),
        ([str(src), str(dst), "--db", str(tmp_path / "none.gpkg")], "does not exist"),
        ([str(dup), str(dst), "--db", db], "names the columns ['address'] more than once"),
        ([str(src), str(tmp_path / "no" / "o.csv"), "--db", db], "does not exist"),
    ]
    if Path("/proc/self").is_dir():
        cases.append(([str(src), "/proc/o.csv", "--db", db], "dst='/proc/o.csv' cannot be"))
    for args, message in cases:
        code, out, err = run("batch", *args, "--no-progress")
        assert code == 2, (args, out, err)
        assert err.startswith("Error: ") and message in err, err
        assert "Traceback" not in out + err
        assert dst.read_text(encoding="utf-8") == "kept\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "dup.csv",
        "in.csv",
        "junk.gpkg",
        "out.csv",
    ]


def test_import_and_parse(db: str) -> None:
    code, out, _ = run("import", "--db", db)
    assert code == 0
    assert "addresses" in out and "+0 created" in out
    code, out, _ = run("parse", "Fredrikink. 5 b 12, 00120 HELSINKI")
    assert code == 0
    first = json.loads(out.splitlines()[0])
    assert (first["label"], first["value"]) == ("street", "Fredrikinkatu")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["geocode", ""], "Error: text='' is empty"),
        (["geocode", "   "], "Error: text='   ' is empty"),
        (["geocode", "x" * 600], "has 600 characters; an address has at most 512"),
        (["geocode", "\x01\x02\x03 katu"], "looks like binary data"),
        (["geocode", "Kaivokatu 1 🏠"], "emoji, symbols and private-use characters"),
        (["geocode", "Кaivokatu 1"], "holds letters of the CYRILLIC script"),
        (["autocomplete", ""], "Error: text='' is empty"),
        (
            ["reverse", "24.94", "95"],
            "position coordinate (24.94, 95.0) is outside the area of use",
        ),
        (["reverse", "24.94", "60.17", "--crs", "EPSG:0"], "Error: crs='EPSG:0'"),
        (["reverse", "24.94", "60.17", "--radius", "-3"], "radius=-3.0 must be greater than 0"),
        (["reverse", "25.5", "60.5"], "Error: nothing within 50 m of (25.5, 60.5)"),
        (["qr", "123", "--out", "x.png"], "code='123' is not a standard address code"),
        (
            ["qr", "24609100000000024000010000000000008", "--out", "x.png"],
            "fails its check character: expected '9', got '8'",
        ),
        (["plates", "Kaivokatu", "--out", "x.pdf"], "out='x.pdf' must end with '.svg'"),
        (["plates", "Nowhere", "--out", "x.svg"], "street='Nowhere' has no standard addresses"),
        (["parse", "😀"], "emoji"),
    ],
)
def test_bad_input_exits_2_without_traceback(db: str, args: list[str], message: str) -> None:
    code, out, err = run(*args, "--db", db)
    assert code == 2, (out, err)
    assert message in err
    assert "Traceback" not in out + err


def test_qr_of_an_unknown_code(db: str, tmp_path: Path) -> None:
    from addressing.codes import HELSINKI, AddressCode

    unknown = AddressCode(HELSINKI, street=99999, doorplate=99999).code
    code, _, err = run("qr", unknown, "--out", str(tmp_path / "x.png"), "--db", db)
    assert code == 2
    assert err.strip() == (
        f"Error: code={unknown!r} is a valid code but no standard address has it in {db}"
    )
    assert not (tmp_path / "x.png").exists()
