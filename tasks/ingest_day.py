"""`ingest_day`: one session's chains for every watchlist symbol, the unit that retries and reports.

`run_ingest_day` is the plain function (testable without Prefect); `ingest_day` is the Prefect task
around it. The task raises on `failed` and `partial` days so Prefect retries them, and a retry only
redoes what the ledger says is incomplete.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import task_run as prefect_task_run

from providers.base import AuthError, ChainProvider, ChainSnapshot, ProviderError, QuotaExhausted, SessionUnavailable
from store.chains import SymbolDayRows, Writer, counts_as_complete, ledger_entries, write_symbol_day
from store.connection import DatabaseTarget, DatabaseUnavailable, ReconnectingConnection
from store.tickers import ensure_tickers
from tasks.attempts import remember, take_earlier
from tasks.chain_rows import validate_chain
from tasks.day_report import DayIncomplete, DayReport, DayStatus, SymbolFailure, combine_attempts
from tasks.handles import provider_for
from tasks.request import IngestRequest
from tasks.symbols import resolve_symbols

logger = logging.getLogger("kapman.ingest")


@dataclass
class _Progress:
    """Counters of one day in flight, for the heartbeat and the report."""

    total: int
    heartbeat: int
    session: date
    done: int = 0
    written: int = 0
    already: int = 0
    rows: int = 0
    dropped: int = 0
    failures: list[SymbolFailure] = field(default_factory=list)
    missing_fields: set[str] = field(default_factory=set)
    # Symbols written with an estimated close (the source had no price for the underlying).
    estimated_closes: set[str] = field(default_factory=set)
    stop_run: bool = False
    replaced: int = 0

    def finished_symbol(self) -> None:
        self.done += 1
        if self.heartbeat and (self.done % self.heartbeat == 0 or self.done == self.total):
            logger.info(
                "heartbeat session=%s symbols_done=%d/%d written=%d failed=%d rows=%d",
                self.session.isoformat(),
                self.done,
                self.total,
                self.written,
                len(self.failures),
                self.rows,
            )


def one_line(exc: BaseException) -> str:
    """An error as one log-friendly line (psycopg2's server messages span several)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return " / ".join(lines) or type(exc).__name__


def run_ingest_day(
    session: date,
    request: IngestRequest,
    *,
    database: ReconnectingConnection,
    provider: ChainProvider,
) -> DayReport:
    """Ingest one session into `database` from `provider`; never raises for data problems, reports
    them instead (an unreachable database included: the day fails, the range goes on)."""
    started = time.monotonic()
    snapshot_time = request.snapshot_time_for(session)
    logger.info(
        "START session=%s snapshot_time=%s provider=%s",
        session.isoformat(),
        snapshot_time.isoformat(),
        request.provider,
    )
    report = _ingest(session, snapshot_time, request, database, provider)
    report = _with_duration(report, time.monotonic() - started)
    logger.info(
        "END session=%s status=%s symbols=%d written=%d skipped=%d failed=%d rows=%d dropped=%d seconds=%.1f%s",
        session.isoformat(),
        report.status,
        report.symbols_total,
        report.symbols_written,
        report.symbols_skipped,
        report.symbols_failed,
        report.rows_written,
        report.rows_dropped,
        report.duration_seconds,
        f" error={report.error}" if report.error else "",
    )
    return report


def _with_duration(report: DayReport, seconds: float) -> DayReport:
    return replace(report, duration_seconds=round(seconds, 3))


def _ingest(
    session: date,
    snapshot_time: datetime,
    request: IngestRequest,
    database: ReconnectingConnection,
    provider: ChainProvider,
) -> DayReport:
    base: dict[str, object] = {
        "session": session,
        "snapshot_time": snapshot_time,
        "provider": request.provider,
        "simulated": provider.simulated,
    }
    try:
        connection = database.get()
        symbols = resolve_symbols(connection, request.symbols)
        # Simulated symbol-days never satisfy a real source (its run replaces them); another real
        # source's are kept, and said so, unless the run replaces them (`--replace`).
        writer = Writer(request.provider, provider.simulated, request.replace)
        entries = ledger_entries(connection, [snapshot_time], symbols)
        complete = {
            key for key, entry in entries.items() if counts_as_complete(entry.simulated, entry.provider, writer)
        }
        todo = [symbol for symbol in symbols if (snapshot_time, symbol) not in complete]
        kept = sorted(
            f"{entry.symbol}({entry.provider})"
            for key, entry in entries.items()
            if key in complete and entry.provider != request.provider and not entry.simulated
        )
        if kept:
            logger.info(
                "kept session=%s written by another provider: %s (--replace rewrites them)",
                session.isoformat(),
                ",".join(kept),
            )
        base["kept_other_provider"] = tuple(kept)
        skipped = len(symbols) - len(todo)
        if not todo:
            return DayReport(**base, status=DayStatus.SKIPPED, symbols_total=len(symbols), symbols_skipped=skipped)
        ticker_ids = ensure_tickers(connection, todo)
        progress = _Progress(total=len(todo), heartbeat=request.heartbeat, session=session)
        day_error = _fetch_and_write(database, provider, session, snapshot_time, todo, ticker_ids, request, progress)
    except DatabaseUnavailable as exc:
        return DayReport(**base, status=DayStatus.FAILED, error=str(exc), retryable=True)
    except Exception as exc:  # psycopg2 errors mid-run: the day is reported, the range goes on
        return DayReport(
            **base, status=DayStatus.FAILED, error=f"{type(exc).__name__}: {one_line(exc)}", retryable=True
        )

    failed = len(progress.failures)
    complete_now = skipped + progress.written + progress.already
    if failed == 0:
        status = DayStatus.SUCCEEDED
    elif complete_now > 0:
        status = DayStatus.PARTIAL
    else:
        status = DayStatus.FAILED
    first_error = day_error or (progress.failures[0].error if progress.failures else None)
    if failed and not day_error:
        first_error = f"{failed} symbol(s) failed, first {progress.failures[0].symbol}: {first_error}"
    return DayReport(
        **base,
        status=status,
        symbols_total=len(symbols),
        symbols_written=progress.written,
        symbols_skipped=skipped + progress.already,
        symbols_failed=failed,
        rows_written=progress.rows,
        rows_dropped=progress.dropped,
        error=first_error,
        failures=tuple(progress.failures),
        missing_fields=tuple(sorted(progress.missing_fields)),
        estimated_closes=tuple(sorted(progress.estimated_closes)),
        stop_run=progress.stop_run,
        symbols_replaced=progress.replaced,
        retryable=any(failure.retryable for failure in progress.failures),
    )


def _fetch_and_write(
    database: ReconnectingConnection,
    provider: ChainProvider,
    session: date,
    snapshot_time: datetime,
    symbols: list[str],
    ticker_ids: dict[str, str],
    request: IngestRequest,
    progress: _Progress,
) -> str | None:
    """Fetch with `concurrency` workers (large symbols one at a time in their own lane) and write
    each symbol-day as it arrives. Returns a day-level error when the source refused the session.

    Each lane has at most its width of fetches in flight and starts the next one as one finishes, so
    a refusal stops the day after at most that many requests, whatever the thread timing.
    """
    large = set(request.large_symbols)
    regular_lane = _Lane(ThreadPoolExecutor(request.concurrency, thread_name_prefix="fetch"), request.concurrency)
    large_lane = _Lane(ThreadPoolExecutor(1, thread_name_prefix="fetch-large"), 1)
    lanes = (regular_lane, large_lane)
    for symbol in symbols:
        (large_lane if symbol in large else regular_lane).waiting.append(symbol)
    pending: dict[Future[ChainSnapshot], tuple[str, _Lane]] = {}
    day_error: str | None = None
    try:
        while True:
            for lane in lanes if day_error is None else ():
                while lane.waiting and lane.in_flight < lane.width:
                    symbol = lane.waiting.popleft()
                    future = lane.executor.submit(provider.fetch_chain, symbol, session, large=symbol in large)
                    pending[future] = (symbol, lane)
                    lane.in_flight += 1
            if not pending:
                break
            finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for future in finished:
                symbol, lane = pending.pop(future)
                lane.in_flight -= 1
                error = _handle_result(
                    database,
                    future,
                    symbol,
                    ticker_ids,
                    session,
                    snapshot_time,
                    progress,
                    provider.simulated,
                    request.replace,
                )
                if isinstance(error, (SessionUnavailable, AuthError)) and day_error is None:
                    # The source refused the session (or us): every other symbol would fail the
                    # same way, so stop asking instead of spending the request budget on refusals.
                    day_error = str(error)
                    # A spent quota (or rejected credentials) ends the run, not only this day.
                    progress.stop_run = isinstance(error, (QuotaExhausted, AuthError))
        for lane in lanes:
            for symbol in lane.waiting:
                progress.failures.append(SymbolFailure(symbol, f"not attempted: {day_error}", retryable=False))
                progress.finished_symbol()
    finally:
        for lane in lanes:
            lane.executor.shutdown(wait=True, cancel_futures=True)
    return day_error


@dataclass
class _Lane:
    """Fetch threads of one kind (regular or large symbols) and the symbols still to start."""

    executor: ThreadPoolExecutor
    width: int
    waiting: deque[str] = field(default_factory=deque)
    in_flight: int = 0


def _handle_result(
    database: ReconnectingConnection,
    future: Future[ChainSnapshot],
    symbol: str,
    ticker_ids: dict[str, str],
    session: date,
    snapshot_time: datetime,
    progress: _Progress,
    provider_simulated: bool,
    replace_other_provider: bool = False,
) -> Exception | None:
    try:
        snapshot = future.result()
        if snapshot.session != session or snapshot.symbol.upper() != symbol:
            raise ProviderError(
                f"provider returned {snapshot.symbol} {snapshot.session} when asked for {symbol} {session}"
            )
        validated = validate_chain(snapshot)
        if not validated.rows:
            raise ProviderError(
                f"no usable contracts for {symbol} {session.isoformat()} "
                f"(dropped: {validated.dropped or 'none returned'})"
            )
        outcome = write_symbol_day(
            database.get(),
            SymbolDayRows(
                ticker_id=ticker_ids[symbol],
                session=session,
                snapshot_time=snapshot_time,
                provider=snapshot.provider,
                underlying_close=snapshot.underlying_close,
                rows=validated.rows,
                # A simulated provider's data is simulated whatever a snapshot says.
                simulated=snapshot.simulated or provider_simulated,
                close_estimated=snapshot.close_estimated,
                replace_other_provider=replace_other_provider,
                risk_free_rate=validated.risk_free_rate,
                dividend_yield=validated.dividend_yield,
            ),
        )
    except Exception as exc:
        retryable = bool(getattr(exc, "retryable", not isinstance(exc, ProviderError)))
        message = one_line(exc)
        logger.warning("symbol failed session=%s symbol=%s error=%s", session.isoformat(), symbol, message)
        progress.failures.append(SymbolFailure(symbol, message, retryable))
        progress.finished_symbol()
        return exc
    if outcome.already_complete:
        progress.already += 1
    else:
        progress.written += 1
        progress.rows += outcome.rows_written
        if outcome.replaced:
            progress.replaced += 1
            logger.info("replaced earlier data session=%s symbol=%s", session.isoformat(), symbol)
    progress.dropped += validated.dropped_total
    progress.missing_fields.update(snapshot.missing_fields)
    if snapshot.close_estimated and not outcome.already_complete:
        progress.estimated_closes.add(symbol)
        logger.warning(
            "estimated close session=%s symbol=%s close=%s (%s): stored flagged, never as an exact spot",
            session.isoformat(),
            symbol,
            snapshot.underlying_close,
            snapshot.notes.get("underlying_close_source", "estimated"),
        )
    if validated.dropped_total:
        logger.info("rows dropped session=%s symbol=%s dropped=%s", session.isoformat(), symbol, validated.dropped)
    progress.finished_symbol()
    return None


def _retry_condition(task_, task_run, state) -> bool:  # noqa: ANN001 - Prefect's callback signature
    """Retry only what can improve: not a session the source refused, not bad credentials."""
    exc = state.data
    if isinstance(exc, DayIncomplete):
        return exc.report.retryable
    return True


@task(
    name="ingest_day",
    task_run_name="ingest-{session}",
    retries=2,
    retry_delay_seconds=[10, 40],
    retry_jitter_factor=0.5,
    retry_condition_fn=_retry_condition,
    cache_policy=NO_CACHE,
)
def ingest_day(session: date, request: IngestRequest, target: DatabaseTarget) -> DayReport:
    """Ingest one session into the run's database `target` (resolved once per run); raises
    DayIncomplete (with its report) so Prefect retries the rest."""
    # What an earlier attempt wrote, this one finds complete: the day's report combines them.
    attempt_key = str(prefect_task_run.id)
    earlier = take_earlier(attempt_key)
    database = ReconnectingConnection(target)
    try:
        report = run_ingest_day(session, request, database=database, provider=provider_for(request))
    finally:
        database.close()
    if earlier is not None:
        report = combine_attempts(earlier, report)
    if report.status in (DayStatus.FAILED, DayStatus.PARTIAL):
        remember(attempt_key, report)
        raise DayIncomplete(report)
    return report
