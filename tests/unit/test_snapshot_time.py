from datetime import UTC, date, datetime, timedelta

import pytest

from markets.snapshot import daily_snapshot_time, parse_session_date, parse_snapshot_time, snapshot_time_for


def test_snapshot_time_is_end_of_session_day_utc():
    stamp = snapshot_time_for(date(2025, 12, 9))
    assert stamp.isoformat() == "2025-12-09T23:59:59.999999+00:00"
    assert stamp.utcoffset() == timedelta(0)


def test_snapshot_time_is_the_end_of_the_session_day_in_utc_whatever_the_session():
    assert snapshot_time_for(date(2025, 12, 10)) == datetime(2025, 12, 10, 23, 59, 59, 999999, tzinfo=UTC)
    # Summer time in New York changes nothing: the identity is a UTC wall time.
    assert snapshot_time_for(date(2025, 7, 1)) == datetime(2025, 7, 1, 23, 59, 59, 999999, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-12-09T20:00:00Z", datetime(2025, 12, 9, 20, tzinfo=UTC)),
        ("2025-12-09T15:00:00-05:00", datetime(2025, 12, 9, 20, tzinfo=UTC)),
        ("2025-12-09 20:00:00.5+00:00", datetime(2025, 12, 9, 20, 0, 0, 500000, tzinfo=UTC)),
    ],
)
def test_explicit_snapshot_times_are_normalised_to_utc(text, expected):
    parsed = parse_snapshot_time(text)
    assert parsed == expected
    assert parsed.tzinfo == UTC


def test_snapshot_time_without_offset_is_utc():
    assert parse_snapshot_time("2025-12-10T21:00:00") == datetime(2025, 12, 10, 21, tzinfo=UTC)


@pytest.mark.parametrize(
    ("session", "expected"),
    [
        (date(2025, 12, 10), datetime(2025, 12, 11, 4, 59, 59, 999999, tzinfo=UTC)),  # winter: UTC-5
        (date(2025, 7, 1), datetime(2025, 7, 2, 3, 59, 59, 999999, tzinfo=UTC)),  # summer: UTC-4
    ],
)
def test_the_daily_snapshot_of_a_session_is_the_end_of_its_day_in_new_york(session, expected):
    assert daily_snapshot_time(session) == expected


@pytest.mark.parametrize("text", ["2025-13-01", "2025/12/09", "yesterday", ""])
def test_malformed_session_dates_are_refused(text):
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_session_date(text)


def test_offset_other_than_utc_keeps_the_instant():
    parsed = parse_snapshot_time("2025-12-10T01:00:00+05:00")
    assert parsed == datetime(2025, 12, 9, 20, tzinfo=UTC)
