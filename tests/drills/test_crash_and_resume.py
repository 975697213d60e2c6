"""Crash and resume: a backfill SIGKILLed at a chosen point, then the same command run again.

The kill lands on a state the test observed, never after a sleep: the drill provider blocked inside
a fetch, a COPY stalled halfway on a row the test holds, or the next symbol-day's writer waiting on
the per-symbol-day advisory lock the test holds. After the kill no symbol-day is half written, and
the re-run fetches only what is missing and ends with exactly the rows and ledger of an
uninterrupted run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg2
import pytest

from markets.snapshot import snapshot_time_for
from store.chains import _lock_symbol_day
from store.tickers import ensure_tickers
from tests.dbutil import chain_digest, ledger, seed_watchlist
from tests.drills.support import (
    CliProcess,
    Outcome,
    cli_env,
    complete_symbol_days,
    connect,
    fetched,
    half_written_symbol_days,
    query,
    summary_counts,
    wait_until,
)
from tests.plugins.drill_providers import DEFAULT_CONTRACTS, drill_chain

SYMBOLS = ("KO", "PEP")
COMMAND = (
    "--start-date", "2025-12-15", "--end-date", "2025-12-17", "--provider", "drill",
    "--concurrency", "1", "--day-retries", "0",
)  # fmt: skip
# Symbol-days in the order a run writes them (sessions ascending, watchlist order, one at a time).
ORDER = [f"{symbol}@{session}" for session in ("2025-12-15", "2025-12-16", "2025-12-17") for symbol in SYMBOLS]
# The drills interrupt the fourth symbol-day: one whole day and half of the next are complete.
VICTIM_SYMBOL, VICTIM_SESSION = "PEP", date(2025, 12, 16)
VICTIM = f"{VICTIM_SYMBOL}@{VICTIM_SESSION.isoformat()}"
BEFORE_VICTIM = set(ORDER[: ORDER.index(VICTIM)])


@dataclass
class Drill:
    """One database, one drill directory, and the processes a test started there."""

    url: str
    directory: Path
    watcher: psycopg2.extensions.connection
    processes: list[CliProcess]

    def start(self, **env: str) -> CliProcess:
        process = CliProcess(COMMAND, cli_env(self.url, self.directory, **env))
        self.processes.append(process)
        return process

    def backend_pids(self, condition: str) -> list[int]:
        """Our run's PostgreSQL backends (application_name kapman-options) matching `condition`."""
        rows = query(
            self.watcher,
            "SELECT a.pid FROM pg_stat_activity a LEFT JOIN pg_stat_progress_copy p ON p.pid = a.pid "
            f"WHERE a.datname = current_database() AND a.application_name = 'kapman-options' AND {condition}",
        )
        return [row[0] for row in rows]


@pytest.fixture
def drill(make_database, tmp_path) -> Iterator[Drill]:  # noqa: ANN001
    url = make_database()
    watcher = connect(url)
    seed_watchlist(watcher, list(SYMBOLS))
    state = Drill(url, tmp_path, watcher, [])
    yield state
    for process in state.processes:
        process.close()
    watcher.close()


def _victim_ticker(drill: Drill) -> str:
    arrange = psycopg2.connect(drill.url)
    try:
        return ensure_tickers(arrange, [VICTIM_SYMBOL])[VICTIM_SYMBOL]
    finally:
        arrange.close()


def _kill_mid_fetch(drill: Drill) -> Callable[[], None]:
    """The provider is inside the victim's fetch (blocked on a FIFO nobody will open)."""
    os.mkfifo(drill.directory / f"release-{VICTIM}")
    run = drill.start(KAPMAN_DRILL_BLOCK=VICTIM)
    wait_until(
        lambda: (
            (drill.directory / f"fetching-{VICTIM}").exists() and complete_symbol_days(drill.watcher) == BEFORE_VICTIM
        ),
        what=f"the fetch of {VICTIM} to start after {len(BEFORE_VICTIM)} complete symbol-days",
        process=run,
    )
    assert run.kill() == -9
    return lambda: None


def _kill_mid_copy(drill: Drill) -> Callable[[], None]:
    """The victim's COPY has inserted rows in its transaction and is stalled on the next one: the
    test inserted that row's key in its own open transaction, so the unique check waits for it."""
    ticker_id = _victim_ticker(drill)
    middle = drill_chain(VICTIM_SYMBOL, VICTIM_SESSION, DEFAULT_CONTRACTS)[DEFAULT_CONTRACTS // 2]
    holder = psycopg2.connect(drill.url)
    with holder.cursor() as cursor:
        cursor.execute(
            "INSERT INTO options_chains (time, ticker_id, expiration_date, strike_price, option_type) "
            "VALUES (%s, %s, %s, %s, %s)",
            (snapshot_time_for(VICTIM_SESSION), ticker_id, *middle.key),
        )
    run = drill.start()
    stalled = "a.query LIKE 'COPY options_chains%%' AND a.wait_event_type = 'Lock' AND p.tuples_processed > 0"
    pids = wait_until(
        lambda: complete_symbol_days(drill.watcher) == BEFORE_VICTIM and drill.backend_pids(stalled),
        what=f"the COPY of {VICTIM} to stall halfway",
        process=run,
    )
    assert run.kill() == -9
    return _release_and_wait_for_backend(drill, holder, pids)


def _kill_between_symbol_days(drill: Drill) -> Callable[[], None]:
    """The previous symbol-day committed and the victim's writer waits for its advisory lock,
    which the test holds: nothing of the victim is written yet."""
    ticker_id = _victim_ticker(drill)
    holder = psycopg2.connect(drill.url)
    with holder.cursor() as cursor:
        _lock_symbol_day(cursor, ticker_id, snapshot_time_for(VICTIM_SESSION))
    run = drill.start()
    waiting = "a.wait_event_type = 'Lock' AND a.wait_event = 'advisory'"
    pids = wait_until(
        lambda: complete_symbol_days(drill.watcher) == BEFORE_VICTIM and drill.backend_pids(waiting),
        what=f"the writer of {VICTIM} to wait for its symbol-day lock",
        process=run,
    )
    assert run.kill() == -9
    return _release_and_wait_for_backend(drill, holder, pids)


def _release_and_wait_for_backend(
    drill: Drill, holder: psycopg2.extensions.connection, pids: list[int]
) -> Callable[[], None]:
    def release() -> None:
        # The killed client's backend goes on once the lock is free, reads EOF and rolls back.
        holder.rollback()
        holder.close()
        wait_until(lambda: not drill.backend_pids(f"a.pid = ANY(ARRAY{pids})"), what="the orphaned backend to end")

    return release


@pytest.mark.parametrize(
    "kill",
    [_kill_mid_fetch, _kill_mid_copy, _kill_between_symbol_days],
    ids=["mid-fetch", "mid-copy", "between-symbol-days"],
)
def test_a_killed_backfill_rerun_with_the_same_command_equals_an_uninterrupted_run(kill, drill, uninterrupted):
    expected: Outcome = uninterrupted(SYMBOLS, COMMAND)

    release = kill(drill)
    release()

    # Nothing half written: exactly the symbol-days committed before the kill, each whole.
    assert half_written_symbol_days(drill.watcher) == []
    assert complete_symbol_days(drill.watcher) == BEFORE_VICTIM
    rerun = drill.start()
    assert rerun.wait() == 0, rerun.output
    # The re-run asks the provider only for what is missing and reports exactly that.
    assert fetched(drill.directory, rerun.pid) == sorted(set(ORDER) - BEFORE_VICTIM)
    assert summary_counts(rerun.stdout) == {
        "days_attempted": 3,
        "succeeded": 2,
        "partial": 0,
        "failed": 0,
        "skipped": 1,
        "rows_written": (len(ORDER) - len(BEFORE_VICTIM)) * DEFAULT_CONTRACTS,
    }
    assert half_written_symbol_days(drill.watcher) == []
    assert Outcome(chain_digest(drill.watcher), ledger(drill.watcher)) == expected
