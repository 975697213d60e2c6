"""One ingest run's settings: a frozen record, built and validated once, whoever starts the run.

Flags (the CLI), deployment parameters (the Prefect UI, `--param`, schedules) and environment
variables all end here, in `build_ingest_request`, so every entry point accepts and refuses the same
things with the same one-line messages (`SetupError`s). Building a request does no I/O beyond
reading the calendar; opening the database and building the provider happen once, when the run
starts (`flows.run.open_run`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from markets.calendar import DEFAULT_CALENDAR, get_calendar, latest_completed_session
from markets.snapshot import snapshot_time_for
from markets.symbols import normalize_symbols
from providers.base import ProviderSettings
from providers.registry import UnknownProvider, check_provider_name, load_plugins
from settings.environment import PROVIDER, Environment, read_environment
from settings.errors import SetupError

# Limits that turn a typo into one clear line instead of hours of work or gigabytes of memory.
# Listed equity options began trading (CBOE) on 1973-04-26: no session before has a chain.
FIRST_LISTED_OPTIONS = date(1973, 4, 26)
# About 40 years of sessions: well above any real backfill, far below a runaway range.
MAX_SESSIONS_PER_RUN = 10_000
# Fetch threads per day (each holds a chain in memory); providers' own budgets bind long before.
MAX_CONCURRENCY = 64
MAX_PARALLEL_DAYS = 16
MAX_DAY_RETRIES = 10
# Symbols named with --symbols (a watchlist file is capped at the same number).
MAX_SYMBOLS_PER_RUN = 10_000
# A run id is a label in names, tags and log lines: nothing that could break out of them.
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}")
# How far an explicit --snapshot-time may lie from the end of its session.
MAX_SNAPSHOT_TIME_OFFSET = timedelta(days=7)

DEFAULT_LARGE_SYMBOLS: tuple[str, ...] = ("SPY", "QQQ", "SPX", "NDX", "AAPL", "MSFT", "NVDA", "TSLA", "AMZN", "META")
# The embedded database's default source (simulated data, labelled so everywhere).
EMBEDDED_DEFAULT_PROVIDER = "synthetic"
# With a database named, the trading system's default source: simulated data never lands there
# unless the user asks for it by name.
INSTALLATION_DEFAULT_PROVIDER = "unicorn"


class InvalidRunConfiguration(SetupError, ValueError):
    """A parameter combination no run can satisfy (e.g. concurrency 0, a range that runs backwards)."""


@dataclass(frozen=True)
class IngestRequest:
    """Every setting of one ingest run (one session or a range), validated.

    Holds no open handle and nothing secret in its repr, so it can travel to a task on another thread
    or (pickled) to a Dask worker; the task opens its database connection and finds the process's
    provider instance from it.
    """

    provider: str
    sessions: tuple[date, ...]
    start_date: date | None
    end_date: date | None
    calendar: str = DEFAULT_CALENDAR
    snapshot_time: datetime | None = None
    concurrency: int = 4
    symbols: tuple[str, ...] | None = None
    large_symbols: tuple[str, ...] = DEFAULT_LARGE_SYMBOLS
    heartbeat: int = 25
    max_parallel_days: int = 1
    day_retries: int = 2
    retry_delay_seconds: float = 10.0
    dry_run: bool = False
    dask_address: str | None = None
    max_requests_per_minute: int | None = None
    # A Prefect global concurrency limit every provider request also takes a slot from.
    shared_rate_limit: str | None = None
    api_key: str | None = field(default=None, repr=False)
    provider_base_url: str | None = None
    database_url: str | None = field(default=None, repr=False)
    pgdata: Path | None = None
    # Plugin modules that register the provider, imported again by a task in another process.
    provider_modules: tuple[str, ...] = ()
    # The caller's identifier of the run (`--run-id`): in its flow run's name, log lines and summary.
    run_id: str | None = None
    # One JSON line per day and for the run on stdout (`--emit-summary`).
    emit_summary: bool = False
    # Let a provider that can serve many sessions per request fetch each symbol's window once
    # (`--day-by-day` turns it off: every session asked for on its own).
    fetch_by_window: bool = True
    # Sessions of the range after the latest close: no source has them yet, none is run.
    not_yet_closed: tuple[date, ...] = ()
    # `--replace`: rewrite symbol-days another real provider wrote (kept and reported otherwise).
    replace: bool = False

    def snapshot_time_for(self, session: date) -> datetime:
        """The snapshot identity of `session` in this run (`--snapshot-time` only in single-day mode)."""
        return self.snapshot_time or snapshot_time_for(session)

    @property
    def embedded_database(self) -> bool:
        return self.database_url is None

    def provider_settings(self, request_gate=None) -> ProviderSettings:  # noqa: ANN001 - Callable[[], None]
        """What `get_provider` builds (or finds) this run's provider instance from."""
        return ProviderSettings(
            max_requests_per_minute=self.max_requests_per_minute,
            request_gate=request_gate,
            api_key=self.api_key,
            base_url=self.provider_base_url,
        )


def build_ingest_request(
    *,
    as_of: date | None = None,
    start_date: date | None = None,
    end_date: date | None = None,
    snapshot_time: datetime | None = None,
    provider: str | None = None,
    concurrency: int = 4,
    symbols: list[str] | tuple[str, ...] | None = None,
    large_symbols: list[str] | tuple[str, ...] | None = None,
    heartbeat: int = 25,
    calendar: str = DEFAULT_CALENDAR,
    max_parallel_days: int = 1,
    max_requests_per_minute: int | None = None,
    day_retries: int = 2,
    retry_delay_seconds: float = 10.0,
    dry_run: bool = False,
    dask_address: str | None = None,
    shared_rate_limit: str | None = None,
    run_id: str | None = None,
    emit_summary: bool = False,
    fetch_by_window: bool = True,
    replace: bool = False,
    environment: Environment | None = None,
    now: datetime | None = None,
) -> IngestRequest:
    """Validate one run's settings; raises a `SetupError` with a one-line message.

    `as_of` (single day, default the latest completed session) and `start_date`/`end_date` (a range)
    are exclusive; explicit values win over the environment's (`OPTIONS_PROVIDER`,
    `KAPMAN_MAX_REQUESTS_PER_MINUTE`).
    """
    environment = environment or read_environment()
    if run_id is not None and not RUN_ID.fullmatch(run_id):
        raise InvalidRunConfiguration(
            f"run id {run_id[:40]!r} must be 1-64 letters, digits, '_', '.', ':' or '-', "
            "starting with a letter or digit"
        )
    _check_numbers(concurrency, heartbeat, max_parallel_days, day_retries, retry_delay_seconds)
    if symbols and len(symbols) > MAX_SYMBOLS_PER_RUN:
        raise InvalidRunConfiguration(f"{len(symbols)} symbols named: at most {MAX_SYMBOLS_PER_RUN} per run")
    trading_calendar = get_calendar(calendar)
    latest_closed = latest_completed_session(trading_calendar, now or datetime.now(UTC))
    in_range = start_date is not None or end_date is not None
    if in_range:
        if as_of is not None:
            raise InvalidRunConfiguration("as_of cannot be combined with start_date/end_date")
        if start_date is None or end_date is None:
            raise InvalidRunConfiguration("start_date and end_date go together")
        if snapshot_time is not None:
            raise InvalidRunConfiguration("snapshot_time applies to a single day only, not to a range")
        if end_date < start_date:
            raise InvalidRunConfiguration(
                f"end date {end_date.isoformat()} is before start date {start_date.isoformat()}"
            )
        _check_range(start_date, end_date, latest_closed)
        sessions = tuple(trading_calendar.sessions(start_date, end_date))
        # Sessions of the range that have not closed yet: reported "not yet available", not run.
        not_yet_closed = tuple(session for session in sessions if session > latest_closed)
        sessions = tuple(session for session in sessions if session <= latest_closed)
        if len(sessions) > MAX_SESSIONS_PER_RUN:
            raise InvalidRunConfiguration(
                f"{len(sessions)} sessions from {start_date.isoformat()} to {end_date.isoformat()}: at most "
                f"{MAX_SESSIONS_PER_RUN} per run (split the range)"
            )
    elif as_of is None:
        sessions, not_yet_closed = (latest_closed,), ()
    else:
        _check_range(as_of, as_of, latest_closed)
        sessions, not_yet_closed = tuple(trading_calendar.sessions(as_of, as_of)), ()
    if snapshot_time is not None and sessions:
        offset = abs(snapshot_time - snapshot_time_for(sessions[0]))
        if offset > MAX_SNAPSHOT_TIME_OFFSET:
            raise InvalidRunConfiguration(
                f"snapshot time {snapshot_time.isoformat()} is more than {MAX_SNAPSHOT_TIME_OFFSET.days} days from "
                f"the end of session {sessions[0].isoformat()}"
            )
    first, last = (start_date, end_date) if in_range else ((sessions[0],) * 2 if sessions else (as_of, as_of))
    provider_name = _provider_name(provider, environment)
    credentials = environment.credentials_for(provider_name)
    return IngestRequest(
        provider=provider_name,
        sessions=sessions,
        start_date=first,
        end_date=last,
        calendar=calendar,
        snapshot_time=snapshot_time,
        concurrency=concurrency,
        symbols=normalize_symbols(symbols) if symbols else None,
        large_symbols=normalize_symbols(large_symbols) if large_symbols is not None else DEFAULT_LARGE_SYMBOLS,
        heartbeat=heartbeat,
        max_parallel_days=max_parallel_days,
        day_retries=day_retries,
        retry_delay_seconds=retry_delay_seconds,
        dry_run=dry_run,
        dask_address=dask_address or None,
        max_requests_per_minute=max_requests_per_minute or environment.max_requests_per_minute,
        shared_rate_limit=shared_rate_limit or None,
        api_key=credentials.api_key,
        provider_base_url=credentials.base_url,
        database_url=environment.database_url,
        pgdata=environment.pgdata,
        provider_modules=environment.provider_modules,
        run_id=run_id,
        emit_summary=emit_summary,
        fetch_by_window=fetch_by_window,
        not_yet_closed=not_yet_closed,
        replace=replace,
    )


def _check_range(first: date, last: date, latest_closed: date) -> None:
    """Refuse what no source can have: before listed options, or starting after the last close."""
    if first < FIRST_LISTED_OPTIONS:
        raise InvalidRunConfiguration(
            f"{first.isoformat()} is before listed options existed (first listed {FIRST_LISTED_OPTIONS.isoformat()})"
        )
    if first > latest_closed:
        what = "session" if first == last else "range"
        raise InvalidRunConfiguration(
            f"{what} starting {first.isoformat()} has not closed yet "
            f"(latest closed session {latest_closed.isoformat()})"
        )


def check_provider(name: str, environment: Environment | None = None) -> str:
    """A provider name registered here or by the run's plugin modules (`KAPMAN_PROVIDER_MODULES`)."""
    load_plugins((environment or read_environment()).provider_modules)
    return check_provider_name(name)


def _provider_name(explicit: str | None, environment: Environment) -> str:
    """Demo data may only land in the embedded database unless the user names a provider."""
    name = (explicit or "").strip() or environment.provider
    if name:
        return check_provider(name, environment)
    if environment.database_url is None:
        return EMBEDDED_DEFAULT_PROVIDER
    try:
        return check_provider(INSTALLATION_DEFAULT_PROVIDER, environment)
    except UnknownProvider:
        raise InvalidRunConfiguration(
            f"a database is named (DATABASE_URL or --db-url) and no provider: the default there is the trading "
            f"system's {INSTALLATION_DEFAULT_PROVIDER!r}, which this version does not provide yet; name a provider "
            f"with --provider or {PROVIDER} (polygon; synthetic is simulated data)"
        ) from None


def _check_numbers(
    concurrency: int, heartbeat: int, max_parallel_days: int, day_retries: int, retry_delay_seconds: float
) -> None:
    for name, value in (
        ("concurrency", concurrency),
        ("heartbeat", heartbeat),
        ("max_parallel_days", max_parallel_days),
    ):
        if value < 1:
            raise InvalidRunConfiguration(f"{name} must be at least 1 (got {value})")
    for name, value, limit in (
        ("concurrency", concurrency, MAX_CONCURRENCY),
        ("max_parallel_days", max_parallel_days, MAX_PARALLEL_DAYS),
        ("day_retries", day_retries, MAX_DAY_RETRIES),
    ):
        if value > limit:
            raise InvalidRunConfiguration(f"{name} must be at most {limit} (got {value})")
    if day_retries < 0:
        raise InvalidRunConfiguration(f"day_retries must be 0 or more (got {day_retries})")
    if retry_delay_seconds < 0:
        raise InvalidRunConfiguration(f"retry_delay_seconds must be 0 or more (got {retry_delay_seconds})")
