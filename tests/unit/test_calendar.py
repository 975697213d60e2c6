import json
import sys
from datetime import UTC, date, datetime

import pytest

from markets.calendar import (
    UnknownCalendar,
    WeekdayCalendar,
    get_calendar,
    latest_completed_session,
    previous_sessions,
)


def test_xnys_skips_weekends_and_exchange_holidays():
    sessions = get_calendar("XNYS").sessions(date(2025, 12, 22), date(2026, 1, 5))
    assert len(sessions) == 9
    assert date(2025, 12, 25) not in sessions
    assert date(2026, 1, 1) not in sessions
    assert sessions == sorted(sessions)
    assert all(day.weekday() < 5 for day in sessions)


def test_expansion_is_the_exchanges_sessions_in_order():
    sessions = get_calendar("XNYS").sessions(date(2025, 12, 9), date(2025, 12, 22))
    assert sessions == [date(2025, 12, day) for day in (9, 10, 11, 12, 15, 16, 17, 18, 19, 22)]


def test_weekdays_skips_only_saturday_and_sunday():
    sessions = get_calendar("weekdays").sessions(date(2025, 12, 22), date(2026, 1, 5))
    assert date(2025, 12, 25) in sessions and date(2026, 1, 1) in sessions
    assert len(sessions) == 11
    assert not any(day.weekday() >= 5 for day in sessions)


def test_range_without_session_is_empty():
    assert get_calendar("XNYS").sessions(date(2025, 12, 27), date(2025, 12, 28)) == []
    assert get_calendar("weekdays").sessions(date(2025, 12, 27), date(2025, 12, 28)) == []


def test_any_pandas_market_calendars_name_is_accepted():
    assert get_calendar("NYSE").sessions(date(2025, 12, 24), date(2025, 12, 26)) == [
        date(2025, 12, 24),
        date(2025, 12, 26),
    ]


def test_unknown_calendar_names_the_accepted_ones():
    with pytest.raises(UnknownCalendar, match="weekdays"):
        get_calendar("MOON")


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2025, 12, 23, 22, 0, tzinfo=UTC), date(2025, 12, 23)),  # after the close
        (datetime(2025, 12, 23, 15, 0, tzinfo=UTC), date(2025, 12, 22)),  # market still open
        (datetime(2025, 12, 27, 12, 0, tzinfo=UTC), date(2025, 12, 26)),  # Saturday
        (datetime(2025, 12, 24, 18, 30, tzinfo=UTC), date(2025, 12, 24)),  # after the 13:00 ET early close
        (datetime(2025, 12, 26, 3, 0, tzinfo=UTC), date(2025, 12, 24)),  # Christmas night, New York time
    ],
)
def test_latest_completed_session_follows_the_close(now, expected):
    assert latest_completed_session(get_calendar("XNYS"), now) == expected


def test_weekday_calendar_closes_at_four_new_york():
    calendar = WeekdayCalendar()
    assert latest_completed_session(calendar, datetime(2025, 12, 9, 20, 59, tzinfo=UTC)) == date(2025, 12, 8)
    assert latest_completed_session(calendar, datetime(2025, 12, 9, 21, 0, tzinfo=UTC)) == date(2025, 12, 9)


def test_previous_sessions_are_strictly_before_and_ascending():
    assert previous_sessions(get_calendar("XNYS"), date(2025, 12, 9), 5) == [
        date(2025, 12, 2),
        date(2025, 12, 3),
        date(2025, 12, 4),
        date(2025, 12, 5),
        date(2025, 12, 8),
    ]
    assert previous_sessions(get_calendar("XNYS"), date(2025, 12, 9), 0) == []


def test_a_computed_exchange_year_is_kept_and_read_back_equal_without_the_library(tmp_path, monkeypatch):
    from markets import calendar

    monkeypatch.setattr(calendar, "CACHE_DIR", tmp_path)
    calendar._exchange_year.cache_clear()
    computed = calendar._exchange_year("XNYS", 2024)
    assert (tmp_path / "XNYS-2024.json").exists()
    calendar._exchange_year.cache_clear()
    # The library is not asked again: make it unusable and read the same year back.
    monkeypatch.setitem(sys.modules, "pandas_market_calendars", None)
    assert calendar._exchange_year("XNYS", 2024) == computed
    assert date(2024, 12, 25) not in computed and computed[date(2024, 12, 24)].hour == 18  # early close
    calendar._exchange_year.cache_clear()


def test_a_year_kept_by_another_library_version_is_computed_again(tmp_path, monkeypatch):
    from markets import calendar

    monkeypatch.setattr(calendar, "CACHE_DIR", tmp_path)
    (tmp_path / "XNYS-2024.json").write_text(json.dumps({"library": "pandas_market_calendars-0.0", "values": {}}))
    calendar._exchange_year.cache_clear()
    assert len(calendar._exchange_year("XNYS", 2024)) == 252
    assert json.loads((tmp_path / "XNYS-2024.json").read_text())["library"] == calendar._library_version()
    calendar._exchange_year.cache_clear()
