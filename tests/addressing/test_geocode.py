"""Forward geocoding, autocomplete and CSV batches over the Helsinki registry."""

from __future__ import annotations

import csv
import importlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from addressing import autocomplete, geocode
from addressing._geocode_text import compact, read_query
from addressing.errors import InvalidAddress
from addressing.geocode import _fields_of_any_size, geocode_csv, geocode_many
from twin.build import build_twin
from twin.errors import InvalidInput, TwinError
from twin.plugins import load_plugins
from twin.store import Store, open_store

ROOT = Path(__file__).resolve().parents[2]
OSM = ROOT / "data" / "helsinki.osm.pbf"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("geocode") / "helsinki.gpkg"
    plugins = [p for p in load_plugins() if p.name in ("layers", "addressing")]
    build_twin(OSM, str(path), plugins=plugins)
    return str(path)


@pytest.fixture(scope="module")
def store(db: str) -> Iterator[Store]:
    with open_store(db, create=False) as s:
        yield s


def _truth(store: Store, street: str, number: str) -> str:
    a = store.read_frame("addresses")
    hit = a[(a["street"] == street) & (a["housenumber"] == number)]
    assert len(hit) == 1, (street, number)
    return str(hit["id"].iat[0])


@pytest.mark.parametrize(
    ("text", "street", "number"),
    [
        ("Mannerheimintie 5, 00100 Helsinki", "Mannerheimintie", "5"),
        ("Mannerheimint. 5", "Mannerheimintie", "5"),  # abbreviation, no postcode
        ("Mannerheimvägen 5, Helsingfors", "Mannerheimintie", "5"),  # Swedish name
        ("mannerheimv. 5", "Mannerheimintie", "5"),
        ("MANNERHEIMINTIE 5", "Mannerheimintie", "5"),
        ("Manenrheimintie 5", "Mannerheimintie", "5"),  # swapped letters
        ("Mannerhiemintie 5 00100", "Mannerheimintie", "5"),
        ("Fredrikink. 26", "Fredrikinkatu", "26"),
        ("Fredrikin k. 26", "Fredrikinkatu", "26"),
        ("Fredriksgatan 26", "Fredrikinkatu", "26"),
        ("Aleksanterinkatu 52", "Aleksanterinkatu", "52"),
        ("Aleksanterinktau 52, 00100 Helsinki", "Aleksanterinkatu", "52"),  # typo
        ("Norra esplanaden 33", "Pohjoisesplanadi", "33"),
        ("Brunngatan 1", "Kaivokatu", "1"),
        ("5 Mannerheimintie", "Mannerheimintie", "5"),
    ],
)
def test_damaged_queries_find_the_address(
    store: Store, text: str, street: str, number: str
) -> None:
    found = geocode(text, store=store)
    assert found, text
    assert found[0].code == _truth(store, street, number)
    assert found[0].score >= 0.7


def test_candidates_are_ranked_and_bounded(store: Store) -> None:
    found = geocode("Mannerheimintie 5", limit=3, store=store)
    assert len(found) == 3
    scores = [c.score for c in found]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert found[0].score == 1.0
    assert 24.9 < found[0].lon < 25.0 and 60.1 < found[0].lat < 60.2
    assert set(found[0].to_dict()) == {"code", "label", "lon", "lat", "score"}


def test_a_wrong_postcode_costs_score(store: Store) -> None:
    right = geocode("Mikonkatu 18, 00100", store=store)[0]
    wrong = geocode("Mikonkatu 18, 00990", store=store)[0]
    assert right.code == wrong.code
    assert wrong.score < right.score


def test_a_street_alone_returns_the_street_first(store: Store) -> None:
    found = geocode("Kaivokatu, Helsinki", store=store)
    assert found[0].level == "street"
    assert found[0].label == "Kaivokatu"
    assert found[0].label_sv == "Brunngatan"
    assert all(c.label.startswith("Kaivokatu") for c in found)


def test_unknown_places_give_no_candidates(store: Store) -> None:
    assert geocode("Qwxzyv 12", store=store) == []
    assert geocode("浙江省杭州市文三路90号", store=store) == []


def test_a_store_url_is_accepted(db: str, store: Store) -> None:
    assert geocode("Kaivokatu 1", store=db)[0].code == geocode("Kaivokatu 1", store=store)[0].code


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "text='' is empty"),
        ("   \t", "is empty; give an address such as 'Mannerheimintie 5, 00100 Helsinki'"),
        ("x" * 513, "has 513 characters; an address has at most 512"),
        ("\x00\x01\x02abc", "holds control characters; it looks like binary data"),
        ("Kaivokatu 1 😀", "holds the character '😀' (U+1F600); emoji"),
        ("Мannerheimintie 5", "holds letters of the CYRILLIC script"),
        ("12 34", "holds no letters"),
    ],
)
def test_bad_text_is_refused(store: Store, text: str, message: str) -> None:
    with pytest.raises(InvalidAddress) as info:
        geocode(text, store=store)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


def test_bad_limit(store: Store) -> None:
    with pytest.raises(InvalidInput, match=r"limit=0 must be an integer from 1 to 100"):
        geocode("Kaivokatu 1", limit=0, store=store)


def test_autocomplete(store: Store) -> None:
    found = autocomplete("Mannerh", store=store)
    assert len(found) == 10
    assert found[0].level == "street"
    assert all(c.label.startswith("Mannerheim") for c in found)
    numbers = autocomplete("Mannerheimintie 1", limit=5, store=store)
    assert [c.label.split(",")[0] for c in numbers][:3] == [
        "Mannerheimintie 1",
        "Mannerheimintie 10",
        "Mannerheimintie 12",
    ]
    assert autocomplete("Mannerheimv", limit=1, store=store)[0].label == "Mannerheimintie"
    assert autocomplete("Manerheimint", limit=1, store=store)[0].label == "Mannerheimintie"


def test_streets_without_a_name_are_searched_by_the_names_they_have(
    db: str, tmp_path: Path
) -> None:
    # 'name' of a street is optional: an edit can leave a street with its Swedish name only
    # (Kaivokatu, Brunngatan) or with no name at all (Kaisaniementie has no Swedish name)
    path = tmp_path / "edited.gpkg"
    shutil.copy(db, path)
    with open_store(str(path), create=False) as s:
        streets = s.read_frame("streets")
        code = {n: str(c) for n, c in zip(streets["name"], streets["id"], strict=True)}
        with s.transaction() as tx:
            for name in ("Kaivokatu", "Kaisaniementie"):
                tx.patch("streets", code[name], properties={"name": None})
        truth = _truth(s, "Mannerheimintie", "5")
        assert geocode("Mannerheimintie 5", store=s)[0].code == truth
        found = geocode("Brunngatan", store=s)
        assert (found[0].level, found[0].code) == ("street", code["Kaivokatu"])
        assert (found[0].label, found[0].label_sv) == ("Brunngatan", "Brunngatan")
        assert autocomplete("Brunng", limit=1, store=s)[0].label == "Brunngatan"
        for c in [*found, *autocomplete("Kaisaniementie", store=s)]:
            assert "nan" not in (c.label, c.label_sv)


def test_reading_queries() -> None:
    q = read_query("Fredrikin k. 5 b 12, FI-00120 Helsingfors", cities=frozenset({"helsingfors"}))
    assert (q.street, q.number, q.postcode) == ("fredrikinkatu", "5b", "00120")
    assert compact("Säästöpankinranta") == "saastopankinranta"
    assert compact("Norra esplanaden") == compact("Norra Esplanaden")


def test_batch_reports_bad_rows_and_geocodes_the_rest(store: Store, tmp_path: Path) -> None:
    rows = ["Mannerheimintie 5", "", "😀", "Kaivokatu 1", "x" * 600, "Qwxzyv 1", "Brunngatan 1"]
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    with src.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "address"])
        w.writerows([i, r] for i, r in enumerate(rows))
    good, bad = geocode_csv(src, dst, store=store)
    assert (good, bad) == (3, 4)
    with dst.open(encoding="utf-8") as fh:
        out = list(csv.DictReader(fh))
    assert [r["id"] for r in out] == [str(i) for i in range(len(rows))]
    assert [bool(r["code"]) for r in out] == [True, False, False, True, False, False, True]
    assert out[1]["error"].startswith("text='' is empty")
    assert "matches no street" in out[5]["error"]
    assert out[3]["code"] == out[6]["code"]
    assert float(out[0]["score"]) == 1.0


def test_batch_reads_fields_over_the_csv_limit(store: Store, tmp_path: Path) -> None:
    # Python's csv refuses fields over 131,072 characters; such a field fails its own
    # row (an address) or passes through (another column), never the whole batch.
    huge = "Mannerheimintie 5 " * 10_000  # 180,000 characters
    note = "n" * 200_000
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    limit = csv.field_size_limit()
    with src.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "address", "note"])
        w.writerows([[0, "Kaivokatu 1", note], [1, huge, ""], [2, "Kaivokatu 1", ""]])
    assert geocode_csv(src, dst, store=store) == (2, 1)
    assert csv.field_size_limit() == limit  # put back
    with _fields_of_any_size(), dst.open(encoding="utf-8") as fh:
        out = list(csv.DictReader(fh))
    assert [r["id"] for r in out] == ["0", "1", "2"]
    assert out[0]["note"] == note and out[0]["code"] == out[2]["code"] != ""
    assert out[1]["code"] == "" and out[1]["error"]
    assert len(out[1]["error"]) < 300  # names the problem without echoing the field


def test_batch_column_errors(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("id,where\n1,Kaivokatu 1\n", encoding="utf-8")
    with pytest.raises(
        InvalidInput, match=r"column='address' is not a column of .*\['id', 'where'\]"
    ):
        geocode_csv(src, tmp_path / "out.csv", store=store)
    good, bad = geocode_csv(src, tmp_path / "out.csv", column="where", store=store)
    assert (good, bad) == (1, 0)


def test_batch_rows_of_the_wrong_shape_are_reported_not_dropped(
    store: Store, tmp_path: Path
) -> None:
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_text(
        "id,address\n"
        "1,Kaivokatu 1\n"
        "\n"
        "3,Aleksanterinkatu 52,extra,more\n"
        "4\n"
        '5,"Mannerheimintie\n5"\n'
        "6,Kaivokatu 1\n"
        "7,Kaivokatu 1,\n",
        encoding="utf-8",
    )
    good, bad = geocode_csv(src, dst, store=store)
    assert (good, bad) == (3, 4)
    with dst.open(newline="", encoding="utf-8") as fh:
        out = list(csv.reader(fh))
    assert out[0] == ["id", "address", "code", "label", "lon", "lat", "score", "error"]
    assert all(len(r) == 8 for r in out)
    assert [r[0] for r in out[1:]] == ["1", "", "3", "4", "5", "6", "7"]
    assert [bool(r[2]) for r in out[1:]] == [True, False, False, False, True, True, False]
    assert out[2][:2] == ["", ""] and out[2][7] == "line 3 is blank; not geocoded"
    assert out[3][:2] == ["3", "Aleksanterinkatu 52"]
    assert out[3][7] == (
        "line 4 has 4 fields where the header has 2; not geocoded "
        "(the extra fields: ['extra', 'more'])"
    )
    assert out[4][7] == "line 5 has 1 field where the header has 2; not geocoded"
    assert out[5][1] == "Mannerheimintie\n5"  # a quoted field over two lines is one row
    assert out[7][7].startswith("line 9 has 3 fields")  # lines counted as in the file


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("address,address", r"names the columns \['address'\] more than once"),
        ("id,address,id,x,x", r"names the columns \['id', 'x'\] more than once"),
        *[
            (f"id,address,{name}", rf"has the columns \['{name}'\], which the output adds")
            for name in ("code", "label", "lon", "lat", "score", "error")
        ],
        ("label,address,error", r"has the columns \['label', 'error'\], which the output adds"),
    ],
)
def test_batch_header_clashes_are_refused(
    store: Store, tmp_path: Path, header: str, message: str
) -> None:
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_text(f"{header}\n" + ",".join(["Kaivokatu 1"] * header.count(",")) + ",x\n")
    dst.write_text("kept\n")
    with pytest.raises(InvalidInput, match=message):
        geocode_csv(src, dst, store=store)
    assert dst.read_text() == "kept\n"


@pytest.mark.parametrize("db", ["junk", "missing", "no registry"])
def test_a_failed_batch_leaves_dst_as_it_was(tmp_path: Path, db: str) -> None:
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_text("address\nKaivokatu 1\n", encoding="utf-8")
    dst.write_text("kept\n")
    path = tmp_path / "twin.gpkg"
    if db == "junk":
        path.write_text("junk")
    elif db == "no registry":
        open_store(str(path)).close()
    with pytest.raises(TwinError):
        geocode_csv(src, dst, store=str(path))
    assert dst.read_text() == "kept\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["in.csv", "out.csv"] + (["twin.gpkg"] if db != "missing" else [])
    )


def test_an_interrupted_batch_leaves_dst_as_it_was(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = importlib.import_module("addressing.geocode")  # the package shadows it

    def failing(texts: list[str], *, store: Store) -> Iterator[object]:
        yield from list(geocode_many(texts[:1], store=store))
        raise KeyboardInterrupt

    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_text("address\nKaivokatu 1\nKaivokatu 2\n", encoding="utf-8")
    dst.write_text("kept\n")
    dst.chmod(0o640)
    monkeypatch.setattr(module, "geocode_many", failing)
    with pytest.raises(KeyboardInterrupt):
        geocode_csv(src, dst, store=store)
    assert dst.read_text() == "kept\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv"]
    monkeypatch.undo()
    assert geocode_csv(src, dst, store=store) == (2, 0)
    assert dst.stat().st_mode & 0o777 == 0o640  # the file replaced keeps its mode


def test_batch_dst_that_cannot_be_written(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("address\nKaivokatu 1\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"dst='.*' is a folder; give the path of a file"):
        geocode_csv(src, tmp_path, store=store)
    with pytest.raises(InvalidInput, match=r"the folder '.*/nowhere' does not exist"):
        geocode_csv(src, tmp_path / "nowhere" / "out.csv", store=store)
    with pytest.raises(InvalidInput, match=r"the folder '.*/in.csv' does not exist"):
        geocode_csv(src, src / "out.csv", store=store)
    if Path("/proc/self").is_dir():
        with pytest.raises(
            InvalidInput,
            match=r"dst='/proc/o.csv' cannot be written: no file can be made in the folder '/proc'",
        ):
            geocode_csv(src, "/proc/o.csv", store=store)
    with pytest.raises(InvalidInput, match=r"src='.*/none.csv' cannot be read: No such file"):
        geocode_csv(tmp_path / "none.csv", tmp_path / "out.csv", store=store)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_geocode_many_keeps_order_and_non_text(store: Store) -> None:
    out = list(geocode_many(["Kaivokatu 1", None, b"Kaivokatu 1"], store=store))
    assert [r.row for r in out] == [1, 2, 3]
    assert out[0].candidate is not None
    assert out[1].error is not None and "text must be a str, got NoneType" in out[1].error
    assert out[2].error is not None and "got bytes" in out[2].error


def test_a_twin_without_registry(tmp_path: Path) -> None:
    from twin.errors import CollectionNotFound

    path = tmp_path / "empty.gpkg"
    open_store(str(path)).close()
    with pytest.raises(CollectionNotFound) as info:
        geocode("Kaivokatu 1", store=str(path))
    assert str(info.value) == (
        f"the twin at {path} has no address registry; build it with 'twin build' or "
        "'twin addresses import'"
    )
