"""One run request: deployment parameters, flags and the environment validated by the same function."""

from datetime import UTC, date, datetime

import pytest

from settings.environment import read_environment
from settings.errors import SetupError
from tasks.request import DEFAULT_LARGE_SYMBOLS, build_ingest_request

EMBEDDED = read_environment({})


def test_a_range_expands_to_the_calendars_sessions():
    request = build_ingest_request(start_date=date(2025, 12, 19), end_date=date(2025, 12, 29), environment=EMBEDDED)
    # 2025-12-25 is a NYSE holiday, the weekends are not sessions.
    assert [day.isoformat() for day in request.sessions] == [
        "2025-12-19", "2025-12-22", "2025-12-23", "2025-12-24", "2025-12-26", "2025-12-29",
    ]  # fmt: skip
    assert (request.start_date, request.end_date) == (date(2025, 12, 19), date(2025, 12, 29))
    assert request.provider == "synthetic" and request.large_symbols == DEFAULT_LARGE_SYMBOLS


def test_no_date_means_the_latest_completed_session():
    after_close = datetime(2025, 12, 22, 22, 0, tzinfo=UTC)  # 17:00 New York, after the 16:00 close
    before_close = datetime(2025, 12, 22, 20, 0, tzinfo=UTC)
    assert build_ingest_request(environment=EMBEDDED, now=after_close).sessions == (date(2025, 12, 22),)
    assert build_ingest_request(environment=EMBEDDED, now=before_close).sessions == (date(2025, 12, 19),)


def test_a_holiday_as_of_has_no_session():
    request = build_ingest_request(as_of=date(2025, 12, 25), environment=EMBEDDED)
    assert request.sessions == () and request.start_date == date(2025, 12, 25)


def test_explicit_values_win_over_the_environment():
    environment = read_environment({"OPTIONS_PROVIDER": "polygon", "KAPMAN_MAX_REQUESTS_PER_MINUTE": "5"})
    from_environment = build_ingest_request(as_of=date(2025, 12, 9), environment=environment)
    explicit = build_ingest_request(
        as_of=date(2025, 12, 9), provider="synthetic", max_requests_per_minute=60, environment=environment
    )
    assert (from_environment.provider, from_environment.max_requests_per_minute) == ("polygon", 5)
    assert (explicit.provider, explicit.max_requests_per_minute) == ("synthetic", 60)


def test_a_named_database_defaults_to_the_trading_systems_unicorn_with_its_token():
    environment = read_environment({"DATABASE_URL": "postgresql://kapman@db/kapman", "EODHD_API_TOKEN": "t0ken"})
    request = build_ingest_request(as_of=date(2025, 12, 9), environment=environment)
    assert (request.provider, request.api_key, request.provider_base_url) == ("unicorn", "t0ken", None)
    assert "t0ken" not in repr(request)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"concurrency": 0}, "concurrency must be at least 1 (got 0)"),
        ({"heartbeat": -1}, "heartbeat must be at least 1"),
        ({"max_parallel_days": 0}, "max_parallel_days must be at least 1"),
        ({"day_retries": -1}, "day_retries must be 0 or more"),
        ({"as_of": None, "start_date": date(2025, 12, 10), "end_date": date(2025, 12, 9)}, "end date 2025-12-09 is"),
        ({"as_of": None, "start_date": date(2025, 12, 10)}, "start_date and end_date go together"),
        ({"as_of": date(2025, 12, 9), "start_date": date(2025, 12, 9), "end_date": date(2025, 12, 9)}, "as_of cannot"),
        (
            {
                "as_of": None,
                "start_date": date(2025, 12, 9),
                "end_date": date(2025, 12, 9),
                "snapshot_time": datetime.now(UTC),
            },
            "single day only",
        ),
        ({"provider": "polygn"}, "unknown provider 'polygn'"),
        ({"calendar": "NYSEE"}, "unknown calendar 'NYSEE'"),
        ({"symbols": ["SPY;DROP"]}, "invalid symbol"),
    ],
)
def test_what_no_run_can_satisfy_is_one_setup_error(settings, message):
    with pytest.raises(SetupError) as raised:
        build_ingest_request(**{"as_of": date(2025, 12, 9), **settings, "environment": EMBEDDED})
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_the_request_is_hashable_and_hides_its_secrets():
    environment = read_environment(
        {"DATABASE_URL": "postgresql://u:hunter2@h/d", "OPTIONS_PROVIDER": "polygon", "POLYGON_API_KEY": "k3y"}
    )
    request = build_ingest_request(as_of=date(2025, 12, 9), environment=environment)
    assert hash(request) == hash(build_ingest_request(as_of=date(2025, 12, 9), environment=environment))
    assert "hunter2" not in repr(request) and "k3y" not in repr(request)
    assert request.provider_settings().api_key == "k3y"
