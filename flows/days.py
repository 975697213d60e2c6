"""Run `ingest_day` over sessions inside a flow and collect each day's final report.

Shared by the single-day and the backfill flows, so one day of a range and a single-day run are the
same code path. No exception escapes: a day that still fails after its retries becomes a report.

Days run `max_parallel_days` at a time: when one finishes the next starts, and the progress artifact
moves. They run on the flow's own task runner (threads of the flow-run process, so every day shares
the process's one provider instance and its request budget), or, with `dask_address`, on a Dask
cluster through prefect-dask (`pip install 'kapman-options[dask]'`).
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date

from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound
from prefect.futures import PrefectFuture

from providers.registry import is_simulated_provider
from tasks.ingest_day import FAILED, SKIPPED, DayIncomplete, DayReport, IngestParams, ingest_day
from tasks.preflight import InvalidRunConfiguration, RunPlan

logger = logging.getLogger("kapman.flows")


def default_log_level() -> None:
    """INFO for our loggers unless something (the CLI's --log-level) already chose a level.

    A worker imports the flows without our CLI, and Prefect attaches `kapman` to its API handler
    (`extra_loggers`) without giving it a level: left alone, the START/END/SUMMARY lines a run's log
    in the UI is for would be filtered out at the root logger's WARNING.
    """
    kapman = logging.getLogger("kapman")
    if kapman.level == logging.NOTSET:
        kapman.setLevel(logging.INFO)


default_log_level()

# `dask_address` value that starts a temporary Dask cluster inside the flow-run process.
LOCAL_DASK = "local"

DaySubmitter = Callable[[date], PrefectFuture]


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
    dask_address: str | None = None,
    artifact_prefix: str = "options-ingest",
) -> list[DayReport]:
    """Ingest the plan's sessions, `max_parallel_days` at a time, started in date order."""
    # The plan's one ledger query already shows which sessions are complete: those are reported as
    # skipped without a task run, so a fully ingested range is decided in milliseconds.
    complete = [session for session in plan.sessions if plan.complete_symbols.get(session) == len(plan.symbols)]
    to_run = [session for session in plan.sessions if session not in complete]
    reports = {session: _already_complete(session, plan) for session in complete}
    progress = _DayProgress(artifact_prefix, total=len(plan.sessions), finished=len(reports))
    with day_submitter(plan.params, day_retries, retry_delay_seconds, dask_address) as submit:
        for session, future in _in_flight(to_run, submit, width=max_parallel_days):
            reports[session] = _final_report(future, session, plan.params, plan)
            progress.update(len(reports))
    return [reports[session] for session in plan.sessions]


@contextmanager
def day_submitter(
    params: IngestParams, day_retries: int, retry_delay_seconds: float, dask_address: str | None
) -> Iterator[DaySubmitter]:
    """Start one day's `ingest_day` task run: on the flow's task runner, or on a Dask cluster."""
    task = ingest_day.with_options(
        retries=day_retries, retry_delay_seconds=retry_delays(day_retries, retry_delay_seconds)
    )
    if not dask_address:
        yield lambda session: task.submit(session, params)
        return
    with dask_task_runner(dask_address) as runner:
        yield lambda session: runner.submit(task, {"session": session, "params": params})


@contextmanager
def dask_task_runner(address: str) -> Iterator:  # noqa: ANN401 - prefect_dask is an optional extra
    """A started DaskTaskRunner: `local` is a temporary in-process cluster, else a scheduler address."""
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError:
        raise InvalidRunConfiguration("dask_address needs the dask extra: pip install 'kapman-options[dask]'") from None
    if address == LOCAL_DASK:
        # Threads, not processes: the days share this process's provider and its request budget.
        runner = DaskTaskRunner(cluster_kwargs={"n_workers": 1, "processes": False, "dashboard_address": None})
    else:
        runner = DaskTaskRunner(address=address)
    with runner:
        yield runner


def share_rate_limit(plan: RunPlan, limit_name: str | None) -> RunPlan:
    """The plan with every provider request also taking a slot of the named global concurrency limit.

    The limit must exist and decay (that is what makes a concurrency limit a rate limit), so a typo
    fails the run at once instead of silently leaving the workers unthrottled.
    """
    if not limit_name:
        return plan
    with get_client(sync_client=True) as client:
        try:
            limit = client.read_global_concurrency_limit_by_name(limit_name)
        except ObjectNotFound:
            raise InvalidRunConfiguration(
                f"global concurrency limit {limit_name!r} does not exist: create it with "
                f"`prefect gcl create {limit_name} --limit 5 --slot-decay-per-second 5` (5 requests/second, "
                "300/minute)"
            ) from None
    if not limit.active or limit.slot_decay_per_second <= 0:
        raise InvalidRunConfiguration(
            f"global concurrency limit {limit_name!r} is not a rate limit: it must be active and have "
            f"--slot-decay-per-second > 0 (now active={limit.active}, decay={limit.slot_decay_per_second})"
        )
    logger.info(
        "SHARED RATE LIMIT name=%s limit=%d requests_per_minute=%.0f",
        limit_name,
        limit.limit,
        limit.slot_decay_per_second * 60,
    )
    return replace(plan, params=replace(plan.params, shared_rate_limit=limit_name))


def _in_flight(sessions: list[date], submit: DaySubmitter, *, width: int) -> Iterator[tuple[date, PrefectFuture]]:
    """Keep up to `width` days running; yield each (session, future) as it finishes."""
    waiting = list(sessions)
    running: dict[PrefectFuture, date] = {}
    finished: queue.SimpleQueue[PrefectFuture] = queue.SimpleQueue()
    while waiting or running:
        while waiting and len(running) < width:
            session = waiting.pop(0)
            future = submit(session)
            running[future] = session
            future.add_done_callback(finished.put)
        future = finished.get()
        yield running.pop(future), future


class _DayProgress:
    """The run's progress artifact: percent of sessions finished, updated as each day ends."""

    def __init__(self, artifact_prefix: str, *, total: int, finished: int) -> None:
        self.total = total
        self.artifact_id = create_progress_artifact(
            progress=self._percent(finished),
            key=f"{artifact_prefix}-progress",
            description="Sessions finished, in percent",
        )

    def update(self, finished: int) -> None:
        if self.artifact_id is not None:
            update_progress_artifact(self.artifact_id, progress=self._percent(finished))

    def _percent(self, finished: int) -> float:
        return 100.0 * finished / self.total if self.total else 100.0


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
