"""Peak memory of `python -m store export` does not grow with the number of sessions exported.

Run `python bench/export.py [--rows-per-session 20000] [--short 5] [--long 252]` from the repository
root; prints one line of figures per format.

One fresh embedded PostgreSQL holds `--long` NYSE sessions up to 2025-12-22 (a year by default) of
synthetic chains, `--rows-per-session` rows each (about 2,000 contracts a symbol-day), written
through the store's own write path. Each export (the last `--short` sessions, then all `--long`)
runs `python -m store export` in its own Python process, which reports its peak resident set
(`VmHWM`) and the export's wall time; `growth` is long / short peak - 1.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import REPO_ROOT, embedded_server, figures, isolate_environment, synthetic_chains  # noqa: E402
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


def run_child(database_url: str, argv: list[str]) -> dict:
    environment = {**os.environ, "DATABASE_URL": database_url}
    result = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", *argv],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines or json.loads(lines[-1])["code"] != 0:
        raise SystemExit(f"the export {argv} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    return json.loads(lines[-1])


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
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child)
        return
    isolate_environment()

    sessions = sessions_ending(LAST_SESSION, args.long)
    with embedded_server() as server, tempfile.TemporaryDirectory(prefix="kapman-bench-export-") as out:
        url = server.create_database("bench_export")
        rows = fill(url, sessions, args.rows_per_session)
        for file_format in ("parquet", "csv"):
            results = {}
            for count in (args.short, args.long):
                window = ["--start-date", str(sessions[-count]), "--end-date", str(sessions[-1])]
                target = Path(out) / f"{file_format}-{count}"
                results[count] = run_child(url, [*window, "--format", file_format, "--out", str(target)])
                results[count]["bytes"] = sum(path.stat().st_size for path in target.rglob("*") if path.is_file())
            short, long = results[args.short], results[args.long]
            print(
                figures(
                    f"export_{file_format}",
                    rows_per_session=args.rows_per_session,
                    short_sessions=args.short,
                    short_peak_rss_mib=round(short["peak_rss_kib"] / 1024, 1),
                    long_sessions=args.long,
                    long_rows=rows,
                    long_mib_written=round(long["bytes"] / 2**20, 1),
                    long_peak_rss_mib=round(long["peak_rss_kib"] / 1024, 1),
                    growth=round(long["peak_rss_kib"] / short["peak_rss_kib"] - 1, 3),
                    long_rows_per_s=round(rows / long["seconds"]),
                )
            )


if __name__ == "__main__":
    main()
