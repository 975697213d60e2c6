"""`dealer_metrics`: dealer positioning metrics per (ticker, session) over stored chains.

python -m flows.dealer_metrics --start-date 2025-12-16 --end-date 2025-12-22
python -m flows.dealer_metrics --as-of 2025-12-22 --lookback-sessions 5
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from prefect import flow, unmapped
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from markets.calendar import DEFAULT_CALENDAR, UnknownCalendar, get_calendar, latest_completed_session
from markets.symbols import InvalidSymbol, normalize_symbols, parse_symbol_list
from store.connection import DatabaseUnavailable, connect, resolve_target
from store.migrations import migrate
from store.watchlist import active_symbols
from tasks.dealer_metrics import ERROR, MISSING_HISTORY, TickerDayMetrics, compute_dealer_metrics

logger = logging.getLogger("kapman.dealer")


class NothingToCompute(ValueError):
    """No ticker was named and the watchlist is empty."""


@dataclass(frozen=True)
class DealerSummary:
    ticker_days: int
    full: int
    limited: int
    invalid: int
    errors: int
    missing_history: int
    rows: tuple[TickerDayMetrics, ...]

    def line(self) -> str:
        return (
            f"DEALER SUMMARY ticker_days={self.ticker_days} FULL={self.full} LIMITED={self.limited} "
            f"INVALID={self.invalid} ERROR={self.errors} MISSING_HISTORY={self.missing_history}"
        )


def summarize_metrics(rows: list[TickerDayMetrics]) -> DealerSummary:
    statuses = Counter(row.status for row in rows)
    return DealerSummary(
        ticker_days=len(rows),
        full=statuses["FULL"],
        limited=statuses["LIMITED"],
        invalid=statuses["INVALID"],
        errors=statuses[ERROR],
        missing_history=sum(row.history_status == MISSING_HISTORY for row in rows),
        rows=tuple(rows),
    )


def metrics_row(row: TickerDayMetrics) -> dict[str, object]:
    return {
        "symbol": row.symbol,
        "session": row.session.isoformat(),
        "status": row.status,
        "reason": row.status_reason,
        "history": row.history_status or "",
        "missing_sessions": ",".join(day.isoformat() for day in row.missing_sessions),
        "gex_net": row.gex_net,
        "gamma_flip": row.gamma_flip,
        "dgpi": row.dgpi,
        "position": row.position or "",
        "error": row.error or "",
    }


def target_sessions(as_of: date | None, start_date: date | None, end_date: date | None, calendar: str) -> list[date]:
    trading_calendar = get_calendar(calendar)
    if start_date is not None and end_date is not None:
        return trading_calendar.sessions(start_date, end_date)
    if as_of is not None:
        return trading_calendar.sessions(as_of, as_of)
    return [latest_completed_session(trading_calendar)]


def target_symbols(symbols: list[str] | None) -> list[str]:
    if symbols:
        return list(normalize_symbols(symbols))
    connection = connect(resolve_target())
    try:
        migrate(connection)
        universe = active_symbols(connection)
    finally:
        connection.close()
    if not universe:
        raise NothingToCompute("the watchlist has no active symbols and no --symbols were given")
    return universe


@flow(name="dealer-metrics")
def dealer_metrics(
    as_of: date | None = None,
    start_date: date | None = None,
    end_date: date | None = None,
    lookback_sessions: int = 5,
    symbols: list[str] | None = None,
    calendar: str = DEFAULT_CALENDAR,
) -> DealerSummary:
    """Compute and store dealer metrics for each ticker-session; a bad ticker never stops the batch."""
    sessions = target_sessions(as_of, start_date, end_date, calendar)
    tickers = target_symbols(symbols)
    logger.info("DEALER sessions=%d tickers=%d lookback_sessions=%d", len(sessions), len(tickers), lookback_sessions)
    futures = compute_dealer_metrics.map(tickers, unmapped(sessions), unmapped(lookback_sessions), unmapped(calendar))
    rows: list[TickerDayMetrics] = []
    for symbol, future in zip(tickers, futures, strict=True):
        outcome = future.result(raise_on_failure=False)
        if isinstance(outcome, list):
            rows.extend(outcome)
        else:
            rows.extend(TickerDayMetrics(symbol, day, ERROR, "error", None, error=str(outcome)) for day in sessions)
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
    logger.info(summary.line())
    return summary


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date in YYYY-MM-DD form") from exc


def _symbols(text: str) -> tuple[str, ...]:
    try:
        return parse_symbol_list(text)
    except InvalidSymbol as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m flows.dealer_metrics", description="Compute dealer metrics.")
    parser.add_argument("--as-of", type=_date)
    parser.add_argument("--start-date", type=_date)
    parser.add_argument("--end-date", type=_date)
    parser.add_argument("--lookback-sessions", type=int, default=5)
    parser.add_argument("--symbols", type=_symbols)
    parser.add_argument("--calendar", default=DEFAULT_CALENDAR)
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    args = parser.parse_args(argv)
    if args.as_of is not None and (args.start_date is not None or args.end_date is not None):
        parser.error("--as-of cannot be combined with --start-date/--end-date")
    if (args.start_date is None) != (args.end_date is None):
        parser.error("--start-date and --end-date go together")
    if args.start_date is not None and args.end_date < args.start_date:
        parser.error(f"--end-date {args.end_date} is before --start-date {args.start_date}")
    if args.lookback_sessions < 0:
        parser.error("--lookback-sessions must be 0 or more")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    logging.getLogger("kapman").setLevel(args.log_level)
    try:
        get_calendar(args.calendar)
        target_symbols(list(args.symbols) if args.symbols else None)
    except (UnknownCalendar, DatabaseUnavailable, NothingToCompute) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    state = dealer_metrics(
        as_of=args.as_of,
        start_date=args.start_date,
        end_date=args.end_date,
        lookback_sessions=args.lookback_sessions,
        symbols=list(args.symbols) if args.symbols else None,
        calendar=args.calendar,
        return_state=True,
    )
    summary = state.result(raise_on_failure=False)
    if not isinstance(summary, DealerSummary):
        print(f"error: {summary}", file=sys.stderr)
        return 1
    print(summary.line())
    return 1 if summary.ticker_days and summary.errors == summary.ticker_days else 0


if __name__ == "__main__":
    sys.exit(main())
