"""Snapshot identity: the `time` key every row of one session's chain shares."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

END_OF_SESSION_DAY = time(23, 59, 59, 999999)


def snapshot_time_for(session: date) -> datetime:
    """`D 23:59:59.999999 UTC`: one stable identity per session, whatever hour the run happens."""
    return datetime.combine(session, END_OF_SESSION_DAY, tzinfo=UTC)


def parse_snapshot_time(text: str) -> datetime:
    """Parse an explicit `--snapshot-time`; an offset is required so the identity is unambiguous."""
    shown = text[:40]
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"snapshot time {shown!r} is not ISO 8601 (e.g. 2025-12-09T20:00:00Z)") from exc
    if parsed.tzinfo is None:
        raise ValueError(f"snapshot time {shown!r} has no UTC offset: add Z or +00:00")
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
