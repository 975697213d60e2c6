"""`python -m scripts.dealer_metrics` (also `python -m flows.dealer_metrics`): dealer metrics for a
session or a range, a thin front over the `dealer_metrics` flow.

Exit codes as for ingest (`scripts.cli`): 0 done, 1 every ticker-day failed, 2 unusable setup.
The flow (Prefect, numpy, psycopg2) is imported after the flags are parsed: `--help` answers at once.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from markets.calendar import DEFAULT_CALENDAR
from scripts.cli import (
    EXIT_ALL_FAILED,
    EXIT_OK,
    EXIT_UNUSABLE,
    LOG_LEVELS,
    configure_logging,
    date_flag,
    non_negative_int_flag,
    symbols_flag,
)
from settings.errors import SetupError
from settings.output import error_line


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m flows.dealer_metrics", description="Compute dealer metrics.")
    parser.add_argument("--as-of", type=date_flag)
    parser.add_argument("--start-date", type=date_flag)
    parser.add_argument("--end-date", type=date_flag)
    parser.add_argument("--lookback-sessions", type=non_negative_int_flag, default=5)
    parser.add_argument("--symbols", type=symbols_flag)
    parser.add_argument("--calendar", default=DEFAULT_CALENDAR)
    parser.add_argument(
        "--include-expiring",
        action="store_true",
        help="keep contracts expiring on the session (left out by default: gone at the close)",
    )
    parser.add_argument("--log-level", default="INFO", choices=LOG_LEVELS)
    args = parser.parse_args(argv)
    if args.as_of is not None and (args.start_date is not None or args.end_date is not None):
        parser.error("--as-of cannot be combined with --start-date/--end-date")
    if (args.start_date is None) != (args.end_date is None):
        parser.error("--start-date and --end-date go together")
    if args.start_date is not None and args.end_date < args.start_date:
        parser.error(f"--end-date {args.end_date} is before --start-date {args.start_date}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    from flows.dealer_metrics import DealerSummary, build_dealer_request, dealer_metrics, preopen_dealer_run
    from scripts.lifetime import run_flow

    configure_logging(args.log_level)
    parameters = {
        "as_of": args.as_of,
        "start_date": args.start_date,
        "end_date": args.end_date,
        "lookback_sessions": args.lookback_sessions,
        "symbols": list(args.symbols) if args.symbols else None,
        "calendar": args.calendar,
        "include_expiring": args.include_expiring,
    }
    try:
        preopen_dealer_run(build_dealer_request(**parameters))
    except SetupError as exc:
        print(error_line(exc), file=sys.stderr)
        return EXIT_UNUSABLE
    state = run_flow(dealer_metrics, parameters)
    summary = state.result(raise_on_failure=False)
    if isinstance(summary, SetupError):
        print(error_line(summary), file=sys.stderr)
        return EXIT_UNUSABLE
    if not isinstance(summary, DealerSummary):
        logging.getLogger("kapman.cli").error("run failed: %s", summary)
        return EXIT_ALL_FAILED
    print(summary.line())
    return EXIT_ALL_FAILED if summary.ticker_days and summary.errors == summary.ticker_days else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
