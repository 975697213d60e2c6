"""`ingest_options`: one session (the latest completed one by default), the nightly job.

It runs the same `ingest_day` task a backfill maps, through the same run path (`flows.run`), so a
single day and one day of a range behave identically.
"""

from __future__ import annotations

import logging

from prefect import flow

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
from flows.reporting import RunSummary
from flows.run import log_plan, open_run, planned_summary, run_plan
from markets.calendar import DEFAULT_CALENDAR
from tasks.request import build_ingest_request

logger = logging.getLogger("kapman.ingest")


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
) -> RunSummary:
    """Ingest one session's chains for the active watchlist; returns the run summary.

    `shared_rate_limit` names a Prefect global concurrency limit every provider request also takes a
    slot from (see `backfill_options`)."""
    request = build_ingest_request(
        as_of=as_of,
        snapshot_time=snapshot_time,
        provider=provider,
        concurrency=concurrency,
        symbols=symbols,
        large_symbols=large_symbols,
        calendar=calendar,
        dry_run=dry_run,
        heartbeat=heartbeat,
        max_requests_per_minute=max_requests_per_minute,
        day_retries=day_retries,
        retry_delay_seconds=retry_delay_seconds,
        shared_rate_limit=shared_rate_limit,
    )
    if not request.sessions:
        logger.warning("%s is not a %s session: nothing to ingest", as_of.isoformat(), calendar)
    plan = open_run(request)
    if request.dry_run:
        log_plan(plan)
        return planned_summary(plan)
    return run_plan(plan, artifact_prefix="options-ingest")
