"""The one run path of both ingest flows: open a run, run its plan of sessions, report it.

`ingest_options` (one session) and `backfill_options` (a range) are short recipes over this module,
so one day of a range and a single-day run are the same code. A run:

1. is described by one validated `IngestRequest` (built by the flow from its parameters);
2. is opened once (`open_run`): database target resolved, migrations applied, provider built (which
   checks its credentials), the symbols resolved and the ledger asked which symbol-days are done;
3. runs its sessions (`run_plan`): complete sessions are reported as skipped without a task run,
   the others run as `ingest_day` tasks, `max_parallel_days` at a time, each with its own retries; no
   exception escapes a day, a day that still fails after its retries becomes a report;
4. publishes its artifacts and summary; only a run where every day failed raises (`AllDaysFailed`).

Days run on the flow's own task runner (threads of the flow-run process, so every day shares the
process's one provider instance and its request budget), or, with `dask_address`, on a Dask cluster
through prefect-dask (`pip install 'kapman-options[dask]'`).
"""

from __future__ import annotations

import logging
import queue
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound
from prefect.futures import PrefectFuture
from prefect.states import Completed, State

from charts.coverage import write_coverage_png
from charts.files import DEFAULT_CHART_DIR, markdown_image
from flows.opened import OpenOnce
from flows.reporting import RunSummary, day_json_line, render_markdown, summarize, table_row
from settings.environment import read_environment
from store.chains import LedgerEntry, Writer, counts_as_complete, ledger_entries
from store.connection import DatabaseTarget, connect, refusing_setup, resolve_target
from store.coverage import read_coverage
from store.migrations import migrate
from tasks.day_report import DayIncomplete, DayReport, DayStatus
from tasks.handles import install_windows, provider_for, remove_windows
from tasks.ingest_day import ingest_day
from tasks.request import IngestRequest, InvalidRunConfiguration
from tasks.symbols import resolve_symbols

logger = logging.getLogger("kapman.run")

# `dask_address` value that starts a temporary Dask cluster inside the flow-run process.
LOCAL_DASK = "local"

DaySubmitter = Callable[[date], PrefectFuture]


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


class AllDaysFailed(RuntimeError):
    """Every attempted day failed: the run is a failure, the summary says why."""

    def __init__(self, summary: RunSummary) -> None:
        super().__init__(f"every day failed ({summary.days_failed} of {summary.days_attempted})")
        self.summary = summary


@dataclass(frozen=True)
class RunPlan:
    """An opened run: its request, where it writes, its symbols and what the ledger already has."""

    request: IngestRequest
    target: DatabaseTarget
    symbols: tuple[str, ...]
    # session → number of symbols already complete for it
    complete_symbols: dict[date, int]
    simulated: bool
    # What the provider expects the run to cost, day by day and by window (None: it cannot say).
    requests_per_day: int | None = None
    requests_by_window: int | None = None
    # The window's ledger entries, (snapshot time, symbol) → entry, and which of them the run keeps.
    stored: Mapping[tuple[datetime, str], LedgerEntry] = field(default_factory=dict)
    kept: frozenset[tuple[datetime, str]] = frozenset()

    def kept_from_others(self, session: date) -> list[str]:
        """SYMBOL(provider) of the session's symbol-days another real provider wrote, kept."""
        stamp = self.request.snapshot_time_for(session)
        entries = [self.stored[(stamp, symbol)] for symbol in self.symbols if (stamp, symbol) in self.kept]
        return [
            f"{entry.symbol}({entry.provider})"
            for entry in entries
            if entry.provider != self.request.provider and not entry.simulated
        ]

    @property
    def sessions(self) -> tuple[date, ...]:
        return self.request.sessions

    def is_complete(self, session: date) -> bool:
        return self.complete_symbols.get(session) == len(self.symbols)


def _open_run(request: IngestRequest) -> RunPlan:
    """Everything a run needs before its first day, done once; raises a `SetupError` (one line)."""
    if request.shared_rate_limit:
        check_shared_rate_limit(request.shared_rate_limit)
    # Building the provider checks its credentials (e.g. a missing API key) before any day starts.
    provider = provider_for(request)
    target = resolve_target(request.database_url, request.pgdata)
    connection = connect(target)
    try:
        with refusing_setup(target):
            migrate(connection)
            chosen = tuple(resolve_symbols(connection, request.symbols))
            stamps = {session: request.snapshot_time_for(session) for session in request.sessions}
            writer = Writer(request.provider, provider.simulated, request.replace)
            stored = ledger_entries(connection, list(stamps.values()), chosen)
            entries = {
                key: entry
                for key, entry in stored.items()
                if counts_as_complete(entry.simulated, entry.provider, writer)
            }
    finally:
        connection.close()
    ignored = [symbol for symbol in request.symbols or () if symbol not in chosen]
    if ignored:
        logger.warning(
            "not on the active watchlist, ignored: %s (add them with `python -m store watchlist add`)",
            ",".join(ignored),
        )
    complete = {session: sum(1 for symbol in chosen if (stamp, symbol) in entries) for session, stamp in stamps.items()}
    to_fetch = {
        symbol: [session for session, stamp in stamps.items() if (stamp, symbol) not in entries] for symbol in chosen
    }
    estimate = getattr(provider, "estimated_requests", None)
    if request.fetch_by_window and len(request.sessions) > 1 and not request.dry_run:
        install_windows(request, to_fetch)
    return RunPlan(
        request=request,
        target=target,
        symbols=chosen,
        complete_symbols=complete,
        simulated=provider.simulated,
        requests_per_day=estimate(to_fetch, window=False) if estimate else None,
        stored=stored,
        kept=frozenset(entries),
        requests_by_window=estimate(to_fetch, window=True)
        if estimate and request.fetch_by_window and len(request.sessions) > 1
        else None,
    )


_runs = OpenOnce(_open_run)


# Plain functions, not `_runs`' bound methods: a flow's globals must pickle by reference (Dask ships
# the flow run's context, and with it the flow function, to its workers).
def preopen_run(request: IngestRequest) -> RunPlan:
    """Open the run before its flow starts (a front); the flow called next in this process adopts it."""
    return _runs.preopen(request)


def open_run(request: IngestRequest) -> RunPlan:
    """The run a front opened for this very request, else a newly opened one."""
    return _runs.open(request)


def log_plan(plan: RunPlan) -> None:
    """The dry-run plan: sessions × symbols and what the ledger already holds."""
    request = plan.request
    logger.info(
        "PLAN sessions=%d symbols=%d provider=%s database=%s",
        len(plan.sessions),
        len(plan.symbols),
        request.provider,
        plan.target.display,
    )
    if plan.requests_per_day is not None:
        by_window = f" requests_by_window={plan.requests_by_window}" if plan.requests_by_window is not None else ""
        logger.info(
            "PLAN provider=%s requests_day_by_day=%d%s (estimated, at the fewest pages)",
            request.provider,
            plan.requests_per_day,
            by_window,
        )
        # A provider that bills per request (unicorn: 10 API calls each) says what the run will cost.
        calls = getattr(provider_for(request), "calls_per_request", None)
        if calls:
            requests = plan.requests_by_window if plan.requests_by_window is not None else plan.requests_per_day
            logger.info(
                "PLAN provider=%s api_calls_at_least=%d (%d per request)", request.provider, requests * calls, calls
            )
    for session in plan.sessions:
        done = plan.complete_symbols.get(session, 0)
        logger.info(
            "PLAN session=%s snapshot_time=%s complete=%d/%d to_fetch=%d",
            session.isoformat(),
            request.snapshot_time_for(session).isoformat(),
            done,
            len(plan.symbols),
            len(plan.symbols) - done,
        )
        fetch, kept = _fetch_and_kept(plan, session)
        logger.info(
            "PLAN session=%s fetch=%s kept=%s", session.isoformat(), ",".join(fetch) or "-", ",".join(kept) or "-"
        )


def _fetch_and_kept(plan: RunPlan, session: date) -> tuple[list[str], list[str]]:
    """The session's symbols to fetch and those kept, each with why (the dry run's listing)."""
    stamp = plan.request.snapshot_time_for(session)
    fetch, kept = [], []
    for symbol in plan.symbols:
        entry = plan.stored.get((stamp, symbol))
        if (stamp, symbol) in plan.kept:
            why = "complete" if entry.provider == plan.request.provider else f"written by {entry.provider}"
            kept.append(f"{symbol}({why})")
        elif entry is None:
            fetch.append(symbol)
        else:
            fetch.append(f"{symbol}(replaces {'simulated data' if entry.simulated else entry.provider})")
    return fetch, kept


def planned_summary(plan: RunPlan) -> RunSummary:
    """What a dry run returns: no day attempted."""
    request = plan.request
    summary = summarize(
        [],
        provider=request.provider,
        start_date=request.start_date,
        end_date=request.end_date,
        duration_seconds=0.0,
        run_id=request.run_id,
    )
    if request.emit_summary:
        emit(summary.json_line())
    return summary


def emit(line: str) -> None:
    """A machine-readable line on stdout (`--emit-summary`), for the scripts that parse it."""
    print(line, flush=True)


@contextmanager
def labelled_log_lines(run_id: str | None) -> Iterator[None]:
    """Every log line of ours in this process ends with `run_id=<id>` while the block runs.

    A record factory, not a logger filter: filters on `kapman` would not see its children's records.
    """
    if not run_id:
        yield
        return
    previous = logging.getLogRecordFactory()

    def labelled(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if record.name.startswith("kapman") and isinstance(record.msg, str):
            record.msg = f"{record.msg} run_id={run_id}"
        return record

    logging.setLogRecordFactory(labelled)
    try:
        yield
    finally:
        logging.setLogRecordFactory(previous)


def run_plan(plan: RunPlan, *, artifact_prefix: str, coverage_map: bool = False) -> RunSummary:
    """Run the plan's days, publish artifacts, log the summary; fail only if every day failed.

    `coverage_map` adds the window's heatmap (a backfill's); a nightly single day skips drawing it,
    which would cost more than the rest of a no-op re-run."""
    request = plan.request
    started = time.monotonic()
    try:
        reports = run_sessions(plan, artifact_prefix=artifact_prefix)
    finally:
        remove_windows(request)
    summary = summarize(
        reports,
        provider=request.provider,
        start_date=request.start_date,
        end_date=request.end_date,
        duration_seconds=time.monotonic() - started,
        run_id=request.run_id,
    )
    publish(summary, artifact_prefix)
    publish_coverage(plan, artifact_prefix, heatmap=coverage_map)
    logger.info(summary.line())
    if request.emit_summary:
        emit(summary.json_line())
    if summary.all_failed:
        raise AllDaysFailed(summary)
    return summary


def final_state(summary: RunSummary) -> RunSummary | State:
    """What a flow returns: the summary, or, when days failed or were partial (but not all: that
    raised), a Completed state named "Partial" carrying it, so the run list shows it at a glance."""
    unfinished = summary.failed_sessions
    if not unfinished:
        return summary
    shown = ", ".join(day.isoformat() for day in unfinished[:10]) + (" …" if len(unfinished) > 10 else "")
    return Completed(
        data=summary,
        name="Partial",
        message=f"{len(unfinished)} of {summary.days_attempted} days failed or partial: {shown}",
    )


def publish(summary: RunSummary, artifact_prefix: str) -> None:
    """Table artifact (one row per session) and markdown summary, under stable keys."""
    create_table_artifact(
        key=f"{artifact_prefix}-days",
        table=[table_row(day) for day in summary.days],
        description=summary.line(),
    )
    create_markdown_artifact(
        key=f"{artifact_prefix}-summary", markdown=render_markdown(summary), description=summary.line()
    )


def publish_coverage(plan: RunPlan, artifact_prefix: str, *, heatmap: bool = True) -> None:
    """The window's coverage after the run (sessions × symbols, from the ledger): a table artifact,
    with the command that fills what is still missing in its description, and the same as a PNG
    heatmap written under the chart directory and shown by a markdown artifact. Best effort: a
    database that cannot answer now, or a disk that cannot take the picture, leaves the run's own
    result untouched."""
    request = plan.request
    try:
        connection = connect(plan.target)
        try:
            coverage = read_coverage(
                connection, {session: request.snapshot_time_for(session) for session in plan.sessions}, plan.symbols
            )
        finally:
            connection.close()
    except Exception as exc:  # noqa: BLE001 - reported, never a failure of the run
        logger.warning("coverage not published: %s", " ".join(str(exc).split())[:200])
        return
    totals = " ".join(f"{name}={value}" for name, value in coverage.totals().items())
    command = coverage.fill_command(request.provider)
    fill = f"; fill the gaps: {command}" if command else "; nothing missing"
    create_table_artifact(
        key=f"{artifact_prefix}-coverage", table=coverage.table(), description=f"Coverage {totals}{fill}"
    )
    if not heatmap or not plan.sessions:
        return
    window = f"{plan.sessions[0].isoformat()}-{plan.sessions[-1].isoformat()}"
    try:
        path = write_coverage_png(
            coverage,
            coverage_chart_path(artifact_prefix, window),
            title=f"{artifact_prefix} {window} ({request.provider})",
        )
    except Exception as exc:  # noqa: BLE001 - reported, never a failure of the run
        logger.warning("coverage heatmap not written: %s", " ".join(str(exc).split())[:200])
        return
    logger.info("coverage heatmap: %s", path)
    create_markdown_artifact(
        key=f"{artifact_prefix}-coverage-map",
        markdown=f"# Coverage {window}\n\n{totals}\n\n"
        + markdown_image(path, alt=f"coverage {window}")
        + (f"\nFill the gaps:\n\n```\n{command}\n```\n" if command else "\nNothing missing.\n"),
        description=f"Coverage heatmap {window}: {path}",
    )


def coverage_chart_path(artifact_prefix: str, window: str) -> Path:
    """Where a run's heatmap goes: one file per prefix and window, replaced by the window's next run."""
    return (read_environment().chart_dir or DEFAULT_CHART_DIR) / "coverage" / f"{artifact_prefix}-{window}.png"


def retry_delays(day_retries: int, first_delay_seconds: float) -> list[float]:
    """Exponential backoff between day attempts (×4 each time); jitter is added by Prefect."""
    return [first_delay_seconds * 4**attempt for attempt in range(day_retries)]


def run_sessions(plan: RunPlan, *, artifact_prefix: str = "options-ingest") -> list[DayReport]:
    """Ingest the plan's sessions, `max_parallel_days` at a time, started in date order."""
    # The plan's one ledger query already shows which sessions are complete: those are reported as
    # skipped without a task run, so a fully ingested range is decided in milliseconds.
    to_run = [session for session in plan.sessions if not plan.is_complete(session)]
    reports = {session: _already_complete(session, plan) for session in plan.sessions if plan.is_complete(session)}
    emit_day = (lambda report: emit(day_json_line(report, plan.request.run_id))) if plan.request.emit_summary else None
    for report in reports.values() if emit_day else ():
        emit_day(report)
    progress = _DayProgress(artifact_prefix, total=len(plan.sessions), finished=len(reports))
    stopped: DayReport | None = None
    with day_submitter(plan) as submit:
        flights = _in_flight(to_run, submit, width=plan.request.max_parallel_days, stop=lambda: stopped is not None)
        for session, future in flights:
            reports[session] = _final_report(future, session, plan)
            if reports[session].stop_run and stopped is None:
                stopped = reports[session]
                logger.error("RUN STOPPED at session=%s: %s", session.isoformat(), stopped.error)
            if emit_day:
                emit_day(reports[session])
            progress.update(reports)
    for session in plan.sessions:
        if session not in reports and stopped is not None:
            reports[session] = _not_attempted(session, plan, stopped)
            if emit_day:
                emit_day(reports[session])
    pending = [_not_yet_available(session, plan) for session in plan.request.not_yet_closed]
    for report in pending if emit_day else ():
        emit_day(report)
    return [reports[session] for session in plan.sessions] + pending


def _not_yet_available(session: date, plan: RunPlan) -> DayReport:
    """A session of the range that had not closed yet: reported, never a failure (re-run it later)."""
    logger.info("NOT YET AVAILABLE session=%s: it has not closed yet; run it after the close", session.isoformat())
    return _unrun_day(
        session, plan, DayStatus.NOT_YET_AVAILABLE, "not yet available: the session has not closed", failed=False
    )


def _not_attempted(session: date, plan: RunPlan, stopped: DayReport) -> DayReport:
    """A day the run did not start because the source refused the run itself (e.g. quota spent)."""
    return _unrun_day(session, plan, DayStatus.FAILED, f"not attempted: {stopped.error}", failed=True)


def _unrun_day(session: date, plan: RunPlan, status: DayStatus, error: str, *, failed: bool) -> DayReport:
    """The report of a day no task ran: every symbol counted, failed or not, with why."""
    return DayReport(
        session=session,
        snapshot_time=plan.request.snapshot_time_for(session),
        status=status,
        provider=plan.request.provider,
        symbols_total=len(plan.symbols),
        symbols_failed=len(plan.symbols) if failed else 0,
        error=error,
    )


@contextmanager
def day_submitter(plan: RunPlan) -> Iterator[DaySubmitter]:
    """Start one day's `ingest_day` task run: on the flow's task runner, or on a Dask cluster."""
    request = plan.request
    task = ingest_day.with_options(
        retries=request.day_retries, retry_delay_seconds=retry_delays(request.day_retries, request.retry_delay_seconds)
    )
    if not request.dask_address:
        yield lambda session: task.submit(session, request, plan.target)
        return
    with dask_task_runner(request.dask_address) as runner:
        yield lambda session: runner.submit(task, {"session": session, "request": request, "target": plan.target})


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


def check_shared_rate_limit(limit_name: str) -> None:
    """The named global concurrency limit must exist and decay (that is what makes a concurrency
    limit a rate limit), so a typo fails the run at once instead of leaving the workers unthrottled.
    """
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


def _final_report(future: PrefectFuture, session: date, plan: RunPlan) -> DayReport:
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
        snapshot_time=plan.request.snapshot_time_for(session),
        status=DayStatus.FAILED,
        provider=plan.request.provider,
        error=error,
    )


def _in_flight(
    sessions: list[date], submit: DaySubmitter, *, width: int, stop: Callable[[], bool] = lambda: False
) -> Iterator[tuple[date, PrefectFuture]]:
    """Keep up to `width` days running; yield each (session, future) as it finishes; start no new
    day once `stop()` says so (the days in flight still finish)."""
    waiting = list(sessions)
    running: dict[PrefectFuture, date] = {}
    finished: queue.SimpleQueue[PrefectFuture] = queue.SimpleQueue()
    while (waiting and not stop()) or running:
        while waiting and len(running) < width and not stop():
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

    def update(self, reports: Mapping[date, DayReport]) -> None:
        if self.artifact_id is not None:
            counts = Counter(str(report.status) for report in reports.values())
            said = ", ".join(f"{counts[status]} {status}" for status in DayStatus if counts[str(status)])
            update_progress_artifact(
                self.artifact_id,
                progress=self._percent(len(reports)),
                description=f"Sessions finished: {len(reports)} of {self.total} ({said})",
            )

    def _percent(self, finished: int) -> float:
        return 100.0 * finished / self.total if self.total else 100.0


def _already_complete(session: date, plan: RunPlan) -> DayReport:
    stamp = plan.request.snapshot_time_for(session)
    others = plan.kept_from_others(session)
    logger.info(
        "SKIP session=%s snapshot_time=%s complete=%d/%d (ledger)%s",
        session.isoformat(),
        stamp.isoformat(),
        len(plan.symbols),
        len(plan.symbols),
        f"; kept from another provider: {','.join(others)}" if others else "",
    )
    return DayReport(
        session=session,
        snapshot_time=stamp,
        status=DayStatus.SKIPPED,
        provider=plan.request.provider,
        symbols_total=len(plan.symbols),
        symbols_skipped=len(plan.symbols),
        simulated=plan.simulated,
        kept_other_provider=tuple(others),
    )
