"""Speed of the simulated market: `SyntheticProvider.fetch_chain` per symbol-day, warm and cold.

Run `python bench/synthetic_provider.py [--rounds 3]`; prints one line of figures. Each round
generates 10 symbols × 10 sessions (the realistic default chains: thousands of contracts for the
index ETFs); the baseline measured in the same round is building the same number of `OptionQuote`
records from plain tuples, so the ratio says what the market model itself costs beyond the records
every provider must produce (the machine is shared: compare ratios). `cold_s` is a fresh process's
first chain (imports, the exchange calendar, the symbol's simulated history), also once per round.
Rounds interleave model, baseline and cold start; medians and spreads (max − min) are printed.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from _common import figures, quiet_logs

from providers.base import OptionQuote
from providers.synthetic import SyntheticProvider

SYMBOLS = ("SPY", "QQQ", "IWM", "AAPL", "MSFT", "NVDA", "TSLA", "AMZN", "META", "GOOGL")
AFTER_THE_FACT = datetime(2026, 6, 1, tzinfo=UTC)
REPO_ROOT = Path(__file__).resolve().parents[1]
COLD_START = (
    "import time\n"
    "started = time.perf_counter()\n"
    "from datetime import UTC, date, datetime\n"
    "from providers.synthetic import SyntheticProvider\n"
    "SyntheticProvider(now=lambda: datetime(2026, 6, 1, tzinfo=UTC)).fetch_chain('SPY', date(2025, 11, 3))\n"
    "print(time.perf_counter() - started)\n"
)


def sessions(count: int) -> list[date]:
    days, day = [], date(2025, 11, 3)
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def model_round(provider: SyntheticProvider) -> tuple[float, int]:
    started = time.perf_counter()
    quotes = sum(len(provider.fetch_chain(symbol, day).quotes) for symbol in SYMBOLS for day in sessions(10))
    return time.perf_counter() - started, quotes


def baseline_round(quotes: int) -> float:
    started = time.perf_counter()
    expiry, strike = date(2026, 1, 16), 100
    for number in range(quotes):
        OptionQuote(expiry, strike + number % 200, "C", 1.0, 1.1, 1.05, 10, 100, 0.2, 0.5, 0.01, -0.05, 0.1)
    return time.perf_counter() - started


def cold_round() -> float:
    result = subprocess.run(
        [sys.executable, "-c", COLD_START], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    return float(result.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    quiet_logs()
    provider = SyntheticProvider(now=lambda: AFTER_THE_FACT)
    model_round(provider)  # warm: every symbol's history and the listing rules, as in a long run
    model, ratios, cold, quotes = [], [], [], 0
    for _ in range(max(3, args.rounds)):  # interleaved: model, baseline, cold start, each round
        seconds, quotes = model_round(provider)
        baseline = baseline_round(quotes)
        model.append(seconds / (len(SYMBOLS) * 10) * 1000)
        ratios.append(seconds / baseline)
        cold.append(cold_round())
    print(
        figures(
            "synthetic_provider",
            symbol_days=len(SYMBOLS) * 10,
            contracts_per_symbol_day=round(quotes / (len(SYMBOLS) * 10)),
            ms_per_symbol_day_median=round(statistics.median(model), 2),
            ms_per_symbol_day_spread=round(max(model) - min(model), 2),
            ratio_to_records_median=round(statistics.median(ratios), 2),
            ratio_to_records_spread=round(max(ratios) - min(ratios), 2),
            cold_s_median=round(statistics.median(cold), 2),
            cold_s_spread=round(max(cold) - min(cold), 2),
            rounds=len(model),
        )
    )


if __name__ == "__main__":
    main()
