"""`run_ingest_day` (the plain function the task wraps) against a real database."""

import logging
from datetime import date

import pytest

from providers.base import SessionUnavailable, TransientProviderError
from tests.days import day_request, run_day
from tests.dbutil import count, ledger, rows_per_snapshot, seed_watchlist
from tests.doubles import FailingProvider, RecordingProvider, TinyChainProvider

SESSION = date(2025, 12, 9)
SYMBOLS = ["AAPL", "MSFT", "QQQ", "SPY", "TSLA"]


@pytest.fixture
def watchlist(db):
    seed_watchlist(db, SYMBOLS)
    return SYMBOLS


def params(**overrides):
    return day_request(**{"provider": "tiny", "concurrency": 3, "heartbeat": 2, **overrides})


def test_day_writes_every_symbol_with_its_snapshot_identity(db, database_url, watchlist):
    provider = RecordingProvider(TinyChainProvider(), name="tiny")
    report = run_day(SESSION, params(), provider, database_url)
    assert report.status == "succeeded"
    assert (report.symbols_written, report.symbols_failed) == (5, 0)
    assert sorted(provider.calls) == [(symbol, SESSION) for symbol in SYMBOLS]
    per_snapshot = rows_per_snapshot(db)
    assert set(per_snapshot) == {("2025-12-09T23:59:59.999999", symbol) for symbol in SYMBOLS}
    assert report.rows_written == sum(per_snapshot.values()) == count(db, "options_chains")
    assert [row[0] for row in ledger(db)] == sorted(SYMBOLS)


def test_rerun_makes_no_provider_call_and_writes_no_rows(db, database_url, watchlist):
    run_day(SESSION, params(), TinyChainProvider(), database_url)
    before = rows_per_snapshot(db)
    provider = RecordingProvider(TinyChainProvider(), name="tiny")
    report = run_day(SESSION, params(), provider, database_url)
    assert report.status == "skipped"
    assert provider.calls == []
    assert report.rows_written == 0
    assert rows_per_snapshot(db) == before


def test_one_failing_symbol_makes_a_partial_day_and_a_retry_redoes_only_it(db, database_url, watchlist):
    flaky = FailingProvider(
        TinyChainProvider(),
        should_fail=lambda symbol, session: symbol == "MSFT",
        error=lambda symbol, session: TransientProviderError(f"HTTP 503 for {symbol}"),
        name="tiny",
    )
    report = run_day(SESSION, params(), flaky, database_url)
    assert report.status == "partial"
    assert report.retryable
    assert [failure.symbol for failure in report.failures] == ["MSFT"]
    assert "MSFT" in report.error
    retry = RecordingProvider(TinyChainProvider(), name="tiny")
    again = run_day(SESSION, params(), retry, database_url)
    assert again.status == "succeeded"
    assert retry.calls == [("MSFT", SESSION)]
    assert (again.symbols_written, again.symbols_skipped) == (1, 4)


def test_session_refused_by_the_source_fails_the_day_without_asking_for_every_symbol(db, database_url, watchlist):
    refusing = FailingProvider(
        TinyChainProvider(),
        should_fail=lambda symbol, session: True,
        error=lambda symbol, session: SessionUnavailable(f"{session} not published yet"),
        name="tiny",
    )
    report = run_day(SESSION, params(concurrency=1, large_symbols=()), refusing, database_url)
    assert report.status == "failed"
    assert not report.retryable
    assert "not published yet" in report.error
    assert len(refusing.calls) < len(SYMBOLS)
    assert count(db, "options_chains") == 0
    assert count(db, "chain_snapshots") == 0


def test_symbols_flag_narrows_the_watchlist(db, database_url, watchlist):
    provider = RecordingProvider(TinyChainProvider(), name="tiny")
    report = run_day(SESSION, params(symbols=("QQQ", "NOTLISTED")), provider, database_url)
    assert report.symbols_total == 1
    assert provider.calls == [("QQQ", SESSION)]


def test_heartbeat_every_n_symbols_and_start_end_lines(db, database_url, watchlist, caplog):
    caplog.set_level(logging.INFO, logger="kapman")
    run_day(SESSION, params(heartbeat=2), TinyChainProvider(), database_url)
    messages = [record.getMessage() for record in caplog.records if record.name.startswith("kapman")]
    assert messages[0].startswith("START session=2025-12-09")
    assert messages[-1].startswith("END session=2025-12-09 status=succeeded")
    heartbeats = [message for message in messages if message.startswith("heartbeat")]
    assert [message.split()[2] for message in heartbeats] == [
        "symbols_done=2/5",
        "symbols_done=4/5",
        "symbols_done=5/5",
    ]


def test_explicit_snapshot_time_is_the_identity(db, database_url, watchlist):
    from datetime import UTC, datetime

    stamp = datetime(2025, 12, 9, 20, 0, tzinfo=UTC)  # not the default identity, 23:59:59.999999
    run_day(SESSION, params(snapshot_time=stamp, symbols=("SPY",)), TinyChainProvider(), database_url)
    assert set(rows_per_snapshot(db)) == {("2025-12-09T20:00:00.000000", "SPY")}


def test_unreachable_database_is_a_failed_retryable_day():
    unreachable = "postgresql://kapman:pw@127.0.0.1:1/nowhere"
    report = run_day(SESSION, params(), TinyChainProvider(), unreachable)
    assert report.status == "failed"
    assert report.retryable
    assert "cannot connect" in report.error and "pw@" not in report.error
