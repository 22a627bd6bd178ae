"""Instants, intervals and the text forms of time the twin accepts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from twin.errors import InvalidInterval, StoreError
from twin.store import open_store
from twin.temporal import Instant, Interval, parse_datetime, parse_time


@pytest.mark.parametrize(
    "text",
    [
        "2024-W01",
        "2024-W01-1",
        "20240101",
        "2024-001",
        "20240101T000000Z",
        "2024-01-01T10:00",
        "2024-01-01T10",
        "٢٠٢٤-01-01",
    ],
)
def test_parse_time_takes_rfc_3339_only(text: str) -> None:
    with pytest.raises(InvalidInterval, match="is not an RFC 3339 date-time"):
        parse_time(text)


@pytest.mark.parametrize(
    ("text", "at"),
    [
        ("2024-01-01", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-01-01T10:00:00Z", datetime(2024, 1, 1, 10, tzinfo=UTC)),
        ("2024-01-01t10:00:00.5z", datetime(2024, 1, 1, 10, 0, 0, 500000, tzinfo=UTC)),
        ("2024-01-01 10:00:00+02:00", datetime(2024, 1, 1, 8, tzinfo=UTC)),
        ("2024-01-01T10:00:00", datetime(2024, 1, 1, 10, tzinfo=UTC)),
    ],
)
def test_parse_datetime_reads_rfc_3339(text: str, at: datetime) -> None:
    assert parse_datetime(text) == at


def test_interval_compares_naive_ends_as_utc() -> None:
    aware = datetime(2024, 1, 1, tzinfo=UTC)
    assert Interval(datetime(2023, 1, 1), aware).duration == timedelta(days=365)
    with pytest.raises(InvalidInterval, match=r"interval end '2023-01-01T00:00:00\.000Z' precedes"):
        Interval(datetime(2024, 1, 1), datetime(2023, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("make", "text"),
    [
        (lambda: Interval("2024", "2023"), "interval start='2024' must be a datetime or None"),
        (lambda: Interval(None, 5), "interval end=5 must be a datetime or None"),
        (lambda: Instant("x"), "instant='x' must be a datetime"),
        (lambda: Instant(None), "instant=None must be a datetime"),
    ],
)
def test_instant_and_interval_take_datetimes(make, text: str) -> None:
    with pytest.raises(InvalidInterval, match=text):
        make()


@pytest.mark.parametrize(
    "url",
    ["postgresql://::::", "postgresql://user:s3cret@host:port/db", "postgres://::s3cret@h:x/db"],
)
def test_a_malformed_postgres_url_is_a_store_error_without_the_password(url: str) -> None:
    with pytest.raises(StoreError, match="is not a valid PostgreSQL URL") as exc:
        open_store(url)
    assert "s3cret" not in str(exc.value)
