"""`ingest_options`: one session (the latest completed one by default), the nightly job.

It runs the same `ingest_day` task a backfill maps, through the same run path (`flows.run`), so a
single day and one day of a range behave identically.
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
    OptionalSessionDate,
    ProviderName,
    RunId,
    Seconds,
    SnapshotTime,
    Symbols,
)
from flows.reporting import RunSummary
from flows.run import final_state, labelled_log_lines, log_plan, open_run, planned_summary, run_plan
from markets.calendar import DEFAULT_CALENDAR, get_calendar, latest_completed_session
from tasks.request import IngestRequest, build_ingest_request

logger = logging.getLogger("kapman.ingest")


def run_name() -> str:
    """`ingest-<session>` (the latest completed one when no date was given), then `-<run id>`."""
    parameters = flow_run.parameters
    as_of = parameters.get("as_of") or latest_completed_session(get_calendar(parameters.get("calendar", "XNYS")))
    name = f"ingest-{as_of}"
    return f"{name}-{parameters['run_id']}" if parameters.get("run_id") else name


@flow(name="ingest-options", flow_run_name=run_name)
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
    run_id: RunId = None,
    emit_summary: bool = False,
    replace: bool = False,
) -> RunSummary | State:
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
        run_id=run_id,
        emit_summary=emit_summary,
        replace=replace,
    )
    with labelled_log_lines(request.run_id):
        return _ingest(request)


def _ingest(request: IngestRequest) -> RunSummary | State:
    if not request.sessions:
        logger.warning("%s is not a %s session: nothing to ingest", request.start_date.isoformat(), request.calendar)
    plan = open_run(request)
    if request.dry_run:
        log_plan(plan)
        return planned_summary(plan)
    return final_state(run_plan(plan, artifact_prefix="options-ingest"))
