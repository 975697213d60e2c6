"""`backfill_options`: every session of a date range, each exactly like a single-day run.

Run it with `python -m flows.backfill --start-date 2025-12-09 --end-date 2025-12-22`, or from the
`options-backfill` deployment: `prefect deployment run 'backfill-options/options-backfill'
--param start_date=2025-12-09 --param end_date=2025-12-22`, or the Prefect UI's run form.
"""

from __future__ import annotations

import logging

from prefect import flow
from prefect.runtime import flow_run
from prefect.states import State

from flows.params import (
    AtLeastOne,
    AtLeastZero,
    CalendarName,
    OptionalAtLeastOne,
    ProviderName,
    RunId,
    Seconds,
    SessionDate,
    Symbols,
)
from flows.reporting import RunSummary
from flows.run import final_state, labelled_log_lines, log_plan, open_run, planned_summary, run_plan
from markets.calendar import DEFAULT_CALENDAR
from tasks.request import IngestRequest, build_ingest_request

logger = logging.getLogger("kapman.backfill")


def run_name() -> str:
    """`backfill-<start>-<end>`, then `-<run id>` when the caller gave one."""
    parameters = flow_run.parameters
    name = f"backfill-{parameters['start_date']}-{parameters['end_date']}"
    return f"{name}-{parameters['run_id']}" if parameters.get("run_id") else name


@flow(name="backfill-options", flow_run_name=run_name)
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
    run_id: RunId = None,
    emit_summary: bool = False,
    fetch_by_window: bool = True,
    replace: bool = False,
) -> RunSummary | State:
    """Ingest every session of [start_date, end_date]; returns the run summary.

    `dask_address` runs the days on a Dask cluster (`local`: a temporary one in this process);
    `shared_rate_limit` names a Prefect global concurrency limit that every provider request of
    every worker also takes a slot from, so parallel workers stay within one request budget.
    `run_id` labels the flow run's name, every log line and the summary; `emit_summary` prints one
    JSON line per day and for the run. `fetch_by_window` lets a provider that can (polygon's daily
    history) fetch each symbol's sessions in one pass; false asks for every session on its own.
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
        run_id=run_id,
        emit_summary=emit_summary,
        fetch_by_window=fetch_by_window,
        replace=replace,
    )
    with labelled_log_lines(request.run_id):
        return _backfill(request)


def _backfill(request: IngestRequest) -> RunSummary | State:
    start_date, end_date, calendar = request.start_date, request.end_date, request.calendar
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
    return final_state(run_plan(plan, artifact_prefix="options-backfill", coverage_map=True))
