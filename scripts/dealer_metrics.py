"""`python -m scripts.dealer_metrics` (also `python -m flows.dealer_metrics`): dealer metrics for a
session or a range, a thin front over the `dealer_metrics` flow.

Exit codes as for ingest (`scripts.cli`): 0 done, 1 every ticker-day failed, 2 unusable setup.
The flow (Prefect, numpy, psycopg2) is imported after the flags are parsed: `--help` answers at once.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Collection, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from store.connection import DatabaseTarget


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
    parser.add_argument(
        "--chart",
        type=Path,
        metavar="DIR",
        help="also draw each computed ticker-day to DIR/<SYMBOL>-<session>.png (and publish them as artifacts)",
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
        run = preopen_dealer_run(build_dealer_request(**parameters))
    except SetupError as exc:
        print(error_line(exc), file=sys.stderr)
        return EXIT_UNUSABLE
    chart_dir = args.chart.resolve() if args.chart else None
    state = run_flow(dealer_metrics, {**parameters, "chart_dir": str(chart_dir) if chart_dir else None})
    summary = state.result(raise_on_failure=False)
    if isinstance(summary, SetupError):
        print(error_line(summary), file=sys.stderr)
        return EXIT_UNUSABLE
    if not isinstance(summary, DealerSummary):
        logging.getLogger("kapman.cli").error("run failed: %s", summary)
        return EXIT_ALL_FAILED
    print(summary.line())
    if summary.rows:
        last = max(row.session for row in summary.rows)
        print_metrics_table(run.target, last, {row.symbol for row in summary.rows})
    if chart_dir:
        print(f"\nDealer charts: {len(summary.charts)} files in {chart_dir} (<SYMBOL>-<session>.png)")
    return EXIT_ALL_FAILED if summary.ticker_days and summary.errors == summary.ticker_days else EXIT_OK


def print_metrics_table(target: DatabaseTarget, session: date, symbols: Collection[str] | None = None) -> None:
    """The stored metrics of `session` (of `symbols`, else every stored ticker) as a table, one line
    per ticker, amounts with thousands separators: what the CLI and the demo end with."""
    from markets.snapshot import daily_snapshot_time
    from store.connection import connect
    from store.dealer_rows import read_dealer_metrics

    connection = connect(target)
    try:
        metrics = read_dealer_metrics(connection, daily_snapshot_time(session))
    finally:
        connection.close()
    metrics = {symbol: row for symbol, row in metrics.items() if symbols is None or symbol in symbols}
    models = ", ".join(sorted({row["model_version"] for row in metrics.values()})) or "-"
    simulated = "SIMULATED data, " if any(row.get("simulated") for row in metrics.values()) else ""
    print(f"\nDealer metrics for {session.isoformat()} ({simulated}model {models})")
    header = f"{'symbol':<7}{'status':<9}{'history':<17}{'spot':>10}{'gex_net $/1%':>18}{'gamma_flip':>12}"
    print(header + f"{'dgpi':>8}  {'position':<12}{'call wall':>11}{'put wall':>11}")

    def number(value: float | None, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    for symbol, row in metrics.items():
        call_wall = row["call_walls"][0]["strike"] if row.get("call_walls") else None
        put_wall = row["put_walls"][0]["strike"] if row.get("put_walls") else None
        print(
            f"{symbol:<7}{row['status']:<9}{row.get('history_status') or '-':<17}{number(row['spot'], ',.2f'):>10}"
            f"{number(row['gex_net'], ',.0f'):>18}{number(row['gamma_flip'], ',.2f'):>12}"
            f"{number(row['dgpi'], '.1f'):>8}  {row['position'] or '-':<12}"
            f"{number(call_wall, ',.2f'):>11}{number(put_wall, ',.2f'):>11}"
        )


if __name__ == "__main__":
    sys.exit(main())
