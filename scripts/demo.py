"""The README's main command: a 14-day backfill on the embedded defaults, then dealer metrics.

Everything it writes goes to the embedded PostgreSQL and is labelled SIMULATED (synthetic
provider). Run it twice: the second run finds every symbol-day complete and writes zero rows.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

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
    # The dealer run prints the last session's metrics table itself.
    code = dealer_main(
        ["--start-date", METRICS_START, "--end-date", BACKFILL_END, "--lookback-sessions", str(LOOKBACK_SESSIONS)]
    )
    chart_dir = draw_last_session(target, date.fromisoformat(BACKFILL_END))
    print_where_the_runs_are(chart_dir)
    return code


def demo_chart_dir() -> Path:
    """`<KAPMAN_CHART_DIR or .kapman/charts>/dealer`, beside the runs' coverage heatmaps."""
    from charts.files import DEFAULT_CHART_DIR

    return (read_environment().chart_dir or DEFAULT_CHART_DIR) / "dealer"


def draw_last_session(target: DatabaseTarget, session: date) -> Path | None:
    """Draw every demo ticker's dealer chart of `session`; best effort (the data is stored either way)."""
    from charts.dealer import write_dealer_charts
    from markets.snapshot import daily_snapshot_time
    from store.connection import connect

    directory = demo_chart_dir()
    try:
        connection = connect(target)
        try:
            drawn = write_dealer_charts(
                connection, [(symbol, session) for symbol in DEMO_SYMBOLS], daily_snapshot_time, directory
            )
        finally:
            connection.close()
    except Exception as exc:  # noqa: BLE001 - reported, the demo's data stands
        print(f"dealer charts not drawn: {' '.join(str(exc).split())[:200]}", file=sys.stderr)
        return None
    return directory if drawn else None


def print_where_the_runs_are(chart_dir: Path | None = None) -> None:
    """The last lines: where to look at the runs and the charts, and how to stop what keeps running."""
    from prefect.settings import PREFECT_UI_URL

    ui_url = PREFECT_UI_URL.value()
    if ui_url:
        print(f"\nPrefect UI: {ui_url} (every run above: logs, artifacts, the coverage map)")
    if chart_dir is not None:
        print(f"Dealer charts of {BACKFILL_END}: {chart_dir} (<SYMBOL>-<session>.png, GEX by strike and profile)")
    print("The embedded PostgreSQL and the local Prefect server keep running: python -m store stop")


if __name__ == "__main__":
    sys.exit(main())
