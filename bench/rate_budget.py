"""How much of its request budget an ingest uses against a rate-limited API, and how many 429s.

Run `python bench/rate_budget.py [--budget 600] [--window 5] [--symbols 7] [--sessions 2]` from the
repository root; prints one line of figures.

The loopback fake of the Massive API (`tests.fakes.massive.FakeMassive`) answers 429 to a request
when the budget's worth of requests was already accepted within the last `--window` seconds. The
ingest is the product's: `tasks.ingest_day.run_ingest_day` per session (what the Prefect task runs)
with the `polygon` provider built from POLYGON_API_KEY / POLYGON_BASE_URL (pointed at the fake) and
`max_requests_per_minute=--budget`. Each symbol-day is a past session served by the daily-history
endpoints, paged small so one fetch is ~20 requests.

Time is scaled so the run stays under a minute. A real plan allows `budget` requests per 60 s and
the client's token bucket may burst one second's worth (budget/60) on top of its steady rate; here
the fake allows the same rate over a `window`-second sliding window (budget x window/60 requests),
so the client's burst is scaled by the same window/60 (at least 1) to keep the same proportion of
the window's allowance. Everything else (pacing, Retry-After handling, retries) is the product's.
At least 3 rounds run back to back, each with a fresh fake and database; figures are medians with
their spread (min..max).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (  # noqa: E402
    BENCH_DIR,
    MIN_ROUNDS,
    BenchServer,
    embedded_server,
    figures,
    isolate_environment,
    median_and_spread,
    quiet_logs,
)

# bench/ is first on sys.path when this runs as a script, and bench/requests.py would shadow the HTTP
# library every provider imports; _common is loaded, so bench/ can go.
sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or ".") != str(BENCH_DIR)]

FIRST_SESSION = date(2025, 12, 15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=600, help="requests per minute (client and fake)")
    parser.add_argument("--window", type=float, default=5.0, help="the fake's sliding window, seconds")
    parser.add_argument("--symbols", type=int, default=7)
    parser.add_argument("--sessions", type=int, default=2)
    parser.add_argument("--contracts", type=int, default=500, help="per symbol")
    parser.add_argument("--page", type=int, default=50, help="history rows per page")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=MIN_ROUNDS, help=f"at least {MIN_ROUNDS}")
    args = parser.parse_args()
    isolate_environment()
    quiet_logs()

    from markets.calendar import get_calendar
    from providers.base import ProviderSettings
    from providers.http import HttpSettings
    from providers.polygon import PolygonProvider
    from providers.registry import get_provider, register_provider, unregister_provider
    from store.connection import DatabaseTarget, ReconnectingConnection, connect
    from store.watchlist import load_symbols
    from tasks.ingest_day import run_ingest_day
    from tasks.request import build_ingest_request
    from tests.fakes.massive import ChainSpec, FakeMassive

    window_allowance = round(args.budget * args.window / 60)
    burst = max(1, round(args.budget / 60 * args.window / 60))
    symbols = [f"Q{chr(ord('A') + number // 26)}{chr(ord('A') + number % 26)}" for number in range(args.symbols)]
    sessions = get_calendar("XNYS").sessions(FIRST_SESSION, FIRST_SESSION + timedelta(days=3 * args.sessions + 7))
    sessions = sessions[: args.sessions]

    def polygon_with_scaled_burst(settings: ProviderSettings) -> PolygonProvider:
        return PolygonProvider.from_settings(settings, http_settings=replace(HttpSettings(), burst=burst))

    def one_round(server: BenchServer, round_number: int) -> dict[str, float]:
        with FakeMassive(published_through=sessions[-1], history_page_cap=args.page) as fake:
            return measured(fake, server.create_database(f"bench_rate_{round_number}"))

    def measured(fake: FakeMassive, url: str) -> dict[str, float]:
        """One ingest of every symbol-day against `fake`, into the database at `url`."""
        os.environ.update({"DATABASE_URL": url, "POLYGON_BASE_URL": fake.base_url, "POLYGON_API_KEY": fake.api_key})
        target = DatabaseTarget(url=url, embedded=False)
        connection = connect(target)
        load_symbols(connection, symbols, source="bench")
        connection.close()
        for symbol in symbols:
            fake.add_chain(ChainSpec(symbol, contracts=args.contracts, underlying_price=100.0))
        register_provider("polygon", polygon_with_scaled_burst)
        fake.enforce_rate_limit(window_allowance, per_seconds=args.window, retry_after="1")
        request = build_ingest_request(
            start_date=sessions[0],
            end_date=sessions[-1],
            provider="polygon",
            concurrency=args.concurrency,
            large_symbols=(),
            max_requests_per_minute=args.budget,
        )
        provider = get_provider("polygon", request.provider_settings())
        database = ReconnectingConnection(target)
        started = time.monotonic()
        reports = [run_ingest_day(session, request, database=database, provider=provider) for session in sessions]
        seconds = time.monotonic() - started
        database.close()
        unregister_provider("polygon")

        received = sorted(request.received_at for request in fake.requests)
        busiest = fake.max_requests_in_window(args.window)
        rate_limited = fake.rate_limited

        span = received[-1] - received[0]
        return {
            "requests": len(received),
            "responses_429": rate_limited,
            "request_span_s": span,
            "achieved_per_min": (len(received) - 1) / span * 60 if span > 0 else 0.0,
            "busiest_window": busiest,
            "symbol_days_ok": sum(report.symbols_written for report in reports),
            "run_s": seconds,
        }

    with embedded_server() as server:
        rounds = [one_round(server, number) for number in range(max(MIN_ROUNDS, args.rounds))]

    values: dict[str, object] = {
        "budget_per_min": args.budget,
        "window_s": args.window,
        "window_allowance": window_allowance,
        "burst": burst,
        "rounds": len(rounds),
        "symbol_days": len(symbols) * len(sessions),
        "responses_429_max": max(round_["responses_429"] for round_ in rounds),
    }
    series = {
        "requests": 0,
        "achieved_per_min": 1,
        "busiest_window": 0,
        "symbol_days_ok": 0,
        "request_span_s": 2,
        "run_s": 2,
    }
    for name, digits in series.items():
        values[f"{name}_median"], values[f"{name}_spread"] = median_and_spread(
            [round_[name] for round_ in rounds], digits
        )
    fractions = [round_["achieved_per_min"] / args.budget for round_ in rounds]
    values["fraction_of_budget_median"], values["fraction_of_budget_spread"] = median_and_spread(fractions, 3)
    print(figures("rate_budget", **values))


if __name__ == "__main__":
    main()
