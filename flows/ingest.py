"""`ingest_options`: one session (the latest completed one by default), the nightly job.

It runs the same `ingest_day` task a backfill maps, so a single day and one day of a range behave
identically.
"""

from __future__ import annotations

import logging
import sys
from datetime import date

from prefect import flow

from flows.backfill import log_plan, run_plan
from flows.days import share_rate_limit
from flows.params import (
    AtLeastOne,
    AtLeastZero,
    CalendarName,
    OptionalAtLeastOne,
    OptionalSessionDate,
    ProviderName,
    Seconds,
    SnapshotTime,
    Symbols,
)
from flows.reporting import BackfillSummary, summarize
from markets.calendar import DEFAULT_CALENDAR, get_calendar, latest_completed_session
from markets.symbols import normalize_symbols
from tasks.ingest_day import DEFAULT_LARGE_SYMBOLS
from tasks.preflight import prepare_run

logger = logging.getLogger("kapman.ingest")


def session_to_ingest(as_of: date | None, calendar: str) -> list[date]:
    """`as_of` if it is a session, the latest completed session when omitted, else nothing."""
    trading_calendar = get_calendar(calendar)
    if as_of is None:
        return [latest_completed_session(trading_calendar)]
    sessions = trading_calendar.sessions(as_of, as_of)
    if not sessions:
        logger.warning("%s is not a %s session: nothing to ingest", as_of.isoformat(), calendar)
    return sessions


@flow(name="ingest-options", flow_run_name="ingest-{as_of}")
def ingest_options(
    as_of: OptionalSessionDate = None,
    snapshot_time: SnapshotTime = None,
    provider: ProviderName = None,
    concurrency: AtLeastOne = 4,
    symbols: Symbols = None,
    large_symbols: Symbols = None,
    calendar: CalendarName = DEFAULT_CALENDAR,
    dry_run: bool = False,
    heartbeat: AtLeastOne = 25,
    max_requests_per_minute: OptionalAtLeastOne = None,
    day_retries: AtLeastZero = 2,
    retry_delay_seconds: Seconds = 10.0,
    shared_rate_limit: str | None = None,
) -> BackfillSummary:
    """Ingest one session's chains for the active watchlist; returns the run summary.

    `shared_rate_limit` names a Prefect global concurrency limit every provider request also takes a
    slot from (see `backfill_options`)."""
    sessions = session_to_ingest(as_of, calendar)
    plan = prepare_run(
        sessions,
        provider=provider,
        concurrency=concurrency,
        symbols=normalize_symbols(symbols) if symbols else None,
        large_symbols=normalize_symbols(large_symbols) if large_symbols is not None else DEFAULT_LARGE_SYMBOLS,
        heartbeat=heartbeat,
        snapshot_time=snapshot_time,
        max_requests_per_minute=max_requests_per_minute,
    )
    plan = share_rate_limit(plan, shared_rate_limit)
    day = sessions[0] if sessions else as_of
    if dry_run:
        log_plan(plan)
        return summarize([], provider=plan.params.provider, start_date=day, end_date=day, duration_seconds=0.0)
    return run_plan(
        plan,
        start_date=day,
        end_date=day,
        max_parallel_days=1,
        day_retries=day_retries,
        retry_delay_seconds=retry_delay_seconds,
        artifact_prefix="options-ingest",
    )


if __name__ == "__main__":
    from flows.cli import main

    sys.exit(main(sys.argv[1:], prog="python -m flows.ingest"))
