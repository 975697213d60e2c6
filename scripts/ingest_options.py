"""`python -m scripts.ingest_options`: the ingest command line, a thin front over the Prefect flows.

One session (`--as-of`, default the latest completed) runs `ingest_options`; a range
(`--start-date`/`--end-date`) runs `backfill_options`. The flags are checked here, the run's settings
once in `build_ingest_request`, and the run is opened before Prefect starts, so a bad setup is one
line (exit 2) and costs no server start-up; the flow then adopts that opened run.

The parser is built from light modules only: Prefect, pandas, numpy and psycopg2 are imported after
the flags are parsed, so `--help` and a usage error answer at once.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from markets.calendar import DEFAULT_CALENDAR
from scripts.cli import (
    EXIT_ALL_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNUSABLE,
    LOG_LEVELS,
    configure_logging,
    date_flag,
    log_level,
    non_negative_int_flag,
    positive_int_flag,
    symbols_flag,
    timestamp_flag,
)
from settings.environment import command_line_overrides
from settings.errors import SetupError
from settings.output import error_line
from tasks.request import DEFAULT_LARGE_SYMBOLS


def build_parser(prog: str, range_only: bool = False) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Ingest option-chain snapshots for one session or backfill a range of sessions.",
    )
    if not range_only:
        parser.add_argument("--as-of", type=date_flag, help="one session (YYYY-MM-DD); default: latest completed")
    parser.add_argument("--start-date", type=date_flag, help="first day of a range (needs --end-date)")
    parser.add_argument("--end-date", type=date_flag, help="last day of a range, inclusive (needs --start-date)")
    if not range_only:
        parser.add_argument(
            "--snapshot-time", type=timestamp_flag, help="override the snapshot identity (single-day mode only)"
        )
    parser.add_argument(
        "--provider",
        help="chain source: unicorn, polygon or synthetic (default: synthetic on the embedded database, "
        "unicorn on a named one)",
    )
    parser.add_argument("--concurrency", type=positive_int_flag, default=4, help="symbols fetched at once")
    parser.add_argument("--symbols", type=symbols_flag, help="comma-separated subset of the active watchlist")
    parser.add_argument(
        "--large-symbols",
        type=symbols_flag,
        default=DEFAULT_LARGE_SYMBOLS,
        help="symbols fetched one at a time with a longer timeout (default: %(default)s)",
    )
    parser.add_argument("--heartbeat", type=positive_int_flag, default=25, help="log progress every N symbols")
    parser.add_argument(
        "--calendar", default=DEFAULT_CALENDAR, help="XNYS (default), weekdays, or any pandas-market-calendars name"
    )
    parser.add_argument("--max-parallel-days", type=positive_int_flag, default=1, help="days ingested at once")
    parser.add_argument("--max-requests-per-minute", type=positive_int_flag, help="provider request budget")
    parser.add_argument(
        "--day-retries", type=non_negative_int_flag, default=2, help="retries of a failed or partial day"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the plan and its estimated requests; fetch and write nothing"
    )
    parser.add_argument(
        "--replace",
        action="store_true",
        help="rewrite symbol-days another real provider wrote (they are kept and reported otherwise; "
        "simulated ones are always replaced by a real provider)",
    )
    parser.add_argument(
        "--day-by-day",
        action="store_true",
        help="ask the provider for every session on its own (default: a range is fetched by symbol window "
        "where the provider can)",
    )
    parser.add_argument("--log-level", default="INFO", choices=LOG_LEVELS)
    compatibility = parser.add_argument_group(
        "compatibility",
        "flags of the trading system's scripts/ingest_options.py, kept with the same meaning so its cron "
        "commands run unchanged",
    )
    compatibility.add_argument("--db-url", help="the database (overrides DATABASE_URL; its password is never shown)")
    compatibility.add_argument("--api-key", help="the provider's API key (overrides its variable; never logged)")
    compatibility.add_argument("--verbose", action="store_true", help="DEBUG logging")
    compatibility.add_argument("--quiet", action="store_true", help="WARNING logging (unless DEBUG is asked for)")
    compatibility.add_argument(
        "--run-id", help="a label carried into the flow run's name and tags, every log line and the summary"
    )
    compatibility.add_argument(
        "--emit-summary", action="store_true", help="print one JSON line per day and one for the run on stdout"
    )
    return parser


def parse_args(argv: Sequence[str], prog: str, range_only: bool = False) -> argparse.Namespace:
    """Parse and check how the flags combine (usage errors, exit 2)."""
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
    return args


def flow_parameters(args: argparse.Namespace) -> dict[str, object]:
    """The flow's parameters for these flags (the flow validates them as it would a deployment's)."""
    parameters: dict[str, object] = {
        "provider": args.provider,
        "concurrency": args.concurrency,
        "symbols": list(args.symbols) if args.symbols else None,
        "large_symbols": list(args.large_symbols),
        "calendar": args.calendar,
        "dry_run": args.dry_run,
        "heartbeat": args.heartbeat,
        "max_requests_per_minute": args.max_requests_per_minute,
        "day_retries": args.day_retries,
        "run_id": args.run_id,
        "emit_summary": args.emit_summary,
        "replace": args.replace,
    }
    if args.start_date is not None:
        return {
            **parameters,
            "start_date": args.start_date,
            "end_date": args.end_date,
            "max_parallel_days": args.max_parallel_days,
            "fetch_by_window": not args.day_by_day,
        }
    return {**parameters, "as_of": args.as_of, "snapshot_time": args.snapshot_time}


def main(
    argv: Sequence[str] | None = None, *, prog: str = "python -m scripts.ingest_options", range_only: bool = False
) -> int:
    args = parse_args(list(sys.argv[1:] if argv is None else argv), prog, range_only)
    from prefect import tags

    from flows.backfill import backfill_options
    from flows.ingest import ingest_options
    from flows.run import preopen_run
    from scripts.lifetime import run_flow
    from tasks.request import build_ingest_request

    configure_logging(log_level(args.log_level, verbose=args.verbose, quiet=args.quiet))
    parameters = flow_parameters(args)
    # --db-url and --api-key stand for their variables in this process: the flow reads them from
    # there, so they never become flow parameters (which Prefect stores and shows).
    with command_line_overrides(database_url=args.db_url, api_key=args.api_key):
        try:
            preopen_run(build_ingest_request(**parameters))
        except SetupError as exc:
            print(error_line(exc), file=sys.stderr)
            return EXIT_UNUSABLE
        except KeyboardInterrupt:  # Ctrl-C while the run was being opened: nothing was written yet
            print("interrupted: before the run started; nothing was written", file=sys.stderr)
            return EXIT_INTERRUPTED
        flow = backfill_options if args.start_date is not None else ingest_options
        with tags(*([f"run-id:{args.run_id}"] if args.run_id else [])):
            state = run_flow(flow, parameters)
    return exit_code(state.result(raise_on_failure=False))


def exit_code(outcome: object) -> int:
    """The exit code (and the last line printed) for what the flow returned or raised."""
    from flows.reporting import RunSummary
    from flows.run import AllDaysFailed

    if isinstance(outcome, RunSummary):
        print(outcome.line())
        return EXIT_OK
    if isinstance(outcome, AllDaysFailed):
        print(outcome.summary.line())
        return EXIT_ALL_FAILED
    if isinstance(outcome, SetupError):
        print(error_line(outcome), file=sys.stderr)
        return EXIT_UNUSABLE
    logging.getLogger("kapman.cli").error("run failed: %s", outcome)
    return EXIT_ALL_FAILED


if __name__ == "__main__":
    sys.exit(main())
