"""The geocoding index follows edits to the address layers, on both backends."""

from __future__ import annotations

from pathlib import Path

from addressing import geocode
from tests.addressing.test_levels import _build, _extract
from twin.store import open_store


def test_a_renamed_street_is_found_after_the_rebuild(tmp_path: Path, store_url: str) -> None:
    db = store_url
    _build(
        db,
        _extract(tmp_path / "a.osm", "Testikatu", "Testgatan", staircase_b=None, second_house=None),
        1,
    )
    store = open_store(db, create=False)
    try:
        before = geocode("Testikatu 1", store=store)
        assert before and before[0].label.startswith("Testikatu 1")
        assert not any(c.label.startswith("Uusikatu") for c in geocode("Uusikatu 1", store=db))
        if "postgresql" not in db:  # a GeoPackage is rebuilt in a copy that replaces the file
            store.close()
        # renamed by a second build; an open server store and a URL both see it at once
        _build(
            db,
            _extract(
                tmp_path / "b.osm", "Uusikatu", "Nygatan", staircase_b=None, second_house=None
            ),
            2,
        )
        if "postgresql" in db:
            after = geocode("Uusikatu 1", store=store)
            assert after and after[0].label.startswith("Uusikatu 1"), after
            assert after[0].code == before[0].code  # a rename keeps the code
    finally:
        store.close()
    by_url = geocode("Uusikatu 1", store=db)
    assert by_url and by_url[0].label.startswith("Uusikatu 1"), by_url
    assert by_url[0].code == before[0].code


def test_a_retired_address_drops_out_without_a_restart(tmp_path: Path, store_url: str) -> None:
    db = store_url
    _build(
        db,
        _extract(tmp_path / "a.osm", "Testikatu", "Testgatan", staircase_b=None, second_house=42),
        1,
    )
    with open_store(db, create=False) as store:
        hit = geocode("Testikatu 3", store=store)
        assert hit and hit[0].label.startswith("Testikatu 3")
        store.retire("addresses", hit[0].code)
        again = geocode("Testikatu 3", store=store)
        assert all(c.code != hit[0].code for c in again), again
