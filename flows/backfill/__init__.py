"""`backfill_options`: every session of a date range, each exactly like a single-day run.

Run it with `python -m flows.backfill --start-date 2025-12-09 --end-date 2025-12-22`, or from the
`options-backfill` deployment: `prefect deployment run 'backfill-options/options-backfill'
--param start_date=2025-12-09 --param end_date=2025-12-22`, or the Prefect UI's run form.
"""

from __future__ import annotations

import logging

from prefect import flow

from flows.params import (
    AtLeastOne,
    AtLeastZero,
    CalendarName,
    OptionalAtLeastOne,
    ProviderName,
    Seconds,
    SessionDate,
    Symbols,
)
from flows.reporting import RunSummary
from flows.run import log_plan, open_run, planned_summary, run_plan
from markets.calendar import DEFAULT_CALENDAR
from tasks.request import build_ingest_request

logger = logging.getLogger("kapman.backfill")


@flow(name="backfill-options", flow_run_name="backfill-{start_date}-{end_date}")
def backfill_options(
    start_date: SessionDate,
    end_date: SessionDate,
    provider: ProviderName = None,
    concurrency: AtLeastOne = 4,
    symbols: Symbols = None,
    large_symbols: Symbols = None,
    calendar: CalendarName = DEFAULT_CALENDAR,
    max_parallel_days: AtLeastOne = 1,
    dry_run: bool = False,
    heartbeat: AtLeastOne = 25,
    max_requests_per_minute: OptionalAtLeastOne = None,
    day_retries: AtLeastZero = 2,
    retry_delay_seconds: Seconds = 10.0,
    dask_address: str | None = None,
    shared_rate_limit: str | None = None,
) -> RunSummary:
    """Ingest every session of [start_date, end_date]; returns the run summary.

    `dask_address` runs the days on a Dask cluster (`local`: a temporary one in this process);
    `shared_rate_limit` names a Prefect global concurrency limit that every provider request of
    every worker also takes a slot from, so parallel workers stay within one request budget.
    """
    request = build_ingest_request(
        start_date=start_date,
        end_date=end_date,
        provider=provider,
        concurrency=concurrency,
        symbols=symbols,
        large_symbols=large_symbols,
        calendar=calendar,
        max_parallel_days=max_parallel_days,
        dry_run=dry_run,
        heartbeat=heartbeat,
        max_requests_per_minute=max_requests_per_minute,
        day_retries=day_retries,
        retry_delay_seconds=retry_delay_seconds,
        dask_address=dask_address,
        shared_rate_limit=shared_rate_limit,
    )
    logger.info(
        "RANGE start=%s end=%s calendar=%s sessions=%d",
        start_date.isoformat(),
        end_date.isoformat(),
        calendar,
        len(request.sessions),
    )
    plan = open_run(request)
    if not request.sessions:
        logger.warning(
            "no %s session between %s and %s: nothing to ingest",
            calendar,
            start_date.isoformat(),
            end_date.isoformat(),
        )
    if request.dry_run:
        log_plan(plan)
        return planned_summary(plan)
    return run_plan(plan, artifact_prefix="options-backfill")
