"""Peak memory of a backfill does not grow with the number of sessions.

Run `python bench/memory.py [--symbols 25] [--short 5] [--long 40]` from the repository root; prints
one line of figures.

One fresh embedded PostgreSQL, one fresh database per run, the same synthetic watchlist. Each
backfill (the last `--short` and the last `--long` NYSE sessions up to 2025-12-22) runs in its own
Python process through the real flow, `flows.backfill.backfill_options`, on a temporary Prefect API;
that process reports its own peak resident set (`VmHWM` from /proc/self/status, i.e. the flow-run
process, not the Prefect server or PostgreSQL it talks to). At least 3 rounds run, each a short and a
long backfill (the order flipping per round); figures are medians with their spread (min..max).
"""

from __future__ import annotations

import argparse
import json
import sys
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
    run_child,
)

LAST_SESSION = date(2025, 12, 22)


def peak_rss_kib() -> int:
    """This process's peak resident set size (VmHWM), in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def sessions_ending(last: date, count: int) -> list[date]:
    from datetime import timedelta

    from markets.calendar import get_calendar

    sessions = get_calendar("XNYS").sessions(last - timedelta(days=2 * count + 14), last)
    return sessions[-count:]


def child(sessions: int) -> None:
    """One backfill in this process; prints a JSON line with its figures."""
    quiet_logs()
    from prefect.testing.utilities import prefect_test_harness

    from flows.backfill import backfill_options

    chosen = sessions_ending(LAST_SESSION, sessions)
    before = peak_rss_kib()
    with prefect_test_harness(server_startup_timeout=120):
        summary = backfill_options(
            start_date=chosen[0], end_date=chosen[-1], provider="synthetic", large_symbols=[], day_retries=0
        )
    print(
        json.dumps(
            {
                "sessions": len(summary.days),
                "rows": summary.rows_written,
                "succeeded": summary.days_succeeded,
                "peak_rss_kib": peak_rss_kib(),
                "peak_rss_before_flow_kib": before,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=25)
    parser.add_argument("--short", type=int, default=5)
    parser.add_argument("--long", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=MIN_ROUNDS, help=f"at least {MIN_ROUNDS}, interleaved")
    parser.add_argument("--child", nargs=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(int(args.child[0]))
        return
    isolate_environment()

    from store.connection import DatabaseTarget, connect
    from store.watchlist import load_symbols

    symbols = [f"M{number:03d}" for number in range(args.symbols)]
    results: dict[int, list[dict]] = {args.short: [], args.long: []}
    with embedded_server() as server:
        for round_number in range(max(MIN_ROUNDS, args.rounds)):
            order = (args.short, args.long) if round_number % 2 == 0 else (args.long, args.short)
            for sessions in order:
                url = server.create_database(f"bench_memory_{sessions}_{round_number}")
                connection = connect(DatabaseTarget(url=url, embedded=False))
                load_symbols(connection, symbols, source="bench")
                connection.close()
                results[sessions].append(run_child(__file__, url, [str(sessions)], f"the {sessions}-session backfill"))

    short, long = results[args.short], results[args.long]
    mib = 1024.0
    values: dict[str, object] = {
        "symbols": len(symbols),
        "rounds": len(short),
        "short_sessions": short[0]["sessions"],
        "short_rows": short[0]["rows"],
        "long_sessions": long[0]["sessions"],
        "long_rows": long[0]["rows"],
    }
    series = {
        "short_peak_rss_mib": ([run["peak_rss_kib"] / mib for run in short], 1),
        "long_peak_rss_mib": ([run["peak_rss_kib"] / mib for run in long], 1),
        "growth": ([b["peak_rss_kib"] / a["peak_rss_kib"] - 1 for a, b in zip(short, long, strict=True)], 3),
        "before_flow_mib": ([run["peak_rss_before_flow_kib"] / mib for run in short], 1),
    }
    for name, (numbers, digits) in series.items():
        values[f"{name}_median"], values[f"{name}_spread"] = median_and_spread(numbers, digits)
    print(figures("memory", **values))


if __name__ == "__main__":
    main()
