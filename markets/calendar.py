"""Trading calendars: which dates are sessions, and which session is the latest completed one.

The calendar is pluggable because the pipeline must never invent a session (a holiday written as a
day of data is wrong data) and different desks follow different exchanges. `XNYS` via
pandas-market-calendars is the default; `weekdays` is the dependency-free fallback.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from settings.errors import SetupError

DEFAULT_CALENDAR = "XNYS"
WEEKDAYS = "weekdays"
NEW_YORK = ZoneInfo("America/New_York")
# Regular US equity-options close; the weekday fallback has no early closes.
REGULAR_CLOSE_NY = time(16, 0)
# What pandas-market-calendars computed, per calendar-year and library version (see `_exchange_year`).
CACHE_DIR = Path(__file__).resolve().parent.parent / ".kapman" / "calendars"
_CACHEABLE_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


class UnknownCalendar(SetupError, ValueError):
    """The calendar name is neither `weekdays` nor a pandas-market-calendars name."""


class TradingCalendar(Protocol):
    name: str

    def sessions(self, start: date, end: date) -> list[date]:
        """Sessions in [start, end], ascending."""
        ...

    def session_close(self, session: date) -> datetime:
        """When the session closes (UTC); early closes included where the calendar knows them."""
        ...


@dataclass(frozen=True)
class WeekdayCalendar:
    """Monday to Friday, 16:00 New York close, no holidays: for tests and exotic setups."""

    name: str = WEEKDAYS

    def sessions(self, start: date, end: date) -> list[date]:
        days = (start + timedelta(days=offset) for offset in range((end - start).days + 1))
        return [day for day in days if day.weekday() < 5]

    def session_close(self, session: date) -> datetime:
        return datetime.combine(session, REGULAR_CLOSE_NY, tzinfo=NEW_YORK).astimezone(UTC)


@lru_cache(maxsize=64)
def _exchange_year(name: str, year: int) -> dict[date, datetime]:
    """One calendar year of sessions → close (UTC), computed once per process, and once per installed
    version of pandas-market-calendars on this checkout.

    pandas-market-calendars recomputes every holiday rule on each `schedule()` call (~0.2 s of CPU
    under the GIL), and providers ask several questions per fetch; importing it costs most of a
    second more, which a re-run of a complete day would spend on nothing else. So a computed year is
    kept in `.kapman/calendars/` as JSON, keyed by the library's installed version (an upgrade, which
    may add a closure, recomputes), and read back without importing the library.
    """
    cached = _read_cache(f"{name}-{year}")
    if cached is not None:
        return {date.fromisoformat(day): datetime.fromisoformat(close) for day, close in cached.items()}
    import pandas_market_calendars as mcal

    schedule = mcal.get_calendar(name).schedule(start_date=f"{year}-01-01", end_date=f"{year}-12-31")
    closes = {
        stamp.date(): close.to_pydatetime().astimezone(UTC)
        for stamp, close in zip(schedule.index, schedule["market_close"], strict=True)
    }
    _write_cache(f"{name}-{year}", {day.isoformat(): close.isoformat() for day, close in closes.items()})
    return closes


def _calendar_names() -> frozenset[str]:
    """Every pandas-market-calendars name (cached like the years)."""
    cached = _read_cache("names")
    if cached is not None:
        return frozenset(cached)
    import pandas_market_calendars as mcal

    names = sorted(mcal.get_calendar_names())
    _write_cache("names", names)
    return frozenset(names)


@lru_cache(maxsize=1)
def _library_version() -> str | None:
    """The installed pandas-market-calendars version, read from its dist-info folder's name (without
    importing it or scanning every distribution); None when it cannot be told (then no cache)."""
    spec = importlib.util.find_spec("pandas_market_calendars")
    if spec is None or spec.origin is None:
        return None
    found = sorted(Path(spec.origin).parent.parent.glob("pandas_market_calendars-*.dist-info"))
    return found[-1].name.removesuffix(".dist-info") if len(found) == 1 else None


def _read_cache(key: str) -> dict | list | None:
    version = _library_version()
    if version is None or not _CACHEABLE_NAME.fullmatch(key):
        return None
    try:
        entry = json.loads((CACHE_DIR / f"{key}.json").read_text())
    except (OSError, ValueError):
        return None
    return entry.get("values") if isinstance(entry, dict) and entry.get("library") == version else None


def _write_cache(key: str, values: dict | list) -> None:
    """Best effort: a read-only checkout just computes again next time."""
    version = _library_version()
    if version is None or not _CACHEABLE_NAME.fullmatch(key):
        return
    try:
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        partial = CACHE_DIR / f".{key}.{os.getpid()}.tmp"
        partial.write_text(json.dumps({"library": version, "values": values}))
        partial.replace(CACHE_DIR / f"{key}.json")
    except OSError:
        pass


@dataclass(frozen=True)
class ExchangeCalendar:
    """An exchange calendar from pandas-market-calendars (holidays and early closes)."""

    name: str

    def sessions(self, start: date, end: date) -> list[date]:
        return [
            session
            for year in range(start.year, end.year + 1)
            for session in _exchange_year(self.name, year)
            if start <= session <= end
        ]

    def session_close(self, session: date) -> datetime:
        close = _exchange_year(self.name, session.year).get(session)
        if close is None:
            raise ValueError(f"{session.isoformat()} is not a {self.name} session")
        return close


@lru_cache(maxsize=8)
def exchange_holidays(name: str = DEFAULT_CALENDAR) -> frozenset[date]:
    """Every weekday the exchange is closed all day, as far as its rules reach (ad-hoc closures too).

    One computation for every year at once (~0.4 s for XNYS, once per process), where `sessions`
    builds a schedule per year: for questions about sessions years ahead, such as which day a listed
    option expires. The `weekdays` calendar has none.
    """
    if name == WEEKDAYS:
        return frozenset()
    calendar = get_calendar(name)  # validates the name
    import pandas_market_calendars as mcal

    closed = mcal.get_calendar(calendar.name).holidays().holidays
    return frozenset(day for day in (date.fromisoformat(str(stamp)[:10]) for stamp in closed) if day.weekday() < 5)


@lru_cache(maxsize=32)
def get_calendar(name: str = DEFAULT_CALENDAR) -> TradingCalendar:
    """Resolve a calendar by name, failing with the list of accepted names."""
    if name == WEEKDAYS:
        return WeekdayCalendar()
    if name not in _calendar_names():
        raise UnknownCalendar(
            f"unknown calendar {name!r}: use {WEEKDAYS!r} or a pandas-market-calendars name such as XNYS"
        )
    return ExchangeCalendar(name)


def latest_completed_session(calendar: TradingCalendar, now: datetime | None = None) -> date:
    """The latest session whose close has passed at `now`: what a nightly run should ingest."""
    now = now or datetime.now(UTC)
    today = now.astimezone(NEW_YORK).date()
    for session in reversed(calendar.sessions(today - timedelta(days=14), today)):
        if calendar.session_close(session) <= now:
            return session
    raise ValueError(f"no {calendar.name} session closed in the 14 days before {today.isoformat()}")


def previous_sessions(calendar: TradingCalendar, session: date, count: int) -> list[date]:
    """The `count` sessions strictly before `session`, ascending (for lookback windows)."""
    if count <= 0:
        return []
    span = count * 2 + 10
    while True:
        earlier = [day for day in calendar.sessions(session - timedelta(days=span), session) if day < session]
        if len(earlier) >= count or span > 3660:
            return earlier[-count:]
        span *= 2
