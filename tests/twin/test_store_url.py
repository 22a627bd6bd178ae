"""A twin's URL as messages and logs show it: never a database password."""

from __future__ import annotations

import pytest

from twin.store import open_store
from twin.store.open import shown_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://ann:s3cret@db:5432/city", "postgresql://ann:***@db:5432/city"),
        ("postgres://ann:p@ss@db/city", "postgres://ann:***@db/city"),
        ("postgresql://ann:a/b@db/city?options=x", "postgresql://ann:***@db/city?options=x"),
        ("postgresql+psycopg://ann@db/city", "postgresql+psycopg://ann@db/city"),
        ("var/helsinki.gpkg", "var/helsinki.gpkg"),
    ],
)
def test_a_password_is_hidden(url: str, shown: str) -> None:
    assert shown_url(url) == shown


@pytest.mark.postgis
def test_an_open_postgis_twin_reports_its_url_without_the_password(pg_url: str) -> None:
    user_at = pg_url.index("@")
    scheme_end = pg_url.index("://") + 3
    assert ":" not in pg_url[scheme_end:user_at]  # the test server takes no password
    with_password = pg_url[:user_at] + ":hunter2" + pg_url[user_at:]
    with open_store(with_password) as store:
        assert "hunter2" not in store.url
        assert store.url.startswith(pg_url[:user_at] + ":***@")
