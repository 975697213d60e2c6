"""Two backfills at once over overlapping ranges (started twice by mistake, or two schedulers).

The drill provider holds every fetch of the shared sessions until both processes have fetched the
same symbol-day, so both runs are really inside the same symbol-days at the same time and both go
on to write them. The per-symbol-day advisory lock and the ledger check under it must let exactly
one of them write each symbol-day, and each run must report what it did: written by one, skipped
(already complete) by the other.
"""

from __future__ import annotations

from collections import Counter

from tests.dbutil import chain_digest, count, ledger, seed_watchlist
from tests.drills.support import (
    CliProcess,
    Outcome,
    cli_env,
    connect,
    day_ends,
    fetched,
    half_written_symbol_days,
    summary_counts,
)
from tests.plugins.drill_providers import DEFAULT_CONTRACTS

SYMBOLS = ("KO", "PEP")
COMMON = ("--provider", "drill", "--concurrency", "2", "--day-retries", "0")
FIRST = ("--start-date", "2025-12-15", "--end-date", "2025-12-17", *COMMON)
SECOND = ("--start-date", "2025-12-16", "--end-date", "2025-12-18", *COMMON)
UNION = ("--start-date", "2025-12-15", "--end-date", "2025-12-18", *COMMON)
SHARED_SESSIONS = ("2025-12-16", "2025-12-17")


def test_two_overlapping_backfills_write_every_symbol_day_once_and_both_report_truthfully(
    make_database, tmp_path, uninterrupted
):
    expected: Outcome = uninterrupted(SYMBOLS, UNION)
    url = make_database()
    watcher = connect(url)
    seed_watchlist(watcher, list(SYMBOLS))
    env = cli_env(url, tmp_path, KAPMAN_DRILL_BARRIER=",".join(SHARED_SESSIONS), KAPMAN_DRILL_PARTIES="2")

    runs = [CliProcess(FIRST, env), CliProcess(SECOND, env)]
    try:
        codes = [run.wait() for run in runs]
    finally:
        for run in runs:
            run.close()
    assert codes == [0, 0], "\n".join(run.output for run in runs)

    # Both processes fetched every shared symbol-day (so both were inside it at once) ...
    shared = [f"{symbol}@{session}" for session in SHARED_SESSIONS for symbol in SYMBOLS]
    for run in runs:
        assert set(shared) <= set(fetched(tmp_path, run.pid))
    # ... and each was written by exactly one of them and reported skipped by the other.
    ends = [day_ends(run.stderr + run.stdout) for run in runs]
    for session in SHARED_SESSIONS:
        written = [int(end[session]["written"]) for end in ends]
        skipped = [int(end[session]["skipped"]) for end in ends]
        assert sum(written) == len(SYMBOLS) and [w + s for w, s in zip(written, skipped, strict=True)] == [2, 2]
        assert {end[session]["status"] for end in ends} == {"succeeded"}
        assert sum(int(end[session]["rows"]) for end in ends) == len(SYMBOLS) * DEFAULT_CONTRACTS
    assert (ends[0]["2025-12-15"]["written"], ends[1]["2025-12-18"]["written"]) == ("2", "2")
    summaries = [summary_counts(run.stdout) for run in runs]
    assert [(s["days_attempted"], s["succeeded"], s["failed"]) for s in summaries] == [(3, 3, 0), (3, 3, 0)]
    # The summaries add up to the table: no row counted twice, none missing.
    assert sum(s["rows_written"] for s in summaries) == count(watcher, "options_chains") == 8 * DEFAULT_CONTRACTS
    assert Counter(row[:2] for row in ledger(watcher)).most_common(1)[0][1] == 1
    assert half_written_symbol_days(watcher) == []
    assert Outcome(chain_digest(watcher), ledger(watcher)) == expected
    watcher.close()
