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

from providers.registry import is_simulated_provider
from tasks.ingest_day import FAILED, SKIPPED, DayIncomplete, DayReport, IngestParams, ingest_day
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
    # The plan's one ledger query already shows which sessions are complete: those are reported as
    # skipped without a task run, so a fully ingested range is decided in milliseconds.
    complete = [session for session in plan.sessions if plan.complete_symbols.get(session) == len(plan.symbols)]
    to_run = [session for session in plan.sessions if session not in complete]
    reports = {session: _already_complete(session, plan) for session in complete}
    progress_id = create_progress_artifact(
        progress=100.0 * len(reports) / max(len(plan.sessions), 1),
        key="options-ingest-progress",
        description="Sessions finished, in percent",
    )
    for start in range(0, len(to_run), max_parallel_days):
        batch = to_run[start : start + max_parallel_days]
        futures = task.map(batch, params=unmapped(plan.params))
        for session, future in zip(batch, futures, strict=True):
            reports[session] = _final_report(future, session, plan.params, plan)
        if progress_id is not None:
            update_progress_artifact(progress_id, progress=100.0 * len(reports) / len(plan.sessions))
    return [reports[session] for session in plan.sessions]


def _already_complete(session: date, plan: RunPlan) -> DayReport:
    logger.info(
        "SKIP session=%s snapshot_time=%s complete=%d/%d (ledger)",
        session.isoformat(),
        plan.snapshot_time(session).isoformat(),
        len(plan.symbols),
        len(plan.symbols),
    )
    return DayReport(
        session=session,
        snapshot_time=plan.snapshot_time(session),
        status=SKIPPED,
        provider=plan.params.provider,
        symbols_total=len(plan.symbols),
        symbols_skipped=len(plan.symbols),
        simulated=is_simulated_provider(plan.params.provider),
    )
