"""The database goes away during a run: one backend connection terminated, or the whole embedded
server restarted. The symbol-day being written fails cleanly (rolled back, reported), the day retry
or a re-run completes it, and the final state equals an uninterrupted run."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg2
import pytest

import tests.plugins.drill_providers  # noqa: F401 - registers `drill` in this process
from flows.backfill import backfill_options
from providers.base import ChainSnapshot, TransientProviderError
from providers.registry import get_provider, register_provider, unregister_provider
from store import embedded
from store.migrations import migrate
from store.tickers import ensure_tickers
from tests.days import day_request, run_day
from tests.dbutil import chain_digest, count, ledger, seed_watchlist
from tests.drills.support import (
    ROOT,
    CliProcess,
    Outcome,
    cli_env,
    complete_symbol_days,
    connect,
    fetched,
    half_written_symbol_days,
    release,
    summary_counts,
    task_run_counts,
    wait_until,
    writer_connection_terminated,
)
from tests.plugins.drill_providers import DEFAULT_CONTRACTS, DrillProvider

SYMBOLS = ("KO", "PEP")
START, END = date(2025, 12, 15), date(2025, 12, 17)
COMMAND = (
    "--start-date", "2025-12-15", "--end-date", "2025-12-17", "--provider", "drill",
    "--concurrency", "1", "--day-retries", "0",
)  # fmt: skip
ORDER = [f"{symbol}@{session}" for session in ("2025-12-15", "2025-12-16", "2025-12-17") for symbol in SYMBOLS]
VICTIM_SYMBOL, VICTIM_SESSION = "PEP", date(2025, 12, 16)
VICTIM = f"{VICTIM_SYMBOL}@{VICTIM_SESSION.isoformat()}"
BEFORE_VICTIM = set(ORDER[: ORDER.index(VICTIM)])


def test_a_terminated_backend_fails_only_its_symbol_day_and_the_day_retry_completes_it(
    db, database_url, tmp_path, monkeypatch, uninterrupted
):
    expected: Outcome = uninterrupted(SYMBOLS, COMMAND)
    seed_watchlist(db, list(SYMBOLS))
    ticker_id = ensure_tickers(db, [VICTIM_SYMBOL])[VICTIM_SYMBOL]
    monkeypatch.setenv("KAPMAN_DRILL_DIR", str(tmp_path))

    with writer_connection_terminated(database_url, ticker_id, VICTIM_SESSION):
        state = backfill_options(
            start_date=START, end_date=END, provider="drill", concurrency=1,
            day_retries=1, retry_delay_seconds=0, return_state=True,
        )  # fmt: skip

    # The victim's day failed its first attempt (partial), and its retry fetched only the victim.
    assert task_run_counts(state.state_details.flow_run_id) == {
        "ingest-2025-12-15": 1, "ingest-2025-12-16": 2, "ingest-2025-12-17": 1,
    }  # fmt: skip
    assert fetched(tmp_path) == sorted([*ORDER, VICTIM])
    summary = state.result()
    assert [(day.session.isoformat(), day.status) for day in summary.days] == [
        ("2025-12-15", "succeeded"), ("2025-12-16", "succeeded"), ("2025-12-17", "succeeded"),
    ]  # fmt: skip
    assert half_written_symbol_days(db) == []
    assert Outcome(chain_digest(db), ledger(db)) == expected


def test_a_dropped_connection_is_reported_with_its_cause_on_one_line(db, database_url):
    seed_watchlist(db, list(SYMBOLS))
    ticker_id = ensure_tickers(db, [VICTIM_SYMBOL])[VICTIM_SYMBOL]

    with writer_connection_terminated(database_url, ticker_id, VICTIM_SESSION):
        report = run_day(VICTIM_SESSION, day_request("drill", concurrency=1), get_provider("drill"), database_url)

    assert report.status == "partial"
    [failure] = report.failures
    assert failure.symbol == VICTIM_SYMBOL and failure.retryable
    # The cause as libpq saw it (the server's FATAL notice may or may not be read before the socket
    # closes), never psycopg2's "connection already closed" from the rollback that followed.
    assert "server closed the connection" in failure.error or "terminating connection" in failure.error
    assert "already closed" not in failure.error
    assert "\n" not in failure.error and "\n" not in report.error


def test_the_symbol_days_after_a_dropped_connection_are_written_on_a_new_one(db, database_url):
    first_symbol = SYMBOLS[0]  # written first (concurrency 1, watchlist order)
    seed_watchlist(db, list(SYMBOLS))
    ticker_id = ensure_tickers(db, [first_symbol])[first_symbol]

    with writer_connection_terminated(database_url, ticker_id, VICTIM_SESSION):
        report = run_day(VICTIM_SESSION, day_request("drill", concurrency=1), get_provider("drill"), database_url)

    assert (report.status, report.symbols_written, report.symbols_failed) == ("partial", 1, 1)
    assert [failure.symbol for failure in report.failures] == [first_symbol]
    assert complete_symbol_days(db) == {f"{symbol}@{VICTIM_SESSION.isoformat()}" for symbol in SYMBOLS[1:]}
    assert half_written_symbol_days(db) == []


class _FailsOnce(DrillProvider):
    """The drill chain, but the victim's first fetch fails as a network fault would."""

    name = "drill-fails-once"

    def __init__(self) -> None:
        super().__init__()
        self.failed = False
        self.lock = threading.Lock()

    def fetch_chain(self, symbol: str, session: date, *, large: bool = False) -> ChainSnapshot:
        with self.lock:
            first = f"{symbol}@{session.isoformat()}" == VICTIM and not self.failed
            self.failed = self.failed or first
        if first:
            raise TransientProviderError(f"injected network fault for {VICTIM}")
        return super().fetch_chain(symbol, session, large=large)


def test_a_retried_days_summary_counts_the_rows_its_first_attempt_wrote(db, database_url):
    seed_watchlist(db, list(SYMBOLS))
    provider = _FailsOnce()
    register_provider(provider.name, lambda settings: provider)
    try:
        summary = backfill_options(
            start_date=START, end_date=END, provider=provider.name, concurrency=1, day_retries=1, retry_delay_seconds=0
        )
    finally:
        unregister_provider(provider.name)

    assert count(db, "options_chains") == len(ORDER) * DEFAULT_CONTRACTS
    assert summary.rows_written == count(db, "options_chains")
    day = next(day for day in summary.days if day.session == VICTIM_SESSION)
    assert (day.status, day.symbols_written, day.symbols_skipped) == ("succeeded", 2, 0)


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A separate embedded PostgreSQL (the session's is shared by other tests): its data dir and URL."""
    pgdata = tmp_path / "pgdata"
    url = embedded.start(pgdata)
    try:
        yield pgdata, url
    finally:
        embedded.stop(pgdata)


def test_an_embedded_server_restart_mid_run_fails_the_cut_symbol_day_and_a_rerun_completes_it(
    own_server, tmp_path, uninterrupted
):
    expected: Outcome = uninterrupted(SYMBOLS, COMMAND)
    pgdata, url = own_server
    arrange = psycopg2.connect(url)
    migrate(arrange)
    seed_watchlist(arrange, list(SYMBOLS))
    arrange.close()
    drill_dir = tmp_path / "drill"
    drill_dir.mkdir()
    os.mkfifo(drill_dir / f"release-{VICTIM}")
    run = CliProcess(COMMAND, cli_env(url, drill_dir, KAPMAN_DRILL_BLOCK=VICTIM))
    try:
        watcher = connect(url)
        wait_until(
            lambda: (drill_dir / f"fetching-{VICTIM}").exists() and complete_symbol_days(watcher) == BEFORE_VICTIM,
            what=f"the fetch of {VICTIM} after {len(BEFORE_VICTIM)} complete symbol-days",
            process=run,
        )
        watcher.close()

        # Stop the server under the run (every connection dies), then start it again as a user
        # would (`python -m store url` starts the embedded server), and let the fetch finish.
        assert embedded.stop(pgdata)
        restarted = subprocess.run(
            [sys.executable, "-m", "store", "url"],
            cwd=ROOT,
            env={**cli_env(None), "KAPMAN_PGDATA": str(pgdata)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert restarted.returncode == 0 and restarted.stdout.strip() == url, restarted.stderr
        release(drill_dir, VICTIM)
        assert run.wait() == 0, run.output
    finally:
        run.close()

    # The cut symbol-day failed and its day is partial; the next day connected again and succeeded.
    assert summary_counts(run.stdout) == {
        "days_attempted": 3,
        "succeeded": 2,
        "partial": 1,
        "failed": 0,
        "skipped": 0,
        "rows_written": (len(ORDER) - 1) * DEFAULT_CONTRACTS,
    }
    watcher = connect(url)
    assert half_written_symbol_days(watcher) == []
    assert complete_symbol_days(watcher) == set(ORDER) - {VICTIM}

    rerun = CliProcess(COMMAND, cli_env(url, drill_dir))
    try:
        assert rerun.wait() == 0, rerun.output
        assert fetched(drill_dir, rerun.pid) == [VICTIM]
        assert "days_attempted=3 succeeded=1 partial=0 failed=0 skipped=2 rows_written=2000" in rerun.stdout
    finally:
        rerun.close()
    assert half_written_symbol_days(watcher) == []
    assert Outcome(chain_digest(watcher), ledger(watcher)) == expected
    watcher.close()
