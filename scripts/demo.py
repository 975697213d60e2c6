"""The README's main command: a 14-day backfill on the embedded defaults, then dealer metrics.

Everything it writes goes to the embedded PostgreSQL and is labelled SIMULATED (synthetic
provider). Run it twice: the second run finds every symbol-day complete and writes zero rows.
"""

from __future__ import annotations

import os
import sys

from flows.cli import main as ingest_main
from store.connection import connect, resolve_target
from store.migrations import migrate
from store.watchlist import active_symbols, load_symbols

DEMO_WATCHLIST = "demo"
DEMO_SYMBOLS = ("SPY", "QQQ", "IWM", "AAPL", "MSFT", "NVDA", "TSLA", "AMZN")
START, END = "2025-12-09", "2025-12-22"


def seed_demo_watchlist() -> None:
    """The demo universe, added only when no watchlist exists yet (a user's own is left alone)."""
    connection = connect(resolve_target())
    try:
        migrate(connection)
        if not active_symbols(connection):
            load_symbols(connection, DEMO_SYMBOLS, watchlist_id=DEMO_WATCHLIST, source="demo")
            print(f"demo watchlist seeded: {' '.join(DEMO_SYMBOLS)}")
    finally:
        connection.close()


def main() -> int:
    if os.environ.get("DATABASE_URL"):
        print(
            "error: the demo writes SIMULATED data and runs only on the embedded database: unset DATABASE_URL",
            file=sys.stderr,
        )
        return 2
    seed_demo_watchlist()
    code = ingest_main(
        ["--provider", "synthetic", "--start-date", START, "--end-date", END, "--concurrency", "4"],
        prog="python -m scripts.ingest_options",
    )
    return code


if __name__ == "__main__":
    sys.exit(main())
