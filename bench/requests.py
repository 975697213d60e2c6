"""Requests a backfill costs against the loopback Massive fake: day by day, by window, and the floor.

Run `python bench/requests.py [--symbols 8] [--contracts 400] [--rounds 3]`; prints one line of
figures. A 10-session backfill (2025-12-09 … 2025-12-22) of N symbols runs through the real flow,
`flows.backfill.backfill_options`, into fresh databases on a throw-away embedded PostgreSQL, once
day by day (`fetch_by_window=False`) and once by window, interleaved, `--rounds` times. `floor` is
the fewest requests the data needs: for each symbol, its analytics and its open interest at the
largest page size (49,999 rows) and one range aggregate for its closes.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
from datetime import date

from _common import BENCH_DIR, embedded_server, figures, isolate_environment, quiet_logs

# This file is bench/requests.py: with bench/ first on sys.path, `import requests` (the HTTP library
# every provider uses) would import this script again. _common is loaded; bench/ can go.
sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or ".") != str(BENCH_DIR)]

START, END = date(2025, 12, 9), date(2025, 12, 22)
PAGE_ROWS = 49_999


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--symbols", type=int, default=8)
    parser.add_argument("--contracts", type=int, default=400, help="per symbol")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    isolate_environment()
    quiet_logs()

    from prefect.testing.utilities import prefect_test_harness

    from flows.backfill import backfill_options
    from markets.calendar import get_calendar
    from providers.registry import unregister_provider
    from store.connection import DatabaseTarget, connect
    from store.watchlist import load_symbols
    from tests.fakes.massive import ChainSpec, FakeMassive

    symbols = [f"Q{chr(ord('A') + number // 26)}{chr(ord('A') + number % 26)}" for number in range(args.symbols)]
    sessions = len(get_calendar("XNYS").sessions(START, END))
    symbol_days = len(symbols) * sessions
    per_day: list[float] = []
    by_window: list[float] = []
    with (
        embedded_server() as server,
        prefect_test_harness(server_startup_timeout=120),
        FakeMassive() as fake,
    ):
        for symbol in symbols:
            fake.add_chain(ChainSpec(symbol, contracts=args.contracts))
        os.environ.update(
            {
                "POLYGON_BASE_URL": fake.base_url,
                "POLYGON_API_KEY": fake.api_key,
                "KAPMAN_MAX_REQUESTS_PER_MINUTE": "60000",
            }
        )
        for round_number in range(max(3, args.rounds)):
            for window, figures_of in ((False, per_day), (True, by_window)):
                url = server.create_database(f"bench_requests_{round_number}_{int(window)}")
                os.environ["DATABASE_URL"] = url
                connection = connect(DatabaseTarget(url=url, embedded=False))
                load_symbols(connection, symbols, source="bench")
                connection.close()
                unregister_provider("polygon")  # a fresh instance reads this fake's address
                fake.clear_requests()
                summary = backfill_options(
                    start_date=START, end_date=END, provider="polygon", concurrency=4, large_symbols=[],
                    day_retries=0, fetch_by_window=window,
                )  # fmt: skip
                assert summary.days_succeeded == sessions, summary.line()
                figures_of.append(len(fake.requests) / symbol_days)
    rows = args.contracts * sessions
    floor = len(symbols) * (2 * math.ceil(rows / PAGE_ROWS) + 1) / symbol_days
    window, daily = statistics.median(by_window), statistics.median(per_day)
    print(
        figures(
            "requests",
            symbols=len(symbols),
            sessions=sessions,
            contracts_per_symbol=args.contracts,
            rounds=len(by_window),
            per_day_requests_per_symbol_day=round(daily, 3),
            per_day_spread=round(max(per_day) - min(per_day), 3),
            window_requests_per_symbol_day=round(window, 3),
            window_spread=round(max(by_window) - min(by_window), 3),
            floor_requests_per_symbol_day=round(floor, 3),
            window_to_per_day=round(window / daily, 3),
            window_to_floor=round(window / floor, 3),
        )
    )


if __name__ == "__main__":
    main()
