"""Speed of the simulated market: `SyntheticProvider.fetch_chain` per symbol-day.

Run `python bench/synthetic_provider.py [--rounds 3]`; prints one line of figures. Each round
generates 10 symbols × 10 sessions; the baseline measured in the same round is building the same
number of `OptionQuote` records from plain tuples, so the ratio says what the market model itself
costs beyond the records every provider must produce (the machine is shared: compare ratios).
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, date, datetime, timedelta

from _common import figures, quiet_logs

from providers.base import OptionQuote
from providers.synthetic import SyntheticProvider

SYMBOLS = ("SPY", "QQQ", "IWM", "AAPL", "MSFT", "NVDA", "TSLA", "AMZN", "META", "GOOGL")
AFTER_THE_FACT = datetime(2026, 6, 1, tzinfo=UTC)


def sessions(count: int) -> list[date]:
    days, day = [], date(2025, 11, 3)
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def model_round() -> tuple[float, int]:
    provider = SyntheticProvider(now=lambda: AFTER_THE_FACT)
    started = time.perf_counter()
    quotes = sum(len(provider.fetch_chain(symbol, day).quotes) for symbol in SYMBOLS for day in sessions(10))
    return time.perf_counter() - started, quotes


def baseline_round(quotes: int) -> float:
    started = time.perf_counter()
    expiry, strike = date(2026, 1, 16), 100
    for number in range(quotes):
        OptionQuote(expiry, strike + number % 200, "C", 1.0, 1.1, 1.05, 10, 100, 0.2, 0.5, 0.01, -0.05, 0.1)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    quiet_logs()
    model, ratios = [], []
    for _ in range(max(3, args.rounds)):  # interleaved: model then baseline, each round
        seconds, quotes = model_round()
        baseline = baseline_round(quotes)
        model.append(seconds / (len(SYMBOLS) * 10) * 1000)
        ratios.append(seconds / baseline)
    print(
        figures(
            "synthetic_provider",
            symbol_days=len(SYMBOLS) * 10,
            ms_per_symbol_day_median=round(statistics.median(model), 2),
            ms_per_symbol_day_spread=round(max(model) - min(model), 2),
            ratio_to_records_median=round(statistics.median(ratios), 2),
            ratio_to_records_spread=round(max(ratios) - min(ratios), 2),
            rounds=len(model),
        )
    )


if __name__ == "__main__":
    main()
