"""`backfill_options`: every session of a date range, each exactly like a single-day run.

Run it with `python -m flows.backfill --start-date 2025-12-09 --end-date 2025-12-22`, or from the
`options-backfill` deployment: `prefect deployment run 'backfill-options/options-backfill'
--param start_date=2025-12-09 --param end_date=2025-12-22`, or the Prefect UI's run form.
"""

from __future__ import annotations

import logging
import sys
import time
from datetime import date

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from flows.days import run_sessions, share_rate_limit
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
from flows.reporting import BackfillSummary, render_markdown, summarize, table_row
from markets.calendar import DEFAULT_CALENDAR, get_calendar
from markets.symbols import normalize_symbols
from tasks.ingest_day import DEFAULT_LARGE_SYMBOLS
from tasks.preflight import InvalidRunConfiguration, RunPlan, prepare_run

logger = logging.getLogger("kapman.backfill")


class AllDaysFailed(RuntimeError):
    """Every attempted day failed: the run is a failure, the summary says why."""

    def __init__(self, summary: BackfillSummary) -> None:
        super().__init__(f"every day failed ({summary.days_failed} of {summary.days_attempted})")
        self.summary = summary


def expand_sessions(start_date: date, end_date: date, calendar: str) -> list[date]:
    """The calendar's sessions in [start, end], ascending; the range must not run backwards."""
    if end_date < start_date:
        raise InvalidRunConfiguration(f"end date {end_date.isoformat()} is before start date {start_date.isoformat()}")
    return get_calendar(calendar).sessions(start_date, end_date)


def log_plan(plan: RunPlan) -> None:
    """The dry-run plan: sessions × symbols and what the ledger already holds."""
    logger.info(
        "PLAN sessions=%d symbols=%d provider=%s database=%s",
        len(plan.sessions),
        len(plan.symbols),
        plan.params.provider,
        plan.database,
    )
    for session in plan.sessions:
        done = plan.complete_symbols.get(session, 0)
        logger.info(
            "PLAN session=%s snapshot_time=%s complete=%d/%d to_fetch=%d",
            session.isoformat(),
            plan.snapshot_time(session).isoformat(),
            done,
            len(plan.symbols),
            len(plan.symbols) - done,
        )


def publish(summary: BackfillSummary, artifact_prefix: str) -> None:
    """Table artifact (one row per session) and markdown summary, under stable keys."""
    create_table_artifact(
        key=f"{artifact_prefix}-days",
        table=[table_row(day) for day in summary.days],
        description=summary.line(),
    )
    create_markdown_artifact(
        key=f"{artifact_prefix}-summary", markdown=render_markdown(summary), description=summary.line()
    )


def run_plan(
    plan: RunPlan,
    *,
    start_date: date | None,
    end_date: date | None,
    max_parallel_days: int,
    day_retries: int,
    retry_delay_seconds: float,
    artifact_prefix: str,
    dask_address: str | None = None,
) -> BackfillSummary:
    """Run the plan's days, publish artifacts, log the summary; fail only if every day failed."""
    started = time.monotonic()
    reports = run_sessions(
        plan,
        max_parallel_days=max_parallel_days,
        day_retries=day_retries,
        retry_delay_seconds=retry_delay_seconds,
        dask_address=dask_address,
        artifact_prefix=artifact_prefix,
    )
    summary = summarize(
        reports,
        provider=plan.params.provider,
        start_date=start_date,
        end_date=end_date,
        duration_seconds=time.monotonic() - started,
    )
    publish(summary, artifact_prefix)
    logger.info(summary.line())
    if summary.all_failed:
        raise AllDaysFailed(summary)
    return summary


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
) -> BackfillSummary:
    """Ingest every session of [start_date, end_date]; returns the run summary.

    `dask_address` runs the days on a Dask cluster (`local`: a temporary one in this process);
    `shared_rate_limit` names a Prefect global concurrency limit that every provider request of
    every worker also takes a slot from, so parallel workers stay within one request budget.
    """
    sessions = expand_sessions(start_date, end_date, calendar)
    logger.info(
        "RANGE start=%s end=%s calendar=%s sessions=%d",
        start_date.isoformat(),
        end_date.isoformat(),
        calendar,
        len(sessions),
    )
    plan = prepare_run(
        sessions,
        provider=provider,
        concurrency=concurrency,
        symbols=normalize_symbols(symbols) if symbols else None,
        large_symbols=normalize_symbols(large_symbols) if large_symbols is not None else DEFAULT_LARGE_SYMBOLS,
        heartbeat=heartbeat,
        max_requests_per_minute=max_requests_per_minute,
        max_parallel_days=max_parallel_days,
    )
    plan = share_rate_limit(plan, shared_rate_limit)
    if not sessions:
        logger.warning(
            "no %s session between %s and %s: nothing to ingest",
            calendar,
            start_date.isoformat(),
            end_date.isoformat(),
        )
    if dry_run:
        log_plan(plan)
        return summarize(
            [], provider=plan.params.provider, start_date=start_date, end_date=end_date, duration_seconds=0.0
        )
    return run_plan(
        plan,
        start_date=start_date,
        end_date=end_date,
        max_parallel_days=max_parallel_days,
        day_retries=day_retries,
        retry_delay_seconds=retry_delay_seconds,
        artifact_prefix="options-backfill",
        dask_address=dask_address,
    )


if __name__ == "__main__":
    from flows.cli import main

    sys.exit(main(sys.argv[1:], prog="python -m flows.backfill", range_only=True))
