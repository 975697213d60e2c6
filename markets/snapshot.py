"""Snapshot identities: the `time` key every row of one session shares, per table.

Two identities, because two systems defined them: `options_chains` (and our ledger) key a session's
chain at `D 23:59:59.999999 UTC`; the trading system keys its one `daily_snapshots` row per
ticker-day, which several jobs fill, at the end of the session's day in New York,
`D 23:59:59.999999 America/New_York` (`D+1 04:59:59.999999Z` in winter, `03:59:59.999999Z` in summer).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from settings.errors import SetupError

END_OF_SESSION_DAY = time(23, 59, 59, 999999)
NEW_YORK = ZoneInfo("America/New_York")


def snapshot_time_for(session: date) -> datetime:
    """`D 23:59:59.999999 UTC`: one stable identity per session, whatever hour the run happens."""
    return datetime.combine(session, END_OF_SESSION_DAY, tzinfo=UTC)


def daily_snapshot_time(session: date) -> datetime:
    """`D 23:59:59.999999 America/New_York`, in UTC: the `daily_snapshots` row of a ticker-day."""
    return datetime.combine(session, END_OF_SESSION_DAY, tzinfo=NEW_YORK).astimezone(UTC)


def parse_snapshot_time(text: str) -> datetime:
    """Parse an explicit `--snapshot-time`; a time without offset is UTC (as the trading system reads it)."""
    shown = text[:40]
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"snapshot time {shown!r} is not ISO 8601 (e.g. 2025-12-09T20:00:00Z)") from exc
    if parsed.tzinfo is None:
        # The trading system's scripts pass `2025-12-10T21:00:00` and mean UTC.
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-12:00 is past the last representable instant
        raise ValueError(f"snapshot time {shown!r} is out of range") from None


def parse_session_date(text: str) -> date:
    """Parse a `YYYY-MM-DD` session date with a message a CLI user can act on."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a date in YYYY-MM-DD form") from exc


class InvalidDateRange(SetupError, ValueError):
    """A date range that runs backwards."""


def days_between(start: date, end: date) -> list[date]:
    """Every calendar day from `start` to `end`, inclusive: the sessions a read-back looks for,
    whichever calendar wrote them (a day without data costs one index probe and yields nothing)."""
    if end < start:
        raise InvalidDateRange(f"end date {end} is before start date {start}")
    return [start + timedelta(days=offset) for offset in range((end - start).days + 1)]
