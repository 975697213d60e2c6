"""The README's main command: a 14-day backfill on the embedded defaults, then dealer metrics.

Everything it writes goes to the embedded PostgreSQL and is labelled SIMULATED (synthetic
provider). Run it twice: the second run finds every symbol-day complete and writes zero rows.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

from markets.snapshot import daily_snapshot_time
from scripts.dealer_metrics import main as dealer_main
from scripts.ingest_options import main as ingest_main
from settings.environment import read_environment
from settings.errors import SetupError
from settings.output import error_line

if TYPE_CHECKING:
    from store.connection import DatabaseTarget

DEMO_WATCHLIST = "demo"
DEMO_SYMBOLS = ("SPY", "QQQ", "IWM", "AAPL", "MSFT", "NVDA", "TSLA", "AMZN")
BACKFILL_START, BACKFILL_END = "2025-12-09", "2025-12-22"
# Dealer history needs the 5 prior sessions: inside this window that holds from 2025-12-16 on.
METRICS_START, LOOKBACK_SESSIONS = "2025-12-16", 5


def seed_demo_watchlist(target: DatabaseTarget) -> None:
    """The demo universe, added only when no watchlist exists yet (a user's own is left alone)."""
    from store.connection import connect
    from store.migrations import migrate
    from store.watchlist import active_symbols, load_symbols

    connection = connect(target)
    try:
        migrate(connection)
        if not active_symbols(connection):
            load_symbols(connection, DEMO_SYMBOLS, watchlist_id=DEMO_WATCHLIST, source="demo")
            print(f"demo watchlist seeded: {' '.join(DEMO_SYMBOLS)}")
    finally:
        connection.close()


def print_metrics(target: DatabaseTarget, session: date) -> None:
    from store.connection import connect
    from store.dealer_rows import read_dealer_metrics

    connection = connect(target)
    try:
        metrics = read_dealer_metrics(connection, daily_snapshot_time(session))
    finally:
        connection.close()
    models = ", ".join(sorted({row["model_version"] for row in metrics.values()})) or "-"
    print(f"\nDealer metrics for {session.isoformat()} (SIMULATED data, model {models})")
    header = f"{'symbol':<7}{'status':<9}{'history':<17}{'spot':>10}{'gex_net $/1%':>16}{'gamma_flip':>12}"
    print(header + f"{'dgpi':>8}  {'position':<12}{'call wall':>10}{'put wall':>10}")
    for symbol, row in metrics.items():

        def number(value: float | None, spec: str) -> str:
            return "-" if value is None else format(value, spec)

        call_wall = row["call_walls"][0]["strike"] if row["call_walls"] else None
        put_wall = row["put_walls"][0]["strike"] if row["put_walls"] else None
        print(
            f"{symbol:<7}{row['status']:<9}{row['history_status']:<17}{number(row['spot'], ',.2f'):>10}"
            f"{number(row['gex_net'], ',.0f'):>16}{number(row['gamma_flip'], ',.2f'):>12}"
            f"{number(row['dgpi'], '.1f'):>8}  {row['position'] or '-':<12}"
            f"{number(call_wall, 'g'):>10}{number(put_wall, 'g'):>10}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    argparse.ArgumentParser(prog="python -m scripts.demo", description=__doc__.split("\n\n")[0]).parse_args(argv)
    from store.connection import resolve_target

    try:
        environment = read_environment()
        if environment.database_url:
            print(
                "error: the demo writes SIMULATED data and runs only on the embedded database: unset DATABASE_URL",
                file=sys.stderr,
            )
            return 2
        target = resolve_target(None, environment.pgdata)
        seed_demo_watchlist(target)
    except SetupError as exc:
        print(error_line(exc), file=sys.stderr)
        return 2
    code = ingest_main(
        ["--provider", "synthetic", "--start-date", BACKFILL_START, "--end-date", BACKFILL_END, "--concurrency", "4"],
        prog="python -m scripts.ingest_options",
    )
    if code != 0:
        return code
    code = dealer_main(
        ["--start-date", METRICS_START, "--end-date", BACKFILL_END, "--lookback-sessions", str(LOOKBACK_SESSIONS)]
    )
    print_metrics(target, date.fromisoformat(BACKFILL_END))
    print_where_the_runs_are()
    return code


def print_where_the_runs_are() -> None:
    """The last lines: where to look at the runs, and how to stop what keeps running."""
    from prefect.settings import PREFECT_UI_URL

    ui_url = PREFECT_UI_URL.value()
    if ui_url:
        print(f"\nPrefect UI: {ui_url} (every run above: logs, artifacts, the coverage map)")
    print("The embedded PostgreSQL and the local Prefect server keep running: python -m store stop")


if __name__ == "__main__":
    sys.exit(main())
