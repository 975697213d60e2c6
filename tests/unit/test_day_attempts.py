"""A day retried by Prefect is reported as one day: what every attempt wrote, the last outcome."""

from __future__ import annotations

from datetime import UTC, date, datetime

from tasks.day_report import DayReport, DayStatus, combine_attempts

SUCCEEDED, PARTIAL, FAILED, SKIPPED = DayStatus.SUCCEEDED, DayStatus.PARTIAL, DayStatus.FAILED, DayStatus.SKIPPED

SESSION = date(2025, 12, 16)


def attempt(status: str, written: int, skipped: int, failed: int, rows: int, **extra: object) -> DayReport:
    return DayReport(
        session=SESSION,
        snapshot_time=datetime(2025, 12, 16, 23, 59, 59, 999999, tzinfo=UTC),
        status=status,
        provider="drill",
        symbols_total=written + skipped + failed,
        symbols_written=written,
        symbols_skipped=skipped,
        symbols_failed=failed,
        rows_written=rows,
        duration_seconds=1.5,
        **extra,
    )


def test_a_retry_that_completes_the_day_counts_the_first_attempts_symbols_as_written():
    first = attempt(PARTIAL, written=3, skipped=1, failed=2, rows=300, missing_fields=("bid",))
    retry = attempt(SUCCEEDED, written=2, skipped=4, failed=0, rows=200, missing_fields=("ask",))

    day = combine_attempts(first, retry)

    assert (day.status, day.symbols_written, day.symbols_skipped, day.symbols_failed) == (SUCCEEDED, 5, 1, 0)
    assert (day.rows_written, day.duration_seconds, day.missing_fields) == (500, 3.0, ("ask", "bid"))


def test_a_retry_that_finds_everything_complete_after_a_partial_attempt_is_a_success():
    first = attempt(PARTIAL, written=1, skipped=0, failed=1, rows=100)
    retry = attempt(SKIPPED, written=0, skipped=2, failed=0, rows=0)  # another run wrote the rest

    day = combine_attempts(first, retry)

    assert (day.status, day.symbols_written, day.symbols_skipped, day.rows_written) == (SUCCEEDED, 1, 1, 100)


def test_an_attempt_that_wrote_nothing_leaves_the_latest_report_as_it_is():
    first = attempt(FAILED, written=0, skipped=0, failed=2, rows=0, error="connection refused")
    retry = attempt(PARTIAL, written=1, skipped=0, failed=1, rows=100, error="timeout")

    day = combine_attempts(first, retry)

    assert (day.status, day.symbols_written, day.rows_written, day.error) == (PARTIAL, 1, 100, "timeout")
    assert day.duration_seconds == 3.0
