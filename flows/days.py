"""Run `ingest_day` over sessions inside a flow and collect each day's final report.

Shared by the single-day and the backfill flows, so one day of a range and a single-day run are the
same code path. No exception escapes: a day that still fails after its retries becomes a report.
"""

from __future__ import annotations

import logging
from datetime import date

from prefect import unmapped
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.futures import PrefectFuture

from tasks.ingest_day import FAILED, DayIncomplete, DayReport, IngestParams, ingest_day
from tasks.preflight import RunPlan

logger = logging.getLogger("kapman.flows")


def retry_delays(day_retries: int, first_delay_seconds: float) -> list[float]:
    """Exponential backoff between day attempts (×4 each time); jitter is added by Prefect."""
    return [first_delay_seconds * 4**attempt for attempt in range(day_retries)]


def _final_report(future: PrefectFuture, session: date, params: IngestParams, plan: RunPlan) -> DayReport:
    future.wait()
    outcome = future.result(raise_on_failure=False)
    if isinstance(outcome, DayReport):
        return outcome
    if isinstance(outcome, DayIncomplete):
        return outcome.report
    # A crash outside run_ingest_day (a bug, or the worker died): still one row in the summary.
    error = f"{type(outcome).__name__}: {outcome}" if isinstance(outcome, BaseException) else str(outcome)
    return DayReport(
        session=session,
        snapshot_time=plan.snapshot_time(session),
        status=FAILED,
        provider=params.provider,
        error=error,
    )


def run_sessions(
    plan: RunPlan,
    *,
    max_parallel_days: int,
    day_retries: int,
    retry_delay_seconds: float,
) -> list[DayReport]:
    """Map `ingest_day` over the plan's sessions, `max_parallel_days` at a time, in date order."""
    task = ingest_day.with_options(
        retries=day_retries, retry_delay_seconds=retry_delays(day_retries, retry_delay_seconds)
    )
    sessions = list(plan.sessions)
    progress_id = create_progress_artifact(
        progress=0.0, key="options-ingest-progress", description="Sessions finished, in percent"
    )
    reports: list[DayReport] = []
    for start in range(0, len(sessions), max_parallel_days):
        batch = sessions[start : start + max_parallel_days]
        futures = task.map(batch, params=unmapped(plan.params))
        for session, future in zip(batch, futures, strict=True):
            reports.append(_final_report(future, session, plan.params, plan))
        if progress_id is not None:
            update_progress_artifact(progress_id, progress=100.0 * len(reports) / len(sessions))
    return reports
