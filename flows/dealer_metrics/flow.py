"""`dealer_metrics`: dealer positioning metrics per (ticker, session) over stored chains.

python -m flows.dealer_metrics --start-date 2025-12-16 --end-date 2025-12-22
python -m flows.dealer_metrics --as-of 2025-12-22 --lookback-sessions 5
python -m flows.dealer_metrics --as-of 2025-12-19 --include-expiring
python -m flows.dealer_metrics --as-of 2025-12-22 --chart .kapman/charts/dealer
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path

from prefect import flow, unmapped
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.runtime import flow_run

from charts.dealer import DrawnChart, write_dealer_charts
from charts.files import markdown_image
from flows.opened import OpenOnce
from flows.params import AtLeastZero, CalendarName, OptionalSessionDate, Symbols
from markets.calendar import DEFAULT_CALENDAR, get_calendar, latest_completed_session
from markets.snapshot import daily_snapshot_time
from markets.symbols import normalize_symbols
from settings.environment import read_environment
from settings.errors import SetupError
from store.connection import DatabaseTarget, connect, refusing_setup, resolve_target
from store.migrations import migrate
from store.watchlist import active_symbols
from tasks.dealer_metrics import HistoryStatus, TickerDayMetrics, TickerDayStatus, compute_dealer_metrics
from tasks.request import InvalidRunConfiguration

logger = logging.getLogger("kapman.dealer")

# Charts shown inline in the Prefect UI per run: the last session's, one artifact per ticker, at
# most this many (each carries its PNG, about 70 KB, as base64). Every chart file of the run, of
# every session, is listed by path in one index artifact instead: a year-long range adds rows of
# text to the Prefect database, not pictures.
MAX_INLINE_CHARTS = 10


class NothingToCompute(SetupError, ValueError):
    """No ticker was named and the watchlist is empty."""


@dataclass(frozen=True)
class DealerRequest:
    """Every setting of one dealer-metrics run, validated."""

    sessions: tuple[date, ...]
    symbols: tuple[str, ...] | None
    lookback_sessions: int
    calendar: str
    database_url: str | None = field(default=None, repr=False)
    # Keep contracts expiring on the session (by default they are left out: gone at the close).
    include_expiring: bool = False
    pgdata: Path | None = None


@dataclass(frozen=True)
class DealerRun:
    """An opened dealer-metrics run: where it reads and writes, and which tickers."""

    request: DealerRequest
    target: DatabaseTarget
    tickers: tuple[str, ...]


@dataclass(frozen=True)
class DealerSummary:
    ticker_days: int
    full: int
    limited: int
    invalid: int
    errors: int
    missing_history: int
    rows: tuple[TickerDayMetrics, ...]
    # Chart files written by this run (`chart_dir`), in session then symbol order.
    charts: tuple[Path, ...] = ()

    def line(self) -> str:
        return (
            f"DEALER SUMMARY ticker_days={self.ticker_days} FULL={self.full} LIMITED={self.limited} "
            f"INVALID={self.invalid} ERROR={self.errors} MISSING_HISTORY={self.missing_history}"
        )


def build_dealer_request(
    *,
    as_of: date | None = None,
    start_date: date | None = None,
    end_date: date | None = None,
    lookback_sessions: int = 5,
    symbols: list[str] | tuple[str, ...] | None = None,
    calendar: str = DEFAULT_CALENDAR,
    now: datetime | None = None,
    include_expiring: bool = False,
) -> DealerRequest:
    """Validate one dealer run's settings; raises a `SetupError` with a one-line message."""
    environment = read_environment()
    trading_calendar = get_calendar(calendar)
    if as_of is not None and (start_date is not None or end_date is not None):
        raise InvalidRunConfiguration("as_of cannot be combined with start_date/end_date")
    if (start_date is None) != (end_date is None):
        raise InvalidRunConfiguration("start_date and end_date go together")
    if lookback_sessions < 0:
        raise InvalidRunConfiguration(f"lookback_sessions must be 0 or more (got {lookback_sessions})")
    if start_date is not None and end_date is not None:
        if end_date < start_date:
            raise InvalidRunConfiguration(
                f"end date {end_date.isoformat()} is before start date {start_date.isoformat()}"
            )
        sessions = trading_calendar.sessions(start_date, end_date)
    elif as_of is not None:
        sessions = trading_calendar.sessions(as_of, as_of)
    else:
        sessions = [latest_completed_session(trading_calendar, now or datetime.now(UTC))]
    return DealerRequest(
        sessions=tuple(sessions),
        symbols=normalize_symbols(symbols) if symbols else None,
        lookback_sessions=lookback_sessions,
        calendar=calendar,
        database_url=environment.database_url,
        pgdata=environment.pgdata,
        include_expiring=include_expiring,
    )


def _open_dealer_run(request: DealerRequest) -> DealerRun:
    target = resolve_target(request.database_url, request.pgdata)
    connection = connect(target)
    try:
        with refusing_setup(target):
            migrate(connection)
            universe = active_symbols(connection)
    finally:
        connection.close()
    tickers = request.symbols or tuple(universe)
    if not tickers:
        raise NothingToCompute("the watchlist has no active symbols and no --symbols were given")
    return DealerRun(request=request, target=target, tickers=tuple(tickers))


_runs = OpenOnce(_open_dealer_run)


# Plain functions, not `_runs`' bound methods, so the flow's globals pickle by reference.
def preopen_dealer_run(request: DealerRequest) -> DealerRun:
    """Open the run before its flow starts (a front); the flow called next in this process adopts it."""
    return _runs.preopen(request)


def open_dealer_run(request: DealerRequest) -> DealerRun:
    """The run a front opened for this very request, else a newly opened one."""
    return _runs.open(request)


def summarize_metrics(rows: list[TickerDayMetrics]) -> DealerSummary:
    statuses = Counter(row.status for row in rows)
    return DealerSummary(
        ticker_days=len(rows),
        full=statuses[TickerDayStatus.FULL],
        limited=statuses[TickerDayStatus.LIMITED],
        invalid=statuses[TickerDayStatus.INVALID],
        errors=statuses[TickerDayStatus.ERROR],
        missing_history=sum(row.history_status == HistoryStatus.MISSING_HISTORY for row in rows),
        rows=tuple(rows),
    )


def metrics_row(row: TickerDayMetrics) -> dict[str, object]:
    return {
        "symbol": row.symbol,
        "session": row.session.isoformat(),
        "status": str(row.status),
        "reason": row.status_reason,
        "history": str(row.history_status or ""),
        "missing_sessions": ",".join(day.isoformat() for day in row.missing_sessions),
        "gex_net": row.gex_net,
        "gamma_flip": row.gamma_flip,
        "dgpi": row.dgpi,
        "position": row.position or "",
        "error": row.error or "",
    }


def run_name() -> str:
    """`dealer-<first>-<last>` (one session: `dealer-<session>`; none given: the latest completed)."""
    parameters = flow_run.parameters
    first = parameters.get("start_date") or parameters.get("as_of")
    last = parameters.get("end_date") or first
    if first is None:
        first = last = latest_completed_session(get_calendar(parameters.get("calendar") or DEFAULT_CALENDAR))
    return f"dealer-{first}" if first == last else f"dealer-{first}-{last}"


@flow(name="dealer-metrics", flow_run_name=run_name)
def dealer_metrics(
    as_of: OptionalSessionDate = None,
    start_date: OptionalSessionDate = None,
    end_date: OptionalSessionDate = None,
    lookback_sessions: AtLeastZero = 5,
    symbols: Symbols = None,
    calendar: CalendarName = DEFAULT_CALENDAR,
    include_expiring: bool = False,
    chart_dir: str | None = None,
) -> DealerSummary:
    """Compute and store dealer metrics for each ticker-session; a bad ticker never stops the batch.

    With `chart_dir`, each computed ticker-day is also drawn to `<chart_dir>/<SYMBOL>-<session>.png`
    and published (`publish_dealer_charts`); drawing is best effort and never fails the run.
    """
    request = build_dealer_request(
        as_of=as_of,
        start_date=start_date,
        end_date=end_date,
        lookback_sessions=lookback_sessions,
        symbols=symbols,
        calendar=calendar,
        include_expiring=include_expiring,
    )
    run = open_dealer_run(request)
    sessions = list(request.sessions)
    logger.info(
        "DEALER sessions=%d tickers=%d lookback_sessions=%d", len(sessions), len(run.tickers), lookback_sessions
    )
    futures = compute_dealer_metrics.map(
        unmapped(run.target),
        run.tickers,
        unmapped(sessions),
        unmapped(lookback_sessions),
        unmapped(calendar),
        unmapped(include_expiring),
    )
    rows: list[TickerDayMetrics] = []
    for symbol, future in zip(run.tickers, futures, strict=True):
        outcome = future.result(raise_on_failure=False)
        if isinstance(outcome, list):
            rows.extend(outcome)
        else:
            rows.extend(
                TickerDayMetrics(symbol, day, TickerDayStatus.ERROR, "error", None, error=str(outcome))
                for day in sessions
            )
    summary = summarize_metrics(rows)
    create_table_artifact(key="dealer-metrics", table=[metrics_row(row) for row in rows], description=summary.line())
    create_markdown_artifact(
        key="dealer-metrics-summary",
        markdown=(
            "# Dealer metrics\n\n| ticker-days | FULL | LIMITED | INVALID | ERROR | MISSING_HISTORY |\n"
            "|---|---|---|---|---|---|\n"
            f"| {summary.ticker_days} | {summary.full} | {summary.limited} | {summary.invalid} | "
            f"{summary.errors} | {summary.missing_history} |\n"
        ),
    )
    if chart_dir:
        drawn = publish_dealer_charts(run, rows, Path(chart_dir))
        summary = replace(summary, charts=tuple(chart.path for chart in drawn))
    logger.info(summary.line())
    return summary


def artifact_slug(symbol: str) -> str:
    """A symbol as a Prefect artifact key part (lowercase letters, digits and dashes only)."""
    return re.sub(r"[^a-z0-9]+", "-", symbol.lower()).strip("-") or "symbol"


def publish_dealer_charts(run: DealerRun, rows: list[TickerDayMetrics], directory: Path) -> list[DrawnChart]:
    """Draw every computed ticker-day of `rows` (ERROR ones have nothing stored) into `directory`;
    publish the last session's charts inline, one markdown artifact per ticker (`dealer-chart-<symbol>`,
    at most `MAX_INLINE_CHARTS`), and an index of every file (`dealer-charts`). Best effort: a
    failure is logged and the run's result stands."""
    ticker_days = [(row.symbol, row.session) for row in rows if row.status != TickerDayStatus.ERROR]
    try:
        connection = connect(run.target)
        try:
            drawn = write_dealer_charts(connection, ticker_days, daily_snapshot_time, directory)
        finally:
            connection.close()
    except Exception as exc:  # noqa: BLE001 - reported, never a failure of the run
        logger.warning("dealer charts not written: %s", " ".join(str(exc).split())[:200])
        return []
    logger.info("DEALER CHARTS files=%d dir=%s", len(drawn), directory)
    if not drawn:
        return drawn
    last = max(chart.session for chart in drawn)
    inline = [chart for chart in drawn if chart.session == last][:MAX_INLINE_CHARTS]
    for chart in inline:
        title = f"{chart.symbol} {chart.session.isoformat()}"
        create_markdown_artifact(
            key=f"dealer-chart-{artifact_slug(chart.symbol)}",
            markdown=f"# Dealer GEX {title} ({chart.status})\n\n" + markdown_image(chart.path, alt=title),
            description=f"Dealer chart {title}: {chart.path}",
        )
    listing = "\n".join(
        f"| {chart.symbol} | {chart.session.isoformat()} | {chart.status} | `{chart.path}` |" for chart in drawn
    )
    shown = ", ".join(chart.symbol for chart in inline)
    create_markdown_artifact(
        key="dealer-charts",
        markdown=(
            f"# Dealer charts\n\n{len(drawn)} files in `{directory}`; shown inline ({last.isoformat()}): {shown}\n\n"
            f"| symbol | session | status | file |\n|---|---|---|---|\n{listing}\n"
        ),
        description=f"{len(drawn)} dealer charts in {directory}",
    )
    return drawn
