"""The ingest command line: argument rules, logging, and exit codes, over the Prefect flows.

Exit codes: 0 the run finished (some days may have failed: see the summary), 1 every day failed,
2 the run was unusable (bad flags, unknown provider, no watchlist, database unreachable, no key).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from datetime import date, datetime

from markets.calendar import DEFAULT_CALENDAR, UnknownCalendar
from markets.snapshot import parse_session_date, parse_snapshot_time
from markets.symbols import InvalidSymbol, parse_symbol_list
from providers.base import AuthError
from providers.registry import UnknownProvider
from store.connection import DatabaseUnavailable
from tasks.ingest_day import DEFAULT_LARGE_SYMBOLS
from tasks.preflight import InvalidRunConfiguration, prepare_run
from tasks.symbols import NoSymbolsToIngest

EXIT_OK, EXIT_ALL_FAILED, EXIT_UNUSABLE = 0, 1, 2
# Errors that make the whole run unusable; rendered as one line, never a traceback.
SETUP_ERRORS = (
    InvalidRunConfiguration,
    UnknownProvider,
    UnknownCalendar,
    NoSymbolsToIngest,
    DatabaseUnavailable,
    AuthError,
    InvalidSymbol,
)


def _date(text: str) -> date:
    try:
        return parse_session_date(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _timestamp(text: str) -> datetime:
    try:
        return parse_snapshot_time(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {value})")
    return value


def _symbols(text: str) -> tuple[str, ...]:
    try:
        symbols = parse_symbol_list(text)
    except InvalidSymbol as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    if not symbols:
        raise argparse.ArgumentTypeError("no symbol given")
    return symbols


def build_parser(prog: str, range_only: bool = False) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Ingest option-chain snapshots for one session or backfill a range of sessions.",
    )
    if not range_only:
        parser.add_argument("--as-of", type=_date, help="one session (YYYY-MM-DD); default: latest completed")
    parser.add_argument("--start-date", type=_date, help="first day of a range (needs --end-date)")
    parser.add_argument("--end-date", type=_date, help="last day of a range, inclusive (needs --start-date)")
    if not range_only:
        parser.add_argument(
            "--snapshot-time", type=_timestamp, help="override the snapshot identity (single-day mode only)"
        )
    parser.add_argument("--provider", help="chain source: synthetic (embedded default) or polygon")
    parser.add_argument("--concurrency", type=_positive_int, default=4, help="symbols fetched at once")
    parser.add_argument("--symbols", type=_symbols, help="comma-separated subset of the active watchlist")
    parser.add_argument(
        "--large-symbols",
        type=_symbols,
        default=DEFAULT_LARGE_SYMBOLS,
        help="symbols fetched one at a time with a longer timeout (default: %(default)s)",
    )
    parser.add_argument("--heartbeat", type=_positive_int, default=25, help="log progress every N symbols")
    parser.add_argument(
        "--calendar", default=DEFAULT_CALENDAR, help="XNYS (default), weekdays, or any pandas-market-calendars name"
    )
    parser.add_argument("--max-parallel-days", type=_positive_int, default=1, help="days ingested at once")
    parser.add_argument("--max-requests-per-minute", type=_positive_int, help="provider request budget")
    parser.add_argument("--day-retries", type=int, default=2, help="retries of a failed or partial day")
    parser.add_argument("--dry-run", action="store_true", help="print the plan; fetch and write nothing")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def parse_args(argv: Sequence[str], prog: str, range_only: bool = False) -> argparse.Namespace:
    parser = build_parser(prog, range_only)
    args = parser.parse_args(argv)
    as_of = getattr(args, "as_of", None)
    snapshot_time = getattr(args, "snapshot_time", None)
    in_range = args.start_date is not None or args.end_date is not None
    if as_of is not None and in_range:
        parser.error("--as-of cannot be combined with --start-date/--end-date")
    if args.start_date is not None and args.end_date is None:
        parser.error("--start-date needs --end-date")
    if args.end_date is not None and args.start_date is None:
        parser.error("--end-date needs --start-date")
    if range_only and not in_range:
        parser.error("--start-date and --end-date are required")
    if snapshot_time is not None and in_range:
        parser.error("--snapshot-time applies to a single day only, not to a range")
    if in_range and args.end_date < args.start_date:
        parser.error(f"--end-date {args.end_date} is before --start-date {args.start_date}")
    if args.day_retries < 0:
        parser.error("--day-retries must be 0 or more")
    return args


def configure_logging(level: str) -> None:
    """Set our loggers' level; Prefect's console and API handlers (via `extra_loggers` and the root
    logger) print and ship the lines, so the terminal and the UI show the same events."""
    logging.getLogger("kapman").setLevel(level)


def main(argv: Sequence[str] | None = None, *, prog: str = "ingest_options", range_only: bool = False) -> int:
    args = parse_args(list(sys.argv[1:] if argv is None else argv), prog, range_only)
    configure_logging(args.log_level)
    log = logging.getLogger("kapman.cli")
    common = {
        "provider": args.provider,
        "concurrency": args.concurrency,
        "symbols": list(args.symbols) if args.symbols else None,
        "large_symbols": list(args.large_symbols),
        "calendar": args.calendar,
        "dry_run": args.dry_run,
        "heartbeat": args.heartbeat,
        "max_requests_per_minute": args.max_requests_per_minute,
        "day_retries": args.day_retries,
    }
    try:
        _preflight(args)
    except SETUP_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE

    if args.start_date is not None:
        from flows.backfill import backfill_options

        state = backfill_options(
            start_date=args.start_date,
            end_date=args.end_date,
            max_parallel_days=args.max_parallel_days,
            return_state=True,
            **common,
        )
    else:
        from flows.ingest import ingest_options

        state = ingest_options(as_of=args.as_of, snapshot_time=args.snapshot_time, return_state=True, **common)
    return _exit_code(state, log)


def _preflight(args: argparse.Namespace) -> None:
    """The checks the flow repeats, run first so a bad setup costs one line and no Prefect start-up."""
    from markets.calendar import get_calendar

    get_calendar(args.calendar)
    prepare_run(
        [],
        provider=args.provider,
        concurrency=args.concurrency,
        symbols=args.symbols,
        large_symbols=args.large_symbols,
        heartbeat=args.heartbeat,
        max_requests_per_minute=args.max_requests_per_minute,
        max_parallel_days=args.max_parallel_days,
    )


def _exit_code(state, log: logging.Logger) -> int:  # noqa: ANN001 - a Prefect State
    from flows.backfill import AllDaysFailed
    from flows.reporting import BackfillSummary

    outcome = state.result(raise_on_failure=False)
    if isinstance(outcome, BackfillSummary):
        print(outcome.line())
        return EXIT_OK
    if isinstance(outcome, AllDaysFailed):
        print(outcome.summary.line())
        return EXIT_ALL_FAILED
    if isinstance(outcome, SETUP_ERRORS):
        print(f"error: {outcome}", file=sys.stderr)
        return EXIT_UNUSABLE
    log.error("run failed: %s", outcome)
    return EXIT_ALL_FAILED


if __name__ == "__main__":
    sys.exit(main())
