"""A re-run of a fully ingested range: decided from the ledger, no provider call.

Run `python bench/rerun.py [--symbols 50] [--start 2025-12-09] [--end 2025-12-22]` from the repository
root; prints one line of figures.

A fresh embedded PostgreSQL with a watchlist of synthetic symbols; the range (10 NYSE sessions by
default) is backfilled through the real flow, `flows.backfill.backfill_options`, on a temporary
Prefect API, with a provider that counts `fetch_chain` calls around the synthetic one; then the same
call again. Both timings are of the flow call alone: the temporary Prefect server is started, and a
trivial flow run, before the first timed call (`prefect_startup_excluded=true` in the output).

Two ratios: `ratio` of the wall times of the two calls, and `ratio_run_time` of the flow runs'
`total_run_time` as Prefect records it (Running to Completed: the flow's own work). The difference
is the engine's fixed cost per flow run: creating the run, and at the end joining its heartbeat
thread, which sleeps in 1-second steps (Prefect 3.9), so every flow call ends up to 1 s late.
At least 3 rounds run, each on a fresh database (first call, then the re-run); figures are medians
with their spread (min..max), ratios taken within a round.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (  # noqa: E402
    MIN_ROUNDS,
    embedded_server,
    figures,
    isolate_environment,
    median_and_spread,
    quiet_logs,
)

PROVIDER = "bench-counting-synthetic"


class CountingProvider:
    """The synthetic provider, counting every chain it is asked for (thread-safe)."""

    simulated = True

    def __init__(self) -> None:
        from providers.synthetic import SyntheticProvider

        self._inner = SyntheticProvider()
        self.name = PROVIDER
        self._lock = threading.Lock()
        self.calls = 0

    def fetch_chain(self, symbol: str, session: date, *, large: bool = False):  # noqa: ANN201
        with self._lock:
            self.calls += 1
        return self._inner.fetch_chain(symbol, session, large=large)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2025, 12, 9))
    parser.add_argument("--end", type=date.fromisoformat, default=date(2025, 12, 22))
    parser.add_argument("--rounds", type=int, default=MIN_ROUNDS, help=f"at least {MIN_ROUNDS}")
    args = parser.parse_args()
    isolate_environment()
    quiet_logs()

    import os

    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.testing.utilities import prefect_test_harness

    from flows.backfill import backfill_options
    from providers.registry import register_provider, unregister_provider
    from store.connection import DatabaseTarget, connect
    from store.watchlist import load_symbols

    symbols = [f"R{number:03d}" for number in range(args.symbols)]
    provider = CountingProvider()
    register_provider(PROVIDER, lambda settings: provider)

    @flow(name="bench-warm-up")
    def warm_up() -> int:
        return 1

    def backfill():  # noqa: ANN202
        started = time.perf_counter()
        calls_before = provider.calls
        state = backfill_options(
            start_date=args.start, end_date=args.end, provider=PROVIDER, large_symbols=[], day_retries=0,
            return_state=True,
        )  # fmt: skip
        wall = time.perf_counter() - started
        with get_client(sync_client=True) as client:
            run_time = client.read_flow_run(state.state_details.flow_run_id).total_run_time.total_seconds()
        return wall, run_time, provider.calls - calls_before, state.result()

    rounds: list[tuple[tuple, tuple]] = []
    try:
        with embedded_server() as server, prefect_test_harness(server_startup_timeout=120):
            warm_up()
            for round_number in range(max(MIN_ROUNDS, args.rounds)):
                url = server.create_database(f"bench_rerun_{round_number}")
                os.environ["DATABASE_URL"] = url
                connection = connect(DatabaseTarget(url=url, embedded=False))
                load_symbols(connection, symbols, source="bench")
                connection.close()
                rounds.append((backfill(), backfill()))
    finally:
        unregister_provider(PROVIDER)

    (_, _, first_calls, first), (_, _, second_calls, second) = rounds[-1]
    values: dict[str, object] = {
        "sessions": len(first.days),
        "symbols": len(symbols),
        "rounds": len(rounds),
        "first_rows": first.rows_written,
        "first_provider_calls": first_calls,
        "second_rows": second.rows_written,
        "second_provider_calls": max(round_[1][2] for round_ in rounds),
    }
    series = {
        "first_s": ([a[0] for a, _ in rounds], 3),
        "second_s": ([b[0] for _, b in rounds], 3),
        "ratio": ([b[0] / a[0] for a, b in rounds], 4),
        "first_run_time_s": ([a[1] for a, _ in rounds], 3),
        "second_run_time_s": ([b[1] for _, b in rounds], 3),
        "ratio_run_time": ([b[1] / a[1] for a, b in rounds], 4),
    }
    for name, (numbers, digits) in series.items():
        values[f"{name}_median"], values[f"{name}_spread"] = median_and_spread(numbers, digits)
    print(figures("rerun", **values, prefect_startup_excluded="true"))


if __name__ == "__main__":
    main()
