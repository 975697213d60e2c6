"""Peak memory of `python -m store export` does not grow with the number of sessions exported.

Run `python bench/export.py [--rows-per-session 20000] [--short 5] [--long 252]` from the repository
root; prints one line of figures per format: the median and spread over at least 3 interleaved rounds.

One fresh embedded PostgreSQL holds `--long` NYSE sessions up to 2025-12-22 (a year by default) of
synthetic chains, `--rows-per-session` rows each (about 2,000 contracts a symbol-day), written
through the store's own write path. Each export (the last `--short` sessions, then all `--long`)
runs `python -m store export` in its own Python process, which reports its peak resident set
(`VmHWM`) and the export's wall time; `growth` is long / short peak - 1.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (  # noqa: E402
    MIN_ROUNDS,
    embedded_server,
    figures,
    isolate_environment,
    median_and_spread,
    run_child,
    synthetic_chains,
)
from bench.memory import LAST_SESSION, peak_rss_kib, sessions_ending  # noqa: E402


def child(argv: list[str]) -> None:
    """One export in this process; prints a JSON line with its peak RSS and wall time."""
    import contextlib
    import io

    from store.__main__ import main as store_main

    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        code = store_main(["export", *argv])
    seconds = time.perf_counter() - started
    print(json.dumps({"code": code, "seconds": seconds, "peak_rss_kib": peak_rss_kib()}))


def fill(database_url: str, sessions: list, rows_per_session: int) -> int:
    """Write `rows_per_session` synthetic chain rows for each session; returns the rows written."""
    from markets.snapshot import snapshot_time_for
    from store.chains import SymbolDayRows, write_symbol_day
    from store.connection import DatabaseTarget, connect
    from store.tickers import ensure_tickers

    chains = synthetic_chains(rows_per_session, sessions[-1])
    connection = connect(DatabaseTarget(url=database_url, embedded=False))
    ids = ensure_tickers(connection, [symbol for symbol, _, _ in chains])
    written = 0
    for session in sessions:
        for symbol, close, rows in chains:
            day = SymbolDayRows(ids[symbol], session, snapshot_time_for(session), "synthetic", close, rows, True)
            written += write_symbol_day(connection, day).rows_written
    connection.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows-per-session", type=int, default=20_000)
    parser.add_argument("--short", type=int, default=5)
    parser.add_argument("--long", type=int, default=252)
    parser.add_argument("--rounds", type=int, default=MIN_ROUNDS, help=f"at least {MIN_ROUNDS}, interleaved")
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child)
        return
    isolate_environment()

    sessions = sessions_ending(LAST_SESSION, args.long)
    results: dict[tuple[str, int], list[dict]] = {}
    with embedded_server() as server, tempfile.TemporaryDirectory(prefix="kapman-bench-export-") as out:
        url = server.create_database("bench_export")
        rows = fill(url, sessions, args.rows_per_session)
        for round_number in range(max(MIN_ROUNDS, args.rounds)):
            # Interleaved (short and long alternate which goes first), so a loaded machine weighs on both.
            counts = (args.short, args.long) if round_number % 2 == 0 else (args.long, args.short)
            for file_format in ("parquet", "csv"):
                for count in counts:
                    window = ["--start-date", str(sessions[-count]), "--end-date", str(sessions[-1])]
                    target = Path(out) / f"{file_format}-{count}-{round_number}"
                    argv = [*window, "--format", file_format, "--out", str(target)]
                    result = run_child(__file__, url, argv, f"the export {argv}")
                    result["bytes"] = sum(path.stat().st_size for path in target.rglob("*") if path.is_file())
                    results.setdefault((file_format, count), []).append(result)
    for file_format in ("parquet", "csv"):
        short, long = results[(file_format, args.short)], results[(file_format, args.long)]
        values: dict[str, object] = {
            "rounds": len(short),
            "rows_per_session": args.rows_per_session,
            "short_sessions": args.short,
            "long_sessions": args.long,
            "long_rows": rows,
            "long_mib_written": round(long[0]["bytes"] / 2**20, 1),
        }
        series = {
            "short_peak_rss_mib": ([run["peak_rss_kib"] / 1024 for run in short], 1),
            "long_peak_rss_mib": ([run["peak_rss_kib"] / 1024 for run in long], 1),
            "growth": ([b["peak_rss_kib"] / a["peak_rss_kib"] - 1 for a, b in zip(short, long, strict=True)], 3),
            "long_rows_per_s": ([rows / run["seconds"] for run in long], 0),
        }
        for name, (measured, digits) in series.items():
            values[f"{name}_median"], values[f"{name}_spread"] = median_and_spread(measured, digits)
        print(figures(f"export_{file_format}", **values))


if __name__ == "__main__":
    main()
